"""Detections in and out of Parquet (`detections.parquet`, layout in docs/formats.md).

`read_detections` returns what a tracker may see and nothing more: the evaluation column
``truth_target_id`` is never read by it (a file without it reads). `read_detection_labels` returns
that column for metrics.

**The reader is the gate.** Users bring detection files from elsewhere, so `read_detections_checked`
takes nothing on trust and sorts every problem into one of two bins:

* *Whole-file problems* raise `DetectionFileError` (a `ValueError`) naming the file, what is wrong
  and what was expected: not a readable Parquet file; required columns missing (all named, with
  the full required list); a column of the wrong type (e.g. ``time_s`` as a timestamp, ``kind`` as
  an integer); ``z``/``cov`` lists that are not 4/16 values wide; null or duplicate
  ``detection_id``. Nothing useful can be read from such a file, and guessing would risk a
  silently wrong track.
* *Row problems* skip the row, count it under one reason (`SKIP_REASONS`, checked in that order;
  a row counts under the first that applies) in a `DetectionReadReport`, and log one warning per
  reason with its count and a few example detection ids — never one line per row (SatrecArray's
  per-element error codes, STYLE.md adopt 8). Every kept row is valid for the measurement model of
  its kind (kizuna/tracking/measurements.py):

  - ``kind`` one of `MEASUREMENT_KINDS`; ``sensor_id`` a non-empty string; ``time_s`` finite.
  - The used ``z`` columns of the kind (`KIND_DIMS`) finite. Radar uses all four: its EKF update
    and gate need the range-rate, and a NaN there would give a NaN innovation, so the detection
    could seed a track (initiation uses only range and angles) that it could then never update.
    3-D radar without range-rate is therefore refused with its own reason.
  - Physically meaningful: radar range > 0 and elevation in [−π/2, π/2]; OTH ground range > 0.
  - The sensor state each kind uses finite: the position for radar, OTH and LOS; the velocity for
    radar only (its range-rate is d·(v − vₛ)/R; the OTH model and the LOS ray ignore it). A
    ``position`` detection uses neither, so a feed of ECEF points with the sensor state unknown
    (NaN) is accepted and the NaN kept.
  - LOS ``z`` a unit vector: within `UNIT_NORM_TOLERANCE` of norm 1 it is renormalised (a float32
    round trip, say); further off (a zero vector, a direction in metres) the row is skipped.
  - The used covariance block finite, symmetric (``|C_ij − C_ji| ≤ SYMMETRY_RTOL·√(C_ii C_jj)``,
    a unit-free test: blocks mix m² and rad²) and positive definite. Definiteness is tested on the
    correlation matrix D^(−1/2) C D^(−1/2) (positive diagonal, smallest eigenvalue above
    `MIN_CORRELATION_EIGENVALUE`), which is unit-free too; NumPy's batched Cholesky raises for a
    whole stack if one matrix fails, which is why eigenvalues and not Cholesky decide per row.
    A LOS covariance is σ²(I − u uᵀ), rank 2 by design: for LOS the 2 × 2 block E C Eᵀ in the
    plane ⊥ u (rows of E an orthonormal basis of it) is what the filter uses and what must be
    positive definite. Both its axes are angles, so there the test is basis-independent: smallest
    eigenvalue above `MIN_LOS_EIGENVALUE_RATIO` times the largest. A component along u (a
    full-rank σ²I, say) is projected out, C → Eᵀ (E C Eᵀ) E = P C P with P = I − u uᵀ, because
    stereo initiation reads σ² as trace(C)/2 of the rank-2 form.

  Kept rows are otherwise returned as they are in the file, except that the unused ``z`` and
  ``cov`` entries are set to NaN (the documented padding; whatever the file held there is ignored)
  and a covariance within the symmetry tolerance is made exactly symmetric. Adjustments are
  counted in `DetectionReadReport.adjusted` and logged at INFO.

**Order.** A detections file is a set of rows: the reader sorts the kept rows by (``time_s``,
``sensor_id``, ``detection_id``) — time order, as the tracker takes them, and within one time the
tracker's sensor order (`kizuna.tracking.tracker`) — so file order does not matter. With ids unique
the sort is total, hence the same batch whatever the file order.

Columns the reader does not know are ignored.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from kizuna.recording import DETECTION_SCHEMA
from kizuna.sensors.detections import KIND_DIMS, MEASUREMENT_KINDS, Z_MAX, DetectionBatch, DetectionLabels

__all__ = [
    "ADJUSTMENTS",
    "MIN_CORRELATION_EIGENVALUE",
    "MIN_LOS_EIGENVALUE_RATIO",
    "REQUIRED_COLUMNS",
    "SKIP_REASONS",
    "SYMMETRY_RTOL",
    "UNIT_NORM_TOLERANCE",
    "DetectionFileError",
    "DetectionReadReport",
    "detection_columns",
    "read_detection_labels",
    "read_detections",
    "read_detections_checked",
]

logger = logging.getLogger("kizuna.sensors.io")

LABEL_COLUMN = "truth_target_id"
REQUIRED_COLUMNS: tuple[str, ...] = tuple(f.name for f in DETECTION_SCHEMA if f.name != LABEL_COLUMN)
"""Columns `read_detections` needs; ``truth_target_id`` is optional and any other column ignored."""

UNIT_NORM_TOLERANCE = 1e-6
"""A LOS ``z`` whose norm is off 1 by at most this is renormalised; further off, the row is skipped."""
_UNIT_NORM_ROUNDING = 1e-12
"""Norm errors up to this are rounding of a unit vector and left alone (keeps round trips exact)."""
SYMMETRY_RTOL = 1e-6
"""Accepted asymmetry of a covariance: ``|C_ij − C_ji| ≤ SYMMETRY_RTOL·√(C_ii C_jj)``."""
MIN_CORRELATION_EIGENVALUE = 1e-12
"""Smallest eigenvalue the correlation matrix of a used covariance block must exceed."""
MIN_LOS_EIGENVALUE_RATIO = 1e-12
"""Smallest over largest eigenvalue a LOS covariance must exceed in the plane ⊥ u (both axes are
angles, so the ratio is unit-free; 1e-12 is a 10⁶ ratio of angular σ, beyond any sensor)."""
_LOS_ALONG_RTOL = 1e-9
"""A LOS covariance with uᵀCu above this times trace(C) is projected onto the plane ⊥ u."""
_N_EXAMPLES = 5

SKIP_REASONS: dict[str, str] = {
    "kind_unknown": f"kind is null or not one of {', '.join(MEASUREMENT_KINDS)}",
    "sensor_id_missing": "sensor_id is null or empty",
    "time_not_finite": "time_s is null, NaN or infinite",
    "z_not_finite": "a z value its kind uses is null, NaN or infinite",
    "radar_range_rate_not_finite": (
        "radar z[3] (range_rate_m_per_s) is NaN or infinite: the tracker needs it "
        "(3-D radar without range-rate is not supported)"
    ),
    "z_out_of_domain": "radar range_m ≤ 0 or elevation_rad outside [−π/2, π/2], or oth ground_range_m ≤ 0",
    "sensor_position_not_finite": "sensor position not finite (radar, oth and los use it)",
    "sensor_velocity_not_finite": "sensor velocity not finite (radar range-rate uses it)",
    "los_not_unit": f"los z is not a unit vector (norm off 1 by more than {UNIT_NORM_TOLERANCE:g})",
    "cov_not_finite": "the covariance block its kind uses has a null, NaN or infinite value",
    "cov_not_symmetric": f"the covariance block is not symmetric (relative tolerance {SYMMETRY_RTOL:g})",
    "cov_not_positive_definite": (
        "the covariance block is not positive definite (for los: in the plane perpendicular to z)"
    ),
}
"""Why a row is skipped, in the order checked (a row counts under the first that applies)."""

ADJUSTMENTS: dict[str, str] = {
    "los_renormalised": f"los z renormalised to unit length (was within {UNIT_NORM_TOLERANCE:g} of it)",
    "los_cov_projected": "los covariance had a component along z: projected onto the plane ⊥ z",
    "cov_symmetrised": "covariance within the symmetry tolerance made exactly symmetric",
}
"""What the reader changes in a kept row, and says so."""

_REASON_CODE = {name: i + 1 for i, name in enumerate(SKIP_REASONS)}
_KIND_INDEX = {name: i for i, name in enumerate(MEASUREMENT_KINDS)}
_RADAR, _OTH, _LOS = _KIND_INDEX["radar"], _KIND_INDEX["oth"], _KIND_INDEX["los"]

_SENSOR_STATE = [
    "sensor_x_m",
    "sensor_y_m",
    "sensor_z_m",
    "sensor_vx_m_per_s",
    "sensor_vy_m_per_s",
    "sensor_vz_m_per_s",
]
_FLOAT_COLUMNS = ["time_s", *_SENSOR_STATE]
_LIST_WIDTHS = {"z": Z_MAX, "cov": Z_MAX * Z_MAX}
_FORMAT_HINT = "see docs/formats.md, section detections.parquet"


class DetectionFileError(ValueError):
    """A detections file that cannot be read as a whole: the message names the file, the problem and
    what was expected."""


@dataclass(frozen=True)
class DetectionReadReport:
    """What `read_detections_checked` did with a file.

    ``skipped`` maps a reason of `SKIP_REASONS` to its row count (only reasons that occurred, in
    check order); ``examples`` the same reasons to the first few skipped detection ids in file order;
    ``unknown_kinds`` each unknown ``kind`` value (``"<null>"`` for null) to its count; ``adjusted``
    a name of `ADJUSTMENTS` to the number of kept rows changed; ``reordered`` whether the file's rows
    were not already in (time_s, sensor_id, detection_id) order.
    """

    path: str
    n_read: int
    n_kept: int
    skipped: dict[str, int]
    examples: dict[str, tuple[int, ...]]
    unknown_kinds: dict[str, int]
    adjusted: dict[str, int]
    reordered: bool

    @property
    def n_skipped(self) -> int:
        return self.n_read - self.n_kept

    def reason_line(self, reason: str) -> str:
        """One line for a skip reason: count, reason, explanation, example ids."""
        extra = ""
        if reason == "kind_unknown":
            extra = " (found " + ", ".join(f"{k!r} ×{n}" for k, n in self.unknown_kinds.items()) + ")"
        ids = ", ".join(str(i) for i in self.examples.get(reason, ()))
        return (
            f"skipped {self.skipped[reason]} of {self.n_read}: {reason}: {SKIP_REASONS[reason]}{extra}; "
            f"e.g. detection_id {ids}"
        )

    def summary(self) -> str:
        """A header line, then one line per skip reason and per adjustment (for logs and the CLI)."""
        lines = [f"{self.path}: kept {self.n_kept} of {self.n_read} detections"]
        lines += [self.reason_line(r) for r in self.skipped]
        lines += [f"adjusted {n}: {name}: {ADJUSTMENTS[name]}" for name, n in self.adjusted.items()]
        return "\n".join(lines)


# --- Writing -------------------------------------------------------------------------------------


def _fixed_list(values: np.ndarray, width: int) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(values).reshape(-1)), width)


def detection_columns(batch: DetectionBatch, labels: DetectionLabels) -> dict[str, Any]:
    """Columns of `detections.parquet` for a batch and its labels (joined by detection id)."""
    order = np.argsort(labels.detection_id)
    pos = np.searchsorted(labels.detection_id[order], batch.detection_id)
    if not np.array_equal(labels.detection_id[order][pos], batch.detection_id):
        raise ValueError("every detection needs exactly one label row with its detection_id")
    return {
        "detection_id": batch.detection_id,
        "time_s": batch.time_s,
        "sensor_id": batch.sensor_id,
        "kind": np.asarray(MEASUREMENT_KINDS, dtype=object)[batch.kind],
        "z": _fixed_list(batch.z, Z_MAX),
        "cov": _fixed_list(batch.cov, Z_MAX * Z_MAX),
        **{name: batch.sensor_pos_m[:, i] for i, name in enumerate(_SENSOR_STATE[:3])},
        **{name: batch.sensor_vel_m_per_s[:, i] for i, name in enumerate(_SENSOR_STATE[3:])},
        "truth_target_id": labels.target_id[order][pos],
    }


# --- Reading -------------------------------------------------------------------------------------


def read_detections(path: str | Path) -> DetectionBatch:
    """Detections from a Parquet file, without the evaluation column: `read_detections_checked`
    without the report (bad rows are still skipped, and logged)."""
    return read_detections_checked(path)[0]


def read_detections_checked(path: str | Path) -> tuple[DetectionBatch, DetectionReadReport]:
    """Detections from a Parquet file and what was skipped or adjusted (module docstring).

    Raises `DetectionFileError` for a file that cannot be read as a whole; skips, counts and logs
    (logger ``kizuna.sensors.io``, one warning per reason) rows that are invalid. The batch is
    sorted by (time_s, sensor_id, detection_id).
    """
    table = _read_columns(path, REQUIRED_COLUMNS)
    raw = _Raw.from_table(path, table)
    reason, z, cov, adjusted = _check_rows(raw)
    keep = reason == 0
    kept_sensor = raw.sensor_id[keep]
    _, sensor_code = np.unique(kept_sensor.astype(str), return_inverse=True)
    order = np.lexsort((raw.detection_id[keep], sensor_code, raw.time_s[keep]))
    rows = np.flatnonzero(keep)[order]
    batch = DetectionBatch(
        detection_id=raw.detection_id[rows],
        time_s=raw.time_s[rows],
        sensor_id=raw.sensor_id[rows],
        kind=raw.kind[rows].astype(np.int8),
        z=z[rows],
        cov=cov[rows],
        sensor_pos_m=raw.sensor_pos_m[rows],
        sensor_vel_m_per_s=raw.sensor_vel_m_per_s[rows],
    )
    report = _report(path, raw, reason, adjusted, reordered=not np.array_equal(order, np.arange(len(order))))
    _log(report)
    return batch, report


def read_detection_labels(path: str | Path) -> DetectionLabels:
    """The evaluation column: which target produced each detection ("" for a false alarm), in file
    order. Raises `DetectionFileError` if the file has no ``truth_target_id`` (a detections file
    from elsewhere need not), or a null in it."""
    table = _read_columns(path, ("detection_id", LABEL_COLUMN))
    detection_id = _detection_ids(path, table)
    labels = table.column(LABEL_COLUMN)
    if not (pa.types.is_string(labels.type) or pa.types.is_large_string(labels.type)):
        raise DetectionFileError(
            f"{path}: column {LABEL_COLUMN} has type {labels.type}; expected string (target id, '' for a "
            f"false alarm); {_FORMAT_HINT}"
        )
    if labels.null_count:
        raise DetectionFileError(
            f"{path}: column {LABEL_COLUMN} has {labels.null_count} null values; every detection needs its "
            "target id, or '' for a false alarm"
        )
    return DetectionLabels(detection_id, labels.to_numpy(zero_copy_only=False).astype(object))


# --- Whole-file checks ---------------------------------------------------------------------------


def _read_columns(path: str | Path, columns: tuple[str, ...]) -> pa.Table:
    """The named columns of a Parquet file, or `DetectionFileError` naming every missing one."""
    p = Path(path)
    if p.is_dir():
        raise DetectionFileError(
            f"{p} is a folder; pass the detections.parquet file (a `kizuna run` recording holds one)"
        )
    try:
        with pq.ParquetFile(p) as pf:
            names = pf.schema_arrow.names
            missing = [c for c in columns if c not in names]
            if missing:
                required = ", ".join(columns)
                raise DetectionFileError(
                    f"{p}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                    f"a detections file needs {required} ({_FORMAT_HINT})"
                )
            return pf.read(columns=list(columns))
    except DetectionFileError:
        raise
    except FileNotFoundError as exc:
        raise DetectionFileError(f"{p}: no such file (expected a detections.parquet)") from exc
    except (OSError, pa.ArrowException) as exc:
        raise DetectionFileError(
            f"{p} is not a readable Parquet file ({exc}); expected a detections.parquet ({_FORMAT_HINT})"
        ) from exc


def _detection_ids(path: str | Path, table: pa.Table) -> NDArray[np.int64]:
    col = table.column("detection_id")
    if not pa.types.is_integer(col.type):
        raise DetectionFileError(
            f"{path}: column detection_id has type {col.type}; expected integers (int64), unique per row"
        )
    if col.null_count:
        raise DetectionFileError(
            f"{path}: column detection_id has {col.null_count} null values; every detection needs a unique id"
        )
    try:
        ids = np.asarray(col.cast(pa.int64()).to_numpy(), dtype=np.int64)
    except pa.ArrowInvalid as exc:
        raise DetectionFileError(f"{path}: column detection_id does not fit int64 ({exc})") from exc
    values, counts = np.unique(ids, return_counts=True)
    if np.any(counts > 1):
        dup = values[counts > 1]
        shown = ", ".join(str(i) for i in dup[:_N_EXAMPLES])
        raise DetectionFileError(
            f"{path}: detection_id must be unique; {len(dup)} ids occur more than once (e.g. {shown})"
        )
    return ids


def _float_column(path: str | Path, table: pa.Table, name: str) -> NDArray[np.float64]:
    """A numeric column as float64 with nulls as NaN."""
    col = table.column(name)
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_null(col.type)):
        hint = ""
        if pa.types.is_temporal(col.type):
            hint = "; convert times to float seconds since the scenario epoch: (t - epoch).total_seconds()"
        raise DetectionFileError(f"{path}: column {name} has type {col.type}; expected float64{hint}")
    return np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _string_column(path: str | Path, table: pa.Table, name: str) -> pa.ChunkedArray:
    """A string column (plain, large or dictionary-encoded, as pandas writes categoricals) as string."""
    col = table.column(name)
    t = col.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)):
        expected = "one of " + ", ".join(MEASUREMENT_KINDS) if name == "kind" else "the sensor's name"
        raise DetectionFileError(f"{path}: column {name} has type {col.type}; expected strings ({expected})")
    return col.cast(pa.string())


def _list_column(path: str | Path, table: pa.Table, name: str) -> NDArray[np.float64]:
    """A list column of fixed width as ``(M, width)`` float64; a null list or value is NaN."""
    width = _LIST_WIDTHS[name]
    expected = f"expected a list of {width} float64 per row ({_FORMAT_HINT})"
    arr = table.column(name).combine_chunks()
    t = arr.type
    if not (pa.types.is_fixed_size_list(t) or pa.types.is_list(t) or pa.types.is_large_list(t)):
        raise DetectionFileError(f"{path}: column {name} has type {t}; {expected}")
    vt = t.value_type
    if not (pa.types.is_integer(vt) or pa.types.is_floating(vt) or pa.types.is_null(vt)):
        raise DetectionFileError(f"{path}: column {name} holds {vt} values; {expected}")
    if pa.types.is_fixed_size_list(t):
        if t.list_size != width:
            raise DetectionFileError(f"{path}: column {name} has lists of {t.list_size} values; {expected}")
    else:
        lengths = pc.list_value_length(arr).drop_null().to_numpy(zero_copy_only=False)
        wrong = np.unique(lengths[lengths != width])
        if wrong.size:
            found = ", ".join(str(n) for n in wrong[:_N_EXAMPLES])
            raise DetectionFileError(
                f"{path}: column {name} has lists of {found} values on {np.count_nonzero(lengths != width)} "
                f"rows; {expected} (pad unused entries with NaN)"
            )
    valid = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    flat = np.asarray(arr.flatten().cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    out = np.full((len(arr), width), np.nan)
    out[valid] = flat.reshape(-1, width)
    return out


@dataclass(frozen=True)
class _Raw:
    """Every row of a file, as arrays, before row checks. ``kind`` is −1 where unknown."""

    detection_id: NDArray[np.int64]
    time_s: NDArray[np.float64]
    sensor_id: NDArray[np.object_]
    sensor_ok: NDArray[np.bool_]
    kind_name: pa.ChunkedArray
    kind: NDArray[np.int64]
    z: NDArray[np.float64]
    cov: NDArray[np.float64]
    sensor_pos_m: NDArray[np.float64]
    sensor_vel_m_per_s: NDArray[np.float64]

    @staticmethod
    def from_table(path: str | Path, table: pa.Table) -> _Raw:
        m = table.num_rows
        floats = {name: _float_column(path, table, name) for name in _FLOAT_COLUMNS}
        sensor = _string_column(path, table, "sensor_id")
        kind_col = _string_column(path, table, "kind")
        lists = {name: _list_column(path, table, name) for name in _LIST_WIDTHS}
        kind = pc.index_in(kind_col, value_set=pa.array(MEASUREMENT_KINDS)).fill_null(-1)
        sensor_length = pc.utf8_length(sensor).fill_null(0)
        return _Raw(
            detection_id=_detection_ids(path, table),
            time_s=floats["time_s"],
            sensor_id=np.asarray(sensor.to_numpy(zero_copy_only=False), dtype=object).reshape(m),
            sensor_ok=np.asarray(sensor_length.to_numpy(), dtype=np.int64).reshape(m) > 0,
            kind_name=kind_col,
            kind=np.asarray(kind.to_numpy(), dtype=np.int64).reshape(m),
            z=lists["z"],
            cov=lists["cov"].reshape(m, Z_MAX, Z_MAX),
            sensor_pos_m=np.stack([floats[c] for c in _SENSOR_STATE[:3]], axis=-1).reshape(m, 3),
            sensor_vel_m_per_s=np.stack([floats[c] for c in _SENSOR_STATE[3:]], axis=-1).reshape(m, 3),
        )


# --- Row checks ----------------------------------------------------------------------------------


def _tangent_basis(u: NDArray[np.float64]) -> NDArray[np.float64]:
    """Orthonormal rows e₁, e₂ ``(M, 2, 3)`` perpendicular to unit vectors ``u (M, 3)`` (e₁ = u × k with
    k the axis least aligned with u, as `kizuna.tracking.measurements.los_basis`)."""
    k = np.zeros_like(u)
    k[np.arange(len(u)), np.argmin(np.abs(u), axis=1)] = 1.0
    e1 = np.cross(u, k)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return np.stack([e1, np.cross(u, e1)], axis=1)


def _positive_definite(c: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Per matrix of a symmetric stack ``(M, k, k)``: positive diagonal and correlation matrix with
    smallest eigenvalue above `MIN_CORRELATION_EIGENVALUE`."""
    d = np.diagonal(c, axis1=1, axis2=2)
    ok = np.all(d > 0.0, axis=1)
    s = np.sqrt(np.where(ok[:, None], d, 1.0))
    corr = c / (s[:, :, None] * s[:, None, :])
    ok &= np.isfinite(corr).all(axis=(1, 2))
    corr = np.where(ok[:, None, None], corr, np.eye(c.shape[1]))
    return ok & (np.linalg.eigvalsh(corr)[:, 0] > MIN_CORRELATION_EIGENVALUE)


def _well_conditioned(t: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Per matrix of a symmetric stack whose axes share a unit: smallest eigenvalue positive and above
    `MIN_LOS_EIGENVALUE_RATIO` times the largest (a basis-independent test)."""
    ok = np.isfinite(t).all(axis=(1, 2))
    lam = np.linalg.eigvalsh(np.where(ok[:, None, None], t, np.eye(t.shape[1])))
    return ok & (lam[:, 0] > 0.0) & (lam[:, 0] > MIN_LOS_EIGENVALUE_RATIO * lam[:, -1])


def _check_rows(
    raw: _Raw,
) -> tuple[NDArray[np.int8], NDArray[np.float64], NDArray[np.float64], dict[str, int]]:
    """Skip-reason code per row (0: kept; i + 1: the i-th of `SKIP_REASONS`), the checked z and cov
    (padding NaN, LOS renormalised and projected, blocks symmetrised), and adjustment counts."""
    m = len(raw.detection_id)
    reason = np.zeros(m, dtype=np.int8)

    def fail(name: str, bad: NDArray[np.bool_]) -> None:
        reason[bad & (reason == 0)] = _REASON_CODE[name]

    kind, z_in = raw.kind, raw.z
    dims = np.array([KIND_DIMS[k] for k in MEASUREMENT_KINDS])[np.maximum(kind, 0)]
    used = np.arange(Z_MAX) < dims[:, None]
    is_radar, is_oth, is_los = kind == _RADAR, kind == _OTH, kind == _LOS
    fail("kind_unknown", kind < 0)
    fail("sensor_id_missing", ~raw.sensor_ok)
    fail("time_not_finite", ~np.isfinite(raw.time_s))
    bad_z = ~np.isfinite(z_in) & used
    only_rate = is_radar & bad_z[:, 3] & ~bad_z[:, :3].any(axis=1)
    fail("z_not_finite", bad_z.any(axis=1) & ~only_rate)
    fail("radar_range_rate_not_finite", only_rate)
    radar_ok = (z_in[:, 0] > 0.0) & (np.abs(z_in[:, 2]) <= 0.5 * math.pi)
    fail("z_out_of_domain", (is_radar & ~radar_ok) | (is_oth & ~(z_in[:, 0] > 0.0)))
    fail(
        "sensor_position_not_finite",
        (is_radar | is_oth | is_los) & ~np.isfinite(raw.sensor_pos_m).all(axis=1),
    )
    fail("sensor_velocity_not_finite", is_radar & ~np.isfinite(raw.sensor_vel_m_per_s).all(axis=1))

    z = np.where(used, z_in, np.nan)
    cov = np.where(used[:, :, None] & used[:, None, :], raw.cov, np.nan)
    adjusted = dict.fromkeys(ADJUSTMENTS, 0)
    with np.errstate(all="ignore"):  # huge or odd values are judged by the checks, not by warnings
        u = np.where(is_los[:, None] & (reason == 0)[:, None], z[:, :3], 1.0)
        norm = np.linalg.norm(u, axis=1)
        fail("los_not_unit", is_los & ~(np.abs(norm - 1.0) <= UNIT_NORM_TOLERANCE))
        renorm = is_los & (reason == 0) & (np.abs(norm - 1.0) > _UNIT_NORM_ROUNDING)
        z[renorm, :3] /= norm[renorm, None]
        adjusted["los_renormalised"] = int(np.count_nonzero(renorm))
        for k, name in enumerate(MEASUREMENT_KINDS):
            _check_covariances(np.flatnonzero((kind == k) & (reason == 0)), name, reason, z, cov, adjusted)
    return reason, z, cov, {name: n for name, n in adjusted.items() if n}


def _check_covariances(
    rows: NDArray[np.intp],
    kind_name: str,
    reason: NDArray[np.int8],
    z: NDArray[np.float64],
    cov: NDArray[np.float64],
    adjusted: dict[str, int],
) -> None:
    """Covariance checks of ``rows`` (all of one kind, still kept): sets ``reason`` of the failing
    rows, and symmetrises (and for los projects) the blocks of the others in ``cov``."""
    d = KIND_DIMS[kind_name]
    c = cov[rows, :d, :d]
    finite = np.isfinite(c).all(axis=(1, 2))
    reason[rows[~finite]] = _REASON_CODE["cov_not_finite"]
    rows, c = rows[finite], c[finite]
    ct = np.swapaxes(c, 1, 2)
    s = np.sqrt(np.abs(np.diagonal(c, axis1=1, axis2=2)))
    symmetric = np.all(np.abs(c - ct) <= SYMMETRY_RTOL * s[:, :, None] * s[:, None, :], axis=(1, 2))
    reason[rows[~symmetric]] = _REASON_CODE["cov_not_symmetric"]
    rows, c, ct = rows[symmetric], c[symmetric], ct[symmetric]
    exact = np.all(c == ct, axis=(1, 2))
    c = np.where(exact[:, None, None], c, 0.5 * c + 0.5 * ct)  # exactly symmetric, cannot overflow
    if kind_name == "los":
        u = z[rows, :3]
        e = _tangent_basis(u)
        t = e @ c @ np.swapaxes(e, 1, 2)  # the 2 × 2 block in the plane ⊥ u, what the filter uses
        pd = _well_conditioned(0.5 * t + 0.5 * np.swapaxes(t, 1, 2))
        along = np.abs(np.einsum("ni,nij,nj->n", u, c, u))
        project = pd & (along > _LOS_ALONG_RTOL * np.abs(np.trace(c, axis1=1, axis2=2)))
        # P C P = Eᵀ (E C Eᵀ) E with P = EᵀE: rebuilt from the tangent block, no cancellation of a
        # large along-u term against the small angular variances.
        c_p = np.swapaxes(e[project], 1, 2) @ t[project] @ e[project]
        c[project] = 0.5 * c_p + 0.5 * np.swapaxes(c_p, 1, 2)
        adjusted["los_cov_projected"] += int(np.count_nonzero(project))
    else:
        pd = _positive_definite(c)
    reason[rows[~pd]] = _REASON_CODE["cov_not_positive_definite"]
    adjusted["cov_symmetrised"] += int(np.count_nonzero(pd & ~exact))
    cov[rows[pd], :d, :d] = c[pd]


# --- Report --------------------------------------------------------------------------------------


def _report(
    path: str | Path, raw: _Raw, reason: NDArray[np.int8], adjusted: dict[str, int], *, reordered: bool
) -> DetectionReadReport:
    skipped: dict[str, int] = {}
    examples: dict[str, tuple[int, ...]] = {}
    for name, code in _REASON_CODE.items():
        hit = np.flatnonzero(reason == code)
        if hit.size:
            skipped[name] = int(hit.size)
            examples[name] = tuple(int(i) for i in raw.detection_id[hit[:_N_EXAMPLES]])
    unknown = raw.kind_name.filter(pa.array(raw.kind < 0)).fill_null("<null>")
    values, counts = np.unique(
        np.asarray(unknown.to_numpy(zero_copy_only=False), dtype=str), return_counts=True
    )
    return DetectionReadReport(
        path=str(path),
        n_read=len(raw.detection_id),
        n_kept=int(np.count_nonzero(reason == 0)),
        skipped=skipped,
        examples=examples,
        unknown_kinds={str(v): int(n) for v, n in zip(values, counts, strict=True)},
        adjusted=adjusted,
        reordered=reordered,
    )


def _log(report: DetectionReadReport) -> None:
    """One warning per skip reason, one info line per adjustment and for a re-sorted file."""
    for name in report.skipped:
        logger.warning("%s: %s", report.path, report.reason_line(name))
    for name, n in report.adjusted.items():
        logger.info("%s: adjusted %d of %d: %s: %s", report.path, n, report.n_read, name, ADJUSTMENTS[name])
    if report.reordered:
        logger.info(
            "%s: rows sorted by (time_s, sensor_id, detection_id); file order does not matter", report.path
        )
