"""Sensor models from scenario entries: the one place where `[[sensors]]` tables become sensors."""

from __future__ import annotations

from collections.abc import Mapping

from kizuna.orbits import Constellation
from kizuna.scenario.schema import OthRadar as OthSpec
from kizuna.scenario.schema import Radar, Scenario, ShipRadar, SpaceInfrared
from kizuna.sensors.base import Sensor
from kizuna.sensors.oth import OthRadar
from kizuna.sensors.radar import SurfaceRadar
from kizuna.sensors.space_ir import SpaceInfraredLayer
from kizuna.timebase import Epoch

__all__ = ["sensors_from_scenario"]


def sensors_from_scenario(
    scenario: Scenario, constellations: Mapping[str, Constellation], epoch: Epoch
) -> list[Sensor]:
    """Every sensor of a validated scenario, in the scenario's order."""
    sensors: list[Sensor] = []
    for spec in scenario.sensors:
        if isinstance(spec, Radar):
            sensors.append(SurfaceRadar.from_scenario(spec))
        elif isinstance(spec, ShipRadar):
            sensors.append(SurfaceRadar.from_ship(spec))
        elif isinstance(spec, OthSpec):
            sensors.append(OthRadar.from_scenario(spec))
        elif isinstance(spec, SpaceInfrared):
            sensors.append(SpaceInfraredLayer(spec, constellations[spec.constellation], epoch))
    return sensors
