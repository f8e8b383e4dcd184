"""Architecture comparison: the scenario as written and named variants, run side by side.

`run_variants` runs the baseline and each variant (`kizuna.scenario.variants`) in its own process,
one recording (with its own ``report.html``) per run under ``out_dir/<run>/``; a run that fails is
returned with its error and the others are kept. `write_comparison` reads the recordings and
writes one self-contained HTML page (sections `COMPARISON_SECTIONS`): numeric cells carry the
unrounded value in ``data-value`` as in `kizuna.report.html`, plots are inline PNG, no scripts and
no external references.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from kizuna.report.html import (
    _CSS,
    Formatter,
    _esc,
    _img,
    _int,
    _km,
    _num_cell,
    _number,
    _percent,
    _seconds,
    _section,
    _table,
    _text,
)
from kizuna.scenario import LoadedScenario, load_scenario
from kizuna.scenario.schema import Variant
from kizuna.scenario.variants import BUILT_IN, variant_names

__all__ = [
    "BASELINE",
    "COMPARISON_SECTIONS",
    "HEADLINE",
    "RunPlan",
    "RunResult",
    "headline",
    "plan_runs",
    "run_variants",
    "write_comparison",
]

BASELINE = "baseline"
COMPARISON_SECTIONS = ("runs", "custody", "gospa", "siap", "network", "delta")
HEADLINE = ("custody", "gospa_m", "completeness")
"""The delta table's measures: mean coalition held fraction, mean coalition GOSPA, coalition
completeness (the SIAP row nation = picture = coalition)."""
_SIAP_MEASURES = (
    "completeness",
    "spuriousness",
    "ambiguity",
    "position_accuracy_m",
    "velocity_accuracy_m_per_s",
    "commonality",
)


@dataclass(frozen=True)
class RunPlan:
    """One run of a comparison: its name, the variant (None for the baseline) and what it changes."""

    name: str
    variant: str | None
    description: str
    changes: str


@dataclass(frozen=True)
class RunResult:
    """What became of one run: its recording folder, or the error that stopped it."""

    name: str
    folder: Path
    variant: str | None = None
    description: str = ""
    changes: str = ""
    error: str | None = None
    elapsed_s: float = float("nan")

    @property
    def ok(self) -> bool:
        return self.error is None


def plan_runs(loaded: LoadedScenario, variants: Sequence[str]) -> list[RunPlan]:
    """The baseline then each variant; ValueError (one line) for an unknown or repeated name."""
    s = loaded.scenario
    known = {**BUILT_IN, **{v.name: v for v in s.variants}}
    if not variants:
        raise ValueError("name at least one variant (choices: " + ", ".join(variant_names(s)) + ")")
    seen: set[str] = set()
    for name in variants:
        if name in seen:
            raise ValueError(f"variant {name!r} named more than once")
        seen.add(name)
        if name == BASELINE:
            raise ValueError(f"{BASELINE!r} is the scenario as written; it always runs (name variants only)")
        if name not in known:
            raise ValueError(
                f"no variant {name!r} in {loaded.source.name} (variants: {', '.join(variant_names(s))})"
            )
    plans = [RunPlan(BASELINE, None, s.description or "The scenario as written.", "nothing")]
    return plans + [RunPlan(n, n, known[n].description, _changes(known[n])) for n in variants]


def _changes(v: Variant) -> str:
    parts = []
    if v.no_sharing:
        parts.append("no nation releases anything")
    if v.drop_sensors:
        parts.append("sensors removed: " + ", ".join(v.drop_sensors))
    if v.drop_release:
        parts.append("release rules removed: " + ", ".join(v.drop_release))
    for change in v.links:
        which = "-".join(change.nations) if change.nations else "every link"
        bits = []
        if change.latency_factor != 1.0:
            bits.append(f"latency ×{change.latency_factor:g}")
        if change.loss is not None:
            bits.append(f"loss {change.loss:g}")
        if change.bandwidth_factor != 1.0:
            bits.append(f"bandwidth ×{change.bandwidth_factor:g}")
        if change.outages:
            bits.append(f"{len(change.outages)} outage(s) added")
        parts.append(f"{which}: " + (", ".join(bits) or "unchanged"))
    return "; ".join(parts) or "nothing"


# --- running --------------------------------------------------------------------------------------


def run_variants(
    scenario_path: str | Path,
    variants: Sequence[str],
    out_dir: str | Path,
    jobs: int | None = None,
    on_progress: Callable[[RunResult, int, int], None] | None = None,
    on_steps: Callable[[str, int, int], None] | None = None,
    *,
    loaded: LoadedScenario | None = None,
) -> dict[str, RunResult]:
    """Run the baseline and each variant into ``out_dir/<run>/`` (recording + report.html).

    Runs go to a pool of ``jobs`` processes (default: one per run up to the CPU count; "spawn"
    context, a fresh process per run). ``on_progress(result, runs_done, runs_total)`` is called as
    each run ends, ``on_steps(run, done_steps, total_steps)`` as a run starts (0, 0) and while it
    steps. Names are checked before anything runs (ValueError); a run that fails is returned with
    ``error`` set. ``loaded``: the scenario already loaded from ``scenario_path`` (else loaded here).
    """
    scenario = loaded if loaded is not None else load_scenario(scenario_path)
    plans = plan_runs(scenario, variants)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(len(plans), os.cpu_count() or 1) if jobs is None else jobs)
    ctx = multiprocessing.get_context("spawn")
    results: dict[str, RunResult] = {}
    with ctx.Manager() as manager:
        steps = manager.Queue() if on_steps is not None else None
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, max_tasks_per_child=1) as pool:
            futures = {
                pool.submit(_run_one, scenario, p.name, p.variant, str(out / p.name), steps): p for p in plans
            }
            pending = set(futures)
            while pending:
                finished, pending = cf.wait(pending, timeout=0.25, return_when=cf.FIRST_COMPLETED)
                _drain(steps, on_steps)
                for future in finished:
                    plan = futures[future]
                    try:
                        error, elapsed = future.result()
                    except Exception as exc:  # the worker process died (killed, out of memory)
                        error, elapsed = f"{type(exc).__name__}: {exc or 'worker process died'}", float("nan")
                    result = RunResult(
                        plan.name,
                        out / plan.name,
                        plan.variant,
                        plan.description,
                        plan.changes,
                        error,
                        elapsed,
                    )
                    results[plan.name] = result
                    if on_progress is not None:
                        on_progress(result, len(results), len(plans))
        _drain(steps, on_steps)
    return {p.name: results[p.name] for p in plans}


def _drain(steps: Any, on_steps: Callable[[str, int, int], None] | None) -> None:
    if steps is None or on_steps is None:
        return
    while True:
        try:
            name, done, total = steps.get_nowait()
        except queue.Empty:
            return
        on_steps(name, done, total)


def _run_one(
    scenario: LoadedScenario, name: str, variant: str | None, folder: str, steps: Any
) -> tuple[str | None, float]:
    """One run in a worker process: (error or None, seconds). Never raises."""
    started = time.perf_counter()
    try:
        from kizuna.report.html import write_report
        from kizuna.scenario.variants import apply_variant
        from kizuna.simulation import run

        loaded = apply_variant(scenario, variant) if variant is not None else scenario

        def on_progress(done: int, total: int) -> None:
            if steps is not None:
                steps.put((name, done, total))

        on_progress(0, 0)  # started (total not known yet)
        Path(folder).mkdir(parents=True, exist_ok=True)
        run(loaded, folder, on_progress=on_progress)
        write_report(folder)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}", time.perf_counter() - started
    return None, time.perf_counter() - started


# --- measures -------------------------------------------------------------------------------------


def headline(folder: str | Path) -> dict[str, float]:
    """The delta table's measures (`HEADLINE`) of one recording."""
    d = Path(folder)
    custody = pd.read_parquet(d / "custody.parquet")
    gospa = pd.read_parquet(d / "gospa.parquet")
    siap = pd.read_parquet(d / "siap.parquet")
    row = siap[(siap["nation"] == "coalition") & (siap["picture"] == "coalition")]
    return {
        "custody": float(custody.loc[custody["picture"] == "coalition", "held_fraction"].mean()),
        "gospa_m": float(gospa.loc[gospa["picture"] == "coalition", "gospa_m"].mean()),
        "completeness": float(row["completeness"].iloc[0]) if len(row) else float("nan"),
    }


@dataclass
class _Run:
    result: RunResult
    scenario: dict[str, Any]
    custody: pd.DataFrame
    gospa: pd.DataFrame
    siap: pd.DataFrame
    messages: pd.DataFrame


def _read(result: RunResult) -> _Run:
    d = result.folder
    doc = json.loads((d / "scenario.json").read_text(encoding="utf-8"))
    return _Run(
        result,
        doc.get("scenario", {}),
        pd.read_parquet(d / "custody.parquet"),
        pd.read_parquet(d / "gospa.parquet"),
        pd.read_parquet(d / "siap.parquet"),
        pd.read_parquet(d / "messages.parquet"),
    )


# --- the page -------------------------------------------------------------------------------------


def write_comparison(runs: Mapping[str, Path | RunResult], out_file: str | Path) -> Path:
    """Write the comparison page of ``runs`` (name → recording folder or `RunResult`) to ``out_file``.

    The baseline is the run named ``baseline`` (else the first); failed runs are listed with their
    error. A successful run whose recording cannot be read is reported as failed too.
    """
    results = [r if isinstance(r, RunResult) else RunResult(name, Path(r)) for name, r in runs.items()]
    read: dict[str, _Run] = {}
    checked: list[RunResult] = []
    for r in results:
        if r.ok:
            try:
                read[r.name] = _read(r)
            except (OSError, ValueError, KeyError) as exc:
                r = RunResult(r.name, r.folder, r.variant, r.description, r.changes,
                              f"recording unreadable: {type(exc).__name__}: {exc}", r.elapsed_s)  # fmt: skip
        checked.append(r)
    base = BASELINE if BASELINE in runs else (results[0].name if results else BASELINE)
    names = list(read)
    title = "Kizuna comparison: " + _title(read, base)
    failed = [r for r in checked if not r.ok]
    body = [
        f"<h1>{_esc(title)}</h1>",
        f"<p class='note'>Baseline: {_esc(base)}. Runs: {_esc(', '.join(r.name for r in checked))}."
        + (f" <strong>Failed: {_esc(', '.join(r.name for r in failed))}</strong>." if failed else "")
        + " Each run's own report is report.html in its folder.</p>",
        _runs_section(checked, read),
        _custody_section(read, names),
        _gospa_section(read, names),
        _siap_section(read, names),
        _network_section(read, names),
        _delta_section(read, names, base),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}\ntr.failed td {{ color: #a00; }}</style>\n</head>\n"
        "<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def _title(read: Mapping[str, _Run], base: str) -> str:
    run = read.get(base) or next(iter(read.values()), None)
    if run is None:
        return "no run finished"
    return str(run.scenario.get("name", base)).split(" [")[0]


def _runs_section(results: Sequence[RunResult], read: Mapping[str, _Run]) -> str:
    rows = []
    for r in results:
        s = read[r.name].scenario if r.name in read else None
        rows.append(
            {
                "run": r.name,
                "variant": r.variant or "",
                "description": r.description,
                "changes": r.changes,
                "status": "ok" if r.ok else "failed",
                "error": r.error or "",
                "n_sensors": len(s.get("sensors", [])) if s is not None else None,
                "n_release_rules": len(s.get("release", [])) if s is not None else None,
                "elapsed_s": r.elapsed_s,
            }
        )
    frame = pd.DataFrame(rows, columns=["run", "variant", "description", "changes", "status", "error",
                                        "n_sensors", "n_release_rules", "elapsed_s"])  # fmt: skip
    table = _table(
        frame,
        [
            ("run", "run", _text),
            ("variant", "variant", _text),
            ("description", "description", _text),
            ("changes", "what it changes", _text),
            ("status", "status", _text),
            ("error", "error", _text),
            ("n_sensors", "sensors", _int),
            ("n_release_rules", "release rules", _int),
            ("elapsed_s", "wall time [s]", _number),
        ],
        "runs",
    )
    for r in results:  # mark failed rows so they stand out
        if not r.ok:
            table = table.replace(
                f"<tr><td>{_esc(r.name)}</td>", f"<tr class='failed'><td>{_esc(r.name)}</td>"
            )
    return _section(
        "runs",
        "Runs",
        "<p class='note'>Sensors and release rules are counted in each run's scenario.json "
        "(the scenario as the variant made it).</p>",
        table,
    )


def _coalition_custody(run: _Run) -> pd.DataFrame:
    c = run.custody
    return c[c["picture"] == "coalition"].set_index(["target_id", "nation"])


def _custody_section(read: Mapping[str, _Run], names: Sequence[str]) -> str:
    if not names:
        return _section("custody", "Custody per threat", "<p>No run finished.</p>")
    keys = pd.concat([_coalition_custody(read[n])[["kind", "first_time_s"]] for n in names])
    keys = keys[~keys.index.duplicated()].reset_index()
    nation_order = {n: i for i, n in enumerate(pd.unique(keys["nation"]))}
    keys = keys.assign(_n=keys["nation"].map(nation_order))
    keys = keys.sort_values(["first_time_s", "target_id", "_n"], kind="stable").drop(columns="_n")
    frame = keys.set_index(["target_id", "nation"])
    columns: list[tuple[str, str, Formatter]] = [
        ("target_id", "threat", _text),
        ("kind", "kind", _text),
        ("nation", "nation", _text),
    ]
    for measure, label, fmt in (
        ("held_fraction", "custody", _percent),
        ("first_confirmed_time_s", "first firm track [s]", _seconds),
    ):
        for n in names:
            frame[f"{measure}:{n}"] = _coalition_custody(read[n])[measure].reindex(frame.index)
            columns.append((f"{measure}:{n}", f"{label} {n}", fmt))
    frame = frame.reset_index()
    return _section(
        "custody",
        "Custody per threat: coalition picture",
        "<p class='note'>Each nation's coalition picture: the held fraction of the threat's life, and the "
        "time (seconds since the epoch) of its first firm track; blank when it never had one.</p>",
        _table(frame, columns, "custody"),
        _img(_custody_plot(frame, names), "coalition custody per threat per run"),
    )


def _gospa_section(read: Mapping[str, _Run], names: Sequence[str]) -> str:
    rows = []
    means = {n: read[n].gospa.groupby(["nation", "picture"])["gospa_m"].mean() for n in names}
    nations = list(pd.unique(pd.concat([read[n].gospa["nation"] for n in names]))) if names else []
    for nation in nations:
        for picture in ("own", "coalition"):
            row: dict[str, Any] = {"nation": nation, "picture": picture}
            for n in names:
                row[f"gospa_m:{n}"] = float(means[n].get((nation, picture), float("nan")))
            rows.append(row)
    columns: list[tuple[str, str, Formatter]] = [("nation", "", _text), ("picture", "", _text)]
    columns += [(f"gospa_m:{n}", f"mean {n} [km]", _km) for n in names]
    return _section(
        "gospa",
        "GOSPA per nation (c = 10 km, p = 2, α = 2)",
        _table(pd.DataFrame(rows), columns, "gospa-mean"),
        _img(_gospa_plot(read, names, nations), "coalition GOSPA over time per run") if names else "",
    )


def _siap_section(read: Mapping[str, _Run], names: Sequence[str]) -> str:
    parts = []
    for n in names:
        s = read[n].siap.copy()
        s.insert(2, "run", n)
        parts.append(s)
    frame = (
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["nation", "picture", "run"])
    )
    if parts:
        order_nation = {x: i for i, x in enumerate(pd.unique(frame["nation"]))}
        order_run = {x: i for i, x in enumerate(names)}
        frame = frame.assign(
            _n=frame["nation"].map(order_nation),
            _p=(frame["picture"] == "coalition").astype(int),
            _r=frame["run"].map(order_run),
        )
        frame = frame.sort_values(["_n", "_p", "_r"], kind="stable").drop(columns=["_n", "_p", "_r"])
    columns: list[tuple[str, str, Formatter]] = [
        ("nation", "", _text),
        ("picture", "", _text),
        ("run", "", _text),
    ]
    columns += [(c, c.replace("_", " "), _number) for c in _SIAP_MEASURES if c in frame.columns]
    return _section(
        "siap",
        "SIAP measures per nation per run",
        "<p class='note'>Rows of a nation sit together, one per run. The (coalition, coalition) rows average "
        "the nations' coalition pictures and carry commonality (same system track number at every "
        "holder).</p>",
        _table(frame, columns, "siap"),
    )


def _network_summary(messages: pd.DataFrame) -> dict[str, int]:
    delivered = messages["fate"] == "delivered"
    return {
        "sent": len(messages),
        "delivered": int(delivered.sum()),
        "lost": int((~delivered).sum()),
        "accepted": int((messages["outcome"] == "accepted").sum()),
        "rejected": int((messages["outcome"] == "rejected").sum()),
        "bytes": int(messages["n_bytes"].sum()),
    }


def _network_section(read: Mapping[str, _Run], names: Sequence[str]) -> str:
    frame = pd.DataFrame(
        [{"run": n, **_network_summary(read[n].messages)} for n in names],
        columns=["run", "sent", "delivered", "lost", "accepted", "rejected", "bytes"],
    )
    columns: list[tuple[str, str, Formatter]] = [("run", "", _text)]
    columns += [(c, "lost (not delivered)" if c == "lost" else c, _int) for c in frame.columns[1:]]
    return _section(
        "network",
        "Network",
        "<p class='note'>Messages over every link (one per destination): lost = not delivered (lost, outage, "
        "congestion or no link); rejected = delivered but refused by the receiver.</p>",
        _table(frame, columns, "network"),
    )


def _signed(scale: float, unit: str, digits: int) -> Formatter:
    return lambda value: _num_cell(value, lambda v: f"{v * scale:+.{digits}f}{unit}")


def _delta_section(read: Mapping[str, _Run], names: Sequence[str], base: str) -> str:
    columns: list[tuple[str, str, Formatter]] = [
        ("run", "", _text),
        ("custody", "mean coalition custody", _percent),
        ("custody_delta", "Δ custody", _signed(100.0, " pp", 1)),
        ("gospa_m", "mean coalition GOSPA [km]", _km),
        ("gospa_m_delta", "Δ GOSPA [km]", _signed(1e-3, "", 2)),
        ("completeness", "completeness", _percent),
        ("completeness_delta", "Δ completeness", _signed(100.0, " pp", 1)),
    ]
    if base not in read:
        return _section(
            "delta", "Variant minus baseline", f"<p>The baseline ({_esc(base)}) did not finish.</p>"
        )
    measures = {n: headline(read[n].result.folder) for n in names}
    rows = []
    for n in [base, *[x for x in names if x != base]]:
        row: dict[str, Any] = {"run": n}
        for m in HEADLINE:
            row[m] = measures[n][m]
            row[f"{m}_delta"] = measures[n][m] - measures[base][m]
        rows.append(row)
    return _section(
        "delta",
        "Variant minus baseline: what each change costs",
        "<p class='note'>Mean coalition custody: the held fraction averaged over every (threat, nation) "
        "coalition picture. Mean coalition GOSPA: over every nation and step (lower is better). "
        "Completeness: the coalition SIAP row. Δ = variant − baseline; for no-sharing, minus Δ is what "
        "sharing buys (pp = percentage points).</p>",
        _table(pd.DataFrame(rows), columns, "delta"),
    )


# --- plots ----------------------------------------------------------------------------------------


def _custody_plot(frame: pd.DataFrame, names: Sequence[str]) -> plt.Figure:
    nations = list(pd.unique(frame["nation"]))
    threats = list(pd.unique(frame["target_id"]))
    fig, axes = plt.subplots(
        len(nations), 1, figsize=(11, 1.0 + 2.6 * max(len(nations), 1)), layout="constrained", squeeze=False
    )
    colours = plt.get_cmap("tab10")
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(threats))
    for ax, nation in zip(axes[:, 0], nations, strict=True):
        one = frame[frame["nation"] == nation].set_index("target_id").reindex(threats)
        for k, n in enumerate(names):
            values = one[f"held_fraction:{n}"].to_numpy(dtype=float)
            ax.bar(x - 0.4 + (k + 0.5) * width, np.nan_to_num(values), width, color=colours(k), label=n)
        ax.set_xticks(x, threats, rotation=30, ha="right", fontsize=7)
        ax.set(ylabel="held", ylim=(0, 1.05), title=f"{nation}: coalition custody per threat")
        ax.grid(alpha=0.3, axis="y")
    _figure_legend(fig, axes[0, 0], len(names))
    return fig


def _gospa_plot(read: Mapping[str, _Run], names: Sequence[str], nations: Sequence[str]) -> plt.Figure:
    fig, axes = plt.subplots(
        len(nations), 1, figsize=(11, 1.0 + 2.6 * max(len(nations), 1)), layout="constrained",
        squeeze=False, sharex=True,
    )  # fmt: skip
    colours = plt.get_cmap("tab10")
    for ax, nation in zip(axes[:, 0], nations, strict=True):
        for k, n in enumerate(names):
            g = read[n].gospa
            one = g[(g["nation"] == nation) & (g["picture"] == "coalition")].sort_values("time_s")
            if not one.empty:
                style = ("-", "--", ":", "-.")[k % 4]  # runs that coincide stay visible
                ax.plot(one["time_s"] / 60, one["gospa_m"] / 1e3, style, color=colours(k), lw=1.3, label=n)
        ax.set(ylabel="GOSPA [km]", title=f"{nation}: coalition picture")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time since epoch [min]")
    _figure_legend(fig, axes[0, 0], len(names))
    return fig


def _figure_legend(fig: plt.Figure, ax: plt.Axes, n: int) -> None:
    """One legend of the runs above the panels, where it hides no data."""
    handles, labels = ax.get_legend_handles_labels()
    if labels:
        fig.legend(handles, labels, loc="outside upper center", ncols=max(n, 1), fontsize=8)
