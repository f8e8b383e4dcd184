"""The COP's 3-D globe (`kizuna/cop/static/globe.js`) in headless Chromium: CesiumJS loads from
this server only, the picture's tracks, missile trajectories and satellites are drawn, and the
pixels show a globe with track-coloured points where the tracks are.

The globe is driven on a bare same-origin document (``/api/info``) through its module contract
(``new Globe(div, info)``, ``open()``, ``update(...)``, ``close()``), independent of the page.
"""

from __future__ import annotations

import io
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser import open_page, save_screenshot

pytestmark = pytest.mark.slow

NATION, VIEW = "JPN", "coalition"
BACKGROUND = (0x06, 0x0A, 0x12)
"""globe.js's scene.backgroundColor (#060a12)."""
CATEGORY_RGB = {"air": (0xFF, 0xD5, 0x00), "missile": (0xFF, 0x3B, 0x1F), "space": (0xB2, 0x64, 0xFF)}
"""globe.js's track colours by category."""
READY_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo scenario over 300 s with 20 airliners: its first ballistic missile launches at 200 s."""
    from test_simulation import loaded, small_scenario

    from kizuna.simulation import run

    tmp = tmp_path_factory.mktemp("globe")
    out = tmp / "recording"
    run(loaded(small_scenario(tmp, duration_s=300.0, civil_count=20)), out)
    return out


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def _time_with_missile(url: str, info: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    """The picture time with a missile track and the most tracks."""
    best: tuple[int, float, list[dict[str, Any]]] | None = None
    t, step = float(info["t0"]), float(info["step_s"])
    while t <= info["t1"] + 1e-9:
        tracks = _get(f"{url}/api/tracks?nation={NATION}&view={VIEW}&t={t}")["tracks"]
        if any(r["cat"] == "missile" for r in tracks) and (best is None or len(tracks) > best[0]):
            best = (len(tracks), t, tracks)
        t += step
    assert best is not None, "the recording holds no missile track in JPN's coalition picture"
    return best[1], best[2]


OPEN_GLOBE = """
async ([t, nation, view]) => {
  document.head.innerHTML = "";
  document.body.innerHTML = "";
  document.body.style.cssText = "margin:0;background:#000;overflow:hidden";
  const div = document.createElement("div");
  div.id = "globe";
  div.style.cssText = "position:fixed;left:0;top:0;width:100vw;height:100vh;";
  document.body.appendChild(div);
  window.kizuna = {};
  const info = await (await fetch("/api/info")).json();
  const q = new URLSearchParams({nation, view, t: String(t)});
  const tracks = (await (await fetch("/api/tracks?" + q)).json()).tracks;
  const {Globe} = await import("/static/globe.js");
  const globe = new Globe(div, info);
  window.testGlobe = globe;
  window.testTracks = tracks;
  const started = performance.now();
  await globe.open();
  const opened = performance.now() - started;
  globe.update(tracks, t, nation, view);
  return {opened_ms: opened, tracks: tracks.length};
}
"""

SCREEN_POSITIONS = """
(points) => {
  const C = window.Cesium, scene = window.testGlobe.viewer.scene;
  const rect = scene.canvas.getBoundingClientRect();
  return points.map(([lon, lat, alt]) => {
    const w = C.SceneTransforms.worldToWindowCoordinates(scene, C.Cartesian3.fromDegrees(lon, lat, alt));
    return w ? [rect.left + w.x, rect.top + w.y] : null;
  });
}
"""
CLEAR_TRACKS = """
async ([t, nation, view]) => {
  const g = window.testGlobe, scene = g.viewer.scene;
  const drawn = new Promise((resolve) => {
    const off = scene.postRender.addEventListener(() => { off(); resolve(); });
  });
  g.update([], t, nation, view);
  scene.requestRender();
  await drawn;
}
"""
TRAJECTORY_RGB = (0xFF, 0x8C, 0x1A)
"""globe.js's missile trajectory colour."""


def _near(
    pixels: np.ndarray, x: float, y: float, rgb: tuple[int, int, int], radius: int = 3, tol: int = 40
) -> bool:
    """Whether a pixel within `radius` of (x, y) has colour `rgb` (each channel within `tol`)."""
    h, w, _ = pixels.shape
    xi, yi = round(x), round(y)
    box = pixels[
        max(0, yi - radius) : min(h, yi + radius + 1), max(0, xi - radius) : min(w, xi + radius + 1), :3
    ]
    diff = np.abs(box.astype(int) - np.array(rgb)).max(axis=-1)
    return bool((diff <= tol).any())


def test_globe_draws_the_picture_offline(recording: Path, tmp_path: Path) -> None:
    from PIL import Image

    from kizuna.cop.server import serve_in_thread
    from kizuna.cop.store import PictureStore

    store = PictureStore.from_recording(recording)
    with serve_in_thread(store) as url:
        info = _get(f"{url}/api/info")
        t, tracks = _time_with_missile(url, info)
        history = _get(f"{url}/api/history?nation={NATION}&view={VIEW}&category=missile")["tracks"]
        trajectories = sum(1 for tr in history.values() if len(tr["t"]) >= 2)
        assert trajectories >= 1
        satellites = _get(f"{url}/api/satellites")["satellites"]
        assert satellites, "the demo's LEO layer is missing"

        with open_page(tmp_path) as (page, log):
            # console errors with where they came from: the bare JSON document asks for a favicon
            errors: list[tuple[str, str]] = []
            page.on(  # type: ignore[attr-defined]
                "console",
                lambda m: errors.append((m.text, m.location.get("url", ""))) if m.type == "error" else None,
            )
            page.goto(f"{url}/api/info")
            started = time.monotonic()
            opened = page.evaluate(OPEN_GLOBE, [t, NATION, VIEW])
            page.wait_for_function(
                "window.kizuna && window.kizuna.globeReady === true", timeout=READY_TIMEOUT_MS
            )
            ready_s = time.monotonic() - started
            print(
                f"\nglobe: open() {opened['opened_ms'] / 1000:.1f} s, ready {ready_s:.1f} s after the import"
            )

            counts = page.evaluate("window.kizuna.globe")
            assert counts == {
                "tracks": len(tracks),
                "trajectories": trajectories,
                "satellites": len(satellites),
            }

            shot = save_screenshot(page, "cop-globe")
            print(f"globe: screenshot {shot}")
            screen = page.evaluate(SCREEN_POSITIONS, [[r["lon"], r["lat"], r["alt"]] for r in tracks])
            positions = [
                {"id": r["id"], "cat": r["cat"], "x": xy[0] if xy else None, "y": xy[1] if xy else None}
                for r, xy in zip(tracks, screen, strict=True)
            ]
            samples = [
                [lon, lat, alt]
                for tr in history.values()
                for lon, lat, alt in zip(tr["lon"], tr["lat"], tr["alt"], strict=True)
            ]
            arc = [xy for xy in page.evaluate(SCREEN_POSITIONS, samples) if xy]
            pixels = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"))

            # a globe in the middle, the plain background in the corners
            h, w, _ = pixels.shape
            centre = pixels[h // 2 - 50 : h // 2 + 50, w // 2 - 50 : w // 2 + 50].reshape(-1, 3).astype(int)
            background = np.array(BACKGROUND)
            assert (np.abs(centre - background).max(axis=-1) > 12).mean() > 0.9, "no globe at the centre"
            for y0, x0 in ((0, 0), (0, w - 20), (h - 20, 0), (h - 20, w - 20)):
                corner = pixels[y0 : y0 + 20, x0 : x0 + 20].reshape(-1, 3).astype(int)
                assert (np.abs(corner - background).max(axis=-1) <= 12).mean() > 0.9, (x0, y0)

            # the tracks: each on screen, a track-coloured point at its position, every category seen
            on_screen = [p for p in positions if p["x"] is not None and 0 <= p["x"] < w and 0 <= p["y"] < h]
            assert len(on_screen) == len(tracks), positions
            track_colours = [CATEGORY_RGB[c] for c in CATEGORY_RGB]
            for p in on_screen:
                assert any(_near(pixels, p["x"], p["y"], rgb) for rgb in track_colours), p
            for cat in {p["cat"] for p in on_screen}:
                assert any(
                    _near(pixels, p["x"], p["y"], CATEGORY_RGB[cat]) for p in on_screen if p["cat"] == cat
                ), cat

            # the missile trajectories, once the track points no longer cover them: orange along the arc
            page.evaluate(CLEAR_TRACKS, [t, NATION, VIEW])
            assert page.evaluate("window.kizuna.globe")["tracks"] == 0
            bare = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"))
            assert arc
            on_arc = [_near(bare, x, y, TRAJECTORY_RGB, radius=2) for x, y in arc]
            print(f"globe: trajectory colour at {sum(on_arc)} of {len(arc)} arc samples")
            assert sum(on_arc) >= len(arc) / 2, on_arc

            # close() stops rendering and hides; open() shows it again
            state = page.evaluate(
                """async () => {
                  const g = window.testGlobe;
                  g.close();
                  const closed = {loop: g.viewer.useDefaultRenderLoop, display: g.container.style.display};
                  await g.open();
                  return {closed, loop: g.viewer.useDefaultRenderLoop, display: g.container.style.display};
                }"""
            )
            assert state == {"closed": {"loop": False, "display": "none"}, "loop": True, "display": ""}

            assert not log.page_errors, log.page_errors
            assert len(errors) == len(log.console_errors)
            assert [e for e in errors if not e[1].endswith("/favicon.ico")] == [], errors
            assert not log.off_host(), log.off_host()
            assert any("/vendor/cesium/Cesium.js" in r for r in log.requests)
