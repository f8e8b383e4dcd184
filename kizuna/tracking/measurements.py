"""Measurement models for the four detection kinds, batched over M (state, sensor) pairs.

Each kind gives ``h(x)`` ``(M, m)`` and its Jacobian ``H (M, m, n)`` for states ``x (M, n)`` whose
first six components are ECEF [p, v] (any motion model; H is zero beyond column 6), with the
sensor's ECEF position and velocity per row. `linearize` turns detection rows into what a Kalman
update needs — innovation ν (angles wrapped to (−π, π]), H and R — for one kind at a time.

| kind | z | h | H |
| --- | --- | --- | --- |
| position | ECEF p | p | [I 0] |
| radar | (R, az, el, Ṙ) at the sensor's geodetic ENU | `kizuna.frames` AER + (d·Δv)/R | analytic |
| oth | (ground range, azimuth, ground range-rate) | `kizuna.sensors.oth.oth_measurement` | central diff. |
| los | unit ECEF line of sight | two tangent-plane angles about the predicted LOS | analytic |

Radar: d = p − s, R = |d|, azimuth clockwise from north and elevation of d in the ENU frame at the
sensor's geodetic (lat, lon) (exactly `kizuna.frames.ecef_to_aer`), Ṙ = d·(v − vₛ)/R with the
sensor's velocity vₛ. Jacobian (in ENU (e, n, u), ρ = √(e² + n²), then ·R_enu to ECEF):
∂az/∂(e, n, u) = (n, −e, 0)/ρ², ∂el/∂(e, n, u) = (−e u/ρ, −n u/ρ, ρ)/R², ∂R/∂d = d/R,
∂Ṙ/∂p = (Δv − Ṙ d/R)/R, ∂Ṙ/∂v = d/R (e.g. Bar-Shalom et al. 2001 §1.6 / §10.3 for polar
measurements; the same expressions as Stone Soup's ``CartesianToElevationBearingRangeRate``).
Singular at R → 0 and at the zenith (ρ → 0): radars do not track there.

OTH: the measurement function is the sensor model's own (geodesic ground range by Lambert's
formula, normal-section azimuth of the sub-point, ground range-rate); its Jacobian is by central
differences with steps of 100 m in position and 1 m/s in velocity — large against the function's
rounding noise (its range-rate is itself a 0.02 s central difference), small against its curvature
(the truncation error is below 1e-6 of each entry for targets beyond 100 km).

LOS (projected form): the measured unit vector u_m has the rank-2 covariance σ²(I − u uᵀ). About
the *predicted* line of sight û (from the prior state) take an orthonormal basis (e₁, e₂) ⊥ û
and use the tangent-plane (gnomonic) coordinates z = (e₁·u_m, e₂·u_m)/(û·u_m) — two angles to first
order — with R = Eᵀ cov E (2 × 2, full rank) and h(x) = (e₁·d, e₂·d)/(û·d), d = p − s, whose
Jacobian at the prior is Eᵀ/|d|. The basis depends on the prior, so `los_basis` is computed once
per update and passed to the UKF's sigma-point function.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kizuna.frames import ecef_to_geodetic, enu_rotation
from kizuna.sensors.detections import KIND_DIMS, MEASUREMENT_KINDS
from kizuna.sensors.oth import oth_measurement

__all__ = [
    "ANGLE_COLUMNS",
    "OTH_JACOBIAN_STEPS",
    "Linearized",
    "linearize",
    "los_basis",
    "los_measurement",
    "los_tangent_function",
    "measurement_dim",
    "measurement_function",
    "oth_function",
    "oth_jacobian",
    "position_function",
    "radar_function",
    "radar_jacobian",
    "residual",
    "wrap_angle_rad",
]

Array = NDArray[np.float64]

ANGLE_COLUMNS: dict[str, tuple[int, ...]] = {"position": (), "radar": (1, 2), "oth": (1,), "los": ()}
"""Columns of each kind's (update-space) measurement that are angles and wrap."""
OTH_JACOBIAN_STEPS = np.array([100.0, 100.0, 100.0, 1.0, 1.0, 1.0])
"""Central-difference steps for the OTH Jacobian: metres for position, m/s for velocity."""


def wrap_angle_rad(a: ArrayLike) -> Array:
    """Wrap angles to (−π, π] (so −π maps to π)."""
    a = np.asarray(a, dtype=np.float64)
    w = np.mod(a + np.pi, 2.0 * np.pi) - np.pi
    return np.where(w <= -np.pi, w + 2.0 * np.pi, w)


def measurement_dim(kind: str) -> int:
    """Dimension of the update-space measurement: the detection's, except los (2 tangent angles)."""
    return 2 if kind == "los" else KIND_DIMS[kind]


def residual(kind: str, z: Array, z_pred: Array) -> Array:
    """z − z_pred ``(..., m)`` with the kind's angle columns wrapped to (−π, π]."""
    d = np.asarray(z, dtype=np.float64) - z_pred
    cols = ANGLE_COLUMNS[kind]
    if cols:
        d = d.copy()
        d[..., cols] = wrap_angle_rad(d[..., cols])
    return d


# --- position ------------------------------------------------------------------------------------


def position_function(x: Array) -> Array:
    return np.array(x[:, 0:3])


# --- radar ---------------------------------------------------------------------------------------


def _sensor_rotation(sensor_pos_m: Array) -> Array:
    lat, lon, _ = ecef_to_geodetic(sensor_pos_m)
    return enu_rotation(lat, lon)


def radar_function(
    x: Array, sensor_pos_m: Array, sensor_vel_m_per_s: Array, rot_enu: Array | None = None
) -> Array:
    """(range_m, azimuth_rad in [0, 2π), elevation_rad, range_rate_m_per_s) ``(M, 4)``."""
    rot = _sensor_rotation(sensor_pos_m) if rot_enu is None else rot_enu
    d = x[:, 0:3] - sensor_pos_m
    enu = np.einsum("nij,nj->ni", rot, d)
    e, n, u = enu[:, 0], enu[:, 1], enu[:, 2]
    rho = np.hypot(e, n)
    rng = np.hypot(rho, u)
    z = np.empty((x.shape[0], 4))
    z[:, 0] = rng
    z[:, 1] = np.mod(np.arctan2(e, n), 2.0 * np.pi)
    z[:, 2] = np.arctan2(u, rho)
    z[:, 3] = np.einsum("ni,ni->n", d, x[:, 3:6] - sensor_vel_m_per_s) / rng
    return z


def radar_jacobian(
    x: Array, sensor_pos_m: Array, sensor_vel_m_per_s: Array, rot_enu: Array | None = None
) -> tuple[Array, Array]:
    """Radar h ``(M, 4)`` and its analytic Jacobian ``(M, 4, n)`` (module docstring)."""
    rot = _sensor_rotation(sensor_pos_m) if rot_enu is None else rot_enu
    m, n_state = x.shape
    d = x[:, 0:3] - sensor_pos_m
    dv = x[:, 3:6] - sensor_vel_m_per_s
    enu = np.einsum("nij,nj->ni", rot, d)
    e, n, u = enu[:, 0], enu[:, 1], enu[:, 2]
    rho2 = e * e + n * n
    rho = np.sqrt(rho2)
    r2 = rho2 + u * u
    rng = np.sqrt(r2)
    rr = np.einsum("ni,ni->n", d, dv) / rng
    z = np.stack([rng, np.mod(np.arctan2(e, n), 2.0 * np.pi), np.arctan2(u, rho), rr], axis=1)
    j_enu = np.zeros((m, 2, 3))
    j_enu[:, 0, 0] = n / rho2
    j_enu[:, 0, 1] = -e / rho2
    j_enu[:, 1, 0] = -e * u / (rho * r2)
    j_enu[:, 1, 1] = -n * u / (rho * r2)
    j_enu[:, 1, 2] = rho / r2
    h = np.zeros((m, 4, n_state))
    los = d / rng[:, None]
    h[:, 0, 0:3] = los
    h[:, 1:3, 0:3] = j_enu @ rot
    h[:, 3, 0:3] = (dv - rr[:, None] * los) / rng[:, None]
    h[:, 3, 3:6] = los
    return z, h


# --- OTH -----------------------------------------------------------------------------------------


def oth_function(x: Array, sensor_pos_m: Array, sensor_vel_m_per_s: Array | None = None) -> Array:
    """(ground_range_m, azimuth_rad, ground_range_rate_m_per_s) ``(M, 3)`` via `oth_measurement`.

    The OTH site is on the ground and its velocity is not used (the sensor model has none).
    """
    lat, lon, _ = ecef_to_geodetic(sensor_pos_m)
    g, az, gr = oth_measurement(lat, lon, x[:, 0:3], x[:, 3:6])  # type: ignore[arg-type]
    return np.stack([g, az, gr], axis=1)


def oth_jacobian(
    x: Array, sensor_pos_m: Array, sensor_vel_m_per_s: Array | None = None
) -> tuple[Array, Array]:
    """OTH h ``(M, 3)`` and its central-difference Jacobian ``(M, 3, n)`` (one batched call)."""
    m, n_state = x.shape
    steps = OTH_JACOBIAN_STEPS
    pert = np.broadcast_to(x[:, None, :], (m, 13, n_state)).copy()
    idx = np.arange(6)
    pert[:, 1 + idx, idx] += steps
    pert[:, 7 + idx, idx] -= steps
    sensor = np.repeat(sensor_pos_m, 13, axis=0)
    out = oth_function(pert.reshape(m * 13, n_state), sensor).reshape(m, 13, 3)
    z = out[:, 0]
    diff = out[:, 1:7] - out[:, 7:13]
    diff[..., 1] = wrap_angle_rad(diff[..., 1])
    h = np.zeros((m, 3, n_state))
    h[:, :, 0:6] = np.swapaxes(diff / (2.0 * steps)[None, :, None], 1, 2)
    return z, h


# --- LOS -----------------------------------------------------------------------------------------


def los_basis(x: Array, sensor_pos_m: Array) -> Array:
    """Orthonormal frame ``(M, 3, 3)`` per row: rows e₁, e₂, û with û the predicted line of sight.

    e₁ = û × k / |û × k| with k the ECEF axis least aligned with û (never degenerate), e₂ = û × e₁.
    """
    d = x[:, 0:3] - sensor_pos_m
    uhat = d / np.linalg.norm(d, axis=1, keepdims=True)
    k = np.zeros_like(uhat)
    k[np.arange(len(uhat)), np.argmin(np.abs(uhat), axis=1)] = 1.0
    e1 = np.cross(uhat, k)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(uhat, e1)
    return np.stack([e1, e2, uhat], axis=1)


def los_tangent_function(x: Array, sensor_pos_m: Array, basis: Array) -> Array:
    """Tangent-plane coordinates ``(M, 2)`` of the LOS to ``x`` in a fixed basis (rows e₁, e₂, û)."""
    c = np.einsum("nij,nj->ni", basis, x[:, 0:3] - sensor_pos_m)
    return c[:, 0:2] / c[:, 2:3]


# --- dispatch ------------------------------------------------------------------------------------


def measurement_function(
    kind: str, x: Array, sensor_pos_m: Array, sensor_vel_m_per_s: Array, los_frame: Array | None = None
) -> Array:
    """h(x) ``(M, m)`` in update space for one kind (for sigma points: ``los_frame`` from the prior)."""
    if kind == "position":
        return position_function(x)
    if kind == "radar":
        return radar_function(x, sensor_pos_m, sensor_vel_m_per_s)
    if kind == "oth":
        return oth_function(x, sensor_pos_m)
    if kind == "los":
        if los_frame is None:
            raise ValueError("los measurements need the basis from los_basis(x_prior, sensor_pos_m)")
        return los_tangent_function(x, sensor_pos_m, los_frame)
    raise ValueError(f"unknown measurement kind {kind!r}; expected one of {MEASUREMENT_KINDS}")


class Linearized(NamedTuple):
    """What a Kalman update needs for M rows of one kind: innovation, Jacobian, noise, update-space z."""

    innovation: Array  # (M, m), angles wrapped
    jacobian: Array  # (M, m, n)
    noise_cov: Array  # (M, m, m)
    z: Array  # (M, m), the measurement in update space
    z_pred: Array  # (M, m)


def los_measurement(z_unit: Array, cov3: Array, basis: Array) -> tuple[Array, Array]:
    """Measured LOS in tangent coordinates ``(M, 2)`` and its covariance Eᵀ cov E ``(M, 2, 2)``."""
    c = np.einsum("nij,nj->ni", basis, z_unit)
    e = basis[:, 0:2, :]
    return c[:, 0:2] / c[:, 2:3], e @ cov3 @ np.swapaxes(e, 1, 2)


def linearize(
    kind: str,
    x: Array,
    z: Array,
    cov: Array,
    sensor_pos_m: Array,
    sensor_vel_m_per_s: Array,
) -> Linearized:
    """EKF linearisation at ``x (M, n)`` of M detections of one kind.

    ``z (M, ≥k)`` and ``cov (M, ≥k, ≥k)`` may be the padded `DetectionBatch` arrays: the first k
    columns (k = `KIND_DIMS`) are used. For los, z and R are moved to the tangent frame about the
    predicted line of sight (module docstring).
    """
    k = KIND_DIMS[kind]
    zk, rk = z[:, :k], cov[:, :k, :k]
    m, n_state = x.shape
    if kind == "position":
        h = np.zeros((m, 3, n_state))
        h[:, :, 0:3] = np.eye(3)
        zp = position_function(x)
    elif kind == "radar":
        zp, h = radar_jacobian(x, sensor_pos_m, sensor_vel_m_per_s)
    elif kind == "oth":
        zp, h = oth_jacobian(x, sensor_pos_m)
    elif kind == "los":
        basis = los_basis(x, sensor_pos_m)
        zk, rk = los_measurement(zk, rk, basis)
        rng = np.linalg.norm(x[:, 0:3] - sensor_pos_m, axis=1)
        h = np.zeros((m, 2, n_state))
        h[:, :, 0:3] = basis[:, 0:2, :] / rng[:, None, None]
        zp = np.zeros((m, 2))
    else:
        raise ValueError(f"unknown measurement kind {kind!r}; expected one of {MEASUREMENT_KINDS}")
    return Linearized(residual(kind, zk, zp), h, rk, zk, zp)
