"""GOSPA: the generalised optimal sub-pattern assignment metric, with α = 2.

Rahmathullah, García-Fernández & Svensson, "Generalized optimal sub-pattern assignment metric",
FUSION 2017 (arXiv:1601.05585), eq. (1) and Proposition 1. For truth set X = {x_1 … x_n}, track set
Y = {y_1 … y_m}, cut-off c > 0, order 1 ≤ p < ∞ and α = 2, with d^(c)(x, y) = min(‖x − y‖, c):

    d_p^(c,2)(X, Y) = [ min over partial assignments γ of
                        Σ_{(i,j)∈γ} d(x_i, y_j)^p + (c^p / 2) (n + m − 2|γ|) ]^(1/p)      (Prop. 1)

where γ only pairs points closer than c. Equivalently: the optimal full assignment of the
min(n, m) pairs under the cut-off cost min(d, c)^p, plus (c^p/2)|n − m| for the unmatched. A pair
at d ≥ c costs c^p whichever way it is counted, and is reported as one missed target and one false
track. The p-th power of the metric then splits into three parts,

    GOSPA^p = localisation + missed + false,
    localisation = Σ_{assigned, d<c} d^p,  missed = (c^p/2)·#missed,  false = (c^p/2)·#false,

the decomposition Stone Soup's ``GOSPAMetric`` reports (its ``distance`` is GOSPA, its parts are
the p-th-power terms above). The assignment is `scipy.optimize.linear_sum_assignment` on the
cut-off cost matrix.

Units: positions in metres (ECEF); ``gospa_m`` in metres; the parts, suffixed ``_m_p``, in metres
to the power p.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment

__all__ = ["GospaResult", "GospaSeries", "gospa", "gospa_series"]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class GospaResult:
    """GOSPA at one time (module docstring for the definitions).

    ``truth_to_track`` (n,): the track index assigned to each truth point with d < c, else −1.
    """

    gospa_m: float
    localisation_m_p: float
    missed_m_p: float
    false_m_p: float
    n_missed: int
    n_false: int
    truth_to_track: NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class GospaSeries:
    """GOSPA at each of T times (sorted union of the truth and track times); arrays (T,).

    ``mean_gospa_m`` is the time average of GOSPA; ``rms_gospa_m`` the root mean square over time.
    """

    time_s: Array
    gospa_m: Array
    localisation_m_p: Array
    missed_m_p: Array
    false_m_p: Array
    n_missed: NDArray[np.int64]
    n_false: NDArray[np.int64]

    @property
    def mean_gospa_m(self) -> float:
        return float(np.mean(self.gospa_m)) if len(self.gospa_m) else 0.0

    @property
    def rms_gospa_m(self) -> float:
        return float(np.sqrt(np.mean(self.gospa_m**2))) if len(self.gospa_m) else 0.0


def _as_points(x: ArrayLike, name: str) -> Array:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1 and a.size == 0:
        a = a.reshape(0, 3)
    if a.ndim != 2:
        raise ValueError(f"gospa: {name} must be (N, d) points, got shape {a.shape}")
    return a


def gospa(truth_pos_m: ArrayLike, track_pos_m: ArrayLike, c_m: float, p: float = 2.0) -> GospaResult:
    """GOSPA (α = 2) between truth points (n, d) and track points (m, d) [m]; see the module docstring.

    One `linear_sum_assignment` on the n × m matrix min(‖x_i − y_j‖, c)^p.
    """
    x = _as_points(truth_pos_m, "truth_pos_m")
    y = _as_points(track_pos_m, "track_pos_m")
    if not c_m > 0 or not p >= 1:
        raise ValueError(f"gospa needs c_m > 0 and p >= 1, got c_m={c_m!r}, p={p!r}")
    n, m = len(x), len(y)
    half_cp = c_m**p / 2.0
    truth_to_track = np.full(n, -1, dtype=np.int64)
    localisation = 0.0
    if n and m:
        if x.shape[1] != y.shape[1]:
            raise ValueError(f"gospa: truth has {x.shape[1]} coordinates, tracks {y.shape[1]}")
        dist = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=-1)
        cost = np.minimum(dist, c_m) ** p
        rows, cols = linear_sum_assignment(cost)
        near = dist[rows, cols] < c_m
        localisation = float(np.sum(cost[rows[near], cols[near]]))
        truth_to_track[rows[near]] = cols[near]
    n_assigned = int(np.sum(truth_to_track >= 0))
    n_missed = n - n_assigned
    n_false = m - n_assigned
    missed = half_cp * n_missed
    false = half_cp * n_false
    return GospaResult(
        gospa_m=float((localisation + missed + false) ** (1.0 / p)),
        localisation_m_p=localisation,
        missed_m_p=missed,
        false_m_p=false,
        n_missed=n_missed,
        n_false=n_false,
        truth_to_track=truth_to_track,
    )


def gospa_series(
    truth_time_s: ArrayLike,
    truth_pos_m: ArrayLike,
    track_time_s: ArrayLike,
    track_pos_m: ArrayLike,
    c_m: float,
    p: float = 2.0,
) -> GospaSeries:
    """GOSPA at every time in the union of truth and track times (exact float equality).

    Truth rows (N,) times with (N, d) positions, track rows (M,) with (M, d); sample tracks at the
    truth times (or round both to a common clock) before calling. A time with only truth counts
    every target missed; with only tracks, every track false. One assignment per time step.
    """
    tt = np.asarray(truth_time_s, dtype=np.float64)
    xt = _as_points(truth_pos_m, "truth_pos_m")
    kt = np.asarray(track_time_s, dtype=np.float64)
    yk = _as_points(track_pos_m, "track_pos_m")
    if len(tt) != len(xt) or len(kt) != len(yk):
        raise ValueError(
            f"gospa_series: {len(tt)} truth times for {len(xt)} truth rows, "
            f"{len(kt)} track times for {len(yk)} track rows"
        )
    times = np.union1d(tt, kt)
    t_order, k_order = np.argsort(tt, kind="stable"), np.argsort(kt, kind="stable")
    t_lo = np.searchsorted(tt[t_order], times, side="left")
    t_hi = np.searchsorted(tt[t_order], times, side="right")
    k_lo = np.searchsorted(kt[k_order], times, side="left")
    k_hi = np.searchsorted(kt[k_order], times, side="right")
    d = xt.shape[1] if len(xt) else (yk.shape[1] if len(yk) else 3)
    out = np.zeros((len(times), 4))
    counts = np.zeros((len(times), 2), dtype=np.int64)
    for i in range(len(times)):
        r = gospa(
            xt[t_order[t_lo[i] : t_hi[i]]].reshape(-1, d),
            yk[k_order[k_lo[i] : k_hi[i]]].reshape(-1, d),
            c_m,
            p,
        )
        out[i] = (r.gospa_m, r.localisation_m_p, r.missed_m_p, r.false_m_p)
        counts[i] = (r.n_missed, r.n_false)
    return GospaSeries(
        time_s=times,
        gospa_m=out[:, 0],
        localisation_m_p=out[:, 1],
        missed_m_p=out[:, 2],
        false_m_p=out[:, 3],
        n_missed=counts[:, 0],
        n_false=counts[:, 1],
    )
