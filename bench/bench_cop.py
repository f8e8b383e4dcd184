"""Benchmark: the COP page with 5,000 tracks — frames per second in the browser, stream sizes, and
replay seeks on the demo recording.

Run:  .venv/bin/python bench/bench_cop.py [--tracks 5000] [--seconds 6] [--demo out/demo]
          [--out out/bench_cop]

**Picture** (seeded, synthetic): ``--tracks`` system tracks in each of three nations' coalition
pictures over 120 one-second steps, with every column of `kizuna.recording.PICTURE_SCHEMA`.
Tracks start uniform over the demo region (−30…46° N, 110…165° E); 80 % air (0–13 km,
150–280 m/s), 15 % missile (20–120 km, 1–3 km/s), 5 % space (400–600 km, 7.5 km/s); headings
uniform; positions advance along their heading every step (flat-Earth steps, fine for a
benchmark); σ 50–3,000 m per axis; pedigree a random non-empty subset of USA+JPN+AUS.

**Measured in Debian's Chromium** (headless, SwiftShader software WebGL on this machine's CPU
cores, the flags of tests/browser.py), page at 1400×900 with the map, table and detail panel:

* time to the page's ready signal (first picture drawn);
* **fps, panning**: frames MapLibre renders per second while the map is panned by 3 px every
  animation frame for ``--seconds`` (`window.kizuna.measureFps`), picture paused;
* **fps, playing + panning**: the same while the replay plays at 1× (a delta of every moving
  track each second, each applied to the map's sources);
* stream bytes: the snapshot, and the mean delta, per second of replay;
* **fps, sea only**: the same pan with every layer hidden but the background — the software
  renderer's floor, with nothing of Kizuna's drawn.

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
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import open_page  # noqa: E402

from kizuna.cop.server import serve_in_thread  # noqa: E402
from kizuna.cop.store import PictureStore  # noqa: E402
from kizuna.frames import geodetic_to_ecef  # noqa: E402

NATIONS = ("USA", "JPN", "AUS")


def synthetic_store(n: int, steps: int = 120, seed: int = 7) -> PictureStore:
    rng = np.random.default_rng(seed)
    cat = rng.choice(["air", "missile", "space"], size=n, p=[0.8, 0.15, 0.05])
    lat0 = rng.uniform(-30, 46, n)
    lon0 = rng.uniform(110, 165, n)
    alt = np.select(
        [cat == "air", cat == "missile"], [rng.uniform(0, 13e3, n), rng.uniform(20e3, 120e3, n)],
        rng.uniform(400e3, 600e3, n),
    )
    kinds = [cat == "air", cat == "missile"]
    speed = np.select(kinds, [rng.uniform(150, 280, n), rng.uniform(1e3, 3e3, n)], 7500.0)
    heading = rng.uniform(0, 2 * np.pi, n)
    sigma = rng.uniform(50, 3000, (n, 3))
    ped_code = rng.integers(1, 8, n)
    names = ["+".join(c for i, c in enumerate(NATIONS) if code >> i & 1) for code in range(8)]
    pedigree = np.array(names)[ped_code]
    reporter = np.array([p.split("+")[0] for p in pedigree])
    frames = []
    for k in range(steps):
        lat = lat0 + np.degrees(speed * np.cos(heading) * k / 6_371_000.0)
        lon = lon0 + np.degrees(speed * np.sin(heading) * k / (6_371_000.0 * np.cos(np.radians(lat0))))
        pos = geodetic_to_ecef(np.radians(lat), np.radians(lon), alt)
        frames.append(pd.DataFrame({
            "time_s": float(k), "track_id": np.arange(n) + 1_000_000_001, "status": "confirmed",
            "x_m": pos[:, 0], "y_m": pos[:, 1], "z_m": pos[:, 2],
            "vx_m_per_s": speed * np.cos(heading), "vy_m_per_s": speed * np.sin(heading), "vz_m_per_s": 0.0,
            "lat_deg": lat, "lon_deg": lon, "alt_m": alt,
            "sigma_x_m": sigma[:, 0], "sigma_y_m": sigma[:, 1], "sigma_z_m": sigma[:, 2],
            "sigma_vx_m_per_s": 5.0, "sigma_vy_m_per_s": 5.0, "sigma_vz_m_per_s": 5.0,
            "quality": 9, "category": cat, "pedigree": pedigree,
            "n_sources": [p.count("+") + 1 for p in pedigree], "reporter": reporter,
        }))  # fmt: skip
    picture = pd.concat(frames, ignore_index=True)
    scenario = {
        "scenario": {
            "name": f"synthetic {n} tracks", "nations": [{"code": c, "name": c} for c in NATIONS],
            "step_s": 1.0, "duration_s": float(steps - 1), "sensors": [], "release": [],
            "region": {"lat_min_deg": -30.0, "lat_max_deg": 46.0, "lon_min_deg": 110.0, "lon_max_deg": 165.0},
        },
        "derived": {"epoch_utc": "2027-03-01T02:00:00+00:00"},
    }  # fmt: skip
    store = PictureStore(scenario)
    for nation in NATIONS:
        store.append(f"picture_{nation}", picture)
    return store


FPS_PLAYING = """async (seconds) => {
  window.kizuna.send({op: 'play', speed: 1});
  const r = await window.kizuna.measureFps(seconds, true);
  window.kizuna.send({op: 'pause'});
  return r;
}"""

HIDE_ALL_BUT_SEA = """() => {
  const map = window.kizuna.map;
  for (const layer of map.getStyle().layers) {
    if (layer.id !== 'sea') map.setLayoutProperty(layer.id, 'visibility', 'none');
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
