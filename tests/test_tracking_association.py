"""Gating, clustering, GNN and JPDA of `kizuna.tracking.association`, against independent values.

References: hand-worked assignments for the crafted cases; a brute-force enumeration of every
partial matching (the global optimum by definition) for GNN; an all-pairs χ² computation for the
coarse gate; and the closed-form PDA of Bar-Shalom, Daum & Huang, "The probabilistic data
association filter", IEEE Control Systems Magazine 29(6), 2009, eqs. (39)–(46), written out here
with explicit matrix inverses (not the module's solve/slogdet path). Every random draw is seeded.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from kizuna import frames
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch
from kizuna.sensors.oth import oth_measurement
from kizuna.tracking import association as asc

KIND = {k: i for i, k in enumerate(MEASUREMENT_KINDS)}
GAMMA3 = chi2.ppf(0.9999, 3)  # ≈ 21.1: the 3-D gate at P_G = 0.9999


def batch(rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> DetectionBatch:
    """Detections from (kind, z, cov, sensor_pos_m) rows; sensor velocity zero."""
    m = len(rows)
    z = np.full((m, Z_MAX), np.nan)
    cov = np.full((m, Z_MAX, Z_MAX), np.nan)
    for i, (_, zi, ci, _) in enumerate(rows):
        k = len(zi)
        z[i, :k], cov[i, :k, :k] = zi, ci
    return DetectionBatch(
        detection_id=np.arange(m, dtype=np.int64),
        time_s=np.zeros(m),
        sensor_id=np.array(["s"] * m, dtype=object),
        kind=np.array([KIND[r[0]] for r in rows], dtype=np.int8),
        z=z,
        cov=cov,
        sensor_pos_m=np.array([r[3] for r in rows], dtype=np.float64).reshape(m, 3),
        sensor_vel_m_per_s=np.zeros((m, 3)),
    )


def position_batch(z: np.ndarray, sigma_m: float) -> DetectionBatch:
    r = sigma_m**2 * np.eye(3)
    return batch([("position", zi, r, np.zeros(3)) for zi in z])


def tracks(pos: np.ndarray, sigma_m: float) -> tuple[np.ndarray, np.ndarray]:
    n = len(pos)
    x = np.zeros((n, 6))
    x[:, :3] = pos
    p = np.tile(np.diag([sigma_m**2] * 3 + [100.0**2] * 3), (n, 1, 1))
    return x, p


ORIGIN = frames.geodetic_to_ecef(np.radians(35.0), np.radians(139.0), 10_000.0)
ROT = frames.enu_rotation(np.radians(35.0), np.radians(139.0))


def local(enu_m: np.ndarray) -> np.ndarray:
    """ECEF points at ENU offsets (m) from ORIGIN (Tokyo area, 10 km up)."""
    return ORIGIN + np.atleast_2d(enu_m) @ ROT


def pairs(a: asc.Assignment) -> set[tuple[int, int]]:
    return set(zip(a.track_index.tolist(), a.detection_index.tolist(), strict=True))


# --- Crafted cases -------------------------------------------------------------------------------


def test_crossing_targets_take_the_global_not_the_greedy_pairing() -> None:
    # Two tracks crossing, predicted 100 m apart at the crossing point, σ 100 m; detections (σ 30 m)
    # at 55 m and 190 m east of track 0. Greedy nearest-first takes (1, d0) at 45 m, leaving (0, d1) at
    # 190 m: Σd² ∝ 45² + 190² = 38,125 m²; the global pairing (0, d0), (1, d1) costs 55² + 90² = 11,125.
    x, p = tracks(local(np.array([[0.0, 0, 0], [100.0, 0, 0]])), 100.0)
    det = position_batch(local(np.array([[55.0, 0, 0], [190.0, 0, 0]])), 30.0)
    a = asc.gnn(x, p, det)
    assert pairs(a) == {(0, 0), (1, 1)}
    assert a.unassigned_tracks.size == 0 and a.unassigned_detections.size == 0


def test_missed_detection_leaves_track_unassigned() -> None:
    x, p = tracks(local(np.array([[0.0, 0, 0], [5_000.0, 0, 0]])), 100.0)
    det = position_batch(local(np.array([[5_020.0, 10.0, 0]])), 30.0)
    a = asc.gnn(x, p, det)
    assert pairs(a) == {(1, 0)}
    assert a.unassigned_tracks.tolist() == [0]
    assert a.unassigned_detections.size == 0


def test_false_alarm_inside_gate_loses_to_true_detection() -> None:
    # S = (100² + 30²) I: the true detection at 50 m has d² = 0.23, the false alarm at 300 m
    # d² = 8.3 < γ₃ = 21.1 (inside the gate); one track, so the closer one wins and the other is left.
    x, p = tracks(local(np.zeros(3)), 100.0)
    det = position_batch(local(np.array([[0.0, 300.0, 0], [50.0, 0, 0]])), 30.0)
    g = asc.gate(x, p, det)
    assert len(g.d2) == 2 and np.all(g.d2 < GAMMA3)
    np.testing.assert_allclose(np.sort(g.d2), [50.0**2 / 10_900, 300.0**2 / 10_900], rtol=1e-9)
    a = asc.gnn(x, p, det)
    assert pairs(a) == {(0, 1)}
    assert a.unassigned_detections.tolist() == [0]


def test_detection_outside_every_gate_stays_unassigned() -> None:
    # 10 km from the only track with σ ≈ 104 m: d² ≈ 9,200 ≫ γ; it is not even a χ² candidate.
    x, p = tracks(local(np.zeros(3)), 100.0)
    det = position_batch(local(np.array([[10_000.0, 0, 0]])), 30.0)
    a = asc.gnn(x, p, det)
    assert a.track_index.size == 0
    assert a.unassigned_detections.tolist() == [0] and a.unassigned_tracks.tolist() == [0]
    assert a.n_chi2_evaluations == 0


def test_radar_angles_across_north() -> None:
    # A radar at 35° N 139° E; two targets 100 km away at azimuths 359.95° and 0.05° (either side of
    # north, 175 m apart). Measured azimuths are reported in [0, 2π), so the innovation of the pair
    # must wrap: unwrapped it would be ≈ 2π rad, i.e. d² ≈ 10¹⁰ and no association at all.
    lat, lon, alt = np.radians(35.0), np.radians(139.0), 50.0
    site = frames.geodetic_to_ecef(lat, lon, alt)
    az = np.radians([359.95, 0.05])
    el = np.radians([3.0, 3.0])
    truth = frames.aer_to_ecef(az, el, np.array([100e3, 100e3]), lat, lon, alt)
    x, p = tracks(truth + np.array([[20.0, -10.0, 5.0], [-15.0, 10.0, 0.0]]), 60.0)
    r = np.diag([30.0**2, np.radians(0.02) ** 2, np.radians(0.02) ** 2, 5.0**2])
    # Detections listed in the opposite order, with a small azimuth error of each sign.
    rows = [
        ("radar", np.array([100e3 + 10.0, (az[1] + np.radians(0.01)) % (2 * np.pi), el[1], 0.0]), r, site),
        ("radar", np.array([100e3 - 10.0, az[0] - np.radians(0.01), el[0], 0.0]), r, site),
    ]
    det = batch(rows)
    a = asc.gnn(x, p, det)
    assert pairs(a) == {(0, 1), (1, 0)}
    assert np.all(asc.gate(x, p, det).d2 < chi2.ppf(0.9999, 4))


# --- GNN against brute force ---------------------------------------------------------------------


def brute_force_min(cost: dict[tuple[int, int], float], n_tracks: int, n_dets: int) -> float:
    """Minimum over every partial matching (each track to ≤ 1 detection and back) of Σ reduced cost."""
    best = 0.0
    options = [[None] + [j for j in range(n_dets) if (i, j) in cost] for i in range(n_tracks)]
    for choice in itertools.product(*options):
        used = [j for j in choice if j is not None]
        if len(used) != len(set(used)):
            continue
        best = min(best, sum(cost[(i, j)] for i, j in enumerate(choice) if j is not None))
    return best


@pytest.mark.parametrize("cost_kind", ["mahalanobis", "likelihood"])
@pytest.mark.parametrize("seed", range(6))
def test_gnn_equals_brute_force_optimum(seed: int, cost_kind: str) -> None:
    rng = np.random.default_rng(seed)
    n_t, n_d = 5, 6
    sig_t = rng.uniform(50.0, 200.0, n_t)
    x, p = tracks(local(rng.uniform(-250.0, 250.0, (n_t, 3))), 1.0)
    p[:, :3, :3] = sig_t[:, None, None] ** 2 * np.eye(3)
    sig_d = rng.uniform(20.0, 80.0, n_d)
    z = local(rng.uniform(-300.0, 300.0, (n_d, 3)))
    det = batch([("position", z[j], sig_d[j] ** 2 * np.eye(3), np.zeros(3)) for j in range(n_d)])
    params = asc.AssociationParameters(cost=cost_kind, detection_probability=0.9, clutter_density=1e-8)
    # Independent costs: S = P + R with explicit inverses and determinants.
    cost: dict[tuple[int, int], float] = {}
    for i in range(n_t):
        for j in range(n_d):
            s = p[i, :3, :3] + sig_d[j] ** 2 * np.eye(3)
            nu = z[j] - x[i, :3]
            d2 = float(nu @ np.linalg.inv(s) @ nu)
            if d2 > GAMMA3:
                continue
            if cost_kind == "mahalanobis":
                cost[(i, j)] = d2 - GAMMA3
            else:
                cost[(i, j)] = d2 + np.log(np.linalg.det(2 * np.pi * s)) + 2 * np.log(1e-8 * 0.1 / 0.9)
    assert len(cost) >= 8  # a real contest, not a trivial case
    a = asc.gnn(x, p, det, params)
    got = sum(cost[(i, j)] for i, j in pairs(a))
    assert got == pytest.approx(brute_force_min(cost, n_t, n_d), abs=1e-9)
    np.testing.assert_allclose(np.sort(a.cost), np.sort([cost[q] for q in pairs(a)]), atol=1e-9)


# --- Coarse gate: a superset of the χ² gate ------------------------------------------------------


def mixed_scene(seed: int) -> tuple[np.ndarray, np.ndarray, DetectionBatch]:
    """Tracks over a 300 km area with σ from 30 m to 3 km, and detections of all four kinds, many near
    the gate edge: each detection is made from a track's position plus an offset of 0–8 σ."""
    rng = np.random.default_rng(seed)
    lat0, lon0 = np.radians(rng.uniform(-60, 60)), np.radians(rng.uniform(-180, 180))
    n_t = 40
    lat = lat0 + rng.uniform(-1.5, 1.5, n_t) * 1e-2 * 3
    lon = lon0 + rng.uniform(-1.5, 1.5, n_t) * 1e-2 * 3
    pos = frames.geodetic_to_ecef(lat, lon, rng.uniform(1e3, 30e3, n_t))
    x = np.zeros((n_t, 6))
    x[:, :3] = pos
    x[:, 3:] = rng.normal(0, 200.0, (n_t, 3))
    a = rng.normal(size=(n_t, 6, 6))
    sig = np.exp(rng.uniform(np.log(30.0), np.log(3e3), n_t))
    scale = np.concatenate([np.repeat(sig[:, None], 3, 1), np.full((n_t, 3), 50.0)], axis=1)
    p = (a @ np.swapaxes(a, 1, 2) / 6 + 0.2 * np.eye(6)) * scale[:, :, None] * scale[:, None, :]
    src = rng.integers(0, n_t, 60)
    target = pos[src] + rng.normal(size=(60, 3)) * rng.uniform(0, 8, (60, 1)) * sig[src, None] / np.sqrt(3)
    radar_site = frames.geodetic_to_ecef(lat0 + 0.01, lon0 - 0.012, 30.0)
    rlat, rlon, ralt = frames.ecef_to_geodetic(radar_site)
    oth_lat, oth_lon = lat0 - np.radians(15.0), lon0 + np.radians(3.0)
    oth_site = frames.geodetic_to_ecef(oth_lat, oth_lon, 0.0)
    sat = frames.geodetic_to_ecef(lat0 + np.radians(8.0), lon0 + np.radians(5.0), 800e3)
    rows = []
    for j, t in enumerate(target):
        kind = MEASUREMENT_KINDS[j % 4]
        if kind == "position":
            c = np.diag(rng.uniform(20.0, 500.0, 3) ** 2)
            rows.append(("position", t, c, np.zeros(3)))
        elif kind == "radar":
            az, el, rg = frames.ecef_to_aer(t, rlat, rlon, ralt)
            c = np.diag(
                [
                    rng.uniform(20, 200) ** 2,
                    np.radians(rng.uniform(0.05, 1.0)) ** 2,
                    np.radians(rng.uniform(0.05, 1.0)) ** 2,
                    10.0**2,
                ]
            )
            rows.append(("radar", np.array([rg, az, el, rng.normal(0, 50.0)]), c, radar_site))
        elif kind == "oth":
            g, az, rr = oth_measurement(oth_lat, oth_lon, t, x[src[j], 3:6])
            c = np.diag([rng.uniform(1e3, 5e3) ** 2, np.radians(rng.uniform(0.1, 0.5)) ** 2, 20.0**2])
            rows.append(("oth", np.array([g[0], az[0], rr[0] + rng.normal(0, 20.0)]), c, oth_site))
        else:
            u = (t - sat) / np.linalg.norm(t - sat)
            s2 = rng.uniform(20e-6, 500e-6) ** 2
            rows.append(("los", u, s2 * (np.eye(3) - np.outer(u, u)), sat))
    return x, p, batch(rows)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_coarse_gate_never_drops_a_chi2_pair(seed: int) -> None:
    x, p, det = mixed_scene(seed)
    n, m = len(x), len(det)
    ti_all, dj_all = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    d2, _ = asc.chi2_gate(x, p, det, ti_all, dj_all)
    gammas = np.array([asc.gate_threshold(k, 0.9999) for k in MEASUREMENT_KINDS])
    inside = np.isfinite(d2) & (d2 <= gammas[det.kind[dj_all]])
    want = set(zip(ti_all[inside].tolist(), dj_all[inside].tolist(), strict=True))
    ti, dj = asc.coarse_candidates(x, p, det)
    got = set(zip(ti.tolist(), dj.tolist(), strict=True))
    assert want <= got, f"dropped {sorted(want - got)[:5]}"
    assert len(got) < n * m  # and it does prune
    g = asc.gate(x, p, det)
    assert set(zip(g.track_index.tolist(), g.detection_index.tolist(), strict=True)) == want


def test_coarse_gate_scene_is_not_trivial() -> None:
    # The property above is only worth something if every kind has gated pairs and near misses.
    x, p, det = mixed_scene(7)
    g = asc.gate(x, p, det)
    kinds = set(det.kind[g.detection_index].tolist())
    assert kinds == {0, 1, 2, 3}
    assert g.n_chi2_evaluations > len(g.d2)


# --- Scaling: χ² evaluations grow as N, not N × M ------------------------------------------------


def test_chi2_evaluations_are_linear_not_quadratic() -> None:
    rng = np.random.default_rng(11)
    n = 2_000
    lat = np.arcsin(rng.uniform(-1, 1, n))
    lon = rng.uniform(-np.pi, np.pi, n)
    pos = frames.geodetic_to_ecef(lat, lon, rng.uniform(0.0, 15e3, n))
    sig = rng.uniform(100.0, 1_000.0, n)
    x = np.zeros((n, 6))
    x[:, :3] = pos
    p = np.tile(np.eye(6), (n, 1, 1)) * 100.0**2
    p[:, :3, :3] = sig[:, None, None] ** 2 * np.eye(3)
    perm = rng.permutation(n)
    z = pos[perm] + rng.normal(0, 1, (n, 3)) * sig[perm, None]
    det = batch([("position", zi, 200.0**2 * np.eye(3), np.zeros(3)) for zi in z])
    a = asc.gnn(x, p, det)
    assert a.n_chi2_evaluations <= 2 * n  # ≈ n here (1 per detection); all pairs would be 4,000,000
    assert np.array_equal(perm[a.detection_index], a.track_index)
    assert len(a.track_index) >= 0.999 * n  # P_G = 0.9999 per pair


# --- JPDA ----------------------------------------------------------------------------------------


def pda_closed_form(
    x: np.ndarray, p: np.ndarray, z: np.ndarray, r: np.ndarray, pd: float, pg: float, lam: float
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """PDA for one track, position measurements (Bar-Shalom, Daum & Huang 2009, eqs. 39–46)."""
    s = p[:3, :3] + r
    s_inv = np.linalg.inv(s)
    nu = z - x[:3]
    g = np.exp(-0.5 * np.einsum("ji,ik,jk->j", nu, s_inv, nu)) / np.sqrt(np.linalg.det(2 * np.pi * s))
    ell = g * pd / lam  # L_i = N(z_i; ẑ, S) P_D / λ
    den = 1.0 - pd * pg + ell.sum()
    beta, beta0 = ell / den, (1.0 - pd * pg) / den
    h = np.zeros((3, 6))
    h[:, :3] = np.eye(3)
    k = p @ h.T @ s_inv
    nu_bar = beta @ nu
    x_post = x + k @ nu_bar
    p_c = p - k @ s @ k.T
    spread = k @ (np.einsum("j,ji,jk->ik", beta, nu, nu) - np.outer(nu_bar, nu_bar)) @ k.T
    return beta, beta0, x_post, beta0 * p + (1 - beta0) * p_c + spread


def test_jpda_one_track_equals_closed_form_pda() -> None:
    x, p = tracks(local(np.zeros(3)), 100.0)
    p[0, :3, 3:] = p[0, 3:, :3] = 0.3 * 100.0 * 100.0 * np.eye(3)  # position-velocity correlation
    zs = local(np.array([[40.0, -20.0, 10.0], [-150.0, 90.0, 30.0]]))
    r = 30.0**2 * np.eye(3)
    det = position_batch(zs, 30.0)
    pd, lam = 0.85, 2e-8
    params = asc.AssociationParameters(detection_probability=pd, clutter_density=lam)
    res = asc.jpda(x, p, det, params)
    beta, beta0, x_ref, p_ref = pda_closed_form(x[0], p[0], zs, r, pd, 0.9999, lam)
    order = np.argsort(res.detection_index)
    np.testing.assert_allclose(res.beta[order], beta, rtol=0, atol=1e-9)
    assert res.beta_missed[0] == pytest.approx(beta0, abs=1e-9)
    assert res.beta.sum() + res.beta_missed[0] == pytest.approx(1.0, abs=1e-12)
    assert beta.min() > 0.05 and beta0 > 1e-3  # every term matters
    x_post, p_post = asc.pda_update(x, p, det, res)
    np.testing.assert_allclose(x_post[0], x_ref, atol=1e-6)  # metres, m/s
    np.testing.assert_allclose(p_post[0], p_ref, rtol=1e-9, atol=1e-6)


def test_jpda_two_tracks_shared_detection() -> None:
    # Two tracks 150 m apart and three detections between and around them: one cluster. Against an
    # independent enumeration of the joint events (Fortmann et al. 1983), with explicit inverses.
    x, p = tracks(local(np.array([[0.0, 0, 0], [150.0, 0, 0]])), 100.0)
    zs = local(np.array([[70.0, 10.0, 0], [-30.0, 0, 20.0], [200.0, -40.0, 0]]))
    det = position_batch(zs, 30.0)
    pd, pg, lam = 0.9, 0.9999, 1e-8
    res = asc.jpda(x, p, det, asc.AssociationParameters(detection_probability=pd, clutter_density=lam))
    s = p[0, :3, :3] + 30.0**2 * np.eye(3)
    s_inv, norm = np.linalg.inv(s), np.sqrt(np.linalg.det(2 * np.pi * s))
    ell = np.zeros((2, 3))
    for i, j in itertools.product(range(2), range(3)):
        nu = zs[j] - x[i, :3]
        ell[i, j] = pd / lam * np.exp(-0.5 * nu @ s_inv @ nu) / norm
    weights: dict[tuple[int | None, int | None], float] = {}
    for a, b in itertools.product([None, 0, 1, 2], repeat=2):
        if a is not None and a == b:
            continue
        wa = (1 - pd * pg) if a is None else ell[0, a]
        wb = (1 - pd * pg) if b is None else ell[1, b]
        weights[(a, b)] = wa * wb
    total = sum(weights.values())
    for i, j, b in zip(res.track_index, res.detection_index, res.beta, strict=True):
        want = sum(w for e, w in weights.items() if e[i] == j) / total
        assert b == pytest.approx(want, abs=1e-9)
    for i in range(2):
        assert res.beta_missed[i] == pytest.approx(sum(w for e, w in weights.items() if e[i] is None) / total)
        assert res.beta[res.track_index == i].sum() + res.beta_missed[i] == pytest.approx(1.0, abs=1e-12)
    assert res.exact.all()


def test_jpda_falls_back_to_gnn_beyond_the_event_cap() -> None:
    x, p = tracks(local(np.array([[0.0, 0, 0], [150.0, 0, 0]])), 100.0)
    det = position_batch(local(np.array([[10.0, 0, 0], [140.0, 0, 0]])), 30.0)
    res = asc.jpda(x, p, det, asc.AssociationParameters(jpda_max_events=3))
    assert not res.exact.any()
    got = {(i, j) for i, j, b in zip(res.track_index, res.detection_index, res.beta, strict=True) if b == 1.0}
    assert got == {(0, 0), (1, 1)}
    np.testing.assert_array_equal(res.beta_missed, [0.0, 0.0])


def test_empty_inputs() -> None:
    x, p = tracks(np.zeros((0, 3)), 1.0)
    det = position_batch(local(np.zeros(3)), 30.0)
    a = asc.gnn(x, p, det)
    assert a.track_index.size == 0 and a.unassigned_detections.tolist() == [0]
    x1, p1 = tracks(local(np.zeros(3)), 100.0)
    a = asc.gnn(x1, p1, DetectionBatch.empty())
    assert a.unassigned_tracks.tolist() == [0] and a.n_chi2_evaluations == 0
