"""CZML and GeoJSON exports of a recording, for Cesium, QGIS, kepler.gl, geojson.io and the like.

`export_recording(folder, out_file, "czml" | "geojson")` reads a recording folder written by
``kizuna run`` (docs/formats.md) and writes one file:

**CZML** (Cesium Language, https://github.com/AnalyticalGraphicsInc/czml-writer/wiki/CZML-Guide): a
JSON array of packets. The first is the document packet (``id: "document"``, ``version: "1.0"``,
a clock over the run). Then one packet per truth target (``truth/<target_id>``: sampled position
in ``cartographicDegrees`` [t, lon, lat, h, ...], a path, a point and a label coloured by
affiliation), one per satellite (``satellite/<satellite_id>``: sampled ``cartesian`` [t, x, y, z,
...] in the Earth-fixed frame, ``referenceFrame: "FIXED"``, which is the recording's ECEF) and
one per track number of the chosen picture (``<table>/<track_id>``: its position as one sampled
interval per continuous run of the number, so Cesium never draws across a gap; ``availability``
lists the same intervals; label = the track number; point colour and size by category, changing
with the category over time). Every sample time is seconds after the position's ``epoch``, which
is the scenario epoch, so the times are the recording's ``time_s`` values unchanged. Cesium
interpolates positions in Cartesian space, so a track crossing the antimeridian needs no care.

**GeoJSON** (RFC 7946): one FeatureCollection. A LineString per truth target, per satellite
(ground track with height) and per track number of the chosen picture; a MultiLineString where a
line crosses the antimeridian (split there, RFC 7946 § 3.1.9, the crossing point interpolated
linearly in longitude, latitude and height) or where a track number has gaps (one part per
continuous run); a Point when an object has a single sample. Positions are [longitude, latitude,
height above the WGS-84 ellipsoid in metres], longitude in [-180, 180], rounded to 6 decimals of a
degree (~0.1 m) and 0.1 m of height. Each sensor of scenario.json with a ``site`` is a Point; a
ship's route a LineString. Times in properties are ISO 8601 UTC (``...Z``).

**Down-sampling** (`step_s`): a sample is kept when it is the first of its object (or of a
track's run) in a bin of ``step_s`` seconds of ``time_s``; the first and last sample of every
object and of every run are always kept, so first/last times and availability are exact. With
``step_s=None``: tracks keep every sample; truth and satellites keep every sample on a run of up
to `LONG_RUN_S` seconds and one every `DEFAULT_LONG_RUN_STEP_S` seconds on longer runs. The
demo (examples/indo-pacific.toml, 30 min, 222 targets, 28 satellites, 267 track numbers in
picture_USA) gives a 3.7 MB CZML by default and 15.6 MB with ``step_s=1``; about 3 s either way.

A track number's continuous runs: consecutive samples of the number further apart than 1.5
recording steps (``scenario.step_s`` of scenario.json, else the smallest time step in the table)
start a new run.

Longitude-first ordering exists only in the output written here.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow.parquet as pq
from numpy.typing import NDArray

from kizuna.recording import RecordingError, read_manifest
from kizuna.timebase import Epoch

__all__ = [
    "DEFAULT_LONG_RUN_STEP_S",
    "FORMATS",
    "LONG_RUN_S",
    "TRACK_TRAIL_S",
    "ExportSummary",
    "export_recording",
]

FORMATS = ("czml", "geojson", "cot")
LONG_RUN_S = 600.0
"""Runs longer than this (seconds of recorded time) down-sample truth and satellites by default."""
DEFAULT_LONG_RUN_STEP_S = 10.0
"""Default sampling of truth and satellites on a long run, seconds."""
TRACK_TRAIL_S = 300.0
"""How much of a track's past its CZML path shows, seconds."""
_GAP_STEPS = 1.5
"""Samples of a track number further apart than this many recording steps start a new run."""

ExportFormat = Literal["czml", "geojson", "cot"]

# RGBA colours. Affiliation after the usual hostile red / friend blue / neutral grey; unknown
# yellow, as in MIL-STD-2525 frames.
_AFFILIATION_RGBA = {
    "hostile": (230, 40, 40, 255),
    "suspect": (255, 128, 64, 255),
    "unknown": (240, 220, 40, 255),
    "neutral": (160, 160, 160, 255),
    "friend": (40, 110, 240, 255),
}
_CATEGORY_STYLE = {  # category: (rgba, point pixel size)
    "air": ((0, 220, 255, 255), 8),
    "missile": ((255, 150, 0, 255), 11),
    "space": ((220, 80, 255, 255), 7),
}
_DEFAULT_TRACK_STYLE = ((255, 255, 255, 255), 8)
_SATELLITE_RGBA = (200, 200, 255, 255)


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: the file, its size and what is in it."""

    path: Path
    format: str
    n_items: int
    """CZML packets (document packet included) or GeoJSON features."""
    n_bytes: int
    n_truth: int = 0
    n_satellites: int = 0
    n_tracks: int = 0
    """Track numbers exported from `picture`."""
    n_sensors: int = 0
    picture: str | None = None
    """The table the tracks came from (``picture_<NATION>`` or ``tracks_<NATION>``), if any."""
    dropped_rows: int = 0
    """Rows skipped because their position was not finite (a satellite SGP4 could not propagate)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Tables asked for but not in the recording (e.g. a live node's recording has no truth)."""


def export_recording(
    folder: str | Path,
    out_file: str | Path,
    fmt: str,
    *,
    picture: str | None = None,
    step_s: float | None = None,
    include_truth: bool = True,
    include_satellites: bool = True,
) -> ExportSummary:
    """Export a recording folder as CZML or GeoJSON (module docstring) and write `out_file` atomically.

    `picture`: the tracks to export, a table name (``picture_JPN``, ``tracks_JPN``) or a nation
    code (``JPN`` = ``picture_JPN``); by default the first nation's picture of scenario.json, or
    no tracks if the recording has no picture table. `step_s`: down-sampling period in seconds
    for every object; ``None`` for the defaults in the module docstring.

    Raises `ValueError` for an unknown format or a bad `step_s`, and `RecordingError` (a
    `ValueError`) for a missing folder or file, another format version, or a picture table
    the recording does not hold.
    """
    fmt_key = str(fmt).lower()
    if fmt_key not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if step_s is not None and not (math.isfinite(step_s) and step_s > 0.0):
        raise ValueError(f"step_s must be a positive number of seconds, got {step_s!r}")
    if fmt_key == "cot":
        return _export_cot(Path(folder), Path(out_file), picture, step_s)
    data = _load(Path(folder), picture, step_s, include_truth, include_satellites)
    if fmt_key == "czml":
        document: Any = _czml(data)
        n_items = len(document)
    else:
        document = _geojson(data)
        n_items = len(document["features"])
    n_bytes = _write_atomic(Path(out_file), document)
    return ExportSummary(
        path=Path(out_file),
        format=fmt_key,
        n_items=n_items,
        n_bytes=n_bytes,
        n_truth=len(data.truth.ids) if data.truth else 0,
        n_satellites=len(data.satellites.ids) if data.satellites else 0,
        n_tracks=len(data.tracks.ids) if data.tracks else 0,
        n_sensors=len(data.sensors) if fmt_key == "geojson" else 0,
        picture=data.picture,
        dropped_rows=data.dropped_rows,
        notes=tuple(data.notes),
    )


# --- Reading -------------------------------------------------------------------------------------


@dataclass
class _Objects:
    """Rows of one table grouped by object: sorted by (id, time), one slice per object."""

    ids: list[str]
    starts: NDArray[np.int64]
    """Row index where each object begins; ``starts[k]:starts[k + 1]`` (with len appended)."""
    time_s: NDArray[np.float64]
    columns: dict[str, NDArray[Any]]
    runs: NDArray[np.int64]
    """Row indices where a continuous run begins (always includes every object start)."""

    def slices(self) -> list[tuple[str, int, int]]:
        if not self.ids:
            return []
        ends = [*self.starts[1:].tolist(), len(self.time_s)]
        return [(i, int(s), int(e)) for i, s, e in zip(self.ids, self.starts.tolist(), ends, strict=True)]

    def run_bounds(self, start: int, end: int) -> list[tuple[int, int]]:
        """The continuous runs of the rows [start, end) of one object, as row ranges."""
        cuts = self.runs[(self.runs >= start) & (self.runs < end)].tolist()
        return list(zip(cuts, [*cuts[1:], end], strict=True))


@dataclass
class _Recording:
    epoch: Epoch
    start_s: float
    stop_s: float
    scenario: dict[str, Any]
    truth: _Objects | None
    satellites: _Objects | None
    tracks: _Objects | None
    picture: str | None
    sensors: list[dict[str, Any]]
    dropped_rows: int = 0
    notes: list[str] = field(default_factory=list)


def _load(
    folder: Path, picture: str | None, step_s: float | None, include_truth: bool, include_satellites: bool
) -> _Recording:
    manifest = read_manifest(folder)
    tables: dict[str, str] = dict(manifest.get("tables", {}))
    resolved = _read_scenario_json(folder)
    scenario = resolved.get("scenario", {}) if isinstance(resolved.get("scenario"), dict) else {}
    epoch = _epoch_of(folder, resolved)
    recording_step_s = scenario.get("step_s")
    notes: list[str] = []

    picture_table = _picture_table(folder, tables, scenario, picture)
    # A plain "duration" decides the defaults before any table is read: scenario duration, else 0.
    duration_s = float(scenario.get("duration_s") or 0.0)
    long_run = duration_s > LONG_RUN_S
    truth_step = step_s if step_s is not None else (DEFAULT_LONG_RUN_STEP_S if long_run else None)
    track_step = step_s

    dropped = 0
    truth = satellites = tracks = None
    if include_truth:
        if "truth" in tables:
            truth, n = _read_objects(
                folder / tables["truth"],
                "target_id",
                ["kind", "affiliation", "lat_deg", "lon_deg", "alt_m"],
                ("lat_deg", "lon_deg", "alt_m"),
                truth_step,
                recording_step_s,
                split_runs=False,
            )
            dropped += n
        else:
            notes.append("no truth table in this recording")
    if include_satellites:
        if "satellites" in tables:
            satellites, n = _read_objects(
                folder / tables["satellites"],
                "satellite_id",
                ["constellation_id", "x_m", "y_m", "z_m", "lat_deg", "lon_deg", "alt_m"],
                ("x_m", "y_m", "z_m"),
                truth_step,
                recording_step_s,
                split_runs=False,
            )
            dropped += n
        else:
            notes.append("no satellites table in this recording")
    if picture_table is not None:
        schema_names = pq.read_schema(folder / tables[picture_table]).names
        extra = [c for c in ("category", "pedigree", "status") if c in schema_names]
        tracks, n = _read_objects(
            folder / tables[picture_table],
            "track_id",
            [*extra, "lat_deg", "lon_deg", "alt_m"],
            ("lat_deg", "lon_deg", "alt_m"),
            track_step,
            recording_step_s,
            split_runs=True,
        )
        dropped += n

    times = [o.time_s for o in (truth, satellites, tracks) if o is not None and len(o.time_s)]
    start_s = min([0.0, *(float(t.min()) for t in times)])
    stop_s = max([duration_s, *(float(t.max()) for t in times)])
    sensors = [s for s in scenario.get("sensors", []) if isinstance(s, dict)]
    return _Recording(
        epoch, start_s, stop_s, scenario, truth, satellites, tracks, picture_table, sensors, dropped, notes
    )


def _read_scenario_json(folder: Path) -> dict[str, Any]:
    path = folder / "scenario.json"
    if not path.is_file():
        raise RecordingError(f"{folder}: scenario.json is missing (the export needs the scenario epoch)")
    try:
        resolved = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RecordingError(f"{path}: unreadable scenario.json ({exc})") from None
    if not isinstance(resolved, dict):
        raise RecordingError(f"{path}: expected a JSON object with 'scenario' and 'derived' keys")
    return resolved


def _epoch_of(folder: Path, resolved: dict[str, Any]) -> Epoch:
    derived = resolved.get("derived") if isinstance(resolved.get("derived"), dict) else {}
    scenario = resolved.get("scenario") if isinstance(resolved.get("scenario"), dict) else {}
    text = derived.get("epoch_utc") or scenario.get("epoch")
    if not isinstance(text, str):
        raise RecordingError(
            f"{folder / 'scenario.json'}: no epoch (expected derived.epoch_utc or scenario.epoch, "
            "an ISO 8601 UTC instant such as 2027-03-01T02:00:00Z)"
        )
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return Epoch(when)
    except ValueError as exc:
        raise RecordingError(
            f"{folder / 'scenario.json'}: epoch {text!r} is not a UTC instant ({exc})"
        ) from None


def _picture_table(
    folder: Path, tables: dict[str, str], scenario: dict[str, Any], picture: str | None
) -> str | None:
    available = sorted(t for t in tables if t.startswith(("picture_", "tracks_")))
    if picture is None:
        nations = [n.get("code") for n in scenario.get("nations", []) if isinstance(n, dict)]
        for code in nations:
            if f"picture_{code}" in tables:
                return f"picture_{code}"
        pictures = [t for t in available if t.startswith("picture_")]
        return pictures[0] if pictures else None
    name = picture if picture.startswith(("picture_", "tracks_")) else f"picture_{picture}"
    if name not in tables:
        raise RecordingError(
            f"{folder}: no table {name!r} in this recording (picture={picture!r}); "
            f"available: {', '.join(available) or 'none'}"
        )
    return name


def _read_objects(
    path: Path,
    id_column: str,
    columns: list[str],
    finite_columns: tuple[str, ...],
    step_s: float | None,
    recording_step_s: Any,
    *,
    split_runs: bool,
) -> tuple[_Objects, int]:
    """Read a table's rows grouped by object, finite positions only, deduplicated and down-sampled."""
    table = pq.read_table(path, columns=["time_s", id_column, *columns])
    time_s = table.column("time_s").to_numpy(zero_copy_only=False).astype(np.float64)
    ids = np.asarray(table.column(id_column).to_numpy(zero_copy_only=False)).astype(str)
    cols = {c: np.asarray(table.column(c).to_numpy(zero_copy_only=False)) for c in columns}

    finite = np.isfinite(time_s)
    for c in finite_columns:
        finite &= np.isfinite(cols[c].astype(np.float64))
    dropped = int((~finite).sum())
    order = np.lexsort((time_s, ids))
    order = order[finite[order]]
    time_s, ids = time_s[order], ids[order]
    cols = {c: v[order] for c, v in cols.items()}

    n = len(time_s)
    new_object = np.ones(n, dtype=bool)
    new_object[1:] = ids[1:] != ids[:-1]
    duplicate = np.zeros(n, dtype=bool)
    duplicate[1:] = ~new_object[1:] & (time_s[1:] == time_s[:-1])
    keep = ~duplicate
    time_s, ids, new_object = time_s[keep], ids[keep], new_object[keep]
    cols = {c: v[keep] for c, v in cols.items()}

    n = len(time_s)
    run_start = new_object.copy()
    if split_runs and n > 1:
        gap_s = _GAP_STEPS * _recording_step(time_s, recording_step_s)
        run_start[1:] |= np.diff(time_s) > gap_s
    run_end = np.ones(n, dtype=bool)
    run_end[:-1] = run_start[1:]

    keep = np.ones(n, dtype=bool)
    if step_s is not None and n:
        bins = np.floor(time_s / step_s + 1e-9)
        first_in_bin = np.ones(n, dtype=bool)
        first_in_bin[1:] = bins[1:] != bins[:-1]
        keep = first_in_bin | run_start | run_end
    time_s, ids, run_start = time_s[keep], ids[keep], run_start[keep]
    cols = {c: v[keep] for c, v in cols.items()}
    new_object = np.ones(len(ids), dtype=bool)
    new_object[1:] = ids[1:] != ids[:-1]
    starts = np.flatnonzero(new_object).astype(np.int64)
    return (
        _Objects(
            ids=[str(i) for i in ids[starts]],
            starts=starts,
            time_s=time_s,
            columns=cols,
            runs=np.flatnonzero(run_start).astype(np.int64),
        ),
        dropped,
    )


def _recording_step(time_s: NDArray[np.float64], recording_step_s: Any) -> float:
    if isinstance(recording_step_s, int | float) and recording_step_s > 0:
        return float(recording_step_s)
    steps = np.diff(np.unique(time_s))
    return float(steps.min()) if len(steps) else 1.0


# --- CZML ----------------------------------------------------------------------------------------


def _iso(epoch: Epoch, t_s: float) -> str:
    """ISO 8601 UTC with a Z, to the millisecond when the instant has a fraction of a second."""
    when = epoch.datetime_at(round(t_s, 3))
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _interval(epoch: Epoch, start_s: float, stop_s: float) -> str:
    return f"{_iso(epoch, start_s)}/{_iso(epoch, stop_s)}"


def _samples(time_s: NDArray[np.float64], *values: tuple[NDArray[Any], int]) -> list[float]:
    """Interleave [t, a, b, c, t, a, b, c, ...], each column rounded to its number of decimals."""
    stacked = np.column_stack([np.round(time_s, 3), *(np.round(v.astype(np.float64), d) for v, d in values)])
    flat: list[float] = stacked.ravel().tolist()
    return flat


def _czml(rec: _Recording) -> list[dict[str, Any]]:
    epoch_iso = _iso(rec.epoch, 0.0)
    duration_s = rec.stop_s - rec.start_s
    packets: list[dict[str, Any]] = [
        {
            "id": "document",
            "name": str(rec.scenario.get("name", "Kizuna recording")),
            "version": "1.0",
            "clock": {
                "interval": _interval(rec.epoch, rec.start_s, rec.stop_s),
                "currentTime": _iso(rec.epoch, rec.start_s),
                # Plays the whole run in about two minutes.
                "multiplier": max(1, round(duration_s / 120.0)),
                "range": "LOOP_STOP",
                "step": "SYSTEM_CLOCK_MULTIPLIER",
            },
        }
    ]
    if rec.truth is not None:
        packets += _czml_truth(rec, rec.truth, epoch_iso)
    if rec.satellites is not None:
        packets += _czml_satellites(rec, rec.satellites, epoch_iso)
    if rec.tracks is not None and rec.picture is not None:
        packets += _czml_tracks(rec, rec.tracks, rec.picture, epoch_iso)
    return packets


def _rgba(rgba: tuple[int, int, int, int]) -> dict[str, list[int]]:
    return {"rgba": list(rgba)}


def _czml_truth(rec: _Recording, obj: _Objects, epoch_iso: str) -> list[dict[str, Any]]:
    packets = []
    c = obj.columns
    for target_id, s, e in obj.slices():
        affiliation = str(c["affiliation"][s])
        kind = str(c["kind"][s])
        rgba = _AFFILIATION_RGBA.get(affiliation, _AFFILIATION_RGBA["unknown"])
        t = obj.time_s[s:e]
        packets.append(
            {
                "id": f"truth/{target_id}",
                "name": target_id,
                "description": f"Truth: {kind}, {affiliation}",
                "properties": {"kind": kind, "affiliation": affiliation, "source": "truth"},
                "availability": _interval(rec.epoch, float(t[0]), float(t[-1])),
                "position": {
                    "epoch": epoch_iso,
                    "cartographicDegrees": _samples(
                        t, (c["lon_deg"][s:e], 6), (c["lat_deg"][s:e], 6), (c["alt_m"][s:e], 1)
                    ),
                },
                "point": {"pixelSize": 6, "color": _rgba(rgba)},
                "path": {
                    "material": {"solidColor": {"color": _rgba((*rgba[:3], 160))}},
                    "width": 2,
                    "leadTime": 0,
                    "trailTime": rec.stop_s - rec.start_s,
                    "resolution": 10,
                },
                "label": {
                    "text": target_id,
                    "font": "11pt sans-serif",
                    "fillColor": _rgba(rgba),
                    "horizontalOrigin": "LEFT",
                    "pixelOffset": {"cartesian2": [8, 0]},
                    "show": kind != "civil_aircraft",
                },
            }
        )
    return packets


def _czml_satellites(rec: _Recording, obj: _Objects, epoch_iso: str) -> list[dict[str, Any]]:
    packets = []
    c = obj.columns
    for satellite_id, s, e in obj.slices():
        t = obj.time_s[s:e]
        packets.append(
            {
                "id": f"satellite/{satellite_id}",
                "name": satellite_id,
                "description": f"Satellite of constellation {c['constellation_id'][s]}",
                "availability": _interval(rec.epoch, float(t[0]), float(t[-1])),
                "position": {
                    "epoch": epoch_iso,
                    "referenceFrame": "FIXED",
                    "interpolationAlgorithm": "LAGRANGE",
                    "interpolationDegree": 5,
                    "cartesian": _samples(t, (c["x_m"][s:e], 1), (c["y_m"][s:e], 1), (c["z_m"][s:e], 1)),
                },
                "point": {"pixelSize": 4, "color": _rgba(_SATELLITE_RGBA)},
            }
        )
    return packets


def _czml_tracks(rec: _Recording, obj: _Objects, table: str, epoch_iso: str) -> list[dict[str, Any]]:
    packets = []
    c = obj.columns
    category = c.get("category")
    for track_id, s, e in obj.slices():
        runs = obj.run_bounds(s, e)
        intervals = [_interval(rec.epoch, float(obj.time_s[a]), float(obj.time_s[b - 1])) for a, b in runs]
        position = [
            {
                "interval": interval,
                "epoch": epoch_iso,
                "cartographicDegrees": _samples(
                    obj.time_s[a:b], (c["lon_deg"][a:b], 6), (c["lat_deg"][a:b], 6), (c["alt_m"][a:b], 1)
                ),
            }
            for interval, (a, b) in zip(intervals, runs, strict=True)
        ]
        colour, size = _track_style(
            rec.epoch, obj.time_s[s:e], category[s:e] if category is not None else None
        )
        last_category = str(category[e - 1]) if category is not None else None
        packets.append(
            {
                "id": f"{table}/{track_id}",
                "name": f"{table} {track_id}",
                "description": f"System track {track_id} of {table}"
                + (f", {last_category}" if last_category else ""),
                "properties": {"track_number": int(track_id), "picture": table, "source": "track"},
                "availability": intervals,
                "position": position,
                "point": {
                    "pixelSize": size,
                    "color": colour,
                    "outlineColor": _rgba((0, 0, 0, 255)),
                    "outlineWidth": 1,
                },
                "path": {
                    "material": {"solidColor": {"color": _rgba((255, 255, 255, 128))}},
                    "width": 1,
                    "leadTime": 0,
                    "trailTime": TRACK_TRAIL_S,
                },
                "label": {
                    "text": track_id,
                    "font": "10pt monospace",
                    "fillColor": _rgba((255, 255, 255, 255)),
                    "horizontalOrigin": "LEFT",
                    "verticalOrigin": "BOTTOM",
                    "pixelOffset": {"cartesian2": [8, -4]},
                },
            }
        )
    return packets


def _track_style(epoch: Epoch, time_s: NDArray[np.float64], category: NDArray[Any] | None) -> tuple[Any, Any]:
    """Point colour and size, constant or one interval per stretch of one category."""
    if category is None:
        rgba, size = _DEFAULT_TRACK_STYLE
        return _rgba(rgba), size
    change = np.flatnonzero(np.r_[True, category[1:] != category[:-1]])
    if len(change) == 1:
        rgba, size = _CATEGORY_STYLE.get(str(category[0]), _DEFAULT_TRACK_STYLE)
        return _rgba(rgba), size
    colours, sizes = [], []
    bounds = [*change.tolist(), len(time_s) - 1]
    for k, a in enumerate(change.tolist()):
        rgba, size = _CATEGORY_STYLE.get(str(category[a]), _DEFAULT_TRACK_STYLE)
        interval = _interval(epoch, float(time_s[a]), float(time_s[bounds[k + 1]]))
        colours.append({"interval": interval, "rgba": list(rgba)})
        sizes.append({"interval": interval, "number": size})
    return colours, sizes


# --- GeoJSON -------------------------------------------------------------------------------------


def _wrap_lon(lon_deg: NDArray[np.float64]) -> NDArray[np.float64]:
    """Longitudes into [-180, 180); a value of exactly 180 stays 180."""
    wrapped = (lon_deg + 180.0) % 360.0 - 180.0
    return np.where(lon_deg == 180.0, 180.0, wrapped)


def split_antimeridian(
    lon_deg: NDArray[np.float64], lat_deg: NDArray[np.float64], alt_m: NDArray[np.float64]
) -> list[list[list[float]]]:
    """Split a line of geodetic positions where it crosses ±180° (RFC 7946 § 3.1.9).

    Consecutive points more than 180° of longitude apart are taken to cross the antimeridian (the
    short way round). The crossing point is interpolated linearly in unwrapped longitude and ends
    one part at ±180 and starts the next at ∓180. Returns parts of [lon, lat, alt] positions.
    """
    lon = _wrap_lon(np.asarray(lon_deg, dtype=np.float64))
    lat = np.asarray(lat_deg, dtype=np.float64)
    alt = np.asarray(alt_m, dtype=np.float64)
    parts: list[list[list[float]]] = [[]]
    for k in range(len(lon)):
        if k:
            d_lon = lon[k] - lon[k - 1]
            if abs(d_lon) > 180.0:
                east = d_lon < 0.0  # e.g. 179 → -179: going east over +180
                edge = 180.0 if east else -180.0
                lon_next = lon[k] + (360.0 if east else -360.0)
                f = (edge - lon[k - 1]) / (lon_next - lon[k - 1])
                lat_c = lat[k - 1] + f * (lat[k] - lat[k - 1])
                alt_c = alt[k - 1] + f * (alt[k] - alt[k - 1])
                parts[-1].append(_position(edge, lat_c, alt_c))
                parts.append([_position(-edge, lat_c, alt_c)])
        parts[-1].append(_position(lon[k], lat[k], alt[k]))
    # Every part but a lone sample's has two positions or more: each part after the first starts
    # with a crossing point and holds the sample after it.
    return parts if parts[0] else []


def _position(lon_deg: float, lat_deg: float, alt_m: float) -> list[float]:
    return [round(float(lon_deg), 6), round(float(lat_deg), 6), round(float(alt_m), 1)]


def _line_geometry(parts: list[list[list[float]]]) -> dict[str, Any]:
    if len(parts) == 1 and len(parts[0]) == 1:
        return {"type": "Point", "coordinates": parts[0][0]}
    if len(parts) == 1:
        return {"type": "LineString", "coordinates": parts[0]}
    return {"type": "MultiLineString", "coordinates": parts}


def _geojson(rec: _Recording) -> dict[str, Any]:
    features: list[dict[str, Any]] = []
    epoch = rec.epoch
    if rec.truth is not None:
        c = rec.truth.columns
        for target_id, s, e in rec.truth.slices():
            features.append(
                _line_feature(
                    rec.truth,
                    s,
                    e,
                    [(s, e)],
                    epoch,
                    {
                        "id": target_id,
                        "source": "truth",
                        "kind": str(c["kind"][s]),
                        "affiliation": str(c["affiliation"][s]),
                    },
                )
            )
    if rec.satellites is not None:
        c = rec.satellites.columns
        for satellite_id, s, e in rec.satellites.slices():
            features.append(
                _line_feature(
                    rec.satellites,
                    s,
                    e,
                    [(s, e)],
                    epoch,
                    {
                        "id": satellite_id,
                        "source": "satellite",
                        "kind": "satellite",
                        "constellation": str(c["constellation_id"][s]),
                    },
                )
            )
    if rec.tracks is not None and rec.picture is not None:
        c = rec.tracks.columns
        nation = rec.picture.split("_", 1)[1]
        picture_kind = "coalition" if rec.picture.startswith("picture_") else "own"
        for track_id, s, e in rec.tracks.slices():
            properties: dict[str, Any] = {
                "id": f"{rec.picture}/{track_id}",
                "track_number": int(track_id),
                "source": "track",
                "nation": nation,
                "picture": picture_kind,
                "table": rec.picture,
            }
            if "category" in c:
                properties["category"] = str(c["category"][e - 1])
                properties["categories"] = list(dict.fromkeys(str(v) for v in c["category"][s:e]))
            if "pedigree" in c:
                properties["pedigree"] = str(c["pedigree"][e - 1])
            runs = rec.tracks.run_bounds(s, e)
            properties["n_runs"] = len(runs)
            features.append(_line_feature(rec.tracks, s, e, runs, epoch, properties))
    features += _sensor_features(rec.sensors)
    return {
        "type": "FeatureCollection",
        "name": str(rec.scenario.get("name", "Kizuna recording")),
        "features": features,
    }


def _line_feature(
    obj: _Objects,
    s: int,
    e: int,
    runs: list[tuple[int, int]],
    epoch: Epoch,
    properties: dict[str, Any],
) -> dict[str, Any]:
    c = obj.columns
    parts: list[list[list[float]]] = []
    for a, b in runs:
        parts += split_antimeridian(c["lon_deg"][a:b], c["lat_deg"][a:b], c["alt_m"][a:b])
    properties = {
        **properties,
        "first_time": _iso(epoch, float(obj.time_s[s])),
        "last_time": _iso(epoch, float(obj.time_s[e - 1])),
        "first_time_s": float(obj.time_s[s]),
        "last_time_s": float(obj.time_s[e - 1]),
        "n_samples": e - s,
    }
    return {
        "type": "Feature",
        "id": properties["id"],
        "geometry": _line_geometry(parts),
        "properties": properties,
    }


def _sensor_features(sensors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    features = []
    for sensor in sensors:
        props = {
            "id": str(sensor.get("id")),
            "source": "sensor",
            "kind": str(sensor.get("kind")),
            "nation": str(sensor.get("nation")),
        }
        site = sensor.get("site")
        route = sensor.get("route")
        if isinstance(site, dict):
            geometry = {
                "type": "Point",
                "coordinates": _position(
                    float(_wrap_lon(np.float64(site["lon_deg"]))), site["lat_deg"], site.get("alt_m", 0.0)
                ),
            }
        elif isinstance(route, list) and route:
            lon = np.array([p["lon_deg"] for p in route], dtype=np.float64)
            lat = np.array([p["lat_deg"] for p in route], dtype=np.float64)
            geometry = _line_geometry(split_antimeridian(lon, lat, np.zeros_like(lon)))
        else:
            continue  # a space sensor has no ground position
        features.append(
            {"type": "Feature", "id": f"sensor/{props['id']}", "geometry": geometry, "properties": props}
        )
    return features


# --- Writing -------------------------------------------------------------------------------------


def _export_cot(folder: Path, out_file: Path, picture: str | None, step_s: float | None) -> ExportSummary:
    """The picture as a file of CoT events, one per line (every system track at every kept step):
    what a TAK tool replays."""
    from kizuna.interop.cot import cot_events

    manifest = read_manifest(folder)
    tables: dict[str, str] = dict(manifest.get("tables", {}))
    resolved = _read_scenario_json(folder)
    scenario = resolved.get("scenario", {}) if isinstance(resolved.get("scenario"), dict) else {}
    epoch = _epoch_of(folder, resolved)
    table = _picture_table(folder, tables, scenario, picture)
    if table is None:
        raise RecordingError(f"{folder}: no picture to export as CoT")
    rows = pq.read_table(folder / f"{table}.parquet").to_pandas()
    if not table.startswith("picture_"):  # a tracks_ table: firm tracks, with the picture's columns
        nation = table.split("_", 1)[1]
        firm = rows[rows["status"] != "tentative"]
        rows = firm.assign(category="air", pedigree=nation, n_sources=1, reporter=nation)
    if step_s is not None and len(rows):
        t = rows["time_s"].to_numpy()
        rows = rows[np.isclose(np.mod(t - t.min() + 1e-9, step_s), 0.0, atol=1e-6)]
    events = cot_events(rows, epoch.utc) if len(rows) else []
    payload = b"\n".join(events) + (b"\n" if events else b"")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f".{out_file.name}.{os.getpid()}.partial")
    try:
        tmp.write_bytes(payload)
        tmp.replace(out_file)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportSummary(
        path=out_file, format="cot", n_items=len(events), n_bytes=len(payload), n_truth=0, n_satellites=0,
        n_tracks=int(rows["track_id"].nunique()) if len(rows) else 0, n_sensors=0, picture=table,
        dropped_rows=len(rows) - len(events), notes=[],
    )  # fmt: skip


def _write_atomic(path: Path, document: Any) -> int:
    """Write JSON to a temporary file beside `path`, then rename it into place; return the size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    payload = json.dumps(document, separators=(",", ":"), allow_nan=False).encode("utf-8")
    try:
        tmp.write_bytes(payload)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(payload)
