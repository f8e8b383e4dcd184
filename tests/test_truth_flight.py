"""Tests for the 3-DOF point-mass flight model (`kizuna.truth.flight`) and its atmosphere.

Every reference is independent of the code under test: published standard-atmosphere tables,
WGS-84 normal gravity, the closed-form Kepler conic, the rocket equation, and conservation laws
(the Jacobi integral in the rotating frame). Tolerances are physical and say what a miss means.
"""

from __future__ import annotations

import math

import ambiance
import numpy as np
import pytest
from scipy.integrate import simpson

from kizuna.constants import (
    STANDARD_GRAVITY_M_PER_S2,
    WGS84_A_M,
    WGS84_B_M,
    WGS84_GM_M3_PER_S2,
    WGS84_J2,
    WGS84_OMEGA_RAD_PER_S,
)
from kizuna.frames import ecef_to_geodetic, enu_vector_to_ecef, geodetic_to_ecef
from kizuna.truth import atmosphere
from kizuna.truth.flight import (
    AeroTable,
    Coast,
    Command,
    FixedEnu,
    Glide,
    Phase,
    PhaseEnd,
    Scheduled,
    Stage,
    Vehicle,
    fly,
    gravitational_potential_m2_per_s2,
    gravity_m_per_s2,
    gravity_turn_program,
    jacobi_energy_m2_per_s2,
)

MU = WGS84_GM_M3_PER_S2
DEG = math.pi / 180.0


def _state_from_geodetic(lat_deg, lon_deg, alt_m, speed_m_per_s, azimuth_deg, path_angle_deg):
    """ECEF position and velocity from geodetic position, speed, azimuth and flight-path angle."""
    lat, lon = lat_deg * DEG, lon_deg * DEG
    az, gamma = azimuth_deg * DEG, path_angle_deg * DEG
    v_enu = speed_m_per_s * np.array(
        [math.cos(gamma) * math.sin(az), math.cos(gamma) * math.cos(az), math.sin(gamma)]
    )
    return geodetic_to_ecef(lat, lon, alt_m), enu_vector_to_ecef(v_enu, lat, lon)


# --- Atmosphere ------------------------------------------------------------------------------------

# U.S. Standard Atmosphere 1976 (NOAA-S/T 76-1562), Table I (geometric altitude) and the sea-level
# values of its Table 1; printed to 5 significant figures, hence the 5e-5 relative tolerance.
# Note: 0.36392 kg/m³ is the value at 11 km *geopotential* (11,019.07 m geometric); at 11,000 m
# geometric the table prints 0.36480.
US1976 = [
    # geometric altitude [m], density [kg/m³], speed of sound [m/s] or None
    (0.0, 1.2250, 340.29),
    (11_000.0, 0.36480, None),
    (11_019.07, 0.36392, 295.07),
    (20_000.0, 0.088910, None),
    (50_000.0, 1.0269e-3, None),
    (80_000.0, 1.8458e-5, None),
]


@pytest.mark.parametrize(("alt_m", "rho", "sound"), US1976)
def test_atmosphere_matches_us1976_tables(alt_m, rho, sound):
    assert float(atmosphere.density_kg_per_m3(alt_m)) == pytest.approx(rho, rel=5e-5)
    if sound is not None:
        assert float(atmosphere.speed_of_sound_m_per_s(alt_m)) == pytest.approx(sound, rel=5e-5)


def test_atmosphere_sea_level_constants():
    # ICAO Doc 7488/3 table A: p0 = 101325 Pa, T0 = 288.15 K, a0 = 340.294 m/s.
    assert float(atmosphere.pressure_pa(0.0)) == pytest.approx(101_325.0, rel=1e-9)
    assert float(atmosphere.temperature_k(0.0)) == pytest.approx(288.15, rel=1e-9)
    assert float(atmosphere.speed_of_sound_m_per_s(0.0)) == pytest.approx(340.294, abs=5e-4)


def test_atmosphere_reproduces_ambiance_between_fitting_nodes():
    # The per-layer polynomials must reproduce the library they were fitted to (1e-9 relative: a
    # millionth of the 5-digit tables' own rounding). Points within 1 mm of a layer boundary are
    # skipped: ambiance itself jumps there by up to 4e-6 (its base pressures are rounded).
    rng = np.random.default_rng(1976)
    alt = rng.uniform(atmosphere.BOTTOM_M, atmosphere.TOP_M, 4000)
    edges = np.array(atmosphere.layer_edges_m())
    alt = alt[np.min(np.abs(alt[:, None] - edges[None, :]), axis=1) > 1e-3]
    ref = ambiance.Atmosphere(alt)
    np.testing.assert_allclose(atmosphere.density_kg_per_m3(alt), ref.density, rtol=1e-9)
    np.testing.assert_allclose(atmosphere.pressure_pa(alt), ref.pressure, rtol=1e-9)
    np.testing.assert_allclose(atmosphere.temperature_k(alt), ref.temperature, rtol=1e-9)
    np.testing.assert_allclose(atmosphere.speed_of_sound_m_per_s(alt), ref.speed_of_sound, rtol=1e-9)


def test_atmosphere_scalar_path_equals_vectorised_path():
    rho, sound = atmosphere.scalar_density_and_sound_speed()
    alt = np.linspace(-8_000.0, 150_000.0, 1501)
    np.testing.assert_allclose([rho(h) for h in alt.tolist()], atmosphere.density_kg_per_m3(alt), rtol=1e-12)
    np.testing.assert_allclose(
        [sound(h) for h in alt.tolist()], atmosphere.speed_of_sound_m_per_s(alt), rtol=1e-12
    )


def test_atmosphere_extension_above_81_km_is_continuous_and_exponential():
    top = atmosphere.TOP_M
    below, at, above = atmosphere.density_kg_per_m3([top - 1.0, top, top + 1.0])
    assert at == pytest.approx(float(ambiance.Atmosphere(top).density[0]), rel=1e-9)
    # Continuous value and slope of ln ρ: the two one-metre steps agree to second order (1e-8).
    assert math.log(below / at) == pytest.approx(math.log(at / above), rel=1e-4)
    scale_height_m = atmosphere.density_scale_height_above_top_m()
    assert 6_000.0 < scale_height_m < 6_500.0  # R T / g · (1 + ...) at 196.7 K: about 6.27 km
    assert float(atmosphere.density_kg_per_m3(top + scale_height_m)) == pytest.approx(at / math.e, rel=1e-12)
    # Speed of sound held at its 81 km value.
    assert float(atmosphere.speed_of_sound_m_per_s(120_000.0)) == pytest.approx(
        float(atmosphere.speed_of_sound_m_per_s(top)), rel=1e-12
    )


def test_atmosphere_clamps_below_and_keeps_shapes():
    assert float(atmosphere.density_kg_per_m3(-20_000.0)) == float(atmosphere.density_kg_per_m3(-5_000.0))
    assert atmosphere.density_kg_per_m3(1000.0).shape == ()
    assert atmosphere.density_kg_per_m3(np.zeros((2, 3))).shape == (2, 3)
    assert atmosphere.speed_of_sound_m_per_s(np.zeros((4, 1, 2))).shape == (4, 1, 2)
    out = atmosphere.density_kg_per_m3([np.nan, 0.0])
    assert np.isnan(out[0]) and out[1] == pytest.approx(1.225, rel=1e-6)


# --- Gravity ---------------------------------------------------------------------------------------


def test_gravity_j2_closed_form_at_equator_and_pole():
    # From a = -μ r/r³ [1 + 1.5 J2 (a/r)² (1 - 5 z²/r²)] (x, y) and [... (3 - 5 z²/r²)] (z):
    # equator (r = a, z = 0): |g| = μ/a² (1 + 1.5 J2); pole (r = z = b): |g| = μ/b² (1 - 3 J2 (a/b)²).
    g_eq = gravity_m_per_s2([WGS84_A_M, 0.0, 0.0])
    g_pole = gravity_m_per_s2([0.0, 0.0, WGS84_B_M])
    np.testing.assert_allclose(g_eq, [-MU / WGS84_A_M**2 * (1 + 1.5 * WGS84_J2), 0.0, 0.0], rtol=1e-14)
    expected_pole = -MU / WGS84_B_M**2 * (1 - 3 * WGS84_J2 * (WGS84_A_M / WGS84_B_M) ** 2)
    np.testing.assert_allclose(g_pole, [0.0, 0.0, expected_pole], rtol=1e-14, atol=1e-14)


def test_gravity_j2_against_wgs84_normal_gravity():
    # Independent check: WGS-84 normal gravity (NIMA TR8350.2, 3rd ed., §4, Somigliana constants)
    # γ_e = 9.7803253359 m/s² at the equator (gravitation minus the centrifugal ω² a) and
    # γ_p = 9.8321849379 m/s² at the poles. The normal field also holds J4 and higher even zonals
    # (J4 ≈ -2.37e-6), which a J2 model leaves out: about 4e-5 m/s² at the equator and 1.2e-4 m/s²
    # at the poles, hence the tolerances.
    g_eq = -gravity_m_per_s2([WGS84_A_M, 0.0, 0.0])[0] - WGS84_OMEGA_RAD_PER_S**2 * WGS84_A_M
    g_pole = -gravity_m_per_s2([0.0, 0.0, WGS84_B_M])[2]
    assert g_eq == pytest.approx(9.7803253359, abs=6e-5)
    assert g_pole == pytest.approx(9.8321849379, abs=1.5e-4)


def test_gravity_is_minus_gradient_of_potential():
    rng = np.random.default_rng(2)
    direction = rng.normal(size=(20, 3))
    pos = direction / np.linalg.norm(direction, axis=1, keepdims=True) * rng.uniform(6.4e6, 4.2e7, (20, 1))
    step_m = 1.0
    for model in ("j2", "point_mass"):
        grad = np.zeros_like(pos)
        for k in range(3):
            dp = np.zeros(3)
            dp[k] = step_m
            grad[:, k] = (
                gravitational_potential_m2_per_s2(pos + dp, gravity=model)
                - gravitational_potential_m2_per_s2(pos - dp, gravity=model)
            ) / (2 * step_m)
        # central difference error ~ step² U''' ~ 1e-12 relative; rounding of U (6e7) / 2 m ~ 1e-8 m/s².
        np.testing.assert_allclose(-grad, gravity_m_per_s2(pos, gravity=model), rtol=1e-8, atol=1e-7)
    assert np.all(gravity_m_per_s2(pos, gravity="off") == 0.0)


def test_gravity_refuses_unknown_model():
    with pytest.raises(ValueError, match="gravity must be one of"):
        gravity_m_per_s2([7e6, 0.0, 0.0], gravity="j4")  # type: ignore[arg-type]


# --- Kepler ----------------------------------------------------------------------------------------


def _kepler_fg(r0, v0, dt_s):
    """Closed-form two-body propagation with Lagrange f and g in the eccentric-anomaly difference ΔE.

    Battin (1999), *An Introduction to the Mathematics and Methods of Astrodynamics*, §4.3-4.4
    (also Curtis 2014, §3.7 in universal-variable form): with a = 1/(2/r0 - v0²/μ), σ0 = r0·v0/√μ,
    Kepler's equation  √(μ/a³) Δt = ΔE - (1 - r0/a) sin ΔE + σ0/√a (1 - cos ΔE)  is solved by Newton,
    then r = a + (r0 - a) cos ΔE + σ0 √a sin ΔE,  f = 1 - a/r0 (1 - cos ΔE),
    g = Δt + √(a³/μ) (sin ΔE - ΔE),  ḟ = -√(μ a) sin ΔE / (r r0),  ġ = 1 - a/r (1 - cos ΔE).
    """
    r0n = np.linalg.norm(r0)
    a = 1.0 / (2.0 / r0n - v0 @ v0 / MU)
    sigma0 = r0 @ v0 / math.sqrt(MU)
    n = math.sqrt(MU / a**3)
    de = n * dt_s
    for _ in range(50):
        f_val = de - (1 - r0n / a) * math.sin(de) + sigma0 / math.sqrt(a) * (1 - math.cos(de)) - n * dt_s
        f_der = 1 - (1 - r0n / a) * math.cos(de) + sigma0 / math.sqrt(a) * math.sin(de)
        step = f_val / f_der
        de -= step
        if abs(step) < 1e-15:
            break
    r = a + (r0n - a) * math.cos(de) + sigma0 * math.sqrt(a) * math.sin(de)
    f = 1 - a / r0n * (1 - math.cos(de))
    g = dt_s + math.sqrt(a**3 / MU) * (math.sin(de) - de)
    fdot = -math.sqrt(MU * a) * math.sin(de) / (r * r0n)
    gdot = 1 - a / r * (1 - math.cos(de))
    return f * r0 + g * v0, fdot * r0 + gdot * v0


def test_vacuum_coast_matches_kepler_conic():
    # Inertial frame (no rotation), point-mass gravity, no air: the ODE is the two-body problem, so
    # the trajectory is the Kepler ellipse. A 7 km/s arc from 300 km, climbing at 25°, in an
    # inclined plane; it flies 37 minutes to impact. 1 m over the whole arc is 1.5e-7 of r. At the
    # default tolerances (rtol 1e-9) the largest miss is 0.06 m, 0.006 m at rtol 1e-10 (measured).
    pos0, vel0 = _state_from_geodetic(20.0, 30.0, 300e3, 7_000.0, 60.0, 25.0)
    body = Vehicle(stages=(), payload_kg=1000.0)
    traj = fly(
        body, [Phase("coast", Coast())], pos0, vel0, launch_time_s=500.0,
        gravity="point_mass", earth_rotation=False,
    )  # fmt: skip
    assert traj.end_reason == "impact"
    assert 1800.0 < traj.end_time_s - 500.0 < 4000.0
    t = np.linspace(traj.launch_time_s, traj.end_time_s, 3001)
    pos, vel, active, _ = traj.sample(t)
    assert active.all()
    expected = [_kepler_fg(pos0, vel0, dt) for dt in (t - 500.0).tolist()]
    exp_pos = np.array([e[0] for e in expected])
    exp_vel = np.array([e[1] for e in expected])
    assert np.max(np.linalg.norm(pos - exp_pos, axis=1)) < 1.0  # metres
    assert np.max(np.linalg.norm(vel - exp_vel, axis=1)) < 1e-3  # m/s
    # Specific orbital energy ½v² - μ/r: measured drift 1.6e-8 at the default tolerances (0.6 J/kg,
    # a 1e-4 m/s speed error); 1e-7 allowed, 10x inside the 1e-6 the physics needs.
    energy = 0.5 * np.sum(vel**2, axis=1) - MU / np.linalg.norm(pos, axis=1)
    assert np.max(np.abs(energy / energy[0] - 1.0)) < 1e-7
    # The reported impact is on the ellipsoid: its height is zero to the event root finder's precision.
    assert abs(ecef_to_geodetic(traj.impact.pos_m)[2]) < 1e-3


# --- Conservation in the rotating frame ------------------------------------------------------------


@pytest.mark.parametrize(
    ("rtol", "atol_m", "atol_m_per_s", "allowed"),
    [(1e-9, 1e-3, 1e-6, 1e-8), (1e-12, 1e-6, 1e-9, 1e-10)],
)
def test_jacobi_integral_conserved_with_rotation_and_j2(rtol, atol_m, atol_m_per_s, allowed):
    # Without thrust and air, ε = ½v² + U - ½|ω×r|² is an exact integral of the rotating-frame
    # equations (Coriolis does no work), so its drift is integration error only and shrinks with
    # the tolerance. At the defaults (rtol 1e-9) the drift over this 32-minute arc is 5e-9 |ε|
    # (0.2 J/kg: a 3e-5 m/s speed error at 6.5 km/s, or 2 cm of height); at rtol 1e-12, 8e-12.
    pos0, vel0 = _state_from_geodetic(40.0, 10.0, 150e3, 6_500.0, 100.0, 30.0)
    traj = fly(
        Vehicle((), payload_kg=800.0), [Phase("coast", Coast())], pos0, vel0,
        rtol=rtol, atol_m=atol_m, atol_m_per_s=atol_m_per_s,
    )  # fmt: skip
    t = np.linspace(traj.launch_time_s, traj.end_time_s, 2001)
    pos, vel, _, _ = traj.sample(t)
    eps = jacobi_energy_m2_per_s2(pos, vel)
    assert np.max(np.abs(eps - eps[0])) < allowed * abs(eps[0])


def test_drag_only_never_raises_the_jacobi_energy():
    # A re-entry vehicle from 120 km at 6.5 km/s, 25° down: drag only. ε may only fall; the allowance
    # 1e-9 |ε| per sample is the integration noise while drag is still negligible above 90 km.
    vehicle = Vehicle((), payload_kg=500.0, reference_area_m2=0.126, aero=AeroTable.reentry_vehicle())
    pos0, vel0 = _state_from_geodetic(30.0, 50.0, 120e3, 6_500.0, 45.0, -25.0)
    traj = fly(vehicle, [Phase("terminal", Coast())], pos0, vel0)
    assert traj.end_reason == "impact"
    t = np.linspace(traj.launch_time_s, traj.end_time_s, 4001)
    pos, vel, _, _ = traj.sample(t)
    eps = jacobi_energy_m2_per_s2(pos, vel)
    assert np.all(np.diff(eps) <= 1e-9 * abs(eps[0]))
    assert eps[-1] < eps[0] - 1e7  # most of the 21 MJ/kg of kinetic energy went into the air
    acc = traj.accelerations(t[::40])
    v = vel[::40]
    # Drag is antiparallel to the velocity: cross product zero to rounding.
    cross = np.linalg.norm(np.cross(acc.drag, v), axis=1)
    assert np.all(cross <= 1e-12 * np.linalg.norm(acc.drag, axis=1) * np.linalg.norm(v, axis=1) + 1e-300)
    assert np.all(np.einsum("ij,ij->i", acc.drag, v) <= 0.0)
    assert np.all(acc.lift == 0.0) and np.all(acc.thrust == 0.0)


def test_lift_does_no_work_and_energy_loss_equals_drag_work():
    # A glide vehicle at 60 km, 5 km/s, weaving (bank 0.6 sin(2π s / 80 s)): lift is perpendicular to v,
    # so dε/dt = a_drag · v exactly. Compare ε(t1) - ε(t0) with ∫ a_drag·v dt (Simpson on 4001
    # samples); 1e-6 of the loss is far below the integration tolerance's effect on it.
    vehicle = Vehicle((), payload_kg=1000.0, reference_area_m2=0.5, aero=AeroTable.glide_vehicle())
    weave = Glide(bank_rad=lambda s: 0.6 * math.sin(2 * math.pi * s / 80.0))
    pos0, vel0 = _state_from_geodetic(25.0, 120.0, 60e3, 5_000.0, 270.0, 0.0)
    traj = fly(vehicle, [Phase("glide", weave, duration_s=240.0)], pos0, vel0, launch_time_s=30.0)
    assert traj.end_reason == "end_of_phases"
    t = np.linspace(traj.launch_time_s, traj.end_time_s, 4001)
    pos, vel, _, _ = traj.sample(t)
    acc = traj.accelerations(t)
    lift_norm = np.linalg.norm(acc.lift, axis=1)
    assert np.all(lift_norm > 0.3)  # lift really acts (m/s²)
    lift_power = np.einsum("ij,ij->i", acc.lift, vel)
    assert np.all(np.abs(lift_power) <= 1e-12 * lift_norm * np.linalg.norm(vel, axis=1))
    drag_power = np.einsum("ij,ij->i", acc.drag, vel)
    eps = jacobi_energy_m2_per_s2(pos, vel)
    loss = eps[-1] - eps[0]
    assert loss < -1e5
    assert loss == pytest.approx(simpson(drag_power, x=t), rel=1e-6)
    # The fast scalar gravity in the right-hand side equals the vectorised reference.
    np.testing.assert_allclose(acc.gravity, gravity_m_per_s2(pos), rtol=1e-13)


def test_positive_bank_turns_right():
    # Flying west, lift banked to the right (σ > 0) turns the vehicle north; σ < 0 turns it south.
    vehicle = Vehicle((), payload_kg=1000.0, reference_area_m2=0.5, aero=AeroTable.glide_vehicle())
    pos0, vel0 = _state_from_geodetic(0.0, 0.0, 50e3, 4_000.0, 270.0, 0.0)
    lat_end = {}
    for sign in (+1.0, -1.0):
        traj = fly(vehicle, [Phase("glide", Glide(bank_rad=sign * 0.7), duration_s=60.0)], pos0, vel0)
        lat_end[sign] = float(ecef_to_geodetic(traj.sample(traj.end_time_s)[0])[0])
    assert lat_end[+1.0] > 0.01 * DEG and lat_end[-1.0] < -0.01 * DEG


# --- Propulsion ------------------------------------------------------------------------------------


class _FixedInertialDirection:
    """Thrust along a fixed ECEF direction (a test control)."""

    def command(self, t_s, elapsed_s, pos_m, vel_m_per_s):
        return Command((0.0, 1.0, 0.0))


def test_staging_mass_drop_and_rocket_equation():
    # No gravity, no air, no rotation: each stage adds exactly Tsiolkovsky's Δv = Isp g0 ln(m0/m1)
    # (Tsiolkovsky 1903; Sutton & Biblarz, Rocket Propulsion Elements, eq. 4-6). Tolerance 1e-6 m/s.
    stages = (Stage(10_000.0, 1_200.0, 260.0, 60.0), Stage(3_000.0, 400.0, 290.0, 50.0))
    vehicle = Vehicle(stages, payload_kg=700.0)
    t0 = 12.5
    phases = [
        Phase("boost", _FixedInertialDirection(), duration_s=vehicle.burn_s),
        Phase("coast", Coast(), duration_s=10.0),
    ]
    traj = fly(
        vehicle, phases, [7.0e6, 0.0, 0.0], launch_time_s=t0,
        gravity="off", earth_rotation=False, rtol=1e-12, atol_m=1e-6, atol_m_per_s=1e-9,
    )  # fmt: skip
    assert traj.end_reason == "end_of_phases"
    assert [b.t_s for b in traj.burnouts] == [t0 + 60.0, t0 + 110.0]
    assert traj.burnout is traj.burnouts[-1]
    m0 = vehicle.launch_mass_kg
    assert m0 == pytest.approx(10_000 + 1_200 + 3_000 + 400 + 700)
    g0 = STANDARD_GRAVITY_M_PER_S2
    dv1 = 260.0 * g0 * math.log(m0 / (m0 - 10_000.0))
    m2 = m0 - 10_000.0 - 1_200.0
    dv2 = 290.0 * g0 * math.log(m2 / (m2 - 3_000.0))
    assert traj.burnouts[0].vel_m_per_s[1] == pytest.approx(dv1, abs=1e-6)
    assert traj.burnouts[1].vel_m_per_s[1] == pytest.approx(dv1 + dv2, abs=1e-6)
    # Mass: linear burn, then exactly the dry mass drops at burnout (the instant belongs to after).
    t_b = t0 + 60.0
    assert float(traj.mass_kg(t_b)) == m0 - 10_000.0 - 1_200.0
    assert float(traj.mass_kg(t_b - 1e-6)) == pytest.approx(m0 - 10_000.0 + 1e-6 * 10_000.0 / 60.0, abs=1e-8)
    assert float(traj.mass_kg(t0 + 30.0)) == pytest.approx(m0 - 5_000.0, abs=1e-9)
    assert float(traj.mass_kg(traj.end_time_s)) == 700.0
    assert np.isnan(traj.mass_kg(t0 - 1.0))
    # Thrust acceleration = F / m with F = ṁ Isp g0.
    acc = traj.accelerations(np.array([t0 + 30.0]))
    assert acc.thrust[0, 1] == pytest.approx(stages[0].thrust_n / (m0 - 5_000.0), rel=1e-12)


def _two_stage_missile():
    vehicle = Vehicle(
        stages=(Stage(12_000.0, 1_300.0, 250.0, 65.0), Stage(3_500.0, 400.0, 265.0, 55.0)),
        payload_kg=600.0,
        reference_area_m2=math.pi * 0.88**2 / 4,
        aero=AeroTable.boost_stack(),
    )
    steering = gravity_turn_program(8.0, 20.0 * DEG, 45.0 * DEG, kick_s=4.0)
    phases = [
        Phase("boost", steering, duration_s=vehicle.burn_s),
        Phase("midcourse", Coast(), end=PhaseEnd.altitude_crossing(100e3)),
        Phase("terminal", Coast(), aero=AeroTable.reentry_vehicle(), reference_area_m2=0.126),
    ]
    return vehicle, phases


def test_two_stage_gravity_turn_flight_and_sampling():
    vehicle, phases = _two_stage_missile()
    launch = geodetic_to_ecef(35.0 * DEG, 40.0 * DEG, 0.0)
    traj = fly(vehicle, phases, launch, launch_time_s=100.0)
    assert traj.end_reason == "impact"
    assert traj.phase_names == ("boost", "midcourse", "terminal")
    assert traj.phase_start_s[0] == 100.0 and traj.phase_end_s[0] == 100.0 + vehicle.burn_s
    assert traj.phase_start_s[1] == traj.phase_end_s[0] and traj.phase_start_s[2] == traj.phase_end_s[1]
    assert traj.burnout is not None and traj.burnout.t_s == 100.0 + vehicle.burn_s
    # The midcourse ended where its event said: 100 km on the way down.
    pos_mid_end = traj.sample(traj.phase_end_s[1])[0]
    assert float(ecef_to_geodetic(pos_mid_end)[2]) == pytest.approx(100e3, abs=1e-3)
    # Impact: height zero to the root finder (1 mm); the dense output agrees to a few metres.
    assert traj.impact is not None and traj.impact.t_s == traj.end_time_s
    assert abs(float(ecef_to_geodetic(traj.impact.pos_m)[2])) < 1e-3
    lat, lon, _ = ecef_to_geodetic(traj.impact.pos_m)
    assert traj.impact.lat_rad == pytest.approx(float(lat))
    assert traj.impact.lon_rad == pytest.approx(float(lon))
    assert abs(float(ecef_to_geodetic(traj.sample(traj.end_time_s)[0])[2])) < 3.0
    # Heading north-east (azimuth 45°), about 2,700 km downrange with this lofted 20° kick.
    assert traj.impact.lat_rad > 35.0 * DEG and traj.impact.lon_rad > 40.0 * DEG

    # Shapes and activity.
    t = np.linspace(90.0, traj.end_time_s + 10.0, 50)
    pos, vel, active, phase = traj.sample(t)
    assert pos.shape == (50, 3) and vel.shape == (50, 3) and active.shape == (50,) and phase.shape == (50,)
    assert np.array_equal(active, (t >= 100.0) & (t <= traj.end_time_s))
    assert np.all(np.isnan(pos[~active])) and np.all(np.isnan(vel[~active])) and np.all(phase[~active] == -1)
    assert np.all(np.isfinite(pos[active]))
    pos2, _, active2, phase2 = traj.sample(t.reshape(5, 10))
    assert pos2.shape == (5, 10, 3) and active2.shape == (5, 10) and phase2.shape == (5, 10)
    np.testing.assert_array_equal(pos2.reshape(50, 3), pos)
    _, _, active_nan, phase_nan = traj.sample([np.nan])
    assert not active_nan[0] and phase_nan[0] == -1

    # Phase indices at boundaries: a boundary instant belongs to the later phase.
    b1, b2 = traj.phase_start_s[1], traj.phase_start_s[2]
    _, _, _, idx = traj.sample([100.0, b1 - 1e-6, b1, b2 - 1e-6, b2, traj.end_time_s])
    assert idx.tolist() == [0, 0, 1, 1, 2, 2]
    # Position is continuous across the staging and phase boundaries (separate integration segments).
    p_before, _, _, _ = traj.sample([b1 - 1e-7, b1])
    assert np.linalg.norm(p_before[1] - p_before[0]) < 1e-2
    # Burnout state agrees with the dense output; apogee is the highest sampled height.
    np.testing.assert_allclose(traj.sample(traj.burnout.t_s)[0], traj.burnout.pos_m, atol=1e-6)
    heights = ecef_to_geodetic(traj.sample(np.linspace(100.0, traj.end_time_s, 4001))[0])[2]
    assert traj.apogee_alt_m >= heights.max() - 1e-3
    assert traj.apogee_alt_m - heights.max() < 5.0
    assert b1 < traj.apogee_time_s < b2


def test_vertical_rise_is_vertical_and_kick_tilts_toward_azimuth():
    vehicle, phases = _two_stage_missile()
    lat, lon = 0.0, 20.0 * DEG
    launch = geodetic_to_ecef(lat, lon, 0.0)
    traj = fly(vehicle, phases[:1], launch, earth_rotation=False, gravity="point_mass")
    # Without rotation, at the equator (where the geodetic up and the pull of a point mass are both
    # radial) vertical thrust from rest keeps the velocity exactly vertical: 1e-9 rad is rounding.
    _, vel, _, _ = traj.sample(np.array([4.0, 7.9]))
    up = geodetic_to_ecef(lat, lon, 1.0) - launch
    for v in vel:
        assert abs(float(np.linalg.norm(np.cross(v, up))) / np.linalg.norm(v)) < 1e-9
    # After the kick the velocity leans toward the north-east (azimuth 45°).
    _, vel_after, _, _ = traj.sample(np.array([20.0]))
    east = np.array([-math.sin(lon), math.cos(lon), 0.0])
    north = np.array([-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat)])
    ve, vn = float(vel_after[0] @ east), float(vel_after[0] @ north)
    assert ve > 10.0 and vn > 10.0 and abs(math.atan2(ve, vn) - 45.0 * DEG) < 2.0 * DEG


def test_scheduled_bank_reversal_and_altitude_events():
    # A bank reversal via Scheduled (a breakpoint: the integrator restarts there), ended by an
    # apogee-type event; checks the custom PhaseEnd plumbing and FixedEnu-free glide.
    vehicle = Vehicle((), payload_kg=1000.0, reference_area_m2=0.5, aero=AeroTable.glide_vehicle())
    control = Scheduled(((0.0, Glide(bank_rad=0.5)), (30.0, Glide(bank_rad=-0.5))))
    assert control.breakpoints_s == (30.0,)
    pos0, vel0 = _state_from_geodetic(0.0, 0.0, 40e3, 3_000.0, 0.0, 5.0)
    phases = [Phase("pull-up", control, end=PhaseEnd.apogee()), Phase("glide", Coast(), duration_s=5.0)]
    traj = fly(vehicle, phases, pos0, vel0)
    assert traj.end_reason == "end_of_phases"
    t_apo = traj.phase_end_s[0]
    _, vel, _, _ = traj.sample(t_apo)
    lat, lon, _ = ecef_to_geodetic(traj.sample(t_apo)[0])
    up = geodetic_to_ecef(lat, lon, 1.0) - geodetic_to_ecef(lat, lon, 0.0)
    assert abs(float(vel @ up)) < 1e-6  # climb rate zero at the apogee event (m/s)
    assert traj.apogee_time_s == pytest.approx(t_apo, abs=1e-6)
    # The same reversal as a step function of time with its breakpoint listed flies the same path
    # (the control only sees each segment's own side of the step): agreement to 1 mm.
    step = Glide(bank_rad=lambda s: 0.5 if s < 30.0 else -0.5, breakpoints_s=(30.0,))
    twin = fly(vehicle, [Phase("pull-up", step, end=PhaseEnd.apogee()), phases[1]], pos0, vel0)
    t = np.linspace(0.0, min(traj.end_time_s, twin.end_time_s), 201)
    np.testing.assert_allclose(twin.sample(t)[0], traj.sample(t)[0], atol=1e-3)


# --- Errors that teach -----------------------------------------------------------------------------


def test_errors_teach():
    heavy = Vehicle((Stage(1_000.0, 100.0, 200.0, 100.0),), payload_kg=5_000.0)
    launch = geodetic_to_ecef(0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="thrust-to-weight"):
        fly(heavy, [Phase("boost", FixedEnu.vertical())], launch)
    light = Vehicle((Stage(1_000.0, 100.0, 250.0, 20.0),), payload_kg=50.0)
    with pytest.raises(ValueError, match="no thrust direction"):
        fly(light, [Phase("boost", Coast())], launch)
    with pytest.raises(ValueError, match="strictly increasing"):
        AeroTable([0.0, 2.0, 1.0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="reference_area_m2"):
        Vehicle((), payload_kg=10.0, aero=AeroTable.reentry_vehicle())
    with pytest.raises(TypeError, match="command"):
        Phase("boost", object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one Phase"):
        fly(light, [], launch)
    with pytest.raises(ValueError, match=r"Stage\.burn_s"):
        Stage(100.0, 10.0, 250.0, 0.0)
    traj = fly(Vehicle((), payload_kg=1.0), [Phase("coast", Coast(), duration_s=5.0)], [7e6, 0.0, 0.0])
    with pytest.raises(ValueError, match="dense_output"):
        fly(Vehicle((), payload_kg=1.0), [Phase("coast", Coast(), duration_s=5.0)], [7e6, 0.0, 0.0],
            dense_output=False).sample([1.0])  # fmt: skip
    assert traj.sample(2.0)[2]
