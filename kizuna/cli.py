"""The `kizuna` command: run a scenario, check a scenario file, write the scenario reference.

Ties layers together (with `simulation.py`); bad input is a message and exit code 2, never a
traceback.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kizuna import __version__
from kizuna.scenario import LoadedScenario, ScenarioError, load_scenario

if TYPE_CHECKING:
    from kizuna.cop.store import PictureStore
    from kizuna.interop.outputs import PictureOutputs
    from kizuna.live import LiveSummary
    from kizuna.metrics.picture import PictureMetrics
    from kizuna.simulation import RunSummary

app = typer.Typer(
    name="kizuna",
    help=(
        "Kizuna: a coalition air and missile surveillance picture.\n\n"
        "Start with:  kizuna run examples/indo-pacific.toml --out out/demo"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

CotOutput = Annotated[
    str | None,
    typer.Option("--cot", help="Send the picture as Cursor-on-Target: tcp://HOST:PORT or udp://HOST:PORT."),
]
DisOutput = Annotated[
    str | None, typer.Option("--dis", help="Send the picture as DIS Entity State PDUs: udp://HOST:PORT.")
]
AsterixOutput = Annotated[
    str | None, typer.Option("--asterix", help="Send the picture as ASTERIX CAT062: udp://HOST:PORT.")
]

ServeOption = Annotated[
    bool, typer.Option("--serve", help="Show the picture as it forms in the COP web app (see kizuna serve).")
]
HostOption = Annotated[
    str, typer.Option("--host", help="Address the COP listens on; 127.0.0.1 keeps it on this machine.")
]
PortOption = Annotated[int, typer.Option("--port", help="COP port (0: any free port).")]

RecordingPath = Annotated[
    Path, typer.Argument(help="A recording folder from kizuna run.", show_default=False)
]

ScenarioPath = Annotated[
    Path,
    typer.Argument(help="Scenario file (TOML); see docs/scenario-reference.md.", show_default=False),
]


def _fail(exc: Exception) -> NoReturn:
    """One line on stderr and exit code 2: the user's input or environment is wrong."""
    errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2) from None


def _version(value: bool) -> None:
    if value:
        console.print(f"kizuna {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Kizuna: a coalition air and missile surveillance picture."""
    _log_to_stderr()


class _WarningLine(logging.Handler):
    """Library log records (skipped rows, late data) as one yellow line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        level = "warning" if record.levelno >= logging.WARNING else "note"
        errors.print(f"[yellow]{level}:[/] {record.getMessage()}", highlight=False, soft_wrap=True)


def _log_to_stderr() -> None:
    root = logging.getLogger("kizuna")
    if not any(isinstance(h, _WarningLine) for h in root.handlers):
        root.addHandler(_WarningLine(level=logging.WARNING))


def _load(path: Path) -> LoadedScenario:
    try:
        with console.status(f"checking {path} (missile trajectories are solved and flown here)"):
            return load_scenario(path)
    except ScenarioError as exc:
        n = len(exc.problems)
        errors.print(
            f"[bold red]error:[/] {exc.source}: {n} problem{'s' if n != 1 else ''}",
            highlight=False,
            soft_wrap=True,
        )
        for problem in exc.problems:
            errors.print(f"  {exc.source}: {problem}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


@app.command()
def validate(scenario: ScenarioPath) -> None:
    """Check a scenario file and report every problem in it (exit code 2 if there are any).

    Example: kizuna validate examples/indo-pacific.toml
    """
    loaded = _load(scenario)
    s = loaded.scenario
    console.print(
        f"[green]ok[/] {scenario}: '{s.name}', {len(s.nations)} nations, {len(s.sensors)} sensors, "
        f"{len(s.constellations)} constellations, {len(s.targets)} targets"
        + (f", {s.civil_traffic.count} civil aircraft" if s.civil_traffic else "")
        + f", {s.duration_s:g} s at {s.step_s:g} s steps",
        highlight=False,
    )


@app.command()
def run(
    scenario: ScenarioPath,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the recording (created if missing).")
    ] = Path("out/run"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant",
            help="Run the scenario changed one named way: no-sharing (built in) or a [[variants]] name.",
        ),
    ] = None,
    cot: CotOutput = None,
    dis: DisOutput = None,
    asterix: AsterixOutput = None,
    picture_of: Annotated[
        str | None, typer.Option(help="Whose picture --cot/--dis/--asterix send (default: the first nation).")
    ] = None,
    serve: ServeOption = False,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8765,
) -> None:
    """Run a scenario in simulated time and write its recording (Parquet tables + scenario.json).

    Example: kizuna run examples/indo-pacific.toml --out out/demo
    Example: kizuna run examples/indo-pacific.toml --variant no-sharing --out out/no-sharing
    Example: kizuna run examples/indo-pacific.toml --serve   (watch it in the browser as it runs)
    """
    from kizuna.scenario.variants import apply_variant

    loaded = _load(scenario)
    outputs = _outputs(loaded, cot, dis, asterix, picture_of)
    if variant is not None:
        try:
            loaded = apply_variant(loaded, variant)
        except ValueError as exc:
            _fail(exc)
    with contextlib.ExitStack() as cop:
        on_rows = None
        store = None
        if serve:
            from kizuna.cop.store import PictureStore, scenario_payload

            store = PictureStore.for_scenario(scenario_payload(loaded))
            on_rows = store.append
            cop.enter_context(_cop(store, host, port))
        summary = _run_with_progress(loaded, out, quiet, outputs, picture_of, on_rows)
        _after_run(summary, quiet)
        if store is not None:
            store.live = False
            console.print("the run is done; the COP now replays it (Ctrl-C to stop)", highlight=False)
            _wait_for_interrupt()


def _run_with_progress(
    loaded: LoadedScenario,
    out: Path,
    quiet: bool,
    outputs: PictureOutputs | None,
    picture_of: str | None,
    on_rows: Callable[[str, Any], None] | None,
) -> RunSummary:
    from kizuna.simulation import run as run_simulation

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    ) as progress:
        task = progress.add_task(f"running {loaded.scenario.name}", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            summary = run_simulation(
                loaded, out, on_progress=on_progress, outputs=outputs, output_nation=picture_of,
                on_rows=on_rows,
            )  # fmt: skip
        finally:
            if outputs is not None:
                outputs.close()
    return summary


def _after_run(summary: RunSummary, quiet: bool) -> None:
    from kizuna.report.html import write_report

    with console.status("writing report.html"):
        summary.files = sorted({*summary.files, write_report(summary.out_dir)})
    if quiet:
        return
    table = Table(title=f"{summary.scenario}: {summary.steps} steps over {summary.duration_s:g} s")
    table.add_column("what")
    table.add_column("count", justify="right")
    for kind, n in summary.targets_by_kind.items():
        table.add_row(f"targets: {kind}", str(n))
    table.add_row("satellites", str(summary.satellites))
    for name, rows in summary.rows.items():
        table.add_row(f"rows in {name}.parquet", f"{rows:,}")
    console.print(table)
    if summary.detections:
        sensors = Table(title="detections per sensor")
        sensors.add_column("sensor")
        sensors.add_column("detections", justify="right")
        sensors.add_column("false alarms", justify="right")
        for sensor_id, (n, false) in summary.detections.items():
            sensors.add_row(sensor_id, f"{n:,}", f"{false:,}")
        console.print(sensors)
    for sat, reason in summary.satellite_failures.items():
        console.print(
            f"[yellow]warning:[/] satellite {sat}: {reason} (NaN rows from then on)", highlight=False
        )
    if summary.metrics is not None:
        _print_pictures(summary.tracking, summary.metrics)
    console.print(f"[green]wrote[/] {summary.out_dir}/ in {summary.elapsed_s:.1f} s:", highlight=False)
    for path in summary.files:
        console.print(f"  {path}  ({path.stat().st_size / 1e6:.2f} MB)", highlight=False)


def _outputs(
    loaded: LoadedScenario, cot: str | None, dis: str | None, asterix: str | None, picture_of: str | None
) -> PictureOutputs | None:
    """The picture outputs `kizuna run` was asked for, opened; exit 2 with one line if unusable."""
    from kizuna.interop.outputs import OutputError, PictureOutputs, parse_output

    wanted = [(f, u) for f, u in (("cot", cot), ("dis", dis), ("asterix", asterix)) if u is not None]
    nations = [n.code for n in loaded.scenario.nations]
    try:
        if picture_of is not None and picture_of not in nations:
            raise OutputError(f"--picture-of {picture_of}: not a nation of the scenario ({nations})")
        if not wanted:
            return None
        outputs = [parse_output(f, u) for f, u in wanted]
        return PictureOutputs(outputs, loaded.scenario.epoch).open()
    except OutputError as exc:
        _fail(exc)


def _print_pictures(tracking: dict[str, dict[str, int]], metrics: PictureMetrics) -> None:
    """Per-nation counts and mean GOSPA of the own-sensor and coalition pictures, then custody per
    threat per nation, own sensors → coalition."""
    own, fused = metrics.mean_gospa_m("own"), metrics.mean_gospa_m("coalition")
    nations = Table(title="pictures per nation: own sensors only, then the coalition picture")
    columns = ("nation", "frames", "tracks confirmed", "system tracks at end", "messages sent / accepted",
               "rejected", "mean GOSPA own", "mean GOSPA coalition")  # fmt: skip
    for name in columns:
        nations.add_column(name, justify="left" if name == "nation" else "right")
    nan = float("nan")
    for nation, counts in tracking.items():
        nations.add_row(
            nation, f"{counts['frames']:,}", f"{counts['confirmed']:,}",
            f"{counts.get('system_tracks', 0):,}",
            f"{counts.get('messages_sent', 0):,} / {counts.get('messages_accepted', 0):,}",
            f"{counts.get('messages_rejected', 0):,}",
            f"{own.get(nation, nan) / 1e3:.2f} km", f"{fused.get(nation, nan) / 1e3:.2f} km",
        )  # fmt: skip
    console.print(nations)
    c = metrics.custody
    if c.empty:
        return
    threats = Table(
        title="custody per threat: share of its flight held, own sensors → coalition picture; "
        "first detection and first firm track in any coalition picture (s after start)"
    )
    threats.add_column("threat", overflow="fold")
    for name in ("kind", "detected", "firm"):
        threats.add_column(name, justify="left" if name == "kind" else "right", no_wrap=True)
    order = list(tracking)
    for nation in order:
        threats.add_column(nation, justify="right", no_wrap=True, min_width=9)
    short = {"ballistic_missile": "BM", "glide_vehicle": "HGV", "cruise_missile": "CM"}
    for (target, kind), rows in c.groupby(["target_id", "kind"], sort=True):
        by = rows.set_index(["nation", "picture"])
        fused = rows[rows["picture"] == "coalition"]
        cells = []
        for nation in order:
            if (nation, "own") in by.index and (nation, "coalition") in by.index:
                own_held = by.loc[(nation, "own"), "held_fraction"]
                cells.append(f"{own_held:.0%} → {by.loc[(nation, 'coalition'), 'held_fraction']:.0%}")
            else:
                cells.append("")
        times = [fused["first_detection_time_s"].min(), fused["first_confirmed_time_s"].min()]
        threats.add_row(
            str(target),
            short.get(str(kind), str(kind)),
            *("—" if t != t else f"{t:,.0f}" for t in times),
            *cells,
        )
    console.print(threats)


@app.command()
def coverage(
    scenario: ScenarioPath,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for coverage.parquet/.json/.png.")] = Path(
        "out/coverage"
    ),
    altitude_km: Annotated[
        float, typer.Option(help="Target altitude the coverage is computed for, km.")
    ] = 40.0,
    grid_deg: Annotated[float, typer.Option(help="Grid spacing, degrees.")] = 0.5,
    duration_s: Annotated[
        float | None,
        typer.Option(help="Time span, seconds (default: the scenario's; use 7200+ for orbit statistics)."),
    ] = None,
    step_s: Annotated[float, typer.Option(help="Time step, seconds.")] = 30.0,
) -> None:
    """Coverage of the scenario's region by the LEO infrared layer (≥1 and ≥2 satellites) and by radars.

    Example: kizuna coverage examples/indo-pacific.toml --altitude-km 40 --duration-s 7200 --out out/coverage
    """
    from kizuna.sensors.coverage import write_coverage

    loaded = _load(scenario)
    try:
        with console.status("computing coverage"):
            result = write_coverage(
                loaded, out, altitude_km * 1e3, grid_step_deg=grid_deg, duration_s=duration_s, step_s=step_s
            )
    except ValueError as exc:
        _fail(exc)
    summary = result.summary
    table = Table(title=f"coverage at {altitude_km:g} km, {summary['time']['duration_s']:g} s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(
        "area seen by ≥2 satellites ≥95 % of the time", f"{summary['area_fraction_2sat_at_goal']:.1%}"
    )
    table.add_row("area-mean time seen by ≥1 satellite", f"{summary['area_mean_frac_1sat']:.1%}")
    table.add_row("area-mean time seen by a radar", f"{summary['area_mean_frac_radar']:.1%}")
    for n in ("1sat", "2sat"):
        gap = summary[f"longest_gap_{n}"]
        if gap is not None:
            where = f"{gap['lat_deg']:.1f}°N {gap['lon_deg']:.1f}°E"
            table.add_row(f"longest gap without ≥{n[0]} satellite", f"{gap['s'] / 60:.1f} min at {where}")
    revisit = summary["mean_revisit_1sat_s"]
    if revisit is not None:
        table.add_row("mean gap without a satellite", f"{revisit:.0f} s")
    console.print(table)
    for name in ("coverage.parquet", "coverage.json", "coverage.png"):
        console.print(f"[green]wrote[/] {out / name}", highlight=False)


@app.command("plot-truth")
def plot_truth(
    recording: Annotated[
        Path, typer.Argument(help="Recording folder written by `kizuna run`.", show_default=False)
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder for the PNGs (default: the recording folder).")
    ] = None,
) -> None:
    """Plot every target kind's truth: altitude vs down-range, speed vs time, ground track (PNG).

    Example: kizuna plot-truth out/demo
    """
    from kizuna.recording import RecordingError
    from kizuna.report.truth_plots import plot_truth as write_plots

    try:
        files = write_plots(recording, out or recording)
    except RecordingError as exc:
        _fail(exc)
    for path in files:
        console.print(f"[green]wrote[/] {path}", highlight=False)


@app.command("schema-doc")
def schema_doc(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of printing.")
    ] = None,
) -> None:
    """Print (or write) the scenario file reference generated from the schema."""
    from kizuna.scenario.reference import render_reference

    text = render_reference()
    if out is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")


@app.command()
def track(
    detections: Annotated[
        Path,
        typer.Argument(help="Detections file (a recording's detections.parquet).", show_default=False),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Tracks Parquet file to write.")] = Path(
        "out/tracks.parquet"
    ),
    model: Annotated[
        str,
        typer.Option("--model", help="imm (the national trackers' IMM) or cv (one constant-velocity model)."),
    ] = "imm",
    q: Annotated[float, typer.Option("--q", help="Process noise PSD of --model cv, m²/s³.")] = 10.0,
    max_speed: Annotated[
        float, typer.Option("--max-speed", help="Speed gate of two-point initiation, m/s.")
    ] = 8_000.0,
) -> None:
    """Track a detections file: one row per live track per frame (GNN, EKF or IMM, M-of-N, two-point
    and stereo starts; see docs/tracking.md). Invalid rows are skipped and counted.

    Example: kizuna track out/demo/detections.parquet --out out/demo/tracks.parquet
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kizuna.sensors.io import DetectionFileError, read_detections_checked
    from kizuna.tracking.models import ConstantVelocity
    from kizuna.tracking.tracker import frame_slices, select_rows, surveillance_tracker

    if model not in ("imm", "cv") or not (q > 0 and max_speed > 0):
        errors.print(
            f"[bold red]error:[/] --model must be imm or cv, --q and --max-speed positive; "
            f"got {model!r}, {q}, {max_speed}"
        )
        raise typer.Exit(code=2)
    try:
        batch, report = read_detections_checked(detections)
    except (OSError, DetectionFileError, pa.ArrowException) as exc:
        _fail(exc)
    if report.n_skipped:
        console.print(f"kept {report.n_kept:,} of {report.n_read:,} detections", highlight=False)
    settings: dict[str, object] = {"max_speed_m_per_s": max_speed, "record_history": True}
    if model == "cv":
        settings.update(imm=None, model=ConstantVelocity(q_m2_per_s3=q))
    tracker = surveillance_tracker(**settings)
    frames = frame_slices(batch)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    rows = 0
    writer: pq.ParquetWriter | None = None

    def flush(final: bool) -> None:
        nonlocal rows, writer
        columns = tracker.drain_history(final=final)
        if columns is None:
            return
        columns = {k: v for k, v in columns.items() if k != "P"}
        columns["status"] = columns["status"].astype(str)
        table = pa.table(columns)
        if writer is None:
            writer = pq.ParquetWriter(partial, table.schema, compression="zstd")
        writer.write_table(table)
        rows += table.num_rows

    with Progress(
        TextColumn("[bold]tracking"), BarColumn(), MofNCompleteColumn(), TextColumn("frames"),
        TimeElapsedColumn(), console=console, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("tracking", total=len(frames))
        for first in range(0, len(frames), 200):
            chunk = frames[first : first + 200]
            tracker.step(select_rows(batch, np.concatenate(chunk)))
            flush(final=False)
            progress.update(task, completed=first + len(chunk))
        flush(final=True)
    if writer is None:
        flush_empty = {k: v for k, v in tracker.history_columns().items() if k != "P"}
        flush_empty["status"] = flush_empty["status"].astype(str)
        pq.write_table(pa.table(flush_empty), partial, compression="zstd")
    else:
        writer.close()
    partial.replace(out)
    console.print(
        f"{tracker.n_frames:,} frames, {tracker.n_confirmed:,} tracks confirmed, "
        f"{len(tracker.table):,} live at the end",
        highlight=False,
    )
    console.print(f"[green]wrote[/] {out} ({rows:,} rows)", highlight=False)


@app.command()
def export(
    recording: RecordingPath,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="czml (Cesium), geojson or cot (CoT events, one per line).")
    ] = "czml",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file (default RECORDING/picture.FMT).")
    ] = None,
    picture: Annotated[
        str | None,
        typer.Option(help="Which picture: a nation (its coalition picture) or a table such as tracks_JPN."),
    ] = None,
    step_s: Annotated[float | None, typer.Option(help="Keep one sample per this many seconds.")] = None,
) -> None:
    """Export a recording's truth, satellites and one picture as CZML (Cesium) or GeoJSON.

    Example: kizuna export out/demo --format czml --picture JPN --out out/demo/jpn.czml
    """
    from kizuna.interop.export import export_recording

    target = out if out is not None else recording / f"picture.{fmt.lower()}"
    try:
        with console.status(f"exporting {recording} as {fmt}"):
            summary = export_recording(recording, target, fmt, picture=picture, step_s=step_s)
    except (ValueError, OSError) as exc:
        _fail(exc)
    console.print(
        f"wrote {summary.path}: {summary.n_items:,} items ({summary.n_truth} truth, {summary.n_satellites} "
        f"satellites, {summary.n_tracks} tracks of {summary.picture}), {summary.n_bytes / 1e6:.1f} MB",
        highlight=False,
    )
    for note in summary.notes:
        console.print(f"note: {note}", highlight=False)


@app.command()
def report(
    recording: RecordingPath,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file (default RECORDING/report.html).")
    ] = None,
) -> None:
    """Write the analyst's report: one self-contained HTML file (plots inline) to open or mail.

    Example: kizuna report out/demo
    """
    from kizuna.report.html import write_report

    try:
        with console.status(f"writing the report of {recording}"):
            path = write_report(recording, out)
    except (ValueError, OSError) as exc:
        _fail(exc)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)", highlight=False)


@contextlib.contextmanager
def _cop(store: PictureStore, host: str, port: int) -> Iterator[str]:
    """Start the COP server in the background; one line and exit code 2 if it cannot start."""
    from kizuna.cop.server import WebAssetsMissing, serve_in_thread, web_modules

    try:
        web_modules()
        server = serve_in_thread(store, host, port)
        url = server.__enter__()
    except (WebAssetsMissing, OSError) as exc:
        _fail(exc)
    if host not in ("127.0.0.1", "localhost", "::1"):
        errors.print(f"[yellow]warning:[/] the COP listens on {host}: anyone who reaches it sees the picture")
    console.print(f"COP: [bold]{url}/[/]  (open it in a browser)", highlight=False)
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopped", highlight=False)


@app.command()
def serve(
    recording: RecordingPath,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8765,
) -> None:
    """Replay a recording in the COP web app: map, globe, track table, nation views, timeline.

    Example: kizuna serve out/demo   (then open http://127.0.0.1:8765/)
    """
    from kizuna.cop.store import PictureStore
    from kizuna.recording import RecordingError

    try:
        with console.status(f"loading {recording}"):
            store = PictureStore.from_recording(recording)
    except RecordingError as exc:
        _fail(exc)
    t0, t1 = store.time_range()
    with _cop(store, host, port):
        console.print(
            f"replaying {store.scenario['scenario'].get('name', recording)}: {t0:g}–{t1:g} s, "
            f"nations {', '.join(store.nations)} (Ctrl-C to stop)",
            highlight=False,
        )
        _wait_for_interrupt()


@app.command()
def keygen(
    nations: Annotated[list[str], typer.Argument(help="Nation codes, e.g. USA JPN AUS.", show_default=False)],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for <NATION>.key and <NATION>.pub.")
    ] = Path("keys"),
    overwrite: Annotated[bool, typer.Option(help="Replace existing key files.")] = False,
) -> None:
    """Write an Ed25519 key pair per nation for live nodes (.key private, mode 0600; .pub to share).

    Name them in the scenario: key_file = "keys/JPN.key", public_key_file = "keys/JPN.pub".

    Example: kizuna keygen USA JPN AUS --out keys
    """
    from kizuna.network.signing import KeyFileError, generate_keys

    try:
        written = generate_keys(out, nations, overwrite=overwrite)
    except (KeyFileError, ValueError, OSError) as exc:
        _fail(exc)
    for nation, path in written.items():
        console.print(f"{nation}: {path} (private), {path.with_suffix('.pub')} (public)", highlight=False)


def _window(text: str) -> tuple[float, float]:
    try:
        start, end = (float(v) for v in text.split(":"))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected START:END in scenario seconds, e.g. 300:420") from None
    return start, end


@app.command()
def node(
    scenario: ScenarioPath,
    nation: Annotated[str, typer.Option("--nation", help="This node's nation code.", show_default=False)],
    listen: Annotated[
        list[str] | None,
        typer.Option("--listen", help="Zenoh endpoint to listen on, e.g. tcp/127.0.0.1:7447."),
    ] = None,
    connect: Annotated[
        list[str] | None, typer.Option("--connect", help="A partner's endpoint, e.g. tcp/127.0.0.1:7448.")
    ] = None,
    detections: Annotated[
        Path | None, typer.Option(help="Detections file fed to this node's tracker (its own sensors' rows).")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the node's picture and audit log.")
    ] = Path("out/node"),
    state: Annotated[
        Path | None, typer.Option(help="SQLite state file (default: OUT/state_<NATION>.sqlite).")
    ] = None,
    speed: Annotated[float, typer.Option(help="Scenario seconds per wall-clock second.")] = 1.0,
    clock_start: Annotated[
        float | None, typer.Option(help="UNIX time of scenario time 0; share it across an exercise's nodes.")
    ] = None,
    until: Annotated[float | None, typer.Option(help="Stop at this scenario time, seconds.")] = None,
    loss: Annotated[
        float, typer.Option(help="Fault injection: drop this fraction of received messages.")
    ] = 0.0,
    cut: Annotated[
        list[str] | None,
        typer.Option(help="Fault injection: cut this node off during START:END (repeatable)."),
    ] = None,
    cot: CotOutput = None,
    dis: DisOutput = None,
    asterix: AsterixOutput = None,
    feed_cot: Annotated[
        str | None, typer.Option("--feed-cot", help="Listen for CoT events: udp://HOST:PORT.")
    ] = None,
    feed_dis: Annotated[
        str | None, typer.Option("--feed-dis", help="Listen for DIS Entity State PDUs: udp://HOST:PORT.")
    ] = None,
    feed_asterix: Annotated[
        str | None, typer.Option("--feed-asterix", help="Listen for ASTERIX CAT062: udp://HOST:PORT.")
    ] = None,
    serve: ServeOption = False,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8765,
) -> None:
    """Run one nation's node live: its tracker, signed reports to partners over Zenoh (peer to
    peer, no broker), fusion into its picture, state kept in SQLite across restarts.

    Example: kizuna node SCENARIO --nation JPN --listen tcp/127.0.0.1:7448 \\
    --connect tcp/127.0.0.1:7447 --detections out/demo/detections.parquet
    """
    from kizuna.live import LiveError, LiveOptions, run_live
    from kizuna.node_store import StoreError

    loaded = _load(scenario)
    options = LiveOptions(
        nation=nation, listen=listen or [], connect=connect or [], detections=detections, out=out,
        state=state, speed=speed, clock_start=clock_start, until_s=until, loss=loss,
        cut=[_window(c) for c in cut or []], seed=loaded.scenario.seed,
        outputs=[(f, u) for f, u in (("cot", cot), ("dis", dis), ("asterix", asterix)) if u is not None],
        feeds=[(f, u) for f, u in (("cot", feed_cot), ("dis", feed_dis), ("asterix", feed_asterix)) if u],
    )  # fmt: skip
    last = [0.0]

    def on_step(summary: LiveSummary) -> None:
        if time.monotonic() - last[0] >= 10.0:
            last[0] = time.monotonic()
            console.print(
                f"{nation} t={summary.end_s:,.0f} s: {summary.system_tracks} system tracks, "
                f"{summary.messages_sent} sent, {summary.messages_accepted} accepted",
                highlight=False,
            )

    with contextlib.ExitStack() as cop:
        store = None
        if serve:
            from kizuna.cop.store import PictureStore, scenario_payload

            if nation not in [n.code for n in loaded.scenario.nations]:
                errors.print(f"[bold red]error:[/] unknown nation {nation!r}", highlight=False)
                raise typer.Exit(code=2)
            store = PictureStore.for_scenario(scenario_payload(loaded), nation=nation)
            cop.enter_context(_cop(store, host, port))
        try:
            on_rows = None if store is None else store.append
            summary = run_live(loaded, options, on_step=on_step, on_rows=on_rows)
        except (LiveError, StoreError) as exc:
            _fail(exc)
        except KeyboardInterrupt:
            raise typer.Exit(code=130) from None
        _print_node_summary(nation, summary)
        if store is not None:
            store.live = False
            console.print("the node is done; the COP replays its picture (Ctrl-C to stop)", highlight=False)
            _wait_for_interrupt()


def _print_node_summary(nation: str, summary: LiveSummary) -> None:
    console.print(
        f"{nation}: {summary.steps} steps to t={summary.end_s:,.0f} s"
        + (f" (resumed at {summary.resumed_at_s:,.0f} s)" if summary.resumed_at_s is not None else "")
        + f"; {summary.system_tracks} system tracks; {summary.messages_sent} messages sent, "
        f"{summary.messages_accepted} accepted, rejected {summary.messages_rejected or 'none'}; "
        f"{summary.peers_at_start} peer(s) at start; bus: {summary.bus_received} received, "
        f"{summary.bus_missed} missed",
        highlight=False,
    )


@app.command()
def compare(
    scenario: ScenarioPath,
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            "-v",
            help="A variant to run beside the baseline (repeat): no-sharing or one the scenario names.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for the runs and comparison.html (out/compare-STEM)."),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Processes at once (default: one per run, up to the CPUs)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
) -> None:
    """Run the scenario as written and each variant side by side; write one comparison.html.

    Each run is a recording (with its report.html) in OUT/<run>/; exit code 1 if any run failed.

    Example: kizuna compare examples/indo-pacific.toml -v no-sharing -v no-leo -v degraded-links
    """
    from kizuna.report.compare import BASELINE, headline, plan_runs, run_variants, write_comparison

    loaded = _load(scenario)
    try:
        plans = plan_runs(loaded, variant or [])
    except ValueError as exc:
        _fail(exc)
    folder = out if out is not None else Path("out") / f"compare-{scenario.stem}"
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    ) as progress:
        runs_task = progress.add_task(f"comparing {loaded.scenario.name}", total=len(plans), unit="runs")
        step_tasks = {
            p.name: progress.add_task(f"  {p.name}", total=None, unit="steps", start=False) for p in plans
        }

        def on_steps(name: str, done: int, total: int) -> None:
            if not progress.tasks[step_tasks[name]].started:
                progress.start_task(step_tasks[name])
            progress.update(step_tasks[name], completed=done, total=total or None)

        def on_progress(result: object, done: int, total: int) -> None:
            progress.update(runs_task, completed=done)

        results = run_variants(
            scenario, [p.name for p in plans[1:]], folder, jobs, on_progress, on_steps, loaded=loaded
        )
    with console.status("writing comparison.html"):
        page = write_comparison(results, folder / "comparison.html")
    failed = {name: r.error for name, r in results.items() if r.error is not None}
    for name, error in failed.items():
        errors.print(f"[bold red]run {name} failed:[/] {error}", highlight=False, soft_wrap=True)
    if not quiet:
        ok = [name for name in results if name not in failed]
        measures = {name: headline(results[name].folder) for name in ok}
        base = measures.get(BASELINE)
        table = Table(title=f"{loaded.scenario.name}: coalition picture per run (Δ = run − baseline)")
        for name in ("run", "wall [s]", "custody % (Δ)", "GOSPA km (Δ)", "complete % (Δ)"):
            table.add_column(name, justify="left" if name == "run" else "right")

        def cell(m: dict[str, float], key: str, scale: float, digits: int) -> str:
            value = f"{m[key] * scale:.{digits}f}"
            if base is None or m is base:
                return value
            return f"{value} ({(m[key] - base[key]) * scale:+.{digits}f})"

        for name, r in results.items():
            if name in failed:
                table.add_row(name, "[red]failed[/]", "", "", "")
                continue
            m = measures[name]
            table.add_row(
                name, f"{r.elapsed_s:.0f}", cell(m, "custody", 100, 1), cell(m, "gospa_m", 1e-3, 2),
                cell(m, "completeness", 100, 1),
            )  # fmt: skip
        console.print(table)
        console.print(
            f"[green]wrote[/] {page} ({page.stat().st_size / 1e6:.2f} MB) and {len(results)} recordings "
            f"in {time.perf_counter() - started:.0f} s",
            highlight=False,
        )
    if failed:
        raise typer.Exit(code=1)


def main() -> None:
    """Entry point of the `kizuna` console script."""
    app()
