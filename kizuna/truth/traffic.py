"""Civil air traffic: airliners flying airways between airports, as `FlightPlan` batches.

Model (simple and plausible, for a sky that is not empty; not an air-traffic simulator):

* **Routes.** Each flight picks a route (a pair of airport codes, an airway flown as one great
  circle) uniformly, and a direction with probability 1/2 each.
* **Profile.** Four waypoints: departure airport (0 m, 80 m/s), top of climb, top of descent,
  arrival airport (0 m, 70 m/s). The cruise height is drawn uniformly in `CRUISE_ALT_BAND_M`
  (9–12 km, about FL300–FL390) and the cruise speed in `CRUISE_SPEED_BAND_M_PER_S` (220–250 m/s,
  about 430–490 kt, a jet's true airspeed; no wind, so ground speed = airspeed). The climb is a
  constant 2.5° gradient, the descent the usual 3° ("three-to-one rule": 3 NM per 1,000 ft,
  FAA-H-8083-15 *Instrument Flying Handbook*, ch. 10). On a route too short for both at that height
  the cruise is lowered so that climb and descent take 80 % of the route (below 9 km on routes
  shorter than about 470 km).
* **Lateral offsets.** Top of climb and top of descent lie 0–2 NM right of the route centre line,
  drawn uniformly, after ICAO's strategic lateral offset procedure (SLOP, Doc 4444 PANS-ATM §16.5),
  so aircraft on one airway do not overlap exactly and opposite directions pass apart.
* **Timing.** Departures are uniform over [-D, duration_s), D the flight's duration, so about
  count·D/(D + duration_s) flights are already en route at t = 0 and the number airborne is steady.
* Heights are WGS-84 ellipsoidal heights (airports at 0 m); bank limit 25° (airliner autopilots).
  Ids are ``civil-0001``, ``civil-0002``, ... in order of departure.

Deterministic: the same arguments and the same `numpy.random.Generator` state give the same plans.
May import `kizuna.constants` and `kizuna.frames` (and its own package) only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from kizuna.constants import DEG, MEAN_EARTH_RADIUS_M, NMI
from kizuna.frames import unit_vector
from kizuna.truth.waypoints import FlightPlan, _lat_lon

__all__ = [
    "CRUISE_ALT_BAND_M",
    "CRUISE_SPEED_BAND_M_PER_S",
    "Airport",
    "generate_civil_traffic",
]

CRUISE_ALT_BAND_M = (9_000.0, 12_000.0)
CRUISE_SPEED_BAND_M_PER_S = (220.0, 250.0)
DEPARTURE_SPEED_M_PER_S = 80.0
ARRIVAL_SPEED_M_PER_S = 70.0
CLIMB_GRADIENT_RAD = 2.5 * DEG
DESCENT_GRADIENT_RAD = 3.0 * DEG
MAX_LATERAL_OFFSET_M = 2.0 * NMI
CIVIL_MAX_BANK_RAD = 25.0 * DEG
MIN_ROUTE_M = 20_000.0
"""Shortest accepted route; anything shorter is not an airway."""


class Airport(NamedTuple):
    """An airport: ICAO/IATA code and reference point (geodetic latitude, longitude [rad])."""

    code: str
    lat_rad: float
    lon_rad: float


def generate_civil_traffic(
    airports: Sequence[tuple[str, float, float]],
    routes: Sequence[tuple[str, str]],
    count: int,
    duration_s: float,
    rng: np.random.Generator,
) -> list[FlightPlan]:
    """``count`` airliner flight plans over ``routes`` between ``airports`` (model: module docstring).

    ``airports`` are ``(code, lat_rad, lon_rad)`` (e.g. `Airport`), ``routes`` pairs of their codes.
    The plans cover the scenario window [0, ``duration_s``]: some are en route at t = 0.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"generate_civil_traffic needs a numpy.random.Generator for reproducible traffic; got "
            f"{type(rng).__name__}. Pass numpy.random.default_rng(seed)."
        )
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
        raise ValueError(f"generate_civil_traffic: count must be an integer >= 0; got {count!r}.")
    if not math.isfinite(duration_s) or duration_s <= 0.0:
        raise ValueError(f"generate_civil_traffic: duration_s must be > 0 seconds; got {duration_s!r}.")
    where = {}
    for code, lat_rad, lon_rad in airports:
        if code in where:
            raise ValueError(f"generate_civil_traffic: airport code {code!r} appears twice in airports.")
        if not abs(lat_rad) <= math.pi / 2 or not math.isfinite(lon_rad):
            raise ValueError(
                f"generate_civil_traffic: airport {code!r} has lat_rad={lat_rad!r}, lon_rad={lon_rad!r}; "
                "expected radians with |lat| <= π/2 (degrees? multiply by kizuna.constants.DEG)."
            )
        where[code] = (lat_rad, lon_rad)
    if count and not routes:
        raise ValueError("generate_civil_traffic: routes is empty; give at least one (code, code) pair.")
    ends = np.empty((len(routes), 2, 3))
    for i, (dep, arr) in enumerate(routes):
        for j, code in enumerate((dep, arr)):
            if code not in where:
                raise ValueError(
                    f"generate_civil_traffic: route {i} ({dep!r}, {arr!r}) names airport {code!r}, which is "
                    f"not in airports (known: {sorted(where)})."
                )
            ends[i, j] = unit_vector(*where[code])
    route_m = MEAN_EARTH_RADIUS_M * np.arctan2(
        np.linalg.norm(np.cross(ends[:, 0], ends[:, 1]), axis=-1),
        np.einsum("ij,ij->i", ends[:, 0], ends[:, 1]),
    )
    for i in np.flatnonzero(route_m < MIN_ROUTE_M):
        raise ValueError(
            f"generate_civil_traffic: route {i} {tuple(routes[i])} is {route_m[i] / 1e3:.3g} km long; "
            f"routes must join airports at least {MIN_ROUTE_M / 1e3:g} km apart."
        )

    # Every random draw, in a fixed order: route, direction, cruise height, cruise speed, offset, departure.
    route = rng.integers(0, len(routes), size=count)
    reverse = rng.random(count) < 0.5
    alt_m = rng.uniform(*CRUISE_ALT_BAND_M, size=count)
    speed = rng.uniform(*CRUISE_SPEED_BAND_M_PER_S, size=count)
    offset_m = rng.uniform(0.0, MAX_LATERAL_OFFSET_M, size=count)
    departure_fraction = rng.random(count)

    dist_m = route_m[route]
    run_per_m = 1.0 / math.tan(CLIMB_GRADIENT_RAD) + 1.0 / math.tan(DESCENT_GRADIENT_RAD)
    alt_m = np.minimum(alt_m, 0.8 * dist_m / run_per_m)  # short routes fly lower
    climb_m = alt_m / math.tan(CLIMB_GRADIENT_RAD)
    descent_m = alt_m / math.tan(DESCENT_GRADIENT_RAD)

    dep = np.where(reverse[:, None], ends[route, 1], ends[route, 0])
    arr = np.where(reverse[:, None], ends[route, 0], ends[route, 1])
    pole = np.cross(dep, arr)
    pole /= np.linalg.norm(pole, axis=-1, keepdims=True)  # left of the direction of flight
    along = np.cross(pole, dep)  # direction of flight at the departure airport
    right = -offset_m[:, None] / MEAN_EARTH_RADIUS_M
    points = [dep]
    for s_m in (climb_m, dist_m - descent_m):
        ang = (s_m / MEAN_EARTH_RADIUS_M)[:, None]
        on_route = dep * np.cos(ang) + along * np.sin(ang)
        points.append(on_route * np.cos(right) + pole * np.sin(right))
    points.append(arr)
    lat_rad, lon_rad = _lat_lon(np.stack(points, axis=1))  # (count, 4)
    zeros = np.zeros(count)
    alts = np.stack([zeros, alt_m, alt_m, zeros], axis=1)
    speeds = np.stack([zeros + DEPARTURE_SPEED_M_PER_S, speed, speed, zeros + ARRIVAL_SPEED_M_PER_S], axis=1)

    # Duration from the profile (the 2 NM offsets change it by well under a second).
    flight_s = (
        2.0 * climb_m / (DEPARTURE_SPEED_M_PER_S + speed)
        + (dist_m - climb_m - descent_m) / speed
        + 2.0 * descent_m / (speed + ARRIVAL_SPEED_M_PER_S)
    )
    start_s = -flight_s + departure_fraction * (flight_s + duration_s)
    width = max(4, len(str(count)))
    return [
        FlightPlan(
            target_id=f"civil-{n + 1:0{width}d}",
            kind="civil_aircraft",
            lat_rad=lat_rad[i],
            lon_rad=lon_rad[i],
            alt_m=alts[i],
            speed_m_per_s=speeds[i],
            start_s=float(start_s[i]),
            max_bank_rad=CIVIL_MAX_BANK_RAD,
        )
        for n, i in enumerate(np.argsort(start_s, kind="stable"))
    ]
