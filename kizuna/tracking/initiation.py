"""Track initiation: detections -> ECEF points with covariances -> tentative [p, v] states, batched.

Three steps, each an array operation over many detections or candidate pairs:

1. **Converted measurements** (`convert_radar`, `convert_oth`, `converted_positions`): a detection
   becomes an ECEF point with a first-order covariance.

   * ``position``: passes through (z[:3], cov[:3, :3]).
   * ``radar`` (R, az, el) at the sensor's geodetic ENU frame: p_enu = R (cos el sin az,
     cos el cos az, sin el), covariance J R_z Jᵀ with the Jacobian J = ∂p_enu/∂(R, az, el), then
     rotated to ECEF (C_ecef = Mᵀ C_enu M, M the ENU rotation). This is the standard *converted
     measurement* (Bar-Shalom, Li & Kirubarajan 2001, §10.4; Lerro & Bar-Shalom 1993,
     "Tracking with debiased consistent converted measurements versus EKF", IEEE T-AES 29(3)).
     **Not debiased.** The conversion has a multiplicative bias: E[cos(az + ε)] = e^{−σ²/2} cos az,
     so the mean converted point is pulled towards the sensor along the range direction by about
     R (1 − e^{−σ_az²/2} e^{−σ_el²/2}) ≈ R (σ_az² + σ_el²)/2 (for elevations near 0), and the
     linearised covariance misses the second-order spread R σ²/√2. Lerro & Bar-Shalom's criterion
     for the plain conversion to be consistent is R σ_θ² / σ_R < 0.4; for surveillance radars
     (σ_θ ≈ 1–3 mrad, R ≤ 500 km, σ_R ≥ 10 m: R σ² / σ_R ≤ 0.45) it is met or nearly, and an
     initial state is refined by the filter at once. The bias is tested, not hidden.
   * ``oth`` (ground range s, azimuth) has no altitude: the detection becomes the ground point at
     (s, az) from the site (the inverse of `kizuna.sensors.oth.oth_measurement`, by Newton's method
     on the WGS-84 ellipsoid from a spherical destination-point start, `OTH_NEWTON_ITERATIONS`
     steps), lifted to an *assumed* altitude ``oth_altitude_m`` (default 5 km) with a vertical
     standard deviation ``oth_altitude_sigma_m`` (default 5 km: 0–15 km at 2σ covers aircraft and
     cruise missiles, the targets an OTH radar sees). The horizontal covariance is J⁻¹ R_z J⁻ᵀ,
     J = ∂(s, az)/∂(east, north) at the ground point (finite differences of 100 m); the vertical
     variance is independent. The small scaling (R⊕ + h)/R⊕ of horizontal errors with height
     (0.08 % at 5 km) is ignored.
   * ``los`` rows give NaN here (a ray has no range): use `stereo_points`.

2. **Two-point differencing** (`two_point_states`): from points p1 at t1 and p2 at t2 > t1 with
   independent errors of covariances R1, R2, x = [p2, (p2 − p1)/Δt] and

       P = [[R2,     R2/Δt        ],
            [R2/Δt,  (R1 + R2)/Δt²]]

   (the "two-point differencing" initialisation of Bar-Shalom, Li & Kirubarajan 2001, *Estimation
   with Applications to Tracking and Navigation*, ch. 5, applied per axis with full 3 × 3 blocks).
   The state is at t2. Exact for constant-velocity motion; a manoeuvre between the two points
   adds a bias a Δt/2 to the velocity that this covariance does not contain.
   `pair_by_speed` proposes the pairs: points of an earlier set and a later set whose
   distance is at most v_max Δt plus a noise margin, found with one `scipy.spatial.cKDTree` radius
   query (``sparse_distance_matrix``) so that only the pairs inside the radius are ever formed.
   `initiate_from_scans` chains conversion, pairing and differencing for two detection batches.

3. **Stereo for angles-only rays** (`stereo_points`, `initiate_from_stereo`): rays of one frame
   are grouped with `kizuna.tracking.stereo.find_ray_groups` and triangulated with
   `kizuna.tracking.stereo.triangulate` (position and covariance A⁻¹); points of two consecutive
   frames are then paired and differenced exactly as in 2. **Choice:** two-point differencing
   across frames is the default because it yields a velocity whose covariance is honest (the
   triangulation errors of two frames are independent); `single_point_states` is the fallback for
   a point seen once (velocity 0 with a broad prior ``velocity_sigma_m_per_s`` per axis), e.g. the
   first frame of a stereo pair that never repeats.

Every candidate pair yields a tentative state: one detection may start several candidates, which
the track manager's M-of-N logic (`kizuna.tracking.lifecycle`) prunes. Bad rows (non-finite input)
come back NaN with ``ok`` False; they never raise.

Imports NumPy, SciPy, `kizuna.frames`, `kizuna.sensors.detections`, `kizuna.sensors.oth` (its
measurement function) and `kizuna.tracking.stereo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree
from scipy.stats import chi2

from kizuna.constants import MEAN_EARTH_RADIUS_M
from kizuna.frames import aer_to_enu, ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from kizuna.sensors.detections import MEASUREMENT_KINDS, DetectionBatch
from kizuna.sensors.oth import oth_measurement
from kizuna.tracking import kernels
from kizuna.tracking.measurements import wrap_angle_rad
from kizuna.tracking.stereo import (
    DEFAULT_GATE_PROBABILITY,
    DEFAULT_MIN_ANGLE_RAD,
    find_ray_groups,
    gather_groups,
    los_rays,
    triangulate,
)

__all__ = [
    "DEFAULT_MAX_SPEED_M_PER_S",
    "DEFAULT_OTH_ALTITUDE_M",
    "DEFAULT_OTH_ALTITUDE_SIGMA_M",
    "OTH_NEWTON_ITERATIONS",
    "ConvertedPositions",
    "Initiation",
    "PointPairs",
    "StereoPoints",
    "convert_oth",
    "convert_radar",
    "converted_positions",
    "initiate_from_scans",
    "initiate_from_stereo",
    "initiate_pairs",
    "pair_by_speed",
    "single_point_states",
    "stereo_points",
    "two_point_states",
]

Array = NDArray[np.float64]

DEFAULT_MAX_SPEED_M_PER_S = 8_000.0
"""Speed gate for pairing: faster than any ballistic missile below orbital speed (≈ 7 km/s at
intercontinental range)."""
DEFAULT_OTH_ALTITUDE_M = 5_000.0
"""Assumed altitude of an OTH detection's converted point [m]."""
DEFAULT_OTH_ALTITUDE_SIGMA_M = 5_000.0
"""Standard deviation of that assumed altitude [m]."""
OTH_NEWTON_ITERATIONS = 4
"""Newton steps of the OTH inversion: the spherical start is within 0.5 % of the range, each step
squares the relative error, so 3 reach millimetres; one more for margin."""
_OTH_STEP_M = 100.0
_KIND = {name: np.int8(i) for i, name in enumerate(MEASUREMENT_KINDS)}


# --- Converted measurements ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ConvertedPositions:
    """M detections as ECEF points: pos_m (M, 3), cov_m2 (M, 3, 3), time_s (M,), ok (M,).

    Rows that could not be converted (los, non-finite input) are NaN with ``ok`` False.
    """

    pos_m: Array
    cov_m2: Array
    time_s: Array
    ok: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.ok)


def _site_rotation(sensor_pos_m: Array) -> Array:
    lat, lon, _ = ecef_to_geodetic(sensor_pos_m)
    return enu_rotation(lat, lon)


def convert_radar(z: ArrayLike, cov: ArrayLike, sensor_pos_m: ArrayLike) -> tuple[Array, Array]:
    """Radar (range_m, azimuth_rad, elevation_rad[, …]) ``(M, ≥3)`` -> ECEF point and covariance.

    ``cov (M, ≥3, ≥3)``: the first three rows/columns are the (R, az, el) covariance. First-order
    conversion, not debiased (module docstring): p = s + Mᵀ p_enu, C = Mᵀ J C_z Jᵀ M with

        J = [[cos el sin az,  R cos el cos az, −R sin el sin az],
             [cos el cos az, −R cos el sin az, −R sin el cos az],
             [sin el,         0,                R cos el       ]].
    """
    zz = np.asarray(z, dtype=np.float64)
    c = np.asarray(cov, dtype=np.float64)[:, :3, :3]
    s = np.asarray(sensor_pos_m, dtype=np.float64)
    rng, az, el = zz[:, 0], zz[:, 1], zz[:, 2]
    rot = _site_rotation(s)
    enu = aer_to_enu(az, el, rng)
    ce, se, ca, sa = np.cos(el), np.sin(el), np.cos(az), np.sin(az)
    jac = np.zeros((len(rng), 3, 3))
    jac[:, 0, 0], jac[:, 0, 1], jac[:, 0, 2] = ce * sa, rng * ce * ca, -rng * se * sa
    jac[:, 1, 0], jac[:, 1, 1], jac[:, 1, 2] = ce * ca, -rng * ce * sa, -rng * se * ca
    jac[:, 2, 0], jac[:, 2, 2] = se, rng * ce
    m = np.swapaxes(rot, 1, 2) @ jac  # ∂p_ecef/∂(R, az, el)
    pos = s + np.einsum("nji,nj->ni", rot, enu)
    out = m @ c @ np.swapaxes(m, 1, 2)
    return pos, 0.5 * (out + np.swapaxes(out, 1, 2))


def _oth_ground(site_lat: Array, site_lon: Array, pts: Array) -> Array:
    g, az, _ = oth_measurement(site_lat, site_lon, pts, np.zeros_like(pts))  # type: ignore[arg-type]
    return np.stack([g, az], axis=1)


def convert_oth(
    z: ArrayLike,
    cov: ArrayLike,
    sensor_pos_m: ArrayLike,
    *,
    altitude_m: float = DEFAULT_OTH_ALTITUDE_M,
    altitude_sigma_m: float = DEFAULT_OTH_ALTITUDE_SIGMA_M,
) -> tuple[Array, Array]:
    """OTH (ground_range_m, azimuth_rad[, …]) ``(M, ≥2)`` -> ECEF point at an assumed altitude.

    Inverts the sensor's own measurement function (`kizuna.sensors.oth.oth_measurement`) by
    Newton's method in the local (east, north) plane of the current ground point, starting from
    the spherical destination point (δ = s / R⊕: sin φ₂ = sin φ₁ cos δ + cos φ₁ sin δ cos az,
    λ₂ = λ₁ + atan2(sin az sin δ cos φ₁, cos δ − sin φ₁ sin φ₂)). Covariance: horizontal
    J⁻¹ C_z J⁻ᵀ with J = ∂(s, az)/∂(east, north), vertical ``altitude_sigma_m``² (module docstring).
    """
    zz = np.asarray(z, dtype=np.float64)
    c = np.asarray(cov, dtype=np.float64)[:, :2, :2]
    s_pos = np.asarray(sensor_pos_m, dtype=np.float64)
    lat1, lon1, _ = ecef_to_geodetic(s_pos)
    rng, az = zz[:, 0], zz[:, 1]
    delta = rng / MEAN_EARTH_RADIUS_M
    lat2 = np.arcsin(np.clip(np.sin(lat1) * np.cos(delta) + np.cos(lat1) * np.sin(delta) * np.cos(az), -1, 1))
    lon2 = lon1 + np.arctan2(
        np.sin(az) * np.sin(delta) * np.cos(lat1), np.cos(delta) - np.sin(lat1) * np.sin(lat2)
    )
    m = len(rng)
    jac = np.zeros((m, 2, 2))
    for _ in range(OTH_NEWTON_ITERATIONS + 1):  # the last pass only evaluates J at the solution
        ground = geodetic_to_ecef(lat2, lon2, 0.0)
        rot = enu_rotation(lat2, lon2)
        pts = np.concatenate([ground, ground + _OTH_STEP_M * rot[:, 0], ground + _OTH_STEP_M * rot[:, 1]])
        f = _oth_ground(np.tile(lat1, 3), np.tile(lon1, 3), pts).reshape(3, m, 2)
        d = f[1:] - f[0]
        d[..., 1] = wrap_angle_rad(d[..., 1])
        jac = np.stack([d[0], d[1]], axis=2) / _OTH_STEP_M  # (m, 2 [s, az], 2 [e, n])
        res = zz[:, 0:2] - f[0]
        res[:, 1] = wrap_angle_rad(res[:, 1])
        with np.errstate(invalid="ignore"):
            step = np.linalg.solve(jac, res[..., None])[..., 0]
        lat2, lon2, _ = ecef_to_geodetic(ground + step[:, 0:1] * rot[:, 0] + step[:, 1:2] * rot[:, 1])
    pos = geodetic_to_ecef(lat2, lon2, altitude_m)
    rot = enu_rotation(lat2, lon2)
    jinv = np.linalg.inv(jac)
    cov_enu = np.zeros((m, 3, 3))
    cov_enu[:, 0:2, 0:2] = jinv @ c @ np.swapaxes(jinv, 1, 2)
    cov_enu[:, 2, 2] = altitude_sigma_m**2
    out = np.swapaxes(rot, 1, 2) @ cov_enu @ rot
    return pos, 0.5 * (out + np.swapaxes(out, 1, 2))


def converted_positions(
    batch: DetectionBatch,
    *,
    oth_altitude_m: float = DEFAULT_OTH_ALTITUDE_M,
    oth_altitude_sigma_m: float = DEFAULT_OTH_ALTITUDE_SIGMA_M,
) -> ConvertedPositions:
    """Every row of a batch as an ECEF point (position, radar, oth; los rows NaN, ``ok`` False)."""
    m = len(batch)
    pos = np.full((m, 3), np.nan)
    cov = np.full((m, 3, 3), np.nan)
    for name in ("position", "radar", "oth"):
        rows = np.flatnonzero(batch.kind == _KIND[name])
        if len(rows) == 0:
            continue
        z, c, s = batch.z[rows], batch.cov[rows], batch.sensor_pos_m[rows]
        if name == "position":
            pos[rows], cov[rows] = z[:, :3], c[:, :3, :3]
        elif name == "radar":
            pos[rows], cov[rows] = convert_radar(z, c, s)
        else:
            with np.errstate(invalid="ignore"):
                pos[rows], cov[rows] = convert_oth(
                    z, c, s, altitude_m=oth_altitude_m, altitude_sigma_m=oth_altitude_sigma_m
                )
    ok = np.isfinite(pos).all(axis=1) & np.isfinite(cov).all(axis=(1, 2))
    pos[~ok] = np.nan
    cov[~ok] = np.nan
    return ConvertedPositions(pos, cov, np.asarray(batch.time_s, dtype=np.float64).copy(), ok)


# --- Two-point differencing ----------------------------------------------------------------------


def two_point_states(
    pos1_m: ArrayLike,
    cov1_m2: ArrayLike,
    t1_s: ArrayLike,
    pos2_m: ArrayLike,
    cov2_m2: ArrayLike,
    t2_s: ArrayLike,
) -> tuple[Array, Array]:
    """x ``(K, 6)`` = [p2, (p2 − p1)/Δt] and P ``(K, 6, 6)`` at t2 (two-point differencing).

    P = [[R2, R2/Δt], [R2/Δt, (R1 + R2)/Δt²]] for independent point errors R1, R2; Δt = t2 − t1.
    """
    p1 = np.asarray(pos1_m, dtype=np.float64)
    p2 = np.asarray(pos2_m, dtype=np.float64)
    r1 = np.asarray(cov1_m2, dtype=np.float64)
    r2 = np.asarray(cov2_m2, dtype=np.float64)
    dt = (np.asarray(t2_s, dtype=np.float64) - np.asarray(t1_s, dtype=np.float64)).reshape(-1)
    dt = np.broadcast_to(dt, (p2.shape[0],))
    k = p2.shape[0]
    x = np.empty((k, 6))
    x[:, 0:3] = p2
    x[:, 3:6] = (p2 - p1) / dt[:, None]
    p = np.empty((k, 6, 6))
    inv = (1.0 / dt)[:, None, None]
    p[:, 0:3, 0:3] = r2
    p[:, 0:3, 3:6] = r2 * inv
    p[:, 3:6, 0:3] = np.swapaxes(r2, 1, 2) * inv
    p[:, 3:6, 3:6] = (r1 + r2) * inv**2
    return x, p


def single_point_states(
    pos_m: ArrayLike, cov_m2: ArrayLike, *, velocity_sigma_m_per_s: float = DEFAULT_MAX_SPEED_M_PER_S / 2.0
) -> tuple[Array, Array]:
    """One-point start: x = [p, 0], P = blockdiag(R, σ_v² I) (velocity unknown, a broad prior).

    The default σ_v = v_max / 2 puts v_max at 2σ on each axis.
    """
    p = np.asarray(pos_m, dtype=np.float64)
    r = np.asarray(cov_m2, dtype=np.float64)
    k = p.shape[0]
    x = np.zeros((k, 6))
    x[:, 0:3] = p
    cov = np.zeros((k, 6, 6))
    cov[:, 0:3, 0:3] = r
    cov[:, 3:6, 3:6] = np.eye(3) * velocity_sigma_m_per_s**2
    return x, cov


class PointPairs(NamedTuple):
    """Candidate pairs: first (K,) index into the earlier set, second (K,) into the later set.

    ``n_candidates``: pairs the radius query returned (all later checks run on these only).
    """

    first: NDArray[np.int64]
    second: NDArray[np.int64]
    n_candidates: int


def pair_by_speed(
    pos1_m: ArrayLike,
    t1_s: ArrayLike,
    pos2_m: ArrayLike,
    t2_s: ArrayLike,
    *,
    max_speed_m_per_s: float = DEFAULT_MAX_SPEED_M_PER_S,
    max_dt_s: float = np.inf,
    min_dt_s: float = 1e-3,
    margin_m: ArrayLike = 0.0,
) -> PointPairs:
    """Pairs (i, j) of an earlier point i and a later point j that one target could have made.

    Accepts min_dt_s ≤ t2_j − t1_i ≤ max_dt_s and |p2_j − p1_i| ≤ v_max (t2_j − t1_i) + margin,
    ``margin_m`` scalar or (M2,) (e.g. 3√(tr R1 + tr R2) for noisy points: `initiate_pairs`).
    One radius query of a `cKDTree` over the earlier points against one over the later points
    (``sparse_distance_matrix`` with radius v_max · (largest admissible Δt) + largest margin) forms
    only the pairs within that radius — never all M1 × M2 — and the exact gate runs on those.
    """
    p1 = np.asarray(pos1_m, dtype=np.float64).reshape(-1, 3)
    p2 = np.asarray(pos2_m, dtype=np.float64).reshape(-1, 3)
    t1 = np.broadcast_to(np.asarray(t1_s, dtype=np.float64), (len(p1),))
    t2 = np.broadcast_to(np.asarray(t2_s, dtype=np.float64), (len(p2),))
    margin = np.broadcast_to(np.asarray(margin_m, dtype=np.float64), (len(p2),))
    good1 = np.flatnonzero(np.isfinite(p1).all(axis=1) & np.isfinite(t1))
    good2 = np.flatnonzero(np.isfinite(p2).all(axis=1) & np.isfinite(t2) & np.isfinite(margin))
    empty = np.zeros(0, dtype=np.int64)
    if len(good1) == 0 or len(good2) == 0:
        return PointPairs(empty, empty, 0)
    dt_max = min(float(t2[good2].max() - t1[good1].min()), max_dt_s)
    if dt_max < min_dt_s:
        return PointPairs(empty, empty, 0)
    radius = max_speed_m_per_s * dt_max + float(margin[good2].max())
    if kernels.ENABLED and len(good1) * len(good2) <= kernels.BRUTE_FORCE_MAX_PAIRS:
        i, j, dist = kernels.speed_pairs(  # every pair tested: the trees' result
            np.ascontiguousarray(p1), good1, np.ascontiguousarray(p2), good2, radius
        )
        n_found = len(i)
    else:
        tree1 = cKDTree(p1[good1])
        tree2 = cKDTree(p2[good2])
        found = tree1.sparse_distance_matrix(tree2, radius, output_type="ndarray")
        i = good1[found["i"].astype(np.int64)]
        j = good2[found["j"].astype(np.int64)]
        dist, n_found = found["v"], len(found)
    dt = t2[j] - t1[i]
    keep = (dt >= min_dt_s) & (dt <= max_dt_s) & (dist <= max_speed_m_per_s * dt + margin[j])
    order = np.lexsort((i[keep], j[keep]))
    return PointPairs(i[keep][order], j[keep][order], n_found)


@dataclass(frozen=True, eq=False)
class Initiation:
    """K tentative states from pairs: x (K, 6), P (K, 6, 6) at time_s (K,) (the later point's time);
    first (K,), second (K,): the points (rows of the inputs) they came from; n_candidates: pairs
    the radius query formed."""

    x: Array
    P: Array
    time_s: Array
    first: NDArray[np.int64]
    second: NDArray[np.int64]
    n_candidates: int

    def __len__(self) -> int:
        return len(self.time_s)


def initiate_pairs(
    pos1_m: ArrayLike,
    cov1_m2: ArrayLike,
    t1_s: ArrayLike,
    pos2_m: ArrayLike,
    cov2_m2: ArrayLike,
    t2_s: ArrayLike,
    *,
    max_speed_m_per_s: float = DEFAULT_MAX_SPEED_M_PER_S,
    max_dt_s: float = np.inf,
    min_dt_s: float = 1e-3,
    margin_sigma: float = 3.0,
) -> Initiation:
    """Speed-gated pairs (`pair_by_speed`) of two point sets -> two-point states (`two_point_states`).

    The gate's noise margin for the later point j is ``margin_sigma`` √(max tr R1 + tr R2_j), the
    largest tr R1 over the earlier set (a bound, so no true pair is lost to noise).
    """
    p1 = np.asarray(pos1_m, dtype=np.float64).reshape(-1, 3)
    p2 = np.asarray(pos2_m, dtype=np.float64).reshape(-1, 3)
    r1 = np.asarray(cov1_m2, dtype=np.float64).reshape(-1, 3, 3)
    r2 = np.asarray(cov2_m2, dtype=np.float64).reshape(-1, 3, 3)
    t1 = np.broadcast_to(np.asarray(t1_s, dtype=np.float64), (len(p1),))
    t2 = np.broadcast_to(np.asarray(t2_s, dtype=np.float64), (len(p2),))
    tr1 = np.trace(r1, axis1=1, axis2=2)
    tr1_max = float(np.max(tr1[np.isfinite(tr1)], initial=0.0))
    margin = margin_sigma * np.sqrt(np.maximum(tr1_max + np.trace(r2, axis1=1, axis2=2), 0.0))
    pairs = pair_by_speed(
        p1,
        t1,
        p2,
        t2,
        max_speed_m_per_s=max_speed_m_per_s,
        max_dt_s=max_dt_s,
        min_dt_s=min_dt_s,
        margin_m=margin,
    )
    i, j = pairs.first, pairs.second
    x, p = two_point_states(p1[i], r1[i], t1[i], p2[j], r2[j], t2[j])
    return Initiation(x, p, t2[j].copy(), i, j, pairs.n_candidates)


def initiate_from_scans(
    previous: DetectionBatch,
    current: DetectionBatch,
    *,
    max_speed_m_per_s: float = DEFAULT_MAX_SPEED_M_PER_S,
    max_dt_s: float = np.inf,
    same_sensor: bool = False,
    margin_sigma: float = 3.0,
    oth_altitude_m: float = DEFAULT_OTH_ALTITUDE_M,
    oth_altitude_sigma_m: float = DEFAULT_OTH_ALTITUDE_SIGMA_M,
) -> Initiation:
    """Tentative states from the unassociated detections of two consecutive scans.

    Both batches are converted (`converted_positions`; los rows are skipped), paired by speed and
    differenced. ``first``/``second`` index rows of ``previous``/``current``. With ``same_sensor``
    only pairs from the same sensor are kept (a pair across sensors also carries the sensors'
    registration errors, which R1, R2 do not contain).
    """
    kw = {"oth_altitude_m": oth_altitude_m, "oth_altitude_sigma_m": oth_altitude_sigma_m}
    a = converted_positions(previous, **kw)
    b = converted_positions(current, **kw)
    init = initiate_pairs(
        a.pos_m, a.cov_m2, a.time_s, b.pos_m, b.cov_m2, b.time_s,
        max_speed_m_per_s=max_speed_m_per_s, max_dt_s=max_dt_s, margin_sigma=margin_sigma,
    )  # fmt: skip
    if not same_sensor:
        return init
    keep = previous.sensor_id[init.first] == current.sensor_id[init.second]
    return Initiation(
        init.x[keep], init.P[keep], init.time_s[keep], init.first[keep], init.second[keep], init.n_candidates
    )


# --- Stereo --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StereoPoints:
    """G triangulated points: pos_m (G, 3), cov_m2 (G, 3, 3), time_s (G,) (mean time of the rays),
    rows (G, K): the rays' rows in the source batch (−1 padding), chi2 (G,), dof (G,)."""

    pos_m: Array
    cov_m2: Array
    time_s: Array
    rows: NDArray[np.int64]
    chi2: Array
    dof: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.time_s)


def stereo_points(
    batch: DetectionBatch,
    *,
    max_dt_s: float = 0.5,
    gate_probability: float = DEFAULT_GATE_PROBABILITY,
    min_angle_rad: float = DEFAULT_MIN_ANGLE_RAD,
    max_rays: int = 3,
    speed_bound_m_per_s: float = 0.0,
    residual_probability: float = 0.999,
) -> StereoPoints:
    """Group the batch's ``los`` rays (`find_ray_groups`) and triangulate them (`triangulate`).

    Kept: groups whose triangulation is OK and, for three rays or more, whose residual χ² is
    below the χ²(2K − 3) quantile at ``residual_probability`` (two rays have 1 dof and already
    passed the pair gate).
    """
    rays = los_rays(batch)
    groups = find_ray_groups(
        rays.time_s, rays.sensor_id, rays.sensor_pos_m, rays.los, rays.sigma_rad,
        max_dt_s=max_dt_s, gate_probability=gate_probability, min_angle_rad=min_angle_rad,
        max_rays=max_rays, speed_bound_m_per_s=speed_bound_m_per_s,
    )  # fmt: skip
    p, u, s, valid = gather_groups(groups.index, rays.sensor_pos_m, rays.los, rays.sigma_rad)
    tri = triangulate(p, u, s, valid, min_angle_rad=min_angle_rad)
    keep = tri.ok.copy()
    big = keep & (tri.dof > 1)
    keep[big] = tri.chi2[big] <= chi2.ppf(residual_probability, tri.dof[big])
    idx = groups.index[keep]
    times = np.where(idx >= 0, rays.time_s[np.maximum(idx, 0)], 0.0)
    mean_t = times.sum(axis=1) / np.maximum((idx >= 0).sum(axis=1), 1)
    rows = np.where(idx >= 0, rays.index[np.maximum(idx, 0)], -1)
    return StereoPoints(tri.pos_m[keep], tri.cov_m2[keep], mean_t, rows, tri.chi2[keep], tri.dof[keep])


def initiate_from_stereo(
    previous: StereoPoints,
    current: StereoPoints,
    *,
    max_speed_m_per_s: float = DEFAULT_MAX_SPEED_M_PER_S,
    max_dt_s: float = np.inf,
    margin_sigma: float = 3.0,
) -> Initiation:
    """Tentative states from the triangulated points of two consecutive frames (two-point
    differencing, module docstring); ``first``/``second`` index the two `StereoPoints`."""
    return initiate_pairs(
        previous.pos_m, previous.cov_m2, previous.time_s, current.pos_m, current.cov_m2, current.time_s,
        max_speed_m_per_s=max_speed_m_per_s, max_dt_s=max_dt_s, margin_sigma=margin_sigma,
    )  # fmt: skip
