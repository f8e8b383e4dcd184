"""Measures of a recording's pictures: per-nation GOSPA over time and custody per threat.

Each nation has two pictures, scored alike: ``own`` — its ``tracks_<NATION>`` table, what its own
sensors give it (firm tracks: confirmed and coasting; the tentative ones are not shown to an
operator) — and ``coalition`` — its ``picture_<NATION>`` table, its system tracks fused from its
own tracks and what its partners released to it. Against the recording's truth:

* **GOSPA** (`kizuna.metrics.gospa.gospa_series`, c = ``gospa_c_m``, p = 2, α = 2) at every step
  against every airborne object of the truth (threats, friends and civil traffic alike — a nation
  that cannot see a region is charged its targets as missed; that is what sharing buys back);
* **custody** (`kizuna.metrics.custody.custody`, gate ``custody_gate_m``) of every *hostile*
  target, with the first detection by the nation's own sensors for the ``own`` picture and by any
  coalition sensor for the ``coalition`` picture (the recording's evaluation column
  ``truth_target_id``).

and the **SIAP** measures of each picture (`kizuna.metrics.siap.siap`, association gate
``custody_gate_m``), with the **commonality** of the coalition pictures: how often every nation
holding an object gives it the same system track number.

`evaluate_recording` returns them as DataFrames; `kizuna run` writes ``gospa.parquet``,
``custody.parquet`` and ``siap.parquet`` and prints the custody table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kizuna.metrics.custody import CUSTODY_COLUMNS, custody
from kizuna.metrics.gospa import gospa_series
from kizuna.metrics.siap import commonality, siap

__all__ = ["FIRM_STATUSES", "PictureMetrics", "evaluate_recording", "nation_of_sensor"]

FIRM_STATUSES = ("confirmed", "coasting")
_XYZ = ["x_m", "y_m", "z_m"]
_VXYZ = ["vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]


@dataclass(frozen=True)
class PictureMetrics:
    """``gospa``: nation, time_s, gospa_m, localisation_m_p, missed_m_p, false_m_p, n_missed,
    n_false. ``custody``: nation, target_id, kind + `CUSTODY_COLUMNS`, one row per (nation, threat)."""

    gospa: pd.DataFrame
    custody: pd.DataFrame
    siap: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per (nation, picture): the SIAP measures (`kizuna.metrics.siap.SiapResult`), plus
    a row (nation ``coalition``, picture ``coalition``): the measures averaged over the nations'
    coalition pictures, and the commonality of numbers across them."""

    def mean_gospa_m(self, picture: str = "own") -> dict[str, float]:
        g = self.gospa[self.gospa["picture"] == picture] if len(self.gospa) else self.gospa
        return {str(n): float(x["gospa_m"].mean()) for n, x in g.groupby("nation", sort=False)}


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
    truth_states = pd.read_parquet(folder / "truth.parquet", columns=["time_s", "target_id", *_XYZ, *_VXYZ])
    gospa_parts, custody_parts, siap_rows = [], [], []
    coalition_pictures: dict[str, pd.DataFrame] = {}
    t_time, t_pos = truth["time_s"].to_numpy(), truth[_XYZ].to_numpy()
    for nation in nations:
        for view, table in (("own", f"tracks_{nation}"), ("coalition", f"picture_{nation}")):
            path = folder / f"{table}.parquet"
            if not path.exists():
                continue
            tracks = pd.read_parquet(path, columns=["time_s", "track_id", "status", *_XYZ, *_VXYZ])
            firm = tracks[tracks["status"].isin(FIRM_STATUSES)].assign(status="confirmed")
            measures = siap(truth_states, firm, association_gate_m=custody_gate_m)
            siap_rows.append({"nation": nation, "picture": view, **measures.as_dict()})
            if view == "coalition":
                coalition_pictures[nation] = firm
            series = gospa_series(t_time, t_pos, firm["time_s"].to_numpy(), firm[_XYZ].to_numpy(), gospa_c_m)
            gospa_parts.append(
                pd.DataFrame(
                    {
                        "nation": nation,
                        "picture": view,
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
                seen = det[det_nation == nation] if view == "own" else det
                seen = seen.rename(columns={"truth_target_id": "target_id"})
                c = custody(threats, firm, custody_gate_m, detections=seen[["time_s", "target_id"]])
                c = c.reset_index().rename(columns={"index": "target_id"})
                c.insert(0, "nation", nation)
                c.insert(1, "picture", view)
                c.insert(3, "kind", kinds.reindex(c["target_id"]).to_numpy())
                custody_parts.append(c)
    if coalition_pictures:
        # The coalition's measures: each SIAP measure averaged over the nations' coalition
        # pictures, plus how common the numbers are across them.
        fused_rows = pd.DataFrame([r for r in siap_rows if r["picture"] == "coalition"])
        row = {"nation": "coalition", "picture": "coalition"}
        row.update(fused_rows.drop(columns=["nation", "picture"]).mean(numeric_only=True).to_dict())
        if len(coalition_pictures) >= 2:
            common = commonality(coalition_pictures, truth_states, association_gate_m=custody_gate_m)
            row.update(commonality=common.commonality, commonality_all=common.commonality_all)
        siap_rows.append(row)
    empty_custody = pd.DataFrame(columns=["nation", "picture", "target_id", "kind", *CUSTODY_COLUMNS])
    return PictureMetrics(
        gospa=pd.concat(gospa_parts, ignore_index=True) if gospa_parts else pd.DataFrame(),
        custody=pd.concat(custody_parts, ignore_index=True) if custody_parts else empty_custody,
        siap=pd.DataFrame(siap_rows),
    )
