"""Detections: what leaves a sensor, as self-describing batches, and their truth labels kept apart.

A `DetectionBatch` is arrays over M detections. Each row carries its measurement model — the kind,
the measured values, their covariance, and the sensor's ECEF position and velocity at the time of
the measurement — so a tracker needs nothing else to use it (detections from elsewhere included).
Nothing in a batch reveals the truth: which target produced a detection (or that it is a false
alarm) lives in a separate `DetectionLabels`, which only evaluation code receives. The simulation
hands trackers batches and metrics labels; no tracker API takes labels.

Measurement kinds and the layout of ``z`` (padded with NaN to `Z_MAX` columns; ``cov`` likewise
``(M, Z_MAX, Z_MAX)`` with the unused rows and columns NaN):

| kind | ``z`` columns | frame |
| --- | --- | --- |
| ``position`` | x_m, y_m, z_m | ECEF |
| ``radar`` | range_m, azimuth_rad, elevation_rad, range_rate_m_per_s | AER at the sensor (local ENU) |
| ``oth`` | ground_range_m, azimuth_rad, range_rate_m_per_s | great-circle range and azimuth from the sensor |
| ``los`` | ux, uy, uz | unit line-of-sight vector in ECEF, from the sensor to the target |

A ``los`` covariance is σ²(I − u uᵀ): rank 2, no information along the line of sight.

Imports NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["KIND_DIMS", "MEASUREMENT_KINDS", "Z_MAX", "DetectionBatch", "DetectionLabels"]

MEASUREMENT_KINDS: tuple[str, ...] = ("position", "radar", "oth", "los")
"""Measurement kinds; a detection's ``kind`` is an index into this tuple."""
KIND_DIMS: dict[str, int] = {"position": 3, "radar": 4, "oth": 3, "los": 3}
"""Number of used ``z`` columns per kind."""
Z_MAX = 4


@dataclass(frozen=True, eq=False)
class DetectionBatch:
    """M detections (see the module docstring for the layout). Rows are ordered by time.

    ``detection_id`` is unique within a run and joins a detection to its `DetectionLabels` row.
    """

    detection_id: NDArray[np.int64]
    time_s: NDArray[np.float64]
    sensor_id: NDArray[np.object_]
    kind: NDArray[np.int8]
    z: NDArray[np.float64]
    cov: NDArray[np.float64]
    sensor_pos_m: NDArray[np.float64]
    sensor_vel_m_per_s: NDArray[np.float64]

    def __post_init__(self) -> None:
        m = len(self.detection_id)
        shapes = {
            "time_s": (m,),
            "sensor_id": (m,),
            "kind": (m,),
            "z": (m, Z_MAX),
            "cov": (m, Z_MAX, Z_MAX),
            "sensor_pos_m": (m, 3),
            "sensor_vel_m_per_s": (m, 3),
        }
        for name, want in shapes.items():
            got = np.shape(getattr(self, name))
            if got != want:
                raise ValueError(f"DetectionBatch.{name} has shape {got}, expected {want} for {m} detections")

    def __len__(self) -> int:
        return len(self.detection_id)

    @staticmethod
    def empty() -> DetectionBatch:
        return DetectionBatch(
            detection_id=np.zeros(0, dtype=np.int64),
            time_s=np.zeros(0),
            sensor_id=np.zeros(0, dtype=object),
            kind=np.zeros(0, dtype=np.int8),
            z=np.zeros((0, Z_MAX)),
            cov=np.zeros((0, Z_MAX, Z_MAX)),
            sensor_pos_m=np.zeros((0, 3)),
            sensor_vel_m_per_s=np.zeros((0, 3)),
        )

    @staticmethod
    def concatenate(parts: Sequence[DetectionBatch]) -> DetectionBatch:
        """Join batches and order the rows by time (stable: ties keep their order)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return DetectionBatch.empty()
        joined = {
            name: np.concatenate([getattr(p, name) for p in parts])
            for name in DetectionBatch.__dataclass_fields__
        }
        order = np.argsort(joined["time_s"], kind="stable")
        return DetectionBatch(**{name: value[order] for name, value in joined.items()})


@dataclass(frozen=True, eq=False)
class DetectionLabels:
    """Truth of each detection, for metrics only: the target that produced it, or "" for a false alarm."""

    detection_id: NDArray[np.int64]
    target_id: NDArray[np.object_]

    @property
    def is_false_alarm(self) -> NDArray[np.bool_]:
        return self.target_id == ""

    @staticmethod
    def concatenate(parts: Sequence[DetectionLabels]) -> DetectionLabels:
        if not parts:
            return DetectionLabels(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))
        return DetectionLabels(
            np.concatenate([p.detection_id for p in parts]), np.concatenate([p.target_id for p in parts])
        )
