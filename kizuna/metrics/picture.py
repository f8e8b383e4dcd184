"""Measures of a recording's national pictures: per-nation GOSPA over time and custody per threat.

A nation's picture is its ``tracks_<NATION>`` table (firm tracks: confirmed and coasting; the
tentative ones are not shown to an operator), scored against the recording's truth:

* **GOSPA** (`kizuna.metrics.gospa.gospa_series`, c = ``gospa_c_m``, p = 2, α = 2) at every step
  against every airborne object of the truth (threats, friends and civil traffic alike — a nation
  that cannot see a region is charged its targets as missed; that is what sharing buys back);
* **custody** (`kizuna.metrics.custody.custody`, gate ``custody_gate_m``) of every *hostile*
  target, with the first detection by the nation's own sensors (the recording's evaluation column
  ``truth_target_id``).

`evaluate_recording` returns both as DataFrames; `kizuna run` writes them as ``gospa.parquet`` and
``custody.parquet`` and prints the custody table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kizuna.metrics.custody import CUSTODY_COLUMNS, custody
from kizuna.metrics.gospa import gospa_series

__all__ = ["FIRM_STATUSES", "PictureMetrics", "evaluate_recording", "nation_of_sensor"]

FIRM_STATUSES = ("confirmed", "coasting")
_XYZ = ["x_m", "y_m", "z_m"]


@dataclass(frozen=True)
class PictureMetrics:
    """``gospa``: nation, time_s, gospa_m, localisation_m_p, missed_m_p, false_m_p, n_missed,
    n_false. ``custody``: nation, target_id, kind + `CUSTODY_COLUMNS`, one row per (nation, threat)."""

    gospa: pd.DataFrame
    custody: pd.DataFrame

    def mean_gospa_m(self) -> dict[str, float]:
        return {str(n): float(g["gospa_m"].mean()) for n, g in self.gospa.groupby("nation", sort=False)}


def nation_of_sensor(sensor_id: pd.Series) -> pd.Series:
    """The nation code that prefixes a sensor id (``JPN-…``; satellite rows ``USA-layer/…``)."""
    return sensor_id.astype(str).str.split("-", n=1).str[0]


def evaluate_recording(
    folder: str | Path,
    nations: list[str],
    *,
    gospa_c_m: float = 10_000.0,
    custody_gate_m: float = 10_000.0,
) -> PictureMetrics:
    """GOSPA and custody of each nation's ``tracks_<NATION>.parquet`` in ``folder`` (module docstring)."""
    folder = Path(folder)
    truth = pd.read_parquet(
        folder / "truth.parquet", columns=["time_s", "target_id", "kind", "affiliation", *_XYZ]
    )
    det = pd.read_parquet(folder / "detections.parquet", columns=["time_s", "sensor_id", "truth_target_id"])
    det = det[det["truth_target_id"] != ""]
    det_nation = nation_of_sensor(det["sensor_id"])
    threats = truth[truth["affiliation"] == "hostile"]
    kinds = threats.groupby("target_id")["kind"].first()
    gospa_parts, custody_parts = [], []
    for nation in nations:
        tracks = pd.read_parquet(
            folder / f"tracks_{nation}.parquet", columns=["time_s", "track_id", "status", *_XYZ]
        )
        firm = tracks[tracks["status"].isin(FIRM_STATUSES)].assign(status="confirmed")
        t_time, t_pos = truth["time_s"].to_numpy(), truth[_XYZ].to_numpy()
        series = gospa_series(t_time, t_pos, firm["time_s"].to_numpy(), firm[_XYZ].to_numpy(), gospa_c_m)
        gospa_parts.append(
            pd.DataFrame(
                {
                    "nation": nation,
                    "time_s": series.time_s,
                    "gospa_m": series.gospa_m,
                    "localisation_m_p": series.localisation_m_p,
                    "missed_m_p": series.missed_m_p,
                    "false_m_p": series.false_m_p,
                    "n_missed": series.n_missed,
                    "n_false": series.n_false,
                }
            )
        )
        if len(threats):
            own = det[det_nation == nation].rename(columns={"truth_target_id": "target_id"})
            c = custody(threats, firm, custody_gate_m, detections=own[["time_s", "target_id"]])
            c = c.reset_index().rename(columns={"index": "target_id"})
            c.insert(0, "nation", nation)
            c.insert(2, "kind", kinds.reindex(c["target_id"]).to_numpy())
            custody_parts.append(c)
    empty_custody = pd.DataFrame(columns=["nation", "target_id", "kind", *CUSTODY_COLUMNS])
    return PictureMetrics(
        gospa=pd.concat(gospa_parts, ignore_index=True) if gospa_parts else pd.DataFrame(),
        custody=pd.concat(custody_parts, ignore_index=True) if custody_parts else empty_custody,
    )
