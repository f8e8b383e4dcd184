"""Benchmark: Kizuna's multi-target tracker end to end beside Stone Soup's, same detections, one run.

Run:  .venv/bin/python bench/bench_tracker.py [--cells PATTERN,...] [--scans 100] [--peer-scans N]
          [--peers gnn,kdtree] [--capacity] [--quick] [--out out/bench_tracker]

The script re-executes itself with ``OMP_NUM_THREADS=1`` (and the OpenBLAS, MKL and Numba
equivalents) unless they are already set, so both trackers run on one thread. Kizuna's Numba kernels
(`kizuna.tracking.kernels`) compile during the warm-up; ``KIZUNA_NUMBA=0`` times the NumPy path.

**Scenario** (one per cell, seeded, generated before any timing): N targets on nearly-constant-
velocity paths (continuous white-noise acceleration q = 1 m²/s³ per axis, exactly discretised),
speed 150–300 m/s in a random horizontal direction, altitude 5–12 km, starting uniformly in a
square of side 10 km·√N (constant density: one target per 100 km²) centred L/2 + 50 km east of a
site at 35° N 139° E, in the site's local ENU frame (converted to ECEF for Kizuna: a rigid motion,
so the paths stay nearly constant-velocity). Every target is present from the first scan. One
scan per second; each target is detected with P_D = 0.9; Poisson clutter with mean 10 or 100 per
scan, uniform over the surveillance region in measurement space. Measurements:

* ``cartesian``: position with σ = 50 m per axis. Kizuna gets ECEF points, Stone Soup the same
  points in ENU (`LinearGaussian`).
* ``radar`` at the site: range σ 30 m, azimuth and elevation σ 1 mrad. Stone Soup's
  `CartesianToElevationBearingRange` has no range rate; a Kizuna ``radar`` detection always has
  one, so Kizuna is given a range rate with σ = 1 km/s — uninformative against speeds of ≤ 300 m/s
  (it changes a track's velocity variance by < 2 %) — and its gate is χ²₄ where Stone Soup's is
  χ²₃, *at the same gate probability*. Clutter draws its range rate from N(0, (1 km/s)²).

**Settings**, equal where the two trackers have the same knob: CV model q = 1 m²/s³ (the truth's);
gate probability 0.9999 (Stone Soup ``missed_distance`` = √χ²₃⁻¹(0.9999) = 4.59 Mahalanobis);
Joseph-form updates; a confirmed track is deleted after 5 misses in a row
(`UpdateTimeStepsDeleter(5)`). Confirmation: Kizuna's default (`DEFAULT_LIFECYCLE`, printed in
the header; 3 of 4 when this was written) is a two-point start (two detections of consecutive
scans within 1 km/s) then M hits in the first N looks. Stone Soup's `MultiMeasurementInitiator`
is given ``min_points=4`` (a single-point start and three more updates) with holding tracks
deleted after 2 misses in a row (``--peer-min-points 2`` for Stone Soup's default): a track is out
on the 4th scan at the earliest, against the 3rd for Kizuna's 3 of 4; a holding track survives
one miss anywhere, where Kizuna's start needs two consecutive hits. Its prior velocity σ is
1000/4.59 = 218 m/s per axis, so its gate on the second point matches Kizuna's 1 km/s speed gate.
Association: Kizuna's GNN (k-d tree coarse gate, χ² gate, clusters, 2-D assignment per cluster,
cost d² − γ); Stone Soup's `GNNWith2DAssignment` over a `DistanceHypothesiser` (cost Mahalanobis
distance) — and, for Cartesian cells, its faster `DetectionKDTreeGNN2D` (the same hypotheses once
the Euclidean pre-gate, 2 km, contains every χ² gate).

**Timing**: only the tracker's step (Kizuna ``Tracker.step(batch)``, Stone Soup
``next(MultiTargetTracker)``) is timed, scan by scan with `time.perf_counter`; building the
detection objects, reading tracks out and GOSPA are outside. Both trackers are first warmed up on
a tiny scenario. ``--peer-scans N`` runs Stone Soup on the first N scans only; the speed-up is then
the ratio of the two trackers' time over those same N scans (Kizuna's figures over all scans are
printed on their own row).

**Accuracy**: GOSPA (α = 2, p = 2, c = 2 km; `kizuna.metrics.gospa`, the same function for both)
between the truth and the tracks every scan, in ECEF (Stone Soup's ENU tracks are converted):
Kizuna's confirmed and coasting tracks, Stone Soup's tracks (released by its initiator). The
table gives the mean over the scans run, the mean from scan 10 on (after both trackers' start-up:
then it is the localisation error, √(N · mean squared error), when every target is held), and the
mean missed targets and false tracks per scan.

**Capacity** (``--capacity``): Kizuna alone with 10,000 targets (Cartesian, 100 clutter per scan,
detections generated scan by scan so the benchmark itself holds no history): detections per
second, then a second pass under `tracemalloc` showing the memory held after scan 50 and after
scan 200 (and the peak in each stretch): it follows the live tracks, not the scans.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import chi2
from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
from stonesoup.dataassociator.tree import DetectionKDTreeGNN2D
from stonesoup.deleter.time import UpdateTimeStepsDeleter
from stonesoup.hypothesiser.distance import DistanceHypothesiser
from stonesoup.initiator.simple import MultiMeasurementInitiator
from stonesoup.measures import Mahalanobis
from stonesoup.models.measurement.linear import LinearGaussian
from stonesoup.models.measurement.nonlinear import CartesianToElevationBearingRange
from stonesoup.models.transition.linear import CombinedLinearGaussianTransitionModel
from stonesoup.models.transition.linear import ConstantVelocity as SsConstantVelocity
from stonesoup.predictor.kalman import KalmanPredictor
from stonesoup.tracker.simple import MultiTargetTracker
from stonesoup.types.angle import Bearing, Elevation
from stonesoup.types.detection import Detection
from stonesoup.types.state import GaussianState, StateVector
from stonesoup.updater.kalman import ExtendedKalmanUpdater, KalmanUpdater

from kizuna import frames
from kizuna.metrics.gospa import gospa
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch
from kizuna.tracking import kernels
from kizuna.tracking.association import AssociationParameters
from kizuna.tracking.models import ConstantVelocity
from kizuna.tracking.tracker import DEFAULT_LIFECYCLE, Tracker

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")

SITE_LAT_RAD, SITE_LON_RAD = np.radians(35.0), np.radians(139.0)
SITE_M = frames.geodetic_to_ecef(SITE_LAT_RAD, SITE_LON_RAD, 0.0)
ROT_ENU = frames.enu_rotation(SITE_LAT_RAD, SITE_LON_RAD)  # rows: east, north, up in ECEF
SCAN_S = 1.0
PD = 0.9
Q_M2_PER_S3 = 1.0
AREA_PER_TARGET_M2 = 10e3**2
ALTITUDE_M = (5e3, 12e3)
SPEED_M_PER_S = (150.0, 300.0)
STANDOFF_M = 50e3  # site to the near edge of the starting square
POSITION_SIGMA_M = 50.0
RADAR_SIGMA = np.array([30.0, 1e-3, 1e-3])  # range m, azimuth rad, elevation rad
RANGE_RATE_SIGMA_M_PER_S = 1_000.0  # uninformative (module docstring)
GATE_PROBABILITY = 0.9999
MAX_SPEED_M_PER_S = 1_000.0  # Kizuna's two-point speed gate (its default)
DELETE_AFTER_MISSES = 5  # Kizuna's default max_consecutive_misses
KD_MAX_DISTANCE_M = 2_000.0
GOSPA_C_M, GOSPA_P = 2_000.0, 2.0
STEADY_FROM = 10  # "steady" GOSPA: the mean from this scan on, after both trackers' start-up
EPOCH = datetime(2027, 3, 1, 2, 0, 0)  # Stone Soup uses naive datetimes
KIND = {k: i for i, k in enumerate(MEASUREMENT_KINDS)}
MEASUREMENTS = ("cartesian", "radar")


# --- Scenario ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    """One scan: the truth positions (ENU) and the measurements (cartesian ENU x, y, z; or radar
    range, azimuth, elevation, range rate), targets and clutter shuffled together."""

    time_s: float
    truth_enu_m: np.ndarray  # (N, 3)
    z: np.ndarray  # (M, 3) or (M, 4)
    n_clutter: int
    detected: np.ndarray  # (N,) bool: which targets have a detection in this scan (for diagnosis)


@dataclass(frozen=True)
class Scenario:
    n_targets: int
    clutter_mean: float
    measurement: str
    n_scans: int
    seed: int = 1

    @property
    def name(self) -> str:
        return f"n{self.n_targets}-c{self.clutter_mean:g}-{self.measurement}"

    def square_m(self) -> tuple[float, float]:
        """Side of the starting square and the east offset of its centre from the site."""
        side = float(np.sqrt(self.n_targets * AREA_PER_TARGET_M2))
        return side, side / 2 + STANDOFF_M

    def region_enu_m(self) -> tuple[np.ndarray, np.ndarray]:
        """ENU box holding every target over the run (the square grown by the distance travelled)."""
        side, east = self.square_m()
        grow = SPEED_M_PER_S[1] * SCAN_S * self.n_scans + 2e3
        lo = np.array([east - side / 2 - grow, -side / 2 - grow, ALTITUDE_M[0] - 2e3])
        hi = np.array([east + side / 2 + grow, side / 2 + grow, ALTITUDE_M[1] + 2e3])
        return lo, hi

    def region_aer(self) -> tuple[np.ndarray, np.ndarray]:
        """(range, azimuth, elevation) bounds of the ENU box seen from the site (the box is east of
        the site and does not contain it, so the extreme azimuths are at corners)."""
        lo, hi = self.region_enu_m()
        corners = np.array(
            [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        )
        az, _, rng = frames.enu_to_aer(corners)
        nearest = np.clip(np.zeros(3), lo, hi)
        rho_min, rho_max = (
            float(np.hypot(*nearest[:2])),
            float(np.max(np.hypot(corners[:, 0], corners[:, 1]))),
        )
        r_lo, r_hi = float(np.linalg.norm(nearest)), float(rng.max())
        el_lo, el_hi = np.arctan2(lo[2], rho_max), np.arctan2(hi[2], rho_min)
        return np.array([r_lo, az.min(), el_lo]), np.array([r_hi, az.max(), el_hi])

    def scans(self) -> Iterator[Scan]:
        """The scenario scan by scan (same seed, same scans every call)."""
        truth_rng = np.random.default_rng([self.seed, self.n_targets])  # same paths for both measurements
        rng = np.random.default_rng(
            [self.seed, self.n_targets, int(self.clutter_mean), MEASUREMENTS.index(self.measurement)]
        )
        n = self.n_targets
        side, east = self.square_m()
        pos = np.column_stack(
            [
                truth_rng.uniform(east - side / 2, east + side / 2, n),
                truth_rng.uniform(-side / 2, side / 2, n),
                truth_rng.uniform(*ALTITUDE_M, n),
            ]
        )
        speed, heading = truth_rng.uniform(*SPEED_M_PER_S, n), truth_rng.uniform(0.0, 2 * np.pi, n)
        vel = np.column_stack([speed * np.sin(heading), speed * np.cos(heading), np.zeros(n)])
        dt = SCAN_S
        q_chol = np.linalg.cholesky(Q_M2_PER_S3 * np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]]))
        box = self.region_enu_m() if self.measurement == "cartesian" else self.region_aer()
        for k in range(self.n_scans):
            if k:
                w = truth_rng.standard_normal((2, n, 3))
                pos = pos + vel * dt + q_chol[0, 0] * w[0]
                vel = vel + q_chol[1, 0] * w[0] + q_chol[1, 1] * w[1]
            seen = rng.random(n) < PD
            n_clutter = int(rng.poisson(self.clutter_mean))
            clutter = rng.uniform(box[0], box[1], (n_clutter, 3))
            if self.measurement == "cartesian":
                z_t = pos[seen] + rng.normal(0.0, POSITION_SIGMA_M, (int(seen.sum()), 3))
                z = np.concatenate([z_t, clutter])
            else:
                az, el, rng_m = frames.enu_to_aer(pos[seen])
                rr = np.einsum("ij,ij->i", pos[seen], vel[seen]) / rng_m
                z_t = np.column_stack([rng_m, az, el]) + rng.normal(0.0, 1.0, (len(az), 3)) * RADAR_SIGMA
                z_t[:, 1] = np.mod(z_t[:, 1], 2 * np.pi)
                z_t = np.column_stack([z_t, rr + rng.normal(0.0, RANGE_RATE_SIGMA_M_PER_S, len(rr))])
                c_rr = rng.normal(0.0, RANGE_RATE_SIGMA_M_PER_S, n_clutter)
                z = np.concatenate([z_t, np.column_stack([clutter, c_rr])])
            yield Scan(k * dt, pos.copy(), z[rng.permutation(len(z))], n_clutter, seen)


def enu_to_ecef_m(p_enu_m: np.ndarray) -> np.ndarray:
    return SITE_M + p_enu_m @ ROT_ENU


# --- Kizuna --------------------------------------------------------------------------------------


def kizuna_batch(scan: Scan, measurement: str, first_id: int) -> DetectionBatch:
    m = len(scan.z)
    z = np.full((m, Z_MAX), np.nan)
    cov = np.full((m, Z_MAX, Z_MAX), np.nan)
    if measurement == "cartesian":
        z[:, :3] = enu_to_ecef_m(scan.z)
        cov[:, :3, :3] = ROT_ENU.T @ np.diag(np.full(3, POSITION_SIGMA_M**2)) @ ROT_ENU
        kind, sensor = KIND["position"], "position-1"
    else:
        z[:, :4] = scan.z
        cov[:, :4, :4] = np.diag(np.append(RADAR_SIGMA, RANGE_RATE_SIGMA_M_PER_S) ** 2)
        kind, sensor = KIND["radar"], "radar-1"
    return DetectionBatch(
        detection_id=np.arange(first_id, first_id + m, dtype=np.int64),
        time_s=np.full(m, scan.time_s),
        sensor_id=np.full(m, sensor, dtype=object),
        kind=np.full(m, kind, dtype=np.int8),
        z=z,
        cov=cov,
        sensor_pos_m=np.tile(SITE_M, (m, 1)),
        sensor_vel_m_per_s=np.zeros((m, 3)),
    )


def kizuna_tracker() -> Tracker:
    return Tracker(
        model=ConstantVelocity(q_m2_per_s3=Q_M2_PER_S3),
        association=AssociationParameters(gate_probability=GATE_PROBABILITY),
        max_speed_m_per_s=MAX_SPEED_M_PER_S,
    )


def kizuna_positions(tr: Tracker) -> np.ndarray:
    cols = tr.tracks()
    held = (cols["status"] == "confirmed") | (cols["status"] == "coasting")
    return np.column_stack([cols["x_m"], cols["y_m"], cols["z_m"]])[held]


# --- Stone Soup ----------------------------------------------------------------------------------


def stone_soup_model(measurement: str) -> Any:
    if measurement == "cartesian":
        return LinearGaussian(ndim_state=6, mapping=(0, 2, 4), noise_covar=np.eye(3) * POSITION_SIGMA_M**2)
    return CartesianToElevationBearingRange(
        ndim_state=6,
        mapping=(0, 2, 4),
        noise_covar=np.diag([RADAR_SIGMA[2] ** 2, RADAR_SIGMA[1] ** 2, RADAR_SIGMA[0] ** 2]),
        translation_offset=StateVector([0.0, 0.0, 0.0]),  # the site is the ENU origin
    )


def stone_soup_detections(scan: Scan, measurement: str, model: Any) -> set[Detection]:
    """Stone Soup's frame is our ENU frame; its bearing is π/2 − azimuth, counter-clockwise from east."""
    t = EPOCH + timedelta(seconds=scan.time_s)
    if measurement == "cartesian":
        return {Detection(StateVector(z), timestamp=t, measurement_model=model) for z in scan.z}
    return {
        Detection(
            StateVector([Elevation(z[2]), Bearing(np.pi / 2 - z[1]), z[0]]),
            timestamp=t,
            measurement_model=model,
        )
        for z in scan.z
    }


def stone_soup_tracker(
    measurement: str, associator: str, min_points: int, feed: list[Any]
) -> MultiTargetTracker:
    model = stone_soup_model(measurement)
    predictor = KalmanPredictor(CombinedLinearGaussianTransitionModel([SsConstantVelocity(Q_M2_PER_S3)] * 3))
    updater_cls = KalmanUpdater if measurement == "cartesian" else ExtendedKalmanUpdater
    updater = updater_cls(model, use_joseph_cov=True)
    gate = float(np.sqrt(chi2.ppf(GATE_PROBABILITY, 3)))
    hypothesiser = DistanceHypothesiser(predictor, updater, Mahalanobis(), missed_distance=gate)

    def data_associator() -> Any:
        if associator == "kdtree":
            return DetectionKDTreeGNN2D(hypothesiser, predictor, updater, max_distance=KD_MAX_DISTANCE_M)
        return GNNWith2DAssignment(hypothesiser)

    sigma_v = MAX_SPEED_M_PER_S / gate
    prior = GaussianState(StateVector(np.zeros(6)), np.diag([0.0, sigma_v**2] * 3))
    initiator = MultiMeasurementInitiator(
        prior_state=prior,
        deleter=UpdateTimeStepsDeleter(time_steps_since_update=2),
        data_associator=data_associator(),
        updater=updater,
        measurement_model=model,
        min_points=min_points,
    )
    return MultiTargetTracker(
        initiator=initiator,
        deleter=UpdateTimeStepsDeleter(time_steps_since_update=DELETE_AFTER_MISSES),
        detector=feed,
        data_associator=data_associator(),
        updater=updater,
    )


def stone_soup_positions(tracks: set[Any]) -> np.ndarray:
    if not tracks:
        return np.zeros((0, 3))
    enu = np.array([np.asarray(t.state_vector, dtype=float)[[0, 2, 4], 0] for t in tracks])
    return enu_to_ecef_m(enu)


# --- Runs ----------------------------------------------------------------------------------------


@dataclass
class Run:
    """One tracker on one cell: per-scan step time, detections and GOSPA."""

    tracker: str
    step_s: list[float] = field(default_factory=list)
    detections: list[int] = field(default_factory=list)
    gospa_m: list[float] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    false: list[int] = field(default_factory=list)

    def record(self, step_s: float, n_det: int, truth_ecef_m: np.ndarray, tracks_ecef_m: np.ndarray) -> None:
        g = gospa(truth_ecef_m, tracks_ecef_m, GOSPA_C_M, GOSPA_P)
        self.step_s.append(step_s)
        self.detections.append(n_det)
        self.gospa_m.append(g.gospa_m)
        self.missed.append(g.n_missed)
        self.false.append(g.n_false)

    def summary(self, n: int | None = None) -> dict[str, float]:
        """Figures over the first ``n`` scans (all when None)."""
        k = len(self.step_s) if n is None else min(n, len(self.step_s))
        wall = float(np.sum(self.step_s[:k]))
        return {
            "scans": k,
            "wall_s": wall,
            "ms_per_scan": 1e3 * wall / k,
            "detections": int(np.sum(self.detections[:k])),
            "detections_per_s": float(np.sum(self.detections[:k])) / wall,
            "mean_gospa_m": float(np.mean(self.gospa_m[:k])),
            "steady_gospa_m": float(np.mean(self.gospa_m[STEADY_FROM:k]))
            if k > STEADY_FROM
            else float("nan"),
            "mean_missed": float(np.mean(self.missed[:k])),
            "mean_false": float(np.mean(self.false[:k])),
        }


class Progress:
    """Plain progress lines on stderr, at most one every ``every_s`` seconds."""

    def __init__(self, label: str, total: int, every_s: float = 15.0) -> None:
        self.label, self.total, self.every_s = label, total, every_s
        self.start = self.last = time.perf_counter()

    def __call__(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every_s or done == self.total:
            self.last = now
            eta = (now - self.start) / done * (self.total - done)
            print(f"  {self.label}: scan {done}/{self.total}, {now - self.start:.0f} s, eta {eta:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip


def run_kizuna(cell: Scenario, scans: list[Scan], quiet: bool = False) -> Run:
    tr, run, next_id = kizuna_tracker(), Run("kizuna"), 0
    batches = []
    for s in scans:
        batches.append(kizuna_batch(s, cell.measurement, next_id))
        next_id += len(s.z)
    progress = Progress(f"{cell.name} kizuna", len(scans))
    for k, (s, batch) in enumerate(zip(scans, batches, strict=True)):
        start = time.perf_counter()
        tr.step(batch)
        elapsed = time.perf_counter() - start
        run.record(elapsed, len(batch), enu_to_ecef_m(s.truth_enu_m), kizuna_positions(tr))
        if not quiet:
            progress(k + 1)
    return run


def run_stone_soup(
    cell: Scenario, scans: list[Scan], associator: str, min_points: int, quiet: bool = False
) -> Run:
    model = stone_soup_model(cell.measurement)
    feed = [
        (EPOCH + timedelta(seconds=s.time_s), stone_soup_detections(s, cell.measurement, model))
        for s in scans
    ]
    tracker = stone_soup_tracker(cell.measurement, associator, min_points, feed)
    steps = iter(tracker)
    run = Run(f"stonesoup-{associator}")
    progress = Progress(f"{cell.name} stonesoup-{associator}", len(scans))
    for k, (s, (_, dets)) in enumerate(zip(scans, feed, strict=True)):
        start = time.perf_counter()
        _, tracks = next(steps)
        elapsed = time.perf_counter() - start
        run.record(elapsed, len(dets), enu_to_ecef_m(s.truth_enu_m), stone_soup_positions(tracks))
        if not quiet:
            progress(k + 1)
    return run


def warm_up(min_points: int) -> None:
    """Run both trackers on a tiny scenario so imports, caches and first calls are not timed."""
    for measurement in MEASUREMENTS:
        cell = Scenario(5, 2, measurement, 6, seed=99)
        scans = list(cell.scans())
        run_kizuna(cell, scans, quiet=True)
        for associator in ("gnn", "kdtree") if measurement == "cartesian" else ("gnn",):
            run_stone_soup(cell, scans, associator, min_points, quiet=True)


# --- Capacity ------------------------------------------------------------------------------------


def capacity(
    n_targets: int, clutter_mean: float, timed_scans: int, memory_scans: tuple[int, int]
) -> dict[str, Any]:
    """Kizuna alone at ``n_targets``: detections/s over ``timed_scans``, then memory under tracemalloc."""
    cell = Scenario(n_targets, clutter_mean, "cartesian", max(timed_scans, *memory_scans), seed=7)
    tr, wall, n_det, next_id = kizuna_tracker(), 0.0, 0, 0
    steps: list[float] = []
    progress = Progress(f"capacity {cell.name} timed", timed_scans)
    for k, s in enumerate(cell.scans()):
        if k == timed_scans:
            break
        batch = kizuna_batch(s, "cartesian", next_id)
        next_id += len(batch)
        start = time.perf_counter()
        tr.step(batch)
        steps.append(time.perf_counter() - start)
        n_det += len(batch)
        progress(k + 1)
    wall = float(np.sum(steps))
    held = kizuna_positions(tr)
    out: dict[str, Any] = {
        "cell": cell.name,
        "scans": timed_scans,
        "wall_s": wall,
        "ms_per_scan": 1e3 * wall / timed_scans,
        "ms_per_scan_last_half": 1e3 * float(np.mean(steps[timed_scans // 2 :])),
        "detections": n_det,
        "detections_per_s": n_det / wall,
        "live_tracks_end": len(tr.table),
        "held_tracks_end": len(held),
    }
    # Memory pass: a fresh tracker under tracemalloc (slower: not timed).
    first, last = memory_scans
    tracemalloc.start()
    tr, next_id = kizuna_tracker(), 0
    mem: dict[str, Any] = {}
    progress = Progress(f"capacity {cell.name} memory", last)
    for k, s in enumerate(cell.scans()):
        if k == last:
            break
        batch = kizuna_batch(s, "cartesian", next_id)
        next_id += len(batch)
        tr.step(batch)
        del batch
        progress(k + 1)
        if k + 1 in (first, last):
            current, peak = tracemalloc.get_traced_memory()
            mem[f"after_{k + 1}"] = {
                "traced_mib": current / 2**20,
                "peak_mib": peak / 2**20,
                "live_tracks": len(tr.table),
                "table_mib": (tr.table.x.nbytes + tr.table.P.nbytes) / 2**20,
            }
            tracemalloc.reset_peak()
    tracemalloc.stop()
    out["memory"] = mem
    out["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


# --- Report --------------------------------------------------------------------------------------


def cell_rows(cell: Scenario, runs: dict[str, Run], peer_scans: int | None) -> list[dict[str, Any]]:
    ours = runs["kizuna"]
    rows = [{"cell": cell.name, "tracker": "kizuna", **ours.summary()}]
    n_peer = min(len(r.step_s) for r in runs.values())
    if n_peer < len(ours.step_s):
        rows.append({"cell": cell.name, "tracker": f"kizuna, first {n_peer} scans", **ours.summary(n_peer)})
    ref = ours.summary(n_peer)
    for name, run in runs.items():
        if name == "kizuna":
            continue
        s = run.summary()
        rows.append({"cell": cell.name, "tracker": name, **s, "speedup": s["wall_s"] / ref["wall_s"]})
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| cell | tracker | scans | wall s | ms/scan | detections/s | mean GOSPA (m) "
        f"| GOSPA from scan {STEADY_FROM} (m) | missed/scan | false/scan | Kizuna speed-up × |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    lines = []
    for r in rows:
        speed = f"{r['speedup']:,.0f}" if "speedup" in r else ""
        steady = f"{r['steady_gospa_m']:,.0f}" if np.isfinite(r["steady_gospa_m"]) else "–"
        lines.append(
            f"| {r['cell']} | {r['tracker']} | {r['scans']} | {r['wall_s']:,.2f} | {r['ms_per_scan']:,.1f} "
            f"| {r['detections_per_s']:,.0f} | {r['mean_gospa_m']:,.0f} | {steady} "
            f"| {r['mean_missed']:.1f} "
            f"| {r['mean_false']:.1f} | {speed} |"
        )
    return head + "\n".join(lines)


def capacity_markdown(cap: dict[str, Any]) -> str:
    m = cap["memory"]
    lines = [
        f"capacity {cap['cell']}: {cap['scans']} scans, {cap['wall_s']:.1f} s, "
        f"{cap['ms_per_scan']:.1f} ms/scan "
        f"({cap['ms_per_scan_last_half']:.1f} ms/scan over the second half), "
        f"**{cap['detections_per_s']:,.0f} detections/s**; {cap['held_tracks_end']:,} confirmed/coasting "
        f"of {cap['live_tracks_end']:,} live tracks at the end",
    ]
    for key, v in m.items():
        lines.append(
            f"  memory {key.replace('_', ' ')} scans: {v['traced_mib']:.1f} MiB traced "
            f"(peak {v['peak_mib']:.1f} MiB in the stretch), {v['live_tracks']:,} live tracks, "
            f"x+P {v['table_mib']:.1f} MiB"
        )
    lines.append(f"  process max RSS {cap['maxrss_mib']:.0f} MiB")
    return "\n".join(lines)


def cells_for(args: argparse.Namespace) -> list[Scenario]:
    targets, clutter = ((20, 50), (10,)) if args.quick else ((100, 1000), (10, 100))
    cells = [Scenario(n, c, m, args.scans) for n in targets for c in clutter for m in MEASUREMENTS]
    if args.cells:
        patterns = args.cells.split(",")
        cells = [c for c in cells if any(fnmatch.fnmatch(c.name, p) for p in patterns)]
    return cells


def single_thread() -> None:
    """Re-execute with one BLAS/OpenMP thread unless that is already set."""
    if all(os.environ.get(v) == "1" for v in THREAD_VARS):
        return
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cells", default="", help="comma-separated glob patterns, e.g. 'n100-*,n1000-c10-*'"
    )
    parser.add_argument("--scans", type=int, default=100)
    parser.add_argument("--peer-scans", type=int, default=None, help="Stone Soup runs only the first N scans")
    parser.add_argument("--peers", default="gnn,kdtree", help="Stone Soup associators: gnn, kdtree, none")
    parser.add_argument("--peer-min-points", type=int, default=4)
    parser.add_argument("--capacity", action="store_true", help="also run the 10,000-target capacity cell")
    parser.add_argument("--capacity-targets", type=int, default=10_000)
    parser.add_argument("--capacity-scans", default="100,50,200", help="timed scans, memory checkpoints")
    parser.add_argument("--quick", action="store_true", help="tiny cells (20 and 50 targets, 10 scans)")
    parser.add_argument("--out", default="", help="write PREFIX.json and PREFIX.md")
    args = parser.parse_args()
    single_thread()
    if args.quick:
        args.scans = min(args.scans, 10)
    peers = [p for p in args.peers.split(",") if p in ("gnn", "kdtree")]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, Stone Soup {__import__('stonesoup').__version__}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, Kizuna Numba kernels {kernels.ENABLED}"
    )
    lc = DEFAULT_LIFECYCLE
    print(
        f"Kizuna: two-point start, confirm {lc.confirm_hits} of {lc.confirm_looks} looks, delete after "
        f"{lc.max_consecutive_misses} misses; Stone Soup: min_points={args.peer_min_points}, holding "
        f"tracks deleted after 2 misses, tracks after {DELETE_AFTER_MISSES}; "
        f"gate probability {GATE_PROBABILITY}"
    )
    warm_up(args.peer_min_points)
    rows: list[dict[str, Any]] = []
    per_scan: dict[str, Any] = {}
    started = time.perf_counter()
    for cell in cells_for(args):
        scans = list(cell.scans())
        n_det = sum(len(s.z) for s in scans)
        print(f"{cell.name}: {len(scans)} scans, {n_det:,} detections", file=sys.stderr, flush=True)
        runs = {"kizuna": run_kizuna(cell, scans)}
        peer = scans[: args.peer_scans] if args.peer_scans else scans
        for associator in peers:
            if associator == "kdtree" and cell.measurement != "cartesian":
                continue
            runs[f"stonesoup-{associator}"] = run_stone_soup(cell, peer, associator, args.peer_min_points)
        new = cell_rows(cell, runs, args.peer_scans)
        per_scan[cell.name] = {name: asdict(run) for name, run in runs.items()}
        print(markdown(new), flush=True)
        rows += new
    table = markdown(rows) if rows else ""
    cap = None
    if args.capacity:
        timed, first, last = (int(v) for v in args.capacity_scans.split(","))
        n_cap = 2_000 if args.quick else args.capacity_targets
        if args.quick:
            timed, first, last = 10, 35, 70  # past the 30 s re-processing window
        cap = capacity(n_cap, 100, timed, (first, last))
    print(f"\nall cells ({time.perf_counter() - started:.0f} s in all):\n")
    print(table)
    if cap:
        print("\n" + capacity_markdown(cap))
    if args.out:
        prefix = Path(args.out)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        prefix.with_suffix(".md").write_text(table + ("\n\n" + capacity_markdown(cap) if cap else "") + "\n")
        dump = {"argv": sys.argv, "rows": rows, "capacity": cap, "per_scan": per_scan}
        prefix.with_suffix(".json").write_text(json.dumps(dump, indent=1))


if __name__ == "__main__":
    main()
