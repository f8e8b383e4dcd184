"""detections.parquet: a batch round-trips exactly, and the reader never returns the truth labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from kizuna.recording import RecordingWriter
from kizuna.sensors.detections import KIND_DIMS, MEASUREMENT_KINDS, Z_MAX, DetectionBatch, DetectionLabels
from kizuna.sensors.io import detection_columns, read_detection_labels, read_detections


def random_batch(m: int, rng: np.random.Generator) -> tuple[DetectionBatch, DetectionLabels]:
    kind = rng.integers(0, len(MEASUREMENT_KINDS), m).astype(np.int8)
    dims = np.array([KIND_DIMS[MEASUREMENT_KINDS[k]] for k in kind])
    z = rng.normal(size=(m, Z_MAX))
    cov = rng.normal(size=(m, Z_MAX, Z_MAX))
    used = np.arange(Z_MAX) < dims[:, None]
    z[~used] = np.nan
    cov[~(used[:, :, None] & used[:, None, :])] = np.nan
    batch = DetectionBatch(
        detection_id=np.arange(100, 100 + m, dtype=np.int64),
        time_s=np.sort(rng.uniform(0, 60, m)),
        sensor_id=np.array([f"s{i % 3}" for i in range(m)], dtype=object),
        kind=kind,
        z=z,
        cov=cov,
        sensor_pos_m=rng.normal(size=(m, 3)) * 7e6,
        sensor_vel_m_per_s=rng.normal(size=(m, 3)) * 7e3,
    )
    labels = DetectionLabels(
        batch.detection_id[::-1].copy(), np.array([f"t{i}" if i % 4 else "" for i in range(m)], dtype=object)
    )
    return batch, labels


def test_detections_round_trip_without_labels(tmp_path: Path) -> None:
    batch, labels = random_batch(57, np.random.default_rng(3))
    with RecordingWriter(tmp_path) as rec:
        rec.write("detections", detection_columns(batch, labels))
    back = read_detections(tmp_path / "detections.parquet")
    for name in DetectionBatch.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(back, name), getattr(batch, name), err_msg=name)
    assert not hasattr(back, "target_id")
    back_labels = read_detection_labels(tmp_path / "detections.parquet")
    expected = dict(zip(labels.detection_id, labels.target_id, strict=True))
    assert [expected[i] for i in back_labels.detection_id] == list(back_labels.target_id)
    assert "truth_target_id" in pq.read_schema(tmp_path / "detections.parquet").names


def test_empty_detections_file_reads_as_empty_batch(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path):
        pass
    assert len(read_detections(tmp_path / "detections.parquet")) == 0
