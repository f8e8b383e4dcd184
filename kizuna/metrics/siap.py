"""SIAP: the Single Integrated Air Picture measures of a track picture against truth, and the
commonality of the track numbers that several nations' pictures give the same objects.

Votruba et al., "Single Integrated Air Picture (SIAP) Metrics Implementation", SIAP SE Task Force,
29 Oct 2001 — the attribute measures as Stone Soup 1.9.1 implements them
(``stonesoup.metricgenerator.tracktotruthmetrics.SIAPMetrics`` with the
``stonesoup.dataassociator.tracktotrack.TrackToTruth`` associator); this is a vectorised
re-implementation, checked against Stone Soup in ``tests/test_metrics_siap.py``.

Inputs (pandas DataFrames; extra columns such as ``kind``, ``affiliation`` or ``status`` are ignored —
filter a picture to the tracks an operator sees, e.g. `kizuna.metrics.picture.FIRM_STATUSES`, first):

``truth``   — ``time_s`` (float, s since the scenario epoch), ``target_id`` (any hashable), ``x_m``,
              ``y_m``, ``z_m`` (ECEF, m), ``vx_m_per_s``, ``vy_m_per_s``, ``vz_m_per_s`` (ECEF, m/s);
              one row per target per sample time.
``picture`` — ``time_s``, ``track_id`` (the system track number, int64), the same six state columns;
              one row per track per output time.

Truth and picture rows meet only at equal ``time_s`` values (exact float equality). The time grid
t_1 < … < t_K is the sorted union of both tables' times (Stone Soup's ``list_timestamps``). Rows with
a non-finite time are ignored; a row with a non-finite position is never assigned (a truth row still
counts in J, a track row in N); a row with a non-finite velocity is left out of VA. A zero-row
DataFrame without columns is taken as an empty table; otherwise missing columns raise ValueError.

**Association** (Stone Soup ``TrackToTruth`` with ``consec_pairs_confirm = 1`` and
``consec_misses_end = 1``): at each time each track is *assigned* to the truth nearest to it in
position, provided that distance is strictly less than the gate g (``association_gate_m``); a track is
assigned to at most one truth, a truth may hold several tracks. Stone Soup's default continuity rule
(3 consecutive hits to start, 2 misses to end) is not applied: every time is scored on its own.

**Counts at time t**: J(t) truths present; J_T(t) truths with ≥ 1 assigned track; N(t) tracks
present; N_A(t) assigned tracks. Sums run over the grid.

=====================  =======================================================  =========  ==========
measure                formula                                                  ideal      range
=====================  =======================================================  =========  ==========
completeness C         Σ_t J_T(t) / Σ_t J(t)                                    1          [0, 1]
ambiguity A            Σ_t N_A(t) / Σ_t J_T(t)                                  1          [1, ∞)
spuriousness S         Σ_t (N(t) − N_A(t)) / Σ_t N(t)                           0          [0, 1]
positional acc. PA     Σ_{assigned rows} ‖p_track − p_truth‖ / Σ_t N_A(t)       0 m        [0, ∞) m
velocity acc. VA       Σ_{assigned rows} ‖v_track − v_truth‖ / Σ_t N_A(t)       0 m/s      [0, ∞) m/s
longest segment LS     Σ_j TL_j / Σ_j T_j                                       1          [0, 1]
track-number rate R    Σ_j max(NU_j − 1, 0) / Σ_j TT_j                          0 /s       [0, ∞) /s
=====================  =======================================================  =========  ==========

The continuity terms, per truth j, are built from *segments*: a segment is a maximal run of
consecutive grid times t_k, t_{k+1}, … at which one track number is assigned to j; it spans
[t_first, t_last] and lasts t_last − t_first (a single-time segment lasts 0 s).

* T_j  — lifetime: last minus first sample time of j;
* TL_j — the longest time one track number held j: per track number the summed duration of its
  segments on j, maximised over track numbers (0 s if never held). Stone Soup's definition: it
  merges all associations of one (track, truth) pair into one ``CompoundTimeRange``, whose duration
  is the sum of the pieces. The strictly contiguous variant, max over j's segments of their
  duration, gives ``longest_contiguous_segment`` = Σ_j TLc_j / Σ_j T_j;
* TT_j — time tracked: the length of the union of j's segment intervals;
* NU_j — the fewest segments that together contain every time at which j is held (greedy, which is
  optimal here: at the earliest held time not yet covered, take the segment through it that ends
  last). NU_j − 1 is the number of track-number changes; re-acquisition by the *same* number after
  a gap is a new segment and so a change, as in Stone Soup (unlike `kizuna.metrics.custody`'s
  identity switches).

LS is therefore the lifetime-weighted mean over truths of TL_j / T_j, and R is in changes per second
of tracked time.

**Differences from Stone Soup 1.9.1.** Where Stone Soup's output is defined and its NU is the
minimum it documents, the values above equal it (the tests check all seven to 1e-12 relative):

* Undefined ratios are NaN here. Stone Soup returns C = 0 when Σ J = 0, A = 1 when Σ J_T = 0,
  S = 0 when Σ N = 0, PA = VA = 0 when Σ N_A = 0, LS = 0 when Σ T = 0 and R = 0 when Σ TT = 0.
* A single-time segment is valid here (it counts in J_T, N_A, PA, VA and NU, and lasts 0 s).
  Stone Soup's ``TrackToTruth`` with ``consec_pairs_confirm = 1`` raises ``ValueError: Must have
  left < right`` on one, because its ``TimeRange`` needs start < end; with ``consec_pairs_confirm =
  2`` it drops single-time runs instead (and keeps longer runs whole, back-dated to their first
  time), which changes C, A, S, PA and VA wherever such runs exist.
* A segment here breaks when its track misses a grid time. Stone Soup walks each track's own
  states, so a track absent from some times keeps its association across the gap — and then fails
  in ``accuracy_at_time`` (``IndexError: timestamp not found in states``). For tracks reported at
  every grid time of their life the two agree.
* NU_j here is the minimum. Stone Soup's ``min_num_tracks_needed_to_track``, at an uncovered time,
  picks the (track, truth) pair whose *merged* association ends last — which may be a segment that
  ends soon and resumes later — rather than the segment through that time that ends last, so it
  can count more tracks than needed (e.g. X holds j over t_0…t_5, Y over t_0…t_1 and t_8…t_9, Z over
  t_6…t_7: 4 against the minimum 3, X–Z–Y); and it stops counting for j when its pick ends at the
  very time it was picked at (it searches for that end time *after* the current index and breaks on
  the ValueError), which can count fewer. Where at most one track holds each truth at a time the
  two agree.

**Commonality** (`commonality`): for each nation's picture, each truth held at a time takes the track
number of its nearest assigned track (association above). Over all (time, truth) pairs held by at
least two nations,

    commonality = #{pairs whose track numbers agree in every nation holding it} / #{pairs held by ≥ 2},

ideal 1; ``commonality_all`` is the same restricted to pairs held by every nation (needs ≥ 2 nations).
Track numbers are compared by equality across nations (a system track number is coalition-wide).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.spatial import cKDTree

__all__ = [
    "PER_TARGET_COLUMNS",
    "PER_TIME_COLUMNS",
    "PICTURE_COLUMNS",
    "TRUTH_COLUMNS",
    "CommonalityResult",
    "SiapResult",
    "commonality",
    "siap",
    "siap_association",
]

_POS = ["x_m", "y_m", "z_m"]
_VEL = ["vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]
TRUTH_COLUMNS = ("time_s", "target_id", *_POS, *_VEL)
PICTURE_COLUMNS = ("time_s", "track_id", *_POS, *_VEL)
PER_TIME_COLUMNS = (
    "time_s",
    "n_truths",
    "n_truths_tracked",
    "n_tracks",
    "n_tracks_assigned",
    "completeness",
    "ambiguity",
    "spuriousness",
    "position_accuracy_m",
    "velocity_accuracy_m_per_s",
)
"""`SiapResult.per_time` columns: J, J_T, N, N_A and the measures at each grid time (NaN if undefined)."""
PER_TARGET_COLUMNS = (
    "target_id",
    "n_samples",
    "lifetime_s",
    "held_fraction",
    "tracked_time_s",
    "longest_segment_s",
    "longest_segment_fraction",
    "longest_contiguous_s",
    "longest_contiguous_fraction",
    "n_tracks_needed",
    "n_track_number_changes",
    "n_track_numbers",
)
"""`SiapResult.per_target` columns (module docstring): ``n_samples`` truth rows; ``lifetime_s`` T_j;
``held_fraction`` held samples / samples; ``tracked_time_s`` TT_j; ``longest_segment_s`` TL_j and
``longest_segment_fraction`` TL_j / T_j (NaN when T_j = 0); ``longest_contiguous_s`` TLc_j and its
fraction; ``n_tracks_needed`` NU_j; ``n_track_number_changes`` max(NU_j − 1, 0); ``n_track_numbers``
distinct track numbers ever assigned to j."""

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class SiapResult:
    """The SIAP measures over the whole run (module docstring; NaN where undefined): C, A, S, PA (m),
    VA (m/s), LS (``longest_segment``, Stone Soup's TL_j), R (per second of tracked time) and LS with
    contiguous segments only (``longest_contiguous_segment``); with ``per_time`` (`PER_TIME_COLUMNS`,
    one row per grid time) and ``per_target`` (`PER_TARGET_COLUMNS`, one row per truth target) for
    reports."""

    completeness: float
    ambiguity: float
    spuriousness: float
    position_accuracy_m: float
    velocity_accuracy_m_per_s: float
    longest_segment: float
    track_number_change_rate_per_s: float
    longest_contiguous_segment: float
    per_time: pd.DataFrame
    per_target: pd.DataFrame

    def as_dict(self) -> dict[str, float]:
        """The seven SIAP measures and the contiguous LS variant, by field name."""
        return {
            "completeness": self.completeness,
            "ambiguity": self.ambiguity,
            "spuriousness": self.spuriousness,
            "position_accuracy_m": self.position_accuracy_m,
            "velocity_accuracy_m_per_s": self.velocity_accuracy_m_per_s,
            "longest_segment": self.longest_segment,
            "track_number_change_rate_per_s": self.track_number_change_rate_per_s,
            "longest_contiguous_segment": self.longest_contiguous_segment,
        }


@dataclass(frozen=True, eq=False)
class CommonalityResult:
    """Track-number commonality across nations (module docstring; NaN where undefined).

    ``per_time``: ``time_s`` (every truth time), ``n_held_by_2plus``, ``n_common``, ``n_held_by_all``,
    ``n_common_all``. ``held``: one row per (time, truth, nation) holding it — ``time_s``,
    ``target_id``, ``nation``, ``track_id``, ``distance_m`` — for reports.
    """

    commonality: float
    commonality_all: float
    per_time: pd.DataFrame
    held: pd.DataFrame


def siap_association(
    truth: pd.DataFrame, picture: pd.DataFrame, *, association_gate_m: float = 10_000.0
) -> pd.DataFrame:
    """Per picture row, the truth it is assigned to (module docstring's rule), or none.

    Returns a DataFrame aligned with ``picture`` (same index and order): ``time_s``, ``track_id``,
    ``target_id`` (object; None when unassigned), ``assigned`` (bool), ``position_error_m`` and
    ``velocity_error_m_per_s`` (NaN when unassigned).
    """
    _check_gate(association_gate_m, "siap_association")
    truth = _checked(truth, TRUTH_COLUMNS, "truth", "siap_association")
    picture = _checked(picture, PICTURE_COLUMNS, "picture", "siap_association")
    t_truth, x_truth, v_truth = _state_arrays(truth)
    t_pic, x_pic, v_pic = _state_arrays(picture)
    row = _nearest_truth(t_truth, x_truth, t_pic, x_pic, association_gate_m)
    hit = row >= 0
    safe = np.maximum(row, 0)
    pos_err = np.full(len(row), np.nan)
    vel_err = np.full(len(row), np.nan)
    if hit.any():
        pos_err[hit] = np.linalg.norm(x_pic[hit] - x_truth[safe[hit]], axis=1)
        vel_err[hit] = np.linalg.norm(v_pic[hit] - v_truth[safe[hit]], axis=1)
    targets = truth["target_id"].to_numpy(dtype=object)
    target_id = np.full(len(row), None, dtype=object)
    target_id[hit] = targets[row[hit]]
    return pd.DataFrame(
        {
            "time_s": t_pic,
            "track_id": picture["track_id"].to_numpy(),
            "target_id": pd.Series(target_id, index=picture.index, dtype=object),
            "assigned": hit,
            "position_error_m": pos_err,
            "velocity_error_m_per_s": vel_err,
        },
        index=picture.index,
    )


def siap(truth: pd.DataFrame, picture: pd.DataFrame, *, association_gate_m: float = 10_000.0) -> SiapResult:
    """The SIAP measures C, A, S, PA, VA, LS and R of ``picture`` against ``truth`` (module docstring).

    Never raises on empty tables or times that do not match (the measures are NaN where their
    denominators are 0); raises ValueError for a missing column or a gate that is not positive.
    """
    _check_gate(association_gate_m, "siap")
    truth = _checked(truth, TRUTH_COLUMNS, "truth", "siap")
    picture = _checked(picture, PICTURE_COLUMNS, "picture", "siap")
    t_truth, x_truth, v_truth = _state_arrays(truth)
    t_pic, x_pic, v_pic = _state_arrays(picture)
    row = _nearest_truth(t_truth, x_truth, t_pic, x_pic, association_gate_m)

    # Rows with a non-finite time take no part from here on.
    ok_t, ok_p = np.isfinite(t_truth), np.isfinite(t_pic)
    grid = np.unique(np.concatenate([t_truth[ok_t], t_pic[ok_p]]))
    k_truth = np.full(len(t_truth), -1, dtype=np.int64)
    k_pic = np.full(len(t_pic), -1, dtype=np.int64)
    k_truth[ok_t] = np.searchsorted(grid, t_truth[ok_t])
    k_pic[ok_p] = np.searchsorted(grid, t_pic[ok_p])
    target_code, target_ids = pd.factorize(truth["target_id"], use_na_sentinel=False)
    track_code, _ = pd.factorize(picture["track_id"], use_na_sentinel=False)

    n_steps = len(grid)
    hit = np.flatnonzero(row >= 0)  # assigned picture rows (finite time and position)
    held_rows = np.unique(row[hit])  # truth rows holding ≥ 1 track
    j_t = np.bincount(k_truth[ok_t], minlength=n_steps)
    jt_t = np.bincount(k_truth[held_rows], minlength=n_steps)
    n_t = np.bincount(k_pic[ok_p], minlength=n_steps)
    na_t = np.bincount(k_pic[hit], minlength=n_steps)
    pos_err = np.linalg.norm(x_pic[hit] - x_truth[row[hit]], axis=1)
    vel_err = np.linalg.norm(v_pic[hit] - v_truth[row[hit]], axis=1)
    vel_ok = np.isfinite(vel_err)
    pa_t = np.bincount(k_pic[hit], weights=pos_err, minlength=n_steps)
    va_t = np.bincount(k_pic[hit][vel_ok], weights=vel_err[vel_ok], minlength=n_steps)
    nva_t = np.bincount(k_pic[hit][vel_ok], minlength=n_steps)

    per_time = pd.DataFrame(
        {
            "time_s": grid,
            "n_truths": j_t,
            "n_truths_tracked": jt_t,
            "n_tracks": n_t,
            "n_tracks_assigned": na_t,
            "completeness": _ratio(jt_t, j_t),
            "ambiguity": _ratio(na_t, jt_t),
            "spuriousness": _ratio(n_t - na_t, n_t),
            "position_accuracy_m": _ratio(pa_t, na_t),
            "velocity_accuracy_m_per_s": _ratio(va_t, nva_t),
        }
    )
    per_target = _continuity(
        grid,
        k_truth[ok_t],
        target_code[ok_t],
        target_ids,
        held_target=target_code[held_rows],
        k_hit=k_pic[hit],
        target_hit=target_code[row[hit]],
        track_hit=track_code[hit],
    )
    n_changes = per_target["n_track_number_changes"].to_numpy()
    return SiapResult(
        completeness=_scalar_ratio(jt_t.sum(), j_t.sum()),
        ambiguity=_scalar_ratio(na_t.sum(), jt_t.sum()),
        spuriousness=_scalar_ratio((n_t - na_t).sum(), n_t.sum()),
        position_accuracy_m=_scalar_ratio(pa_t.sum(), na_t.sum()),
        velocity_accuracy_m_per_s=_scalar_ratio(va_t.sum(), nva_t.sum()),
        longest_segment=_scalar_ratio(per_target["longest_segment_s"].sum(), per_target["lifetime_s"].sum()),
        track_number_change_rate_per_s=_scalar_ratio(n_changes.sum(), per_target["tracked_time_s"].sum()),
        longest_contiguous_segment=_scalar_ratio(
            per_target["longest_contiguous_s"].sum(), per_target["lifetime_s"].sum()
        ),
        per_time=per_time,
        per_target=per_target,
    )


def commonality(
    pictures: dict[str, pd.DataFrame], truth: pd.DataFrame, *, association_gate_m: float = 10_000.0
) -> CommonalityResult:
    """Fraction of (time, truth) pairs held by ≥ 2 nations whose track numbers agree (module docstring).

    ``pictures`` maps a nation code to its picture. Never raises on empty tables; raises ValueError
    for a missing column or a gate that is not positive.
    """
    _check_gate(association_gate_m, "commonality")
    truth = _checked(truth, TRUTH_COLUMNS, "truth", "commonality")
    parts = []
    for nation, picture in pictures.items():  # a handful of nations; the work inside is vectorised
        picture = _checked(picture, PICTURE_COLUMNS, f"picture {nation!r}", "commonality")
        a = siap_association(truth, picture, association_gate_m=association_gate_m)
        a = a[a["assigned"].to_numpy(dtype=bool)]
        nearest = a.sort_values("position_error_m", kind="stable").drop_duplicates(["time_s", "target_id"])
        parts.append(
            pd.DataFrame(
                {
                    "time_s": nearest["time_s"].to_numpy(dtype=np.float64),
                    "target_id": nearest["target_id"].to_numpy(dtype=object),
                    "nation": nation,
                    "track_id": nearest["track_id"].to_numpy(),
                    "distance_m": nearest["position_error_m"].to_numpy(dtype=np.float64),
                }
            )
        )
    columns = ["time_s", "target_id", "nation", "track_id", "distance_m"]
    nonempty = [p for p in parts if len(p)]
    held = pd.concat(nonempty, ignore_index=True) if nonempty else pd.DataFrame(columns=columns)
    held = held.sort_values(["time_s", "nation"], kind="stable").reset_index(drop=True)

    t_truth = truth["time_s"].to_numpy(dtype=np.float64)
    times = np.unique(t_truth[np.isfinite(t_truth)])
    n_nations = len(pictures)
    if len(held):
        by = held.groupby(["time_s", "target_id"], sort=False)["track_id"]
        n_holding = by.size().to_numpy()
        same = by.nunique(dropna=False).to_numpy() == 1
        pair_time = by.size().index.get_level_values("time_s").to_numpy(dtype=np.float64)
    else:
        n_holding = np.zeros(0, dtype=np.int64)
        same = np.zeros(0, dtype=bool)
        pair_time = np.zeros(0)
    by2 = n_holding >= 2
    by_all = by2 & (n_holding == n_nations)
    k = np.searchsorted(times, pair_time)
    count = len(times)
    per_time = pd.DataFrame(
        {
            "time_s": times,
            "n_held_by_2plus": np.bincount(k[by2], minlength=count),
            "n_common": np.bincount(k[by2 & same], minlength=count),
            "n_held_by_all": np.bincount(k[by_all], minlength=count),
            "n_common_all": np.bincount(k[by_all & same], minlength=count),
        }
    )
    return CommonalityResult(
        commonality=_scalar_ratio(int(np.sum(by2 & same)), int(np.sum(by2))),
        commonality_all=_scalar_ratio(int(np.sum(by_all & same)), int(np.sum(by_all))),
        per_time=per_time,
        held=held,
    )


# --- helpers -------------------------------------------------------------------------------------


def _check_gate(gate_m: float, fn: str) -> None:
    if not (
        isinstance(gate_m, numbers.Real)
        and not isinstance(gate_m, bool)
        and math.isfinite(gate_m)
        and gate_m > 0
    ):
        raise ValueError(f"{fn}: association_gate_m must be a positive number of metres, got {gate_m!r}")


def _checked(df: pd.DataFrame, columns: tuple[str, ...], name: str, fn: str) -> pd.DataFrame:
    """``df`` if it has ``columns``; a zero-row, column-less DataFrame becomes an empty table."""
    if len(df) == 0 and len(df.columns) == 0:
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c.endswith("_id") else np.float64) for c in columns}
        )
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{fn}: {name} lacks column(s) {missing}; expected {list(columns)} (extra columns are ignored)"
        )
    return df


def _state_arrays(df: pd.DataFrame) -> tuple[Array, Array, Array]:
    return (
        df["time_s"].to_numpy(dtype=np.float64),
        df[_POS].to_numpy(dtype=np.float64).reshape(-1, 3),
        df[_VEL].to_numpy(dtype=np.float64).reshape(-1, 3),
    )


def _nearest_truth(t_truth: Array, x_truth: Array, t_pic: Array, x_pic: Array, gate_m: float) -> IntArray:
    """Per picture row: the row of the nearest truth at the same time closer than ``gate_m``, else −1."""
    out = np.full(len(t_pic), -1, dtype=np.int64)
    rows_t = np.flatnonzero(np.isfinite(t_truth) & np.isfinite(x_truth).all(axis=1))
    rows_p = np.flatnonzero(np.isfinite(t_pic) & np.isfinite(x_pic).all(axis=1))
    rows_t = rows_t[np.argsort(t_truth[rows_t], kind="stable")]
    rows_p = rows_p[np.argsort(t_pic[rows_p], kind="stable")]
    sorted_t, sorted_p = t_truth[rows_t], t_pic[rows_p]
    times = np.intersect1d(sorted_t, sorted_p)
    t_lo, t_hi = np.searchsorted(sorted_t, times, "left"), np.searchsorted(sorted_t, times, "right")
    p_lo, p_hi = np.searchsorted(sorted_p, times, "left"), np.searchsorted(sorted_p, times, "right")
    bound = float(np.nextafter(gate_m, np.inf))  # the strict d < gate test is applied below
    for i in range(len(times)):  # one k-d tree per shared time; all tracks of that time at once
        rt, rp = rows_t[t_lo[i] : t_hi[i]], rows_p[p_lo[i] : p_hi[i]]
        dist, j = cKDTree(x_truth[rt]).query(x_pic[rp], k=1, distance_upper_bound=bound)
        inside = dist < gate_m
        out[rp[inside]] = rt[j[inside]]
    return out


def _continuity(
    grid: Array,
    k_truth: IntArray,
    target_truth: IntArray,
    target_ids: pd.Index,
    *,
    held_target: IntArray,
    k_hit: IntArray,
    target_hit: IntArray,
    track_hit: IntArray,
) -> pd.DataFrame:
    """Per-target table (`PER_TARGET_COLUMNS`) from the truth rows (grid index, target code) and the
    assigned picture rows (grid index, target code, track code)."""
    n_targets = len(target_ids)
    n_samples = np.bincount(target_truth, minlength=n_targets)
    t_rows = grid[k_truth] if len(k_truth) else np.zeros(0)
    first = np.full(n_targets, np.inf)
    last = np.full(n_targets, -np.inf)
    np.minimum.at(first, target_truth, t_rows)
    np.maximum.at(last, target_truth, t_rows)
    lifetime = np.where(n_samples > 0, last - first, 0.0)
    held = np.bincount(held_target, minlength=n_targets)

    # Segments: sort assigned rows by (track, time); a new segment starts where the track, the target
    # or the contiguity of grid times changes.
    order = np.lexsort((k_hit, track_hit))
    k, tgt, trk = k_hit[order], target_hit[order], track_hit[order]
    new = np.ones(len(k), dtype=bool)
    new[1:] = (trk[1:] != trk[:-1]) | (tgt[1:] != tgt[:-1]) | (k[1:] != k[:-1] + 1)
    end_of = np.ones(len(k), dtype=bool)
    end_of[:-1] = new[1:]
    seg = np.cumsum(new) - 1
    seg_tgt, seg_k0, seg_k1 = tgt[new], k[new], k[end_of]
    seg_t0, seg_t1 = grid[seg_k0], grid[seg_k1]

    seg_dur = seg_t1 - seg_t0
    contiguous = np.zeros(n_targets)
    np.maximum.at(contiguous, seg_tgt, seg_dur)
    # TL_j: per (target, track) pair the summed duration of its segments, then the largest pair.
    pairs, pair_of_seg = np.unique(np.stack([seg_tgt, trk[new]]), axis=1, return_inverse=True)
    pair_time = np.bincount(pair_of_seg.reshape(-1), weights=seg_dur, minlength=pairs.shape[1])
    longest = np.zeros(n_targets)
    np.maximum.at(longest, pairs[0], pair_time)

    # TT_j: length of the union of j's segments — in start order, each adds what lies beyond the
    # running maximum of the ends before it.
    o = np.lexsort((seg_t0, seg_tgt))
    s_tgt, s0, s1 = seg_tgt[o], seg_t0[o], seg_t1[o]
    run_max = pd.Series(s1).groupby(s_tgt).cummax().to_numpy()
    prev_max = np.full(len(s1), -np.inf)
    if len(s1):
        prev_max[1:] = np.where(s_tgt[1:] == s_tgt[:-1], run_max[:-1], -np.inf)
    tracked = np.bincount(s_tgt, weights=np.maximum(0.0, s1 - np.maximum(s0, prev_max)), minlength=n_targets)

    n_needed = _greedy_cover(k, tgt, seg_k1[seg], n_targets)
    n_numbers = np.bincount(pairs[0], minlength=n_targets)
    return pd.DataFrame(
        {
            "target_id": np.asarray(target_ids, dtype=object),
            "n_samples": n_samples.astype(np.int64),
            "lifetime_s": lifetime,
            "held_fraction": _ratio(held, n_samples),
            "tracked_time_s": tracked,
            "longest_segment_s": longest,
            "longest_segment_fraction": _ratio(longest, lifetime),
            "longest_contiguous_s": contiguous,
            "longest_contiguous_fraction": _ratio(contiguous, lifetime),
            "n_tracks_needed": n_needed,
            "n_track_number_changes": np.maximum(n_needed - 1, 0),
            "n_track_numbers": n_numbers.astype(np.int64),
        },
        columns=list(PER_TARGET_COLUMNS),
    )


def _greedy_cover(k: IntArray, tgt: IntArray, seg_end_k: IntArray, n_targets: int) -> IntArray:
    """NU_j: walking the grid forward, at each held time not yet covered for j take the segment through
    it that ends last (the optimal greedy cover of j's held times by segments)."""
    n_needed = np.zeros(n_targets, dtype=np.int64)
    if len(k) == 0:
        return n_needed
    best = pd.DataFrame({"k": k, "tgt": tgt, "end": seg_end_k}).groupby(["k", "tgt"], sort=True)["end"].max()
    kk = best.index.get_level_values("k").to_numpy(dtype=np.int64)
    gg = best.index.get_level_values("tgt").to_numpy(dtype=np.int64)
    ee = best.to_numpy(dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, kk[1:] != kk[:-1]])
    stops = np.r_[starts[1:], len(kk)]
    covered_to = np.full(n_targets, -1, dtype=np.int64)
    for lo, hi in zip(starts, stops, strict=True):  # loop over grid times; targets vectorised
        g, e = gg[lo:hi], ee[lo:hi]
        fresh = covered_to[g] < kk[lo]
        n_needed[g[fresh]] += 1
        covered_to[g[fresh]] = e[fresh]
    return n_needed


def _ratio(num: NDArray[np.generic], den: NDArray[np.generic]) -> Array:
    """num / den elementwise, NaN where den is 0 (no warning)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den != 0)


def _scalar_ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den != 0 else math.nan
