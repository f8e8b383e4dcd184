"""Recordings: a run's outputs as Parquet tables in one folder, and reading them back.

A recording folder holds `manifest.json` (format version, what is inside), `scenario.json` (the
validated scenario as resolved) and one Parquet file per table. Tables are written in chunks as the
simulation steps, so memory stays bounded by the chunk, not the run. Column names carry units;
positions are ECEF metres with geodetic latitude/longitude (degrees, at this edge) and height.

Imports only the standard library and PyArrow: every layer may hand it rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

__all__ = [
    "DETECTION_SCHEMA",
    "FORMAT_VERSION",
    "MESSAGE_SCHEMA",
    "PICTURE_SCHEMA",
    "SATELLITE_SCHEMA",
    "SIGMA_COLUMNS",
    "TRACK_SCHEMA",
    "TRUTH_SCHEMA",
    "RecordingError",
    "RecordingWriter",
    "read_manifest",
    "read_table",
]

FORMAT_VERSION = 1
"""Bumped whenever a table changes incompatibly; readers refuse other versions with a clear message."""

_POSITION_FIELDS = [
    pa.field("x_m", pa.float64()),
    pa.field("y_m", pa.float64()),
    pa.field("z_m", pa.float64()),
    pa.field("vx_m_per_s", pa.float64()),
    pa.field("vy_m_per_s", pa.float64()),
    pa.field("vz_m_per_s", pa.float64()),
    pa.field("lat_deg", pa.float64()),
    pa.field("lon_deg", pa.float64()),
    pa.field("alt_m", pa.float64()),
]

SIGMA_COLUMNS = (
    "sigma_x_m",
    "sigma_y_m",
    "sigma_z_m",
    "sigma_vx_m_per_s",
    "sigma_vy_m_per_s",
    "sigma_vz_m_per_s",
)
"""Square roots of a track's 6×6 ECEF covariance diagonal, in state order."""
_SIGMA_FIELDS = [pa.field(name, pa.float64()) for name in SIGMA_COLUMNS]

TRUTH_SCHEMA = pa.schema(
    [
        pa.field("time_s", pa.float64()),
        pa.field("target_id", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("affiliation", pa.string()),
        *_POSITION_FIELDS,
        pa.field("phase", pa.string()),
        pa.field("ir_intensity_w_per_sr", pa.float64()),
        pa.field("rcs_m2", pa.float64()),
    ]
)
"""One row per target per sample time while the target is active; signatures in docs/truth.md."""

SATELLITE_SCHEMA = pa.schema(
    [
        pa.field("time_s", pa.float64()),
        pa.field("satellite_id", pa.string()),
        pa.field("constellation_id", pa.string()),
        *_POSITION_FIELDS,
    ]
)
"""One row per satellite per sample time; a satellite SGP4 could not propagate has NaN positions."""

DETECTION_SCHEMA = pa.schema(
    [
        pa.field("detection_id", pa.int64()),
        pa.field("time_s", pa.float64()),
        pa.field("sensor_id", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("z", pa.list_(pa.float64(), 4)),
        pa.field("cov", pa.list_(pa.float64(), 16)),
        pa.field("sensor_x_m", pa.float64()),
        pa.field("sensor_y_m", pa.float64()),
        pa.field("sensor_z_m", pa.float64()),
        pa.field("sensor_vx_m_per_s", pa.float64()),
        pa.field("sensor_vy_m_per_s", pa.float64()),
        pa.field("sensor_vz_m_per_s", pa.float64()),
        pa.field("truth_target_id", pa.string()),
    ]
)
"""One row per detection, time-ordered; layout in docs/formats.md. ``truth_target_id`` ("" for a
false alarm) is for evaluation only: `kizuna.sensors.io.read_detections` never returns it."""

TRACK_SCHEMA = pa.schema(
    [
        pa.field("time_s", pa.float64()),
        pa.field("track_id", pa.int64()),
        pa.field("status", pa.string()),
        *_POSITION_FIELDS,
        *_SIGMA_FIELDS,
        pa.field("quality", pa.int8()),
        pa.field("n_updates", pa.int64()),
        pa.field("last_sensor_id", pa.string()),
    ]
)
"""``tracks_<NATION>``: one row per live track per step of the run, the state predicted to the step
time from the nation's own sensors; σ columns are the square roots of the ECEF covariance diagonal."""

_TABLES = {"truth": TRUTH_SCHEMA, "satellites": SATELLITE_SCHEMA, "detections": DETECTION_SCHEMA}


class RecordingError(ValueError):
    """A recording folder that is missing files or was written by an incompatible version."""


@dataclass
class _Table:
    writer: pq.ParquetWriter
    rows: int = 0


class RecordingWriter:
    """Writes the tables of one recording; use as a context manager so files are always closed.

    Files are written under temporary names and renamed when the writer closes cleanly, so a
    failed run never leaves a truncated file that looks complete; what it did write is kept
    under the `.partial` name for inspection.
    """

    def __init__(
        self,
        out_dir: str | Path,
        *,
        standard_tables: bool = True,
        listener: Callable[[str, Any], None] | None = None,
    ) -> None:
        """``standard_tables``: declare truth, satellites and detections (a simulated run's
        recording); a live node's outputs declare only their own tables. ``listener(name, what)``
        sees every write as it happens: a table's name and its columns, or a JSON file's name and
        payload (the COP of ``kizuna run --serve`` follows a run this way)."""
        self.listener = listener
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._tables: dict[str, _Table] = {}
        self._schemas: dict[str, pa.Schema] = dict(_TABLES) if standard_tables else {}

    def declare(self, name: str, schema: pa.Schema) -> None:
        """Add a table to this recording (e.g. ``tracks_JPN``); written empty if no row comes."""
        if name in self._schemas and self._schemas[name] != schema:
            raise ValueError(f"table {name!r} is already declared with another schema")
        self._schemas[name] = schema

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close(success=exc_type is None)

    def path(self, name: str) -> Path:
        return self.out_dir / f"{name}.parquet"

    def write(self, name: str, columns: dict[str, Any]) -> None:
        """Append rows to table `name`, given as equal-length columns in the table's schema."""
        schema = self._schemas[name]
        arrays = [
            columns[f.name]
            if isinstance(columns[f.name], pa.Array)
            else pa.array(columns[f.name], type=f.type)
            for f in schema
        ]
        batch = pa.record_batch(arrays, schema=schema)
        table = self._tables.get(name)
        if table is None:
            writer = pq.ParquetWriter(
                self.path(name).with_suffix(".parquet.partial"), schema, compression="zstd"
            )
            table = self._tables[name] = _Table(writer)
        table.writer.write_batch(batch)
        table.rows += batch.num_rows
        if self.listener is not None:
            self.listener(name, columns)

    def write_json(self, name: str, payload: Any) -> Path:
        path = self.out_dir / name
        path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if self.listener is not None:
            self.listener(name, payload)
        return path

    @property
    def row_counts(self) -> dict[str, int]:
        return {name: t.rows for name, t in self._tables.items()}

    def close(self, *, success: bool = True) -> None:
        for name, table in self._tables.items():
            table.writer.close()
            if success:
                self.path(name).with_suffix(".parquet.partial").replace(self.path(name))
        if success:
            for name, schema in self._schemas.items():  # an empty table is still a table
                if name not in self._tables:
                    pq.write_table(schema.empty_table(), self.path(name), compression="zstd")
            self.write_json(
                "manifest.json",
                {
                    "format": "kizuna-recording",
                    "format_version": FORMAT_VERSION,
                    "tables": {name: f"{name}.parquet" for name in self._schemas},
                    "rows": {
                        name: self._tables[name].rows if name in self._tables else 0 for name in self._schemas
                    },
                },
            )
        self._tables = {}


PICTURE_SCHEMA = pa.schema(
    [
        pa.field("time_s", pa.float64()),
        pa.field("track_id", pa.int64()),
        pa.field("status", pa.string()),
        *_POSITION_FIELDS,
        *_SIGMA_FIELDS,
        pa.field("quality", pa.int8()),
        pa.field("category", pa.string()),
        pa.field("pedigree", pa.string()),
        pa.field("n_sources", pa.int64()),
        pa.field("reporter", pa.string()),
    ]
)
"""``picture_<NATION>``: a node's system tracks (its coalition picture) at every step; ``track_id``
is the system track number, common across nations; ``pedigree`` the contributing nations joined
by ``+``; ``reporter`` the nation responsible for reporting the track. Status is always
``confirmed``: only firm tracks are shared and fused."""

MESSAGE_SCHEMA = pa.schema(
    [
        pa.field("sent_s", pa.float64()),
        pa.field("sender", pa.string()),
        pa.field("receiver", pa.string()),
        pa.field("seq", pa.int64()),
        pa.field("n_bytes", pa.int64()),
        pa.field("n_tracks", pa.int64()),
        pa.field("fate", pa.string()),
        pa.field("arrival_s", pa.float64()),
        pa.field("outcome", pa.string()),
    ]
)
"""``messages``: every message to every destination: when sent, its size, its fate on the network
(delivered, lost, outage, congestion, no-link), when it arrived, and what the receiver did with it
(``accepted``, a rejection reason, or ``pending`` if the run ended first)."""


def position_columns(
    pos_m: NDArray[np.float64],
    vel_m_per_s: NDArray[np.float64],
    lat_rad: NDArray[np.float64],
    lon_rad: NDArray[np.float64],
    alt_m: NDArray[np.float64],
) -> dict[str, NDArray[np.float64]]:
    """The shared position/velocity columns from `(N, 3)` ECEF arrays and geodetic coordinates."""
    return {
        "x_m": pos_m[:, 0],
        "y_m": pos_m[:, 1],
        "z_m": pos_m[:, 2],
        "vx_m_per_s": vel_m_per_s[:, 0],
        "vy_m_per_s": vel_m_per_s[:, 1],
        "vz_m_per_s": vel_m_per_s[:, 2],
        "lat_deg": np.degrees(lat_rad),
        "lon_deg": np.degrees(lon_rad),
        "alt_m": alt_m,
    }


def read_manifest(recording: str | Path) -> dict[str, Any]:
    """Read and check a recording's manifest; raise `RecordingError` saying what is wrong."""
    folder = Path(recording)
    manifest_path = folder / "manifest.json"
    if not folder.is_dir():
        raise RecordingError(f"{folder}: no such recording folder")
    if not manifest_path.is_file():
        raise RecordingError(f"{folder}: not a Kizuna recording (manifest.json is missing)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RecordingError(f"{manifest_path}: unreadable manifest ({exc})") from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise RecordingError(
            f"{folder}: recording format version {version!r}, this Kizuna reads version {FORMAT_VERSION}; "
            "re-run the scenario with this version to regenerate it"
        )
    missing = [f for f in manifest.get("tables", {}).values() if not (folder / f).is_file()]
    if missing:
        raise RecordingError(f"{folder}: files missing from the recording: {', '.join(missing)}")
    return dict(manifest)


def read_table(recording: str | Path, name: str) -> pa.Table:
    """Read one table of a checked recording."""
    read_manifest(recording)
    return pq.read_table(Path(recording) / f"{name}.parquet")


class PartsWriter:
    """A table written as a folder of complete Parquet files (``part-<n>.parquet``), for a process
    that may be killed: rows are buffered and every `flush` writes them as one more part (under a
    temporary name, then renamed), so a kill loses at most the rows since the last flush and never
    leaves a file that cannot be read. ``pandas.read_parquet(folder)`` reads the whole table.
    Part numbers continue after the parts already in the folder (a restarted process appends).
    """

    def __init__(self, folder: str | Path, schema: pa.Schema) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        existing = [int(p.stem.split("-")[1]) for p in self.folder.glob("part-*.parquet")]
        self.next_part = max(existing, default=-1) + 1
        self._buffer: list[pa.Table] = []
        self.rows = 0

    def write(self, columns: dict[str, Any]) -> None:
        self._buffer.append(pa.Table.from_pydict(columns, schema=self.schema))

    def flush(self) -> Path | None:
        if not self._buffer:
            return None
        table = pa.concat_tables(self._buffer)
        self._buffer.clear()
        path = self.folder / f"part-{self.next_part:06d}.parquet"
        tmp = path.with_suffix(".parquet.partial")
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
        self.next_part += 1
        self.rows += table.num_rows
        return path
