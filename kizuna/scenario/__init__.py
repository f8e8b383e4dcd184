"""Scenario files: the typed schema, loading with precise multi-error messages, and the reference doc.

May import `kizuna.timebase` and (to check TLE files) `kizuna.orbits`; nothing further down the
data flow. Example scenarios live in examples/.
"""

from kizuna.scenario.loader import LoadedScenario, Problem, ScenarioError, load_scenario, parse_scenario
from kizuna.scenario.schema import Scenario

__all__ = ["LoadedScenario", "Problem", "Scenario", "ScenarioError", "load_scenario", "parse_scenario"]
