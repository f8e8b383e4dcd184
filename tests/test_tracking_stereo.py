"""Stereo triangulation of lines of sight (kizuna.tracking.stereo).

Independent reference: the closed-form error of two-ray triangulation, derived here by hand.
Symmetric geometry: the target T, two sensors at range R on either side of the bisector e, the
rays meeting at angle θ (a = θ/2), baseline b = 2R sin a, f along the baseline, n normal to the
plane. Each ray's perpendicular error at T is σR on each of its two perpendicular axes; ray 1's
in-plane perpendicular is v1 = −sin a e + cos a f, ray 2's v2 = sin a e + cos a f, both have n.
The information matrix Σ_i (P_i)/(σR)² is then diagonal in (e, f, n) with (2 sin²a, 2 cos²a, 2)/(σR)²:

    σ_e (depth, along the bisector) = σR / (√2 sin(θ/2)) = √2 σ R² / b
    σ_f (along the baseline)        = σR / (√2 cos(θ/2))
    σ_n (out of plane)              = σR / √2
    3-D RMS                         = σR √(1/2 + 2 / sin²θ)

(the classic stereo depth error σ z²/b for one noisy camera, times √2 for two). The Monte Carlo
draws line-of-sight noise the way the space-IR sensor model does: z = (u + σ n₁ e₁ + σ n₂ e₂)/|…|.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch
from kizuna.tracking.stereo import (
    DEFAULT_MIN_ANGLE_RAD,
    TriangulationStatus,
    closest_approach,
    find_ray_groups,
    gather_groups,
    los_rays,
    triangulate,
)

TARGET_M = np.array([5.2e6, 1.1e6, 3.4e6])  # a point ~300 km above the Earth (|T| ≈ 6.31e6 m)


def _noisy_los(u: np.ndarray, sigma_rad: float | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Perturb unit vectors (..., 3) by σ on two perpendicular axes, as kizuna.sensors.space_ir."""
    helper = np.where(np.abs(u[..., :1]) < 0.9, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
    e1 = np.cross(u, helper)
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    e2 = np.cross(u, e1)
    n = rng.standard_normal((*u.shape[:-1], 2)) * np.asarray(sigma_rad)[..., None]
    z = u + n[..., :1] * e1 + n[..., 1:] * e2
    return z / np.linalg.norm(z, axis=-1, keepdims=True)


def _symmetric_geometry(range_m: float, angle_rad: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two sensors seeing TARGET_M at range R, rays meeting at θ. Returns sensors (2,3), LOS (2,3), basis."""
    e = TARGET_M / np.linalg.norm(TARGET_M)  # bisector: sensors "above" the target
    f = np.cross(e, [0.0, 0.0, 1.0])
    f /= np.linalg.norm(f)
    n = np.cross(e, f)
    a = angle_rad / 2
    sensors = TARGET_M + range_m * np.array([np.cos(a) * e + np.sin(a) * f, np.cos(a) * e - np.sin(a) * f])
    los = TARGET_M - sensors
    los /= np.linalg.norm(los, axis=-1, keepdims=True)
    return sensors, los, np.array([e, f, n])


@pytest.mark.parametrize("angle_deg", [20.0, 60.0, 120.0])
def test_two_ray_monte_carlo_matches_closed_form_and_is_consistent(angle_deg: float) -> None:
    range_m, sigma_rad, runs = 2.0e6, 20e-6, 20_000  # 2,000 km, 20 µrad -> 40 m per ray
    theta = np.deg2rad(angle_deg)
    sensors, u, basis = _symmetric_geometry(range_m, theta)
    assert np.isclose(np.degrees(np.arccos(u[0] @ u[1])), angle_deg)
    rng = np.random.default_rng(20240607)
    los = _noisy_los(np.broadcast_to(u, (runs, 2, 3)), sigma_rad, rng)
    res = triangulate(np.broadcast_to(sensors, (runs, 2, 3)), los, np.full((runs, 2), sigma_rad))
    assert res.ok.all()
    err = res.pos_m - TARGET_M
    err_efn = err @ basis.T

    sr = sigma_rad * range_m
    a = theta / 2
    expected_std = np.array([sr / (np.sqrt(2) * np.sin(a)), sr / (np.sqrt(2) * np.cos(a)), sr / np.sqrt(2)])
    baseline_m = 2 * range_m * np.sin(a)
    assert np.isclose(expected_std[0], np.sqrt(2) * sigma_rad * range_m**2 / baseline_m)
    # Sample variance of N Gaussian draws has relative standard deviation √(2/N) (~1 % here);
    # 4 of those (and the mean error is zero within 4 σ/√N: no bias beyond noise).
    rel = 4 * np.sqrt(2 / runs)
    np.testing.assert_allclose(np.var(err_efn, axis=0), expected_std**2, rtol=rel)
    assert np.all(np.abs(err_efn.mean(axis=0)) < 4 * expected_std / np.sqrt(runs))
    rms_3d = sr * np.sqrt(0.5 + 2 / np.sin(theta) ** 2)
    assert np.isclose(np.sqrt(np.mean(np.sum(err**2, axis=1))), rms_3d, rtol=2 * np.sqrt(2 / runs))

    # The reported covariance is the closed form evaluated at the estimated ranges, which differ
    # from the true ones by the position error: first order in |error|/R ≲ 6 σ_e / R (1e-3 at 20°).
    # Allow 5e-3 of the largest variance (0.25 % on a standard deviation).
    cov_efn = basis @ res.cov_m2 @ basis.T
    np.testing.assert_allclose(cov_efn, np.broadcast_to(np.diag(expected_std**2), cov_efn.shape),
                               rtol=0, atol=5e-3 * expected_std.max() ** 2)
    # ... and it is consistent: mean NEES of a 3-D Gaussian is 3 with std √(6/N) over N runs.
    nees = np.einsum("gi,gij,gj->g", err, np.linalg.inv(res.cov_m2), err)
    assert abs(nees.mean() - 3.0) < 4 * np.sqrt(6 / runs)
    # Two rays: residual χ² has 2K − 3 = 1 degree of freedom; mean 1, std √(2/N).
    assert (res.dof == 1).all()
    assert abs(res.chi2.mean() - 1.0) < 4 * np.sqrt(2 / runs)


def test_residual_chi2_equals_closest_approach_formula() -> None:
    # Module docstring: for two rays χ² = d² / (σ1² R1² + σ2² R2²) at the closest points.
    rng = np.random.default_rng(7)
    sensors, u, _ = _symmetric_geometry(1.5e6, np.deg2rad(45))
    sig = np.array([10e-6, 30e-6])
    los = _noisy_los(np.broadcast_to(u, (200, 2, 3)), sig, rng)
    res = triangulate(np.broadcast_to(sensors, (200, 2, 3)), los, np.broadcast_to(sig, (200, 2)))
    d, s, t = closest_approach(sensors[0], los[:, 0], sensors[1], los[:, 1])
    np.testing.assert_allclose(res.chi2, d**2 / ((sig[0] * s) ** 2 + (sig[1] * t) ** 2), rtol=1e-6)


def test_noise_free_rays_give_the_exact_point() -> None:
    rng = np.random.default_rng(3)
    g, k = 500, 4
    truth = rng.normal(size=(g, 3)) * 3e6
    truth *= (6.5e6 / np.linalg.norm(truth, axis=1))[:, None]
    sensors = truth[:, None, :] + rng.normal(size=(g, k, 3)) * 2e6
    los = truth[:, None, :] - sensors
    valid = np.ones((g, k), dtype=bool)
    valid[::2, 3] = False  # mixed group sizes: 3 and 4 rays
    los[::2, 3] = np.nan  # padding may hold anything
    res = triangulate(sensors, los, rng.uniform(5e-6, 50e-6, (g, k)), valid)
    assert res.ok.all()
    # 1 mm on a 6,500 km vector: ~1e-10 relative, well above float64 round-off with conditioning.
    np.testing.assert_allclose(res.pos_m, truth, rtol=0, atol=1e-3)
    np.testing.assert_allclose(res.chi2, 0.0, atol=1e-12)
    assert set(res.dof) == {3, 5}


def test_rejections_come_with_a_reason() -> None:
    sensors, u, _ = _symmetric_geometry(2.0e6, np.deg2rad(60))
    near_parallel_sensors = np.array([sensors[0], sensors[0] + [1000.0, 0, 0]])  # 1 km baseline at 2,000 km
    near_parallel_los = TARGET_M - near_parallel_sensors
    away = -u  # rays pointing away from each other: the lines meet behind both sensors
    pos = np.array([sensors, near_parallel_sensors, sensors, sensors])
    los = np.array([u, near_parallel_los, away, u])
    valid = np.array([[True, True], [True, True], [True, True], [True, False]])
    res = triangulate(pos, los, np.full((4, 2), 20e-6), valid)
    assert list(res.status) == [
        TriangulationStatus.OK,
        TriangulationStatus.NEAR_PARALLEL,
        TriangulationStatus.BEHIND_SENSOR,
        TriangulationStatus.TOO_FEW_RAYS,
    ]
    assert res.angle_rad[1] < DEFAULT_MIN_ANGLE_RAD  # 0.5 mrad ≪ 2°
    assert np.isnan(res.pos_m[1:]).all() and np.isnan(res.cov_m2[1:]).all()
    assert list(res.ok) == [True, False, False, False]


def _scene(rng: np.random.Generator, sigma_rad: float):
    """Three satellites, five targets ~50 km apart, two frames 10 s apart, plus four false rays."""
    sats = TARGET_M * 1.25 + rng.normal(size=(3, 3)) * 1.5e6  # ~1,600 km up, spread ~1,500 km
    rows = []  # (time, sensor, target or -1, pos, los)
    for frame, t0 in enumerate([100.0, 110.0]):
        targets = TARGET_M + rng.normal(size=(5, 3)) * 5e4
        for s, sat in enumerate(sats):
            sat_t = sat + frame * 7e4  # satellites move between frames
            for j, tgt in enumerate(targets):
                u = (tgt - sat_t) / np.linalg.norm(tgt - sat_t)
                rows.append((t0 + 0.01 * s, f"sat{s}", j + 5 * frame, sat_t, _noisy_los(u, sigma_rad, rng)))
            # one false ray per satellite in frame 0, one in frame 1 for satellite 0
            if frame == 0 or s == 0:
                u = TARGET_M + rng.normal(size=3) * 3e5 - sat_t
                rows.append((t0 + 0.01 * s, f"sat{s}", -1, sat_t, u / np.linalg.norm(u)))
    perm = rng.permutation(len(rows))
    rows = [rows[i] for i in perm]
    return (
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows], dtype=object),
        np.array([r[2] for r in rows]),
        np.array([r[3] for r in rows]),
        np.array([r[4] for r in rows]),
    )


def test_pairing_finds_true_triples_and_leaves_false_rays_out() -> None:
    rng = np.random.default_rng(11)
    sigma = 10e-6
    t, sid, label, pos, los = _scene(rng, sigma)
    groups = find_ray_groups(t, sid, pos, los, np.full(len(t), sigma), max_dt_s=0.1, max_rays=3)
    assert len(groups) == 10  # 5 targets × 2 frames, each seen by all three satellites
    assert (groups.index >= 0).all()
    labels = label[groups.index]
    assert (labels[:, :1] == labels).all() and (labels >= 0).all()
    assert sorted(labels[:, 0]) == list(range(10))
    assert (sid[groups.index[:, 0]] != sid[groups.index[:, 1]]).all()
    res = triangulate(*gather_groups(groups.index, pos, los, np.full(len(t), sigma)))
    assert res.ok.all() and (res.dof == 3).all()
    # the 3-ray residual passes its own χ²(3) test at 99.9 %
    assert (res.chi2 < chi2.ppf(0.999, 3)).all()


def test_pairing_respects_time_and_sensor_and_max_rays() -> None:
    rng = np.random.default_rng(12)
    sigma = 10e-6
    t, sid, label, pos, los = _scene(rng, sigma)
    pairs = find_ray_groups(t, sid, pos, los, np.full(len(t), sigma), max_dt_s=0.1, max_rays=2)
    assert pairs.index.shape == (10, 2)
    assert (label[pairs.index[:, 0]] == label[pairs.index[:, 1]]).all()
    # satellites' looks are 0.01 s apart: a 5 ms window leaves nothing to pair
    none = find_ray_groups(t, sid, pos, los, np.full(len(t), sigma), max_dt_s=0.005)
    assert len(none) == 0 and none.index.shape == (0, 3)
    # one satellite alone never pairs with itself
    mine = sid == "sat0"
    alone = find_ray_groups(
        t[mine], sid[mine], pos[mine], los[mine], np.full(mine.sum(), sigma), max_dt_s=1.0
    )
    assert len(alone) == 0


def test_los_rays_reads_sigma_from_a_detection_batch() -> None:
    rng = np.random.default_rng(5)
    m = 6
    u = rng.normal(size=(m, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    sig = rng.uniform(1e-6, 1e-4, m)
    z = np.full((m, Z_MAX), np.nan)
    z[:, :3] = u
    cov = np.full((m, Z_MAX, Z_MAX), np.nan)
    cov[:, :3, :3] = sig[:, None, None] ** 2 * (np.eye(3) - u[:, :, None] * u[:, None, :])
    kind = np.full(m, MEASUREMENT_KINDS.index("los"), dtype=np.int8)
    kind[2] = MEASUREMENT_KINDS.index("radar")
    batch = DetectionBatch(
        detection_id=np.arange(m, dtype=np.int64),
        time_s=np.arange(m, dtype=float),
        sensor_id=np.array([f"s{i}" for i in range(m)], dtype=object),
        kind=kind,
        z=z,
        cov=cov,
        sensor_pos_m=rng.normal(size=(m, 3)) * 7e6,
        sensor_vel_m_per_s=np.zeros((m, 3)),
    )
    rays = los_rays(batch)
    assert list(rays.index) == [0, 1, 3, 4, 5]
    np.testing.assert_allclose(rays.sigma_rad, sig[rays.index], rtol=1e-12)
    np.testing.assert_allclose(rays.los, u[rays.index])


def test_speed_bound_widens_the_gate_for_looks_at_different_times() -> None:
    # A target moving 7 km/s seen by two satellites 50 ms apart has moved 350 m between looks,
    # against ~20 m of angular noise (10 µrad at ~2,000 km): the plain gate rejects the pair, a
    # speed bound of 8 km/s (400 m in 50 ms) admits it.
    sensors, u, basis = _symmetric_geometry(2.0e6, np.deg2rad(60))
    moved = TARGET_M + 350.0 * basis[2]  # out of the rays’ plane: the lines miss by 350 m
    los = np.array([u[0], (moved - sensors[1]) / np.linalg.norm(moved - sensors[1])])
    args = (np.array([0.0, 0.05]), np.array(["a", "b"], dtype=object), sensors, los, np.full(2, 10e-6))
    assert len(find_ray_groups(*args, max_dt_s=0.1)) == 0
    assert len(find_ray_groups(*args, max_dt_s=0.1, speed_bound_m_per_s=8000.0)) == 1
