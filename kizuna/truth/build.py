"""Truth models from scenario entries: the one place where scenario tables become target models.

The scenario check calls `target_problem` for every target, so a target that cannot fly (a
cruise missile whose last leg is too short for its terminal run, a reversal no turn can fly...)
is reported with its key path before anything runs. Imports the scenario schema (the input
layer) and the truth models; nothing in `kizuna.truth` imports this module.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from kizuna.constants import DEG
from kizuna.scenario.schema import Aircraft, BallisticMissile, CruiseMissile, GlideVehicle, Target
from kizuna.truth.ballistic import fly_ballistic
from kizuna.truth.glide import Manoeuvre, fly_glide
from kizuna.truth.missiles import Missile
from kizuna.truth.waypoints import FlightPlan, with_cruise_terminal

__all__ = ["flight_plan", "missile", "target_problem"]


def flight_plan(target: Aircraft | CruiseMissile) -> FlightPlan:
    """The flight plan of a scenario's aircraft or cruise missile (terminal run included).

    Raises ValueError if a cruise missile's last leg is too short for its terminal run; the scenario
    check calls this first and reports it with the target's key path.
    """
    wp = target.waypoints
    lat = np.array([w.lat_deg for w in wp]) * DEG
    lon = np.array([w.lon_deg for w in wp]) * DEG
    alt = np.array([w.alt_m for w in wp], dtype=np.float64)
    speed = np.array([w.speed_m_per_s for w in wp], dtype=np.float64)
    terminal: int | None = None
    if isinstance(target, CruiseMissile) and target.terminal != "none":
        lat, lon, alt, speed, terminal = with_cruise_terminal(
            lat,
            lon,
            alt,
            speed,
            target.terminal,
            target.terminal_distance_m,
            target.skim_alt_m,
            target.pop_up_alt_m,
        )
    return FlightPlan(
        target_id=target.id,
        kind=target.kind,
        lat_rad=lat,
        lon_rad=lon,
        alt_m=alt,
        speed_m_per_s=speed,
        start_s=target.start_s,
        max_bank_rad=target.max_bank_deg * DEG,
        terminal_waypoint=terminal,
    )


@lru_cache(maxsize=1024)
def missile(target: BallisticMissile | GlideVehicle) -> Missile:
    """The flown missile of a scenario target (solved once per target and process, then cached).

    Raises ValueError when the missile cannot fly what is asked (aim out of its class's range, a
    loft it cannot meet, a glide that lands short or a manoeuvre that brings it down early).
    """
    if isinstance(target, BallisticMissile):
        return fly_ballistic(
            target.id,
            target.launch.lat_deg * DEG,
            target.launch.lon_deg * DEG,
            target.aim.lat_deg * DEG,
            target.aim.lon_deg * DEG,
            target.range_class,
            target.loft_deg * DEG,
            target.launch_s,
            launch_alt_m=target.launch.alt_m,
            aim_alt_m=target.aim.alt_m,
        )
    return fly_glide(
        target.id,
        target.launch.lat_deg * DEG,
        target.launch.lon_deg * DEG,
        target.aim.lat_deg * DEG,
        target.aim.lon_deg * DEG,
        launch_s=target.launch_s,
        launch_alt_m=target.launch.alt_m,
        aim_alt_m=target.aim.alt_m,
        glide_entry_alt_m=target.glide_entry_alt_m,
        glide_entry_speed_m_per_s=target.glide_entry_speed_m_per_s,
        manoeuvre=Manoeuvre(
            kind=target.manoeuvre.kind,
            period_s=target.manoeuvre.period_s,
            bank_rad=target.manoeuvre.bank_deg * DEG,
            cross_range_m=target.manoeuvre.cross_range_m,
        ),
    )


def target_problem(target: Target) -> str | None:
    """Why this scenario target cannot be turned into a truth model, or None if it can."""
    try:
        if isinstance(target, Aircraft | CruiseMissile):
            flight_plan(target)
        else:
            missile(target)
    except ValueError as exc:
        return str(exc)
    return None
