"""The sensor interface every sensor model implements.

A sensor looks at the world at its own times (a radar's scans, an infrared satellite's frames)
and returns detections. The simulation asks each sensor for its look times in a window, samples
the truth at those times, and hands it over; the sensor returns a `DetectionBatch` (what a node
receives) and `DetectionLabels` (for metrics only).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from kizuna.sensors.detections import DetectionBatch, DetectionLabels
from kizuna.truth.samples import TruthSamples

__all__ = ["Sensor"]


class Sensor(Protocol):
    """A sensor model: identity, when it looks, and what it detects when it looks."""

    sensor_id: str
    nation: str

    def look_times(self, t0_s: float, t1_s: float) -> NDArray[np.float64]:
        """The times in ``[t0_s, t1_s)`` at which the sensor looks (seconds since the epoch)."""
        ...

    def observe(
        self, truth: TruthSamples, first_id: int, rng: np.random.Generator
    ) -> tuple[DetectionBatch, DetectionLabels]:
        """Detections at each of ``truth.t_s`` (the look times), numbered from ``first_id`` upwards.

        Every target in ``truth`` is a candidate (inactive samples are NaN and never detected);
        false alarms are drawn from ``rng``, the sensor's own seeded stream.
        """
        ...
