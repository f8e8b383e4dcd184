"""Track initiation (kizuna.tracking.initiation).

Independent references:
* noise-free radar conversion against `kizuna.frames.aer_to_ecef` (the frames module's own chain);
* the converted covariance against the *sample* covariance of Monte Carlo conversions, and the
  conversion bias at large angle errors against the closed form of Lerro & Bar-Shalom 1993
  (E[cos(θ + ε)] = e^{−σ²/2} cos θ for ε ~ N(0, σ²), so with elevation 0 the mean converted point
  is r e^{−σ_az²/2} e^{−σ_el²/2} along the true direction: an along-range bias −r(1 − e^{−σ²}));
* the OTH inversion against the sensor's forward model `kizuna.sensors.oth.oth_measurement`;
* two-point differencing against the linear map x = A [p1; p2], A = [[0, I], [−I/Δt, I/Δt]],
  so P = A diag(R1, R2) Aᵀ (written out here independently of the module's block formula);
* NEES averages against the two-sided χ² band of `kizuna.tracking.filters.chi2_band`
  (Bar-Shalom et al. 2001 §5.4.2); seeds fixed, so every run is the same.
"""

from __future__ import annotations

import numpy as np
import pytest

from kizuna.frames import aer_to_ecef, ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch
from kizuna.sensors.oth import oth_measurement
from kizuna.tracking.filters import chi2_band, nees
from kizuna.tracking.initiation import (
    convert_oth,
    convert_radar,
    converted_positions,
    initiate_from_scans,
    initiate_from_stereo,
    initiate_pairs,
    pair_by_speed,
    single_point_states,
    stereo_points,
    two_point_states,
)

SITE_LAT, SITE_LON, SITE_ALT = np.deg2rad(35.0), np.deg2rad(139.0), 50.0
SITE_M = geodetic_to_ecef(SITE_LAT, SITE_LON, SITE_ALT)


def _batch(
    kind: str, z: np.ndarray, cov: np.ndarray, sensor_pos: np.ndarray, time_s: np.ndarray, sensor_id=None
):
    m, k = z.shape
    zz = np.full((m, Z_MAX), np.nan)
    zz[:, :k] = z
    cc = np.full((m, Z_MAX, Z_MAX), np.nan)
    cc[:, :k, :k] = cov
    return DetectionBatch(
        detection_id=np.arange(m, dtype=np.int64),
        time_s=np.asarray(time_s, dtype=float),
        sensor_id=np.asarray(sensor_id if sensor_id is not None else ["s1"] * m, dtype=object),
        kind=np.full(m, MEASUREMENT_KINDS.index(kind), dtype=np.int8),
        z=zz,
        cov=cc,
        sensor_pos_m=np.broadcast_to(sensor_pos, (m, 3)).copy(),
        sensor_vel_m_per_s=np.zeros((m, 3)),
    )


# --- converted measurements ----------------------------------------------------------------------


def test_radar_noise_free_is_exact_point():
    rng = np.random.default_rng(1)
    m = 50
    r = rng.uniform(5e3, 400e3, m)
    az = rng.uniform(0, 2 * np.pi, m)
    el = rng.uniform(0.0, 1.2, m)
    z = np.stack([r, az, el, np.zeros(m)], axis=1)
    pos, cov = convert_radar(
        z, np.broadcast_to(np.diag([25.0, 1e-6, 1e-6, 1.0]), (m, 4, 4)), np.tile(SITE_M, (m, 1))
    )
    want = aer_to_ecef(az, el, r, SITE_LAT, SITE_LON, SITE_ALT)
    np.testing.assert_allclose(pos, want, rtol=0, atol=1e-6)  # a micrometre: rounding only
    assert cov.shape == (m, 3, 3)
    np.testing.assert_allclose(cov, np.swapaxes(cov, 1, 2), atol=0)


def _radar_samples(r, az, el, sig, n, seed):
    rng = np.random.default_rng(seed)
    z = np.stack([r, az, el, 0.0]) + rng.standard_normal((n, 4)) * np.r_[sig, 0.0]
    return z


def test_radar_converted_covariance_matches_monte_carlo():
    # 100 km, σ_R = 30 m, σ_az = σ_el = 2 mrad (200 m cross-range): R σ² / σ_R = 0.013 ≪ 0.4, the
    # regime where Lerro & Bar-Shalom find the plain conversion consistent.
    r, az, el = 100e3, 0.7, 0.1
    sig = np.array([30.0, 2e-3, 2e-3])
    n = 20_000
    z = _radar_samples(r, az, el, sig, n, seed=2)
    pos, cov = convert_radar(
        z, np.broadcast_to(np.diag(np.r_[sig**2, 1.0]), (n, 4, 4)), np.tile(SITE_M, (n, 1))
    )
    truth = aer_to_ecef(az, el, r, SITE_LAT, SITE_LON, SITE_ALT)
    _, cov0 = convert_radar(np.array([[r, az, el, 0.0]]), np.diag(np.r_[sig**2, 1.0])[None], SITE_M[None])
    chol = np.linalg.cholesky(cov0[0])
    white = np.linalg.solve(chol, (pos - truth).T).T
    # sample covariance of whitened errors ≈ I: standard error √(2/n) = 0.01 on the diagonal
    np.testing.assert_allclose(np.cov(white.T), np.eye(3), atol=0.05)
    # mean within 5 standard errors (the bias R σ² ≈ 0.4 m is far below σ/√n ≈ 1.4 m here)
    assert np.all(np.abs(white.mean(axis=0)) < 5.0 / np.sqrt(n))
    # each sample's own covariance (evaluated at its noisy point) stays close to the true-point one
    assert np.max(np.abs(cov - cov0) / np.sqrt(np.outer(np.diag(cov0[0]), np.diag(cov0[0])))) < 0.05


def test_radar_conversion_bias_at_large_angle_error_is_not_removed():
    # σ_angle = 0.05 rad at 100 km, elevation 0: closed-form along-range bias −r(1 − e^{−σ²}) = −249.7 m
    # (Lerro & Bar-Shalom 1993). The module documents that it does not debias: the bias must show.
    r, az, el = 100e3, 1.1, 0.0
    sig = np.array([30.0, 0.05, 0.05])
    n = 40_000
    z = _radar_samples(r, az, el, sig, n, seed=3)
    pos, _ = convert_radar(
        z, np.broadcast_to(np.diag(np.r_[sig**2, 1.0]), (n, 4, 4)), np.tile(SITE_M, (n, 1))
    )
    truth = aer_to_ecef(az, el, r, SITE_LAT, SITE_LON, SITE_ALT)
    rot = enu_rotation(SITE_LAT, SITE_LON)
    err_enu = (pos - truth) @ rot.T
    along = err_enu @ np.array([np.sin(az), np.cos(az), 0.0])
    expected = -r * (1.0 - np.exp(-(sig[1] ** 2)))
    # standard error of the along-range mean ≈ 180 m / √40000 ≈ 1 m; allow 3 %
    assert along.mean() == pytest.approx(expected, rel=0.03)


def test_oth_inversion_recovers_ground_point_and_covariance():
    rng = np.random.default_rng(4)
    m = 30
    lat = SITE_LAT + rng.uniform(-0.4, 0.4, m)
    lon = SITE_LON + rng.uniform(0.05, 0.5, m)
    targets = geodetic_to_ecef(lat, lon, 5_000.0)
    g, az, _ = oth_measurement(SITE_LAT, SITE_LON, targets, np.zeros((m, 3)))
    z = np.stack([g, az], axis=1)
    cov_z = np.broadcast_to(np.diag([1e3**2, 1e-3**2]), (m, 2, 2))
    pos, cov = convert_oth(z, cov_z, np.tile(SITE_M, (m, 1)), altitude_m=5_000.0, altitude_sigma_m=4_000.0)
    # the sensor's forward model round-trips to a millimetre (Newton converged)
    np.testing.assert_allclose(pos, targets, atol=1e-3)
    # vertical variance: exactly the assumed one, along the local up
    up = enu_rotation(lat, lon)[:, 2]
    np.testing.assert_allclose(np.einsum("ni,nij,nj->n", up, cov, up), 4_000.0**2, rtol=1e-9)

    # Monte Carlo of one detection: horizontal sample covariance matches the converted one
    n = 3_000
    zn = z[0] + rng.standard_normal((n, 2)) * [1e3, 1e-3]
    pts, _ = convert_oth(
        zn, np.broadcast_to(cov_z[0], (n, 2, 2)), np.tile(SITE_M, (n, 1)), altitude_m=5_000.0
    )
    en = ((pts - targets[0]) @ enu_rotation(lat[0], lon[0]).T)[:, 0:2]
    c_en = (enu_rotation(lat[0], lon[0]) @ cov[0] @ enu_rotation(lat[0], lon[0]).T)[0:2, 0:2]
    white = np.linalg.solve(np.linalg.cholesky(c_en), en.T).T
    np.testing.assert_allclose(np.cov(white.T), np.eye(2), atol=0.1)  # s.e. √(2/3000) ≈ 0.026


def test_converted_positions_mixed_batch():
    pos_batch = _batch("position", np.array([[7e6, 1e5, 2e5]]), 100.0 * np.eye(3)[None], np.zeros(3), [0.0])
    los_batch = _batch("los", np.array([[1.0, 0.0, 0.0]]), 1e-8 * np.eye(3)[None], np.zeros(3), [0.0])
    radar = _batch(
        "radar", np.array([[1e5, 1.0, 0.1, 0.0]]), np.diag([100.0, 1e-6, 1e-6, 1.0])[None], SITE_M, [0.5]
    )
    both = DetectionBatch.concatenate([pos_batch, los_batch, radar])
    out = converted_positions(both)
    assert out.ok.tolist() == [True, False, True]
    np.testing.assert_array_equal(out.pos_m[0], [7e6, 1e5, 2e5])
    np.testing.assert_array_equal(out.cov_m2[0], 100.0 * np.eye(3))
    assert np.isnan(out.pos_m[1]).all()
    np.testing.assert_allclose(
        out.pos_m[2], aer_to_ecef(1.0, 0.1, 1e5, SITE_LAT, SITE_LON, SITE_ALT), atol=1e-6
    )


# --- two-point differencing ----------------------------------------------------------------------


def _random_spd(rng, k, scale):
    a = rng.standard_normal((k, 3, 3)) * scale
    return a @ np.swapaxes(a, 1, 2) + scale**2 * np.eye(3)


def test_two_point_noise_free_and_closed_form():
    rng = np.random.default_rng(5)
    k = 20
    p1 = rng.uniform(-7e6, 7e6, (k, 3))
    v = rng.uniform(-3e3, 3e3, (k, 3))
    t1 = rng.uniform(0, 100, k)
    dt = rng.uniform(0.5, 20, k)
    p2 = p1 + v * dt[:, None]
    r1, r2 = _random_spd(rng, k, 50.0), _random_spd(rng, k, 80.0)
    x, p = two_point_states(p1, r1, t1, p2, r2, t1 + dt)
    np.testing.assert_allclose(x[:, 3:], v, rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(x[:, :3], p2)
    # P = A diag(R1, R2) Aᵀ with A = [[0, I], [−I/Δt, I/Δt]]
    eye = np.eye(3)
    a = np.zeros((k, 6, 6))
    a[:, 0:3, 3:6] = eye
    a[:, 3:6, 0:3] = -eye / dt[:, None, None]
    a[:, 3:6, 3:6] = eye / dt[:, None, None]
    big = np.zeros((k, 6, 6))
    big[:, 0:3, 0:3], big[:, 3:6, 3:6] = r1, r2
    np.testing.assert_allclose(p, a @ big @ np.swapaxes(a, 1, 2), rtol=1e-12, atol=1e-9)


def test_two_point_nees_is_chi2_6():
    rng = np.random.default_rng(6)
    runs = 2_000
    p_true1 = rng.uniform(-6e6, 6e6, (runs, 3))
    v = rng.uniform(-2e3, 2e3, (runs, 3))
    dt = 4.0
    p_true2 = p_true1 + v * dt
    r1, r2 = _random_spd(rng, runs, 60.0), _random_spd(rng, runs, 40.0)
    n1 = np.einsum("nij,nj->ni", np.linalg.cholesky(r1), rng.standard_normal((runs, 3)))
    n2 = np.einsum("nij,nj->ni", np.linalg.cholesky(r2), rng.standard_normal((runs, 3)))
    x, p = two_point_states(p_true1 + n1, r1, 0.0, p_true2 + n2, r2, dt)
    lo, hi = chi2_band(6, runs)
    assert lo < nees(np.hstack([p_true2, v]), x, p).mean() < hi


def test_single_point_prior():
    x, p = single_point_states(
        np.ones((2, 3)), np.broadcast_to(4.0 * np.eye(3), (2, 3, 3)), velocity_sigma_m_per_s=10.0
    )
    np.testing.assert_array_equal(x, np.hstack([np.ones((2, 3)), np.zeros((2, 3))]))
    np.testing.assert_array_equal(p[0], np.diag([4.0, 4.0, 4.0, 100.0, 100.0, 100.0]))


# --- speed-gated pairing -------------------------------------------------------------------------


def test_pair_by_speed_finds_true_pairs_without_all_pairs():
    rng = np.random.default_rng(7)
    m = 400
    # targets spread over a 4000 km cube, 300 m/s, scans 10 s apart: v_max Δt = 80 km
    p1 = rng.uniform(-2e6, 2e6, (m, 3))
    vel = rng.standard_normal((m, 3))
    vel *= 300.0 / np.linalg.norm(vel, axis=1, keepdims=True)
    p2 = p1 + 10.0 * vel
    p2[0] = p1[0] + np.array([100e3, 0.0, 0.0])  # a "target" that would need 10 km/s: not paired
    pairs = pair_by_speed(p1, 0.0, p2, 10.0, max_speed_m_per_s=8_000.0)
    got = set(zip(pairs.first.tolist(), pairs.second.tolist(), strict=True))
    assert {(i, i) for i in range(1, m)} <= got
    assert (0, 0) not in got
    # every returned pair passes the gate, and the gate's pairs are exactly the brute-force ones
    dist = np.linalg.norm(p1[:, None] - p2[None], axis=-1)
    brute = set(zip(*np.nonzero(dist <= 80e3), strict=True))
    assert got == {(int(i), int(j)) for i, j in brute}
    # the radius query formed only the pairs within its radius, not all m² = 160,000
    assert pairs.n_candidates == len(brute)
    assert pairs.n_candidates < m * m / 100


def test_pair_by_speed_time_window_and_order():
    p = np.zeros((3, 3))
    pairs = pair_by_speed(p, [0.0, 5.0, 9.0], p[:1], [10.0], max_dt_s=6.0)
    assert pairs.first.tolist() == [1, 2] and pairs.second.tolist() == [0, 0]
    # a later "earlier" point never pairs backwards in time
    assert len(pair_by_speed(p[:1], [10.0], p[:1], [5.0]).first) == 0


def test_initiate_from_radar_scans_noise_free():
    # three targets seen by one radar at t = 0 and t = 5 s; velocities recovered exactly
    enu0 = np.array([[50e3, 80e3, 10e3], [-120e3, 30e3, 9e3], [10e3, -200e3, 30e3]])
    vel_enu = np.array([[250.0, 0.0, 0.0], [0.0, -220.0, 5.0], [1500.0, 1500.0, 800.0]])
    rot = enu_rotation(SITE_LAT, SITE_LON)
    scans = []
    for t in (0.0, 5.0):
        pos = SITE_M + (enu0 + vel_enu * t) @ rot
        d_enu = (pos - SITE_M) @ rot.T
        r = np.linalg.norm(d_enu, axis=1)
        z = np.stack(
            [r, np.mod(np.arctan2(d_enu[:, 0], d_enu[:, 1]), 2 * np.pi), np.arcsin(d_enu[:, 2] / r)], 1
        )
        cov = np.broadcast_to(np.diag([100.0, 1e-6, 1e-6]), (3, 3, 3))
        scans.append(_batch("radar", z, cov, SITE_M, np.full(3, t)))
    init = initiate_from_scans(scans[0], scans[1], same_sensor=True)
    assert len(init) == 3 and init.first.tolist() == [0, 1, 2] and init.second.tolist() == [0, 1, 2]
    np.testing.assert_allclose(init.x[:, 3:], vel_enu @ rot, atol=1e-6)
    np.testing.assert_array_equal(init.time_s, 5.0)


# --- stereo --------------------------------------------------------------------------------------


def _los_noisy(u: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    k = np.where(np.abs(u[:, 0:1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
    e1 = np.cross(u, k)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(u, e1)
    n = rng.standard_normal((len(u), 2)) * sigma
    w = u + n[:, 0:1] * e1 + n[:, 1:2] * e2
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def test_stereo_initiation_nees_over_monte_carlo():
    # Two LEO satellites at 1000 km over (30°N, 10°E) and (30°N, 20°E) moving 7 km/s north; a target
    # at 30 km over (30°N, 15°E) at 2 km/s. Each run is one target seen at t = 100 k and 100 k + 2 s,
    # so find_ray_groups keeps runs apart (frames) and pairing within 3 s keeps them apart too.
    rng = np.random.default_rng(8)
    runs = 300
    sigma = 20e-6  # rad: ≈ 22 m across at 1100 km
    lat0 = np.deg2rad(30.0)
    sats = geodetic_to_ecef(lat0, np.deg2rad([10.0, 20.0]), 1_000e3)
    sat_v = 7_000.0 * enu_rotation(lat0, np.deg2rad([10.0, 20.0]))[:, 1]
    tgt0 = geodetic_to_ecef(lat0, np.deg2rad(15.0), 30e3)
    tgt_v = 2_000.0 * np.array([0.6, 0.0, 0.8]) @ enu_rotation(lat0, np.deg2rad(15.0))
    rows = []
    for frame_t in (0.0, 2.0):
        tgt = tgt0 + tgt_v * frame_t
        s_pos = sats + sat_v * frame_t
        u = (tgt - s_pos) / np.linalg.norm(tgt - s_pos, axis=1, keepdims=True)
        u_all = np.tile(u, (runs, 1))
        z = _los_noisy(u_all, sigma, rng)
        cov = sigma**2 * (np.eye(3) - z[:, :, None] * z[:, None, :])
        t = np.repeat(100.0 * np.arange(runs), 2) + frame_t
        ids = np.tile(["sat-a", "sat-b"], runs)
        rows.append(_batch("los", z, cov, np.tile(s_pos, (runs, 1)), t, ids))
    batch = DetectionBatch.concatenate(rows)
    pts = stereo_points(batch, max_dt_s=0.5)
    assert len(pts) == 2 * runs
    init = initiate_from_stereo(pts, pts, max_dt_s=3.0)
    assert len(init) == runs
    np.testing.assert_allclose(init.time_s - pts.time_s[init.first], 2.0)
    truth = np.hstack([tgt0 + 2.0 * tgt_v, tgt_v])
    e = nees(np.broadcast_to(truth, (runs, 6)), init.x, init.P)
    lo, hi = chi2_band(6, runs)
    assert lo < e.mean() < hi
    # and the position alone (3 dof) from the triangulation
    e3 = nees(np.broadcast_to(truth[:3], (runs, 3)), init.x[:, :3], init.P[:, :3, :3])
    lo3, hi3 = chi2_band(3, runs)
    assert lo3 < e3.mean() < hi3


def test_initiate_pairs_empty_inputs():
    init = initiate_pairs(
        np.zeros((0, 3)), np.zeros((0, 3, 3)), [], np.zeros((2, 3)), np.zeros((2, 3, 3)), 1.0
    )
    assert len(init) == 0 and init.x.shape == (0, 6) and init.n_candidates == 0


def test_geodetic_helper_consistency():
    # guard for the test fixtures above: the site is where we say it is
    lat, _lon, alt = ecef_to_geodetic(SITE_M)
    assert lat == pytest.approx(SITE_LAT, abs=1e-12) and alt == pytest.approx(SITE_ALT, abs=1e-6)
