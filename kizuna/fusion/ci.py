"""Covariance intersection (CI) of track estimates whose cross-correlation is unknown, batched.

Two partners' tracks of one object share errors in ways neither knows: common process noise, a
common sensor, an earlier exchange of tracks. The information-filter fusion that assumes
independence (`naive_fusion`, P = (Pa⁻¹ + Pb⁻¹)⁻¹) then double-counts the shared information and
reports a covariance smaller than the real error: it is inconsistent, and the more it is repeated
the worse it gets. Covariance intersection (S. J. Julier & J. K. Uhlmann, "A non-divergent
estimation algorithm in the presence of unknown correlations", Proc. American Control Conference
1997) is consistent for *any* cross-correlation:

    P⁻¹ = ω Pa⁻¹ + (1 − ω) Pb⁻¹,    x = P (ω Pa⁻¹ xa + (1 − ω) Pb⁻¹ xb),    ω ∈ [0, 1]

with ω chosen to minimise trace(P) (``criterion="trace"``) or det(P) (``"det"``).

How ω is found
--------------
Pa and Pb are diagonalised together (the generalised symmetric eigenproblem): with Pa = L Lᵀ
(Cholesky) and L⁻¹ Pb L⁻ᵀ = V Λ Vᵀ, the matrix T = L V gives Pa = T Tᵀ and Pb = T Λ Tᵀ, so for
every ω

    P(ω) = T diag(λᵢ / eᵢ) Tᵀ,   eᵢ = 1 − ω + ω λᵢ,     x(ω) = T [(ω λᵢ yaᵢ + (1 − ω) ybᵢ) / eᵢ]

with y = T⁻¹ x. One O(n³) factorisation per pair, then each trial ω costs O(n):

    trace P(ω) = Σ cᵢ λᵢ / eᵢ  (cᵢ = |T column i|²),    ln det P(ω) = ln det Pa + Σ ln λᵢ − Σ ln eᵢ.

Both are convex in ω (second derivatives Σ 2 cᵢ λᵢ (λᵢ − 1)² / eᵢ³ and Σ (λᵢ − 1)² / eᵢ² are ≥ 0), so
the optimum is an endpoint when the derivative does not change sign on [0, 1] — ω = 1 (return
``xa, Pa`` exactly) when Pa dominates, ω = 0 when Pb does — and otherwise the root of the derivative,
found by bisection run on all interior pairs at once (``_BISECTIONS`` halvings: ω to ~1e-9). When
Pa = Pb (all λᵢ = 1) every ω gives the same P and ω = 1/2 (the mean of the states) is returned.

K estimates of one object
-------------------------
`fuse_estimates` and `fuse_groups` fuse K ≥ 2 estimates by **sequential pairwise CI** in row order:
fused₁ = CI(e₁, e₂), fused₂ = CI(fused₁, e₃), … each step with its own optimal ω. Each step's inputs
are consistent, so by induction the result is consistent whatever the correlations — the property
that matters here. The one-shot K-weight CI (P⁻¹ = Σ ωₖ Pₖ⁻¹, Σ ωₖ = 1; Julier & Uhlmann's
multi-estimate form) can be somewhat tighter but needs a (K − 1)-dimensional non-linear search per
object, which does not vectorise across groups of different sizes; the sequential form is K − 1
rounds of the batched two-estimate search above. The result depends (mildly) on the order: give the
rows in a deterministic order (e.g. by source), so the same inputs give the same picture.

Numerics: no explicit inverse (Cholesky factor, linear solves, a symmetric eigendecomposition);
every output covariance is symmetrised. Rows with a non-finite input or a covariance that is not
positive definite give NaN rows (and ω = NaN) instead of an exception (a batch path reports per row).

May import NumPy (this module); nothing from the rest of Kizuna, so `kizuna.fusion` never pulls in
sensors through `kizuna.tracking.filters`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["CRITERIA", "CiResult", "covariance_intersection", "fuse_estimates", "fuse_groups", "naive_fusion"]

Array = NDArray[np.float64]
Index = NDArray[np.intp]
Criterion = Literal["trace", "det"]
CRITERIA: tuple[str, ...] = ("trace", "det")
_BISECTIONS = 30  # bracket width 2⁻³⁰ ≈ 9e-10 in ω
_FLAT = 1e-10  # |λᵢ − 1| below this for all i: Pa = Pb to rounding, any ω is optimal


@dataclass(frozen=True, eq=False)
class CiResult:
    """Fused states ``x (N, n)``, covariances ``P (N, n, n)`` and the weight ``omega (N,)`` of Pa⁻¹."""

    x: Array
    P: Array
    omega: Array


# --- Helpers -------------------------------------------------------------------------------------


def _symmetrize(p: Array) -> Array:
    """(P + Pᵀ)/2 over the last two axes."""
    return 0.5 * (p + np.swapaxes(p, -1, -2))


def _cholesky(p: Array) -> tuple[Array, NDArray[np.bool_]]:
    """Lower Cholesky factors of a stack ``(N, n, n)`` and the mask of rows that have one.

    Rows that are non-finite or not positive definite get an identity factor and ``False``; the
    common all-good batch costs one stacked factorisation (NumPy raises for the whole stack if one
    row fails, so the bad rows are then found by their eigenvalues and the rest refactored).
    """
    n = p.shape[-1]
    ok = np.isfinite(p).all(axis=(-2, -1))
    safe = np.where(ok[:, None, None], _symmetrize(p), np.eye(n))
    try:
        return np.linalg.cholesky(safe), ok
    except np.linalg.LinAlgError:
        pass
    lam = np.linalg.eigvalsh(safe)
    ok &= lam[:, 0] > 64.0 * np.finfo(np.float64).eps * np.abs(lam[:, -1])
    safe = np.where(ok[:, None, None], safe, np.eye(n))
    try:
        return np.linalg.cholesky(safe), ok
    except np.linalg.LinAlgError:  # a borderline row the eigenvalue test let through: row by row
        factor = np.broadcast_to(np.eye(n), safe.shape).copy()
        for i in np.flatnonzero(ok):
            try:
                factor[i] = np.linalg.cholesky(safe[i])
            except np.linalg.LinAlgError:
                ok[i] = False
        return factor, ok


def _check_criterion(criterion: str) -> None:
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}; got {criterion!r}")


def _as_batch(x: ArrayLike, p: ArrayLike, name: str) -> tuple[Array, Array]:
    """``x (N, n)`` and ``P (N, n, n)`` as float arrays, or a ValueError that shows the shapes."""
    xs = np.asarray(x, dtype=np.float64)
    ps = np.asarray(p, dtype=np.float64)
    if xs.ndim != 2 or ps.shape != (*xs.shape, xs.shape[1]):
        raise ValueError(
            f"{name}: expected states (N, n) and covariances (N, n, n); got {xs.shape} and {ps.shape} "
            "(one estimate is x[None], P[None])"
        )
    return xs, ps


def _ci_derivative(omega: Array, lam: Array, c: Array, criterion: str) -> Array:
    """d/dω of trace P(ω) or ln det P(ω) for each row (module docstring), ``omega (N,)``."""
    e = 1.0 + omega[:, None] * (lam - 1.0)
    if criterion == "trace":
        return -np.sum(c * lam * (lam - 1.0) / (e * e), axis=1)
    return -np.sum((lam - 1.0) / e, axis=1)


def _optimal_omega(lam: Array, c: Array, criterion: str) -> Array:
    """The minimising ω ∈ [0, 1] of each row: endpoint tests, then a batched bisection of the root."""
    n_rows = len(lam)
    omega = np.full(n_rows, 0.5)
    flat = np.all(np.abs(lam - 1.0) <= _FLAT, axis=1)
    at_zero = ~flat & (_ci_derivative(np.zeros(n_rows), lam, c, criterion) >= 0.0)
    at_one = ~flat & ~at_zero & (_ci_derivative(np.ones(n_rows), lam, c, criterion) <= 0.0)
    omega[at_zero], omega[at_one] = 0.0, 1.0
    inner = np.flatnonzero(~(flat | at_zero | at_one))
    if inner.size:
        lam_i, c_i = lam[inner], c[inner]
        lo, hi = np.zeros(inner.size), np.ones(inner.size)
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            rising = _ci_derivative(mid, lam_i, c_i, criterion) > 0.0
            hi = np.where(rising, mid, hi)
            lo = np.where(rising, lo, mid)
        omega[inner] = 0.5 * (lo + hi)
    return omega


# --- Two estimates ---------------------------------------------------------------------------------


def covariance_intersection(
    xa: ArrayLike, pa: ArrayLike, xb: ArrayLike, pb: ArrayLike, *, criterion: Criterion = "trace"
) -> CiResult:
    """CI of N pairs of estimates ``(xa, Pa)``, ``(xb, Pb)`` with the optimal ω per pair (module docstring).

    ω weights Pa⁻¹: ω = 1 returns ``xa, Pa`` exactly, ω = 0 returns ``xb, Pb``. A row with a non-finite
    input or a covariance that is not positive definite gives NaN in ``x``, ``P`` and ``omega``.
    """
    _check_criterion(criterion)
    xa_, pa_ = _as_batch(xa, pa, "covariance_intersection (a)")
    xb_, pb_ = _as_batch(xb, pb, "covariance_intersection (b)")
    if xa_.shape != xb_.shape:
        raise ValueError(f"covariance_intersection: xa {xa_.shape} and xb {xb_.shape} must have one shape")
    n_rows, n = xa_.shape
    if n_rows == 0:
        return CiResult(np.zeros((0, n)), np.zeros((0, n, n)), np.zeros(0))
    la, ok = _cholesky(pa_)
    ok &= _cholesky(pb_)[1] & np.isfinite(xa_).all(axis=1) & np.isfinite(xb_).all(axis=1)
    pb_s = np.where(ok[:, None, None], _symmetrize(pb_), np.eye(n))
    xa_s, xb_s = np.where(ok[:, None], xa_, 0.0), np.where(ok[:, None], xb_, 0.0)
    rhs = np.concatenate([pb_s, xa_s[..., None], xb_s[..., None]], axis=2)
    w = np.linalg.solve(la, rhs)  # L⁻¹ [Pb | xa | xb]
    m = np.linalg.solve(la, np.swapaxes(w[:, :, :n], 1, 2))  # L⁻¹ Pb L⁻ᵀ
    lam, v = np.linalg.eigh(_symmetrize(m))
    ok &= np.isfinite(lam).all(axis=1) & (lam[:, 0] > 0.0)
    lam = np.where(ok[:, None], lam, 1.0)
    t = la @ v  # Pa = T Tᵀ, Pb = T Λ Tᵀ
    vt = np.swapaxes(v, 1, 2)
    ya = np.einsum("nij,nj->ni", vt, w[:, :, n])
    yb = np.einsum("nij,nj->ni", vt, w[:, :, n + 1])
    omega = _optimal_omega(lam, np.sum(t * t, axis=1), criterion)
    om = omega[:, None]
    e = 1.0 + om * (lam - 1.0)
    p_out = _symmetrize((t * (lam / e)[:, None, :]) @ np.swapaxes(t, 1, 2))
    x_out = np.einsum("nij,nj->ni", t, (om * lam * ya + (1.0 - om) * yb) / e)
    one, zero = omega == 1.0, omega == 0.0
    x_out[one], p_out[one] = xa_[one], _symmetrize(pa_[one])
    x_out[zero], p_out[zero] = xb_[zero], _symmetrize(pb_[zero])
    x_out[~ok], p_out[~ok], omega[~ok] = np.nan, np.nan, np.nan
    return CiResult(x_out, p_out, omega)


def naive_fusion(xa: ArrayLike, pa: ArrayLike, xb: ArrayLike, pb: ArrayLike) -> tuple[Array, Array]:
    """Information-filter fusion assuming independent errors: P = (Pa⁻¹ + Pb⁻¹)⁻¹, x = P (Pa⁻¹ xa + Pb⁻¹ xb).

    Wrong for partners' tracks (module docstring): with correlated errors it is over-confident, and
    tests/test_fusion_ci.py shows its NEES far above the χ² band. Kept as the reference CI is judged
    against (CI is never more confident than this) and for documentation. Computed in the gain form
    K = Pa (Pa + Pb)⁻¹, x = xa + K (xb − xa), P = K Pb (algebraically the same, one solve, no
    inverse). Bad rows give NaN.
    """
    xa_, pa_ = _as_batch(xa, pa, "naive_fusion (a)")
    xb_, pb_ = _as_batch(xb, pb, "naive_fusion (b)")
    if xa_.shape != xb_.shape:
        raise ValueError(f"naive_fusion: xa {xa_.shape} and xb {xb_.shape} must have one shape")
    n = xa_.shape[1]
    s = pa_ + pb_
    ls, ok = _cholesky(s)
    ok &= np.isfinite(xa_).all(axis=1) & np.isfinite(xb_).all(axis=1)
    s_safe = ls @ np.swapaxes(ls, 1, 2)
    pa_safe = np.where(ok[:, None, None], _symmetrize(pa_), np.eye(n))
    pb_safe = np.where(ok[:, None, None], _symmetrize(pb_), np.eye(n))
    gain = np.swapaxes(np.linalg.solve(s_safe, pa_safe), 1, 2)  # (S⁻¹ Pa)ᵀ = Pa S⁻¹
    x_out = xa_ + np.einsum("nij,nj->ni", gain, np.where(ok[:, None], xb_ - xa_, 0.0))
    p_out = _symmetrize(gain @ pb_safe)
    x_out[~ok], p_out[~ok] = np.nan, np.nan
    return x_out, p_out


# --- K estimates -------------------------------------------------------------------------------


def fuse_estimates(x: ArrayLike, p: ArrayLike, *, criterion: Criterion = "trace") -> tuple[Array, Array]:
    """Fuse K ≥ 1 estimates ``x (K, n)``, ``P (K, n, n)`` of one object: ``(x (n,), P (n, n))``.

    Sequential pairwise CI in row order (module docstring: why not the K-weight form); K = 1 returns
    a copy of the input. A bad row makes the result NaN. This is the one-object reference; many
    objects at once go through `fuse_groups`, which gives the same numbers.
    """
    _check_criterion(criterion)
    xs, ps = _as_batch(x, p, "fuse_estimates")
    if len(xs) == 0:
        raise ValueError("fuse_estimates needs at least one estimate; got K = 0")
    acc_x, acc_p = xs[:1].copy(), ps[:1].copy()
    for k in range(1, len(xs)):
        fused = covariance_intersection(acc_x, acc_p, xs[k : k + 1], ps[k : k + 1], criterion=criterion)
        acc_x, acc_p = fused.x, fused.P
    return acc_x[0], acc_p[0]


def fuse_groups(
    x: ArrayLike, p: ArrayLike, group: ArrayLike, *, criterion: Criterion = "trace"
) -> tuple[NDArray[np.int64], Array, Array]:
    """Fuse the rows of each ``group`` label into one estimate: ``(group_ids (G,), x (G, n), P (G, n, n))``.

    ``group (M,)`` integer labels (any values); ``group_ids`` are the sorted distinct labels. Within a
    group rows are fused by sequential pairwise CI in their order of appearance, exactly as
    `fuse_estimates` on that group's rows. Vectorised over groups: round r fuses the accumulated
    estimate of every group with more than r members with its (r+1)-th member, so the Python loop
    runs over the largest group size, never over groups. Groups of one pass through unchanged (a
    copy). A bad row makes its group's result NaN.
    """
    _check_criterion(criterion)
    xs, ps = _as_batch(x, p, "fuse_groups")
    labels = np.asarray(group)
    if labels.shape != (len(xs),) or not (labels.size == 0 or np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(f"fuse_groups: group must be integer labels of shape ({len(xs)},); got "
                         f"{labels.dtype} {labels.shape}")
    labels = labels.astype(np.int64)
    order = np.argsort(labels, kind="stable")
    ids, start, counts = np.unique(labels[order], return_index=True, return_counts=True)
    acc_x, acc_p = xs[order[start]].copy(), ps[order[start]].copy()
    for r in range(1, int(counts.max()) if counts.size else 0):
        live = np.flatnonzero(counts > r)
        member = order[start[live] + r]
        fused = covariance_intersection(acc_x[live], acc_p[live], xs[member], ps[member], criterion=criterion)
        acc_x[live], acc_p[live] = fused.x, fused.P
    return ids, acc_x, acc_p
