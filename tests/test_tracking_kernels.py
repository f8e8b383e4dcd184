"""The Numba kernels (`kizuna.tracking.kernels`) against their NumPy reference paths.

Each test runs the public function twice, with ``kernels.ENABLED`` off (the NumPy reference) and on
(the kernel), on seeded random inputs, and asks for the same answer: floats to 1e-12 relative (the
kernels use closed-form 3 × 3 inverses where NumPy uses LU, so the last few bits differ; 1e-12 of a
50 m position sigma is 5e-11 m), integer and graph outputs exactly. The whole tracking suite also
passes with ``KIZUNA_NUMBA=0`` (reference) and without (kernels).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch
from kizuna.tracking import kernels
from kizuna.tracking.association import _max_eig, chi2_gate, clusters, coarse_candidates, gnn
from kizuna.tracking.filters import ekf_update, predict, update_detections
from kizuna.tracking.initiation import pair_by_speed
from kizuna.tracking.lifecycle import (
    LifecycleParameters,
    TrackTable,
    largest_eigenvalue_3x3,
    position_sigma_max_m,
)
from kizuna.tracking.models import ConstantVelocity
from kizuna.tracking.tracker import Tracker

RTOL = 1e-12
_POS = MEASUREMENT_KINDS.index("position")
_CENTRE_M = np.array([6.4e6, 0.0, 0.0])  # a point on the equator, ECEF


def both(monkeypatch: pytest.MonkeyPatch, fn: Callable[[], Any]) -> tuple[Any, Any]:
    """fn() with the kernels off (reference), then on."""
    monkeypatch.setattr(kernels, "ENABLED", False)
    ref = fn()
    monkeypatch.setattr(kernels, "ENABLED", True)
    return ref, fn()


def spd(rng: np.random.Generator, n: int, dim: int, scale: float) -> np.ndarray:
    a = rng.normal(0.0, scale, (n, dim, dim))
    return a @ np.swapaxes(a, 1, 2) + np.eye(dim) * scale**2 * 0.1


def position_batch(rng: np.random.Generator, pos_m: np.ndarray, sigma_m: float = 50.0) -> DetectionBatch:
    m = len(pos_m)
    z = np.full((m, Z_MAX), np.nan)
    z[:, :3] = pos_m
    cov = np.full((m, Z_MAX, Z_MAX), np.nan)
    cov[:, :3, :3] = spd(rng, m, 3, sigma_m)
    return DetectionBatch(
        detection_id=np.arange(m), time_s=np.zeros(m), sensor_id=np.full(m, "s", dtype=object),
        kind=np.full(m, _POS, np.int8), z=z, cov=cov, sensor_pos_m=np.tile([6.4e6, 0.0, 0.0], (m, 1)),
        sensor_vel_m_per_s=np.zeros((m, 3)),
    )  # fmt: skip


def tracks(rng: np.random.Generator, n: int, n_state: int = 6) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros((n, n_state))
    x[:, :3] = rng.uniform(-20e3, 20e3, (n, 3)) + _CENTRE_M
    x[:, 3:6] = rng.normal(0.0, 200.0, (n, 3))
    return x, spd(rng, n, n_state, 80.0)


@pytest.mark.parametrize(("value", "enabled"), [("0", False), ("1", True)])
def test_switch_reads_the_environment(value: str, enabled: bool) -> None:
    code = "from kizuna.tracking import kernels; print(kernels.ENABLED)"
    env = {**os.environ, "KIZUNA_NUMBA": value}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(enabled)


def test_cv_predict(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    x, p = tracks(rng, 40)
    dt = rng.uniform(0.0, 30.0, 40)
    dt[0] = 0.0
    model = ConstantVelocity(q_m2_per_s3=7.0)
    (xr, pr), (xk, pk) = both(monkeypatch, lambda: predict(model, x, p, dt))
    np.testing.assert_allclose(xk, xr, rtol=RTOL)
    np.testing.assert_allclose(pk, pr, rtol=RTOL, atol=RTOL * np.abs(pr).max())
    np.testing.assert_array_equal(pk, np.swapaxes(pk, 1, 2))


def test_cv_predict_non_finite_rows_take_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    x, p = tracks(rng, 5)
    p[2, 4, 4] = np.nan
    model = ConstantVelocity(q_m2_per_s3=1.0)
    (xr, pr), (xk, pk) = both(monkeypatch, lambda: predict(model, x, p, np.ones(5)))
    np.testing.assert_array_equal(np.isnan(pk), np.isnan(pr))
    np.testing.assert_allclose(xk, xr, rtol=RTOL)


@pytest.mark.parametrize("n_state", [6, 9])
def test_position_update(monkeypatch: pytest.MonkeyPatch, n_state: int) -> None:
    rng = np.random.default_rng(3)
    x, p = tracks(rng, 30, n_state)
    det = position_batch(rng, x[:, :3] + rng.normal(0.0, 100.0, (30, 3)))
    args = (x, p, "position", det.z, det.cov, det.sensor_pos_m, det.sensor_vel_m_per_s)
    ref, got = both(monkeypatch, lambda: ekf_update(*args))
    for name in ref._fields:
        r, g = getattr(ref, name), getattr(got, name)
        np.testing.assert_allclose(g, r, rtol=RTOL, atol=RTOL * np.abs(r).max(), err_msg=name)
    (xr, pr, nr), (xk, pk, nk) = both(
        monkeypatch, lambda: update_detections(x, p, det.kind, det.z, det.cov, det.sensor_pos_m,
                                               det.sensor_vel_m_per_s)
    )  # fmt: skip
    np.testing.assert_allclose(xk, xr, rtol=RTOL)
    np.testing.assert_allclose(pk, pr, rtol=RTOL, atol=RTOL * np.abs(pr).max())
    np.testing.assert_allclose(nk, nr, rtol=1e-10)


def test_position_update_singular_s_raises_like_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    x, p = np.zeros((1, 6)), np.zeros((1, 6, 6))
    z, cov = np.zeros((1, Z_MAX)), np.zeros((1, Z_MAX, Z_MAX))
    for enabled in (False, True):
        monkeypatch.setattr(kernels, "ENABLED", enabled)
        with pytest.raises(np.linalg.LinAlgError):
            ekf_update(x, p, "position", z, cov, np.zeros((1, 3)), np.zeros((1, 3)))


def test_position_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    x, p = tracks(rng, 20)
    det = position_batch(rng, x[rng.integers(0, 20, 25), :3] + rng.normal(0.0, 300.0, (25, 3)))
    p[3, 5, 5] = np.nan  # a bad velocity entry poisons S, as in the dense reference
    x[4, 0] = np.inf
    det.cov[7, :3, :3] = -np.eye(3)  # not positive definite
    det.z[8, 1] = np.nan
    ti, dj = np.meshgrid(np.arange(20), np.arange(25), indexing="ij")
    ti, dj = ti.ravel().astype(np.intp), dj.ravel().astype(np.intp)
    (dr, lr), (dk, lk) = both(monkeypatch, lambda: chi2_gate(x, p, det, ti, dj))
    np.testing.assert_array_equal(np.isnan(dk), np.isnan(dr))
    np.testing.assert_array_equal(np.isnan(lk), np.isnan(lr))
    assert np.isnan(dr).any() and np.isfinite(dr).any()
    np.testing.assert_allclose(dk, dr, rtol=1e-10)
    np.testing.assert_allclose(lk, lr, rtol=RTOL, atol=1e-12)


def test_component_labels_equal_scipy() -> None:
    rng = np.random.default_rng(5)
    for n_t, n_d, k in [(1, 1, 1), (30, 40, 25), (200, 150, 300), (50, 50, 0)]:
        ti = rng.integers(0, n_t, k)
        dj = rng.integers(0, n_d, k)
        n = n_t + n_d
        graph = coo_matrix((np.ones(k), (ti, n_t + dj)), shape=(n, n))
        _, ref = connected_components(graph, directed=False)
        got = kernels.component_labels(n, ti.astype(np.int64), (n_t + dj).astype(np.int64))
        np.testing.assert_array_equal(got, ref)


def test_clusters(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(6)
    ti, dj = rng.integers(0, 60, 80).astype(np.intp), rng.integers(0, 70, 80).astype(np.intp)
    ref, got = both(monkeypatch, lambda: clusters(60, 70, ti, dj))
    np.testing.assert_array_equal(got, ref)


def test_max_eig(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    c = spd(rng, 50, 3, 40.0)
    c[:5] = np.eye(3) * 9.0  # repeated eigenvalue: p = 0
    c[7, 1, 2] = np.nan
    (lr, okr), (lk, okk) = both(monkeypatch, lambda: _max_eig(c))
    np.testing.assert_array_equal(okk, okr)
    np.testing.assert_allclose(lk, lr, rtol=RTOL)
    p = spd(rng, 50, 6, 40.0)
    sr, sk = both(monkeypatch, lambda: position_sigma_max_m(p))
    np.testing.assert_allclose(sk, sr, rtol=RTOL)
    np.testing.assert_allclose(sk**2, largest_eigenvalue_3x3(p[:, :3, :3]), rtol=RTOL)


@pytest.mark.parametrize("max_pairs", [kernels.BRUTE_FORCE_MAX_PAIRS, 0])  # brute force, then sweep
def test_coarse_candidates_same_pairs(monkeypatch: pytest.MonkeyPatch, max_pairs: int) -> None:
    monkeypatch.setattr(kernels, "BRUTE_FORCE_MAX_PAIRS", max_pairs)
    rng = np.random.default_rng(8)
    x, p = tracks(rng, 120)
    p[:40, :3, :3] *= 100.0  # several uncertainty buckets
    x[5, 1] = np.nan
    det = position_batch(rng, x[rng.integers(0, 120, 150), :3] + rng.normal(0.0, 400.0, (150, 3)), 200.0)
    (tr, dr), (tk, dk) = both(monkeypatch, lambda: coarse_candidates(x, p, det))
    assert len(tr) > 100
    ref = sorted(zip(tr.tolist(), dr.tolist(), strict=True))
    assert sorted(zip(tk.tolist(), dk.tolist(), strict=True)) == ref
    for t in np.unique(tr):  # each track's pairs keep the detection order (update rounds rely on it)
        np.testing.assert_array_equal(dk[tk == t], dr[tr == t])


def test_gnn_same_assignment(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    x, p = tracks(rng, 80)
    det = position_batch(rng, x[rng.integers(0, 80, 90), :3] + rng.normal(0.0, 150.0, (90, 3)))
    ref, got = both(monkeypatch, lambda: gnn(x, p, det))
    order_r, order_k = np.argsort(ref.track_index), np.argsort(got.track_index)
    np.testing.assert_array_equal(got.track_index[order_k], ref.track_index[order_r])
    np.testing.assert_array_equal(got.detection_index[order_k], ref.detection_index[order_r])
    np.testing.assert_array_equal(got.unassigned_detections, ref.unassigned_detections)
    assert got.n_clusters == ref.n_clusters


def test_pair_by_speed_same_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(10)
    p1 = rng.uniform(-50e3, 50e3, (100, 3))
    p2 = p1[rng.permutation(100)[:80]] + rng.normal(0.0, 400.0, (80, 3))
    p1[3] = np.nan
    ref, got = both(monkeypatch, lambda: pair_by_speed(p1, 0.0, p2, 1.0, max_speed_m_per_s=3000.0))
    np.testing.assert_array_equal(got.first, ref.first)
    np.testing.assert_array_equal(got.second, ref.second)
    assert got.n_candidates == ref.n_candidates


@pytest.mark.parametrize("params", [LifecycleParameters(), LifecycleParameters(4, 5, 5),
                                    LifecycleParameters(3, 16, 2, max_position_sigma_m=150.0)])  # fmt: skip
def test_record_looks(monkeypatch: pytest.MonkeyPatch, params: LifecycleParameters) -> None:
    rng = np.random.default_rng(12)
    table = TrackTable.empty()
    n = 400
    x, p = tracks(rng, n)
    hits, n_looks = rng.integers(0, 1 << 16, n), rng.integers(1, 20, n)
    table.add(x, p, rng.uniform(0.0, 100.0, n), hits=hits, n_looks=n_looks)
    table.status = rng.integers(0, 4, n).astype(np.int8)
    table.misses = rng.integers(0, 6, n).astype(np.int32)
    looked, hit = rng.random(n) < 0.8, rng.random(n) < 0.6

    def run() -> tuple[TrackTable, object]:
        t = table.copy()
        return t, t.record_looks(looked, hit, 120.0, params)

    (tr, rr), (tk, rk) = both(monkeypatch, run)
    for name in TrackTable._COLUMNS:
        got, ref = getattr(tk, name), getattr(tr, name)
        assert got.dtype == ref.dtype, name
        np.testing.assert_array_equal(got, ref, err_msg=name)
    np.testing.assert_array_equal(rk.confirmed, rr.confirmed)
    np.testing.assert_array_equal(rk.deleted, rr.deleted)
    assert rr.confirmed.any() and rr.deleted.any()


def test_tracker_same_tracks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 30-target, 12-frame run gives the same track ids, statuses and states on both paths."""
    rng = np.random.default_rng(11)
    p0 = rng.uniform(-30e3, 30e3, (30, 3)) + _CENTRE_M
    v = rng.normal(0.0, 150.0, (30, 3))
    frames = []
    for k in range(12):
        keep = rng.random(30) < 0.9
        pos = np.vstack([(p0 + v * k)[keep] + rng.normal(0.0, 50.0, (keep.sum(), 3)),
                         rng.uniform(-40e3, 40e3, (3, 3)) + _CENTRE_M])  # fmt: skip
        det = position_batch(rng, pos)
        frames.append(DetectionBatch(**{**det.__dict__, "time_s": np.full(len(pos), float(k))}))

    def run() -> dict[str, np.ndarray]:
        tr = Tracker(model=ConstantVelocity(q_m2_per_s3=1.0))
        for f in frames:
            tr.step(f)
        return tr.tracks()

    ref, got = both(monkeypatch, run)
    np.testing.assert_array_equal(got["track_id"], ref["track_id"])
    np.testing.assert_array_equal(got["status"], ref["status"])
    assert (ref["status"] == "confirmed").sum() >= 25
    np.testing.assert_allclose(got["P"], ref["P"], rtol=1e-9, atol=1e-9)
    for name in ("x_m", "vx_m_per_s"):
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-12, atol=1e-7)
