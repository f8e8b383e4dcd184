"""Angles-only stereo: triangulate lines of sight from two or more sensors into ECEF points.

A ``los`` detection (see `kizuna.sensors.detections`) is a ray: the sensor's ECEF position p and a
unit line of sight u, with covariance σ²(I − u uᵀ) on u. Rays from different sensors (satellites)
taken at (nearly) the same time that pass close to each other are the same target seen in stereo;
their least-squares intersection is a 3-D position with a covariance set by the geometry.

Two pieces, both batched:

* `triangulate` — G independent groups of up to K rays -> G points, covariances and a per-group
  status (`TriangulationStatus`); one bad group never stops the batch.
* `find_ray_groups` — given M rays, find pairs (and triples, …) from different sensors whose rays
  pass within a χ² gate of each other; `gather_groups` turns the groups into `triangulate` input.

Derivation (used by `triangulate`). The perpendicular offset of a point x from ray i is
d_i(x) = P_i (x − p_i) with P_i = I − u_i u_iᵀ. An angular error δu_i ⊥ u_i (covariance σ_i² P_i)
moves the ray, at range R_i = u_iᵀ(x − p_i), sideways by R_i δu_i: to first order
d_i(x_true) = −R_i δu_i, covariance σ_i² R_i² P_i (rank 2). The weighted least-squares point

    x̂ = argmin Σ_i w_i |P_i (x − p_i)|²,  w_i = 1 / (σ_i R_i)²
      ⇔ (Σ_i w_i P_i) x̂ = Σ_i w_i P_i p_i                                  (normal equations)

is the best linear unbiased estimate (P_i is idempotent, so the weight σ_i⁻²R_i⁻² P_i is the
pseudo-inverse of the offset covariance), and its covariance is

    cov(x̂) = A⁻¹ (Σ_i w_i² P_i σ_i² R_i² P_i) A⁻¹ = A⁻¹,   A = Σ_i P_i / (σ_i R_i)².

The ranges are unknown before the point is; the first pass uses w_i = 1/σ_i², the ranges of that
solution give the weights of the second pass (one iteration changes the ranges only by the
position error, a relative change of order σ, so a third pass changes nothing measurable). The
residual χ² = Σ_i w_i |P_i (x̂ − p_i)|² has 2K − 3 degrees of freedom.

For two rays the residual is the closest-approach distance d of the two lines:
χ² = d² / (σ_1² R_1² + σ_2² R_2²) with 1 degree of freedom (minimise w_1 a² + w_2 b² with
a + b = d). That is the pair gate of `find_ray_groups`.

Imports NumPy, SciPy (χ² quantiles) and `kizuna.sensors.detections` (the ``los`` layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import chi2

from kizuna.sensors.detections import MEASUREMENT_KINDS, DetectionBatch

__all__ = [
    "DEFAULT_GATE_PROBABILITY",
    "DEFAULT_MIN_ANGLE_RAD",
    "LosRays",
    "RayGroups",
    "TriangulationResult",
    "TriangulationStatus",
    "closest_approach",
    "find_ray_groups",
    "gather_groups",
    "los_rays",
    "triangulate",
]

Array = NDArray[np.float64]

DEFAULT_MIN_ANGLE_RAD = float(np.deg2rad(2.0))
"""Smallest intersection angle between two lines of sight accepted for triangulation. The depth
error grows as 1/sin θ (two rays: σR/√(1 − cos θ) along the bisector), so at 2° it is about 40×
the cross-range error; below that the point is an extrapolation of noise."""

DEFAULT_GATE_PROBABILITY = 0.999
"""Probability mass of the χ² gate on the closest approach of two rays (1 dof: χ² < 10.83)."""

_LOS_KIND = np.int8(MEASUREMENT_KINDS.index("los"))
_MIN_RANGE_M = 1.0
"""Floor on a ray's range in the weights, so that a point on top of a sensor cannot divide by 0."""


class TriangulationStatus(IntEnum):
    """Why a group did or did not give a point (``TriangulationResult.status``)."""

    OK = 0
    TOO_FEW_RAYS = 1
    """Fewer than two valid rays (invalid flag, non-finite input, zero LOS or σ ≤ 0)."""
    NEAR_PARALLEL = 2
    """The widest angle between any two of the group's lines is below ``min_angle_rad``."""
    BEHIND_SENSOR = 3
    """The least-squares point lies behind (or on) one of the sensors: the rays do not meet."""


@dataclass(frozen=True, eq=False)
class TriangulationResult:
    """G triangulated groups. Rows that are not OK hold NaN in ``pos_m`` and ``cov_m2``.

    pos_m (G, 3): ECEF point [m]; cov_m2 (G, 3, 3): its covariance [m²]; status (G,) int8
    (`TriangulationStatus`); ok (G,): status == OK; angle_rad (G,): widest line-to-line angle in
    the group, in [0, π/2]; range_m (G, K): range along each ray to the point (NaN for unused
    rays); chi2 (G,): residual Σ w_i |P_i (x̂ − p_i)|²; dof (G,): 2K − 3 for K valid rays.
    """

    pos_m: Array
    cov_m2: Array
    status: NDArray[np.int8]
    angle_rad: Array
    range_m: Array
    chi2: Array
    dof: NDArray[np.int64]

    @property
    def ok(self) -> NDArray[np.bool_]:
        return self.status == TriangulationStatus.OK

    def __len__(self) -> int:
        return len(self.status)


def _normalise(v: Array) -> tuple[Array, NDArray[np.bool_]]:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    good = (norm[..., 0] > 0) & np.isfinite(norm[..., 0])
    return np.where(good[..., None], v / np.where(good[..., None], norm, 1.0), 0.0), good


def _max_line_angle_rad(u: Array, valid: NDArray[np.bool_]) -> Array:
    """Widest angle between any two valid lines of each group, in [0, π/2]: arcsin max |u_i × u_j|."""
    cross = np.linalg.norm(np.cross(u[:, :, None, :], u[:, None, :, :]), axis=-1)  # (G, K, K)
    pair = valid[:, :, None] & valid[:, None, :]
    sin_max = np.max(np.where(pair, cross, 0.0), axis=(1, 2), initial=0.0)
    return np.arcsin(np.clip(sin_max, 0.0, 1.0))


def triangulate(
    sensor_pos_m: ArrayLike,
    los: ArrayLike,
    sigma_rad: ArrayLike,
    valid: ArrayLike | None = None,
    *,
    min_angle_rad: float = DEFAULT_MIN_ANGLE_RAD,
    iterations: int = 1,
) -> TriangulationResult:
    """Weighted least-squares intersection of G independent groups of up to K rays.

    Args:
        sensor_pos_m: (G, K, 3) ECEF positions of the sensors at the measurement times [m].
        los: (G, K, 3) lines of sight in ECEF, from sensor to target (normalised here).
        sigma_rad: (G, K) angular standard deviation of each line of sight per axis [rad] (the
            ``los`` covariance is σ²(I − u uᵀ)).
        valid: (G, K) which rays to use (default all); padding rays are ignored.
        min_angle_rad: groups whose widest line-to-line angle is smaller are NEAR_PARALLEL.
        iterations: re-weighting passes with the ranges of the previous solution (module
            docstring); 1 is enough.

    Returns a `TriangulationResult`: x̂ from (Σ w_i P_i) x̂ = Σ w_i P_i p_i with
    w_i = 1/(σ_i R_i)², covariance A⁻¹ = (Σ P_i/(σ_i R_i)²)⁻¹ (derivation in the module docstring).
    Cost O(G K²) (the pairwise angle check), all in NumPy.
    """
    p = np.asarray(sensor_pos_m, dtype=np.float64)
    u_raw = np.asarray(los, dtype=np.float64)
    sigma = np.asarray(sigma_rad, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] != 3 or u_raw.shape != p.shape or sigma.shape != p.shape[:2]:
        raise ValueError(
            f"triangulate expects sensor_pos_m (G, K, 3), los (G, K, 3), sigma_rad (G, K); got "
            f"{p.shape}, {u_raw.shape}, {sigma.shape}"
        )
    g, k = sigma.shape
    use = np.ones((g, k), dtype=bool) if valid is None else np.asarray(valid, dtype=bool).copy()
    if use.shape != (g, k):
        raise ValueError(f"triangulate: valid has shape {use.shape}, expected {(g, k)}")

    u, u_good = _normalise(u_raw)
    use &= u_good & np.isfinite(p).all(axis=-1) & np.isfinite(sigma) & (sigma > 0)
    p = np.where(use[..., None], p, 0.0)
    sig = np.where(use, sigma, 1.0)
    n_rays = use.sum(axis=1)

    status = np.full(g, TriangulationStatus.OK, dtype=np.int8)
    angle = _max_line_angle_rad(u, use)
    status[angle < min_angle_rad] = TriangulationStatus.NEAR_PARALLEL
    status[n_rays < 2] = TriangulationStatus.TOO_FEW_RAYS
    solvable = status == TriangulationStatus.OK

    # Work relative to the mean sensor position: keeps the normal equations well scaled.
    origin = np.sum(p * use[..., None], axis=1) / np.maximum(n_rays, 1)[:, None]  # (G, 3)
    q = np.where(use[..., None], p - origin[:, None, :], 0.0)
    proj = np.eye(3) - u[..., :, None] * u[..., None, :]  # P_i = I − u uᵀ, (G, K, 3, 3)
    identity = np.broadcast_to(np.eye(3), (g, 3, 3))

    def normal_matrix(weight: Array) -> tuple[Array, Array]:
        wp = weight[..., None, None] * proj
        a = np.where(solvable[:, None, None], wp.sum(axis=1), identity)  # A = Σ w_i P_i
        return a, np.einsum("gkij,gkj->gi", wp, q)  # and Σ w_i P_i p_i

    def solve(weight: Array) -> Array:
        a, b = normal_matrix(weight)
        return np.linalg.solve(a, b[..., None])[..., 0]

    def range_weights(x: Array) -> tuple[Array, Array]:
        rng = np.einsum("gki,gki->gk", u, x[:, None, :] - q)  # R_i = u_iᵀ (x − p_i)
        return rng, np.where(use, 1.0 / (sig * np.maximum(np.abs(rng), _MIN_RANGE_M)) ** 2, 0.0)

    x = solve(np.where(use, 1.0 / sig**2, 0.0))  # first pass: unit ranges
    for _ in range(iterations):
        x = solve(range_weights(x)[1])
    rng, weight = range_weights(x)
    a, _ = normal_matrix(weight)  # inverse covariance at the final point
    behind = solvable & np.any(use & (rng <= 0.0), axis=1)
    status[behind] = TriangulationStatus.BEHIND_SENSOR
    ok = status == TriangulationStatus.OK

    cov = np.linalg.inv(a)
    offset = np.einsum("gkij,gkj->gki", proj, x[:, None, :] - q)
    chi2_res = np.sum(weight * np.sum(offset**2, axis=-1), axis=1)

    pos = np.where(ok[:, None], x + origin, np.nan)
    cov = np.where(ok[:, None, None], 0.5 * (cov + np.swapaxes(cov, -1, -2)), np.nan)
    return TriangulationResult(
        pos_m=pos,
        cov_m2=cov,
        status=status,
        angle_rad=angle,
        range_m=np.where(use & ok[:, None], rng, np.nan),
        chi2=np.where(ok, chi2_res, np.nan),
        dof=np.maximum(2 * n_rays - 3, 0).astype(np.int64),
    )


# --- Finding stereo groups ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LosRays:
    """M lines of sight pulled out of a `DetectionBatch` (``los`` rows only).

    index (M,): row in the source batch; time_s (M,); sensor_id (M,); sensor_pos_m (M, 3) ECEF;
    los (M, 3) unit ECEF; sigma_rad (M,): σ from the covariance σ²(I − u uᵀ), whose trace is 2σ².
    """

    index: NDArray[np.int64]
    time_s: Array
    sensor_id: NDArray[np.object_]
    sensor_pos_m: Array
    los: Array
    sigma_rad: Array

    def __len__(self) -> int:
        return len(self.index)


def los_rays(batch: DetectionBatch) -> LosRays:
    """The ``los`` detections of a batch as rays (σ² = trace(cov) / 2 for the rank-2 covariance)."""
    index = np.flatnonzero(batch.kind == _LOS_KIND).astype(np.int64)
    cov = batch.cov[index, :3, :3]
    return LosRays(
        index=index,
        time_s=batch.time_s[index],
        sensor_id=batch.sensor_id[index],
        sensor_pos_m=batch.sensor_pos_m[index],
        los=batch.z[index, :3],
        sigma_rad=np.sqrt(np.trace(cov, axis1=1, axis2=2) / 2.0),
    )


def closest_approach(p1: Array, u1: Array, p2: Array, u2: Array) -> tuple[Array, Array, Array]:
    """Closest approach of lines p1 + s u1 and p2 + t u2 (unit u; any matching leading shape).

    Returns (distance_m, s_m, t_m): the miss distance and the ranges along each line to its
    closest point. Closed form: with w = p1 − p2, b = u1·u2, d = u1·w, e = u2·w,
    s = (b e − d)/(1 − b²), t = (e − b d)/(1 − b²). Parallel lines give NaN ranges.
    """
    w = p1 - p2
    b = np.sum(u1 * u2, axis=-1)
    d = np.sum(u1 * w, axis=-1)
    e = np.sum(u2 * w, axis=-1)
    denom = 1.0 - b**2
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > 0, (b * e - d) / denom, np.nan)
        t = np.where(denom > 0, (e - b * d) / denom, np.nan)
    miss = w + s[..., None] * u1 - t[..., None] * u2
    return np.linalg.norm(miss, axis=-1), s, t


@dataclass(frozen=True, eq=False)
class RayGroups:
    """Stereo groups found among M rays.

    index (G, max_rays): ray indices (into the arrays given to `find_ray_groups`), −1 padding;
    pair_chi2 (G,): closest-approach χ² of the group's founding pair (1 dof).
    """

    index: NDArray[np.int64]
    pair_chi2: Array

    def __len__(self) -> int:
        return len(self.index)


def _greedy(rows: NDArray[np.int64], cols: NDArray[np.int64], cost: Array) -> NDArray[np.bool_]:
    """Accept candidate (row, col) links by increasing cost, each row and each col at most once."""
    order = np.argsort(cost, kind="stable")
    taken_r: set[int] = set()
    taken_c: set[int] = set()
    accept = np.zeros(len(cost), dtype=bool)
    for i in order:
        r, c = int(rows[i]), int(cols[i])
        if r in taken_r or c in taken_c:
            continue
        taken_r.add(r)
        taken_c.add(c)
        accept[i] = True
    return accept


def find_ray_groups(
    time_s: ArrayLike,
    sensor_id: ArrayLike,
    sensor_pos_m: ArrayLike,
    los: ArrayLike,
    sigma_rad: ArrayLike,
    *,
    max_dt_s: float,
    gate_probability: float = DEFAULT_GATE_PROBABILITY,
    min_angle_rad: float = DEFAULT_MIN_ANGLE_RAD,
    max_rays: int = 3,
    speed_bound_m_per_s: float = 0.0,
) -> RayGroups:
    """Group rays from different sensors that see the same point at (nearly) the same time.

    1. **Frames**: rays sorted by time; a new frame starts where consecutive times differ by more
       than ``max_dt_s``. Within a frame a pair also needs |t_i − t_j| ≤ ``max_dt_s``.
    2. **Pair gate** (vectorised over the frame's n rays, n × n): different sensors, intersection
       angle ≥ ``min_angle_rad``, both closest points in front of their sensors (s, t > 0), and
       χ² = d² / (σ_i² s² + σ_j² t² + (v |t_i − t_j|)²) below the χ²(1) quantile at
       ``gate_probability`` (d: closest-approach distance, `closest_approach`; v:
       ``speed_bound_m_per_s``, how far a target can move between the two looks).
    3. **Pairs**: gated pairs accepted greedily by increasing χ², each ray in one group at most.
    4. **Extension** (up to ``max_rays``): a free ray from a sensor not yet in the group that gates
       with every member joins the group with the lowest summed χ², again greedily.

    Complexity: O(M log M) for the sort plus O(Σ_f n_f²) for the frames' pair matrices and
    O(E log E) for the greedy steps over E gated candidates; no all-pairs test across frames.
    Greedy matching is not the optimal partition (a multi-dimensional assignment); with rays
    that are sparse relative to the gate they agree. Triangulate the result with `gather_groups`
    + `triangulate` and check its χ² (2K − 3 dof) for groups of three or more.
    """
    t = np.asarray(time_s, dtype=np.float64)
    sid = np.asarray(sensor_id, dtype=object)
    p = np.asarray(sensor_pos_m, dtype=np.float64)
    u, _ = _normalise(np.asarray(los, dtype=np.float64))
    sigma = np.asarray(sigma_rad, dtype=np.float64)
    m = len(t)
    if not (sid.shape == (m,) and p.shape == (m, 3) and u.shape == (m, 3) and sigma.shape == (m,)):
        raise ValueError(
            f"find_ray_groups expects time_s (M,), sensor_id (M,), sensor_pos_m (M, 3), los (M, 3), "
            f"sigma_rad (M,); got {t.shape}, {sid.shape}, {p.shape}, {u.shape}, {sigma.shape}"
        )
    if max_rays < 2:
        raise ValueError(f"find_ray_groups: max_rays must be at least 2, got {max_rays}")
    gate = float(chi2.ppf(gate_probability, df=1))
    sin_min = np.sin(min_angle_rad)

    order = np.argsort(t, kind="stable")
    frame_start = np.flatnonzero(np.r_[True, np.diff(t[order]) > max_dt_s])
    frame_end = np.r_[frame_start[1:], m]

    groups: list[NDArray[np.int64]] = []
    chis: list[Array] = []
    for a, b in zip(frame_start, frame_end, strict=True):
        idx = order[a:b]
        n = len(idx)
        if n < 2:
            continue
        pi, ui, si, ti, di = p[idx], u[idx], sigma[idx], t[idx], sid[idx]
        dist, s, r = closest_approach(pi[:, None], ui[:, None], pi[None, :], ui[None, :])
        dt = np.abs(ti[:, None] - ti[None, :])
        var = (si[:, None] * s) ** 2 + (si[None, :] * r) ** 2 + (speed_bound_m_per_s * dt) ** 2
        sin_ang = np.linalg.norm(np.cross(ui[:, None], ui[None, :]), axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            c2 = dist**2 / var
        ok = (
            (di[:, None] != di[None, :])
            & (dt <= max_dt_s)
            & (sin_ang >= sin_min)
            & (s > 0)
            & (r > 0)
            & (c2 <= gate)
        )
        ok &= ok.T
        c2 = np.where(ok, c2, np.inf)
        ii, jj = np.nonzero(np.triu(ok, 1))
        if len(ii) == 0:
            continue
        # each ray is one resource whichever end of the pair it is on
        used = np.zeros(n, dtype=bool)
        members: list[tuple[int, int]] = []
        pair_c2: list[float] = []
        for k in np.argsort(c2[ii, jj], kind="stable"):
            i, j = int(ii[k]), int(jj[k])
            if not used[i] and not used[j]:
                used[i] = used[j] = True
                members.append((i, j))
                pair_c2.append(float(c2[i, j]))
        grp = np.full((len(members), max_rays), -1, dtype=np.int64)
        grp[:, :2] = np.asarray(members, dtype=np.int64)
        for level in range(2, max_rays):
            cand = ~used[None, :] & np.ones((len(grp), n), dtype=bool)
            cost = np.zeros((len(grp), n))
            for col in range(level):
                mem = grp[:, col]
                have = mem >= 0
                cand &= np.where(have[:, None], ok[np.maximum(mem, 0)], True)
                cand &= np.where(have[:, None], di[np.maximum(mem, 0)][:, None] != di[None, :], True)
                cost += np.where(have[:, None], c2[np.maximum(mem, 0)], 0.0)
            cand &= grp[:, level - 1 : level] >= 0  # only groups that are full so far
            rr, kk = np.nonzero(cand)
            if len(rr) == 0:
                break
            add = _greedy(rr, kk, cost[rr, kk])
            grp[rr[add], level] = kk[add]
            used[kk[add]] = True
        groups.append(np.where(grp >= 0, idx[np.maximum(grp, 0)], -1))
        chis.append(np.asarray(pair_c2, dtype=np.float64))
    if not groups:
        return RayGroups(np.zeros((0, max_rays), dtype=np.int64), np.zeros(0))
    return RayGroups(np.concatenate(groups), np.concatenate(chis))


def gather_groups(
    index: ArrayLike, sensor_pos_m: ArrayLike, los: ArrayLike, sigma_rad: ArrayLike
) -> tuple[Array, Array, Array, NDArray[np.bool_]]:
    """(G, K) ray indices with −1 padding -> `triangulate` inputs (pos (G,K,3), los, σ (G,K), valid)."""
    idx = np.asarray(index, dtype=np.int64)
    valid = idx >= 0
    safe = np.maximum(idx, 0)
    p = np.asarray(sensor_pos_m, dtype=np.float64)[safe]
    u = np.asarray(los, dtype=np.float64)[safe]
    s = np.asarray(sigma_rad, dtype=np.float64)[safe]
    return p, u, s, valid
