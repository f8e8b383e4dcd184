"""Custody: per target, when it was first detected, first held by a confirmed track, how much of its
life it was held, how often custody broke and how often the track holding it changed identity.

Inputs (pandas DataFrames; extra columns are ignored):

``truth``   — one row per target per truth sample: ``time_s`` (float, s since the scenario epoch),
              ``target_id`` (any hashable), ``x_m``, ``y_m``, ``z_m`` (ECEF, m). A target's
              lifetime is the set of its rows.
``tracks``  — one row per track per output time: ``time_s``, ``track_id`` (any hashable),
              ``x_m``, ``y_m``, ``z_m`` (ECEF, m), ``status`` (str; rows equal to
              ``confirmed_status``, default ``"confirmed"``, count). Track rows must be at the truth
              sample times (exact float equality, e.g. tracks predicted to the truth times);
              rows at other times are ignored.
``detections`` (optional) — ``time_s``, ``target_id``: one row per detection of a target (false
              alarms left out), e.g. a `DetectionBatch`'s times joined with `DetectionLabels`.

Assignment rule (per truth time, `assign_tracks_to_truth`): the GOSPA assignment with cut-off
c = ``gate_m`` and p = 2 (`kizuna.metrics.gospa`): the optimal 2-D assignment
(`scipy.optimize.linear_sum_assignment`) minimising Σ min(d, c)² between the targets present and
the confirmed tracks present, keeping only pairs closer than c. A target is *held* at a time when
a confirmed track is assigned to it.

Counts over each target's samples in time order:

* a **break** is a held sample followed by a not-held sample (the end of the target's life is
  not a break);
* an **identity switch** is a held sample whose track id differs from the track id of the
  previous held sample of the same target (gaps in between included: re-acquiring the target on
  a new track after a break is a switch, on the same track it is not);
* ``held_fraction`` is held samples / samples (sample-weighted: truth sampled at a fixed
  interval gives the fraction of the lifetime).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.metrics.gospa import gospa

__all__ = ["CUSTODY_COLUMNS", "TRACK_COLUMNS", "TRUTH_COLUMNS", "assign_tracks_to_truth", "custody"]

TRUTH_COLUMNS = ("time_s", "target_id", "x_m", "y_m", "z_m")
TRACK_COLUMNS = ("time_s", "track_id", "x_m", "y_m", "z_m", "status")
CUSTODY_COLUMNS = (
    "first_time_s",
    "last_time_s",
    "first_detection_time_s",
    "first_confirmed_time_s",
    "held_fraction",
    "n_breaks",
    "n_id_switches",
    "n_tracks",
)
"""Columns of `custody`'s result (indexed by ``target_id``); times NaN when the event never happened."""

_XYZ = ["x_m", "y_m", "z_m"]


def _require(df: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"custody: {name} lacks column(s) {missing}; expected {list(columns)}")


def assign_tracks_to_truth(
    truth: pd.DataFrame, tracks: pd.DataFrame, gate_m: float, confirmed_status: str = "confirmed"
) -> pd.DataFrame:
    """Per truth row: the confirmed track assigned to it (module docstring's rule), or none.

    Returns a DataFrame aligned with ``truth`` (same index, same order) with columns ``time_s``,
    ``target_id``, ``held`` (bool), ``track_id`` (object; None when not held) and ``distance_m``
    (NaN when not held). One assignment per truth time.
    """
    _require(truth, TRUTH_COLUMNS, "truth")
    _require(tracks, TRACK_COLUMNS, "tracks")
    conf = tracks[tracks["status"] == confirmed_status]
    t_truth = truth["time_s"].to_numpy(dtype=np.float64)
    x_truth = truth[_XYZ].to_numpy(dtype=np.float64)
    t_trk = conf["time_s"].to_numpy(dtype=np.float64)
    x_trk = conf[_XYZ].to_numpy(dtype=np.float64)
    id_trk = conf["track_id"].to_numpy(dtype=object)

    order_t = np.argsort(t_truth, kind="stable")
    order_k = np.argsort(t_trk, kind="stable")
    times = np.unique(t_truth)
    sorted_t, sorted_k = t_truth[order_t], t_trk[order_k]
    t_lo, t_hi = np.searchsorted(sorted_t, times, "left"), np.searchsorted(sorted_t, times, "right")
    k_lo, k_hi = np.searchsorted(sorted_k, times, "left"), np.searchsorted(sorted_k, times, "right")

    track_row = np.full(len(truth), -1, dtype=np.int64)
    for i in range(len(times)):
        rows_t = order_t[t_lo[i] : t_hi[i]]
        rows_k = order_k[k_lo[i] : k_hi[i]]
        if len(rows_k) == 0:
            continue
        assigned = gospa(x_truth[rows_t], x_trk[rows_k], c_m=gate_m, p=2.0).truth_to_track
        hit = assigned >= 0
        track_row[rows_t[hit]] = rows_k[assigned[hit]]
    held = track_row >= 0
    safe = np.maximum(track_row, 0)
    track_id = np.where(held, id_trk[safe] if len(id_trk) else None, None)
    distance = np.where(held, np.linalg.norm(x_truth - (x_trk[safe] if len(x_trk) else 0.0), axis=1), np.nan)
    return pd.DataFrame(
        {
            "time_s": t_truth,
            "target_id": truth["target_id"].to_numpy(dtype=object),
            "held": held,
            "track_id": pd.Series(track_id, dtype=object).to_numpy(),
            "distance_m": distance,
        },
        index=truth.index,
    )


def custody(
    truth: pd.DataFrame,
    tracks: pd.DataFrame,
    gate_m: float,
    detections: pd.DataFrame | None = None,
    confirmed_status: str = "confirmed",
) -> pd.DataFrame:
    """Per-target custody summary, indexed by ``target_id``, columns `CUSTODY_COLUMNS`.

    ``first_confirmed_time_s`` is the first truth time at which a confirmed track is assigned to the
    target (module docstring); ``n_tracks`` the number of distinct track ids ever assigned to it.
    """
    a = assign_tracks_to_truth(truth, tracks, gate_m, confirmed_status)
    a = a.sort_values(["target_id", "time_s"], kind="stable").reset_index(drop=True)
    by = a.groupby("target_id", sort=True)
    prev_held = by["held"].shift(1, fill_value=False).astype(bool)
    a["break"] = prev_held & ~a["held"]
    held_rows = a[a["held"]]
    prev_id = held_rows.groupby("target_id")["track_id"].shift(1)
    switch = prev_id.notna() & (prev_id != held_rows["track_id"])
    a["switch"] = False
    a.loc[held_rows.index, "switch"] = switch.to_numpy(dtype=bool)
    a["held_time_s"] = a["time_s"].where(a["held"])

    out = pd.DataFrame(
        {
            "first_time_s": by["time_s"].min(),
            "last_time_s": by["time_s"].max(),
            "first_confirmed_time_s": a.groupby("target_id")["held_time_s"].min(),
            "held_fraction": by["held"].mean().astype(float),
            "n_breaks": a.groupby("target_id")["break"].sum().astype(np.int64),
            "n_id_switches": a.groupby("target_id")["switch"].sum().astype(np.int64),
            "n_tracks": held_rows.groupby("target_id")["track_id"].nunique(),
        }
    )
    out["n_tracks"] = out["n_tracks"].fillna(0).astype(np.int64)
    if detections is not None and len(detections):
        _require(detections, ("time_s", "target_id"), "detections")
        first_det = detections.groupby("target_id")["time_s"].min()
        out["first_detection_time_s"] = first_det.reindex(out.index).astype(float)
    else:
        out["first_detection_time_s"] = np.nan
    out.index.name = "target_id"
    return out[list(CUSTODY_COLUMNS)]
