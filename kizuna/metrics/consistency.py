"""Filter consistency: NEES and NIS over Monte Carlo runs, with two-sided χ² acceptance bands.

Bar-Shalom, Li & Kirubarajan, *Estimation with Applications to Tracking and Navigation* (Wiley,
2001), §5.4.2 (NEES, eq. 5.4.2-1 and 5.4.2-6) and §5.4.3 (NIS):

    NEES  ε_k = x̃_kᵀ P_k⁻¹ x̃_k,  x̃ = x − x̂          (n_x degrees of freedom)
    NIS   ε_ν = ν_kᵀ S_k⁻¹ ν_k                         (n_z degrees of freedom)

For a consistent filter each is χ²(n). Averaged over N independent Monte Carlo runs,
N·ε̄_k ~ χ²(N n), so the two-sided acceptance region of probability 1 − α for ε̄_k is

    [ χ²_{Nn}(α/2) / N ,  χ²_{Nn}(1 − α/2) / N ]                                    (eq. 5.4.2-7)

(the book's example: n = 2, N = 50, 95 %: [1.5, 2.6]). A series over T steps is judged
consistent when the number of steps inside the band is at least what a consistent filter would
give with 99 % probability — the lower 1 % quantile of Binomial(T, 1 − α) — so a test over many
steps neither demands all points inside nor waves through a steady drift.

Arrays: errors (R, T, n) and covariances (R, T, n, n) for R runs and T steps; any leading shape
works for `nees` / `nis`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import binom, chi2

__all__ = ["ConsistencyCheck", "check_consistency", "chi2_band", "nees", "nis"]

Array = NDArray[np.float64]


def nees(error: ArrayLike, cov: ArrayLike) -> Array:
    """Normalised estimation error squared x̃ᵀ P⁻¹ x̃ for errors (..., n) and covariances (..., n, n).

    Uses a linear solve (no explicit inverse). A singular covariance gives NaN for that element.
    """
    e = np.asarray(error, dtype=np.float64)
    p = np.asarray(cov, dtype=np.float64)
    if p.shape != e.shape + e.shape[-1:]:
        raise ValueError(f"nees: error {e.shape} needs covariance {e.shape + e.shape[-1:]}, got {p.shape}")
    flat_e = e.reshape(-1, e.shape[-1])
    flat_p = p.reshape(-1, e.shape[-1], e.shape[-1])
    out = np.full(len(flat_e), np.nan)
    good = np.isfinite(flat_p).all(axis=(1, 2)) & np.isfinite(flat_e).all(axis=1)
    good[good] &= np.linalg.matrix_rank(flat_p[good]) == e.shape[-1]
    sol = np.linalg.solve(flat_p[good], flat_e[good][..., None])[..., 0]
    out[good] = np.einsum("ki,ki->k", flat_e[good], sol)
    return out.reshape(e.shape[:-1])


def nis(innovation: ArrayLike, innovation_cov: ArrayLike) -> Array:
    """Normalised innovation squared νᵀ S⁻¹ ν (the same quadratic form as `nees`, in measurement space)."""
    return nees(innovation, innovation_cov)


def chi2_band(dof: int, n_runs: int, probability: float = 0.95) -> tuple[float, float]:
    """Two-sided acceptance band for the run-averaged NEES/NIS of ``dof`` dimensions (eq. 5.4.2-7)."""
    if dof < 1 or n_runs < 1 or not 0 < probability < 1:
        raise ValueError(f"chi2_band needs dof >= 1, n_runs >= 1, 0 < probability < 1; got {dof}, {n_runs}, "
                         f"{probability}")
    tail = (1.0 - probability) / 2.0
    k = dof * n_runs
    return float(chi2.ppf(tail, k) / n_runs), float(chi2.ppf(1.0 - tail, k) / n_runs)


@dataclass(frozen=True, eq=False)
class ConsistencyCheck:
    """Run-averaged series (T,) and its band; ``consistent`` per the module docstring's rule.

    ``fraction_above`` / ``fraction_below``: steps over the band (over-confident: covariance too
    small) and under it (under-confident: covariance too large).
    """

    mean: Array
    lower: float
    upper: float
    fraction_inside: float
    fraction_above: float
    fraction_below: float
    min_inside: int
    consistent: bool


def check_consistency(values: ArrayLike, dof: int, probability: float = 0.95) -> ConsistencyCheck:
    """Judge a NEES or NIS table (R runs, T steps) — or one run's series (T,) — against its band.

    NaN entries (no track, singular covariance) are left out of the run average at that step; a
    step averages over the runs that have a value and the band uses the full R (steps with fewer
    runs are a caller's concern: pass only complete runs for a strict test).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[None, :]
    if v.ndim != 2:
        raise ValueError(f"check_consistency expects (R runs, T steps) or (T,), got shape {v.shape}")
    n_runs, n_steps = v.shape
    have = np.isfinite(v)
    count = have.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, np.where(have, v, 0.0).sum(axis=0) / count, np.nan)
    lower, upper = chi2_band(dof, n_runs, probability)
    inside = int(np.sum((mean >= lower) & (mean <= upper)))
    min_inside = int(binom.ppf(0.01, n_steps, probability))
    return ConsistencyCheck(
        mean=mean,
        lower=lower,
        upper=upper,
        fraction_inside=inside / n_steps if n_steps else 1.0,
        fraction_above=float(np.mean(mean > upper)) if n_steps else 0.0,
        fraction_below=float(np.mean(mean < lower)) if n_steps else 0.0,
        min_inside=min_inside,
        consistent=inside >= min_inside,
    )
