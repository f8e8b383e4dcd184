"""One self-contained HTML report of a recording, for an analyst to read or mail.

`write_report(recording)` reads the recording's tables (scenario.json, truth, custody, gospa, siap,
messages, audit.jsonl, the pictures ``tracks_<NATION>`` and ``picture_<NATION>`` and, when present,
satellites) and writes `report.html`: CSS inline, plots as inline base64 PNG, no scripts and no
external references. Every number in a table comes from the Parquet files; each numeric cell carries
the unrounded value in a `data-value` attribute (Python `repr` of the float, `nan` when missing) so a
test or a script can read it back exactly.

The threat timeline shows custody as it was held, step by step: a threat is *held* by a picture at
a truth step when the custody metric's assignment (`kizuna.metrics.custody.assign_tracks_to_truth`:
GOSPA assignment of the picture's firm tracks to the hostile targets present, gate
``custody_gate_m`` of `kizuna.metrics.picture.evaluate_recording`) gives it a track. Each held truth
sample stands for the step that starts at it, so a run of held samples at t_i … t_j is the interval
[t_i, t_j + step) and the intervals' total length over (samples × step) is custody.parquet's
``held_fraction`` exactly. See docs/report.md.
"""

from __future__ import annotations

import base64
import html
import inspect
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from kizuna.metrics.custody import assign_tracks_to_truth
from kizuna.metrics.picture import FIRM_STATUSES, evaluate_recording

__all__ = ["CUSTODY_GATE_M", "PICTURES", "REPORT_SECTIONS", "held_intervals", "held_steps", "write_report"]

REPORT_SECTIONS = ("scenario", "threats", "gospa", "siap", "network", "coverage")
_REQUIRED = (
    "scenario.json",
    "truth.parquet",
    "custody.parquet",
    "gospa.parquet",
    "siap.parquet",
    "messages.parquet",
    "audit.jsonl",
)
_FATES = ("delivered", "lost", "outage", "congestion", "no-link")
_SIAP_COLUMNS = (
    "completeness",
    "ambiguity",
    "spuriousness",
    "position_accuracy_m",
    "velocity_accuracy_m_per_s",
    "longest_segment",
    "track_number_change_rate_per_s",
    "longest_contiguous_segment",
    "commonality",
    "commonality_all",
)
_MAX_SATELLITE_SAMPLES = 400
CUSTODY_GATE_M: float = float(inspect.signature(evaluate_recording).parameters["custody_gate_m"].default)
"""The custody gate `kizuna run` scores with (evaluate_recording's default), so held intervals match
custody.parquet."""
PICTURES = ("own", "coalition")
_PHASE_ORDER = ("boost", "midcourse", "glide", "cruise", "terminal")
_PHASE_COLOURS = {
    "boost": "#fff0a0",
    "midcourse": "#d6eef2",
    "glide": "#e6dcf5",
    "cruise": "#e4e4e4",
    "terminal": "#f8cfd6",
}
_XYZ = ["x_m", "y_m", "z_m"]
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #bbb; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #eee; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; } p.note { color: #555; font-size: .9em; }
details { margin: .8em 0; } summary { cursor: pointer; color: #333; }
"""

Formatter = Callable[[Any], str]


def write_report(recording: str | Path, out_file: str | Path | None = None) -> Path:
    """Write the HTML report of `recording` to `out_file` (default `<recording>/report.html`).

    Raises `ValueError` naming the missing file when the recording lacks a table the report needs.
    """
    folder = Path(recording)
    for name in _REQUIRED:
        if not (folder / name).is_file():
            raise ValueError(
                f"{folder / name}: missing; the report needs the full recording of `kizuna run` "
                f"({', '.join(_REQUIRED)}) — re-run the scenario into a fresh folder"
            )
    scenario_doc = json.loads((folder / "scenario.json").read_text(encoding="utf-8"))
    truth = pd.read_parquet(folder / "truth.parquet")
    custody = pd.read_parquet(folder / "custody.parquet")
    gospa = pd.read_parquet(folder / "gospa.parquet")
    siap = pd.read_parquet(folder / "siap.parquet")
    messages = pd.read_parquet(folder / "messages.parquet")
    audit = _read_audit(folder / "audit.jsonl")
    satellites_path = folder / "satellites.parquet"
    satellites = pd.read_parquet(satellites_path) if satellites_path.is_file() else None

    scenario = scenario_doc.get("scenario", {})
    step_s = float(scenario.get("step_s", float("nan")))
    held = held_steps(folder, truth, list(pd.unique(custody["nation"])))
    title = f"Kizuna report: {scenario.get('name', folder.name)}"
    body = [
        f"<h1>{_esc(title)}</h1>",
        _scenario_section(scenario_doc, truth),
        _threats_section(custody, held, step_s),
        _gospa_section(gospa),
        _siap_section(siap),
        _network_section(messages, audit),
        _coverage_section(satellites, truth, scenario.get("region")),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    out = Path(out_file) if out_file is not None else folder / "report.html"
    out.write_text(page, encoding="utf-8")
    return out


# --- sections -------------------------------------------------------------------------------------


def _scenario_section(doc: dict[str, Any], truth: pd.DataFrame) -> str:
    scenario = doc.get("scenario", {})
    nations = [n.get("code", "") for n in scenario.get("nations", [])]
    facts = pd.DataFrame(
        {
            "item": ["name", "epoch (UTC)", "duration", "step", "nations", "seed"],
            "value": [
                str(scenario.get("name", "")),
                str(doc.get("derived", {}).get("epoch_utc", scenario.get("epoch", ""))),
                f"{float(scenario.get('duration_s', float('nan'))):g} s",
                f"{float(scenario.get('step_s', float('nan'))):g} s",
                ", ".join(nations),
                str(scenario.get("seed", "")),
            ],
        }
    )
    sensor_rows = [
        {"nation": s.get("nation", ""), "sensor": s.get("id", ""), "kind": s.get("kind", "")}
        for s in scenario.get("sensors", [])
    ]
    for layer in scenario.get("constellations", []):
        n_sats = len(doc.get("derived", {}).get("satellites", {}).get(layer.get("id", ""), []))
        sensor_rows.append(
            {
                "nation": layer.get("nation", ""),
                "sensor": layer.get("id", ""),
                "kind": f"constellation ({n_sats})",
            }
        )
    sensors = pd.DataFrame(sensor_rows, columns=["nation", "sensor", "kind"])
    per_target = truth.groupby("target_id", sort=True)[["kind", "affiliation"]].first()
    kinds = (
        per_target.groupby(["kind", "affiliation"]).size().rename("n_targets").reset_index()
        if not per_target.empty
        else pd.DataFrame(columns=["kind", "affiliation", "n_targets"])
    )
    return _section(
        "scenario",
        "Scenario",
        _esc(str(scenario.get("description", ""))),
        _table(facts, [("item", "", _text), ("value", "", _text)], "scenario-facts"),
        "<h3>Sensors per nation</h3>",
        _table(sensors, [("nation", "", _text), ("sensor", "", _text), ("kind", "", _text)], "sensors"),
        "<h3>Targets by kind (from truth)</h3>",
        _table(
            kinds,
            [("kind", "", _text), ("affiliation", "", _text), ("n_targets", "targets", _int)],
            "targets",
        ),
    )


def _threats_section(custody: pd.DataFrame, held: pd.DataFrame, step_s: float) -> str:
    rows = custody.sort_values(["first_time_s", "target_id", "nation", "picture"], kind="stable")
    table = _table(
        rows,
        [
            ("target_id", "threat", _text),
            ("kind", "kind", _text),
            ("nation", "nation", _text),
            ("picture", "picture", _text),
            ("first_time_s", "start [s]", _seconds),
            ("first_detection_time_s", "first detection [s]", _seconds),
            ("first_confirmed_time_s", "first firm track [s]", _seconds),
            ("held_fraction", "custody (held)", _percent),
            ("n_breaks", "breaks", _int),
            ("n_id_switches", "id switches", _int),
        ],
        "custody",
    )
    intervals = held_intervals(held, step_s)
    order = {t: k for k, t in enumerate(pd.unique(rows["target_id"]))}
    intervals = intervals.sort_values(
        ["target_id", "nation", "picture", "start_s"],
        key=lambda c: c.map(order) if c.name == "target_id" else c,
        kind="stable",
    )
    phases = _phase_table(held, rows)
    phase_columns: list[tuple[str, str, Formatter]] = [
        ("target_id", "threat", _text),
        ("kind", "kind", _text),
        ("nation", "nation", _text),
        ("picture", "picture", _text),
    ]
    phase_columns += [(p, p, _percent) for p in _phases_present(held)]
    return _section(
        "threats",
        "Threats: detection, firm track and custody",
        "<p class='note'>Own = the nation's tracker on its own sensors; coalition = its fused picture. "
        "Times are seconds since the epoch; blank when the event never happened.</p>",
        table,
        "<h3>Per-threat timeline</h3>",
        _img(_threat_timeline(custody, held, intervals, step_s), "threat timeline"),
        "<p class='note'>One row per nation and picture under each threat. Bars are the intervals in which "
        f"the picture held the threat: at each truth step a firm track assigned to it within "
        f"{CUSTODY_GATE_M / 1e3:g} km (the custody metric's assignment), each held step drawn as the step "
        "that starts at it, so the bars' length over the threat's flight is the held fraction (right-hand "
        "labels). Background shading: the threat's flight phase from truth; black line: launch (first "
        "truth sample); ○ first detection (own: the nation's sensors, coalition: any sensor); "
        "◆ first firm track.</p>",
        "<h3>Custody through each phase</h3>",
        "<p class='note'>Held steps / steps of the threat in each flight phase; blank where the threat "
        "has no such phase.</p>",
        _table(phases, phase_columns, "custody-phases"),
        f"<details><summary>Held intervals ({len(intervals)}): start and end of each, seconds since the "
        "epoch; end = last held step + one step</summary>",
        _table(
            intervals,
            [
                ("target_id", "threat", _text),
                ("nation", "nation", _text),
                ("picture", "picture", _text),
                ("start_s", "start [s]", _seconds),
                ("end_s", "end [s]", _seconds),
                ("n_steps", "steps", _int),
            ],
            "custody-intervals",
        ),
        "</details>",
    )


def held_steps(folder: str | Path, truth: pd.DataFrame, nations: Sequence[str]) -> pd.DataFrame:
    """Per nation, picture and hostile truth sample: whether that picture held the threat.

    Columns ``nation``, ``picture`` (`PICTURES`), ``target_id``, ``time_s``, ``phase``, ``held``;
    sorted by nation (in the order given), picture, target and time. The rule is custody.parquet's:
    the picture's firm tracks (`FIRM_STATUSES`) assigned to the hostile targets present at each
    truth time by `assign_tracks_to_truth` with gate `CUSTODY_GATE_M`. A picture whose table is
    missing from ``folder`` has no rows.
    """
    folder = Path(folder)
    threats = truth[truth["affiliation"] == "hostile"]
    columns = ["nation", "picture", "target_id", "time_s", "phase", "held"]
    parts = []
    for nation in nations:
        for picture, table in zip(PICTURES, (f"tracks_{nation}", f"picture_{nation}"), strict=True):
            path = folder / f"{table}.parquet"
            if not path.is_file() or threats.empty:
                continue
            tracks = pd.read_parquet(path, columns=["time_s", "track_id", "status", *_XYZ])
            firm = tracks[tracks["status"].isin(FIRM_STATUSES)].assign(status="confirmed")
            a = assign_tracks_to_truth(threats, firm, CUSTODY_GATE_M)
            part = pd.DataFrame(
                {
                    "nation": nation,
                    "picture": picture,
                    "target_id": a["target_id"].to_numpy(dtype=object),
                    "time_s": a["time_s"].to_numpy(dtype=float),
                    "phase": threats["phase"].to_numpy(dtype=object),
                    "held": a["held"].to_numpy(dtype=bool),
                }
            )
            parts.append(part.sort_values(["target_id", "time_s"], kind="stable"))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=bool if c == "held" else object) for c in columns})
    return pd.concat(parts, ignore_index=True)[columns]


def held_intervals(held: pd.DataFrame, step_s: float) -> pd.DataFrame:
    """The runs of consecutive held samples of `held_steps`, one row per interval.

    Columns ``target_id``, ``nation``, ``picture``, ``start_s`` (first held sample's time), ``end_s``
    (last held sample's time + ``step_s``: each sample stands for the step that starts at it) and
    ``n_steps`` (held samples in the run). Consecutive means adjacent samples of the same threat.
    """
    rows = []
    for (nation, picture, target), one in held.groupby(["nation", "picture", "target_id"], sort=False):
        flag = one.sort_values("time_s")["held"].to_numpy(dtype=np.int8)
        times = one.sort_values("time_s")["time_s"].to_numpy(dtype=float)
        edges = np.diff(np.concatenate(([0], flag, [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for a, b in zip(starts, ends, strict=True):
            rows.append(
                {
                    "target_id": target,
                    "nation": nation,
                    "picture": picture,
                    "start_s": float(times[a]),
                    "end_s": float(times[b - 1] + step_s),
                    "n_steps": int(b - a),
                }
            )
    return pd.DataFrame(rows, columns=["target_id", "nation", "picture", "start_s", "end_s", "n_steps"])


def _phases_present(held: pd.DataFrame) -> list[str]:
    present = [str(p) for p in pd.unique(held["phase"])]
    return [p for p in _PHASE_ORDER if p in present] + sorted(p for p in present if p not in _PHASE_ORDER)


def _phase_table(held: pd.DataFrame, custody_rows: pd.DataFrame) -> pd.DataFrame:
    """Held fraction per phase, one row per (threat, nation, picture) in the custody table's order."""
    phases = _phases_present(held)
    fraction = held.groupby(["target_id", "nation", "picture", "phase"])["held"].mean().unstack("phase")
    keys = custody_rows[["target_id", "kind", "nation", "picture"]].reset_index(drop=True)
    index = pd.MultiIndex.from_frame(keys[["target_id", "nation", "picture"]])
    fraction = fraction.reindex(index=index, columns=phases).astype(float)
    return pd.concat([keys, fraction.reset_index(drop=True)], axis=1)


def _gospa_section(gospa: pd.DataFrame) -> str:
    means = gospa.groupby(["nation", "picture"])["gospa_m"].mean().unstack("picture")
    nations = list(pd.unique(gospa["nation"]))
    table = pd.DataFrame(
        {
            "nation": nations,
            "own": [_get(means, n, "own") for n in nations],
            "coalition": [_get(means, n, "coalition") for n in nations],
        }
    )
    return _section(
        "gospa",
        "GOSPA (c = 10 km, p = 2, α = 2)",
        _table(
            table,
            [("nation", "", _text), ("own", "mean own [km]", _km), ("coalition", "mean coalition [km]", _km)],
            "gospa-mean",
        ),
        _img(_gospa_plot(gospa), "GOSPA over time"),
    )


def _siap_section(siap: pd.DataFrame) -> str:
    columns: list[tuple[str, str, Formatter]] = [("nation", "", _text), ("picture", "", _text)]
    columns += [(c, c.replace("_", " "), _number) for c in _SIAP_COLUMNS if c in siap.columns]
    return _section(
        "siap",
        "SIAP measures",
        "<p class='note'>The last row (coalition, coalition) averages the nations' coalition pictures and "
        "carries commonality: the share of (time, object) pairs held by two or more nations where every "
        "holder uses the same system track number.</p>",
        _table(siap, columns, "siap"),
    )


def _network_section(messages: pd.DataFrame, audit: pd.DataFrame) -> str:
    links = _link_summary(messages)
    rejections = (
        audit[audit["event"] == "rejection"].groupby(["sender", "reason"]).size().rename("n").reset_index()
        if "event" in audit.columns and (audit["event"] == "rejection").any()
        else pd.DataFrame(columns=["sender", "reason", "n"])
    )
    columns: list[tuple[str, str, Formatter]] = [
        ("sender", "", _text),
        ("receiver", "", _text),
        ("sent", "", _int),
    ]
    columns += [(fate, fate, _int) for fate in _FATES]
    columns += [("bytes", "bytes", _int), ("accepted", "accepted", _int)]
    columns += [("acceptance", "acceptance", _percent)]
    return _section(
        "network",
        "Network",
        "<p class='note'>One row per link direction; acceptance = accepted / delivered.</p>",
        _table(links, columns, "links"),
        "<h3>Rejected messages by reason (audit.jsonl)</h3>",
        _table(
            rejections, [("sender", "", _text), ("reason", "", _text), ("n", "messages", _int)], "rejections"
        ),
        _img(_messages_plot(messages), "messages per minute per link"),
    )


def _coverage_section(satellites: pd.DataFrame | None, truth: pd.DataFrame, region: Any) -> str:
    if satellites is None or satellites.empty:
        return _section("coverage", "Coverage", "<p>No satellites in this recording.</p>")
    return _section(
        "coverage",
        "Coverage: LEO ground tracks and hostile targets",
        _img(_coverage_plot(satellites, truth, region), "satellite ground tracks"),
        "<p class='note'>Sub-satellite points (down-sampled) in grey, hostile truth tracks in colour; "
        "the box is the scenario region.</p>",
    )


def _link_summary(messages: pd.DataFrame) -> pd.DataFrame:
    grouped = messages.groupby(["sender", "receiver"], sort=True)
    out = grouped.size().rename("sent").to_frame()
    fates = messages.groupby(["sender", "receiver", "fate"]).size().unstack("fate")
    for fate in _FATES:
        out[fate] = fates[fate] if fate in fates.columns else 0
    out["bytes"] = grouped["n_bytes"].sum()
    out["accepted"] = messages[messages["outcome"] == "accepted"].groupby(["sender", "receiver"]).size()
    out = out.fillna(0).astype("int64")
    out["acceptance"] = out["accepted"] / out["delivered"].where(out["delivered"] > 0)
    return out.reset_index()


# --- plots ----------------------------------------------------------------------------------------


def _threat_timeline(
    custody: pd.DataFrame, held: pd.DataFrame, intervals: pd.DataFrame, step_s: float
) -> plt.Figure:
    """One row per (threat, nation, picture): held intervals as broken bars over the flight phases."""
    threats = (
        custody.sort_values(["first_time_s", "target_id"], kind="stable")["target_id"]
        .drop_duplicates()
        .tolist()
    )
    nations = [str(n) for n in pd.unique(custody["nation"])]
    lanes = [(n, p) for n in nations for p in PICTURES]
    per_threat = len(lanes) + 1  # a header row with the threat's name, then one row per lane
    n_rows = max(len(threats) * per_threat, 1)
    fig, ax = plt.subplots(figsize=(11, 1.6 + 0.16 * n_rows), layout="constrained")
    colours = plt.get_cmap("tab10")
    by_row = custody.set_index(["target_id", "nation", "picture"])
    phase_spans = (
        held.drop_duplicates(["target_id", "time_s"])
        .sort_values(["target_id", "time_s"], kind="stable")
        .assign(block=lambda f: (f["phase"] != f.groupby("target_id")["phase"].shift()).cumsum())
        .groupby(["target_id", "block"], sort=False)
        .agg(phase=("phase", "first"), start=("time_s", "min"), end=("time_s", "max"))
    )
    interval_groups = {k: g for k, g in intervals.groupby(["target_id", "nation", "picture"], sort=False)}
    ticks, tick_labels, right_labels = [], [], []
    for i, target in enumerate(threats):
        top = i * per_threat
        first = float(custody.loc[custody["target_id"] == target, "first_time_s"].min())
        kind = str(custody.loc[custody["target_id"] == target, "kind"].iloc[0])
        ax.text(
            first / 60,
            top,
            f"{target} ({kind.replace('_', ' ')})",
            va="center",
            fontsize=7,
            fontweight="bold",
        )
        if target in phase_spans.index.get_level_values("target_id"):
            for span in phase_spans.loc[target].itertuples():
                ax.broken_barh(
                    [(span.start / 60, (span.end - span.start + step_s) / 60)],
                    (top + 0.5, len(lanes)),
                    facecolor=_PHASE_COLOURS.get(str(span.phase), "0.85"),
                    lw=0,
                )
        ax.vlines(first / 60, top + 0.5, top + 0.5 + len(lanes), color="k", lw=1.2)
        for k, (nation, picture) in enumerate(lanes):
            y = top + 1 + k
            ticks.append(y)
            tick_labels.append(f"{nation} {picture}")
            colour = colours(nations.index(nation))
            one = interval_groups.get((target, nation, picture))
            if one is not None:
                ax.broken_barh(
                    list(zip(one["start_s"] / 60, (one["end_s"] - one["start_s"]) / 60, strict=True)),
                    (y - 0.32, 0.64),
                    facecolor=colour,
                    alpha=1.0 if picture == "coalition" else 0.55,
                    hatch=None if picture == "coalition" else "////",
                    edgecolor="white" if picture == "own" else colour,
                    lw=0,
                )
            if (target, nation, picture) in by_row.index:
                rec = by_row.loc[(target, nation, picture)]
                right_labels.append(f"{float(rec['held_fraction']):.0%}")
                for column, marker, face in (
                    ("first_detection_time_s", "o", "white"),
                    ("first_confirmed_time_s", "D", "k"),
                ):
                    t = float(rec[column])
                    if np.isfinite(t):
                        ax.plot(t / 60, y, marker, ms=3.5, mfc=face, mec="k", mew=0.8, zorder=3)
            else:
                right_labels.append("")
    ax.set_yticks(ticks, tick_labels, fontsize=6)
    ax.set_ylim(n_rows - 0.5, -0.7)
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    right.set_yticks(ticks, right_labels, fontsize=6)
    right.set_ylabel("held fraction", fontsize=8)
    ax.set_xlabel("time since epoch [min]")
    ax.set_title("custody held, per threat: each nation's own picture and its coalition picture", fontsize=10)
    ax.tick_params(axis="x", top=True, labeltop=True)
    ax.grid(alpha=0.3, axis="x")
    present = [p for p in _PHASE_ORDER if p in set(held["phase"])]
    handles = [Patch(facecolor=_PHASE_COLOURS[p], label=f"phase: {p}") for p in present]
    handles += [Patch(facecolor=colours(k), label=f"{n} coalition") for k, n in enumerate(nations)]
    handles += [
        Patch(facecolor=colours(k), alpha=0.55, hatch="////", edgecolor="white", label=f"{n} own")
        for k, n in enumerate(nations)
    ]
    handles += [
        Line2D([], [], color="k", lw=1.2, label="launch"),
        Line2D([], [], ls="", marker="o", mfc="white", mec="k", label="first detection"),
        Line2D([], [], ls="", marker="D", mfc="k", mec="k", ms=4, label="first firm track"),
    ]
    fig.legend(handles=handles, loc="outside upper center", ncols=min(len(handles), 6), fontsize=7)
    return fig


def _gospa_plot(gospa: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(11, 4.5), layout="constrained")
    colours = plt.get_cmap("tab10")
    for k, nation in enumerate(pd.unique(gospa["nation"])):
        for picture, style in (("own", "--"), ("coalition", "-")):
            one = gospa[(gospa["nation"] == nation) & (gospa["picture"] == picture)].sort_values("time_s")
            if not one.empty:
                ax.plot(
                    one["time_s"] / 60,
                    one["gospa_m"] / 1e3,
                    style,
                    color=colours(k),
                    lw=1.2,
                    label=f"{nation} {picture}",
                )
    ax.set(xlabel="time since epoch [min]", ylabel="GOSPA [km]", title="GOSPA: own dashed, coalition solid")
    ax.grid(alpha=0.3)
    _legend(ax, fontsize=8, ncols=3)
    return fig


def _messages_plot(messages: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(11, 4), layout="constrained")
    minute = np.floor(messages["sent_s"] / 60.0).astype("int64")
    counts = messages.assign(minute=minute).groupby(["sender", "receiver", "minute"]).size()
    for (sender, receiver), series in counts.groupby(level=["sender", "receiver"]):
        per_minute = series.droplevel(["sender", "receiver"])
        ax.step(per_minute.index, per_minute.to_numpy(), where="post", label=f"{sender}→{receiver}")
    ax.set(xlabel="time since epoch [min]", ylabel="messages per minute", title="messages sent per link")
    ax.grid(alpha=0.3)
    _legend(ax, fontsize=8, ncols=3)
    return fig


def _coverage_plot(satellites: pd.DataFrame, truth: pd.DataFrame, region: Any) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(10, 6), layout="constrained")
    times = np.sort(satellites["time_s"].unique())
    keep = set(times[:: max(1, len(times) // _MAX_SATELLITE_SAMPLES)])
    sats = satellites[satellites["time_s"].isin(keep)]
    for _, one in sats.groupby("satellite_id"):
        ax.plot(*_wrapped(one.sort_values("time_s")), color="0.6", lw=0.6)
    hostile = truth[truth["affiliation"] == "hostile"]
    for _, one in hostile.groupby("target_id"):
        ax.plot(*_wrapped(one.sort_values("time_s")), lw=1.2)
    box_keys = {"lon_min_deg", "lon_max_deg", "lat_min_deg", "lat_max_deg"}
    if isinstance(region, dict) and box_keys <= set(region):
        lo, hi = region["lon_min_deg"], region["lon_max_deg"]
        la, lb = region["lat_min_deg"], region["lat_max_deg"]
        ax.plot([lo, hi, hi, lo, lo], [la, la, lb, lb, la], "k-", lw=1)
        ax.set(xlim=(lo - 20, hi + 20), ylim=(max(la - 20, -90), min(lb + 20, 90)))
    ax.set(xlabel="longitude [°E]", ylabel="latitude [°N]", title="LEO ground tracks and hostile targets")
    ax.grid(alpha=0.3)
    return fig


def _legend(ax: plt.Axes, **kwargs: Any) -> None:
    """A legend only when something is labelled (matplotlib warns on an empty one)."""
    if ax.get_legend_handles_labels()[1]:
        ax.legend(loc="best", **kwargs)


def _wrapped(one: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Longitude (0–360 so the Pacific is continuous) and latitude, NaN where the track wraps."""
    lon = np.mod(one["lon_deg"].to_numpy(dtype=float), 360.0)
    lat = one["lat_deg"].to_numpy(dtype=float)
    jump = np.flatnonzero(np.abs(np.diff(lon)) > 180.0) + 1
    return np.insert(lon, jump, np.nan), np.insert(lat, jump, np.nan)


# --- HTML helpers ---------------------------------------------------------------------------------


def _section(section_id: str, heading: str, *parts: str) -> str:
    inner = "\n".join(p if p.startswith("<") else f"<p>{p}</p>" for p in parts if p)
    return f'<section id="{_esc(section_id)}">\n<h2>{_esc(heading)}</h2>\n{inner}\n</section>'


def _table(frame: pd.DataFrame, columns: Sequence[tuple[str, str, Formatter]], table_id: str) -> str:
    head = "".join(
        f'<th data-column="{_esc(name)}">{_esc(label or name.replace("_", " "))}</th>'
        for name, label, _ in columns
    )
    rows = []
    for record in frame.to_dict("records"):
        cells = "".join(fmt(record.get(name)) for name, _, fmt in columns)
        rows.append(f"<tr>{cells}</tr>")
    return f'<table id="{_esc(table_id)}">\n<tr>{head}</tr>\n' + "\n".join(rows) + "\n</table>"


def _img(fig: plt.Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _text(value: Any) -> str:
    return f"<td>{_esc('' if value is None else str(value))}</td>"


def _num_cell(value: Any, shown: Callable[[float], str]) -> str:
    number = float("nan") if value is None else float(value)
    label = shown(number) if np.isfinite(number) else ""
    return f'<td class="num" data-value="{number!r}">{_esc(label)}</td>'


def _int(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return _num_cell(value, str)
    return f'<td class="num" data-value="{int(value)}">{int(value)}</td>'


def _number(value: Any) -> str:
    return _num_cell(value, lambda v: f"{v:.4g}")


def _seconds(value: Any) -> str:
    return _num_cell(value, lambda v: f"{v:.0f}")


def _percent(value: Any) -> str:
    return _num_cell(value, lambda v: f"{100 * v:.1f} %")


def _km(value: Any) -> str:
    return _num_cell(value, lambda v: f"{v / 1e3:.2f}")


def _get(frame: pd.DataFrame, row: str, column: str) -> float:
    if column in frame.columns and row in frame.index:
        return float(frame.loc[row, column])
    return float("nan")


def _read_audit(path: Path) -> pd.DataFrame:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn last line of a killed run: skip it, the rest still reads
    return pd.DataFrame.from_records(records)
