"""Hypersonic glide vehicles (HGVs): a generic boost-glide system flown by the 3-DOF model.

`fly_glide` turns a scenario's ``glide_vehicle`` (launch and aim points, glide-entry altitude and
speed, manoeuvre) into a `Missile` whose trajectory has the phases ``boost`` → ``glide`` →
``terminal``; `plan_glide` returns the solved `GlidePlan` (vehicle, phases, release state, manoeuvre
schedule) and `GlidePlan.fly` flies it. The physics is all `kizuna.truth.flight` (J2 gravity,
rotating Earth, standard atmosphere, drag, lift with a bank angle); this module defines the vehicle
and its steering laws and solves for their free parameters. Cost: ≈ 0.5 s per vehicle on a slow
2-core machine (≈ 0.15 s of boost solve, ≈ 0.35 s for the flight at `fly`'s default accuracy).

The system (generic and illustrative, not any real weapon)
----------------------------------------------------------
* **Glider** (`Glider`): 1,000 kg, reference area 0.5 m², the order of the open "CAV-H" model of
  public boost-glide studies (≈ 907 kg, 0.484 m²: T. H. Phillips, *A Common Aero Vehicle (CAV)
  Model, Description, and Employment Guide*, Schafer Corp., 2003, used e.g. by C. L. Tracy and
  D. Wright, "Modeling the performance of hypersonic boost-glide missiles", Science & Global
  Security 28(3), 2020); aerodynamics `AeroTable.glide_vehicle` (L/D ≈ 2.5, C_L ≈ 0.36 above
  Mach 5); nose radius 5 cm, hot area 0.02 m² and body area 4 m² for the infrared proxy. Its wing
  loading m / (S C_L) ≈ 5,600 kg/m² puts its equilibrium glide near 40 km at 5 km/s and 30 km at
  2.5 km/s.
* **Booster** (`Booster`, `boost_glide_vehicle`): two solid stages with the published orders of
  magnitude of composite-propellant motors (Sutton & Biblarz, *Rocket Propulsion Elements*, 9th
  ed., 2017, ch. 12-13): specific impulse 265 s (stage 1; `flight` has no back-pressure loss, so a
  value between sea level and vacuum) and 290 s (stage 2, vacuum), inert mass 10 % of each loaded
  stage, burns of 65 s and 60 s. Stage 1 is sized for an ideal Δv of ½ (v_entry + 800 m/s), so its
  propellant is a fixed multiple of the mass above it; with the stack's drag area proportional to
  its lift-off mass (23 t per m², ≈ 1 m across at 18 t; `AeroTable.boost_stack` for both stages),
  stage 1 then flies the same path whatever the stack's size. Stage 2 is sized to the ordered
  entry speed. For the default 60 km / 5,000 m/s entry the stack weighs ≈ 13.6 t at lift-off
  (9.2 t and 2.2 t of propellant, thrust-to-weight 2.7, 0.87 m across), the class of public
  two-stage medium-range solid missiles.

Boost: a depressed trajectory, solved by root-finding
-----------------------------------------------------
Vertical rise (5 s), a pitch-over kick held 4 s toward the aim's great-circle azimuth, a gravity
turn for the rest of stage 1, then stage 2 under explicit guidance that brings the height to the
ordered entry altitude h_e with zero climb rate at burnout. With τ the time to burnout (≥ 5 s),
the energy-optimal acceleration of a double integrator that must reach h_e with ḣ = 0 after τ
(Bryson & Ho, *Applied Optimal Control*, 1975, terminal-state control; the idea of Cherry's
E-guidance, AIAA 64-638, 1964) is

    a_z = 6 (h_e - h - ḣ τ) / τ² + 2 ḣ / τ,

so the thrust's vertical share is sin ε = (a_z + g_eff) m / T (|sin ε| ≤ 0.8) and the rest points
along the bearing to the aim. Two one-dimensional solves (steps to a bracket, then Illinois regula
falsi), each trial flown by `fly` at rtol 1e-8 without dense output, set the free parameters: the
kick angle, so that the stage-1 burnout state would coast to an apogee of
clip(h_e + 20 km, 50 km, 100 km) (residual < 2 km; stage-1-only flights), then the stage-2
propellant, so that the burnout speed is the ordered one (residual < 1 m/s; stage-2-only flights
from the stage-1 burnout); 7 trial flights in all for the default entry, at most 18 seen. Measured
over entry altitudes 30-80 km and speeds 2.5-7 km/s: released within 20 m of the ordered altitude,
1 m/s of the ordered speed and 0.8° of level. The glide phase begins at that release (stage-2
burnout).

Glide: equilibrium glide under closed-loop guidance
---------------------------------------------------
After release the glider sinks into the equilibrium glide, where lift balances weight less the
centripetal term (Vinh, Busemann & Culp, *Hypersonic and Planetary Entry Flight Mechanics*, 1980;
Regan & Anandakrishnan, *Dynamics of Atmospheric Re-Entry*, 1993):

    L cos σ / m = g - v²/r = g_eff.

Along it, with vertical lift-to-drag ratio E (= f (L/D) cos σ for lift fraction f and bank σ), the
speed falls as dv/dt = -g_eff / E, and the ground range flown while slowing from v to v_t is

    s = E (r/2) ln[(g - v_t²/r) / (g - v²/r)]                                          (1)

(range = ∫ v dv / D, the integral the Space Shuttle's entry guidance steers through its drag
acceleration D: Harpold & Graves, J. Astronautical Sciences 27(3), 1979).

* Energy management: E_des = (range to go - R_dive) / [(r/2) ln((g - v_t²/r) / (g - v²/r))], the
  vertical L/D that makes eq. (1) end the glide at the dive with the design speed
  v_t = min(2,500 m/s, 0.75 v_entry); R_dive is the dive range at 30 km and v_t. E_des is held
  between 0.6 and 1 times the table's L/D, so a short shot arrives fast rather than low and slow.
* Vertical law: the lift's vertical component is a_up = E_des D - k_d ḣ (D the drag acceleration).
  In equilibrium a_up = g_eff: the glider settles where D = g_eff / E_des, and the ḣ term damps the
  phugoid (ω = sqrt(g_eff / H), H = 7 km the density scale height; k_d = 2 ζ ω, ζ = 0.7).
* Lateral law (heading alignment): a_right = v_h Δψ / 60 s, Δψ the bearing to the aim minus the
  heading (aim to the right: bank right), at most 45° of bank, plus a feed-forward cancelling the
  lateral Coriolis acceleration.
* The command (a_up, a_right) becomes the bank σ = atan2(a_right, a_up) and the lift fraction
  f = |(a_up, a_right)| / (q S C_L / m), at most 1 (direction kept: a glider short of lift keeps its
  bank and sinks into denser air until lift suffices).

Manoeuvres (`Manoeuvre`), timed in seconds of glide by a `ManoeuvreSchedule` from the glide time
predicted by eq. (1) and dv/dt = -g_eff / E; a window opens 250 s after release (or at 30 % of the
glide if sooner, after the entry transient) and must close by 75 % of the glide:

* ``straight``: the guidance alone.
* ``s_weave``: bank ±σ_m (`Manoeuvre.bank_rad`), reversed every T = ``period_s``, the first
  interval T/2 long so that the heading swings about its mean. The lateral acceleration is
  a = g_eff tan σ_m, so the cross-range is piecewise parabolic, a T² / 4 from crest to trough
  (half-amplitude a T² / 8). A slow correction (time constant max(4 T, 300 s)) pulls the mean
  heading (the heading less the weave's predicted swing) to the aim. The weave ends after whole
  cycles, where its heading swing and lateral velocity are zero.
* ``dog_leg``: the cross-range from the great circle (release → aim) tracks a reference that turns
  away at a = 0.9 g_eff(v_entry) tan σ_m for t1 = sqrt(|Y| / a), then back for t1, reaching the
  offset Y = ``cross_range_m`` (positive: right of the track) with zero lateral velocity
  (y = a t1²); the heading guidance then turns it back toward the aim. Tracking: the reference's
  acceleration plus a PD loop (ω = 0.03 rad/s, ζ = 0.8), at most σ_m + 20° (≤ 75°) of bank.
* ``skip``: at 40 % of the glide, a push-over (no lift) for T/4, then a pull-up at full lift for
  T/2, then the glide law again: the glider dips, zooms above its glide height and sinks back
  (T = 120 s: -6 km, +7 km, -6 km).

Terminal: a proportional-navigation dive
----------------------------------------
The glide ends when the range to go falls below 1.2 R_min(h, v), R_min being the least ground range
from which the dive below hits the aim starting level at height h and speed v: a table measured
with this module's own dive law (heights 20-70 km, speeds 1.5-7 km/s; bilinear; heights shifted by
H ln(w / w0) for a glider of another wing loading w = m / S). The dive is proportional navigation
with gravity and frame compensation (Zarchan, *Tactical and Strategic Missile Guidance*, AIAA,
ch. 2): a = -N V_c v⊥ / R - (g + frame)⊥, N = 3, V_c the closing speed, v⊥ the velocity across
the line of sight of length R; the component along v is dropped (lift cannot change speed). It
begins as a push-over (lift pointing down, bank beyond 90°). From the default entry, 1,500-3,000
km shots begin the dive at 30-38 km and 2.5-4.3 km/s and hit 18-27° steep at 1.0-1.4 km/s (drag
in the lower atmosphere takes most of the speed). The flight ends at impact, the aim's height.
`GlidePlan.fly` refuses an impact farther than `ARRIVAL_TOLERANCE_M` (10 km) from the aim;
measured misses are below a micrometre.

Errors that teach (`ValueError`, shown by the scenario check): an entry outside
`ENTRY_ALT_BAND_M` (30-80 km) or `ENTRY_SPEED_BAND_M_PER_S` (2.5-7 km/s); an aim too close for a
boost-glide profile (it needs room for the boost, 200 km of glide and the dive) or too far for the
energy (the glider lands short: when, where, how far short); a manoeuvre that does not fit into
the glide, or that brings the glider down early while the straight glide would arrive.

May import `kizuna.constants`, `kizuna.frames`, `kizuna.truth.atmosphere`, `kizuna.truth.flight`
(including its scalar helpers `_geodetic_scalar` and `AeroTable._scalar`, so guidance sees exactly
the model's geometry and aerodynamics), `kizuna.truth.missiles` and NumPy.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from kizuna.constants import (
    DEG,
    MEAN_EARTH_RADIUS_M,
    STANDARD_GRAVITY_M_PER_S2,
    WGS84_GM_M3_PER_S2,
    WGS84_OMEGA_RAD_PER_S,
)
from kizuna.frames import geodetic_to_ecef
from kizuna.truth.atmosphere import scalar_density_and_sound_speed
from kizuna.truth.flight import (
    AeroTable,
    Command,
    Phase,
    PhaseEnd,
    Stage,
    StateAt,
    Trajectory,
    Vehicle,
    _geodetic_scalar,
    fly,
)
from kizuna.truth.missiles import Missile

__all__ = [
    "ARRIVAL_TOLERANCE_M",
    "ENTRY_ALT_BAND_M",
    "ENTRY_SPEED_BAND_M_PER_S",
    "MANOEUVRE_KINDS",
    "Booster",
    "GlidePlan",
    "Glider",
    "Manoeuvre",
    "ManoeuvreSchedule",
    "boost_glide_vehicle",
    "dive_start_range_m",
    "fly_glide",
    "plan_glide",
]

Array = NDArray[np.float64]

MANOEUVRE_KINDS: tuple[str, ...] = ("straight", "s_weave", "dog_leg", "skip")
"""`Manoeuvre.kind` values (the scenario's ``glide_vehicle.manoeuvre.kind``)."""
ENTRY_ALT_BAND_M: tuple[float, float] = (30_000.0, 80_000.0)
"""Supported glide-entry altitudes [m]: below, the booster and glider would fly Mach 7-20 at dynamic
pressures of megapascals; above, the air is too thin for lift to hold the glider (it falls
ballistically for minutes before lift acts)."""
ENTRY_SPEED_BAND_M_PER_S: tuple[float, float] = (2_500.0, 7_000.0)
"""Supported glide-entry speeds [m/s]: below, the glide is a few hundred km at most; above, the
glider is nearly in orbit (circular speed ≈ 7.8 km/s) and lift would have to pull it down."""
ARRIVAL_TOLERANCE_M = 10_000.0
"""A flown glide vehicle must impact within this distance of its aim point [m] (measured: metres)."""

_MU = WGS84_GM_M3_PER_S2
_OMEGA = WGS84_OMEGA_RAD_PER_S
_G0 = STANDARD_GRAVITY_M_PER_S2
_RM = MEAN_EARTH_RADIUS_M

_H_SCALE_M = 7_000.0  # density scale height of the lower stratosphere, for the phugoid damping
_ZETA = 0.7  # phugoid damping ratio
_TAU_HEADING_S = 60.0  # heading-alignment time constant
_MAX_GUIDANCE_BANK_RAD = 45.0 * DEG
_E_MIN_FRACTION = 0.6  # lowest vertical L/D the energy manager asks for, as a fraction of the table's
_V_TERMINAL_M_PER_S = 2_500.0  # design speed at the start of the dive
_H_TERMINAL_M = 30_000.0  # typical height at the start of the dive (for the range estimate)
_DIVE_MARGIN = 1.2  # the dive starts at this multiple of its minimum range
_PN_GAIN = 3.0
_MANOEUVRE_START_S = 250.0
_MANOEUVRE_END_FRACTION = 0.75
_SKIP_START_FRACTION = 0.4
_DOG_LEG_OMEGA_RAD_PER_S = 0.03
_DOG_LEG_ZETA = 0.8
_MIN_GLIDE_RANGE_M = 200_000.0  # least glide (entry to dive start) for a boost-glide profile
_RTOL_SOLVE = 1e-8
_ENTRY_SPEED_TOL_M_PER_S = 10.0
_ENTRY_ALT_TOL_M = 1_000.0
_DEFAULT_WING_LOADING_KG_PER_M2 = 1000.0 / 0.5

# Minimum dive range R_min [km] from level flight at height h [km] (rows) and speed v [m/s] (columns):
# the least ground range from which `_TerminalGuidance` (with the terminal phase's passed-the-aim end)
# hits an aim at height 0 within 1 km, for this module's default glider flown by `fly` (rtol 1e-8)
# from the equator heading east: ranges stepped by 10 km to the first hit, then bisected 5 times
# (to 0.3 km). Recompute it if the dive law or the default glider changes.
_DIVE_H_KM = (20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0, 60.0, 70.0)
_DIVE_V_M_PER_S = (1_500.0, 2_000.0, 3_000.0, 4_000.0, 5_000.0, 6_000.0, 7_000.0)
_DIVE_RANGE_KM = (
    (38.0, 42.0, 46.0, 48.0, 48.0, 49.0, 49.0),  # 20 km
    (55.0, 62.0, 71.0, 75.0, 77.0, 78.0, 79.0),  # 25 km
    (72.0, 86.0, 103.0, 112.0, 118.0, 121.0, 123.0),  # 30 km
    (90.0, 110.0, 141.0, 161.0, 173.0, 182.0, 187.0),  # 35 km
    (105.0, 133.0, 180.0, 215.0, 242.0, 263.0, 279.0),  # 40 km
    (118.0, 153.0, 216.0, 271.0, 320.0, 363.0, 402.0),  # 45 km
    (130.0, 170.0, 248.0, 322.0, 397.0, 474.0, 558.0),  # 50 km
    (140.0, 185.0, 275.0, 367.0, 468.0, 586.0, 742.0),  # 55 km
    (149.0, 199.0, 300.0, 408.0, 532.0, 694.0, 953.0),  # 60 km
    (166.0, 223.0, 342.0, 477.0, 644.0, 890.0, 1430.0),  # 70 km
)


# --- The vehicle ----------------------------------------------------------------------------------


def _finite_positive(value: float, what: str) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"{what} must be finite and > 0; got {value!r}.")
    return v


@dataclass(frozen=True)
class Manoeuvre:
    """What the glider does on top of its guidance during the glide (see the module docstring).

    ``kind``: one of `MANOEUVRE_KINDS`. ``period_s``: S-weave time between bank reversals; skip:
    push-over for a quarter of it, pull-up for half. ``bank_rad``: the manoeuvre's bank angle
    (S-weave, dog-leg), 0 ≤ σ ≤ 85°. ``cross_range_m``: dog-leg lateral offset, positive to the
    right of the track (looking along the flight), negative to the left.
    """

    kind: str = "straight"
    period_s: float = 120.0
    bank_rad: float = 30.0 * DEG
    cross_range_m: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in MANOEUVRE_KINDS:
            raise ValueError(f"Manoeuvre.kind must be one of {MANOEUVRE_KINDS}; got {self.kind!r}.")
        _finite_positive(self.period_s, "Manoeuvre.period_s")
        bank = float(self.bank_rad)
        if not (math.isfinite(bank) and 0.0 <= bank <= 85.0 * DEG):
            raise ValueError(
                f"Manoeuvre.bank_rad must be between 0 and 85° (1.48 rad); got {self.bank_rad!r} rad: "
                "beyond that the lift's vertical share, cos σ, cannot hold the glider up."
            )
        if not math.isfinite(float(self.cross_range_m)):
            raise ValueError(f"Manoeuvre.cross_range_m must be finite; got {self.cross_range_m!r}.")


@dataclass(frozen=True, eq=False)
class Glider:
    """The glide body: mass, aerodynamics and the dimensions the infrared proxy needs."""

    mass_kg: float = 1_000.0
    reference_area_m2: float = 0.5
    nose_radius_m: float = 0.05
    hot_area_m2: float = 0.02
    body_area_m2: float = 4.0
    aero: AeroTable = field(default_factory=AeroTable.glide_vehicle)

    def __post_init__(self) -> None:
        for name in ("mass_kg", "reference_area_m2", "nose_radius_m", "hot_area_m2", "body_area_m2"):
            _finite_positive(getattr(self, name), f"Glider.{name}")


@dataclass(frozen=True)
class Booster:
    """The generic two-stage solid booster family (see the module docstring for the sources)."""

    stage1_isp_s: float = 265.0
    stage1_burn_s: float = 65.0
    stage2_isp_s: float = 290.0
    stage2_burn_s: float = 60.0
    inert_fraction: float = 0.10
    """Inert (dry) mass as a fraction of each stage's loaded mass."""
    stack_mass_per_area_kg_per_m2: float = 23_000.0
    """Lift-off mass per unit of drag reference area: fixes the stack's area for its size."""
    vertical_rise_s: float = 5.0
    kick_s: float = 4.0

    def __post_init__(self) -> None:
        for name in ("stage1_isp_s", "stage1_burn_s", "stage2_isp_s", "stage2_burn_s",
                     "stack_mass_per_area_kg_per_m2", "vertical_rise_s", "kick_s"):  # fmt: skip
            _finite_positive(getattr(self, name), f"Booster.{name}")
        if not 0.0 < self.inert_fraction < 0.5:
            raise ValueError(f"Booster.inert_fraction must be in (0, 0.5); got {self.inert_fraction!r}.")
        if self.vertical_rise_s + self.kick_s >= self.stage1_burn_s:
            raise ValueError("Booster: the vertical rise and kick must end before stage 1 burns out.")

    def dry_kg(self, propellant_kg: float) -> float:
        """Inert mass of a stage carrying ``propellant_kg`` of propellant."""
        return propellant_kg * self.inert_fraction / (1.0 - self.inert_fraction)

    def stage1_ratio(self, entry_speed_m_per_s: float) -> float:
        """Stage-1 propellant per kg of mass above it, for an ideal Δv of ½ (v_entry + 800 m/s).

        Tsiolkovsky: (m_up + P + D) / (m_up + D) = exp(Δv / (Isp g0)) with D = d P, d = ε / (1 - ε),
        solved for P / m_up = (R - 1) / (1 + d - R d).
        """
        ratio = math.exp(0.5 * (entry_speed_m_per_s + 800.0) / (self.stage1_isp_s * _G0))
        d = self.inert_fraction / (1.0 - self.inert_fraction)
        return (ratio - 1.0) / (1.0 + d - ratio * d)


def boost_glide_vehicle(
    stage2_propellant_kg: float,
    stage1_ratio: float,
    glider: Glider | None = None,
    booster: Booster | None = None,
) -> tuple[Vehicle, float]:
    """The boost-glide stack and its drag reference area [m²] for the booster phase.

    Stage 2 carries ``stage2_propellant_kg``; stage 1 carries ``stage1_ratio`` times the mass above
    it (glider + loaded stage 2). The `Vehicle`'s own aerodynamics are the glider's (the boost phase
    overrides them with `AeroTable.boost_stack` and the returned area).
    """
    glider = glider if glider is not None else Glider()
    booster = booster if booster is not None else Booster()
    p2 = _finite_positive(stage2_propellant_kg, "stage2_propellant_kg")
    m_up = glider.mass_kg + p2 + booster.dry_kg(p2)
    p1 = _finite_positive(stage1_ratio, "stage1_ratio") * m_up
    stages = (
        Stage(p1, booster.dry_kg(p1), booster.stage1_isp_s, booster.stage1_burn_s),
        Stage(p2, booster.dry_kg(p2), booster.stage2_isp_s, booster.stage2_burn_s),
    )
    vehicle = Vehicle(stages, glider.mass_kg, glider.reference_area_m2, glider.aero)
    return vehicle, vehicle.launch_mass_kg / booster.stack_mass_per_area_kg_per_m2


# --- Geometry in plain floats (the control laws run at every right-hand-side evaluation) ----------


def _range_to_go_m(x: float, y: float, z: float, aim: tuple[float, float, float]) -> float:
    """Great-circle distance on the mean sphere from the point below (x, y, z) to the aim direction."""
    ax, ay, az = aim
    cx, cy, cz = y * az - z * ay, z * ax - x * az, x * ay - y * ax
    return _RM * math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), x * ax + y * ay + z * az)


def _heading_error(
    x: float, y: float, z: float, vx: float, vy: float, vz: float, aim: tuple[float, float, float]
) -> tuple[float, float]:
    """(bearing to the aim - heading) wrapped to [-π, π), and the horizontal speed; geocentric sphere."""
    r = math.sqrt(x * x + y * y + z * z)
    ux, uy, uz = x / r, y / r, z / r
    p = math.hypot(ux, uy)
    ex, ey = (-uy / p, ux / p) if p > 1e-12 else (0.0, 1.0)
    nx, ny, nz = -uz * ey, uz * ex, ux * ey - uy * ex  # north = up × east
    ax, ay, az = aim
    d = math.atan2(ax * ex + ay * ey, ax * nx + ay * ny + az * nz)
    ve, vn = vx * ex + vy * ey, vx * nx + vy * ny + vz * nz
    d -= math.atan2(ve, vn)
    return (d + math.pi) % (2.0 * math.pi) - math.pi, math.hypot(ve, vn)


def _lift_axes(
    sl: float, cl: float, so: float, co: float, vx: float, vy: float, vz: float, v: float
) -> tuple[float, float, float, float, float, float]:
    """The unit vectors lift is expressed in by `flight`: up ⊥ v (σ = 0) and v̂ × up⊥ (σ = 90°)."""
    wx, wy, wz = vx / v, vy / v, vz / v
    ex, ey, ez = cl * co, cl * so, sl
    d = ex * wx + ey * wy + ez * wz
    px, py, pz = ex - d * wx, ey - d * wy, ez - d * wz
    pn = math.sqrt(px * px + py * py + pz * pz)
    px, py, pz = px / pn, py / pn, pz / pn
    return px, py, pz, wy * pz - wz * py, wz * px - wx * pz, wx * py - wy * px


def _natural_accel(
    x: float, y: float, z: float, vx: float, vy: float, vz: float
) -> tuple[float, float, float]:
    """Point-mass gravity plus the rotating frame's Coriolis and centrifugal terms [m/s²]."""
    r2 = x * x + y * y + z * z
    k = -_MU / (r2 * math.sqrt(r2))
    w = _OMEGA
    return k * x + 2.0 * w * vy + w * w * x, k * y - 2.0 * w * vx + w * w * y, k * z


def _lift_command(a_up: float, a_right: float, lift_max: float) -> Command:
    """Lift acceleration (up⊥, right) -> bank and lift fraction (≤ 1, direction kept)."""
    frac = math.hypot(a_up, a_right) / lift_max if lift_max > 0.0 else 1.0
    return Command(None, min(frac, 1.0), math.atan2(a_right, a_up))


class _Aero:
    """The glider's full-lift and drag accelerations at a height and speed (the onboard model)."""

    def __init__(self, glider: Glider) -> None:
        self.rho, self.sound = scalar_density_and_sound_speed()
        self.table = glider.aero
        self.s_over_m = glider.reference_area_m2 / glider.mass_kg

    def accelerations(self, h: float, v2: float) -> tuple[float, float]:
        """(q S C_L / m, q S C_D / m) [m/s²]."""
        cd, cl = self.table._scalar(math.sqrt(v2) / self.sound(h))
        qsm = 0.5 * self.rho(h) * v2 * self.s_over_m
        return qsm * cl, qsm * cd


def dive_start_range_m(height_m: float, speed_m_per_s: float, glider: Glider | None = None) -> float:
    """Ground range to the aim at which the terminal dive begins [m]: 1.2 R_min(h, v).

    R_min from the table in the module source (bilinear, clamped to its edges), at the height shifted
    by H ln(w / w0) for a glider whose wing loading w = m / S differs from the default w0.
    """
    glider = glider if glider is not None else Glider()
    w = glider.mass_kg / glider.reference_area_m2
    h_km = (height_m + _H_SCALE_M * math.log(w / _DEFAULT_WING_LOADING_KG_PER_M2)) / 1000.0
    hs, vs = _DIVE_H_KM, _DIVE_V_M_PER_S
    h_km = min(max(h_km, hs[0]), hs[-1])
    v = min(max(speed_m_per_s, vs[0]), vs[-1])
    i = min(bisect_right(hs, h_km) - 1, len(hs) - 2)
    j = min(bisect_right(vs, v) - 1, len(vs) - 2)
    fh = (h_km - hs[i]) / (hs[i + 1] - hs[i])
    fv = (v - vs[j]) / (vs[j + 1] - vs[j])
    t = _DIVE_RANGE_KM
    r = (1 - fh) * ((1 - fv) * t[i][j] + fv * t[i][j + 1]) + fh * (
        (1 - fv) * t[i + 1][j] + fv * t[i + 1][j + 1]
    )
    return _DIVE_MARGIN * 1000.0 * r


# --- Boost steering -------------------------------------------------------------------------------


class _BoostSteering:
    """Vertical rise, kick, gravity turn (stage 1), explicit altitude capture (stage 2).

    ``elapsed_offset_s`` lets a stage-2-only flight (the sizing solve) use the same law.
    """

    def __init__(
        self,
        booster: Booster,
        kick_rad: float,
        azimuth_rad: float,
        entry_alt_m: float,
        aim: tuple[float, float, float],
        stage2: Stage,
        glider_mass_kg: float,
        elapsed_offset_s: float = 0.0,
    ) -> None:
        self.rise_s = booster.vertical_rise_s
        self.kick_end_s = booster.vertical_rise_s + booster.kick_s
        self.t1_s = booster.stage1_burn_s
        self.t2_s = booster.stage1_burn_s + booster.stage2_burn_s
        el = 0.5 * math.pi - kick_rad
        self.kick_enu = (
            math.cos(el) * math.sin(azimuth_rad),
            math.cos(el) * math.cos(azimuth_rad),
            math.sin(el),
        )
        self.entry_alt_m = entry_alt_m
        self.aim = aim
        self.offset_s = elapsed_offset_s
        self.m2_kg = glider_mass_kg + stage2.propellant_kg + stage2.dry_kg
        self.mdot2_kg_per_s = stage2.mass_flow_kg_per_s
        self.thrust2_n = stage2.thrust_n
        self.breakpoints_s = tuple(
            b - elapsed_offset_s for b in (self.rise_s, self.kick_end_s) if b > elapsed_offset_s
        )

    def command(self, t_s: float, elapsed_s: float, pos_m: Array, vel_m_per_s: Array) -> Command:
        e = elapsed_s + self.offset_s
        x, y, z = pos_m.tolist()
        h, sl, cl, so, co = _geodetic_scalar(x, y, z)
        ux, uy, uz = cl * co, cl * so, sl
        if e < self.rise_s:
            return Command((ux, uy, uz))
        if e < self.kick_end_s:
            ke, kn, ku = self.kick_enu
            return Command(
                (-so * ke - sl * co * kn + ux * ku, co * ke - sl * so * kn + uy * ku, cl * kn + uz * ku)
            )
        vx, vy, vz = vel_m_per_s.tolist()
        if e < self.t1_s:
            return Command((vx, vy, vz))
        tau = max(self.t2_s - e, 5.0)
        hdot = ux * vx + uy * vy + uz * vz
        r2 = x * x + y * y + z * z
        nx, ny, nz = _natural_accel(x, y, z, vx, vy, vz)
        g_eff = -(nx * ux + ny * uy + nz * uz) - (vx * vx + vy * vy + vz * vz - hdot * hdot) / math.sqrt(r2)
        a_z = 6.0 * (self.entry_alt_m - h - hdot * tau) / (tau * tau) + 2.0 * hdot / tau
        mass = self.m2_kg - self.mdot2_kg_per_s * (e - self.t1_s)
        s = min(max((a_z + g_eff) * mass / self.thrust2_n, -0.8), 0.8)
        c = math.sqrt(1.0 - s * s)
        ax, ay, az = self.aim
        d = ax * ux + ay * uy + az * uz
        hx, hy, hz = ax - d * ux, ay - d * uy, az - d * uz
        k = c / math.sqrt(hx * hx + hy * hy + hz * hz)
        return Command((k * hx + s * ux, k * hy + s * uy, k * hz + s * uz))


# --- Glide and terminal guidance -----------------------------------------------------------------


@dataclass(frozen=True)
class ManoeuvreSchedule:
    """When the manoeuvre acts, in seconds since the glide began (release at stage-2 burnout).

    ``start_s`` / ``end_s``: the manoeuvre's window (NaN for ``straight``). ``breakpoints_s``: every
    instant its command jumps (window edges, bank reversals), where `fly` restarts the integrator.
    S-weave: ``reversal_interval_s``. Dog-leg: ``turn_s`` (each of its two turns lasts that long at
    the reference ``lateral_accel_m_per_s2``) and ``side`` (+1 right, -1 left). Skip: ``pull_up_s``
    (the push-over lasts from ``start_s`` to it, the pull-up from it to ``end_s``). NaN where unused.
    """

    kind: str
    start_s: float = math.nan
    end_s: float = math.nan
    breakpoints_s: tuple[float, ...] = ()
    reversal_interval_s: float = math.nan
    turn_s: float = math.nan
    lateral_accel_m_per_s2: float = math.nan
    side: float = 1.0
    pull_up_s: float = math.nan


class _GlideGuidance:
    """Equilibrium-glide energy management, heading alignment and the manoeuvres (module docstring)."""

    def __init__(
        self,
        glider: Glider,
        aim: tuple[float, float, float],
        entry: tuple[float, float, float],
        v_terminal_m_per_s: float,
        dive_range_m: float,
        manoeuvre: Manoeuvre,
        schedule: ManoeuvreSchedule,
    ) -> None:
        self.aero = _Aero(glider)
        self.aim = aim
        ax, ay, az = aim
        ex, ey, ez = entry
        nx, ny, nz = ey * az - ez * ay, ez * ax - ex * az, ex * ay - ey * ax  # left of entry -> aim
        nn = math.sqrt(nx * nx + ny * ny + nz * nz)
        self.normal = (nx / nn, ny / nn, nz / nn)
        self.v_t2 = v_terminal_m_per_s**2
        self.dive_range_m = dive_range_m
        self.kind = manoeuvre.kind
        self.tan_bank = math.tan(manoeuvre.bank_rad)
        self.s = schedule
        self.tau_mean_s = max(4.0 * schedule.reversal_interval_s, 300.0) if self.kind == "s_weave" else 0.0
        self.dog_leg_limit = math.tan(min(manoeuvre.bank_rad + 20.0 * DEG, 75.0 * DEG))
        self.breakpoints_s = schedule.breakpoints_s

    def command(self, t_s: float, elapsed_s: float, pos_m: Array, vel_m_per_s: Array) -> Command:
        x, y, z = pos_m.tolist()
        vx, vy, vz = vel_m_per_s.tolist()
        h, sl, cl, so, co = _geodetic_scalar(x, y, z)
        ux, uy, uz = cl * co, cl * so, sl
        v2 = vx * vx + vy * vy + vz * vz
        hdot = ux * vx + uy * vy + uz * vz
        _, _, _, rx, ry, rz = _lift_axes(sl, cl, so, co, vx, vy, vz, math.sqrt(v2))
        lift_max, drag = self.aero.accelerations(h, v2)
        r2 = x * x + y * y + z * z
        r = math.sqrt(r2)
        g = _MU / r2
        nx, ny, nz = _natural_accel(x, y, z, vx, vy, vz)
        g_eff = -(nx * ux + ny * uy + nz * uz) - (v2 - hdot * hdot) / r
        # Energy management, eq. (1): the vertical L/D that makes the glide end at the dive range.
        e_max = lift_max / drag
        rtg = _range_to_go_m(x, y, z, self.aim)
        den = g - v2 / r
        num = g - self.v_t2 / r
        e_des = e_max
        if den > 0.0 and num > den:
            e_des = (rtg - self.dive_range_m) / (0.5 * r * math.log(num / den))
        e_des = min(max(e_des, _E_MIN_FRACTION * e_max), e_max)
        a_up = e_des * drag - 2.0 * _ZETA * math.sqrt(max(g_eff, 1.0) / _H_SCALE_M) * hdot
        # Lateral: heading alignment, or the manoeuvre's law inside its window.
        dpsi, vh = _heading_error(x, y, z, vx, vy, vz, self.aim)
        a_coriolis = -(nx * rx + ny * ry + nz * rz)  # cancel the frame's (and gravity's) lateral pull
        s = self.s
        inside = s.start_s <= elapsed_s < s.end_s
        if inside and self.kind == "s_weave":
            a_right = self._weave(elapsed_s, a_up, dpsi, vh) + a_coriolis
        elif inside and self.kind == "dog_leg":
            a_right = self._dog_leg(elapsed_s, x, y, z, vx, vy, vz, r) + a_coriolis
            lim = abs(a_up) * self.dog_leg_limit
            a_right = min(max(a_right, -lim), lim)
        else:
            lim = abs(a_up) * math.tan(_MAX_GUIDANCE_BANK_RAD)
            a_right = min(max(vh * dpsi / _TAU_HEADING_S + a_coriolis, -lim), lim)
            if inside and self.kind == "skip":
                if elapsed_s < s.pull_up_s:  # push-over: no vertical lift
                    a_up = 0.0
                else:  # pull-up: full lift
                    a_up = math.sqrt(max(lift_max * lift_max - a_right * a_right, 0.0))
        return _lift_command(a_up, a_right, lift_max)

    def _weave(self, elapsed_s: float, a_up: float, dpsi: float, vh: float) -> float:
        """Square-wave bank ±σ (first half-interval T/2) and a slow pull of the mean heading to the aim."""
        tr = self.s.reversal_interval_s
        tau = elapsed_s - self.s.start_s + 0.5 * tr
        k = math.floor(tau / tr)
        sign = 1.0 if k % 2 == 0 else -1.0
        a_weave = a_up * self.tan_bank
        psi_weave = sign * a_weave * (tau - (k + 0.5) * tr) / vh  # predicted heading offset of the weave
        return sign * a_weave + vh * (dpsi + psi_weave) / self.tau_mean_s

    def _dog_leg(
        self, elapsed_s: float, x: float, y: float, z: float, vx: float, vy: float, vz: float, r: float
    ) -> float:
        """Track y_ref: +a for t1, -a for t1 (y = a t1² with ẏ = 0), by feed-forward plus PD."""
        s = self.s
        t1, a = s.turn_s, s.lateral_accel_m_per_s2
        u = elapsed_s - s.start_s
        if u < t1:
            sign, y_ref, yd_ref = 1.0, 0.5 * a * u * u, a * u
        else:
            w = 2.0 * t1 - u
            sign, y_ref, yd_ref = -1.0, a * t1 * t1 - 0.5 * a * w * w, a * w
        nx, ny, nz = self.normal
        y_now = -_RM * math.asin((x * nx + y * ny + z * nz) / r)  # right of the entry -> aim circle
        yd_now = -(vx * nx + vy * ny + vz * nz)
        om = _DOG_LEG_OMEGA_RAD_PER_S
        return s.side * (
            sign * a
            + om * om * (y_ref - s.side * y_now)
            + 2.0 * _DOG_LEG_ZETA * om * (yd_ref - s.side * yd_now)
        )


class _TerminalGuidance:
    """Proportional navigation (N = 3) with gravity and frame compensation, lift-only (module docstring)."""

    def __init__(self, glider: Glider, aim_pos_m: Array) -> None:
        self.aero = _Aero(glider)
        self.aim = tuple(float(c) for c in aim_pos_m)

    def command(self, t_s: float, elapsed_s: float, pos_m: Array, vel_m_per_s: Array) -> Command:
        x, y, z = pos_m.tolist()
        vx, vy, vz = vel_m_per_s.tolist()
        h, sl, cl, so, co = _geodetic_scalar(x, y, z)
        v2 = vx * vx + vy * vy + vz * vz
        v = math.sqrt(v2)
        px, py, pz, rx, ry, rz = _lift_axes(sl, cl, so, co, vx, vy, vz, v)
        lift_max, _ = self.aero.accelerations(h, v2)
        tx, ty, tz = self.aim
        lx, ly, lz = tx - x, ty - y, tz - z
        rng = math.sqrt(lx * lx + ly * ly + lz * lz)
        lx, ly, lz = lx / rng, ly / rng, lz / rng
        vc = vx * lx + vy * ly + vz * lz  # closing speed
        k = -_PN_GAIN * max(vc, 0.1 * v) / rng
        nx, ny, nz = _natural_accel(x, y, z, vx, vy, vz)
        ax = k * (vx - vc * lx) - nx
        ay = k * (vy - vc * ly) - ny
        az = k * (vz - vc * lz) - nz
        return _lift_command(ax * px + ay * py + az * pz, ax * rx + ay * ry + az * rz, lift_max)


# --- Solving the boost ----------------------------------------------------------------------------


def _solve_increasing(
    f: Callable[[float], tuple[float, object]], x0: float, x1: float, lo: float, hi: float, tol: float
) -> tuple[float, float, object, int]:
    """Root of an increasing ``f`` on [lo, hi]: step from x0 (by x1 - x0, doubling) to a bracket, then
    Illinois regula falsi (Dowell & Jarratt, BIT 11, 1971). ``f`` returns (residual, payload).

    Returns the best point found: (x, residual, payload, number of evaluations). Stops as soon as
    |residual| < tol; if no bracket exists inside [lo, hi], returns the best end reached.
    """
    points: list[tuple[float, float, float, object]] = []

    def ev(x: float) -> float:
        y, extra = f(x)
        points.append((abs(y), x, y, extra))
        return y

    a, fa = x0, ev(x0)
    if abs(fa) >= tol:
        step = abs(x1 - x0)
        b = min(max(a + (step if fa < 0.0 else -step), lo), hi)
        fb = ev(b)
        while fa * fb > 0.0 and abs(fb) >= tol and len(points) < 12:
            step *= 2.0
            a, fa = b, fb
            b = min(max(b + (step if fb < 0.0 else -step), lo), hi)
            if b == a:
                break
            fb = ev(b)
        if a > b:
            a, b, fa, fb = b, a, fb, fa
        if fa * fb < 0.0 and abs(fb) >= tol:
            side = 0
            for _ in range(40):
                c = (a * fb - b * fa) / (fb - fa)
                fc = ev(c)
                if abs(fc) < tol:
                    break
                if fc < 0.0:
                    a, fa = c, fc
                    if side == 1:
                        fb *= 0.5
                    side = 1
                else:
                    b, fb = c, fc
                    if side == -1:
                        fa *= 0.5
                    side = -1
    best = min(points, key=lambda p: p[0])
    return best[1], best[2], best[3], len(points)


def _height_speed_climb(pos_m: Array, vel_m_per_s: Array) -> tuple[float, float, float]:
    """(geodetic height [m], speed [m/s], climb rate along the geodetic up [m/s])."""
    h, sl, cl, so, co = _geodetic_scalar(*pos_m.tolist())
    vx, vy, vz = vel_m_per_s.tolist()
    return h, math.sqrt(vx * vx + vy * vy + vz * vz), cl * co * vx + cl * so * vy + sl * vz


def _azimuth_rad(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle azimuth from point 1 to point 2 (clockwise from north)."""
    dl = lon2 - lon1
    return math.atan2(
        math.sin(dl) * math.cos(lat2),
        math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dl),
    )


@dataclass(frozen=True, eq=False)
class _Boost:
    booster: Booster
    entry_alt_target_m: float
    entry_speed_target_m_per_s: float
    vehicle: Vehicle
    stack_area_m2: float
    kick_rad: float
    azimuth_rad: float
    stage1_ratio: float
    stage2_propellant_kg: float
    burnout: StateAt
    trial_flights: int


def _solve_boost(
    launch_pos_m: Array,
    azimuth_rad: float,
    aim: tuple[float, float, float],
    entry_alt_m: float,
    entry_speed_m_per_s: float,
    glider: Glider,
    booster: Booster,
) -> _Boost:
    """Kick angle (stage-1 apogee) and stage-2 propellant (burnout speed): see the module docstring."""
    k1 = booster.stage1_ratio(entry_speed_m_per_s)
    boost_aero = AeroTable.boost_stack()
    # Stage 1 flies the same path whatever the stack's size (thrust, mass and area all scale with it).
    nominal, area1 = boost_glide_vehicle(2_000.0, k1, glider, booster)
    s2 = nominal.stages[1]
    stage1_only = Vehicle(nominal.stages[:1], glider.mass_kg + s2.propellant_kg + s2.dry_kg)
    apogee_m = min(max(entry_alt_m + 20_000.0, 50_000.0), 100_000.0)

    def stage1(kick_rad: float) -> tuple[float, object]:
        steer = _BoostSteering(booster, kick_rad, azimuth_rad, entry_alt_m, aim, s2, glider.mass_kg)
        phase = Phase(
            "boost", steer, duration_s=booster.stage1_burn_s, aero=boost_aero, reference_area_m2=area1
        )
        traj = fly(stage1_only, [phase], launch_pos_m, rtol=_RTOL_SOLVE, dense_output=False)
        if not traj.burnouts:  # kicked into the ground
            return 1e7, None
        b = traj.burnouts[0]
        h, v, hdot = _height_speed_climb(b.pos_m, b.vel_m_per_s)
        r = float(np.linalg.norm(b.pos_m))
        g_eff = _MU / r**2 - (v * v - hdot * hdot) / r
        return apogee_m - (h + hdot * abs(hdot) / (2.0 * g_eff)), b

    kick, _, s1, n1 = _solve_increasing(stage1, 40.0 * DEG, 46.0 * DEG, 0.5 * DEG, 80.0 * DEG, 2_000.0)
    if not isinstance(s1, StateAt):
        raise ValueError(
            f"No pitch-over of the generic booster reaches a {entry_alt_m / 1e3:g} km / "
            f"{entry_speed_m_per_s:g} m/s release from this launch point (every kick tried flew stage 1 "
            "into the ground): raise glide_entry_alt_m."
        )
    _, v1, hdot1 = _height_speed_climb(s1.pos_m, s1.vel_m_per_s)
    # Tsiolkovsky first guess for stage 2: the velocity still to add plus a gravity allowance.
    vh1 = math.sqrt(max(v1 * v1 - hdot1 * hdot1, 0.0))
    dv2 = math.hypot(entry_speed_m_per_s - vh1, hdot1) + 3.0 * booster.stage2_burn_s
    ratio = math.exp(dv2 / (booster.stage2_isp_s * _G0))
    d = booster.inert_fraction / (1.0 - booster.inert_fraction)
    p2_guess = glider.mass_kg * (ratio - 1.0) / max(1.0 + d - ratio * d, 0.05)

    def stage2(ln_p2: float) -> tuple[float, object]:
        vehicle, area = boost_glide_vehicle(math.exp(ln_p2), k1, glider, booster)
        st2 = vehicle.stages[1]
        steer = _BoostSteering(
            booster, kick, azimuth_rad, entry_alt_m, aim, st2, glider.mass_kg, booster.stage1_burn_s
        )
        phase = Phase(
            "boost", steer, duration_s=booster.stage2_burn_s, aero=boost_aero, reference_area_m2=area
        )
        traj = fly(Vehicle((st2,), glider.mass_kg), [phase], s1.pos_m, s1.vel_m_per_s, s1.t_s,
                   rtol=_RTOL_SOLVE, dense_output=False)  # fmt: skip
        if not traj.burnouts:
            return -1e7, None
        b = traj.burnouts[0]
        return _height_speed_climb(b.pos_m, b.vel_m_per_s)[1] - entry_speed_m_per_s, b

    ln_p2, _, burnout, n2 = _solve_increasing(
        stage2, math.log(p2_guess), math.log(1.1 * p2_guess), math.log(10.0), math.log(1e6), 1.0
    )
    if not isinstance(burnout, StateAt):
        raise ValueError(
            f"The generic booster's second stage cannot reach a {entry_alt_m / 1e3:g} km / "
            f"{entry_speed_m_per_s:g} m/s release (every size tried came down before burnout): raise "
            "glide_entry_alt_m or lower glide_entry_speed_m_per_s."
        )
    h_b, v_b, _ = _height_speed_climb(burnout.pos_m, burnout.vel_m_per_s)
    if abs(v_b - entry_speed_m_per_s) > _ENTRY_SPEED_TOL_M_PER_S or abs(h_b - entry_alt_m) > _ENTRY_ALT_TOL_M:
        raise ValueError(
            f"The generic booster cannot release the glider at {entry_alt_m / 1e3:g} km and "
            f"{entry_speed_m_per_s:g} m/s: the best it found is {h_b / 1e3:.1f} km and {v_b:.0f} m/s "
            "(the drag of a low, fast boost grows faster than the booster). Raise glide_entry_alt_m or lower "
            "glide_entry_speed_m_per_s."
        )
    vehicle, area = boost_glide_vehicle(math.exp(ln_p2), k1, glider, booster)
    return _Boost(
        booster=booster,
        entry_alt_target_m=entry_alt_m,
        entry_speed_target_m_per_s=entry_speed_m_per_s,
        vehicle=vehicle,
        stack_area_m2=area,
        kick_rad=kick,
        azimuth_rad=azimuth_rad,
        stage1_ratio=k1,
        stage2_propellant_kg=math.exp(ln_p2),
        burnout=burnout,
        trial_flights=n1 + n2,
    )


# --- Planning and flying -------------------------------------------------------------------------


def _glide_duration_s(range_m: float, entry_speed_m_per_s: float, v_terminal: float, e_max: float) -> float:
    """Predicted glide duration from eq. (1) and dv/dt = -g_eff / E (E clamped as the guidance does).

    t = E r / (2 v_c) [ln((v_c + v)/(v_c - v))] from v_end to v_entry, v_c = sqrt(g r), with the speed at
    the end of the glide v_end from eq. (1) for the range; r at 40 km height.
    """
    r = _RM + 40_000.0
    g = _MU / r**2
    v_c = math.sqrt(g * r)
    v_e = min(entry_speed_m_per_s, 0.99 * v_c)
    phi = 0.5 * r * math.log((g - v_terminal**2 / r) / (g - v_e**2 / r))
    e = min(max(range_m / phi, _E_MIN_FRACTION * e_max), e_max)
    v_end2 = r * (g - (g - v_e**2 / r) * math.exp(2.0 * range_m / (r * e)))
    v_end = math.sqrt(max(v_end2, 0.25 * v_terminal**2))

    def artanh2(v: float) -> float:
        return math.log((v_c + v) / (v_c - v))

    return e * r / (2.0 * v_c) * (artanh2(v_e) - artanh2(v_end))


def _schedule(
    manoeuvre: Manoeuvre, glide_s: float, glide_range_m: float, entry_speed_m_per_s: float
) -> ManoeuvreSchedule:
    """Times of the manoeuvre in the glide (module docstring); ValueError if it cannot fit."""
    kind = manoeuvre.kind
    start = min(_MANOEUVRE_START_S, 0.3 * glide_s)
    end_limit = _MANOEUVRE_END_FRACTION * glide_s
    about = f"this glide lasts about {glide_s:.0f} s ({glide_range_m / 1e3:.0f} km from release to the dive)"
    if kind == "s_weave":
        tr = manoeuvre.period_s
        cycles = int((end_limit - start) // (2.0 * tr))
        if cycles < 1:
            raise ValueError(
                f"An S-weave with period_s = {tr:g} s needs {2.0 * tr:.0f} s of glide for one full cycle "
                f"(two reversal intervals) between {start:.0f} s after release and 75 % of the glide, but "
                f"{about}: shorten period_s or move the aim farther."
            )
        end = start + 2.0 * cycles * tr
        reversals = tuple(start + (j + 0.5) * tr for j in range(2 * cycles))
        return ManoeuvreSchedule(kind, start, end, (start, *reversals, end), reversal_interval_s=tr)
    if kind == "dog_leg" and abs(manoeuvre.cross_range_m) >= 1.0:
        if manoeuvre.bank_rad < 1.0 * DEG:
            raise ValueError(
                f"A dog-leg of {manoeuvre.cross_range_m / 1e3:g} km needs a bank angle to turn with; "
                f"bank_deg is {manoeuvre.bank_rad / DEG:g}°: set bank_deg (e.g. 30)."
            )
        r = _RM + 40_000.0
        g_eff = _MU / r**2 - min(entry_speed_m_per_s, 7_000.0) ** 2 / r
        accel = 0.9 * g_eff * math.tan(manoeuvre.bank_rad)
        t1 = math.sqrt(abs(manoeuvre.cross_range_m) / accel)
        if start + 2.0 * t1 > end_limit:
            raise ValueError(
                f"A dog-leg of {manoeuvre.cross_range_m / 1e3:g} km at bank {manoeuvre.bank_rad / DEG:g}° "
                f"turns with ≈ {accel:.1f} m/s² of lateral acceleration and needs 2·sqrt(Y/a) = "
                f"{2.0 * t1:.0f} s of glide from {start:.0f} s after release, but {about} and the offset "
                "must be flown by 75 % of it: "
                "lower cross_range_m, raise bank_deg, or move the aim farther."
            )
        end = start + 2.0 * t1
        side = 1.0 if manoeuvre.cross_range_m > 0.0 else -1.0
        return ManoeuvreSchedule(
            kind, start, end, (start, start + t1, end), turn_s=t1, lateral_accel_m_per_s2=accel, side=side
        )
    if kind == "skip":
        s0 = _SKIP_START_FRACTION * glide_s
        s1 = s0 + 0.75 * manoeuvre.period_s
        if s1 > end_limit:
            raise ValueError(
                f"A skip (push-over for period_s / 4, pull-up for period_s / 2) takes "
                f"{0.75 * manoeuvre.period_s:g} s from 40 % of the glide, but {about} and the pull-up must "
                "end by 75 % of it: shorten period_s or move the aim farther."
            )
        sm = s0 + 0.25 * manoeuvre.period_s
        return ManoeuvreSchedule(kind, s0, s1, (s0, sm, s1), pull_up_s=sm)
    return ManoeuvreSchedule(kind)


@dataclass(frozen=True, eq=False)
class GlidePlan:
    """A solved boost-glide flight, ready to fly: what `plan_glide` returns and `fly_glide` flies.

    ``vehicle`` and ``phases`` are the inputs to `flight.fly` (boost, glide, terminal);
    ``entry`` the predicted release state (stage-2 burnout, from the sizing solve) and
    ``entry_alt_m`` / ``entry_speed_m_per_s`` / ``entry_path_angle_rad`` its height, speed and
    flight-path angle; ``glide_range_m`` the great-circle distance from release to the aim and
    ``glide_duration_estimate_s`` the predicted glide time (eq. 1) the manoeuvre was timed with;
    ``kick_rad`` and ``stage2_propellant_kg`` the solved booster; ``trial_flights`` how many boost
    flights the solve took; ``schedule`` when the manoeuvre acts; ``aim_pos_m`` the aim in ECEF.
    """

    vehicle: Vehicle
    phases: tuple[Phase, ...]
    glider: Glider
    manoeuvre: Manoeuvre
    schedule: ManoeuvreSchedule
    launch_pos_m: Array
    launch_s: float
    aim_lat_rad: float
    aim_lon_rad: float
    aim_alt_m: float
    aim_pos_m: Array
    entry: StateAt
    entry_alt_m: float
    entry_speed_m_per_s: float
    entry_path_angle_rad: float
    glide_range_m: float
    glide_duration_estimate_s: float
    kick_rad: float
    stage2_propellant_kg: float
    trial_flights: int
    _boost: _Boost = field(repr=False)
    _inputs: _PlanInputs = field(repr=False)

    def fly(self, target_id: str) -> Missile:
        """Fly the plan (`flight.fly` defaults: rtol 1e-9, dense output) and check the arrival.

        Raises ValueError when the glider comes down short of the aim (where, when, by how much; for a
        manoeuvre that the straight glide survives, says so), or when its dive misses the aim by more
        than `ARRIVAL_TOLERANCE_M`.
        """
        traj = fly(
            self.vehicle,
            self.phases,
            self.launch_pos_m,
            launch_time_s=self.launch_s,
            impact_alt_m=self.aim_alt_m,
        )
        problem = self._arrival_problem(traj)
        if problem is None:
            g = self.glider
            return Missile(
                target_id, "glide_vehicle", self.vehicle, traj, g.nose_radius_m, g.hot_area_m2, g.body_area_m2
            )
        what, fix = problem
        m = self.manoeuvre
        if m.kind != "straight":
            straight = _assemble(self._boost, self._inputs, Manoeuvre("straight"))
            twin = fly(straight.vehicle, straight.phases, self.launch_pos_m, launch_time_s=self.launch_s,
                       impact_alt_m=self.aim_alt_m, rtol=1e-8, dense_output=False)  # fmt: skip
            if straight._arrival_problem(twin) is None:
                fix = (
                    "Flown straight it reaches the aim: the manoeuvre costs the glide range (banking tilts "
                    "lift away from the vertical, a skip dips into denser air). Lower bank_deg, shorten the "
                    "dog-leg or the skip, or move the aim closer."
                )
                what = (
                    f"its {m.kind} manoeuvre (bank {m.bank_rad / DEG:g}°, period {m.period_s:g} s, "
                    f"cross-range {m.cross_range_m / 1e3:g} km) brings it down early: {what}"
                )
        raise ValueError(f"Glide vehicle {target_id!r}: {what} {fix}")

    def _arrival_problem(self, traj: Trajectory) -> tuple[str, str] | None:
        """(what went wrong, how to fix it) if the impact is not within `ARRIVAL_TOLERANCE_M` of the aim."""
        t_after = traj.end_time_s - traj.launch_time_s
        b = self._boost
        entry = f"a {b.entry_alt_target_m / 1e3:g} km / {b.entry_speed_target_m_per_s:g} m/s glide entry"
        if traj.end_reason != "impact" or traj.impact is None:
            return (
                f"it has not come down {t_after:.0f} s after launch ({traj.end_reason}): its dive passed "
                "the aim.",
                "Move the aim farther from the launch point.",
            )
        imp = traj.impact
        where = f"{imp.lat_rad / DEG:.3f}°, {imp.lon_rad / DEG:.3f}°"
        to_go_km = _range_to_go_m(*imp.pos_m.tolist(), _unit(self.aim_pos_m)) / 1e3
        if math.isnan(traj.phase_start_s[2]):
            flown_km = _range_to_go_m(*self.launch_pos_m.tolist(), _unit(imp.pos_m)) / 1e3
            shot_km = _range_to_go_m(*self.launch_pos_m.tolist(), _unit(self.aim_pos_m)) / 1e3
            if flown_km > shot_km:
                return (
                    f"it glides past the aim without diving and comes down {t_after:.0f} s after launch at "
                    f"({where}), {to_go_km:.0f} km from the aim.",
                    "Move the aim farther or lower glide_entry_speed_m_per_s.",
                )
            return (
                f"it lands short, still gliding: it comes down {t_after:.0f} s after launch at ({where}) "
                f"after {flown_km:.0f} km, {to_go_km:.0f} km short of the aim.",
                f"The aim is too far for {entry}: raise glide_entry_speed_m_per_s or move the aim closer.",
            )
        if to_go_km * 1e3 > ARRIVAL_TOLERANCE_M:
            return (
                f"its dive misses the aim by {to_go_km:.1f} km (impact at {where}, {t_after:.0f} s after "
                "launch).",
                f"The tolerance is {ARRIVAL_TOLERANCE_M / 1e3:g} km; try another entry altitude or speed.",
            )
        return None


def _unit(p: Array) -> tuple[float, float, float]:
    n = float(np.linalg.norm(p))
    return (float(p[0]) / n, float(p[1]) / n, float(p[2]) / n)


@dataclass(frozen=True, eq=False)
class _PlanInputs:
    glider: Glider
    launch_pos_m: Array
    launch_s: float
    aim_lat_rad: float
    aim_lon_rad: float
    aim_alt_m: float
    aim_pos_m: Array


def _assemble(boost: _Boost, base: _PlanInputs, manoeuvre: Manoeuvre) -> GlidePlan:
    """Phases, guidance and schedule for a solved boost and a manoeuvre."""
    glider = base.glider
    aim = _unit(base.aim_pos_m)
    b = boost.burnout
    h_e, v_e, hdot_e = _height_speed_climb(b.pos_m, b.vel_m_per_s)
    glide_range = _range_to_go_m(*b.pos_m.tolist(), aim)
    v_term = min(_V_TERMINAL_M_PER_S, 0.75 * v_e)
    dive_est = dive_start_range_m(_H_TERMINAL_M, v_term, glider)
    cd, cl = glider.aero.coefficients(12.0)
    glide_s = _glide_duration_s(glide_range - dive_est, v_e, v_term, float(cl / cd))
    schedule = _schedule(manoeuvre, glide_s, glide_range - dive_est, v_e)
    guidance = _GlideGuidance(glider, aim, _unit(b.pos_m), v_term, dive_est, manoeuvre, schedule)
    aim_alt = base.aim_alt_m

    def dive_start(t_s: float, pos_m: Array, vel_m_per_s: Array) -> float:
        x, y, z = pos_m.tolist()
        vx, vy, vz = vel_m_per_s.tolist()
        h = _geodetic_scalar(x, y, z)[0] - aim_alt
        return dive_start_range_m(h, math.sqrt(vx * vx + vy * vy + vz * vz), glider) - _range_to_go_m(
            x, y, z, aim
        )

    aim_pos = base.aim_pos_m
    ax, ay, az = (float(c) for c in aim_pos)

    def aim_ahead_m(t_s: float, pos_m: Array, vel_m_per_s: Array) -> float:
        """How far ahead of the glider (along its velocity) the aim lies, + 1 km: < 0 once it has passed."""
        x, y, z = pos_m.tolist()
        vx, vy, vz = vel_m_per_s.tolist()
        v = math.sqrt(vx * vx + vy * vy + vz * vz)
        return ((ax - x) * vx + (ay - y) * vy + (az - z) * vz) / v + 1_000.0

    steer = _BoostSteering(boost.booster, boost.kick_rad, boost.azimuth_rad, boost.entry_alt_target_m, aim,
                           boost.vehicle.stages[1], glider.mass_kg)  # fmt: skip
    phases = (
        Phase(
            "boost",
            steer,
            duration_s=boost.vehicle.burn_s,
            aero=AeroTable.boost_stack(),
            reference_area_m2=boost.stack_area_m2,
        ),
        Phase("glide", guidance, end=PhaseEnd(dive_start, 1.0)),
        Phase("terminal", _TerminalGuidance(glider, aim_pos), end=PhaseEnd(aim_ahead_m, -1.0)),
    )
    return GlidePlan(
        vehicle=boost.vehicle,
        phases=phases,
        glider=glider,
        manoeuvre=manoeuvre,
        schedule=schedule,
        launch_pos_m=base.launch_pos_m,
        launch_s=base.launch_s,
        aim_lat_rad=base.aim_lat_rad,
        aim_lon_rad=base.aim_lon_rad,
        aim_alt_m=aim_alt,
        aim_pos_m=aim_pos,
        entry=b,
        entry_alt_m=h_e,
        entry_speed_m_per_s=v_e,
        entry_path_angle_rad=math.asin(max(-1.0, min(1.0, hdot_e / v_e))),
        glide_range_m=glide_range,
        glide_duration_estimate_s=glide_s,
        kick_rad=boost.kick_rad,
        stage2_propellant_kg=boost.stage2_propellant_kg,
        trial_flights=boost.trial_flights,
        _boost=boost,
        _inputs=base,
    )


def _check_angle(value: float, what: str, limit_rad: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and abs(v) <= limit_rad + 1e-12):
        raise ValueError(
            f"{what} must be finite radians within ±{limit_rad:.4f}; got {value!r} (degrees? use DEG)."
        )
    return v


def plan_glide(
    launch_lat_rad: float,
    launch_lon_rad: float,
    aim_lat_rad: float,
    aim_lon_rad: float,
    *,
    launch_s: float = 0.0,
    launch_alt_m: float = 0.0,
    aim_alt_m: float = 0.0,
    glide_entry_alt_m: float = 60_000.0,
    glide_entry_speed_m_per_s: float = 5_000.0,
    manoeuvre: Manoeuvre | None = None,
    glider: Glider | None = None,
    booster: Booster | None = None,
) -> GlidePlan:
    """Size and steer the boost-glide system for one shot; see the module docstring.

    Geodetic launch and aim points (radians, heights in metres above the ellipsoid), the launch time
    [s since the epoch], the ordered glide entry (release) altitude and speed, and the manoeuvre.
    Raises ValueError (with the reason and a fix) for an entry outside `ENTRY_ALT_BAND_M` /
    `ENTRY_SPEED_BAND_M_PER_S`, an aim too close for a boost-glide profile, and a manoeuvre that does
    not fit into the glide. Whether the aim is within reach is known only once flown (`GlidePlan.fly`).
    """
    manoeuvre = manoeuvre if manoeuvre is not None else Manoeuvre()
    glider = glider if glider is not None else Glider()
    booster = booster if booster is not None else Booster()
    lat0 = _check_angle(launch_lat_rad, "launch_lat_rad", 0.5 * math.pi)
    lon0 = _check_angle(launch_lon_rad, "launch_lon_rad", 2.0 * math.pi)
    lat1 = _check_angle(aim_lat_rad, "aim_lat_rad", 0.5 * math.pi)
    lon1 = _check_angle(aim_lon_rad, "aim_lon_rad", 2.0 * math.pi)
    for value, what in ((launch_s, "launch_s"), (launch_alt_m, "launch_alt_m"), (aim_alt_m, "aim_alt_m")):
        if not math.isfinite(float(value)):
            raise ValueError(f"{what} must be finite; got {value!r}.")
    h_e, v_e = float(glide_entry_alt_m), float(glide_entry_speed_m_per_s)
    lo, hi = ENTRY_ALT_BAND_M
    if not lo <= h_e <= hi:
        why = (
            "lower, booster and glider would fly at Mach 7-25 through air dense enough for dynamic "
            "pressures of megapascals"
            if h_e < lo
            else "higher, the air is too thin for lift to hold the glider: it would fall ballistically for "
            "minutes before lift acts (its equilibrium glide lies at 35-55 km)"
        )
        raise ValueError(
            f"glide_entry_alt_m = {h_e:.0f} m is outside the band this glide model supports, "
            f"{lo / 1e3:.0f}-{hi / 1e3:.0f} km: {why}. Choose an entry altitude in the band (default 60 km)."
        )
    lo, hi = ENTRY_SPEED_BAND_M_PER_S
    if not lo <= v_e <= hi:
        why = (
            "slower, the glider has only a few hundred km of glide and flies below Mach 8"
            if v_e < lo
            else "faster, it is nearly in orbit (circular speed ≈ 7,800 m/s, less eastward) and lift would "
            "have to pull it down"
        )
        raise ValueError(
            f"glide_entry_speed_m_per_s = {v_e:.0f} m/s is outside the band this glide model supports, "
            f"{lo:.0f}-{hi:.0f} m/s: {why}. Choose a speed in the band (default 5,000 m/s)."
        )
    launch_pos = geodetic_to_ecef(lat0, lon0, float(launch_alt_m))
    aim_pos = geodetic_to_ecef(lat1, lon1, float(aim_alt_m))
    aim = _unit(aim_pos)
    shot_m = _range_to_go_m(*launch_pos.tolist(), aim)
    # The dive may not begin before the glide has: at release it would begin at the dive range for the
    # entry height and speed (the glider then descends and slows, and the dive range shrinks).
    dive_m = dive_start_range_m(h_e - float(aim_alt_m), v_e, glider)
    if shot_m < _MIN_GLIDE_RANGE_M + dive_m:
        raise ValueError(_too_close(shot_m, h_e, v_e, None, dive_m))
    boost = _solve_boost(launch_pos, _azimuth_rad(lat0, lon0, lat1, lon1), aim, h_e, v_e, glider, booster)
    boost_range_m = _range_to_go_m(*launch_pos.tolist(), _unit(boost.burnout.pos_m))
    glide_m = _range_to_go_m(*boost.burnout.pos_m.tolist(), aim)
    if glide_m < _MIN_GLIDE_RANGE_M + dive_m or shot_m < boost_range_m:
        raise ValueError(_too_close(shot_m, h_e, v_e, boost_range_m, dive_m))
    inputs = _PlanInputs(glider, launch_pos, float(launch_s), lat1, lon1, float(aim_alt_m), aim_pos)
    return _assemble(boost, inputs, manoeuvre)


def _too_close(shot_m: float, h_e: float, v_e: float, boost_m: float | None, dive_m: float) -> str:
    boost = "" if boost_m is None else f"{boost_m / 1e3:.0f} km of boost, "
    need = (boost_m or 0.0) + _MIN_GLIDE_RANGE_M + dive_m
    return (
        f"The aim is {shot_m / 1e3:.0f} km from the launch point, too close for a boost-glide profile: a "
        f"{h_e / 1e3:.0f} km / {v_e:.0f} m/s glide entry needs at least {need / 1e3:.0f} km ({boost}"
        f"{_MIN_GLIDE_RANGE_M / 1e3:.0f} km of glide, and the terminal dive, which from release would "
        f"begin {dive_m / 1e3:.0f} km before the aim). Move the aim "
        "farther or lower glide_entry_speed_m_per_s; a short shot is a ballistic missile's."
    )


def fly_glide(
    target_id: str,
    launch_lat_rad: float,
    launch_lon_rad: float,
    aim_lat_rad: float,
    aim_lon_rad: float,
    *,
    launch_s: float = 0.0,
    launch_alt_m: float = 0.0,
    aim_alt_m: float = 0.0,
    glide_entry_alt_m: float = 60_000.0,
    glide_entry_speed_m_per_s: float = 5_000.0,
    manoeuvre: Manoeuvre | None = None,
    glider: Glider | None = None,
    booster: Booster | None = None,
) -> Missile:
    """A flown boost-glide vehicle, phases ``boost`` → ``glide`` → ``terminal``: `plan_glide` then
    `GlidePlan.fly`. Raises ValueError with the reason (and a fix) when the shot cannot be flown:
    entry outside the supported band, aim too close or too far, a manoeuvre that brings the glider
    down early or does not fit into the glide.
    """
    plan = plan_glide(
        launch_lat_rad,
        launch_lon_rad,
        aim_lat_rad,
        aim_lon_rad,
        launch_s=launch_s,
        launch_alt_m=launch_alt_m,
        aim_alt_m=aim_alt_m,
        glide_entry_alt_m=glide_entry_alt_m,
        glide_entry_speed_m_per_s=glide_entry_speed_m_per_s,
        manoeuvre=manoeuvre,
        glider=glider,
        booster=booster,
    )
    return plan.fly(target_id)
