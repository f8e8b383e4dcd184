"""Benchmark: the COP page with 5,000 tracks — frames per second in the browser, stream sizes, and
replay seeks on the demo recording.

Run:  .venv/bin/python bench/bench_cop.py [--tracks 5000] [--seconds 6] [--demo out/demo]
          [--out out/bench_cop]

**Picture** (seeded, synthetic, tests/synthetic_picture.py): ``--tracks`` system tracks in each
of three nations' coalition pictures over 120 one-second steps, every track moving.

**Measured in Debian's Chromium** (headless, SwiftShader software WebGL on this machine's CPU
cores, the flags of tests/browser.py), page at 1400×900 with the map, table and detail panel:

* time to the page's ready signal (first picture drawn);
* **fps, panning**: frames MapLibre renders per second while the map is panned by 3 px every
  animation frame for ``--seconds`` (`window.kizuna.measureFps`), picture paused;
* **fps, playing + panning**: the same while the replay plays at 1× (a delta of every moving
  track each second, each applied to the map);
* stream bytes: the snapshot, and the mean delta, per second of replay;
* **fps, sea only**: the same pan with every map layer hidden (the sea is the page's background)
  — the renderer's floor, with nothing of Kizuna's drawn.

The same page measures are taken on the demo recording's picture (``--demo``).

**Seeks** on the demo recording (``--demo``, a `kizuna run` output): 20 seeks to seeded random
times; each is timed in the page from sending ``seek`` to the map's next ``idle`` after the new
picture arrived (the new picture is drawn).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import open_page  # noqa: E402
from synthetic_picture import synthetic_store  # noqa: E402

from kizuna.cop.server import serve_in_thread  # noqa: E402
from kizuna.cop.store import PictureStore  # noqa: E402

FPS_PLAYING = """async (seconds) => {
  window.kizuna.send({op: 'play', speed: 1});
  const r = await window.kizuna.measureFps(seconds, true);
  window.kizuna.send({op: 'pause'});
  return r;
}"""

HIDE_ALL_BUT_SEA = """() => {
  const map = window.kizuna.map;
  for (const id of [...map.getStyle().layers.map((l) => l.id), 'tracks']) {
    map.setLayoutProperty(id, 'visibility', 'none');
  }
}"""

SEEK = """async (t) => {
  const started = performance.now();
  window.kizuna.send({op: 'seek', t});
  while (window.kizuna.pictureTime !== t) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => window.kizuna.map.once('idle', r));
  return performance.now() - started;
}"""


def bench_page(store: PictureStore, seconds: float, tmp: Path) -> dict:
    with serve_in_thread(store) as url, open_page(tmp) as (page, log):
        started = time.perf_counter()
        t0, t1 = store.time_range()
        page.goto(f"{url}/?nation=JPN&t={(t0 + t1) / 2}")
        page.wait_for_function("window.kizuna && window.kizuna.ready", timeout=120_000)
        ready_s = time.perf_counter() - started
        tracks = page.evaluate("window.kizuna.tracks.size")
        snapshot_bytes = page.evaluate("window.kizuna.bytes")
        panning = page.evaluate("s => window.kizuna.measureFps(s, true)", seconds)
        bytes_before = page.evaluate("window.kizuna.bytes")
        deltas_before = page.evaluate("window.kizuna.messages.delta")
        playing = page.evaluate(FPS_PLAYING, seconds)
        delta_bytes = page.evaluate("window.kizuna.bytes") - bytes_before
        deltas = page.evaluate("window.kizuna.messages.delta") - deltas_before
        errors = log.console_errors + log.page_errors
        page.evaluate(HIDE_ALL_BUT_SEA)
        floor = page.evaluate("s => window.kizuna.measureFps(s, true)", seconds)
    return {
        "tracks": tracks, "ready_s": ready_s, "fps_panning": panning["fps"], "fps_playing": playing["fps"],
        "snapshot_bytes": snapshot_bytes, "deltas": deltas,
        "delta_bytes_mean": delta_bytes / max(deltas, 1), "errors": errors, "off_host": log.off_host(),
        "fps_sea_only": floor["fps"],
    }  # fmt: skip


def bench_seeks(demo: Path, tmp: Path, n: int = 20) -> dict:
    store = PictureStore.from_recording(demo)
    t0, t1 = store.time_range()
    rng = np.random.default_rng(3)
    targets = [float(x) for x in np.round(rng.uniform(t0, t1, n))]
    with serve_in_thread(store) as url, open_page(tmp) as (page, _):
        page.goto(f"{url}/?nation=JPN&t={t0 + 100}")
        page.wait_for_function("window.kizuna && window.kizuna.ready", timeout=60_000)
        times = [page.evaluate(SEEK, t) for t in targets]
    return {"seeks": n, "median_ms": float(np.median(times)), "max_ms": float(np.max(times))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--demo", type=Path, default=ROOT / "out" / "demo")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench_cop")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    built = time.perf_counter()
    store = synthetic_store(args.tracks)
    print(f"synthetic picture of {args.tracks} tracks: {time.perf_counter() - built:.1f} s", flush=True)
    result = {"page": bench_page(store, args.seconds, args.out)}
    print(json.dumps(result["page"], indent=1), flush=True)
    if (args.demo / "manifest.json").is_file():
        result["demo_page"] = bench_page(PictureStore.from_recording(args.demo), args.seconds, args.out)
        print(json.dumps(result["demo_page"], indent=1), flush=True)
        result["seek"] = bench_seeks(args.demo, args.out)
        print(json.dumps(result["seek"], indent=1), flush=True)
    (args.out / "bench_cop.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
