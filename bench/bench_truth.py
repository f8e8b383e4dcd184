"""Benchmark: generating the truth of a scenario (targets and satellites), stage by stage.

Run:  .venv/bin/python bench/bench_truth.py [SCENARIO] [--repeat N]

Prints the best of N wall times for each stage: building the world (flight plans, missile
trajectories with their steering solves, constellations), sampling every target at every step,
and propagating every satellite at every step. Results go to docs/benchmarks.md by hand, with the
machine they were measured on.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kizuna.scenario import load_scenario
from kizuna.simulation import build_world, sample_truth, time_grid
from kizuna.truth.build import missile

ROOT = Path(__file__).resolve().parents[1]


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "examples" / "indo-pacific.toml"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    loaded = load_scenario(args.scenario)
    times = time_grid(loaded.scenario)
    def fresh_world() -> object:
        missile.cache_clear()  # time the steering solves, not the per-process cache
        return build_world(loaded)

    t_world, world = best_of(args.repeat, fresh_world)
    t_truth, samples = best_of(args.repeat, lambda: sample_truth(world, times))
    t_sats, ephemerides = best_of(
        args.repeat, lambda: [c.propagate(world.epoch, times) for c in world.constellations]
    )
    active = int(np.count_nonzero(samples.active))
    n_sat = sum(len(e.satellite_ids) for e in ephemerides)
    print(f"scenario: {loaded.scenario.name} ({len(times)} steps of {loaded.scenario.step_s:g} s)")
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"best of {args.repeat}:")
    print(f"  build world ({samples.n_targets} targets, {n_sat} satellites): {t_world:8.3f} s")
    print(f"  sample truth ({active:,} active target samples):      {t_truth:8.3f} s")
    print(f"  propagate satellites ({n_sat * len(times):,} samples):     {t_sats:8.3f} s")
    print(f"  total:                                              {t_world + t_truth + t_sats:8.3f} s")


if __name__ == "__main__":
    main()
