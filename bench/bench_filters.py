"""Benchmark: predict + EKF radar update per track, Kizuna's batched filter beside Stone Soup's.

Run:  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_filters.py [--tracks 10000] [--peer-tracks 300]

Filter only (no association or track management): N constant-velocity tracks, each predicted over
1 s and updated with one radar measurement (range, azimuth, elevation, range-rate) from a sensor.
Kizuna updates all N at once; Stone Soup (`KalmanPredictor` + `ExtendedKalmanUpdater` with
`CartesianToElevationBearingRangeRate`, Joseph form) is timed per track on a subset, in the same
process, on the same inputs, and both are reported as updates per second.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta

import numpy as np
from stonesoup.models.measurement.nonlinear import CartesianToElevationBearingRangeRate
from stonesoup.models.transition.linear import CombinedLinearGaussianTransitionModel
from stonesoup.models.transition.linear import ConstantVelocity as SsConstantVelocity
from stonesoup.predictor.kalman import KalmanPredictor
from stonesoup.types.angle import Bearing, Elevation
from stonesoup.types.detection import Detection
from stonesoup.types.hypothesis import SingleHypothesis
from stonesoup.types.state import GaussianState, StateVector
from stonesoup.updater.kalman import ExtendedKalmanUpdater

from kizuna.sensors.detections import Z_MAX
from kizuna.tracking import filters, measurements, models

PERM = [0, 3, 1, 4, 2, 5]  # Stone Soup interleaves (x, vx, y, vy, z, vz)
SIGMA = np.array([20.0, 2e-3, 1.5e-3, 1.0])  # range m, azimuth rad, elevation rad, range-rate m/s


def scenario(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Tracks 50-300 km from a radar at the origin of a local ENU frame (the frame both filters use)."""
    rng_m = rng.uniform(50e3, 300e3, n)
    az = rng.uniform(0.0, 2 * np.pi, n)
    el = rng.uniform(0.01, 0.3, n)
    pos = np.stack([rng_m * np.cos(el) * np.sin(az), rng_m * np.cos(el) * np.cos(az), rng_m * np.sin(el)], -1)
    x = np.concatenate([pos, rng.normal(0.0, 200.0, (n, 3))], axis=1)
    p = np.tile(np.diag([100.0**2] * 3 + [20.0**2] * 3), (n, 1, 1))
    sensor = np.zeros((n, 3))
    z = measurements.radar_function(x + np.concatenate([x[:, 3:], np.zeros((n, 3))], 1), sensor, sensor)
    z = z + rng.normal(0.0, 1.0, (n, 4)) * SIGMA
    z[:, 1] = np.mod(z[:, 1], 2 * np.pi)
    return x, p, z, sensor


def kizuna_rate(x: np.ndarray, p: np.ndarray, z: np.ndarray, sensor: np.ndarray, repeat: int) -> float:
    n = len(x)
    cv = models.ConstantVelocity(1.0)
    cov = np.zeros((n, Z_MAX, Z_MAX))
    cov[:, :4, :4] = np.diag(SIGMA**2)
    dt = np.ones(n)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        xp, pp = filters.predict(cv, x, p, dt)
        filters.ekf_update(xp, pp, "radar", z, cov, sensor, sensor)
        best = min(best, time.perf_counter() - start)
    return n / best


def stone_soup_rate(x: np.ndarray, p: np.ndarray, z: np.ndarray) -> float:
    """Stone Soup's frame is our ENU frame; its bearing is π/2 − azimuth, counter-clockwise from east."""
    transition = CombinedLinearGaussianTransitionModel([SsConstantVelocity(1.0)] * 3)
    model = CartesianToElevationBearingRangeRate(
        ndim_state=6,
        mapping=(0, 2, 4),
        velocity_mapping=(1, 3, 5),
        noise_covar=np.diag([SIGMA[2] ** 2, SIGMA[1] ** 2, SIGMA[0] ** 2, SIGMA[3] ** 2]),
    )
    predictor, updater = KalmanPredictor(transition), ExtendedKalmanUpdater(model, use_joseph_cov=True)
    t0 = datetime(2027, 3, 1, 2, 0, 0)  # Stone Soup uses naive datetimes
    t1 = t0 + timedelta(seconds=1)
    priors = [
        GaussianState(StateVector(x[i, PERM]), p[i][np.ix_(PERM, PERM)], timestamp=t0) for i in range(len(x))
    ]
    dets = [
        Detection(
            StateVector([Elevation(z[i, 2]), Bearing(np.pi / 2 - z[i, 1]), z[i, 0], z[i, 3]]),
            timestamp=t1,
            measurement_model=model,
        )
        for i in range(len(x))
    ]
    start = time.perf_counter()
    for prior, det in zip(priors, dets, strict=True):
        pred = predictor.predict(prior, timestamp=t1)
        updater.update(SingleHypothesis(pred, det))
    return len(x) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--peer-tracks", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    x, p, z, sensor = scenario(args.tracks, rng)
    ours = kizuna_rate(x, p, z, sensor, args.repeat)
    m = min(args.peer_tracks, args.tracks)
    peer = stone_soup_rate(x[:m], p[:m], z[:m])
    print(f"Kizuna batched EKF, {args.tracks:,} tracks at once: {ours:12,.0f} predict+updates/s")
    print(f"Stone Soup EKF, {m:,} tracks one by one:      {peer:12,.0f} predict+updates/s")
    print(f"ratio: {ours / peer:,.0f}x")


if __name__ == "__main__":
    main()
