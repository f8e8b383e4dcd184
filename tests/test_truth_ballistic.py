"""Ballistic missiles (`kizuna.truth.ballistic`): range classes solved onto an aim point and flown.

References are independent of the code under test: the closed forms of the minimum-energy
Keplerian trajectory (Bate, Mueller & White 1971, *Fundamentals of Astrodynamics*, §6.2: burnout
flight-path angle (π − Ψ)/4 and speed v² = (μ/r) 2 sin(Ψ/2)/(1 + sin(Ψ/2)) for equal burnout and
re-entry radii; the least-energy ellipse a = s/2 of Lambert's problem, §5.2), the orbit equation
(minimised by brute force for unequal radii), pymap3d's great-circle separation, and the aim points
themselves (from `frames.geodetic_to_ecef`, tested against pymap3d elsewhere). Every shot is flown
with the Earth's rotation and J2 on, as the module always does; tolerances say which physics the
closed form leaves out.

Solved shots are shared between tests through module-scoped fixtures (each solve takes ≈ 0.3 s).
"""

from __future__ import annotations

import math

import numpy as np
import pymap3d.haversine
import pytest
from scipy.optimize import brentq, minimize_scalar

from kizuna.constants import DEG, MEAN_EARTH_RADIUS_M, WGS84_GM_M3_PER_S2, WGS84_OMEGA_RAD_PER_S
from kizuna.frames import ecef_to_geodetic
from kizuna.truth.ballistic import (
    EXO_BOUNDARY_ALT_M,
    LOFT_TOL_RAD,
    RANGE_CLASSES,
    BallisticShot,
    check_ballistic_aim,
    fly_ballistic,
    ground_range_m,
    min_energy_path_angle_rad,
    range_class,
    solve_ballistic,
    terminated_vehicle,
)
from kizuna.truth.flight import Coast, Phase, fly, gravity_turn_program
from kizuna.truth.missiles import sample_missiles
from kizuna.truth.signatures import PHASES

MU = WGS84_GM_M3_PER_S2
OMEGA = WGS84_OMEGA_RAD_PER_S
R = MEAN_EARTH_RADIUS_M
SITE = (35.0, 45.0)  # generic inland launch site at mid-latitude [deg]
LAND_M = 100.0  # a landing within 100 m of the aim: a tenth of a re-entry vehicle's last second of flight


def destination(lat_deg: float, lon_deg: float, azimuth_deg: float, range_m: float) -> tuple[float, float]:
    """The point ``range_m`` along the great circle from (lat, lon) at ``azimuth_deg`` [rad, rad].

    The spherical direct problem on the mean sphere (spherical trigonometry; e.g. Snyder 1987, *Map
    Projections — A Working Manual*, USGS PP 1395, §5): sin φ₂ = sin φ₁ cos c + cos φ₁ sin c cos α,
    λ₂ = λ₁ + atan2(sin α sin c cos φ₁, cos c − sin φ₁ sin φ₂), c = range / R.
    """
    c, az = range_m / R, azimuth_deg * DEG
    la1, lo1 = lat_deg * DEG, lon_deg * DEG
    la2 = math.asin(math.sin(la1) * math.cos(c) + math.cos(la1) * math.sin(c) * math.cos(az))
    lo2 = lo1 + math.atan2(
        math.sin(az) * math.sin(c) * math.cos(la1), math.cos(c) - math.sin(la1) * math.sin(la2)
    )
    return la2, lo2


def shoot(
    cls: str, lat_deg: float, lon_deg: float, azimuth_deg: float, range_m: float, loft_deg: float = 0.0
) -> BallisticShot:
    aim = destination(lat_deg, lon_deg, azimuth_deg, range_m)
    return solve_ballistic(f"{cls}-{azimuth_deg:g}", lat_deg * DEG, lon_deg * DEG, *aim, cls, loft_deg * DEG)


@pytest.fixture(scope="module")
def short_shots() -> dict[int, BallisticShot]:
    """990 km minimum-energy shots from mid-latitude north, east, south and west."""
    return {az: shoot("short", *SITE, az, 990e3) for az in (0, 90, 180, 270)}


@pytest.fixture(scope="module")
def long_shots() -> dict[str, BallisticShot]:
    return {
        "medium": shoot("medium", *SITE, 60.0, 2_500e3),
        "intermediate": shoot("intermediate", 20.0, 60.0, 300.0, 5_000e3),
    }


@pytest.fixture(scope="module")
def polar_shot() -> BallisticShot:
    """990 km northward from 80°N: the Earth's rotation barely acts on the vertical plane there."""
    return shoot("short", 80.0, 10.0, 0.0, 990e3)


@pytest.fixture(scope="module")
def loft_shots() -> dict[float, BallisticShot]:
    """2,000 km medium-class shots: minimum energy, lofted 10° and depressed 10°."""
    return {loft: shoot("medium", *SITE, 30.0, 2_000e3, loft) for loft in (0.0, 10.0, -10.0)}


def all_shots(short_shots, long_shots, polar_shot) -> list[BallisticShot]:
    return [*short_shots.values(), *long_shots.values(), polar_shot]


# --- Closed forms ---------------------------------------------------------------------------------


def speed_for_path_angle(r1_m: float, r2_m: float, psi_rad: float, gamma_rad: float) -> float:
    """Burnout speed for a Kepler conic from radius r1 at flight-path angle γ to radius r2, Ψ later.

    From the orbit equation 1/r = μ/h² (1 + e cos f) with h = r1 v cos γ (Bate, Mueller & White 1971,
    §6.2, there for r1 = r2): v² = μ (1 − cos Ψ) / (r1 cos γ ((r1/r2) cos γ − cos(Ψ + γ))).
    """
    cg = math.cos(gamma_rad)
    denominator = r1_m * cg * ((r1_m / r2_m) * cg - math.cos(psi_rad + gamma_rad))
    return math.sqrt(MU * (1.0 - math.cos(psi_rad)) / denominator) if denominator > 0.0 else math.inf


def brute_min_energy_angle(r1_m: np.ndarray, r2_m: np.ndarray) -> float:
    """The flight-path angle that minimises the burnout speed from r1 to r2 (bounded Brent search)."""
    n1, n2 = float(np.linalg.norm(r1_m)), float(np.linalg.norm(r2_m))
    psi = math.acos(float(r1_m @ r2_m) / (n1 * n2))
    res = minimize_scalar(
        lambda g: speed_for_path_angle(n1, n2, psi, g), bounds=(1e-4, 0.5 * math.pi - 1e-4), method="bounded",
        options={"xatol": 1e-9},
    )  # fmt: skip
    return float(res.x)


def test_min_energy_path_angle_against_closed_forms():
    # Equal radii: γ* = (π − Ψ)/4 (Bate, Mueller & White §6.2).
    for psi in (0.05, 0.3, 1.0, 2.0):
        r1 = np.array([6.5e6, 0.0, 0.0])
        r2 = 6.5e6 * np.array([math.cos(psi), math.sin(psi), 0.0])
        assert min_energy_path_angle_rad(r1, r2) == pytest.approx((math.pi - psi) / 4.0, abs=1e-12)
    # Unequal radii (burnout above the aim, as in flight): the speed-minimising angle by brute force.
    rng = np.random.default_rng(7)
    for _ in range(8):
        psi = rng.uniform(0.02, 1.2)
        h1, h2 = rng.uniform(30e3, 400e3), rng.uniform(0.0, 3e3)
        r1 = (R + h1) * np.array([1.0, 0.0, 0.0])
        r2 = (R + h2) * np.array([math.cos(psi), 0.0, math.sin(psi)])
        assert min_energy_path_angle_rad(r1, r2) == pytest.approx(brute_min_energy_angle(r1, r2), abs=1e-6)


def test_ground_range_is_the_mean_sphere_great_circle():
    # pymap3d's angular separation (independent haversine) times the mean radius.
    lat1, lon1, lat2, lon2 = 35.0, 45.0, 41.3, 52.9
    expected = R * math.radians(pymap3d.haversine.anglesep(lon1, lat1, lon2, lat2))
    assert ground_range_m(lat1 * DEG, lon1 * DEG, lat2 * DEG, lon2 * DEG) == pytest.approx(
        expected, rel=1e-12
    )


# --- Landing on the aim ---------------------------------------------------------------------------


def test_short_shots_land_on_the_aim_in_every_direction(short_shots, polar_shot):
    for shot in [*short_shots.values(), polar_shot]:
        traj = shot.trajectory
        assert traj.gravity == "j2" and traj.earth_rotation
        assert traj.end_reason == "impact"
        end_pos = traj.sample(traj.end_time_s)[0]
        assert np.linalg.norm(end_pos - shot.aim_pos_m) < LAND_M
        assert abs(float(ecef_to_geodetic(end_pos)[2])) < 1.0  # impact at the aim's height (0 m)
        assert shot.range_m == pytest.approx(990e3, rel=1e-9)


def test_medium_and_intermediate_shots_land_on_the_aim(long_shots):
    for shot in long_shots.values():
        traj = shot.trajectory
        assert traj.gravity == "j2" and traj.earth_rotation
        assert np.linalg.norm(traj.sample(traj.end_time_s)[0] - shot.aim_pos_m) < LAND_M


def test_earth_rotation_is_what_the_east_and_west_shots_correct_for(short_shots):
    # Re-fly the solved steering of the eastward and westward shots on a non-rotating Earth: over a
    # ≈ 9-minute flight the Earth turns by ≈ 0.04 rad (≈ 190 km at 35°N), so they must miss by far.
    cls = range_class("short")
    for az in (90, 270):
        shot = short_shots[az]
        vehicle = terminated_vehicle(cls.vehicle, shot.cutoff_s)
        steering = gravity_turn_program(cls.vertical_rise_s, shot.kick_rad, shot.azimuth_rad, cls.kick_s)
        phases = [
            Phase("boost", steering, duration_s=vehicle.burn_s),
            Phase("midcourse", Coast(), aero=cls.rv_aero, reference_area_m2=cls.rv_area_m2),
        ]
        launch = shot.trajectory.sample(shot.trajectory.launch_time_s)[0]
        still = fly(vehicle, phases, launch, earth_rotation=False)
        assert np.linalg.norm(still.impact.pos_m - shot.aim_pos_m) > 20e3


def test_each_class_flies_its_documented_band_at_its_worst_geometry():
    # Worst cases measured for the band (module docstring): the maximum westward at the equator (the
    # Earth's rotation takes the most from it), the minimum eastward at the equator.
    for name in RANGE_CLASSES:
        cls = range_class(name)
        far = shoot(name, 0.0, 0.0, 270.0, cls.max_range_m - 1.0)
        near = shoot(name, 0.0, 0.0, 90.0, cls.min_range_m + 1.0)
        assert far.miss_m < LAND_M and near.miss_m < LAND_M
        assert near.cutoff_s >= cls.min_cutoff_s and far.cutoff_s <= cls.burn_s


def test_solving_is_deterministic(polar_shot):
    again = shoot("short", 80.0, 10.0, 0.0, 990e3)
    assert np.array_equal(again.impact.pos_m, polar_shot.impact.pos_m)
    assert again.cutoff_s == polar_shot.cutoff_s and again.kick_rad == polar_shot.kick_rad


# --- Minimum energy -------------------------------------------------------------------------------


def return_to_burnout_radius(shot: BallisticShot) -> tuple[float, float, float]:
    """(r_bo, v_bo, Ψ): burnout radius and Earth-relative speed, and the ECEF central angle from the
    burnout point to where the descent crosses the burnout radius again (the free-flight range)."""
    traj, bo = shot.trajectory, shot.burnout
    r_bo = float(np.linalg.norm(bo.pos_m))
    t_back = brentq(
        lambda t: float(np.linalg.norm(traj.sample(t)[0])) - r_bo, traj.apogee_time_s, traj.end_time_s
    )
    p_back = traj.sample(t_back)[0]
    psi = math.acos(float(p_back @ bo.pos_m) / (float(np.linalg.norm(p_back)) * r_bo))
    return r_bo, float(np.linalg.norm(bo.vel_m_per_s)), psi


def test_burnout_speed_matches_the_minimum_energy_closed_form(short_shots, long_shots, polar_shot):
    # v² = (μ/r) 2 sin(Ψ/2) / (1 + sin(Ψ/2)) (Bate, Mueller & White §6.2) for the free flight from the
    # burnout radius back to it. Left out by the closed form: the Earth's rotation, whose Coriolis force
    # adds up to 2 ω v cos φ to the vertical acceleration (gravity g = μ/r²); the speed needed for a
    # range scales as √g, so the tolerance is half that relative change, ω v cos φ / g (0.4 % at 80°N,
    # 2-4 % at 20-35°N). Drag above the burnout height and J2 are below 0.2 %.
    for shot in all_shots(short_shots, long_shots, polar_shot):
        r_bo, v_bo, psi = return_to_burnout_radius(shot)
        v_closed = math.sqrt(MU / r_bo * 2.0 * math.sin(psi / 2.0) / (1.0 + math.sin(psi / 2.0)))
        lat = float(ecef_to_geodetic(shot.burnout.pos_m)[0])
        tolerance = OMEGA * v_bo * math.cos(lat) / (MU / r_bo**2) + 2e-3
        assert v_bo == pytest.approx(v_closed, rel=tolerance), shot.missile.target_id
    # Near the pole the rotation drops out and the closed form holds to a few parts in 10⁴.
    r_bo, v_bo, psi = return_to_burnout_radius(polar_shot)
    assert v_bo == pytest.approx(
        math.sqrt(MU / r_bo * 2 * math.sin(psi / 2) / (1 + math.sin(psi / 2))), rel=3e-3
    )


def test_burnout_path_angle_is_the_minimum_energy_one(short_shots, long_shots, polar_shot):
    # The solver's condition, checked against the brute-force speed minimum from the burnout point to
    # the aim (the unequal-radius generalisation of (π − Ψ)/4), both in the Earth-fixed frame.
    for shot in all_shots(short_shots, long_shots, polar_shot):
        bo = shot.burnout
        gamma = math.asin(
            float(bo.pos_m @ bo.vel_m_per_s) / (np.linalg.norm(bo.pos_m) * np.linalg.norm(bo.vel_m_per_s))
        )
        assert gamma == pytest.approx(brute_min_energy_angle(bo.pos_m, shot.aim_pos_m), abs=LOFT_TOL_RAD)
        assert shot.burnout_path_angle_rad == pytest.approx(gamma, abs=1e-12)


def test_minimum_energy_apogee_of_a_1000_km_shot(short_shots, polar_shot):
    # Ground to ground on a sphere, the minimum-energy apogee is h = R (sin(Ψ/2) + cos(Ψ/2) − 1)/2
    # (a = s/2, apogee a(1 + e) with 2ae the distance from the Earth's centre to the chord's midpoint;
    # Bate, Mueller & White §5.2, §6.2), ≈ R Ψ/4 = range/4 for short ranges: 238 km at 990 km. The
    # band 200-350 km brackets it with the rotation's effect; a real boost ends 50 km up and 40 km
    # downrange, which lifts the apogee by ≈ 7 %: within 12 % of the closed form.
    psi = 990e3 / R
    closed = R * (math.sin(psi / 2) + math.cos(psi / 2) - 1.0) / 2.0
    assert closed == pytest.approx(990e3 / 4.0, rel=0.05)
    for shot in [*short_shots.values(), polar_shot]:
        assert 200e3 < shot.apogee_alt_m < 350e3
        assert shot.apogee_alt_m == pytest.approx(closed, rel=0.12)
    # From the actual burnout point to the aim, the least-energy ellipse's apogee radius is
    # r_a = a + ae = s/2 + |F*|/2 (F* the empty focus on the chord): near the pole, where the rotation
    # does not bend the vertical plane, the flown apogee matches it to 1 km.
    bo = polar_shot.burnout.pos_m
    chord = polar_shot.aim_pos_m - bo
    s = (np.linalg.norm(bo) + np.linalg.norm(polar_shot.aim_pos_m) + np.linalg.norm(chord)) / 2.0
    empty_focus = bo + (s - np.linalg.norm(bo)) * chord / np.linalg.norm(chord)
    t = np.linspace(polar_shot.burnout.t_s, polar_shot.impact.t_s, 20_001)
    flown = float(np.max(np.linalg.norm(polar_shot.trajectory.sample(t)[0], axis=1)))
    assert flown == pytest.approx(s / 2.0 + float(np.linalg.norm(empty_focus)) / 2.0, abs=1e3)


# --- Phases ---------------------------------------------------------------------------------------


def check_phases(shot: BallisticShot) -> None:
    traj = shot.trajectory
    assert traj.phase_names == ("boost", "midcourse", "terminal")
    assert all(name in PHASES for name in traj.phase_names)
    starts, ends = traj.phase_start_s, traj.phase_end_s
    assert np.all(np.isfinite(starts)) and np.all(np.diff(starts) > 0.0)
    assert starts[0] == traj.launch_time_s and ends[-1] == traj.end_time_s
    assert ends[0] - starts[0] == pytest.approx(shot.cutoff_s, abs=1e-9)
    t = np.linspace(traj.launch_time_s, traj.end_time_s, 3001)
    _, _, active, phase = traj.sample(t)
    assert active.all() and np.all(np.diff(phase) >= 0)
    expected = np.searchsorted(starts, t, side="right") - 1
    assert np.array_equal(phase, expected)
    # After the cut-off only the re-entry vehicle flies.
    assert traj.mass_kg(np.array([ends[0] + 1.0]))[0] == pytest.approx(traj.vehicle.payload_kg)


def test_phases_follow_boost_midcourse_terminal(short_shots, long_shots):
    for shot in [*short_shots.values(), *long_shots.values()]:
        check_phases(shot)
        # Apogees above 100 km: terminal begins where the descent crosses it.
        t_terminal = shot.trajectory.phase_start_s[2]
        height = float(ecef_to_geodetic(shot.trajectory.sample(t_terminal)[0])[2])
        assert height == pytest.approx(EXO_BOUNDARY_ALT_M, abs=1.0)


def test_boost_lasts_about_a_minute_short_and_minutes_longer(short_shots, long_shots):
    for shot in short_shots.values():
        assert 40.0 <= shot.cutoff_s <= 75.0  # a single-stage burn of about a minute
    for shot in long_shots.values():
        assert shot.cutoff_s > 120.0  # two stages: minutes, not seconds
        assert shot.cutoff_s > range_class(shot.range_class).vehicle.stages[0].burn_s  # it staged


def test_a_low_shot_switches_to_terminal_at_apogee():
    shot = shoot("short", *SITE, 0.0, 200e3)
    assert shot.apogee_alt_m < EXO_BOUNDARY_ALT_M
    assert shot.miss_m < LAND_M
    check_phases(shot)
    traj = shot.trajectory
    assert traj.phase_start_s[2] == pytest.approx(traj.apogee_time_s, abs=1e-6)


def test_missile_samples_carry_phases_and_a_plume_only_while_burning(long_shots):
    missile = long_shots["medium"]
    traj = missile.trajectory
    t = np.linspace(traj.launch_time_s, traj.end_time_s, 500)
    samples = sample_missiles([missile.missile], t)
    names = {PHASES[code] for code in samples.phase[0]}
    assert names == {"boost", "midcourse", "terminal"}
    boost = samples.phase[0] == PHASES.index("boost")
    midcourse = samples.phase[0] == PHASES.index("midcourse")
    assert (
        samples.ir_intensity_w_per_sr[0, boost].min()
        > 100.0 * samples.ir_intensity_w_per_sr[0, midcourse].max()
    )


# --- Loft -----------------------------------------------------------------------------------------


def test_loft_raises_the_apogee_and_lengthens_the_flight(loft_shots):
    flat, lofted, depressed = loft_shots[0.0], loft_shots[10.0], loft_shots[-10.0]
    assert lofted.apogee_alt_m > flat.apogee_alt_m > depressed.apogee_alt_m
    assert lofted.flight_time_s > flat.flight_time_s > depressed.flight_time_s
    for loft, shot in loft_shots.items():
        assert shot.miss_m < LAND_M
        achieved = shot.burnout_path_angle_rad - shot.min_energy_path_angle_rad
        assert achieved == pytest.approx(loft * DEG, abs=LOFT_TOL_RAD)
    # Off the minimum-energy path the same range needs a faster burnout (not always more propellant: a
    # flatter boost loses less to gravity), by nearly as much either side, the speed being quadratic
    # in the flight-path angle near its minimum (2.4 % for ±10°; measured ±0.03 % apart).
    assert lofted.burnout_speed_m_per_s > 1.01 * flat.burnout_speed_m_per_s
    assert depressed.burnout_speed_m_per_s > 1.01 * flat.burnout_speed_m_per_s
    assert lofted.burnout_speed_m_per_s == pytest.approx(depressed.burnout_speed_m_per_s, rel=3e-3)


# --- Errors ---------------------------------------------------------------------------------------


def test_an_aim_beyond_the_class_says_the_range_and_the_band():
    aim = destination(*SITE, 90.0, 1_850e3)
    with pytest.raises(ValueError, match="1,850 km") as err:
        fly_ballistic("srbm-1", SITE[0] * DEG, SITE[1] * DEG, *aim, "short")
    message = str(err.value)
    assert "'srbm-1'" in message and "'short'" in message and "150–1,000 km" in message
    assert "'medium'" in message  # the class that does fly it


def test_an_aim_too_close_for_the_class_says_so():
    aim = destination(*SITE, 0.0, 300e3)
    with pytest.raises(ValueError, match=r"300 km from launch; the 'medium' range class flies 600–3,000 km"):
        fly_ballistic("mrbm-1", SITE[0] * DEG, SITE[1] * DEG, *aim, "medium")
    with pytest.raises(ValueError, match="no class flies it"):
        check_ballistic_aim(0.0, 0.0, 0.0, 9_000e3 / R, "intermediate")
    with pytest.raises(ValueError, match="no class flies it"):
        check_ballistic_aim(0.0, 0.0, 0.0, 50e3 / R, "short")


def test_a_loft_the_class_cannot_fly_gives_the_band_it_can():
    aim = destination(*SITE, 0.0, 950e3)
    with pytest.raises(ValueError, match=r"a loft of \+25\.0° at 950 km is beyond the 'short'") as err:
        fly_ballistic("srbm-2", SITE[0] * DEG, SITE[1] * DEG, *aim, "short", loft_rad=25.0 * DEG)
    assert "flies lofts from" in str(err.value)


def test_bad_inputs_are_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"range_class must be one of \('short', 'medium', 'intermediate'\)"):
        fly_ballistic("x", 0.0, 0.0, 0.0, 0.01, "long")
    with pytest.raises(ValueError, match="must be finite"):
        fly_ballistic("x", math.nan, 0.0, 0.0, 0.01, "short")
    with pytest.raises(ValueError, match="degrees where radians"):
        fly_ballistic("x", 35.0, 45.0, 36.0, 45.0, "short")


# --- Thrust termination ---------------------------------------------------------------------------


def test_terminated_vehicle_keeps_thrust_and_drops_the_unburnt_propellant():
    full = range_class("medium").vehicle
    cut = terminated_vehicle(full, 120.0)
    assert cut.burn_s == pytest.approx(120.0)
    assert cut.stages[-1].thrust_n == pytest.approx(full.stages[-1].thrust_n, rel=1e-12)
    assert cut.launch_mass_kg == pytest.approx(full.launch_mass_kg, rel=1e-12)
    t = np.linspace(0.0, 119.9, 200)
    assert np.allclose(cut.mass_kg(t), full.mass_kg(t), rtol=1e-12)
    assert cut.mass_kg(120.0) == pytest.approx(full.payload_kg)
    with pytest.raises(ValueError, match="last stage's burn"):
        terminated_vehicle(full, 60.0)  # still in the first stage
