"""Motion and measurement models of `kizuna.tracking`: closed forms, limits, Jacobians, shapes.

Independent references: Van Loan's matrix-exponential integral for the exact discretisation of a
linear continuous model (C. F. Van Loan, "Computing integrals involving the matrix exponential",
IEEE Trans. AC 23(3), 1978) via `scipy.linalg.expm`; `kizuna.frames.ecef_to_aer` for the radar
angles; `kizuna.truth.flight.fly` (DOP853) for the ballistic model; finite differences for every
Jacobian.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

from kizuna import frames
from kizuna.tracking import measurements as meas
from kizuna.tracking import models
from kizuna.truth.flight import Coast, Phase, Vehicle, fly

RNG_SEED = 20240611


def van_loan(a1: np.ndarray, b1: np.ndarray, qc: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact (F, Q) of ẋ = A x + B w, E[w wᵀ] = qc δ, per axis, expanded to 3 axes as [p, v, …] blocks."""
    a, b = np.kron(a1, np.eye(3)), np.kron(b1, np.eye(3))
    k = a.shape[0]
    m = np.zeros((2 * k, 2 * k))
    m[:k, :k] = -a
    m[:k, k:] = qc * b @ b.T
    m[k:, k:] = a.T
    e = expm(m * dt)
    f = e[k:, k:].T
    return f, f @ e[:k, k:]


def ecef_state(lat: float, lon: float, alt_m: float, vel_enu: tuple[float, float, float]) -> np.ndarray:
    p = frames.geodetic_to_ecef(lat, lon, alt_m)
    v = frames.enu_vector_to_ecef(np.array(vel_enu), lat, lon)
    return np.concatenate([p, v])


# --- shapes --------------------------------------------------------------------------------------

ALL_MODELS = [
    models.ConstantVelocity(1.0),
    models.ConstantAcceleration(0.1),
    models.Singer(10.0, 5.0),
    models.CoordinatedTurn(1.0, 1e-4),
    models.Ballistic(0.01),
]


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("n_tracks", [1, 5])
def test_shapes_pinned(model: models.MotionModel, n_tracks: int) -> None:
    n = model.state_dim
    x = np.zeros((n_tracks, n))
    x[:, 0:6] = ecef_state(0.5, 0.2, 9000.0, (200.0, 50.0, 0.0))
    dt = np.linspace(0.5, 2.0, n_tracks)
    x_pred, f = model.transition(x, dt)
    q = model.process_noise(x, dt)
    assert x_pred.shape == (n_tracks, n)
    assert f.shape == (n_tracks, n, n)
    assert q.shape == (n_tracks, n, n)
    np.testing.assert_allclose(q, np.swapaxes(q, 1, 2), atol=0.0)
    assert np.all(np.linalg.eigvalsh(q) >= -1e-12 * np.abs(q).max())


# --- closed forms --------------------------------------------------------------------------------


def test_cv_matches_closed_form_and_van_loan() -> None:
    dt = np.array([0.1, 1.0, 7.5])
    q = 2.5
    f = models.cv_transition(dt)
    qm = models.cv_process_noise(dt, q)
    for i, t in enumerate(dt):
        # Bar-Shalom et al. 2001 eq. 6.2.2-12: per axis q [[T³/3, T²/2], [T²/2, T]].
        block = q * np.array([[t**3 / 3, t**2 / 2], [t**2 / 2, t]])
        np.testing.assert_allclose(qm[i], np.kron(block, np.eye(3)), rtol=1e-15)
        f_ref, q_ref = van_loan(np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[0.0], [1.0]]), q, t)
        np.testing.assert_allclose(f[i], f_ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(qm[i], q_ref, rtol=1e-10, atol=1e-14 * t**3)


def test_ca_matches_van_loan() -> None:
    dt = np.array([0.2, 1.0, 4.0])
    q = 0.3
    a1 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    b1 = np.array([[0.0], [0.0], [1.0]])
    f, qm = models.ca_transition(dt), models.ca_process_noise(dt, q)
    for i, t in enumerate(dt):
        f_ref, q_ref = van_loan(a1, b1, q, t)
        np.testing.assert_allclose(f[i], f_ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(qm[i], q_ref, rtol=1e-9, atol=1e-14 * t**5)


@pytest.mark.parametrize(("tau_s", "dt_s"), [(20.0, 1.0), (5.0, 2.0), (1.0, 10.0), (60.0, 0.6)])
def test_singer_matches_van_loan(tau_s: float, dt_s: float) -> None:
    sigma = 4.0
    alpha = 1.0 / tau_s
    a1 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, -alpha]])
    b1 = np.array([[0.0], [0.0], [1.0]])
    f_ref, q_ref = van_loan(a1, b1, 2.0 * alpha * sigma**2, dt_s)
    f = models.singer_transition(np.array([dt_s]), tau_s)[0]
    q = models.singer_process_noise(np.array([dt_s]), tau_s, sigma)[0]
    # expm of the doubled system loses ~1e-11 at αT = 10 (entries spanning e^{±10}).
    np.testing.assert_allclose(f, f_ref, rtol=1e-10, atol=1e-10)
    # Singer's closed form cancels for small αT: its relative error is ≈ 1e-16/(αT)⁵, 1e-6 at αT = 0.01
    # (the last case); physically irrelevant (a 1e-5 change of a process-noise variance).
    np.testing.assert_allclose(q, q_ref, rtol=2e-5, atol=1e-9 * np.abs(q_ref).max())


# --- coordinated turn ----------------------------------------------------------------------------


def test_ct_reduces_to_cv_as_turn_rate_vanishes() -> None:
    ct, cv = models.CoordinatedTurn(1.0, 1e-4), models.ConstantVelocity(1.0)
    x6 = ecef_state(0.7, -1.2, 10_000.0, (180.0, -120.0, 5.0))
    dt = np.array([0.5, 3.0, 3.0, 3.0])
    x = np.tile(np.append(x6, 0.0), (4, 1))
    x[:, 6] = [0.0, 0.0, 1e-9, -1e-7]
    x_ct, f_ct = ct.transition(x, dt)
    x_cv, f_cv = cv.transition(x[:, :6], dt)
    # A turn of 1e-7 rad/s over 3 s moves the position by |v|·ωT²/2 ≈ 1e-4 m from the straight line.
    np.testing.assert_allclose(x_ct[:, :6], x_cv, rtol=0.0, atol=2e-4)
    # ∂v'/∂v holds sin(ωT) ≈ 3e-7 at ω = 1e-7 rad/s, T = 3 s; at ω = 0 the two are identical.
    np.testing.assert_allclose(f_ct[:, :6, :6], f_cv, rtol=0.0, atol=1e-6)
    np.testing.assert_allclose(f_ct[:2, :6, :6], f_cv[:2], rtol=0.0, atol=1e-15)
    np.testing.assert_allclose(x_ct[:2, :6], x_cv[:2], rtol=0.0, atol=1e-9)


def test_ct_quarter_turn_closed_form() -> None:
    lat, lon = 0.4, 2.0
    x6 = ecef_state(lat, lon, 8_000.0, (0.0, 250.0, 0.0))  # flying north, level
    t = 10.0
    omega = np.pi / 2 / t  # left turn: north -> west
    x = np.append(x6, omega)[None]
    x_pred, _ = models.CoordinatedTurn(1.0, 1e-4).transition(x, np.array([t]))
    u = x6[:3] / np.linalg.norm(x6[:3])
    v = x6[3:]
    v_perp = v - u * (u @ v)
    uxv = np.cross(u, v)
    np.testing.assert_allclose(x_pred[0, 3:6], u * (u @ v) + uxv, atol=1e-9)
    # Position: quarter circle of radius |v⊥|/ω: p + v⊥/ω + (u × v)/ω.
    np.testing.assert_allclose(x_pred[0, :3], x6[:3] + u * (u @ v) * t + (v_perp + uxv) / omega, atol=1e-6)
    # Westward in the local frame (geodetic vs geocentric vertical differ by ~0.1°).
    v_enu = frames.ecef_vector_to_enu(x_pred[0, 3:6], lat, lon)
    assert v_enu[0] < -249.0


def finite_difference_jacobian(fun, x: np.ndarray, steps: np.ndarray) -> np.ndarray:
    cols = []
    for i, h in enumerate(steps):
        e = np.zeros_like(x)
        e[:, i] = h
        cols.append((fun(x + e) - fun(x - e)) / (2.0 * h))
    return np.stack(cols, axis=-1)


def test_ct_jacobian_against_finite_differences() -> None:
    rng = np.random.default_rng(RNG_SEED)
    x = np.stack(
        [np.append(ecef_state(0.3 * i, 0.5 * i, 9_000.0, (200.0, -80.0, 10.0)), w)
         for i, w in enumerate([0.05, -0.12, 1e-6])]
    )
    x[:, 3:6] += rng.normal(0.0, 30.0, (3, 3))
    dt = np.array([1.0, 2.5, 4.0])
    model = models.CoordinatedTurn(1.0, 1e-4)
    _, f = model.transition(x, dt)
    steps = np.array([1.0, 1.0, 1.0, 1e-3, 1e-3, 1e-3, 1e-6])
    f_num = finite_difference_jacobian(lambda s: model.transition(s, dt)[0], x, steps)
    # Velocity and turn-rate columns are exact; the position columns leave out ∂u/∂p, of relative size
    # |v|Δt/R ≈ 2e-4 of the turn terms: 1e-4 is a generous bound on that neglect.
    # (The ω column's finite difference carries rounding of 1e-16·|p|/1e-6 ≈ 1e-3 m per rad/s.)
    np.testing.assert_allclose(f[:, :, 3:], f_num[:, :, 3:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f[:, :, :3], f_num[:, :, :3], rtol=0.0, atol=1e-4)


# --- ballistic -----------------------------------------------------------------------------------


def test_ballistic_matches_fly_coast() -> None:
    lat, lon = 0.6, 0.9
    x0 = ecef_state(lat, lon, 400_000.0, (3_000.0, 4_000.0, 1_200.0))
    duration = 300.0
    traj = fly(
        Vehicle(stages=(), payload_kg=1_000.0),
        [Phase("midcourse", Coast(), duration_s=duration)],
        x0[:3],
        x0[3:],
        gravity="j2",
        earth_rotation=True,
    )
    pos_ref, vel_ref, active, _ = traj.sample(np.array([duration]))
    assert active[0]
    x_pred, _ = models.Ballistic(0.0, max_step_s=1.0).transition(x0[None], np.array([duration]))
    # RK4 at 1 s steps vs DOP853 at rtol 1e-9 over 300 s (≈ 1,600 km flown): within 1 cm and 0.1 mm/s.
    np.testing.assert_allclose(x_pred[0, :3], pos_ref[0], rtol=0.0, atol=0.01)
    np.testing.assert_allclose(x_pred[0, 3:], vel_ref[0], rtol=0.0, atol=1e-4)


def test_ballistic_jacobian_against_finite_differences() -> None:
    x = np.stack([
        ecef_state(0.6, 0.9, 400_000.0, (3_000.0, 4_000.0, 1_200.0)),
        ecef_state(-0.3, 2.0, 150_000.0, (-2_000.0, 1_000.0, -800.0)),
    ])
    dt = np.array([10.0, 30.0])
    model = models.Ballistic(0.0, max_step_s=1.0)
    _, f = model.transition(x, dt)
    steps = np.array([10.0, 10.0, 10.0, 0.01, 0.01, 0.01])
    f_num = finite_difference_jacobian(lambda s: model.transition(s, dt)[0], x, steps)
    # The J2 part of the gravity gradient (≈ 1.5e-3 of it, 2e-9 1/s²) is left out of the variational
    # equation: over 30 s that is ≈ 2e-9·T²/2 ≈ 1e-6 in ∂p/∂p and ≈ 2e-9·T³/6 ≈ 1e-5 s in ∂p/∂v, i.e.
    # a 1 m/s velocity error mapped 1e-5 m off: irrelevant next to any covariance.
    np.testing.assert_allclose(f, f_num, rtol=1e-5, atol=4e-5)


# --- measurement models --------------------------------------------------------------------------


def test_wrap_angle_at_pi() -> None:
    a = np.array([np.pi, -np.pi, 3 * np.pi, -3 * np.pi, 0.0, 2 * np.pi, np.pi + 1e-9, -np.pi + 1e-9])
    w = meas.wrap_angle_rad(a)
    np.testing.assert_allclose(w, [np.pi, np.pi, np.pi, np.pi, 0.0, 0.0, -np.pi + 1e-9, -np.pi + 1e-9],
                               atol=1e-12)
    assert np.all((w > -np.pi) & (w <= np.pi))
    # Azimuth residual across north: measured 0.01 rad, predicted 2π − 0.01 -> +0.02 rad.
    z_pred = np.array([[1e4, 2 * np.pi - 0.01, 0.1, 0.0]])
    r = meas.residual("radar", np.array([[1e4, 0.01, 0.1, 0.0]]), z_pred)
    np.testing.assert_allclose(r, [[0.0, 0.02, 0.0, 0.0]], atol=1e-12)


def radar_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    site_lat, site_lon = np.array([0.6, -0.2, 1.1]), np.array([0.3, 2.9, -1.0])
    sensor = frames.geodetic_to_ecef(site_lat, site_lon, np.array([30.0, 5.0, 800.0]))
    sensor_vel = np.array([[0.0, 0.0, 0.0], [5.0, -3.0, 1.0], [0.0, 0.0, 0.0]])
    x = np.stack([
        ecef_state(0.61, 0.31, 9_000.0, (200.0, 30.0, 0.0)),
        ecef_state(-0.25, 2.85, 300.0, (-250.0, 10.0, 3.0)),
        ecef_state(1.105, -1.01, 20_000.0, (600.0, 600.0, -50.0)),
    ])
    return x, sensor, sensor_vel


def test_radar_function_matches_frames_aer() -> None:
    x, sensor, sensor_vel = radar_case()
    lat, lon, alt = frames.ecef_to_geodetic(sensor)
    z = meas.radar_function(x, sensor, sensor_vel)
    az, el, rng = frames.ecef_to_aer(x[:, :3], lat, lon, alt)
    np.testing.assert_allclose(z[:, 0], rng, rtol=1e-12)
    np.testing.assert_allclose(z[:, 1], az, atol=1e-12)
    np.testing.assert_allclose(z[:, 2], el, atol=1e-12)
    # Range-rate = d|p − s|/dt along the straight relative motion (central difference over ±1 ms).
    h = 1e-3
    ahead = np.linalg.norm(x[:, :3] + h * x[:, 3:] - sensor - h * sensor_vel, axis=1)
    behind = np.linalg.norm(x[:, :3] - h * x[:, 3:] - sensor + h * sensor_vel, axis=1)
    np.testing.assert_allclose(z[:, 3], (ahead - behind) / (2 * h), atol=1e-5)


def test_radar_jacobian_against_finite_differences() -> None:
    x, sensor, sensor_vel = radar_case()
    x9 = np.concatenate([x, np.zeros((3, 3))], axis=1)  # a 9-state (CA) track: H is zero beyond column 6
    z, h = meas.radar_jacobian(x9, sensor, sensor_vel)
    assert h.shape == (3, 4, 9)

    def fun(s: np.ndarray) -> np.ndarray:
        out = meas.radar_function(s, sensor, sensor_vel)
        out[:, 1] = np.unwrap(np.stack([z[:, 1], out[:, 1]]), axis=0)[1]
        return out

    h_num = finite_difference_jacobian(fun, x9, np.array([0.5] * 3 + [0.01] * 3 + [1.0] * 3))
    np.testing.assert_allclose(h, h_num, rtol=1e-6, atol=1e-10)


def test_los_jacobian_and_projection() -> None:
    x, sensor, _ = radar_case()
    sensor = sensor + np.array([0.0, 0.0, 7.0e5])  # a satellite-ish vantage
    basis = meas.los_basis(x, sensor)
    np.testing.assert_allclose(basis @ np.swapaxes(basis, 1, 2), np.broadcast_to(np.eye(3), (3, 3, 3)),
                               atol=1e-14)
    d = x[:, :3] - sensor
    u = d / np.linalg.norm(d, axis=1, keepdims=True)
    sigma = 20e-6
    cov = sigma**2 * (np.eye(3) - np.einsum("ni,nj->nij", u, u))
    lin = meas.linearize("los", x, u, cov, sensor, np.zeros((3, 3)))
    np.testing.assert_allclose(lin.innovation, 0.0, atol=1e-15)
    np.testing.assert_allclose(lin.noise_cov, np.broadcast_to(sigma**2 * np.eye(2), (3, 2, 2)), rtol=1e-9,
                               atol=1e-20)
    h_num = finite_difference_jacobian(lambda s: meas.los_tangent_function(s, sensor, basis), x,
                                       np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]))
    np.testing.assert_allclose(lin.jacobian, h_num, rtol=1e-6, atol=1e-14)


def test_oth_jacobian_predicts_small_displacements() -> None:
    site = frames.geodetic_to_ecef(0.5, 0.2, 0.0)[None]
    x = ecef_state(0.62, 0.35, 10_000.0, (220.0, -90.0, 0.0))[None]
    z, h = meas.oth_jacobian(x, site)
    np.testing.assert_allclose(z, meas.oth_function(x, site), rtol=1e-12)
    delta = np.array([[800.0, -500.0, 300.0, 4.0, -3.0, 2.0]])
    dz = meas.residual("oth", meas.oth_function(x + delta, site), z)
    pred = np.einsum("nij,nj->ni", h, delta)
    # Second-order terms of a ~1 km, ~5 m/s step at ~1,600 km (e.g. the cross term δp·δv/R ≈ 2.5e-3 m/s):
    # < 1e-3 of each component's change.
    np.testing.assert_allclose(pred, dz, rtol=1e-3)
