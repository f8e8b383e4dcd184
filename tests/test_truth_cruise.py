"""Cruise missiles' terminal runs: sea-skimming and pop-up, and the scenario check of both."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from kizuna.constants import DEG, MEAN_EARTH_RADIUS_M
from kizuna.frames import ecef_to_geodetic
from kizuna.scenario import ScenarioError, parse_scenario
from kizuna.truth import FlightPlan, sample_plans, with_cruise_terminal
from kizuna.truth.signatures import PHASES

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "indo-pacific.toml"

# A 300 km eastward run along the equator at 30 m and 250 m/s: distances are plain R·Δλ.
LAT = np.array([0.0, 0.0])
LON = np.array([0.0, 300e3 / MEAN_EARTH_RADIUS_M])
ALT = np.array([30.0, 30.0])
SPEED = np.array([250.0, 250.0])


def flown(mode: str, distance_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, FlightPlan]:
    lat, lon, alt, speed, terminal = with_cruise_terminal(LAT, LON, ALT, SPEED, mode, distance_m)
    plan = FlightPlan("cm", "cruise_missile", lat, lon, alt, speed, 0.0, 45 * DEG, terminal_waypoint=terminal)
    t = np.arange(0.0, plan.end_s, 0.5)
    samples = sample_plans([plan], t)
    _, lon_s, alt_s = ecef_to_geodetic(samples.pos_m[0])
    to_go_m = (LON[1] - lon_s) * MEAN_EARTH_RADIUS_M
    return to_go_m, alt_s, samples.phase[0], plan


def test_sea_skim_holds_skim_height_over_the_last_stretch() -> None:
    to_go, alt, phase, _ = flown("sea_skim", 20e3)
    final = to_go < 19.5e3  # the last 20 km, minus a sample's travel
    np.testing.assert_allclose(alt[final], 5.0, atol=0.01)
    # The 2° descent from 30 m to 5 m takes (30 - 5)/tan 2° = 716 m before the skim point.
    descending = (to_go > 20.05e3) & (to_go < 20.7e3)
    assert np.all((alt[descending] > 5.0) & (alt[descending] < 30.0))
    assert np.all(phase[to_go > 21e3] == PHASES.index("cruise"))
    assert np.all(phase[to_go < 20.6e3] == PHASES.index("terminal"))


def test_pop_up_climbs_then_dives_to_the_surface() -> None:
    to_go, alt, phase, plan = flown("pop_up", 12e3)
    apex = np.argmax(alt)
    assert alt[apex] == pytest.approx(1500.0, abs=5.0)
    assert to_go[apex] == pytest.approx(6e3, abs=300.0)
    diving = to_go < 5.8e3  # straight dive from the apex 6 km out to 0 m at the last waypoint
    np.testing.assert_allclose(alt[diving], 1500.0 * to_go[diving] / 6e3, atol=2.0)
    assert np.all(phase[to_go < 11.8e3] == PHASES.index("terminal"))
    assert plan.alt_m[-1] == 0.0


def test_too_short_a_last_leg_is_a_scenario_error() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["targets"][4]["terminal"] = "sea_skim"
    data["targets"][4]["terminal_distance_m"] = 500e3  # red-cm-1's last leg is ~190 km
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source="t.toml")
    [problem] = info.value.problems
    assert problem.path == "targets[4]"
    assert "red-cm-1" in problem.message and "too short" in problem.message
