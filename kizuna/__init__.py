"""Kizuna: a coalition air and missile surveillance picture.

The public API is what `__all__` lists; everything else is internal and may change.
"""

from __future__ import annotations

__version__ = "0.1.0"

from kizuna.frames import (
    aer_to_ecef,
    ecef_to_aer,
    ecef_to_enu,
    ecef_to_geodetic,
    enu_to_ecef,
    geodetic_to_ecef,
    teme_to_ecef,
)
from kizuna.scenario import LoadedScenario, Scenario, ScenarioError, load_scenario
from kizuna.timebase import Epoch

__all__ = [
    "Epoch",
    "LoadedScenario",
    "Scenario",
    "ScenarioError",
    "__version__",
    "aer_to_ecef",
    "ecef_to_aer",
    "ecef_to_enu",
    "ecef_to_geodetic",
    "enu_to_ecef",
    "geodetic_to_ecef",
    "load_scenario",
    "teme_to_ecef",
]
