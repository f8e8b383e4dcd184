"""Constellations from scenario entries: the one place where `[[constellations]]` become satellites."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kizuna.constants import DEG
from kizuna.orbits.constellation import Constellation
from kizuna.scenario.schema import Constellation as ConstellationSpec
from kizuna.scenario.schema import WalkerConstellation
from kizuna.timebase import Epoch

__all__ = ["constellation_from_scenario"]


def constellation_from_scenario(
    spec: ConstellationSpec, epoch: Epoch, resolve: Callable[[str], Path]
) -> Constellation:
    """A Walker or TLE constellation of a validated scenario; `resolve` turns a file name into a path."""
    if isinstance(spec, WalkerConstellation):
        return Constellation.from_walker(
            spec.id,
            total=spec.total,
            planes=spec.planes,
            phasing=spec.phasing,
            altitude_m=spec.altitude_km * 1e3,
            inclination_rad=spec.inclination_deg * DEG,
            epoch=epoch,
            raan0_rad=spec.raan0_deg * DEG,
        )
    return Constellation.from_tle_file(spec.id, resolve(spec.file))
