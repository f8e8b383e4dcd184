"""Track categories from kinematics: orbits are space, suborbital fast or high objects missiles."""

from __future__ import annotations

import numpy as np
import pytest

from kizuna import frames
from kizuna.constants import DEG, WGS84_A_M, WGS84_GM_M3_PER_S2, WGS84_OMEGA_RAD_PER_S
from kizuna.fusion.category import AIR, MISSILE, SPACE, classify


def state(lat_deg: float, lon_deg: float, alt_m: float, v_enu: tuple[float, float, float]) -> np.ndarray:
    lat, lon = lat_deg * DEG, lon_deg * DEG
    pos = np.asarray(frames.geodetic_to_ecef(lat, lon, alt_m)).reshape(3)
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
    up = np.cross(east, north)
    vel = v_enu[0] * east + v_enu[1] * north + v_enu[2] * up
    return np.concatenate([pos, vel])


def circular_orbit_ecef(alt_m: float, incl_deg: float) -> np.ndarray:
    """A circular orbit's state at the ascending node, inertial speed √(GM/r), as ECEF (v − ω × r)."""
    r = WGS84_A_M + alt_m
    pos = np.array([r, 0.0, 0.0])
    v = np.sqrt(WGS84_GM_M3_PER_S2 / r)
    i = incl_deg * DEG
    v_inertial = v * np.array([0.0, np.cos(i), np.sin(i)])
    return np.concatenate([pos, v_inertial - np.cross([0.0, 0.0, WGS84_OMEGA_RAD_PER_S], pos)])


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (state(35.0, 139.0, 11_000.0, (230.0, 80.0, 0.0)), AIR),  # airliner
        (state(35.0, 139.0, 15_000.0, (600.0, 0.0, 0.0)), AIR),  # fighter at Mach 2
        (state(35.0, 139.0, 40_000.0, (2_000.0, 0.0, -50.0)), MISSILE),  # glide vehicle
        (state(30.0, 130.0, 300_000.0, (2_500.0, 1_000.0, 500.0)), MISSILE),  # ballistic midcourse
        (state(30.0, 130.0, 20_000.0, (1_500.0, 0.0, 800.0)), MISSILE),  # booster
        (circular_orbit_ecef(550_000.0, 53.0), SPACE),  # LEO satellite
        (circular_orbit_ecef(20_200_000.0, 55.0), SPACE),  # GNSS
    ],
)
def test_categories_of_known_states(x: np.ndarray, expected: int) -> None:
    assert classify(x[None])[0] == expected


def test_an_orbit_whose_perigee_is_in_the_atmosphere_is_not_space() -> None:
    # 300 km up but only 90 % of circular speed: the perigee is far below 100 km — a missile.
    x = circular_orbit_ecef(300_000.0, 0.0)
    omega_r = np.cross([0.0, 0.0, WGS84_OMEGA_RAD_PER_S], x[:3])
    x[3:] = 0.9 * (x[3:] + omega_r) - omega_r
    assert classify(x[None])[0] == MISSILE


def test_batches_and_empty() -> None:
    xs = np.stack([state(0.0, 0.0, 10_000.0, (200.0, 0.0, 0.0)), circular_orbit_ecef(800_000.0, 98.0)])
    np.testing.assert_array_equal(classify(xs), [AIR, SPACE])
    assert classify(np.zeros((0, 6))).shape == (0,)
