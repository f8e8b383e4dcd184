"""Gating and data association of N predicted tracks with M detections, batched.

Pipeline (each step a named function below; `gnn` and `jpda` run it end to end):

1. **Coarse gate** (`coarse_candidates`): a `scipy.spatial.cKDTree` over the predicted track
   positions, queried once per detection with a radius from both uncertainties, so the work is
   O((N + M) log N + candidates), never N × M.
2. **Fine gate** (`chi2_gate`): d² = νᵀ S⁻¹ ν with S = H P Hᵀ + R from
   `kizuna.tracking.measurements.linearize`, batched over the candidate pairs (a loop over the four
   kinds only); a pair is gated when d² ≤ γ = χ²_m⁻¹(gate_probability) for the kind's update-space
   dimension m.
3. **Clusters** (`clusters`): connected components of the bipartite graph of gated pairs
   (`scipy.sparse.csgraph.connected_components`); independent clusters are solved apart. Clusters of
   one track and one detection (the common case) are solved vectorised, without a solver call; the
   Python loop runs over the larger clusters only.
4. **GNN** (`gnn`): per cluster, `scipy.optimize.linear_sum_assignment` on reduced costs (the cost
   of a pair minus the cost of leaving both alone), with a private "not assigned" column per track
   (cost 0) so any track and any detection may stay unassigned.
5. **JPDA** (`jpda`, `pda_update`): marginal association probabilities β by exact enumeration of
   the joint events of each cluster (T. E. Fortmann, Y. Bar-Shalom & M. Scheffe, "Sonar tracking of
   multiple targets using joint probabilistic data association", IEEE J. Oceanic Eng. 8(3), 1983),
   and the PDA mixture update.

Coarse gate radii
-----------------
Let λ_P be the largest eigenvalue of a track's predicted position covariance and λ_C that of the
detection's position covariance. For any S = P' + C', νᵀ S⁻¹ ν ≥ |ν|² / (λ_P + λ_C), so d² ≤ γ implies
|ν| ≤ √(γ (λ_P + λ_C)). Tracks are split into buckets of λ_P within a factor 4 (σ within a factor 2),
one tree per bucket; each detection queries each bucket with the bucket's largest λ_P, and the
candidates are then cut with their own per-pair radius before the χ² step. One track with a huge
covariance (a new track) therefore does not inflate every query.

* ``position``: the point is z; the bound is exact (margin 1).
* ``radar``: the point is (R, az, el) at the sensor converted with `kizuna.frames.aer_to_ecef`; λ_C is
  that of J⁻¹ R₃ J⁻ᵀ with J the polar Jacobian at the detection (the converted-measurement
  covariance); the χ² of the (R, az, el) marginal is ≤ the full one, so the 4-D γ applies. The bound
  holds for the linearised map; curvature (the arc against the chord, J at the track against J at
  the detection) is covered by the margin ``nonlinear_margin`` (1.5) on the radius.
* ``oth``: gated **in 2-D on the ground**: a second tree holds the tracks' sub-points (height 0) and
  the detection's ground point is the destination at (ground range, azimuth) from the site (spherical
  destination, then three fixed-point corrections with the sensor's own Lambert-range/normal-section
  azimuth function so the point reproduces the measurement). λ_C from diag(1, g) R₂ diag(1, g); the
  triangle inequality on the ground gives a √2, covered by the 1.5 margin. Heights never enter.
* ``los``: a ray from the sensor. With r the track's range and δ its distance from the ray,
  |ν| ≥ tan θ ≥ δ/r and λ(H P Hᵀ) = λ_P/r², so d² ≥ δ²/(λ_P + r² σ²) with σ² = λ(cov): the bound is
  exact. The ray is clipped to the bucket's bounding sphere and covered by at most ``los_max_samples``
  balls (radius ρ(t) + Δ/2, ρ the perpendicular bound at the far end of each piece): cost per LOS
  detection O(samples · log N + candidates); with the cap, long rays use fewer, larger balls and pass
  more candidates to the exact distance cut. Tracks behind the sensor (û·u_m ≤ 0) are rejected by the
  fine gate too: the tangent-plane projection would alias them.

Numba
-----
With `kizuna.tracking.kernels` enabled (the default; ``KIZUNA_NUMBA=0`` turns it off) the 3-D part
of the coarse gate tests every pair (small N·M) or sweeps sorted tracks (large) instead of the
trees, the ``position`` χ² gate is one fused loop, and the clusters come from union-find: the same
pairs, values and labels as the NumPy/SciPy code (tests/test_tracking_kernels.py).

Costs
-----
``cost="mahalanobis"`` (default): pair cost d², leaving a pair unassigned costs γ of its kind, so the
reduced cost is d² − γ ≤ 0 for every gated pair. Unit-free, hence comparable across measurement
kinds with no clutter model; it does not penalise a pair for a large S (a poor track wins ties).
``cost="likelihood"``: the negative log-likelihood ratio of "track i made detection j" against
"track i missed and j is clutter" (Blackman & Popoli, *Design and Analysis of Modern Tracking
Systems*, 1999, ch. 6, the generalised statistical distance with the non-assignment cost):
d² + ln|2πS| + 2 ln(λ_c (1 − P_D)/P_D), with λ_c the clutter density in the kind's update-space units
(then ln|S| and ln λ_c share units and the costs compare across kinds). Pairs with positive reduced
cost are never assigned.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.special import logsumexp
from scipy.stats import chi2

from kizuna.constants import MEAN_EARTH_RADIUS_M
from kizuna.frames import aer_to_ecef, ecef_to_geodetic, geodetic_to_ecef
from kizuna.sensors.detections import KIND_DIMS, MEASUREMENT_KINDS, DetectionBatch
from kizuna.tracking import kernels
from kizuna.tracking.filters import joseph_update, symmetrize
from kizuna.tracking.lifecycle import largest_eigenvalue_3x3
from kizuna.tracking.measurements import (
    linearize,
    measurement_dim,
    measurement_function,
    radar_jacobian,
    wrap_angle_rad,
)

__all__ = [
    "Assignment",
    "AssociationParameters",
    "Associator",
    "Gating",
    "JpdaResult",
    "chi2_gate",
    "clusters",
    "coarse_candidates",
    "gate",
    "gate_threshold",
    "gnn",
    "jpda",
    "pda_update",
]

Array = NDArray[np.float64]
Index = NDArray[np.intp]
_LOG_2PI = float(np.log(2.0 * np.pi))
_DIMS = np.array([measurement_dim(k) for k in MEASUREMENT_KINDS])
_POS, _RADAR, _OTH, _LOS = (MEASUREMENT_KINDS.index(k) for k in ("position", "radar", "oth", "los"))


@dataclass(frozen=True)
class AssociationParameters:
    """Gate, cost and JPDA settings (module docstring).

    ``clutter_density``: false alarms per unit volume of the update-space measurement, one number or
    one per kind (e.g. per m³ for position, per m·rad²·(m/s) for radar, per rad² for los).
    """

    gate_probability: float = 0.9999
    cost: Literal["mahalanobis", "likelihood"] = "mahalanobis"
    detection_probability: float = 0.9
    clutter_density: float | Mapping[str, float] = 1e-9
    nonlinear_margin: float = 1.5
    los_max_samples: int = 256
    jpda_max_events: int = 20_000


@lru_cache(maxsize=64)
def gate_threshold(kind: str, gate_probability: float) -> float:
    """γ = χ²⁻¹(gate_probability) with the kind's update-space dimension (`measurement_dim`)."""
    return float(chi2.ppf(gate_probability, measurement_dim(kind)))


@lru_cache(maxsize=16)
def _kind_thresholds(gate_probability: float) -> Array:
    gamma = np.array([gate_threshold(k, gate_probability) for k in MEASUREMENT_KINDS])
    gamma.flags.writeable = False
    return gamma


def _thresholds(params: AssociationParameters) -> Array:
    """γ per kind, indexed like `MEASUREMENT_KINDS` (read-only, cached per gate probability)."""
    return _kind_thresholds(params.gate_probability)


class Gating(NamedTuple):
    """Gated (track, detection) pairs with their statistics, and how many χ² were evaluated."""

    track_index: Index  # (K,)
    detection_index: Index  # (K,)
    d2: Array  # (K,) νᵀ S⁻¹ ν
    log_det_s: Array  # (K,) ln|S|
    threshold: Array  # (K,) γ of the detection's kind
    n_chi2_evaluations: int


class Assignment(NamedTuple):
    """GNN result: assigned pairs, and what stayed unassigned."""

    track_index: Index  # (K,)
    detection_index: Index  # (K,)
    cost: Array  # (K,) reduced cost of each assigned pair (≤ 0)
    unassigned_tracks: Index
    unassigned_detections: Index
    n_chi2_evaluations: int
    n_clusters: int


class JpdaResult(NamedTuple):
    """JPDA marginals: β per gated pair and β₀ (no detection) per track; Σ β + β₀ = 1 per track."""

    track_index: Index  # (K,)
    detection_index: Index  # (K,)
    beta: Array  # (K,)
    beta_missed: Array  # (N,)
    exact: NDArray[np.bool_]  # (N,) False where the cluster was too large and fell back to GNN
    n_chi2_evaluations: int


# --- Coarse gate ---------------------------------------------------------------------------------


def _max_eig(c: Array) -> tuple[Array, NDArray[np.bool_]]:
    """Largest eigenvalue of a stack of symmetric matrices and a finite mask (bad rows give NaN)."""
    if kernels.ENABLED and c.shape[1:] == (3, 3):  # fused twin of the lines below
        return kernels.max_eig_3x3(c, 1.0 + 1e-6, False)
    ok = np.isfinite(c).all(axis=(1, 2))
    safe = np.where(ok[:, None, None], c, np.eye(c.shape[1]))
    if c.shape[1:] == (3, 3):  # closed form (Smith 1961), ~1e-8 relative at worst: pad so it bounds
        lam = largest_eigenvalue_3x3(symmetrize(safe)) * (1.0 + 1e-6)
    else:
        lam = np.linalg.eigvalsh(symmetrize(safe))[:, -1]
    return np.where(ok, np.maximum(lam, 0.0), np.nan), ok


def _oth_ground_point(z: Array, sensor_pos_m: Array, iterations: int = 3) -> Array:
    """ECEF ground point at (ground range, azimuth) from each OTH site.

    Spherical destination (e.g. Sinnott / the standard great-circle "direct" problem) from the site's
    geodetic (lat, lon), then fixed-point corrections of the commanded range and azimuth with the
    sensor's own measurement function, so the point reproduces (g, az) to far below the OTH noise.
    """
    lat1, lon1, _ = ecef_to_geodetic(sensor_pos_m)
    g_cmd, az_cmd = z[:, 0].copy(), z[:, 1].copy()
    zeros = np.zeros_like(sensor_pos_m)
    point = sensor_pos_m
    for k in range(iterations + 1):
        delta = g_cmd / MEAN_EARTH_RADIUS_M
        lat2 = np.arcsin(np.sin(lat1) * np.cos(delta) + np.cos(lat1) * np.sin(delta) * np.cos(az_cmd))
        lon2 = lon1 + np.arctan2(
            np.sin(az_cmd) * np.sin(delta) * np.cos(lat1), np.cos(delta) - np.sin(lat1) * np.sin(lat2)
        )
        point = geodetic_to_ecef(lat2, lon2, 0.0)
        if k == iterations:
            break
        got = measurement_function("oth", np.concatenate([point, zeros], axis=1), sensor_pos_m, zeros)
        g_cmd = g_cmd + (z[:, 0] - got[:, 0])
        az_cmd = az_cmd + wrap_angle_rad(z[:, 1] - got[:, 1])
    return point


def _detection_points(det: DetectionBatch, gamma: Array, margin: float) -> tuple[Array, Array, Array]:
    """Per detection: a query point (ECEF; OTH on the ground; LOS the sensor), λ_C, and the margin."""
    m = len(det)
    point = np.full((m, 3), np.nan)
    lam_c = np.full(m, np.nan)
    factor = np.ones(m)
    for k, name in enumerate(MEASUREMENT_KINDS):
        rows = np.flatnonzero(det.kind == k)
        if rows.size == 0:
            continue
        dim = KIND_DIMS[name]
        z, cov = det.z[rows, :dim], det.cov[rows, :dim, :dim]
        spos, svel = det.sensor_pos_m[rows], det.sensor_vel_m_per_s[rows]
        if k == _POS:
            point[rows], (lam_c[rows], _) = z, _max_eig(cov)
            factor[rows] = 1.0 + 1e-9
        elif k == _RADAR:
            lat, lon, alt = ecef_to_geodetic(spos)
            p = aer_to_ecef(z[:, 1], z[:, 2], z[:, 0], lat, lon, alt)
            _, h = radar_jacobian(np.concatenate([p, svel], axis=1), spos, svel)
            jinv = np.linalg.inv(np.where(np.isfinite(h[:, :3, :3]), h[:, :3, :3], np.eye(3)))
            point[rows], (lam_c[rows], _) = p, _max_eig(jinv @ cov[:, :3, :3] @ np.swapaxes(jinv, 1, 2))
            factor[rows] = margin
        elif k == _OTH:
            a = np.zeros((rows.size, 2, 2))
            a[:, 0, 0], a[:, 1, 1] = 1.0, z[:, 0]
            point[rows] = _oth_ground_point(z, spos)
            lam_c[rows], _ = _max_eig(a @ cov[:, :2, :2] @ a)
            factor[rows] = margin
        else:  # los: the query point is the sensor; the ray is handled by _los_pairs
            point[rows], (lam_c[rows], _) = spos, _max_eig(cov)
    bad = ~(np.isfinite(point).all(axis=1) & np.isfinite(lam_c) & np.isfinite(det.z[:, 0]))
    lam_c[bad] = np.nan
    return point, lam_c, factor


def _ball_pairs(tree: cKDTree, points: Array, radii: Array) -> tuple[Index, Index]:
    """(query row, tree row) pairs of `query_ball_point` with one radius per point, as flat arrays."""
    if len(points) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    hits = tree.query_ball_point(points, radii, return_sorted=False)
    counts = np.fromiter((len(h) for h in hits), dtype=np.intp, count=len(hits))
    rows = np.repeat(np.arange(len(points)), counts)
    cols = np.fromiter(itertools.chain.from_iterable(hits), dtype=np.intp, count=int(counts.sum()))
    return rows, cols


def _los_pairs(
    tree: cKDTree,
    pos: Array,
    lam_bucket: float,
    det: DetectionBatch,
    rows: Index,
    gamma: Array,
    lam_c: Array,
    max_samples: int,
) -> tuple[Index, Index]:
    """Candidate (detection, bucket-track) pairs for LOS rays (module docstring: exact bound)."""
    s = det.sensor_pos_m[rows]
    u = det.z[rows, :3] / np.linalg.norm(det.z[rows, :3], axis=1, keepdims=True)
    g, sig2 = gamma[rows], lam_c[rows]
    centre = pos.mean(axis=0)
    r_pos = float(np.max(np.linalg.norm(pos - centre, axis=1)))

    def rho(t: Array) -> Array:  # perpendicular bound at along-ray distance t (δ ≤ ρ(t_foot))
        return np.sqrt(g * (lam_bucket + t * t * sig2) / np.maximum(1.0 - g * sig2, 1e-12))

    far = np.linalg.norm(s - centre, axis=1) + r_pos
    r_bound = r_pos + rho(far)
    t_c = np.einsum("ij,ij->i", u, centre - s)
    miss2 = np.sum((s + t_c[:, None] * u - centre) ** 2, axis=1)
    half = np.sqrt(np.maximum(r_bound**2 - miss2, 0.0))
    t0, t1 = np.maximum(t_c - half, 0.0), t_c + half
    live = (miss2 <= r_bound**2) & (t1 > t0) & np.isfinite(t0 + t1)
    length = np.where(live, t1 - t0, 0.0)
    n_s = np.clip(np.ceil(length / np.maximum(rho(t0), 1.0)), 1, max_samples)
    n_s = np.where(live, n_s, 0).astype(np.intp)
    owner = np.repeat(np.arange(len(rows)), n_s)
    k = np.arange(int(n_s.sum())) - np.repeat(np.cumsum(n_s) - n_s, n_s)
    step = length[owner] / n_s[owner]
    t_k = t0[owner] + (k + 0.5) * step
    radius = (
        np.sqrt(
            g[owner]
            * (lam_bucket + (t_k + 0.5 * step) ** 2 * sig2[owner])
            / np.maximum(1.0 - g[owner] * sig2[owner], 1e-12)
        )
        + 0.5 * step
    )
    sample, cols = _ball_pairs(tree, s[owner] + t_k[:, None] * u[owner], radius)
    key = np.unique(owner[sample] * np.int64(len(pos)) + cols)
    return (key // len(pos)).astype(np.intp), (key % len(pos)).astype(np.intp)


def coarse_candidates(
    x: Array, p: Array, det: DetectionBatch, params: AssociationParameters | None = None
) -> tuple[Index, Index]:
    """Candidate pairs (track_index, detection_index) that may pass the χ² gate (module docstring).

    A superset of the χ² gate's pairs by construction (exactly for position and los, with a margin
    for the curvature of radar and OTH); rows with non-finite state, covariance or measurement are
    never candidates. Cost O(B (M log N) + candidates) with B buckets of track uncertainty.
    """
    params = params or AssociationParameters()
    n_tracks = len(x)
    gamma = _thresholds(params)[det.kind.astype(np.intp)]
    lam_p, ok_p = _max_eig(p[:, :3, :3]) if n_tracks else (np.zeros(0), np.zeros(0, bool))
    ok_p &= np.isfinite(x[:, :3]).all(axis=1)
    point, lam_c, factor = _detection_points(det, gamma, params.nonlinear_margin)
    ok_d = np.isfinite(lam_c)
    bucket = np.floor(np.log2(np.maximum(lam_p, 1e-6)) / 2.0)
    ti_all: list[Index] = []
    dj_all: list[Index] = []
    kind = det.kind
    space_rows = {
        "3d": np.flatnonzero(ok_d & ((kind == _POS) | (kind == _RADAR))),
        "ground": np.flatnonzero(ok_d & (kind == _OTH)),
        "ray": np.flatnonzero(ok_d & (kind == _LOS)),
    }
    if kernels.ENABLED and space_rows["3d"].size and n_tracks:  # the tree query's pairs, cut (kernels)
        args = (np.ascontiguousarray(x[:, :3]), ok_p, lam_p)
        more = (point, space_rows["3d"], lam_c, factor, gamma)
        if n_tracks * space_rows["3d"].size <= kernels.BRUTE_FORCE_MAX_PAIRS:
            ti, dj = kernels.ball_pairs_3d(*args, *more)
        else:
            ti, dj = kernels.sweep_pairs_3d(*args, bucket, *more)
        ti_all.append(ti)
        dj_all.append(dj)
        space_rows["3d"] = space_rows["3d"][:0]
    buckets = np.unique(bucket[ok_p]) if any(rows.size for rows in space_rows.values()) else []
    for b in buckets:
        members = np.flatnonzero(ok_p & (bucket == b))
        pos = x[members, :3]
        lam_b = float(lam_p[members].max())
        tree = cKDTree(pos)
        for space, rows in space_rows.items():
            if rows.size == 0:
                continue
            if space == "ray":
                dj, tj = _los_pairs(tree, pos, lam_b, det, rows, gamma, lam_c, params.los_max_samples)
                ti_all.append(members[tj])
                dj_all.append(rows[dj])
                continue
            if space == "3d":
                tree_pos, space_tree = pos, tree
            else:
                lat, lon, _ = ecef_to_geodetic(pos)
                tree_pos = geodetic_to_ecef(lat, lon, 0.0)
                space_tree = cKDTree(tree_pos)
            radius = factor[rows] * np.sqrt(gamma[rows] * (lam_b + lam_c[rows]))
            dj, tj = _ball_pairs(space_tree, point[rows], radius)
            # Per-pair radius: the track's own λ_P, not the bucket's largest.
            d = rows[dj]
            dist2 = np.sum((point[d] - tree_pos[tj]) ** 2, axis=1)
            keep = dist2 <= factor[d] ** 2 * gamma[d] * (lam_p[members[tj]] + lam_c[d])
            ti_all.append(members[tj[keep]])
            dj_all.append(d[keep])
    if not ti_all:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    ti, dj = np.concatenate(ti_all), np.concatenate(dj_all)
    los = det.kind[dj] == _LOS
    if los.any():  # exact per-pair LOS cut: δ² ≤ γ (λ_P + r² σ²), track in front of the sensor
        s = det.sensor_pos_m[dj[los]]
        u = det.z[dj[los], :3] / np.linalg.norm(det.z[dj[los], :3], axis=1, keepdims=True)
        d = x[ti[los], :3] - s
        t = np.einsum("ij,ij->i", d, u)
        r2 = np.sum(d * d, axis=1)
        ok = (t > 0) & (r2 - t * t <= gamma[dj[los]] * (lam_p[ti[los]] + r2 * lam_c[dj[los]]) * (1 + 1e-9))
        keep = np.ones(len(ti), bool)
        keep[np.flatnonzero(los)[~ok]] = False
        ti, dj = ti[keep], dj[keep]
    return ti.astype(np.intp), dj.astype(np.intp)


# --- Fine gate -----------------------------------------------------------------------------------


def chi2_gate(
    x: Array, p: Array, det: DetectionBatch, track_index: Index, detection_index: Index
) -> tuple[Array, Array]:
    """d² = νᵀ S⁻¹ ν and ln|S| for the given pairs, S = H P Hᵀ + R (EKF linearisation at the prior).

    Batched over pairs, grouped by kind. Non-finite inputs give d² = NaN (never gated). A LOS pair
    whose track is behind the sensor (û·u_m ≤ 0) gets d² = +∞.
    """
    d2 = np.full(len(track_index), np.nan)
    log_det = np.full(len(track_index), np.nan)
    for k, name in enumerate(MEASUREMENT_KINDS):
        sel = np.flatnonzero(det.kind[detection_index] == k)
        if sel.size == 0:
            continue
        ti, dj = track_index[sel], detection_index[sel]
        if k == _POS and kernels.ENABLED:  # fused twin of the lines below
            d2[sel], log_det[sel] = kernels.position_gate(
                np.ascontiguousarray(x, np.float64), np.ascontiguousarray(p, np.float64),
                np.ascontiguousarray(det.z, np.float64), np.ascontiguousarray(det.cov, np.float64),
                ti.astype(np.intp), dj.astype(np.intp),
            )  # fmt: skip
            continue
        lin = linearize(name, x[ti], det.z[dj], det.cov[dj], det.sensor_pos_m[dj], det.sensor_vel_m_per_s[dj])
        h = lin.jacobian
        s = symmetrize(h @ p[ti] @ np.swapaxes(h, 1, 2) + lin.noise_cov)
        nu = lin.innovation
        ok = np.isfinite(s).all(axis=(1, 2)) & np.isfinite(nu).all(axis=1)
        s_safe = np.where(ok[:, None, None], s, np.eye(s.shape[1]))
        nu_safe = np.where(ok[:, None], nu, 0.0)
        sign, ld = np.linalg.slogdet(s_safe)
        ok &= sign > 0
        val = np.einsum("ni,ni->n", nu_safe, np.linalg.solve(s_safe, nu_safe[..., None])[..., 0])
        if k == _LOS:
            front = np.einsum("ij,ij->i", x[ti, :3] - det.sensor_pos_m[dj], det.z[dj, :3]) > 0
            val = np.where(front, val, np.inf)
        d2[sel] = np.where(ok, val, np.nan)
        log_det[sel] = np.where(ok, ld, np.nan)
    return d2, log_det


def gate(x: Array, p: Array, det: DetectionBatch, params: AssociationParameters | None = None) -> Gating:
    """Coarse then χ² gate: the pairs with d² ≤ γ, and the number of χ² evaluations made."""
    params = params or AssociationParameters()
    ti, dj = coarse_candidates(x, p, det, params)
    d2, log_det = chi2_gate(x, p, det, ti, dj)
    gamma = _thresholds(params)[det.kind[dj].astype(np.intp)]
    keep = np.isfinite(d2) & (d2 <= gamma)
    return Gating(ti[keep], dj[keep], d2[keep], log_det[keep], gamma[keep], len(ti))


# --- Clusters and costs --------------------------------------------------------------------------


def clusters(n_tracks: int, n_detections: int, track_index: Index, detection_index: Index) -> Index:
    """Cluster label of each gated pair: connected components of the bipartite (track, detection) graph."""
    if len(track_index) == 0:
        return np.zeros(0, np.intp)
    n = n_tracks + n_detections
    if kernels.ENABLED:  # union-find; the same labels as the lines below
        a = np.asarray(track_index, dtype=np.int64)
        labels = kernels.component_labels(n, a, n_tracks + np.asarray(detection_index, dtype=np.int64))
        return labels[track_index].astype(np.intp)
    graph = coo_matrix((np.ones(len(track_index)), (track_index, n_tracks + detection_index)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels[track_index].astype(np.intp)


def _clutter_density(det: DetectionBatch, detection_index: Index, params: AssociationParameters) -> Array:
    c = params.clutter_density
    if isinstance(c, Mapping):
        per_kind = np.array([float(c.get(k, np.nan)) for k in MEASUREMENT_KINDS])
        return per_kind[det.kind[detection_index].astype(np.intp)]
    return np.full(len(detection_index), float(c))


def _reduced_cost(g: Gating, det: DetectionBatch, params: AssociationParameters) -> Array:
    """Cost of each gated pair minus the cost of leaving its track and detection unassigned."""
    if params.cost == "mahalanobis":
        return g.d2 - g.threshold
    if params.cost == "likelihood":
        pd = params.detection_probability
        lam = _clutter_density(det, g.detection_index, params)
        m = _DIMS[det.kind[g.detection_index].astype(np.intp)]
        return g.d2 + g.log_det_s + m * _LOG_2PI + 2.0 * np.log(lam * (1.0 - pd) / pd)
    raise ValueError(f"cost must be 'mahalanobis' or 'likelihood'; got {params.cost!r}")


def _split_clusters(labels: Index) -> tuple[Index, list[Index]]:
    """Pairs that form one-edge clusters, and the pair indices of each larger cluster."""
    counts = np.bincount(labels) if len(labels) else np.zeros(0, np.intp)
    single = np.flatnonzero(counts[labels] == 1)
    multi = np.flatnonzero(counts[labels] > 1)
    order = multi[np.argsort(labels[multi], kind="stable")]
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    return single, (np.split(order, cuts) if order.size else [])


# --- GNN -----------------------------------------------------------------------------------------


def _solve_cluster(ti: Index, dj: Index, cost: Array) -> Index:
    """Positions (into ti/dj) of the pairs of the minimum-cost partial assignment of one cluster.

    Matrix (tracks × (detections + tracks)): reduced pair costs, +∞ where not gated or positive, and
    a private zero "not assigned" column per track; detections left over are unassigned.
    """
    tracks, tl = np.unique(ti, return_inverse=True)
    dets, dl = np.unique(dj, return_inverse=True)
    nt, nd = len(tracks), len(dets)
    c = np.full((nt, nd + nt), np.inf)
    c[tl, dl] = np.where(cost <= 0.0, cost, np.inf)
    c[np.arange(nt), nd + np.arange(nt)] = 0.0
    where = np.full((nt, nd), -1, dtype=np.intp)
    where[tl, dl] = np.arange(len(ti))
    rows, cols = linear_sum_assignment(c)
    real = cols < nd
    return where[rows[real], cols[real]]


def _gnn_pairs(g: Gating, cost: Array, labels: Index) -> Index:
    """Indices of the assigned gated pairs, cluster by cluster."""
    single, groups = _split_clusters(labels)
    chosen = [single[cost[single] <= 0.0]]
    chosen += [grp[_solve_cluster(g.track_index[grp], g.detection_index[grp], cost[grp])] for grp in groups]
    return np.sort(np.concatenate(chosen)).astype(np.intp)


def gnn(
    x: Array,
    p: Array,
    det: DetectionBatch,
    params: AssociationParameters | None = None,
    group: Index | None = None,
) -> Assignment:
    """Global nearest neighbour: gate, cluster, and solve each cluster's 2-D assignment (module docstring).

    ``group (M,)``, optional: a non-negative group code per detection (e.g. its sensor). Each track
    then takes at most one detection *per group* — several sensors reporting at the same time may
    each update a track — by assigning to (track, group) nodes; without it, one detection per track.
    """
    params = params or AssociationParameters()
    g = gate(x, p, det, params)
    cost = _reduced_cost(g, det, params)
    node, n_nodes = g.track_index, len(x)
    if group is not None and len(g.track_index):
        n_groups = int(group.max()) + 1
        node = g.track_index * n_groups + group[g.detection_index]
        n_nodes = len(x) * n_groups
    labels = clusters(n_nodes, len(det), node, g.detection_index)
    pick = _gnn_pairs(g._replace(track_index=node), cost, labels)
    ti, dj = g.track_index[pick], g.detection_index[pick]
    unassigned_t = np.ones(len(x), bool)
    unassigned_t[ti] = False
    unassigned_d = np.ones(len(det), bool)
    unassigned_d[dj] = False
    return Assignment(
        ti,
        dj,
        cost[pick],
        np.flatnonzero(unassigned_t).astype(np.intp),
        np.flatnonzero(unassigned_d).astype(np.intp),
        g.n_chi2_evaluations,
        len(np.unique(labels)),
    )


# --- JPDA ----------------------------------------------------------------------------------------


def _enumerate_events(track_local: Index, det_local: Index, nt: int, cap: int) -> NDArray[np.intp] | None:
    """All joint events of a cluster as rows ``(E, nt)``: the local detection of each track, or −1.

    Each detection is used by at most one track (Fortmann et al. 1983 feasibility). None when the
    number of events exceeds ``cap``.
    """
    events = np.zeros((1, 0), dtype=np.intp)
    for t in range(nt):
        blocks = [np.column_stack([events, np.full(len(events), -1)])]
        for d in det_local[track_local == t]:
            free = ~(events == d).any(axis=1)
            blocks.append(np.column_stack([events[free], np.full(int(free.sum()), d)]))
        events = np.concatenate(blocks)
        if len(events) > cap:
            return None
    return events


def jpda(x: Array, p: Array, det: DetectionBatch, params: AssociationParameters | None = None) -> JpdaResult:
    """JPDA marginal association probabilities (Fortmann, Bar-Shalom & Scheffe 1983).

    Event weight ∏_(assigned i,j) L_ij · ∏_(unassigned tracks) (1 − P_D P_G), with the likelihood ratio
    L_ij = P_D N(ν_ij; 0, S_ij) / λ_c (λ_c the clutter density of the detection's kind, P_G the gate
    probability); β_ij is the sum of the normalised weights of the events holding (i, j). For one
    track this is the PDA of Bar-Shalom, Daum & Huang, "The probabilistic data association filter",
    IEEE Control Systems Magazine 29(6), 2009, eq. (39)–(41). Exact enumeration per cluster, vectorised
    over events; a cluster with more than ``jpda_max_events`` events falls back to GNN (β = 1 for the
    GNN pair, β₀ = 1 for an unassigned track) and is flagged ``exact = False``.
    """
    params = params or AssociationParameters()
    g = gate(x, p, det, params)
    pd, pg = params.detection_probability, params.gate_probability
    m = _DIMS[det.kind[g.detection_index].astype(np.intp)]
    log_l = (
        np.log(pd)
        - 0.5 * (g.d2 + g.log_det_s + m * _LOG_2PI)
        - np.log(_clutter_density(det, g.detection_index, params))
    )
    log_miss = float(np.log1p(-pd * pg))
    beta = np.zeros(len(g.track_index))
    beta_missed = np.ones(len(x))
    exact = np.ones(len(x), dtype=bool)
    labels = clusters(len(x), len(det), g.track_index, g.detection_index)
    single, groups = _split_clusters(labels)
    # One track, one detection: β = L / (1 − P_D P_G + L).
    b1 = np.exp(log_l[single] - np.logaddexp(log_miss, log_l[single]))
    beta[single], beta_missed[g.track_index[single]] = b1, 1.0 - b1
    cost = _reduced_cost(g, det, params)
    for grp in groups:
        tracks, tl = np.unique(g.track_index[grp], return_inverse=True)
        dets, dl = np.unique(g.detection_index[grp], return_inverse=True)
        nt, nd = len(tracks), len(dets)
        events = _enumerate_events(tl, dl, nt, params.jpda_max_events)
        if events is None:
            won = grp[_solve_cluster(g.track_index[grp], g.detection_index[grp], cost[grp])]
            beta[won] = 1.0
            beta_missed[tracks] = 1.0
            beta_missed[g.track_index[won]] = 0.0
            exact[tracks] = False
            continue
        w = np.full((nt, nd + 1), -np.inf)  # column nd (= index −1) is "no detection"
        w[tl, dl] = log_l[grp]
        w[:, nd] = log_miss
        log_e = w[np.arange(nt)[None, :], events].sum(axis=1)
        prob = np.exp(log_e - logsumexp(log_e))
        marg = np.zeros((nt, nd + 1))
        np.add.at(marg, (np.broadcast_to(np.arange(nt), events.shape), events), prob[:, None])
        beta[grp] = marg[tl, dl]
        beta_missed[tracks] = marg[:, nd]
    return JpdaResult(g.track_index, g.detection_index, beta, beta_missed, exact, g.n_chi2_evaluations)


def pda_update(x: Array, p: Array, det: DetectionBatch, result: JpdaResult) -> tuple[Array, Array]:
    """(J)PDA state update: the moment-matched mixture of the per-pair EKF updates and the prior.

    x⁺ = β₀ x + Σ β_j x_j,  P⁺ = β₀ [P + (x − x⁺)(·)ᵀ] + Σ β_j [P_j + (x_j − x⁺)(·)ᵀ], with x_j, P_j the
    Joseph-form EKF update with detection j. When every pair of a track shares H and R this is exactly
    Bar-Shalom, Daum & Huang 2009 eq. (42)–(46): x⁺ = x + K ν̄, P⁺ = β₀ P + (1 − β₀) Pᶜ + K [Σ β_j ν_j
    ν_jᵀ − ν̄ ν̄ᵀ] Kᵀ; with mixed kinds or sensors each pair keeps its own gain.
    """
    ti, dj, beta = result.track_index, result.detection_index, result.beta
    xk = np.zeros((len(ti), x.shape[1]))
    pk = np.zeros((len(ti), *p.shape[1:]))
    for k, name in enumerate(MEASUREMENT_KINDS):
        sel = np.flatnonzero(det.kind[dj] == k)
        if sel.size == 0:
            continue
        t, d = ti[sel], dj[sel]
        lin = linearize(name, x[t], det.z[d], det.cov[d], det.sensor_pos_m[d], det.sensor_vel_m_per_s[d])
        upd = joseph_update(x[t], p[t], lin.innovation, lin.jacobian, lin.noise_cov)
        xk[sel], pk[sel] = upd.x, upd.P
    b0 = result.beta_missed
    x_out = b0[:, None] * x
    np.add.at(x_out, ti, beta[:, None] * xk)
    dx0 = x - x_out
    p_out = b0[:, None, None] * (p + dx0[:, :, None] * dx0[:, None, :])
    dx = xk - x_out[ti]
    np.add.at(p_out, ti, beta[:, None, None] * (pk + dx[:, :, None] * dx[:, None, :]))
    return x_out, symmetrize(p_out)


# --- Front door ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Associator:
    """The association step of a tracker: ``Associator(params).gnn(x, P, detections)`` or ``.jpda``."""

    params: AssociationParameters = AssociationParameters()

    def gnn(self, x: Array, p: Array, det: DetectionBatch) -> Assignment:
        return gnn(x, p, det, self.params)

    def jpda(self, x: Array, p: Array, det: DetectionBatch) -> JpdaResult:
        return jpda(x, p, det, self.params)
