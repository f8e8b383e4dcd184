"""detections.parquet: a batch round-trips exactly, the reader never returns the truth labels, and a
file from elsewhere is checked at the gate (kizuna/sensors/io.py module docstring).

Files here are built with pyarrow directly (not only through `detection_columns`) so that the
reader meets what other tools write: missing columns, wrong types, variable-length lists, nulls,
dictionary-encoded strings, rows out of order. A whole-file problem must raise `DetectionFileError`;
a row problem must be skipped, counted under the right reason and logged once per reason, with
every other row returned bit for bit as written.

The valid rows are physically plausible (metres, radians, m/s): sensors on a 6,400 km sphere, radar
ranges 1–400 km with 30 m / 1 mrad / 1 m/s noise, OTH ground ranges 1,000–3,000 km with 5 km
noise, LOS σ = 30 µrad with the rank-2 covariance σ²(I − u uᵀ) the space IR layer writes.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.recording import RecordingWriter
from kizuna.sensors.detections import KIND_DIMS, MEASUREMENT_KINDS, Z_MAX, DetectionBatch, DetectionLabels
from kizuna.sensors.io import (
    REQUIRED_COLUMNS,
    SKIP_REASONS,
    DetectionFileError,
    detection_columns,
    read_detection_labels,
    read_detections,
    read_detections_checked,
)

Columns = dict[str, Any]
SENSOR_STATE = [
    "sensor_x_m",
    "sensor_y_m",
    "sensor_z_m",
    "sensor_vx_m_per_s",
    "sensor_vy_m_per_s",
    "sensor_vz_m_per_s",
]
LOS_SIGMA_RAD = 30e-6
KINDS_12 = list(MEASUREMENT_KINDS) * 3
"""Three rows of each kind, interleaved; ``row_of(kind)`` picks the middle one."""


def row_of(kind: str) -> int:
    return len(MEASUREMENT_KINDS) + MEASUREMENT_KINDS.index(kind)


def valid_row(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(z (4,), cov (4, 4)) of one valid detection of ``kind``, NaN-padded."""
    z, cov = np.full(Z_MAX, np.nan), np.full((Z_MAX, Z_MAX), np.nan)
    if kind == "position":
        a = rng.normal(size=(3, 3)) * 100.0
        c = a @ a.T + np.eye(3) * 1e4  # correlated, positive definite
        z[:3], cov[:3, :3] = rng.normal(size=3) * 7e6, 0.5 * (c + c.T)
    elif kind == "radar":
        z[:] = [
            rng.uniform(1e3, 4e5),
            rng.uniform(0, 2 * math.pi),
            rng.uniform(-0.1, 1.4),
            rng.normal() * 300,
        ]
        cov[:, :] = np.diag(np.square([30.0, 1e-3, 1e-3, 1.0]))
    elif kind == "oth":
        z[:3] = [rng.uniform(1e6, 3e6), rng.uniform(0, 2 * math.pi), rng.normal() * 300]
        cov[:3, :3] = np.diag(np.square([5e3, 5e-3, 2.0]))
    else:
        u = rng.normal(size=3)
        u /= np.linalg.norm(u)
        z[:3], cov[:3, :3] = u, LOS_SIGMA_RAD**2 * (np.eye(3) - np.outer(u, u))
    return z, cov


def valid_columns(kinds: Sequence[str], rng: np.random.Generator, first_id: int = 100) -> Columns:
    """Columns of valid detections (numpy; strings as object arrays), times strictly increasing."""
    m = len(kinds)
    rows = [valid_row(k, rng) for k in kinds]
    site = rng.normal(size=(m, 3))
    site *= 6.4e6 / np.linalg.norm(site, axis=1, keepdims=True)
    vel = rng.normal(size=(m, 3)) * 100.0
    return {
        "detection_id": np.arange(first_id, first_id + m, dtype=np.int64),
        "time_s": np.cumsum(rng.uniform(0.1, 2.0, m)),
        "sensor_id": np.array([f"s{i % 3}" for i in range(m)], dtype=object),
        "kind": np.array(kinds, dtype=object),
        "z": np.array([r[0] for r in rows]).reshape(m, Z_MAX),
        "cov": np.array([r[1] for r in rows]).reshape(m, Z_MAX, Z_MAX),
        **{name: site[:, i] for i, name in enumerate(SENSOR_STATE[:3])},
        **{name: vel[:, i] for i, name in enumerate(SENSOR_STATE[3:])},
    }


def arrow_table(cols: Columns, nulls: dict[str, list[int]] | None = None) -> pa.Table:
    """A pyarrow table of the columns; ``nulls`` names rows to write as null per column."""
    nulls = nulls or {}
    m = len(cols["detection_id"])

    def mask(name: str) -> pa.Array | None:
        if name not in nulls:
            return None
        out = np.zeros(m, dtype=bool)
        out[nulls[name]] = True
        return pa.array(out)

    arrays: dict[str, pa.Array] = {}
    for name, value in cols.items():
        if isinstance(value, pa.Array):
            arrays[name] = value
        elif name in ("z", "cov"):
            width = Z_MAX if name == "z" else Z_MAX * Z_MAX
            flat = pa.array(np.ascontiguousarray(value, dtype=np.float64).reshape(-1))
            arrays[name] = pa.FixedSizeListArray.from_arrays(flat, width, mask=mask(name))
        elif np.asarray(value).dtype == object:
            arrays[name] = pa.array(list(value), pa.string(), mask=mask(name))
        else:
            m_ = mask(name)
            arrays[name] = pa.array(np.asarray(value), mask=None if m_ is None else m_.to_numpy(False))
    return pa.table(arrays)


def write(path: Path, cols: Columns, nulls: dict[str, list[int]] | None = None) -> Path:
    pq.write_table(arrow_table(cols, nulls), path)
    return path


def batch_of(cols: Columns, rows: Sequence[int] | None = None) -> DetectionBatch:
    """The batch the reader should return for these (valid) rows: sorted by (time, sensor, id)."""
    idx = np.arange(len(cols["detection_id"])) if rows is None else np.asarray(rows, dtype=np.intp)
    sensor = cols["sensor_id"][idx].astype(str)
    order = idx[np.lexsort((cols["detection_id"][idx], sensor, cols["time_s"][idx]))]
    kind = np.array([MEASUREMENT_KINDS.index(k) for k in cols["kind"][order]], dtype=np.int8)
    return DetectionBatch(
        detection_id=cols["detection_id"][order],
        time_s=cols["time_s"][order],
        sensor_id=cols["sensor_id"][order],
        kind=kind.reshape(len(order)),
        z=cols["z"][order],
        cov=cols["cov"][order],
        sensor_pos_m=np.stack([cols[c][order] for c in SENSOR_STATE[:3]], axis=-1).reshape(-1, 3),
        sensor_vel_m_per_s=np.stack([cols[c][order] for c in SENSOR_STATE[3:]], axis=-1).reshape(-1, 3),
    )


def assert_batches_equal(got: DetectionBatch, want: DetectionBatch) -> None:
    for name in DetectionBatch.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


# --- Round trip ----------------------------------------------------------------------------------


def random_batch(m: int, rng: np.random.Generator) -> tuple[DetectionBatch, DetectionLabels]:
    cols = valid_columns([MEASUREMENT_KINDS[k] for k in rng.integers(0, len(MEASUREMENT_KINDS), m)], rng)
    batch = batch_of(cols)
    labels = DetectionLabels(
        batch.detection_id[::-1].copy(), np.array([f"t{i}" if i % 4 else "" for i in range(m)], dtype=object)
    )
    return batch, labels


def test_detections_round_trip_without_labels(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    batch, labels = random_batch(57, np.random.default_rng(3))
    with RecordingWriter(tmp_path) as rec:
        rec.write("detections", detection_columns(batch, labels))
    with caplog.at_level(logging.INFO, logger="kizuna.sensors.io"):
        back, report = read_detections_checked(tmp_path / "detections.parquet")
    assert not caplog.records  # a valid, time-ordered file: nothing to say
    assert (report.n_read, report.n_kept, report.skipped, report.adjusted) == (57, 57, {}, {})
    assert not report.reordered
    assert_batches_equal(back, batch)
    assert_batches_equal(read_detections(tmp_path / "detections.parquet"), batch)
    assert not hasattr(back, "target_id")
    back_labels = read_detection_labels(tmp_path / "detections.parquet")
    expected = dict(zip(labels.detection_id, labels.target_id, strict=True))
    assert [expected[i] for i in back_labels.detection_id] == list(back_labels.target_id)
    assert "truth_target_id" in pq.read_schema(tmp_path / "detections.parquet").names


def test_empty_detections_file_reads_as_empty_batch(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path):
        pass
    assert len(read_detections(tmp_path / "detections.parquet")) == 0


def test_empty_file_from_elsewhere_reads_with_an_empty_report(tmp_path: Path) -> None:
    cols = valid_columns([], np.random.default_rng(0))
    batch, report = read_detections_checked(write(tmp_path / "d.parquet", cols))
    assert len(batch) == 0 and batch.z.shape == (0, Z_MAX) and batch.cov.shape == (0, Z_MAX, Z_MAX)
    assert (report.n_read, report.n_kept, report.skipped) == (0, 0, {})
    assert report.summary() == f"{tmp_path / 'd.parquet'}: kept 0 of 0 detections"


# --- Whole-file problems -------------------------------------------------------------------------


@pytest.mark.parametrize("drop", [["kind"], ["z", "sensor_vz_m_per_s", "time_s"]])
def test_missing_columns_are_all_named(tmp_path: Path, drop: list[str]) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(1))
    for name in drop:
        del cols[name]
    with pytest.raises(DetectionFileError) as err:
        read_detections(write(tmp_path / "d.parquet", cols))
    message = str(err.value)
    assert str(tmp_path / "d.parquet") in message
    assert all(name in message.split("; ")[0] for name in drop)
    assert ", ".join(REQUIRED_COLUMNS) in message  # and what a file needs


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"detection_id,time_s\n1,0.5\n", "not a readable Parquet file"),
        (b"", "not a readable Parquet file"),
        (b"PAR1garbagePAR1", "not a readable Parquet file"),
    ],
)
def test_a_file_that_is_not_parquet_is_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "detections.csv"
    path.write_bytes(content)
    with pytest.raises(DetectionFileError, match=expected):
        read_detections(path)


def test_missing_path_and_folder_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(DetectionFileError, match="no such file"):
        read_detections(tmp_path / "nowhere.parquet")
    with pytest.raises(DetectionFileError, match="is a folder"):
        read_detections(tmp_path)


def test_list_of_wrong_width_is_refused(tmp_path: Path) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(2))
    cols["z"] = pa.FixedSizeListArray.from_arrays(pa.array(cols["z"][:, :3].reshape(-1)), 3)
    with pytest.raises(
        DetectionFileError, match=r"column z has lists of 3 values; expected a list of 4 float64"
    ):
        read_detections(write(tmp_path / "d.parquet", cols))


def test_variable_lists_of_mixed_width_are_refused(tmp_path: Path) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(2))
    cov = [list(c.reshape(-1)) for c in cols["cov"]]
    cov[5] = cov[5][:9]  # a 3 × 3 block, not padded
    cols["cov"] = pa.array(cov, pa.list_(pa.float64()))
    with pytest.raises(
        DetectionFileError, match=r"column cov has lists of 9 values on 1 rows; expected .* 16"
    ):
        read_detections(write(tmp_path / "d.parquet", cols))


def test_variable_lists_of_the_right_width_read(tmp_path: Path) -> None:
    """What pandas and Polars write for a column of lists: ``list<double>``, not a fixed-size list."""
    cols = valid_columns(KINDS_12, np.random.default_rng(4))
    table = arrow_table(cols)
    for name in ("z", "cov"):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pa.array(table.column(name).to_pylist(), pa.list_(pa.float64())))
    pq.write_table(table, tmp_path / "d.parquet")
    assert_batches_equal(read_detections(tmp_path / "d.parquet"), batch_of(cols))


@pytest.mark.parametrize(
    ("name", "array", "expected"),
    [
        ("time_s", lambda m: pa.array(np.arange(m), pa.timestamp("s", tz="UTC")), "float seconds since"),
        ("kind", lambda m: pa.array(np.zeros(m, np.int8)), r"kind has type int8; expected strings \(one of"),
        ("sensor_id", lambda m: pa.array(np.arange(m)), "sensor_id has type int64; expected strings"),
        ("z", lambda m: pa.array([["1"] * 4] * m, pa.list_(pa.string(), 4)), "column z holds string values"),
        ("cov", lambda m: pa.array(np.zeros(m)), "column cov has type double; expected a list of 16"),
        ("detection_id", lambda m: pa.array(np.arange(m, dtype=float)), "detection_id has type double"),
    ],
)
def test_columns_of_the_wrong_type_are_refused(
    tmp_path: Path, name: str, array: Callable[[int], pa.Array], expected: str
) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(5))
    cols[name] = array(len(KINDS_12))
    with pytest.raises(DetectionFileError, match=expected):
        read_detections(write(tmp_path / "d.parquet", cols))


def test_duplicate_and_null_ids_are_refused(tmp_path: Path) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(6))
    cols["detection_id"][[3, 7]] = cols["detection_id"][[2, 6]]
    with pytest.raises(DetectionFileError, match=r"2 ids occur more than once \(e.g. 102, 106\)"):
        read_detections(write(tmp_path / "d.parquet", cols))
    cols = valid_columns(KINDS_12, np.random.default_rng(6))
    with pytest.raises(DetectionFileError, match="detection_id has 1 null values"):
        read_detections(write(tmp_path / "d.parquet", cols, nulls={"detection_id": [4]}))


def test_integer_and_float32_columns_and_dictionary_strings_read(tmp_path: Path) -> None:
    """Narrower numeric types and pandas categoricals are widened, values unchanged."""
    cols = valid_columns(KINDS_12, np.random.default_rng(7))
    cols["time_s"] = np.round(cols["time_s"] * 4) / 4  # exactly representable in float32
    written = dict(cols)
    written["detection_id"] = pa.array(cols["detection_id"].astype(np.int32))
    written["time_s"] = pa.array(cols["time_s"].astype(np.float32))
    written["kind"] = pa.array(list(cols["kind"]), pa.string()).dictionary_encode()
    written["sensor_id"] = pa.array(list(cols["sensor_id"]), pa.large_string())
    assert_batches_equal(read_detections(write(tmp_path / "d.parquet", written)), batch_of(cols))


# --- Row problems --------------------------------------------------------------------------------

Corruption = Callable[[Columns, int, dict[str, list[int]]], None]


def put(name: str, index: tuple[int, ...], value: Any) -> Corruption:
    def apply(cols: Columns, i: int, nulls: dict[str, list[int]]) -> None:
        cols[name][(i, *index)] = value

    return apply


def null(name: str) -> Corruption:
    def apply(cols: Columns, i: int, nulls: dict[str, list[int]]) -> None:
        nulls.setdefault(name, []).append(i)

    return apply


def scale_los(factor: float) -> Corruption:
    def apply(cols: Columns, i: int, nulls: dict[str, list[int]]) -> None:
        cols["z"][i, :3] *= factor

    return apply


def singular_position_cov(cols: Columns, i: int, nulls: dict[str, list[int]]) -> None:
    v = np.array([1.0, 2.0, 3.0]) * 100.0
    cols["cov"][i, :3, :3] = np.outer(v, v)  # rank 1: perfectly correlated axes


def anisotropic_los(ratio: float) -> Corruption:
    def apply(cols: Columns, i: int, nulls: dict[str, list[int]]) -> None:
        u = cols["z"][i, :3]
        e1 = np.cross(u, [0.0, 0.0, 1.0])
        e1 /= np.linalg.norm(e1)
        cols["cov"][i, :3, :3] += (ratio**2 - 1.0) * LOS_SIGMA_RAD**2 * np.outer(e1, e1)

    return apply


ROW_PROBLEMS: list[tuple[str, str, Corruption]] = [
    ("kind_unknown", "radar", put("kind", (), "Radar")),
    ("kind_unknown", "los", null("kind")),
    ("sensor_id_missing", "oth", null("sensor_id")),
    ("sensor_id_missing", "position", put("sensor_id", (), "")),
    ("time_not_finite", "position", put("time_s", (), np.nan)),
    ("time_not_finite", "los", put("time_s", (), -np.inf)),
    ("time_not_finite", "radar", null("time_s")),
    ("z_not_finite", "position", put("z", (1,), np.nan)),
    ("z_not_finite", "los", put("z", (0,), np.inf)),
    ("z_not_finite", "oth", put("z", (2,), np.nan)),  # the OTH range-rate is used
    ("z_not_finite", "radar", put("z", (2,), np.nan)),
    ("z_not_finite", "radar", null("z")),
    ("radar_range_rate_not_finite", "radar", put("z", (3,), np.nan)),
    ("z_out_of_domain", "radar", put("z", (0,), -5.0)),
    ("z_out_of_domain", "radar", put("z", (2,), 2.0)),  # elevation beyond the zenith
    ("z_out_of_domain", "oth", put("z", (0,), 0.0)),
    ("sensor_position_not_finite", "radar", put("sensor_x_m", (), np.nan)),
    ("sensor_position_not_finite", "los", put("sensor_z_m", (), np.inf)),
    ("sensor_position_not_finite", "oth", null("sensor_y_m")),
    ("sensor_velocity_not_finite", "radar", put("sensor_vy_m_per_s", (), np.nan)),
    ("los_not_unit", "los", scale_los(2.0)),
    ("los_not_unit", "los", scale_los(0.0)),
    ("los_not_unit", "los", scale_los(1.0 + 1e-5)),
    ("cov_not_finite", "oth", put("cov", (1, 1), np.nan)),
    ("cov_not_finite", "position", put("cov", (0, 2), np.inf)),
    ("cov_not_finite", "los", null("cov")),
    ("cov_not_symmetric", "radar", put("cov", (0, 1), 1.0)),
    ("cov_not_positive_definite", "radar", put("cov", (2, 2), -1e-6)),
    ("cov_not_positive_definite", "oth", put("cov", (0, 0), 0.0)),
    ("cov_not_positive_definite", "position", singular_position_cov),
    ("cov_not_positive_definite", "los", put("cov", (slice(0, 3), slice(0, 3)), 0.0)),
    ("cov_not_positive_definite", "los", anisotropic_los(1e7)),  # σ ratio 1e7 across the plane
]


@pytest.mark.parametrize(("reason", "kind", "corrupt"), ROW_PROBLEMS)
def test_a_bad_row_is_skipped_counted_and_the_rest_kept_intact(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, reason: str, kind: str, corrupt: Corruption
) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(8))
    want = batch_of(cols, [i for i in range(len(KINDS_12)) if i != row_of(kind)])
    nulls: dict[str, list[int]] = {}
    corrupt(cols, row_of(kind), nulls)
    with caplog.at_level(logging.WARNING, logger="kizuna.sensors.io"):
        got, report = read_detections_checked(write(tmp_path / "d.parquet", cols, nulls))
    assert report.skipped == {reason: 1}
    assert report.examples == {reason: (int(cols["detection_id"][row_of(kind)]),)}
    assert (report.n_read, report.n_kept, report.n_skipped) == (12, 11, 1)
    assert_batches_equal(got, want)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert f"skipped 1 of 12: {reason}: {SKIP_REASONS[reason]}" in caplog.records[0].getMessage()


def test_unknown_kinds_are_named_in_the_report(tmp_path: Path) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(9))
    cols["kind"][[0, 1, 5]] = ["Radar", "ir", "Radar"]
    _, report = read_detections_checked(write(tmp_path / "d.parquet", cols, {"kind": [7]}))
    assert report.skipped == {"kind_unknown": 4}
    assert report.unknown_kinds == {"<null>": 1, "Radar": 2, "ir": 1}
    assert "(found '<null>' ×1, 'Radar' ×2, 'ir' ×1)" in report.summary()


def test_one_warning_per_reason_not_per_row(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    kinds = ["los"] * 30 + ["radar"] * 10
    cols = valid_columns(kinds, np.random.default_rng(10))
    cols["z"][:7, 0] = np.nan
    cols["cov"][30:33, 3, 3] = -1.0
    with caplog.at_level(logging.INFO, logger="kizuna.sensors.io"):
        _, report = read_detections_checked(write(tmp_path / "d.parquet", cols))
    assert report.skipped == {"z_not_finite": 7, "cov_not_positive_definite": 3}
    assert report.examples["z_not_finite"] == (100, 101, 102, 103, 104)  # the first five, file order
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "skipped 7 of 40: z_not_finite" in warnings[0]
    assert "skipped 3 of 40: cov_not_positive_definite" in warnings[1]
    assert report.summary().splitlines()[0].endswith("kept 30 of 40 detections")
    assert len(report.summary().splitlines()) == 3


@pytest.mark.parametrize(
    ("kind", "columns"),
    [("position", SENSOR_STATE), ("los", SENSOR_STATE[3:]), ("oth", SENSOR_STATE[3:])],
)
def test_sensor_state_a_kind_does_not_use_may_be_nan(tmp_path: Path, kind: str, columns: list[str]) -> None:
    """A feed of ECEF points need not know its sensor; LOS and OTH models ignore the sensor velocity."""
    cols = valid_columns(KINDS_12, np.random.default_rng(11))
    for name in columns:
        cols[name][row_of(kind)] = np.nan
    got, report = read_detections_checked(write(tmp_path / "d.parquet", cols))
    assert report.skipped == {}
    assert_batches_equal(got, batch_of(cols))


def test_padding_is_read_as_nan(tmp_path: Path) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(12))
    want = batch_of(cols)
    cols["z"][np.isnan(cols["z"])] = 0.0
    cols["cov"][np.isnan(cols["cov"])] = 0.0
    got, report = read_detections_checked(write(tmp_path / "d.parquet", cols))
    assert report.skipped == {} and report.adjusted == {}
    assert_batches_equal(got, want)


def test_nearly_unit_los_is_renormalised(tmp_path: Path) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(13))
    i = row_of("los")
    cols["z"][i, :3] *= 1.0 + 1e-8  # e.g. a float32 round trip
    got, report = read_detections_checked(write(tmp_path / "d.parquet", cols))
    assert report.adjusted == {"los_renormalised": 1} and report.skipped == {}
    j = int(np.flatnonzero(got.detection_id == cols["detection_id"][i])[0])
    assert abs(np.linalg.norm(got.z[j, :3]) - 1.0) < 1e-15
    np.testing.assert_allclose(got.z[j, :3], cols["z"][i, :3], rtol=2e-8)


@pytest.mark.parametrize("along_rad2", [LOS_SIGMA_RAD**2, 1.0])
def test_los_covariance_along_the_line_of_sight_is_projected_out(tmp_path: Path, along_rad2: float) -> None:
    """σ²I (full rank) becomes σ²(I − u uᵀ): same information ⊥ u, and trace/2 = σ² as stereo reads it.
    A large variance along u (1 rad², 9 orders above σ²) must not leak rounding into the plane."""
    cols = valid_columns(KINDS_12, np.random.default_rng(14))
    i = row_of("los")
    u0 = cols["z"][i, :3]
    cols["cov"][i, :3, :3] += along_rad2 * np.outer(u0, u0)
    got, report = read_detections_checked(write(tmp_path / "d.parquet", cols))
    assert report.adjusted == {"los_cov_projected": 1} and report.skipped == {}
    j = int(np.flatnonzero(got.detection_id == cols["detection_id"][i])[0])
    u = got.z[j, :3]
    np.testing.assert_allclose(
        got.cov[j, :3, :3], LOS_SIGMA_RAD**2 * (np.eye(3) - np.outer(u, u)), atol=1e-6 * LOS_SIGMA_RAD**2
    )


def test_covariance_within_the_symmetry_tolerance_is_symmetrised(tmp_path: Path) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(15))
    i = row_of("radar")
    cols["cov"][i, 0, 1], cols["cov"][i, 1, 0] = 1e-9, 0.0  # 3e-8 of √(σ_R² σ_az²) = 0.03
    got, report = read_detections_checked(write(tmp_path / "d.parquet", cols))
    assert report.adjusted == {"cov_symmetrised": 1} and report.skipped == {}
    j = int(np.flatnonzero(got.detection_id == cols["detection_id"][i])[0])
    assert got.cov[j, 0, 1] == got.cov[j, 1, 0] == 5e-10


# --- Order, optional and extra columns -----------------------------------------------------------


def test_rows_out_of_order_are_sorted_by_time_sensor_and_id(tmp_path: Path) -> None:
    rng = np.random.default_rng(16)
    cols = valid_columns(KINDS_12 * 2, rng)
    cols["time_s"][:6] = 5.0  # ties: sorted by sensor id, then detection id
    perm = rng.permutation(24)
    shuffled = {k: v[perm] for k, v in cols.items()}
    got, report = read_detections_checked(write(tmp_path / "d.parquet", shuffled))
    assert report.reordered and report.skipped == {}
    assert_batches_equal(got, batch_of(cols))
    keys = list(zip(got.time_s, got.sensor_id, got.detection_id, strict=True))
    assert keys == sorted(keys)


def test_file_without_truth_labels_reads_and_labels_are_refused(tmp_path: Path) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(17))
    path = write(tmp_path / "d.parquet", cols)
    assert "truth_target_id" not in pq.read_schema(path).names
    assert_batches_equal(read_detections(path), batch_of(cols))
    with pytest.raises(DetectionFileError, match="missing column truth_target_id"):
        read_detection_labels(path)


def test_null_truth_label_is_refused(tmp_path: Path) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(17))
    cols["truth_target_id"] = np.array(["t1"] * 12, dtype=object)
    with pytest.raises(DetectionFileError, match=r"truth_target_id has 1 null values.*'' for a false alarm"):
        read_detection_labels(write(tmp_path / "d.parquet", cols, {"truth_target_id": [3]}))


def test_extra_columns_are_ignored(tmp_path: Path) -> None:
    cols = valid_columns(KINDS_12, np.random.default_rng(18))
    extra = {**cols, "snr_db": np.arange(12.0), "notes": np.array(["x"] * 12, dtype=object)}
    assert_batches_equal(read_detections(write(tmp_path / "d.parquet", extra)), batch_of(cols))


# --- Property: any mixture of good and bad rows --------------------------------------------------

CORRUPTIONS = [c for _, _, c in ROW_PROBLEMS]
any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def mixed_rows(draw: st.DrawFn) -> tuple[Columns, dict[str, list[int]], list[bool]]:
    """Valid rows, rows with one of ROW_PROBLEMS' corruptions, valid rows with one value (or a
    symmetric pair of covariance entries) replaced by an arbitrary float, and rows of arbitrary floats."""
    modes = draw(st.lists(st.sampled_from(["valid", "corrupt", "perturb", "random"]), max_size=16))
    kinds = [draw(st.sampled_from(MEASUREMENT_KINDS)) for _ in modes]
    cols = valid_columns(kinds, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    nulls: dict[str, list[int]] = {}
    for i, mode in enumerate(modes):
        if mode == "corrupt":
            draw(st.sampled_from(CORRUPTIONS))(cols, i, nulls)
        elif mode == "perturb":
            value = draw(any_float)
            name = draw(st.sampled_from(["z", "cov", "time_s", *SENSOR_STATE]))
            if name == "z":
                cols["z"][i, draw(st.integers(0, Z_MAX - 1))] = value
            elif name == "cov":
                r, c = draw(st.integers(0, Z_MAX - 1)), draw(st.integers(0, Z_MAX - 1))
                cols["cov"][i, r, c] = cols["cov"][i, c, r] = value
            else:
                cols[name][i] = value
        elif mode == "random":
            cols["z"][i] = draw(st.lists(any_float, min_size=4, max_size=4))
            cols["cov"][i] = np.reshape(draw(st.lists(any_float, min_size=16, max_size=16)), (4, 4))
            for name in ("time_s", *SENSOR_STATE):
                cols[name][i] = draw(any_float)
            cols["kind"][i] = draw(st.sampled_from([*MEASUREMENT_KINDS, "Radar", ""]))
    return cols, nulls, [mode == "valid" for mode in modes]


def assert_row_valid(batch: DetectionBatch, j: int) -> None:
    """Independently of the reader: what the measurement models need of a row."""
    kind = MEASUREMENT_KINDS[batch.kind[j]]
    d = KIND_DIMS[kind]
    z, cov = batch.z[j], batch.cov[j]
    assert isinstance(batch.sensor_id[j], str) and batch.sensor_id[j]
    assert np.isfinite(batch.time_s[j])
    assert np.isfinite(z[:d]).all() and np.isnan(z[d:]).all()
    block = cov[:d, :d]
    assert np.isfinite(block).all() and np.array_equal(block, block.T)
    assert np.isnan(cov[d:]).all() and np.isnan(cov[:, d:]).all()
    if kind != "position":
        assert np.isfinite(batch.sensor_pos_m[j]).all()
    if kind == "radar":
        assert np.isfinite(batch.sensor_vel_m_per_s[j]).all()
        assert z[0] > 0 and abs(z[2]) <= math.pi / 2
    if kind == "oth":
        assert z[0] > 0
    if kind == "los":
        u = z[:3]
        assert abs(np.linalg.norm(u) - 1.0) < 1e-12
        e = np.linalg.svd(np.eye(3) - np.outer(u, u))[0][:, :2]  # a basis of the plane ⊥ u
        np.linalg.cholesky(e.T @ block @ e)
    else:
        np.linalg.cholesky(block)


@settings(max_examples=60, deadline=None)
@given(mixed_rows())
def test_any_mixture_of_rows_reads_and_keeps_only_valid_rows(
    case: tuple[Columns, dict[str, list[int]], list[bool]],
) -> None:
    cols, nulls, valid = case
    with tempfile.TemporaryDirectory() as folder:
        try:
            batch, report = read_detections_checked(write(Path(folder) / "d.parquet", cols, nulls))
        except DetectionFileError:
            return
    assert report.n_read == len(valid) and report.n_kept == len(batch)
    assert report.n_kept + sum(report.skipped.values()) == report.n_read
    for j in range(len(batch)):
        assert_row_valid(batch, j)
    assert np.all(np.diff(batch.time_s) >= 0)
    good = [i for i, ok in enumerate(valid) if ok]
    kept_good = np.isin(batch.detection_id, cols["detection_id"][good])
    assert_batches_equal(select(batch, kept_good), batch_of(cols, good))


def select(batch: DetectionBatch, rows: np.ndarray) -> DetectionBatch:
    return DetectionBatch(
        **{name: getattr(batch, name)[rows] for name in DetectionBatch.__dataclass_fields__}
    )
