"""Truth plots: one PNG per target kind (altitude vs down-range, speed vs time, ground track).

Reads a recording's `truth.parquet` only. Matplotlib's Agg backend, nothing shown on screen.
Down-range is the great-circle distance from each target's first sample on the mean-radius sphere;
phases are drawn in distinct colours so boost, midcourse/glide and terminal can be told apart.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from kizuna.frames import great_circle_distance_m
from kizuna.recording import read_table

__all__ = ["plot_truth"]

_PHASE_COLOURS = {
    "cruise": "tab:blue",
    "boost": "tab:red",
    "midcourse": "tab:green",
    "glide": "tab:purple",
    "terminal": "tab:orange",
}
_KIND_ORDER = ["ballistic_missile", "glide_vehicle", "cruise_missile", "aircraft", "civil_aircraft"]
_MAX_TARGETS_PER_PLOT = 12


def _down_range_m(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """Great-circle distance from the first point."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    return great_circle_distance_m(lat[0], lon[0], lat, lon)


def plot_truth(recording: str | Path, out_dir: str | Path, kinds: list[str] | None = None) -> list[Path]:
    """Write `truth_<kind>.png` for each target kind in the recording; returns the files written.

    At most 12 targets are drawn per kind (the first by id) so the plot stays readable.
    """
    truth = read_table(recording, "truth").to_pandas()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    present = [k for k in _KIND_ORDER if k in set(truth.kind)]
    written: list[Path] = []
    for kind in kinds or present:
        rows = truth[truth.kind == kind]
        if rows.empty:
            continue
        path = out / f"truth_{kind}.png"
        _plot_kind(rows, kind, path)
        written.append(path)
    return written


def _plot_kind(rows: pd.DataFrame, kind: str, path: Path) -> None:
    ids = sorted(rows.target_id.unique())[:_MAX_TARGETS_PER_PLOT]
    fig, (ax_alt, ax_speed, ax_track) = plt.subplots(1, 3, figsize=(16, 5), layout="constrained")
    seen_phases: set[str] = set()
    for target_id in ids:
        one = rows[rows.target_id == target_id].sort_values("time_s")
        lat, lon = one.lat_deg.to_numpy(), one.lon_deg.to_numpy()
        down_km = _down_range_m(lat, lon) / 1e3
        speed = np.linalg.norm(one[["vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]].to_numpy(), axis=1)
        alt_km = one.alt_m.to_numpy() / 1e3
        t_min = one.time_s.to_numpy() / 60.0
        phases = one.phase.to_numpy()
        for phase in pd.unique(phases):
            mask = phases == phase
            colour = _PHASE_COLOURS.get(str(phase), "tab:gray")
            label = None if phase in seen_phases else str(phase)
            seen_phases.add(str(phase))
            ax_alt.plot(down_km[mask], alt_km[mask], ".", ms=1.5, color=colour, label=label)
            ax_speed.plot(t_min[mask], speed[mask], ".", ms=1.5, color=colour)
            ax_track.plot(lon[mask], lat[mask], ".", ms=1.5, color=colour)
        ax_track.annotate(target_id, (lon[-1], lat[-1]), fontsize=7)
    ax_alt.set(
        xlabel="down-range from first sample [km]", ylabel="altitude [km]", title="altitude vs down-range"
    )
    ax_speed.set(xlabel="time since epoch [min]", ylabel="speed (ECEF) [m/s]", title="speed vs time")
    ax_track.set(xlabel="longitude [°E]", ylabel="latitude [°N]", title="ground track")
    ax_track.set_aspect(1.0 / max(np.cos(np.radians(rows.lat_deg.mean())), 0.2))
    ax_alt.set_ylim(bottom=min(0.0, float(rows.alt_m.min()) / 1e3))
    for ax in (ax_alt, ax_speed, ax_track):
        ax.grid(alpha=0.3)
        ax.ticklabel_format(useOffset=False, style="plain")
    ax_alt.legend(title="phase", markerscale=6, loc="best")
    shown = (
        f"{len(ids)} of {rows.target_id.nunique()}" if rows.target_id.nunique() > len(ids) else str(len(ids))
    )
    fig.suptitle(f"{kind.replace('_', ' ')}: {shown} targets")
    fig.savefig(path, dpi=110)
    plt.close(fig)
