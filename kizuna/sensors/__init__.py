"""Sensors: radars, over-the-horizon radar and space infrared turn truth into detections.

Owns visibility, detection probability, measurement noise and false alarms, and the coverage
analysis. May import `kizuna.constants`, `kizuna.frames`, `kizuna.timebase`, `kizuna.orbits` and
the truth types (`kizuna.truth.samples`, `kizuna.truth.signatures`); never the tracker, nodes or
network. Detections leave as `DetectionBatch` (nothing that reveals the truth) with
`DetectionLabels` kept apart for metrics.
"""

from kizuna.sensors.base import Sensor
from kizuna.sensors.detections import (
    KIND_DIMS,
    MEASUREMENT_KINDS,
    Z_MAX,
    DetectionBatch,
    DetectionLabels,
)
from kizuna.sensors.oth import OthRadar
from kizuna.sensors.radar import SurfaceRadar

__all__ = [
    "KIND_DIMS",
    "MEASUREMENT_KINDS",
    "Z_MAX",
    "DetectionBatch",
    "DetectionLabels",
    "OthRadar",
    "Sensor",
    "SurfaceRadar",
]
