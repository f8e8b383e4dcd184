"""Flight plans (`kizuna.truth.waypoints`): geometry, turns, schedules, velocity, validation.

Reference values come from closed forms written out here independently of the module (haversine,
the spherical direct problem, the coordinated-turn radius, the fly-by distance, textbook radii of
curvature), from pymap3d's Vincenty geodesic, and from finite differences of the sampled positions.

Tolerances follow the model's stated error budget: on the reference sphere distances and times are
exact to rounding (mm, µs); mapped onto WGS-84 the horizontal scale differs from the sphere's by at
most -0.56 % … +0.64 % below 12 km, so ECEF speeds and distances are compared to 0.7 %. The bank
limit itself (lateral acceleration ≤ g tan φ) is checked to 1e-4: the model enlarges turns for the map.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pymap3d.vincenty import vdist, vreckon

from kizuna.constants import MEAN_EARTH_RADIUS_M, STANDARD_GRAVITY_M_PER_S2, WGS84_A_M, WGS84_E2
from kizuna.frames import ecef_to_geodetic, ecef_vector_to_enu, geodetic_to_ecef
from kizuna.truth import FlightPlan, TruthSamples, sample_plans

R_M = MEAN_EARTH_RADIUS_M
MAP_SCALE_TOL = 0.007
"""Largest stretch of horizontal lengths, speeds and turn rates from the sphere to WGS-84 below 12 km
(documented in kizuna.truth.waypoints: (M + h)/R and (N + h)/R lie in 0.9944 … 1.0064)."""


# --- independent references --------------------------------------------------------------------


def haversine_m(lat1_rad, lon1_rad, lat2_rad, lon2_rad):
    """Great-circle distance on the sphere of radius R (R. W. Sinnott, Sky & Telescope 68(2), 1984)."""
    a = (
        np.sin((lat2_rad - lat1_rad) / 2) ** 2
        + np.cos(lat1_rad) * np.cos(lat2_rad) * np.sin((lon2_rad - lon1_rad) / 2) ** 2
    )
    return 2.0 * R_M * np.arcsin(np.sqrt(a))


def destination_deg(lat_deg, lon_deg, azimuth_deg, dist_m):
    """Spherical direct problem (E. Williams, Aviation Formulary, "Lat/lon given radial and distance")."""
    lat, lon, az, d = math.radians(lat_deg), math.radians(lon_deg), math.radians(azimuth_deg), dist_m / R_M
    lat2 = math.asin(math.sin(lat) * math.cos(d) + math.cos(lat) * math.sin(d) * math.cos(az))
    lon2 = lon + math.atan2(
        math.sin(az) * math.sin(d) * math.cos(lat), math.cos(d) - math.sin(lat) * math.sin(lat2)
    )
    return math.degrees(lat2), math.degrees(lon2)


def unit(lat_rad, lon_rad):
    return np.stack(
        [np.cos(lat_rad) * np.cos(lon_rad), np.cos(lat_rad) * np.sin(lon_rad), np.sin(lat_rad)], axis=-1
    )


def turn_radius_m(speed_m_per_s, bank_rad):
    """Coordinated level turn, FAA-H-8083-25 ch. 5: r = v² / (g tan φ)."""
    return speed_m_per_s**2 / (STANDARD_GRAVITY_M_PER_S2 * math.tan(bank_rad))


def enu_velocity(samples: TruthSamples, i: int = 0):
    lat, lon, _ = ecef_to_geodetic(samples.pos_m[i])
    return ecef_vector_to_enu(samples.vel_m_per_s[i], lat, lon)


def right_angle_plan(lat_w_deg, az_in_deg, az_out_deg, leg_m=100e3, speed=250.0, bank_deg=25.0):
    """Three waypoints: arrive at W on azimuth az_in, leave on az_out, legs of leg_m on the sphere."""
    lat0, lon0 = destination_deg(lat_w_deg, 139.0, az_in_deg + 180.0, leg_m)
    lat2, lon2 = destination_deg(lat_w_deg, 139.0, az_out_deg, leg_m)
    return FlightPlan.from_deg(
        "turn",
        "aircraft",
        [lat0, lat_w_deg, lat2],
        [lon0, 139.0, lon2],
        [9000.0] * 3,
        [speed] * 3,
        100.0,
        bank_deg,
    )


# --- great-circle legs ---------------------------------------------------------------------------


def test_leg_follows_great_circle_at_scheduled_speed():
    plan = FlightPlan.from_deg(
        "leg", "cruise_missile", [10.0, 25.0], [20.0, 35.0], [9000.0] * 2, [230.0] * 2, 50.0, 30
    )
    t = np.linspace(plan.start_s, plan.end_s, 2001)
    s = sample_plans([plan], t)
    assert s.active.all()
    lat, lon, alt = ecef_to_geodetic(s.pos_m[0])
    # On the great circle: cross-track R·asin(u·pole) ~ 0 (1 mm: rounding of the frame round trip).
    u0, u1 = unit(plan.lat_rad[0], plan.lon_rad[0]), unit(plan.lat_rad[1], plan.lon_rad[1])
    pole = np.cross(u0, u1) / np.linalg.norm(np.cross(u0, u1))
    assert np.max(np.abs(R_M * np.arcsin(unit(lat, lon) @ pole))) < 1e-3
    # Ground distance covered = speed × time on the sphere (haversine), to 1 cm; height held to 1 µm.
    covered = haversine_m(plan.lat_rad[0], plan.lon_rad[0], lat, lon)
    np.testing.assert_allclose(covered, 230.0 * (t - plan.start_s), atol=1e-2)
    np.testing.assert_allclose(alt, 9000.0, atol=1e-6)
    # Arrival = distance / speed (1 µs), and the flight ends there.
    leg_m = haversine_m(*plan.lat_rad[:1], *plan.lon_rad[:1], *plan.lat_rad[1:], *plan.lon_rad[1:])
    assert plan.end_s - plan.start_s == pytest.approx(leg_m / 230.0, abs=1e-6)
    assert plan.path_length_m == pytest.approx(leg_m, abs=1e-3)
    # Against the WGS-84 geodesic (Vincenty via pymap3d): the sphere's length is within the map scale.
    geodesic_m, _ = vdist(10.0, 20.0, 25.0, 35.0)
    assert abs(plan.path_length_m / float(geodesic_m) - 1.0) < MAP_SCALE_TOL


@pytest.mark.parametrize(("lat_deg", "az_deg"), [(40.0, 0.0), (20.0, 45.0), (60.0, 135.0), (0.0, 90.0)])
def test_two_thousand_km_leg_stays_near_the_wgs84_geodesic(lat_deg, az_deg):
    """Documented: a 2,000 km leg's midpoint lies within 1 km of the true geodesic's (found ≤ 0.8 km)."""
    lat2, lon2 = (float(x) for x in vreckon(lat_deg, 10.0, 2_000_000.0, az_deg))
    plan = FlightPlan.from_deg(
        "long", "aircraft", [lat_deg, lat2], [10.0, lon2], [0.0] * 2, [200.0] * 2, 0.0, 25
    )
    mid = sample_plans([plan], [plan.end_s / 2]).pos_m[0, 0]
    dist_m, az_geodesic = vdist(lat_deg, 10.0, lat2, lon2)
    lat_g, lon_g = (
        math.radians(float(x)) for x in vreckon(lat_deg, 10.0, float(dist_m) / 2, float(az_geodesic))
    )
    assert np.linalg.norm(mid - geodetic_to_ecef(lat_g, lon_g, 0.0)) < 1_000.0


# --- turns ---------------------------------------------------------------------------------------


def meridian_and_prime_vertical_m(lat_rad):
    """WGS-84 radii of curvature M and N (e.g. Torge & Müller, *Geodesy*, 4th ed., §4.1.2)."""
    w = 1.0 - WGS84_E2 * np.sin(lat_rad) ** 2
    return WGS84_A_M * (1 - WGS84_E2) / w**1.5, WGS84_A_M / np.sqrt(w)


def lateral_acceleration(plan, t, h=0.5):
    """Horizontal speed and signed lateral acceleration from positions alone: central first and second
    differences (h = 0.5 s: truncation ~ h²·v·ω³/6 ≈ 1e-4 of the acceleration in a 25° turn)."""
    pos = sample_plans([plan], np.concatenate([t - h, t, t + h])).pos_m[0].reshape(3, -1, 3)
    lat, lon, _ = ecef_to_geodetic(pos[1])
    vel = ecef_vector_to_enu((pos[2] - pos[0]) / (2 * h), lat, lon)
    acc = ecef_vector_to_enu((pos[2] - 2 * pos[1] + pos[0]) / h**2, lat, lon)
    speed = np.hypot(vel[:, 0], vel[:, 1])
    return speed, (vel[:, 0] * acc[:, 1] - vel[:, 1] * acc[:, 0]) / speed


@pytest.mark.parametrize(
    ("lat_deg", "az_in", "az_out"),
    [(35.0, 90.0, 0.0), (35.0, 0.0, 90.0), (-20.0, 200.0, 110.0), (0.0, 0.0, 270.0), (60.0, 45.0, 315.0)],
)
def test_right_angle_fly_by_turn(lat_deg, az_in, az_out):
    v, bank = 250.0, math.radians(25.0)
    g_tan = STANDARD_GRAVITY_M_PER_S2 * math.tan(bank)
    plan = right_angle_plan(lat_deg, az_in, az_out, speed=v, bank_deg=25.0)
    radius = turn_radius_m(v, bank)  # 13.67 km at the scheduled speed

    # Heading continuous over the whole flight: per 0.05 s step at most the bank-limited turn rate
    # g tan φ / v (+1 % for the map's stretch and the meridians' convergence, 0.07 % here).
    dt = 0.05
    s = sample_plans([plan], np.arange(plan.start_s, plan.end_s, dt))
    enu = enu_velocity(s)
    heading = np.unwrap(np.arctan2(enu[:, 0], enu[:, 1]))
    assert np.max(np.abs(np.diff(heading))) <= g_tan / np.hypot(enu[:, 0], enu[:, 1]).min() * dt * 1.01
    assert abs(abs(heading[-1] - heading[0]) - math.pi / 2) < math.radians(1.0)  # 90° (+ convergence)

    # In the turn (middle 90 %): lateral acceleration = g tan φ, so the measured radius of curvature
    # v²/a_lat is v²/(g tan φ) at the actual speed: never tighter (1e-4, differencing), and at most the
    # map's anisotropy (N + h)/(M + h) - 1 < 0.7 % wider. Its sign says left (+) or right (-).
    t = plan.waypoint_times_s[1] + np.linspace(-0.45, 0.45, 201) * radius * (math.pi / 2) / v
    speed, a_lat = lateral_acceleration(plan, t)
    turn_sign = 1.0 if (az_out - az_in) % 360.0 > 180.0 else -1.0
    assert np.all(np.sign(a_lat) == turn_sign)
    ratio = (speed**2 / np.abs(a_lat)) / (speed**2 / g_tan)
    assert ratio.min() >= 1.0 - 1e-4 and ratio.max() <= 1.0 + MAP_SCALE_TOL
    assert ratio.min() <= 1.0 + 1e-3  # the limit is reached, not just respected

    # Closest approach to the waypoint: r (1/cos(Δψ/2) - 1) = 5.66 km in the plane for r = 13.67 km.
    # On WGS-84 r is enlarged by sx = (N + h)/R and the distance stretched by a factor in [sy, sx],
    # sy = (M + h)/R: the bounds below (1 m for sampling and the sphere's r³/R² correction).
    lat_w, lon_w = plan.lat_rad[1], plan.lon_rad[1]
    pos_enu = ecef_vector_to_enu(s.pos_m[0] - geodetic_to_ecef(lat_w, lon_w, 9000.0), lat_w, lon_w)
    miss = np.hypot(pos_enu[:, 0], pos_enu[:, 1])
    m, n = meridian_and_prime_vertical_m(lat_w)
    sx, sy = (n + 9000.0) / R_M, (m + 9000.0) / R_M
    flyby = radius * (1 / math.cos(math.pi / 4) - 1)
    assert flyby * sx * sy - 1.0 <= miss.min() <= flyby * sx * sx + 1.0
    # ... and the plan's passage time for the waypoint is that closest approach (to 1 m of distance).
    assert miss[np.argmin(np.abs(s.t_s - plan.waypoint_times_s[1]))] == pytest.approx(miss.min(), abs=1.0)


def test_turn_too_big_for_short_legs_shrinks_without_a_jump():
    """Legs of 2 km cannot hold a 13.7 km-radius turn: it shrinks to fit half a leg (r = 1 km)."""
    plan = right_angle_plan(35.0, 90.0, 0.0, leg_m=2_000.0)
    dt = 0.01
    s = sample_plans([plan], np.arange(plan.start_s, plan.end_s, dt))
    assert np.isfinite(s.pos_m).all() and np.isfinite(s.vel_m_per_s).all()
    step = np.linalg.norm(np.diff(s.pos_m[0], axis=0), axis=1)
    assert step.max() <= 250.0 * dt * (1 + MAP_SCALE_TOL)
    enu = enu_velocity(s)
    heading = np.unwrap(np.arctan2(enu[:, 0], enu[:, 1]))
    assert np.max(np.abs(np.diff(heading))) <= 250.0 / 1000.0 * dt * (1 + 2 * MAP_SCALE_TOL)  # v / r_shrunk
    lat_w, lon_w = plan.lat_rad[1], plan.lon_rad[1]
    pos_enu = ecef_vector_to_enu(s.pos_m[0] - geodetic_to_ecef(lat_w, lon_w, 9000.0), lat_w, lon_w)
    flyby = np.min(np.hypot(pos_enu[:, 0], pos_enu[:, 1]))
    assert flyby == pytest.approx(1000.0 * (math.sqrt(2) - 1), rel=MAP_SCALE_TOL)


# --- schedules, velocity, activity ------------------------------------------------------------------


def test_speed_and_altitude_schedules():
    """Straight plan 150 → 250 → 200 m/s, 1,000 → 9,000 → 5,000 m: v² and h linear in distance."""
    lat0, lon0 = 30.0, 120.0
    mid = destination_deg(lat0, lon0, 60.0, 150e3)
    end = destination_deg(lat0, lon0, 60.0, 250e3)
    speeds, alts = np.array([150.0, 250.0, 200.0]), np.array([1000.0, 9000.0, 5000.0])
    plan = FlightPlan.from_deg(
        "sched", "aircraft", [lat0, mid[0], end[0]], [lon0, mid[1], end[1]], alts, speeds, 0, 25
    )
    # Arrival: each interval at constant acceleration takes 2 L / (v_a + v_b).
    assert plan.end_s == pytest.approx(2 * 150e3 / 400.0 + 2 * 100e3 / 450.0, abs=1e-6)
    t = np.linspace(0.0, plan.end_s, 1001)
    s = sample_plans([plan], t)
    lat, lon, alt = ecef_to_geodetic(s.pos_m[0])
    dist = haversine_m(math.radians(lat0), math.radians(lon0), lat, lon)
    first = dist < 150e3
    frac = np.where(first, dist / 150e3, (dist - 150e3) / 100e3)
    lo, hi = np.where(first, 0, 1), np.where(first, 1, 2)
    v_sched = np.sqrt(speeds[lo] ** 2 + frac * (speeds[hi] ** 2 - speeds[lo] ** 2))
    h_sched = alts[lo] + frac * (alts[hi] - alts[lo])
    np.testing.assert_allclose(alt, h_sched, atol=1e-3)  # 1 mm
    enu = enu_velocity(s)
    # Vertical rate = climb gradient × horizontal speed (1 mm/s).
    gradient = (alts[hi] - alts[lo]) / np.where(first, 150e3, 100e3)
    np.testing.assert_allclose(enu[:, 2], gradient * v_sched, atol=1e-3)
    # The horizontal speed is the schedule on the sphere: undoing the map's stretch, (N + h) eastward
    # and (M + h) northward per radian, gives it back exactly (1e-9 relative) ...
    m, n = meridian_and_prime_vertical_m(lat)
    on_sphere = R_M * np.hypot(enu[:, 0] / (n + alt), enu[:, 1] / (m + alt))
    np.testing.assert_allclose(on_sphere, v_sched, rtol=1e-9)
    # ... so the ECEF horizontal speed is the schedule within the documented 0.7 %.
    horizontal = np.hypot(enu[:, 0], enu[:, 1])
    np.testing.assert_allclose(horizontal, v_sched, rtol=MAP_SCALE_TOL)
    np.testing.assert_allclose(plan.waypoint_times_s, [0.0, 2 * 150e3 / 400.0, plan.end_s], atol=1e-6)


def test_velocity_is_the_derivative_of_position():
    """Central differences, h = 1 ms: truncation ≤ Δaccel·h/4 ≈ 2 mm/s at piece joints; tolerance 5 mm/s."""
    plan = FlightPlan.from_deg(
        "fd",
        "aircraft",
        [35.0, 35.3, 35.0, 34.6, 34.9],
        [139.0, 139.5, 140.0, 139.7, 139.2],
        [500.0, 6000.0, 10000.0, 10000.0, 3000.0],
        [120.0, 200.0, 240.0, 230.0, 150.0],
        -300.0,
        30.0,
    )
    t = np.linspace(plan.start_s + 0.01, plan.end_s - 0.01, 4001)
    h = 1e-3
    s = sample_plans([plan], np.concatenate([t - h, t, t + h]))
    pos = s.pos_m[0].reshape(3, -1, 3)
    fd = (pos[2] - pos[0]) / (2 * h)
    np.testing.assert_allclose(s.vel_m_per_s[0, t.size : 2 * t.size], fd, atol=5e-3)


def test_inactive_before_start_and_after_arrival():
    plan = right_angle_plan(35.0, 90.0, 0.0)
    t = np.array([plan.start_s - 1.0, plan.start_s, plan.end_s, plan.end_s + 1e-3, 1e9])
    s = sample_plans([plan], t)
    np.testing.assert_array_equal(s.active[0], [False, True, True, False, False])
    assert np.isnan(s.pos_m[0, ~s.active[0]]).all() and np.isnan(s.vel_m_per_s[0, ~s.active[0]]).all()
    # It starts over the first waypoint and ends over the last one (1 mm).
    ends = geodetic_to_ecef(plan.lat_rad[[0, -1]], plan.lon_rad[[0, -1]], plan.alt_m[[0, -1]])
    np.testing.assert_allclose(s.pos_m[0, 1:3], ends, atol=1e-3)


# --- property: no NaN, no jumps -------------------------------------------------------------------


@st.composite
def random_plans(draw):
    k = draw(st.integers(2, 6))
    lat0, lon0 = draw(st.floats(-85.0, 85.0)), draw(st.floats(-180.0, 180.0))
    offsets = st.lists(st.floats(-3.0, 3.0), min_size=k, max_size=k)
    lat = np.clip(lat0 + np.array(draw(offsets)), -89.9, 89.9)
    lon = lon0 + np.array(draw(offsets))
    alt = draw(st.lists(st.floats(0.0, 15_000.0), min_size=k, max_size=k))
    speed = draw(st.lists(st.floats(50.0, 700.0), min_size=k, max_size=k))
    bank = draw(st.floats(5.0, 80.0))
    try:
        return FlightPlan.from_deg(
            "p", "cruise_missile", lat, lon, alt, speed, draw(st.floats(-1e4, 1e4)), bank
        )
    except ValueError:  # repeated waypoints, course reversals: invalid plans, refused at construction
        reject()


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.filter_too_much]
)
@given(plan=random_plans())
def test_random_plans_never_nan_never_jump(plan):
    t = np.concatenate(
        [
            np.linspace(plan.start_s - 5.0, plan.end_s + 5.0, 3001),
            (plan.waypoint_times_s[:, None] + np.arange(-20.0, 20.0, 0.1)).ravel(),  # dense near the turns
        ]
    )
    t.sort()
    s = sample_plans([plan], t)
    act = s.active[0]
    assert np.isfinite(s.pos_m[0, act]).all() and np.isfinite(s.vel_m_per_s[0, act]).all()
    assert np.isnan(s.pos_m[0, ~act]).all()
    lat, lon, alt = ecef_to_geodetic(s.pos_m[0, act])
    # Ground displacement (projected to the ellipsoid) ≤ fastest scheduled speed × dt, stretched by at
    # most (N_max)/R = 1.0045 at the surface; 1 mm for rounding.
    ground = geodetic_to_ecef(lat, lon, 0.0)
    step_m = np.linalg.norm(np.diff(ground, axis=0), axis=1)
    assert np.all(step_m <= plan.speed_m_per_s.max() * 1.0046 * np.diff(t[act]) + 1e-3)
    # The height stays between the scheduled extremes (1 mm: rounding of the time, 1e-12 s, times a
    # climb gradient that random plans push to 10^4), the speed below the fastest one.
    assert alt.min() >= plan.alt_m.min() - 1e-3 and alt.max() <= plan.alt_m.max() + 1e-3
    enu = ecef_vector_to_enu(s.vel_m_per_s[0, act], lat, lon)
    assert np.hypot(enu[:, 0], enu[:, 1]).max() <= plan.speed_m_per_s.max() * (1 + MAP_SCALE_TOL)


# --- shapes and validation --------------------------------------------------------------------------


def test_shapes_are_n_by_t_by_3():
    plans = [
        right_angle_plan(35.0, 90.0, 0.0),
        right_angle_plan(0.0, 0.0, 90.0),
        right_angle_plan(-40, 10, 100),
    ]
    t = np.linspace(0.0, 2000.0, 7)
    s = sample_plans(plans, t)
    assert s.pos_m.shape == (3, 7, 3) and s.vel_m_per_s.shape == (3, 7, 3)
    assert s.active.shape == (3, 7) and s.active.dtype == np.bool_ and s.t_s.shape == (7,)
    assert s.target_ids == ("turn",) * 3 and s.kinds == ("aircraft",) * 3
    assert sample_plans([], t).pos_m.shape == (0, 7, 3)
    assert sample_plans(plans, []).pos_m.shape == (3, 0, 3)
    both = TruthSamples.concatenate([s, sample_plans(plans[:1], t)])
    assert both.pos_m.shape == (4, 7, 3) and both.active.shape == (4, 7)
    with pytest.raises(ValueError, match="different times"):
        TruthSamples.concatenate([s, sample_plans(plans, t + 1.0)])
    with pytest.raises(ValueError, match="t_s must be a 1-D"):
        sample_plans(plans, np.zeros((2, 2)))


GOOD = {
    "target_id": "x",
    "kind": "aircraft",
    "lat_rad": [0.6, 0.61],
    "lon_rad": [2.4, 2.41],
    "alt_m": [9000.0, 9000.0],
    "speed_m_per_s": [230.0, 230.0],
    "start_s": 0.0,
    "max_bank_rad": 0.4,
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"lat_rad": [0.6], "lon_rad": [2.4], "alt_m": [0.0], "speed_m_per_s": [200.0]},
            "at least 2 waypoints",
        ),
        ({"speed_m_per_s": [230.0, 0.0]}, "speed_m_per_s must be > 0"),
        ({"speed_m_per_s": [-5.0, 230.0]}, "speed_m_per_s must be > 0"),
        ({"max_bank_rad": 0.0}, "max_bank_rad must lie in"),
        ({"max_bank_rad": math.radians(89.0)}, "max_bank_rad must lie in"),
        ({"max_bank_rad": -0.3}, "max_bank_rad must lie in"),
        ({"alt_m": [9000.0]}, "alt_m has 1 entries"),
        ({"kind": "ballistic_missile"}, "kind must be one of"),
        ({"lat_rad": [35.0, 36.0]}, "lat_rad must lie in"),
        ({"alt_m": [33_000.0, 120_000.0]}, "alt_m must lie in"),
        ({"lat_rad": [0.6, 0.6], "lon_rad": [2.4, 2.4]}, "waypoints 0 and 1 are 0 m apart"),
        ({"speed_m_per_s": [230.0, float("nan")]}, "speed_m_per_s must be a 1-D array of finite"),
        (
            {
                "lat_rad": [0.6, 0.61, 0.6],
                "lon_rad": [2.4, 2.4, 2.4],
                "alt_m": [0.0] * 3,
                "speed_m_per_s": [1.0] * 3,
            },
            "reverses course",
        ),
    ],
)
def test_invalid_plans_are_refused_with_the_field_named(change, message):
    with pytest.raises(ValueError, match=message):
        FlightPlan(**{**GOOD, **change})


def test_plan_arrays_are_private_read_only_copies():
    lat = np.array(GOOD["lat_rad"])
    plan = FlightPlan(**{**GOOD, "lat_rad": lat})
    lat[0] = 0.0
    assert plan.lat_rad[0] == 0.6
    with pytest.raises(ValueError, match="read-only"):
        plan.lat_rad[0] = 0.1
