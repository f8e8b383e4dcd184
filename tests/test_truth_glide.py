"""Hypersonic glide vehicles (`kizuna.truth.glide`): boost, equilibrium glide, manoeuvres, dive.

References are independent of the guidance code: the ordered glide entry, the aim point, the
standard atmosphere's speed of sound, Tsiolkovsky's rocket equation, the equilibrium-glide condition
L cos σ = m (g - v²/r) (Vinh, Busemann & Culp, *Hypersonic and Planetary Entry Flight Mechanics*,
1980) and its consequence for a square-wave bank (closed form below), and the Jacobi integral of the
rotating frame (`flight.jacobi_energy_m2_per_s2`, checked against Kepler in test_truth_flight).
Tolerances are physical and say what a miss means. Flights are shared by module-scoped fixtures
(about half a second each).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from kizuna.constants import DEG, MEAN_EARTH_RADIUS_M, STANDARD_GRAVITY_M_PER_S2, WGS84_OMEGA_RAD_PER_S
from kizuna.frames import ecef_to_geodetic, geodetic_to_ecef
from kizuna.truth.atmosphere import speed_of_sound_m_per_s
from kizuna.truth.flight import gravity_m_per_s2, jacobi_energy_m2_per_s2
from kizuna.truth.glide import (
    ARRIVAL_TOLERANCE_M,
    Booster,
    GlidePlan,
    Manoeuvre,
    boost_glide_vehicle,
    fly_glide,
    plan_glide,
)
from kizuna.truth.missiles import Missile, sample_missiles
from kizuna.truth.signatures import PHASES

# A fictional launch area in the open western Pacific; aims are great-circle destinations from it.
LAUNCH_LAT_DEG, LAUNCH_LON_DEG = 20.0, 150.0
HEADINGS_DEG = {"east": 90.0, "west": 270.0, "north": 0.0}
RANGES_KM = (1_500.0, 3_000.0)


def destination_rad(azimuth_deg: float, distance_m: float) -> tuple[float, float]:
    """Point at a great-circle distance and initial azimuth from the launch point on the mean sphere
    (spherical trigonometry's sine and cosine rules): the aim, independent of the code under test."""
    lat1, lon1, az = LAUNCH_LAT_DEG * DEG, LAUNCH_LON_DEG * DEG, azimuth_deg * DEG
    d = distance_m / MEAN_EARTH_RADIUS_M
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(az))
    lon2 = lon1 + math.atan2(
        math.sin(az) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2)
    )
    return lat2, lon2


def fly(azimuth_deg: float, range_km: float, manoeuvre: Manoeuvre | None = None) -> tuple[GlidePlan, Missile]:
    aim_lat, aim_lon = destination_rad(azimuth_deg, range_km * 1e3)
    plan = plan_glide(
        LAUNCH_LAT_DEG * DEG, LAUNCH_LON_DEG * DEG, aim_lat, aim_lon, launch_s=100.0, manoeuvre=manoeuvre
    )
    return plan, plan.fly("hgv")


@pytest.fixture(scope="module")
def straight() -> dict[tuple[str, float], tuple[GlidePlan, Missile]]:
    """The default glider (60 km, 5,000 m/s entry) flown straight east, west and north, 1,500 and 3,000 km."""
    return {(h, r): fly(az, r) for h, az in HEADINGS_DEG.items() for r in RANGES_KM}


@pytest.fixture(scope="module")
def weave() -> tuple[GlidePlan, Missile]:
    return fly(90.0, 3_000.0, Manoeuvre("s_weave", period_s=60.0, bank_rad=30.0 * DEG))


@pytest.fixture(scope="module")
def dog_legs() -> dict[float, tuple[GlidePlan, Missile]]:
    return {
        y: fly(90.0, 3_000.0, Manoeuvre("dog_leg", bank_rad=30.0 * DEG, cross_range_m=y))
        for y in (50e3, -30e3)
    }


@pytest.fixture(scope="module")
def skip() -> tuple[GlidePlan, Missile]:
    return fly(0.0, 3_000.0, Manoeuvre("skip", period_s=120.0))


def glide_samples(missile: Missile, n: int = 1201) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times, positions and velocities uniformly over the glide phase."""
    traj = missile.trajectory
    t = np.linspace(traj.phase_start_s[1], traj.phase_end_s[1], n)
    pos, vel, _, _ = traj.sample(t)
    return t, pos, vel


def up_m(pos: np.ndarray) -> np.ndarray:
    lat, lon, _ = ecef_to_geodetic(pos)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def effective_gravity_m_per_s2(pos: np.ndarray, vel: np.ndarray) -> np.ndarray:
    """g_eff = g - v_h²/r along the local vertical, in the rotating frame: what lift must hold up in level
    flight. Gravity with J2 (WGS-84), plus the vertical Coriolis and centrifugal terms (-2ω×v - ω×(ω×r))."""
    up = up_m(pos)
    omega = np.array([0.0, 0.0, WGS84_OMEGA_RAD_PER_S])
    frame = -2.0 * np.cross(omega, vel) - np.cross(omega, np.cross(omega, pos))
    climb = np.sum(vel * up, axis=-1)
    horizontal2 = np.sum(vel * vel, axis=-1) - climb**2
    return -np.sum((gravity_m_per_s2(pos) + frame) * up, axis=-1) - horizontal2 / np.linalg.norm(pos, axis=-1)


def cross_range_m(plan: GlidePlan, pos: np.ndarray) -> np.ndarray:
    """Distance right of the great circle from the release point to the aim (spherical Earth)."""
    left = np.cross(plan.entry.pos_m, plan.aim_pos_m)
    left /= np.linalg.norm(left)
    return -MEAN_EARTH_RADIUS_M * np.arcsin(pos @ left / np.linalg.norm(pos, axis=-1))


def miss_m(plan: GlidePlan, missile: Missile) -> float:
    impact = missile.trajectory.impact
    assert impact is not None
    return float(np.linalg.norm(impact.pos_m - plan.aim_pos_m))


# --- The vehicle -----------------------------------------------------------------------------------


def test_booster_stage_one_gives_half_the_nominal_delta_v() -> None:
    # Tsiolkovsky (Sutton & Biblarz, Rocket Propulsion Elements, eq. 4-6): Δv = Isp g0 ln(m_ignition /
    # m_burnout).
    # Stage 1 is sized for ½ (v_entry + 800 m/s); any size of stage 2 gives the same ratio (scale-free).
    for v_entry in (3_000.0, 5_000.0, 7_000.0):
        k1 = Booster().stage1_ratio(v_entry)
        for p2 in (500.0, 3_000.0):
            vehicle, area_m2 = boost_glide_vehicle(p2, k1)
            s1 = vehicle.stages[0]
            m0 = vehicle.launch_mass_kg
            dv1 = s1.isp_s * STANDARD_GRAVITY_M_PER_S2 * math.log(m0 / (m0 - s1.propellant_kg))
            assert dv1 == pytest.approx(0.5 * (v_entry + 800.0), rel=1e-12)
            assert s1.dry_kg / (s1.dry_kg + s1.propellant_kg) == pytest.approx(0.10)
            assert m0 / area_m2 == pytest.approx(23_000.0)  # the stack's mass per drag area
    # The default shot's stack: the order of public two-stage medium-range solid missiles (10-30 t),
    # lifting off at a thrust-to-weight ratio between 1.5 and 3.5.
    plan = plan_glide(0.0, 0.0, 0.0, 30.0 * DEG)
    m0 = plan.vehicle.launch_mass_kg
    assert 10_000.0 < m0 < 30_000.0
    assert 1.5 < plan.vehicle.stages[0].thrust_n / (m0 * STANDARD_GRAVITY_M_PER_S2) < 3.5
    assert plan.vehicle.payload_kg == 1_000.0 and plan.vehicle.reference_area_m2 == 0.5


def test_release_at_the_ordered_glide_entry(straight) -> None:
    # The solved boost releases the glider (stage-2 burnout) at the ordered 60 km and 5,000 m/s, level:
    # within 100 m (a tenth of a percent of the height), 2 m/s and 1° of flight-path angle.
    for _, missile in straight.values():
        traj = missile.trajectory
        burnout = traj.burnout
        assert burnout is not None and burnout.t_s == traj.phase_start_s[1]
        _, _, h = ecef_to_geodetic(burnout.pos_m)
        v = float(np.linalg.norm(burnout.vel_m_per_s))
        climb = float(burnout.vel_m_per_s @ up_m(burnout.pos_m))
        assert abs(float(h) - 60_000.0) < 100.0
        assert abs(v - 5_000.0) < 2.0
        assert abs(math.degrees(math.asin(climb / v))) < 1.0


# --- Phases, energy, flight regime -----------------------------------------------------------------


def test_phases_in_order_boost_glide_terminal(straight) -> None:
    for plan, missile in straight.values():
        traj = missile.trajectory
        assert traj.phase_names == ("boost", "glide", "terminal")
        assert traj.launch_time_s == 100.0 and traj.end_reason == "impact"
        assert traj.phase_end_s[0] - traj.phase_start_s[0] == pytest.approx(plan.vehicle.burn_s, abs=1e-9)
        assert np.all(np.diff(traj.phase_start_s) > 0.0)
        t = np.linspace(traj.launch_time_s, traj.end_time_s, 3001)
        codes = sample_missiles([missile], t).phase[0]
        assert np.all(np.diff(codes) >= 0)  # never back to an earlier phase
        assert [PHASES[c] for c in np.unique(codes)] == ["boost", "glide", "terminal"]


def test_glide_is_hypersonic_between_30_and_80_km(straight) -> None:
    # Mach ≥ 5 (speed of sound from the US 1976 standard atmosphere) at 30-80 km for at least 70 % of the
    # glide's duration (measured: 96-100 %; the rest is the end of the longest glides, just below 30 km).
    for (heading, range_km), (_, missile) in straight.items():
        _, pos, vel = glide_samples(missile)
        _, _, h = ecef_to_geodetic(pos)
        mach = np.linalg.norm(vel, axis=1) / speed_of_sound_m_per_s(h)
        in_band = (mach >= 5.0) & (h >= 30e3) & (h <= 80e3)
        assert in_band.mean() >= 0.70, (heading, range_km, in_band.mean())
        assert mach.min() > 5.0


def test_jacobi_energy_never_increases_after_burnout(straight) -> None:
    # Unpowered: lift is perpendicular to v and does no work, drag only removes energy, so the Jacobi
    # integral of the rotating frame falls monotonically. 1e-9 relative allows the dense-output
    # interpolation's rounding (the integral is ≈ -5e7 m²/s²).
    for _, missile in straight.values():
        traj = missile.trajectory
        t = np.linspace(traj.phase_start_s[1], traj.end_time_s, 4001)
        pos, vel, _, _ = traj.sample(t)
        eps = jacobi_energy_m2_per_s2(pos, vel)
        assert np.all(np.diff(eps) <= 1e-9 * np.abs(eps[:-1]))
        assert eps[-1] < eps[0] - 1e7  # most of the 12.5 MJ/kg of kinetic energy went into the air
        assert np.all(traj.accelerations(t[::200]).thrust == 0.0)


def test_glide_holds_the_equilibrium_glide_condition(straight) -> None:
    # Over the settled glide (from 40 % to 90 % of it), the vertical component of lift balances gravity less
    # the centripetal term, L cos σ / m = g - v²/r (the equilibrium glide): within 10 % at every sample,
    # 2 % in the median. A 10 % imbalance would be a 0.6 m/s² vertical acceleration (km-scale phugoid).
    _, missile = straight[("east", 3_000.0)]
    t, pos, vel = glide_samples(missile, 501)
    keep = slice(200, 450)
    lift = missile.trajectory.accelerations(t[keep]).lift
    ratio = np.sum(lift * up_m(pos[keep]), axis=1) / effective_gravity_m_per_s2(pos[keep], vel[keep])
    assert np.all(np.abs(ratio - 1.0) < 0.10)
    assert abs(float(np.median(ratio)) - 1.0) < 0.02


# --- Arrival ---------------------------------------------------------------------------------------


def test_arrives_at_the_aim_east_west_north(straight) -> None:
    # Impact within the documented tolerance of the aim; proportional navigation in fact hits to metres
    # (measured < 1e-7 m), so 1 km would already flag a guidance failure.
    assert ARRIVAL_TOLERANCE_M == 10_000.0
    for key, (plan, missile) in straight.items():
        assert miss_m(plan, missile) < 1_000.0, key
        impact = missile.trajectory.impact
        assert impact is not None and abs(float(ecef_to_geodetic(impact.pos_m)[2])) < 1e-3


def test_terminal_phase_is_a_dive(straight) -> None:
    # The dive begins with a push-over (lift pointing down: bank beyond 90°) and ends steeply: the
    # flight-path angle at impact is at least 15° below the horizon (measured 18-27°).
    for _, missile in straight.values():
        traj = missile.trajectory
        t0 = traj.phase_start_s[2]
        pos, _, _, _ = traj.sample(np.array([t0 + 1.0]))
        lift = traj.accelerations(np.array([t0 + 1.0])).lift
        assert float(lift[0] @ up_m(pos[0])) < 0.0
        impact = traj.impact
        assert impact is not None
        v = impact.vel_m_per_s
        assert math.degrees(math.asin(float(v @ up_m(impact.pos_m)) / np.linalg.norm(v))) < -15.0


# --- Manoeuvres ------------------------------------------------------------------------------------


def test_s_weave_cross_range_matches_the_square_wave_closed_form(weave) -> None:
    # Equilibrium glide banked by σ: L cos σ = m g_eff, so the lateral acceleration is a = g_eff tan σ.
    # A bank of +σ, -σ, ... reversed every T (first interval T/2) makes the lateral velocity a triangle wave
    # of amplitude a T/2 and the cross-range piecewise parabolic: between two reversals y changes by
    # ∫ (-aT/2 + a t) dt over [0, T] = 0 and dips by a T²/8 at mid-interval; consecutive extremes (mid-
    # intervals, where the lateral velocity is zero) differ by a T²/4, i.e. a half-amplitude of a T²/8.
    # The heading guidance adds a slow drift, removed by fitting y_k = c0 + c1 t_k + (-1)^(k+1) A.
    # Tolerance 15 %: g_eff varies over the weave, reversals are instantaneous in the closed form and
    # the glide is not exactly in equilibrium (measured ≈ 4 % low).
    plan, missile = weave
    s = plan.schedule
    period_s, bank = s.reversal_interval_s, 30.0 * DEG
    n = round((s.end_s - s.start_s) / period_s)
    assert n >= 4
    t0 = missile.trajectory.phase_start_s[1]
    t_ext = t0 + s.start_s + period_s * np.arange(n + 1)
    pos_ext, _, _, _ = missile.trajectory.sample(t_ext)
    y = cross_range_m(plan, pos_ext)
    design = np.column_stack([np.ones(n + 1), t_ext - t_ext[0], (-1.0) ** (np.arange(n + 1) + 1)])
    half_amplitude = np.linalg.lstsq(design, y, rcond=None)[0][2]
    t = np.linspace(t_ext[0], t_ext[-1], 400)
    pos, vel, _, _ = missile.trajectory.sample(t)
    a = float(np.mean(effective_gravity_m_per_s2(pos, vel))) * math.tan(bank)
    assert half_amplitude == pytest.approx(a * period_s**2 / 8.0, rel=0.15)
    # The bank really is ±30° (a few degrees of heading correction on top), alternating every T.
    mids = t0 + s.start_s + period_s * (np.arange(n) + 0.5) - 0.25 * period_s
    pm, vm, _, _ = missile.trajectory.sample(mids)
    lift = missile.trajectory.accelerations(mids).lift
    right = np.cross(vm, up_m(pm))
    right /= np.linalg.norm(right, axis=1)[:, None]
    bank_deg = np.degrees(np.arctan2(np.sum(lift * right, axis=1), np.sum(lift * up_m(pm), axis=1)))
    assert np.all(np.abs(np.abs(bank_deg) - 30.0) < 6.0)
    assert np.all(np.sign(bank_deg) == (-1.0) ** np.arange(n))
    assert miss_m(plan, missile) < 1_000.0  # the mean heading stays on the aim


def test_dog_leg_reaches_the_ordered_lateral_offset(dog_legs) -> None:
    # The largest cross-range from the release -> aim great circle equals cross_range_m (positive:
    # right of the track) within 10 %, then the glider turns back and hits the aim.
    for offset_m, (plan, missile) in dog_legs.items():
        _, pos, _ = glide_samples(missile, 2001)
        y = cross_range_m(plan, pos)
        extreme = y[np.argmax(np.abs(y))]
        assert extreme == pytest.approx(offset_m, rel=0.10)
        assert miss_m(plan, missile) < 1_000.0


def test_skip_climbs_and_descends_again(skip) -> None:
    # Push-over then a full-lift pull-up: the glider dips, climbs at least 4 km above the dip, and sinks
    # at least 3 km again before the dive (measured: -6.8, +8.0, -10 km, the last down to the dive).
    plan, missile = skip
    traj, s = missile.trajectory, plan.schedule
    t0 = traj.phase_start_s[1]
    t = np.linspace(t0 + s.start_s, traj.phase_end_s[1], 1001)
    _, _, h = ecef_to_geodetic(traj.sample(t)[0])
    i_low = int(np.argmin(h[t <= t0 + s.end_s]))
    i_high = i_low + int(np.argmax(h[i_low:]))
    assert h[0] - h[i_low] > 3_000.0
    assert h[i_high] - h[i_low] > 4_000.0
    assert h[i_high] - h[i_high:].min() > 3_000.0
    assert miss_m(plan, missile) < 1_000.0


# --- Errors that teach -----------------------------------------------------------------------------


def test_entry_outside_the_supported_band_is_refused() -> None:
    aim = destination_rad(90.0, 3e6)
    with pytest.raises(ValueError, match=r"glide_entry_alt_m = 20000 m is outside .* 30-80 km"):
        fly_glide("low", LAUNCH_LAT_DEG * DEG, LAUNCH_LON_DEG * DEG, *aim, glide_entry_alt_m=20e3)
    with pytest.raises(ValueError, match=r"too thin for lift"):
        fly_glide("high", LAUNCH_LAT_DEG * DEG, LAUNCH_LON_DEG * DEG, *aim, glide_entry_alt_m=100e3)
    with pytest.raises(ValueError, match=r"glide_entry_speed_m_per_s = 1500 m/s is outside"):
        fly_glide("slow", LAUNCH_LAT_DEG * DEG, LAUNCH_LON_DEG * DEG, *aim, glide_entry_speed_m_per_s=1_500.0)


def test_aim_too_far_reports_where_it_lands_short() -> None:
    # 6,000 km is beyond a 5 km/s glider's reach (eq. 1 gives ≈ 4,500 km with the boost).
    aim = destination_rad(90.0, 6e6)
    with pytest.raises(ValueError, match=r"lands short.* km short of the aim.*too far") as info:
        fly_glide("far", LAUNCH_LAT_DEG * DEG, LAUNCH_LON_DEG * DEG, *aim)
    assert "'far'" in str(info.value) and "°" in str(info.value)


def test_aim_too_close_is_refused() -> None:
    aim = destination_rad(90.0, 400e3)
    with pytest.raises(
        ValueError, match=r"400 km from the launch point, too close for a boost-glide profile"
    ):
        fly_glide("close", LAUNCH_LAT_DEG * DEG, LAUNCH_LON_DEG * DEG, *aim)


def test_manoeuvre_that_crashes_is_reported() -> None:
    # Weaving at 80° of bank leaves cos 80° = 17 % of the lift to hold the glider up: it sinks into dense
    # air and comes down far short, though the straight glide reaches the aim.
    aim = destination_rad(90.0, 3e6)
    crash = Manoeuvre("s_weave", period_s=120.0, bank_rad=80.0 * DEG)
    with pytest.raises(
        ValueError, match=r"s_weave manoeuvre .* brings it down early.*Flown straight it reaches"
    ):
        fly_glide("weaver", LAUNCH_LAT_DEG * DEG, LAUNCH_LON_DEG * DEG, *aim, manoeuvre=crash)


def test_manoeuvre_that_does_not_fit_the_glide_is_refused() -> None:
    aim = destination_rad(90.0, 1.5e6)
    lat, lon = LAUNCH_LAT_DEG * DEG, LAUNCH_LON_DEG * DEG
    with pytest.raises(ValueError, match=r"S-weave with period_s = 400 s needs 800 s"):
        plan_glide(lat, lon, *aim, manoeuvre=Manoeuvre("s_weave", period_s=400.0))
    with pytest.raises(ValueError, match=r"dog-leg of 300 km .* lower cross_range_m"):
        plan_glide(lat, lon, *aim, manoeuvre=Manoeuvre("dog_leg", cross_range_m=300e3))
    with pytest.raises(ValueError, match=r"kind must be one of"):
        Manoeuvre("loop")
    with pytest.raises(ValueError, match=r"between 0 and 85°"):
        Manoeuvre("s_weave", bank_rad=1.5)
    with pytest.raises(ValueError, match=r"degrees\? use DEG"):
        plan_glide(20.0, 150.0, *aim)


def test_launch_and_aim_heights() -> None:
    # An aim on a 1,500 m plateau: the flight ends where the geodetic height reaches the aim's.
    lat, lon = destination_rad(0.0, 2e6)
    plan = plan_glide(
        LAUNCH_LAT_DEG * DEG, LAUNCH_LON_DEG * DEG, lat, lon, launch_alt_m=50.0, aim_alt_m=1_500.0
    )
    missile = plan.fly("plateau")
    impact = missile.trajectory.impact
    assert impact is not None
    assert float(ecef_to_geodetic(impact.pos_m)[2]) == pytest.approx(1_500.0, abs=1e-2)
    assert np.linalg.norm(impact.pos_m - geodetic_to_ecef(lat, lon, 1_500.0)) < 1_000.0
