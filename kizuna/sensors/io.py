"""Detections in and out of Parquet (`detections.parquet`, layout in docs/formats.md).

`read_detections` returns what a tracker may see and nothing more: the evaluation column
``truth_target_id`` is never read by it. `read_detection_labels` returns that column for metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kizuna.recording import DETECTION_SCHEMA
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch, DetectionLabels

__all__ = ["detection_columns", "read_detection_labels", "read_detections"]

_SENSOR_STATE = [
    "sensor_x_m",
    "sensor_y_m",
    "sensor_z_m",
    "sensor_vx_m_per_s",
    "sensor_vy_m_per_s",
    "sensor_vz_m_per_s",
]


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


def read_detections(path: str | Path) -> DetectionBatch:
    """Detections from a Parquet file, without the evaluation column."""
    columns = [f.name for f in DETECTION_SCHEMA if f.name != "truth_target_id"]
    table = pq.read_table(path, columns=columns)
    m = table.num_rows
    kind_names = table.column("kind").to_numpy(zero_copy_only=False)
    kind = (
        np.array([MEASUREMENT_KINDS.index(k) for k in kind_names], dtype=np.int8)
        if m
        else np.zeros(0, np.int8)
    )
    flat_z = table.column("z").combine_chunks().flatten().to_numpy()
    flat_cov = table.column("cov").combine_chunks().flatten().to_numpy()
    return DetectionBatch(
        detection_id=table.column("detection_id").to_numpy(),
        time_s=table.column("time_s").to_numpy(),
        sensor_id=table.column("sensor_id").to_numpy(zero_copy_only=False).astype(object),
        kind=kind,
        z=flat_z.reshape(m, Z_MAX),
        cov=flat_cov.reshape(m, Z_MAX, Z_MAX),
        sensor_pos_m=np.stack([table.column(c).to_numpy() for c in _SENSOR_STATE[:3]], axis=-1).reshape(m, 3),
        sensor_vel_m_per_s=np.stack([table.column(c).to_numpy() for c in _SENSOR_STATE[3:]], axis=-1).reshape(
            m, 3
        ),
    )


def read_detection_labels(path: str | Path) -> DetectionLabels:
    """The evaluation column: which target produced each detection ("" for a false alarm)."""
    table = pq.read_table(path, columns=["detection_id", "truth_target_id"])
    return DetectionLabels(
        table.column("detection_id").to_numpy(),
        table.column("truth_target_id").to_numpy(zero_copy_only=False).astype(object),
    )
