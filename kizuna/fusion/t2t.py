"""Track-to-track association: which track of source A and which track of source B are one object.

Owns the χ² track-to-track distance, its gate and the assignment of two track sets, batched.
Imports NumPy and SciPy only.

Distance
--------
For tracks a and b the distance is

    d² = Δᵀ (Pa + Pb)⁻¹ Δ,   Δ = xa − xb,

over the first ``dims`` state components (6: position and velocity; 3: position only; any value from
3 to n). The cross-covariance Pab of the two tracks' errors is unknown (common process noise, common
sensors) and is ignored: the true covariance of Δ is Pa + Pb − Pab − Pabᵀ, smaller than Pa + Pb when
the errors are positively correlated, so d² here is on the low side and the gate errs towards
accepting (the right direction for association; Y. Bar-Shalom, "On the track-to-track correlation
problem", IEEE Trans. Automatic Control 26(2), 1981, gives Pab for common process noise when the
filters are known). A pair is gated when
d² ≤ γ = χ²⁻¹_dims(gate_probability) (`gate`).

Coarse pre-gate
---------------
Never Na × Nb: with λ the largest eigenvalue of a track's 3×3 position covariance, the marginal χ² of
the position components is ≤ d² (for dims ≥ 3) and ΔpᵀS⁻¹Δp ≥ |Δp|² / (λa + λb), so d² ≤ γ implies
|Δp| ≤ √(γ (λa + λb)) ≤ √γ (σa + σb). The A tracks are split into buckets of λ within a factor 4 (σ
within a factor 2), one `scipy.spatial.cKDTree` per bucket; each B track queries each bucket with
the bucket's largest λ, and the candidates are cut with their own per-pair radius before the χ²
step. The pre-gate therefore loses no pair under the gate, and one new track with a huge covariance
does not inflate every query. Cost O(buckets · Nb log Na + candidates).

Output form
-----------
`t2t_distances` returns **triplets** (`T2tPairs`: ``a_index``, ``b_index``, ``d2``) of the gated pairs
only, sorted by (a, b). Triplets rather than a `scipy.sparse` matrix because a d² of exactly 0 (the
same track received twice) is a real entry that sparse formats treat as structural zero and drop;
``scipy.sparse.coo_array((d2, (a_index, b_index)), shape=(Na, Nb))`` builds one when wanted.

Assignment
----------
`associate_tracks` is global nearest neighbour on the gated pairs: the connected components of the
bipartite graph (`scipy.sparse.csgraph.connected_components`) are solved apart; components of one
pair (the common case) are matched in bulk without a solver; each larger one goes to
`scipy.optimize.linear_sum_assignment` on the reduced cost d² − γ (≤ 0 for a gated pair) with a
private zero-cost "unmatched" column per row, so any track may stay unmatched. It thus minimises
Σ (d² − γ) over the matched pairs: leaving a pair unmatched costs γ, so more matches win unless they
raise Σ d² by more than γ each (the classical non-assignment cost; Blackman & Popoli, *Design and
Analysis of Modern Tracking Systems*, 1999, ch. 6).

``forbid = (label_a, label_b)`` removes every pair whose labels are equal before the assignment — the
node uses it so that one system track never takes two tracks of one source nation. ``label_a`` may
be ``(Na,)`` or ``(Na, k)``: a row of k labels (a system track holding several nations), padded with
a value that never occurs in ``label_b``; a pair is forbidden when ``label_b[j]`` equals any label of
row i. Labels are compared with ``==`` (integers or strings).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.stats import chi2

__all__ = ["T2tAssignment", "T2tPairs", "associate_tracks", "gate", "t2t_distances"]

Array = NDArray[np.float64]
Index = NDArray[np.intp]
Labels = NDArray[np.generic]
_CHUNK = 65_536  # pairs per stacked χ² evaluation (bounds the temporary (K, d, d) arrays)
_PAD = 1.0 + 1e-9  # relative margin on the coarse radii against rounding


class T2tPairs(NamedTuple):
    """Gated pairs as triplets sorted by (a, b), and how many coarse candidates were χ²-tested."""

    a_index: Index  # (K,)
    b_index: Index  # (K,)
    d2: Array  # (K,) Δᵀ (Pa + Pb)⁻¹ Δ ≤ γ
    n_candidates: int


@dataclass(frozen=True, eq=False)
class T2tAssignment:
    """Matched pairs (sorted by ``a_index``) with their d², and the rows of each side left unmatched."""

    a_index: Index
    b_index: Index
    d2: Array
    unmatched_a: Index
    unmatched_b: Index


@lru_cache(maxsize=64)
def gate(dims: int, probability: float) -> float:
    """γ = χ²⁻¹(probability) with ``dims`` degrees of freedom (cached)."""
    if int(dims) != dims or dims < 1 or not 0.0 < probability < 1.0:
        raise ValueError(f"gate needs an integer dims >= 1 and 0 < probability < 1; got {dims}, "
                         f"{probability}")
    return float(chi2.ppf(probability, int(dims)))


# --- Distances -----------------------------------------------------------------------------------


def _tracks(x: ArrayLike, p: ArrayLike, side: str, dims: int) -> tuple[Array, Array]:
    xs = np.asarray(x, dtype=np.float64)
    ps = np.asarray(p, dtype=np.float64)
    if xs.ndim != 2 or ps.shape != (*xs.shape, xs.shape[1]):
        raise ValueError(f"t2t: side {side} needs states (N, n) and covariances (N, n, n); got {xs.shape} "
                         f"and {ps.shape}")
    if not 3 <= dims <= xs.shape[1]:
        raise ValueError(f"t2t: dims must be from 3 (position) to the state size {xs.shape[1]}; got {dims}")
    return xs, ps


def _position_spread(x: Array, p: Array, dims: int) -> tuple[Array, NDArray[np.bool_]]:
    """Largest eigenvalue of each 3×3 position covariance (padded), and the rows usable at all."""
    ok = np.isfinite(x[:, :dims]).all(axis=1) & np.isfinite(p[:, :dims, :dims]).all(axis=(1, 2))
    pos = np.where(ok[:, None, None], p[:, :3, :3], np.eye(3))
    lam = np.linalg.eigvalsh(0.5 * (pos + np.swapaxes(pos, 1, 2)))[:, -1] * _PAD
    return np.maximum(lam, 0.0), ok


def _ball_pairs(tree: cKDTree, points: Array, radii: Array) -> tuple[Index, Index]:
    """(query row, tree row) pairs of `query_ball_point` with one radius per point, as flat arrays."""
    hits = tree.query_ball_point(points, radii, return_sorted=False)
    counts = np.fromiter((len(h) for h in hits), dtype=np.intp, count=len(hits))
    rows = np.repeat(np.arange(len(points), dtype=np.intp), counts)
    cols = np.fromiter(itertools.chain.from_iterable(hits), dtype=np.intp, count=int(counts.sum()))
    return rows, cols


def _candidates(xa: Array, pa: Array, xb: Array, pb: Array, dims: int, gamma: float) -> tuple[Index, Index]:
    """Coarse pre-gate (module docstring): a superset of the pairs with d² ≤ γ."""
    lam_a, ok_a = _position_spread(xa, pa, dims)
    lam_b, ok_b = _position_spread(xb, pb, dims)
    rows_b = np.flatnonzero(ok_b)
    if rows_b.size == 0 or not ok_a.any():
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    bucket = np.floor(np.log2(np.maximum(lam_a, 1e-12)) / 2.0)
    pos_b = xb[rows_b, :3]
    ai_all: list[Index] = []
    bj_all: list[Index] = []
    for b in np.unique(bucket[ok_a]):  # a loop over uncertainty buckets (a handful), not tracks
        members = np.flatnonzero(ok_a & (bucket == b))
        radius = np.sqrt(gamma * (lam_a[members].max() + lam_b[rows_b])) * _PAD
        qb, ta = _ball_pairs(cKDTree(xa[members, :3]), pos_b, radius)
        ai, bj = members[ta], rows_b[qb]
        dist2 = np.sum((xa[ai, :3] - xb[bj, :3]) ** 2, axis=1)
        keep = dist2 <= gamma * (lam_a[ai] + lam_b[bj]) * _PAD**2
        ai_all.append(ai[keep])
        bj_all.append(bj[keep])
    return np.concatenate(ai_all), np.concatenate(bj_all)


def _quadratic_form(s: Array, delta: Array) -> Array:
    """Δᵀ S⁻¹ Δ for stacks ``s (K, d, d)``, ``delta (K, d)``: a Cholesky factorisation run column by
    column on all K at once, with the forward substitution L y = Δ alongside (d² = |y|²).

    Written out for small d because LAPACK's per-matrix call overhead dominates at d ≤ 6 (this runs
    about twice as fast as ``np.linalg.cholesky`` + ``solve`` on 6×6 stacks). A pair whose S is not
    positive definite (a pivot ≤ 0) or not finite gets NaN.
    """
    n_pairs, d = delta.shape
    a = np.moveaxis(s, 0, -1)  # (d, d, K): each entry a contiguous vector over the pairs
    y = delta.T.copy()
    low: list[list[Array]] = [[np.zeros(0)] * d for _ in range(d)]
    ok = np.isfinite(a).all(axis=(0, 1)) & np.isfinite(y).all(axis=0)
    d2 = np.zeros(n_pairs)
    for j in range(d):
        pivot = a[j, j].copy()
        for q in range(j):
            pivot -= low[j][q] * low[j][q]
        good = pivot > 0.0
        ok &= good
        inv_root = 1.0 / np.sqrt(np.where(good, pivot, 1.0))
        for i in range(j + 1, d):
            v = a[i, j].copy()
            for q in range(j):
                v -= low[i][q] * low[j][q]
            low[i][j] = v * inv_root
        yj = y[j]
        for q in range(j):
            yj -= low[j][q] * y[q]
        yj *= inv_root
        d2 += yj * yj
    return np.where(ok, d2, np.nan)


def _chi2(
    xa: Array, pa: Array, xb: Array, pb: Array, ai: Index, bj: Index, dims: int, gamma: float
) -> Array:
    """d² of the given pairs where it is ≤ γ, +∞ where it is larger, NaN where Pa + Pb is not PD.

    In chunks of pairs, position first: the position-marginal χ² is ≤ d², so pairs whose 3-D χ²
    already exceeds γ (most coarse candidates in a dense picture) skip the full ``dims`` form.
    """
    d2 = np.empty(len(ai))
    for s in range(0, len(ai), _CHUNK):
        i, j = ai[s : s + _CHUNK], bj[s : s + _CHUNK]
        out = _quadratic_form(pa[i, :3, :3] + pb[j, :3, :3], xa[i, :3] - xb[j, :3])
        if dims > 3:
            live = np.flatnonzero(out <= gamma)
            il, jl = i[live], j[live]
            s_full = pa[il, :dims, :dims] + pb[jl, :dims, :dims]
            out[live] = _quadratic_form(s_full, xa[il, :dims] - xb[jl, :dims])
        d2[s : s + _CHUNK] = np.where(out > gamma, np.inf, out)
    return d2


def t2t_distances(
    xa: ArrayLike,
    pa: ArrayLike,
    xb: ArrayLike,
    pb: ArrayLike,
    *,
    dims: int = 6,
    gate_probability: float = 0.999,
) -> T2tPairs:
    """χ² distances d² = Δᵀ (Pa + Pb)⁻¹ Δ of the pairs under the gate, as sorted triplets.

    ``xa (Na, n)``, ``pa (Na, n, n)``, ``xb (Nb, n)``, ``pb (Nb, n, n)``: two track sets in one state
    convention (position first, ECEF, SI). Only pairs with d² ≤ `gate` (dims, gate_probability) are
    returned; the coarse pre-gate guarantees none is missed (module docstring). Rows with non-finite
    values never appear. Cross-covariance is ignored (unknown).
    """
    xa_, pa_ = _tracks(xa, pa, "a", dims)
    xb_, pb_ = _tracks(xb, pb, "b", dims)
    if xa_.shape[1] != xb_.shape[1]:
        raise ValueError(f"t2t: states of a ({xa_.shape[1]}) and b ({xb_.shape[1]}) differ in size")
    gamma = gate(dims, gate_probability)
    if len(xa_) == 0 or len(xb_) == 0:
        return T2tPairs(np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0), 0)
    ai, bj = _candidates(xa_, pa_, xb_, pb_, dims, gamma)
    d2 = _chi2(xa_, pa_, xb_, pb_, ai, bj, dims, gamma)
    keep = np.isfinite(d2) & (d2 <= gamma)
    order = np.lexsort((bj[keep], ai[keep]))
    return T2tPairs(ai[keep][order], bj[keep][order], d2[keep][order], len(ai))


# --- Assignment ----------------------------------------------------------------------------------


def _forbidden(label_a: Labels, label_b: Labels, ai: Index, bj: Index) -> NDArray[np.bool_]:
    """True for the pairs whose ``label_b`` equals ``label_a`` (any entry of its row when 2-D)."""
    la = label_a[ai].reshape(len(ai), -1)
    return np.any(la == label_b[bj][:, None], axis=1)


def _labels(forbid: tuple[ArrayLike, ArrayLike], na: int, nb: int) -> tuple[Labels, Labels]:
    try:
        label_a, label_b = (np.asarray(v) for v in forbid)
    except (TypeError, ValueError) as exc:
        raise ValueError("forbid must be a pair (label_a, label_b) of label arrays") from exc
    if label_a.shape[:1] != (na,) or label_a.ndim > 2 or label_b.shape != (nb,):
        raise ValueError(f"forbid: label_a must be ({na},) or ({na}, k) and label_b ({nb},); got "
                         f"{label_a.shape} and {label_b.shape}")
    return label_a, label_b


def _solve_cluster(ai: Index, bj: Index, cost: Array) -> Index:
    """Positions (into ai/bj) of the minimum-cost partial matching of one cluster (reduced costs ≤ 0).

    The smaller side gives the rows, so the matrix is min(na, nb) × (na + nb): one private zero
    "unmatched" column per row, +∞ where a pair is not gated.
    """
    rows_g, cols_g = (ai, bj) if len(np.unique(ai)) <= len(np.unique(bj)) else (bj, ai)
    _, rl = np.unique(rows_g, return_inverse=True)
    _, cl = np.unique(cols_g, return_inverse=True)
    nr, nc = int(rl.max()) + 1, int(cl.max()) + 1
    c = np.full((nr, nc + nr), np.inf)
    c[rl, cl] = cost
    c[np.arange(nr), nc + np.arange(nr)] = 0.0
    where = np.full((nr, nc), -1, dtype=np.intp)
    where[rl, cl] = np.arange(len(ai))
    r, k = linear_sum_assignment(c)
    real = k < nc
    return where[r[real], k[real]]


def associate_tracks(
    xa: ArrayLike,
    pa: ArrayLike,
    xb: ArrayLike,
    pb: ArrayLike,
    *,
    gate_probability: float = 0.999,
    dims: int = 6,
    forbid: tuple[ArrayLike, ArrayLike] | None = None,
) -> T2tAssignment:
    """Match the tracks of two sets one to one (global nearest neighbour on gated χ², module docstring).

    ``forbid = (label_a (Na,) or (Na, k), label_b (Nb,))``: a pair whose labels are equal is never
    matched. Unmatched rows of each side (including rows with non-finite values) are listed.
    """
    pairs = t2t_distances(xa, pa, xb, pb, dims=dims, gate_probability=gate_probability)
    na, nb = len(np.asarray(xa)), len(np.asarray(xb))
    ai, bj, d2 = pairs.a_index, pairs.b_index, pairs.d2
    if forbid is not None:
        label_a, label_b = _labels(forbid, na, nb)
        keep = ~_forbidden(label_a, label_b, ai, bj)
        ai, bj, d2 = ai[keep], bj[keep], d2[keep]
    pick = np.zeros(0, np.intp)
    if len(ai):
        graph = coo_matrix((np.ones(len(ai)), (ai, na + bj)), shape=(na + nb, na + nb))
        _, comp = connected_components(graph, directed=False)
        label = comp[ai]
        size = np.bincount(label)
        single = np.flatnonzero(size[label] == 1)  # one a, one b, one gated pair: matched
        multi = np.flatnonzero(size[label] > 1)
        multi = multi[np.argsort(label[multi], kind="stable")]
        groups = np.split(multi, np.flatnonzero(np.diff(label[multi])) + 1) if multi.size else []
        gamma = gate(dims, gate_probability)
        chosen = [single] + [g[_solve_cluster(ai[g], bj[g], d2[g] - gamma)] for g in groups]
        pick = np.sort(np.concatenate(chosen)).astype(np.intp)
    free_a = np.ones(na, bool)
    free_a[ai[pick]] = False
    free_b = np.ones(nb, bool)
    free_b[bj[pick]] = False
    unmatched_a, unmatched_b = np.flatnonzero(free_a).astype(np.intp), np.flatnonzero(free_b).astype(np.intp)
    return T2tAssignment(ai[pick], bj[pick], d2[pick], unmatched_a, unmatched_b)
