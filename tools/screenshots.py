"""The README's pictures, made from a recording by the project's own COP and report in Chromium.

Run:  make screenshots   (runs the demo first if out/demo is missing)
      .venv/bin/python tools/screenshots.py [--recording out/demo] [--out docs/img]

Writes ``cop.png`` (the COP: JPN's coalition picture a quarter of the way into the run, with a
missile track's detail open), ``cop-globe.png`` (the same picture on the 3-D globe) and
``report.png`` (the report's per-threat custody timeline).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import open_page  # noqa: E402

from kizuna.cop.server import serve_in_thread  # noqa: E402
from kizuna.cop.store import PictureStore, View  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recording", type=Path, default=ROOT / "out" / "demo")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    store = PictureStore.from_recording(args.recording)
    t0, t1 = store.time_range()
    t = round(t0 + 0.25 * (t1 - t0))
    rows = store.at(View("JPN", "coalition"), t)
    missiles = rows[rows["category"] == "missile"]
    chosen = int((missiles if len(missiles) else rows)["track_id"].iloc[0])
    with serve_in_thread(store) as url, open_page(args.out / ".profile") as (page, log):
        page.goto(f"{url}/?nation=JPN&view=coalition&t={t}")
        page.wait_for_function("window.kizuna && window.kizuna.ready", timeout=60_000)
        page.evaluate("id => window.kizuna.select(id)", chosen)
        page.wait_for_function("document.querySelector('#detail-body dl') !== null", timeout=10_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(args.out / "cop.png"))
        page.click("#view3d")
        page.wait_for_function("window.kizuna.globeReady === true", timeout=120_000)
        page.screenshot(path=str(args.out / "cop-globe.png"))
        page.goto((args.recording / "report.html").resolve().as_uri())
        page.wait_for_load_state("load")
        # the per-threat timeline plot (its first 1,500 px)
        image = page.locator("section#threats img").first.bounding_box()
        assert image is not None
        top = {"x": 0, "y": image["y"] - 60, "width": 1400, "height": min(image["height"] + 70, 1500)}
        page.screenshot(path=str(args.out / "report.png"), clip=top, full_page=True)
        if log.page_errors or log.off_host():
            raise SystemExit(f"page errors {log.page_errors} or requests off 127.0.0.1 {log.off_host()}")
    for name in ("cop.png", "cop-globe.png", "report.png"):
        print(args.out / name)


if __name__ == "__main__":
    main()
