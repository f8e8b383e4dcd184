"""Civil traffic generator (`kizuna.truth.traffic`): determinism, count, bands, offsets, timing.

Airport reference points are approximate (public aerodrome data, good to ~0.01°): only the route
lengths they give matter here, 830–1,560 km, long enough for a full climb and descent (> 470 km).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from kizuna.constants import DEG, MEAN_EARTH_RADIUS_M, NMI
from kizuna.frames import ecef_to_geodetic, ecef_vector_to_enu
from kizuna.truth import Airport, FlightPlan, generate_civil_traffic, sample_plans
from kizuna.truth.traffic import CRUISE_ALT_BAND_M, CRUISE_SPEED_BAND_M_PER_S

AIRPORTS = [
    Airport("RJTT", 35.5533 * DEG, 139.7811 * DEG),  # Tokyo Haneda
    Airport("RJCC", 42.7752 * DEG, 141.6923 * DEG),  # Sapporo New Chitose
    Airport("RJFF", 33.5859 * DEG, 130.4511 * DEG),  # Fukuoka
    Airport("ROAH", 26.1958 * DEG, 127.6459 * DEG),  # Naha
    Airport("RKSI", 37.4692 * DEG, 126.4505 * DEG),  # Seoul Incheon
    Airport("RJBB", 34.4273 * DEG, 135.2440 * DEG),  # Osaka Kansai
]
LONG_ROUTES = [("RJTT", "RJCC"), ("RJTT", "RJFF"), ("RJTT", "ROAH"), ("RKSI", "RJTT")]
DURATION_S = 3600.0


def traffic(seed, count=120, routes=LONG_ROUTES):
    return generate_civil_traffic(AIRPORTS, routes, count, DURATION_S, np.random.default_rng(seed))


def plan_fields(plan: FlightPlan):
    return (plan.target_id, plan.start_s, plan.lat_rad, plan.lon_rad, plan.alt_m, plan.speed_m_per_s)


def unit(lat_rad, lon_rad):
    return np.array(
        [math.cos(lat_rad) * math.cos(lon_rad), math.cos(lat_rad) * math.sin(lon_rad), math.sin(lat_rad)]
    )


def test_same_seed_same_traffic_other_seed_other_traffic():
    a, b, c = traffic(7), traffic(7), traffic(8)
    for pa, pb in zip(a, b, strict=True):
        for fa, fb in zip(plan_fields(pa), plan_fields(pb), strict=True):
            np.testing.assert_array_equal(fa, fb)
    assert not np.array_equal([p.start_s for p in a], [p.start_s for p in c])


def test_count_and_ids():
    plans = traffic(1, count=57)
    assert len(plans) == 57
    assert [p.target_id for p in plans] == [f"civil-{i:04d}" for i in range(1, 58)]
    assert [p.kind for p in plans] == ["civil_aircraft"] * 57
    assert np.all(np.diff([p.start_s for p in plans]) >= 0)  # ids in order of departure
    assert traffic(1, count=0) == []


def test_profile_within_the_stated_bands():
    plans = traffic(2)
    for p in plans:
        assert p.alt_m[0] == 0.0 and p.alt_m[-1] == 0.0
        assert CRUISE_ALT_BAND_M[0] <= p.alt_m[1] == p.alt_m[2] <= CRUISE_ALT_BAND_M[1]
        assert (
            CRUISE_SPEED_BAND_M_PER_S[0]
            <= p.speed_m_per_s[1]
            == p.speed_m_per_s[2]
            <= CRUISE_SPEED_BAND_M_PER_S[1]
        )
    # Sampled: heights never above the band (1 µm), horizontal speed never above the fastest cruise
    # speed stretched by the sphere-to-WGS-84 map (≤ 0.7 %, documented in kizuna.truth.waypoints).
    s = sample_plans(plans, np.arange(0.0, DURATION_S, 10.0))
    lat, lon, alt = ecef_to_geodetic(s.pos_m[s.active])
    assert alt.max() <= CRUISE_ALT_BAND_M[1] + 1e-6 and alt.min() >= -1e-6
    enu = ecef_vector_to_enu(s.vel_m_per_s[s.active], lat, lon)
    assert np.hypot(enu[:, 0], enu[:, 1]).max() <= CRUISE_SPEED_BAND_M_PER_S[1] * 1.007


def test_sky_is_not_empty_at_the_start_and_departures_spread_over_the_window():
    plans = traffic(3, count=200)
    s = sample_plans(plans, [0.0, DURATION_S / 2, DURATION_S])
    # Uniform departures over [-D, duration): on average D/(D + duration) ≈ 0.6 of them fly at t = 0
    # (D ≈ 1–2 h on these routes); 0.3 is far below any plausible draw of 200.
    assert s.active[:, 0].mean() > 0.3 and s.active[:, 1].mean() > 0.3
    alt = ecef_to_geodetic(s.pos_m[s.active[:, 0], 0])[2]
    assert np.mean(alt > 8_000.0) > 0.5  # most of them cruising
    starts = np.array([p.start_s for p in plans])
    ends = np.array([p.end_s for p in plans])
    assert np.any(starts > 0.0) and np.all(starts < DURATION_S)
    assert np.all(ends > -1.0)  # every flight overlaps the window (duration estimated to < 1 s)


def test_offsets_are_right_of_track_within_two_nautical_miles():
    """SLOP: top of climb/descent 0–2 NM right of the airway's great circle (sphere cross-track, 1 m)."""
    plans = traffic(4)
    codes = {a.code: a for a in AIRPORTS}
    directions = set()
    for p in plans:
        dep = min(AIRPORTS, key=lambda a: abs(a.lat_rad - p.lat_rad[0]) + abs(a.lon_rad - p.lon_rad[0]))
        arr = min(AIRPORTS, key=lambda a: abs(a.lat_rad - p.lat_rad[-1]) + abs(a.lon_rad - p.lon_rad[-1]))
        directions.add((dep.code, arr.code))
        pole = np.cross(unit(dep.lat_rad, dep.lon_rad), unit(arr.lat_rad, arr.lon_rad))
        pole /= np.linalg.norm(pole)
        for k in (1, 2):
            left_m = MEAN_EARTH_RADIUS_M * math.asin(unit(p.lat_rad[k], p.lon_rad[k]) @ pole)
            assert -2 * NMI - 1.0 <= left_m <= 1.0
        assert codes[dep.code] is not codes[arr.code]
    assert len({(p.lat_rad[1], p.lon_rad[1]) for p in plans}) == len(plans)  # nobody overlaps exactly
    assert {("RJCC", "RJTT"), ("RJTT", "RJCC")} <= directions  # both directions of an airway flown


def test_climb_and_descent_gradients_and_short_routes():
    plans = traffic(5)
    for p in plans[:20]:
        run_m = MEAN_EARTH_RADIUS_M * math.acos(
            np.clip(unit(p.lat_rad[0], p.lon_rad[0]) @ unit(p.lat_rad[1], p.lon_rad[1]), -1, 1)
        )
        # 2.5° climb: run = height / tan 2.5°, within 100 m (the 2 NM offset lengthens it by ≤ 35 m).
        assert run_m == pytest.approx(p.alt_m[1] / math.tan(2.5 * DEG), abs=100.0)
    # Haneda-Kansai (~400 km) is too short for 9 km: the cruise comes down, the plan stays valid.
    short = traffic(6, count=20, routes=[("RJTT", "RJBB")])
    assert all(p.alt_m[1] < CRUISE_ALT_BAND_M[0] for p in short)
    s = sample_plans(short, np.arange(-5000.0, DURATION_S, 5.0))
    assert np.isfinite(s.pos_m[s.active]).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"routes": [("RJTT", "KJFK")]}, ValueError, "'KJFK', which is not in airports"),
        ({"routes": [("RJTT", "RJTT")]}, ValueError, "at least 20 km apart"),
        ({"count": -1}, ValueError, "count must be an integer"),
        ({"duration_s": 0.0}, ValueError, "duration_s must be > 0"),
        ({"rng": 42}, TypeError, "default_rng"),
        ({"airports": [*AIRPORTS, Airport("RJTT", 0.1, 0.2)]}, ValueError, "'RJTT' appears twice"),
        ({"airports": [Airport("RJTT", 35.5, 139.8), *AIRPORTS[1:]]}, ValueError, "degrees"),
    ],
)
def test_bad_inputs_are_refused(kwargs, error, message):
    args = {
        "airports": AIRPORTS,
        "routes": LONG_ROUTES,
        "count": 3,
        "duration_s": DURATION_S,
        "rng": np.random.default_rng(0),
    }
    with pytest.raises(error, match=message):
        generate_civil_traffic(**{**args, **kwargs})
