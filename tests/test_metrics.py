"""Metrics: GOSPA against Stone Soup and hand-worked values; NEES/NIS bands against χ² tables and
Monte Carlo; custody on a crafted scenario with known breaks and identity switches."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2
from stonesoup.metricgenerator.ospametric import GOSPAMetric
from stonesoup.types.array import StateVector
from stonesoup.types.state import State

from kizuna.metrics import (
    check_consistency,
    chi2_band,
    custody,
    gospa,
    gospa_series,
    nees,
    nis,
)
from kizuna.metrics.custody import CUSTODY_COLUMNS, assign_tracks_to_truth

# --- GOSPA ---------------------------------------------------------------------------------------


def _stonesoup_gospa(truth: np.ndarray, tracks: np.ndarray, c: float, p: float) -> dict:
    """Stone Soup 1.9.1 GOSPAMetric (α = 2, Euclidean) on the same points at one (naive) time."""
    t0 = datetime(2025, 1, 1)  # Stone Soup uses naive datetimes
    metric = GOSPAMetric(c=c, p=p)
    truth_states = [State(StateVector(x), timestamp=t0) for x in truth]
    track_states = [State(StateVector(y), timestamp=t0) for y in tracks]
    value, _ = metric.compute_gospa_metric(track_states, truth_states)
    return value.value


@pytest.mark.parametrize("p", [1.0, 2.0, 3.5])
def test_gospa_equals_stonesoup_on_random_cases(p: float) -> None:
    rng = np.random.default_rng(int(p * 10))
    c = 500.0  # m; points spread over ±1 km so that some pairs fall beyond the cut-off
    for _ in range(40):
        n, m = rng.integers(0, 7, size=2)
        if n == m == 0:
            continue
        truth = rng.uniform(-1000, 1000, (n, 3))
        tracks = rng.uniform(-1000, 1000, (m, 3))
        ours = gospa(truth, tracks, c_m=c, p=p)
        ref = _stonesoup_gospa(truth, tracks, c, p)
        scale = c**p  # parts are in m^p; 1e-9 relative to the cut-off cost
        assert ours.gospa_m == pytest.approx(ref["distance"], rel=1e-9, abs=1e-9 * c)
        assert ours.localisation_m_p == pytest.approx(ref["localisation"], rel=1e-9, abs=1e-9 * scale)
        assert ours.missed_m_p == pytest.approx(ref["missed"], rel=1e-9, abs=1e-9 * scale)
        assert ours.false_m_p == pytest.approx(ref["false"], rel=1e-9, abs=1e-9 * scale)
        # the parts add up to GOSPA^p, and the counts to the cardinalities
        total = ours.localisation_m_p + ours.missed_m_p + ours.false_m_p
        assert total == pytest.approx(ours.gospa_m**p, rel=1e-12)
        n_assigned = int(np.sum(ours.truth_to_track >= 0))
        assert ours.n_missed == n - n_assigned and ours.n_false == m - n_assigned


def test_gospa_hand_worked_values() -> None:
    c, origin = 10.0, np.zeros((1, 3))
    none = np.zeros((0, 3))
    # one missed target: (c^p / 2)^(1/p) = √50 for c = 10, p = 2
    r = gospa(origin, none, c, 2)
    assert r.gospa_m == pytest.approx(np.sqrt(50)) and r.missed_m_p == 50 and r.n_missed == 1
    # one false track: the same cost on the other side
    r = gospa(none, origin, c, 2)
    assert r.gospa_m == pytest.approx(np.sqrt(50)) and r.false_m_p == 50 and r.n_false == 1
    # one offset of (3, 4, 0) m: GOSPA is the distance, 5 m
    r = gospa(origin, [[3.0, 4.0, 0.0]], c, 2)
    assert r.gospa_m == pytest.approx(5.0) and r.localisation_m_p == pytest.approx(25.0)
    assert r.missed_m_p == r.false_m_p == 0 and list(r.truth_to_track) == [0]
    # an offset beyond the cut-off: one missed plus one false, c^p in all, GOSPA = c
    r = gospa(origin, [[20.0, 0.0, 0.0]], c, 2)
    assert r.gospa_m == pytest.approx(c) and (r.n_missed, r.n_false) == (1, 1)
    assert r.localisation_m_p == 0 and list(r.truth_to_track) == [-1]
    # p = 1, two targets, one track 3 m from the first: 3 + c/2 = 8
    r = gospa([[0.0, 0, 0], [100.0, 0, 0]], [[0.0, 3.0, 0]], c, 1)
    assert r.gospa_m == pytest.approx(8.0) and r.localisation_m_p == pytest.approx(3.0)


def test_gospa_series_per_time_and_empty_sides() -> None:
    c = 10.0
    truth_t = np.array([0.0, 0.0, 1.0, 2.0])
    truth_x = np.array([[0.0, 0, 0], [50.0, 0, 0], [0.0, 0, 0], [0.0, 0, 0]])
    track_t = np.array([0.0, 2.0, 3.0])
    track_x = np.array([[1.0, 0, 0], [0.0, 2.0, 0], [9.0, 9, 9]])
    s = gospa_series(truth_t, truth_x, track_t, track_x, c, 2)
    np.testing.assert_array_equal(s.time_s, [0.0, 1.0, 2.0, 3.0])
    # t=0: 1 m localisation + one missed (50) -> √51; t=1: one missed -> √50; t=2: 2 m; t=3: one false
    np.testing.assert_allclose(s.gospa_m, [np.sqrt(51), np.sqrt(50), 2.0, np.sqrt(50)])
    np.testing.assert_array_equal(s.n_missed, [1, 1, 0, 0])
    np.testing.assert_array_equal(s.n_false, [0, 0, 0, 1])
    np.testing.assert_allclose(s.localisation_m_p + s.missed_m_p + s.false_m_p, s.gospa_m**2)
    assert s.mean_gospa_m == pytest.approx(np.mean(s.gospa_m))


# --- NEES / NIS ----------------------------------------------------------------------------------


def test_chi2_band_values() -> None:
    # Bar-Shalom et al. (2001) §5.4.2 example: n = 2, N = 50 runs, 95 % -> [1.5, 2.6]
    lo, hi = chi2_band(2, 50)
    assert lo == pytest.approx(1.5, abs=0.03) and hi == pytest.approx(2.6, abs=0.03)
    # Printed χ² tables (e.g. Abramowitz & Stegun table 26.8), 3 dof: 0.216 and 9.348
    lo, hi = chi2_band(3, 1)
    assert lo == pytest.approx(0.2158, abs=5e-4) and hi == pytest.approx(9.348, abs=5e-4)
    # and exactly scipy's quantiles of χ²(N n) / N
    lo, hi = chi2_band(6, 25, 0.99)
    assert (lo, hi) == (chi2.ppf(0.005, 150) / 25, chi2.ppf(0.995, 150) / 25)


def _random_spd(rng: np.random.Generator, shape: tuple[int, ...], n: int) -> np.ndarray:
    a = rng.normal(size=(*shape, n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def test_nees_is_the_quadratic_form() -> None:
    rng = np.random.default_rng(1)
    cov = _random_spd(rng, (4, 5), 6)
    err = rng.normal(size=(4, 5, 6))
    want = np.einsum("...i,...ij,...j->...", err, np.linalg.inv(cov), err)
    np.testing.assert_allclose(nees(err, cov), want, rtol=1e-10)
    np.testing.assert_allclose(nis(err[..., :2], cov[..., :2, :2]),
                               np.einsum("...i,...ij,...j->...", err[..., :2],
                                         np.linalg.inv(cov[..., :2, :2]), err[..., :2]), rtol=1e-10)
    bad = cov.copy()
    bad[0, 0] = 0.0  # singular: NaN, not an exception
    assert np.isnan(nees(err, bad)[0, 0]) and np.isfinite(nees(err, bad)[0, 1:]).all()


@pytest.mark.parametrize(("dim", "scale", "verdict"), [(3, 1.0, True), (3, 0.5, False), (2, 2.0, False)])
def test_monte_carlo_consistency(dim: int, scale: float, verdict: bool) -> None:
    """Errors drawn from N(0, P); the filter reports scale·P. scale 1: consistent; 0.5:
    over-confident (mean NEES ≈ 2n, above the band); 2: under-confident (≈ n/2, below)."""
    rng = np.random.default_rng(2024)
    runs, steps = 50, 100
    cov = _random_spd(rng, (steps,), dim)
    chol = np.linalg.cholesky(cov)
    err = np.einsum("tij,rtj->rti", chol, rng.normal(size=(runs, steps, dim)))
    values = nees(err, np.broadcast_to(scale * cov, (runs, steps, dim, dim)))
    check = check_consistency(values, dim)
    assert check.consistent is verdict
    assert (check.lower, check.upper) == chi2_band(dim, runs)
    if scale == 1.0:
        assert check.fraction_inside >= 0.9
    elif scale < 1.0:
        assert check.fraction_above == 1.0
    else:
        assert check.fraction_below == 1.0


# --- Custody -------------------------------------------------------------------------------------


def _custody_scenario() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Truth sampled at 1 s. Gate 100 m.

    A (t 0–9): tentative track 9 at t=1 (does not count); confirmed track 1 at t=2–4; nothing at
       5–6 (break); confirmed track 2 at t=7–9 (identity switch). Held 6/10.
    B (t 3–8): track 3 throughout, but 5 km off at t=6 (break), back on track 3 at t=7 (no switch).
       Held 5/6. Track 3 outlives B at t=9 (a false track: no effect).
    C (t 0–5): track 4 at t=0–2, then track 5 at t=3–5 without a gap: one switch, no break. At t=0
       a second confirmed track 6 sits 40 m away (track 4 is 10 m away): the assignment gives C
       to track 4. Held 6/6.
    D (t 0–3): never tracked.
    """
    truth, tracks = [], []
    base = {"A": (6.4e6, 0, 0), "B": (6.4e6, 1e6, 0), "C": (6.0e6, 0, 2e6), "D": (0, 6.4e6, 0)}

    def pos(target: str, t: float) -> np.ndarray:
        return np.array(base[target]) + np.array([0.0, 0.0, 200.0 * t])  # 200 m/s climbing

    for name, (t0, t1) in {"A": (0, 9), "B": (3, 8), "C": (0, 5), "D": (0, 3)}.items():
        for t in range(t0, t1 + 1):
            truth.append((float(t), name, *pos(name, t)))

    def track(tid: int, name: str, t: int, off_m: float = 10.0, status: str = "confirmed") -> None:
        tracks.append((float(t), tid, *(pos(name, t) + np.array([off_m, 0.0, 0.0])), status))

    track(9, "A", 1, status="tentative")
    for t in (2, 3, 4):
        track(1, "A", t)
    for t in (7, 8, 9):
        track(2, "A", t)
    for t in range(3, 10):
        track(3, "B", t, off_m=5000.0 if t == 6 else 10.0)
    for t in (0, 1, 2):
        track(4, "C", t)
    track(6, "C", 0, off_m=-40.0)
    for t in (3, 4, 5):
        track(5, "C", t)

    detections = pd.DataFrame({"time_s": [2.0, 1.0, 3.0, 1.5], "target_id": ["A", "A", "B", "A"]})
    return (
        pd.DataFrame(truth, columns=["time_s", "target_id", "x_m", "y_m", "z_m"]),
        pd.DataFrame(tracks, columns=["time_s", "track_id", "x_m", "y_m", "z_m", "status"]),
        detections,
    )


def test_custody_counts_breaks_and_switches_exactly() -> None:
    truth, tracks, detections = _custody_scenario()
    out = custody(truth, tracks, gate_m=100.0, detections=detections)
    assert list(out.columns) == list(CUSTODY_COLUMNS)
    assert list(out.index) == ["A", "B", "C", "D"]
    expected = pd.DataFrame(
        {
            "first_time_s": [0.0, 3.0, 0.0, 0.0],
            "last_time_s": [9.0, 8.0, 5.0, 3.0],
            "first_detection_time_s": [1.0, 3.0, np.nan, np.nan],
            "first_confirmed_time_s": [2.0, 3.0, 0.0, np.nan],
            "held_fraction": [0.6, 5 / 6, 1.0, 0.0],
            "n_breaks": [1, 1, 0, 0],
            "n_id_switches": [1, 0, 1, 0],
            "n_tracks": [2, 1, 2, 0],
        },
        index=pd.Index(["A", "B", "C", "D"], name="target_id"),
    )
    pd.testing.assert_frame_equal(out, expected)


def test_assignment_prefers_the_nearer_track_and_ignores_tentative() -> None:
    truth, tracks, _ = _custody_scenario()
    a = assign_tracks_to_truth(truth, tracks, gate_m=100.0)
    c0 = a[(a["target_id"] == "C") & (a["time_s"] == 0.0)].iloc[0]
    assert c0["held"] and c0["track_id"] == 4 and c0["distance_m"] == pytest.approx(10.0)
    a1 = a[(a["target_id"] == "A") & (a["time_s"] == 1.0)].iloc[0]
    assert not a1["held"] and a1["track_id"] is None and np.isnan(a1["distance_m"])
    assert a.index.equals(truth.index)
