"""Benchmark: detections for a whole scenario, per sensor, and the coverage computation.

Run:  .venv/bin/python bench/bench_sensors.py [SCENARIO] [--repeat N]

Times (best of N) each sensor observing every target over the whole scenario at its own look
times, then `kizuna coverage`'s computation for a 2-hour span at 30 s steps on a 0.5° grid.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from kizuna.rng import stream
from kizuna.scenario import load_scenario
from kizuna.sensors.coverage import coverage
from kizuna.simulation import build_world, sample_truth

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "examples" / "indo-pacific.toml"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    loaded = load_scenario(args.scenario)
    world = build_world(loaded)
    end = loaded.scenario.duration_s + 1e-9
    print(f"scenario: {loaded.scenario.name}, {loaded.scenario.duration_s:g} s")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; best of {args.repeat}")
    total = 0.0
    for sensor in world.sensors:
        looks = sensor.look_times(0.0, end)
        truth = sample_truth(world, looks)
        best, n = float("inf"), 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            batch, _ = sensor.observe(truth, 0, stream(loaded.scenario.seed, f"sensor:{sensor.sensor_id}"))
            best = min(best, time.perf_counter() - start)
            n = len(batch)
        total += best
        rate = truth.n_targets * len(looks) / best
        print(
            f"  {sensor.sensor_id:24s} {len(looks):5d} looks {n:8,d} detections {best:7.3f} s "
            f"({rate:,.0f} target-looks/s)"
        )
    print(f"  all sensors: {total:.3f} s")
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        coverage(loaded, 40e3, grid_step_deg=0.5, duration_s=7200.0, step_s=30.0)
        best = min(best, time.perf_counter() - start)
    print(f"coverage at 40 km, 0.5° grid, 2 h every 30 s: {best:.2f} s")


if __name__ == "__main__":
    main()
