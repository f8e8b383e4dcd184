"""Ballistic missiles: generic range classes flown from a launch point onto an aim point.

A ballistic missile here is a `flight.Vehicle` (one or two rocket stages, a re-entry vehicle as
payload) flown by `flight.fly` with Earth rotation and J2 on, in three named phases:

* ``boost``: powered flight, steered by `flight.gravity_turn_program` — vertical rise, a pitch-over
  kick of κ in the azimuth ψ, then thrust along the velocity — until thrust terminates at the
  cut-off time t_c (seconds after launch);
* ``midcourse``: the re-entry vehicle (RV), separated at cut-off, coasts until its descent crosses
  `EXO_BOUNDARY_ALT_M` (100 km, the conventional edge of the sensible atmosphere: above it drag on
  these RVs is below 1e-3 m/s²); a trajectory whose apogee stays below that height (short-range
  shots) switches at apogee instead;
* ``terminal``: the RV falls through the atmosphere (drag of `flight.AeroTable.reentry_vehicle` on
  the RV's base area) to impact at the aim point's height.

**Energy management: thrust termination.** `fly` burns stages back to back for their full burn
time, so a shorter burn is built by composing its API (`terminated_vehicle`): the last stage is
replaced by one with the same mass flow, hence the same thrust, that burns only until t_c; its
unburnt propellant is added to the dry mass jettisoned at cut-off, when the RV separates. Up to
t_c this is the full vehicle's flight, mass schedule included. Liquid-fuelled missiles cut off their
engine on a guidance command, solid ones open thrust-termination ports. The cut-off falls in the
last stage (a two-stage missile always stages), no earlier than `RangeClass.min_cutoff_s`.

**Minimum energy and loft.** For a burnout point r₁ and an impact point r₂ the Keplerian conic of
least energy (least burnout speed) joining them has semi-major axis a = s/2, s = (r₁ + r₂ + c)/2 the
semi-perimeter of the triangle with the chord c, and its empty focus F* on the chord at distance
s − r₁ from r₁ (Lambert's minimum-energy ellipse: Bate, Mueller & White 1971, *Fundamentals of
Astrodynamics*, §5.2; Battin 1999, *An Introduction to the Mathematics and Methods of
Astrodynamics*, §6.4). The normal of an ellipse bisects the angle between the focal radii, so the
burnout flight-path angle (above the local horizontal) of that conic is

    γ_me = ½ ∠(F − r₁, F* − r₁),       F the Earth's centre,

which for r₁ = r₂ (free-flight range angle Ψ) is the classic γ* = (π − Ψ)/4 with burnout speed
v² = (μ/r) 2 sin(Ψ/2) / (1 + sin(Ψ/2)) (Bate, Mueller & White, §6.2, the maximum-range conditions;
Regan & Anandakrishnan 1993, *Dynamics of Atmospheric Re-entry*, ch. 2). Kizuna takes γ_me in the
Earth-fixed sense — the conic of the non-rotating Earth from the burnout point to the aim point, the
flight-path angle of the ECEF (Earth-relative) velocity — and solves for the steering whose burnout
flight-path angle is γ_bo = γ_me + loft; the full model flies it with rotation and J2. ``loft = 0``
is then the minimum-energy trajectory for the range whatever the azimuth: the least Earth-relative
burnout speed (the part a missile's propellant buys; the rotation gives every launch ω⊕ × r for
free). Measured on a 2,000 km medium shot, lofts of ±5° and ±10° need 0.6 % and 2.4 % more burnout
speed, equally on both sides. (The least *propellant* lies a few degrees flatter: a flatter boost
loses less to gravity.) ``loft > 0`` is lofted (steeper burnout, higher apogee, longer flight),
``loft < 0`` depressed.

**Solver.** Three unknowns (ψ, κ, t_c), three conditions (impact east and north of the aim, and
the burnout flight-path angle), in two nested levels:

1. A surrogate model. The boost is integrated (DOP853, rtol 1e-8) for the full burn at the
   great-circle azimuth ψ_b and a kick κ with dense output, so the state at any cut-off t_c is one
   interpolation; an azimuth change Δψ rotates that state about the launch vertical (exact on a
   non-rotating sphere); the free flight is the Kepler conic from the inertial burnout state down to
   the aim's geocentric radius (Kepler's equation, closed form), mapped back to ECEF by the Earth's
   rotation during the time of flight. For one κ, Newton's method on (t_c, Δψ) puts the surrogate's
   impact on the aim (a few interpolations, no integration); the flight-path residual
   g(κ) = γ_bo − γ_me − loft is then solved in κ by a Newton step from the class's table of
   minimum-energy kicks and the secant method (Brent's method on a bracket as a fallback). Each κ
   costs one boost integration.
2. Defect correction with the full model: the whole flight (rotation, J2, drag, RV separation) is
   flown at the surrogate's solution (rtol 1e-9); its miss shifts the surrogate's aim point (through
   a 2×2 response matrix that Broyden's update learns from the passes, the identity at first) and its
   flight-path residual shifts g, the inner solve runs again, and so on until the full flight lands
   within `TARGET_MISS_M` of the aim with its loft met to `LOFT_TOL_RAD`.

Measured on the 2-core development machine over 90 random shots (all classes, ranges across each
band, lofts within ±8°, any latitude and azimuth): 3.5 boost and 2.1 whole-flight integrations per
missile on average, 0.25 s median and 0.5 s at most per missile; misses 7 m median, all below
`TARGET_MISS_M` (50 m). A loft the class cannot fly costs ≈ 0.5 s more (the band of lofts it can
fly at that range is computed for the error message).

**Range classes** (`RANGE_CLASSES`): a generic single-stage "short" and two-stage "medium" and
"intermediate" missile sized from public orders of magnitude, not any real system: specific
impulses of 250-270 s (storable liquid and composite solid propellants; Sutton & Biblarz, *Rocket
Propulsion Elements*), stage propellant fractions of 0.87-0.90, burns of 75 s for the single stage
and 150-180 s for the two-stage missiles (a Scud-class missile burns about a minute; medium- and
intermediate-range missiles two to three minutes, the orders quoted in the open literature, e.g. by
D. Wright and colleagues, Union of Concerned Scientists, and in Zarchan, *Tactical and Strategic
Missile Guidance*), and re-entry vehicles of 650-800 kg with ballistic coefficients of 25-52 kPa.
Each class's band was measured by flying it at the equator (where the Earth's rotation matters
most) westward, northward and eastward and taking the worst: minimum-energy ranges of 110-1,116 km
(short), 527-3,143 km (medium) and 688-5,781 km (intermediate); the documented bands,
`RangeClass.min_range_m` to `RangeClass.max_range_m`, are rounded inwards from those.

Conventions: SI units, ECEF positions and velocities, angles in radians, azimuth clockwise from
north, times in seconds (launch at ``launch_s`` since the scenario epoch).

May import `kizuna.constants`, `kizuna.frames`, `kizuna.truth.flight`, `kizuna.truth.missiles`,
NumPy and SciPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from kizuna.constants import WGS84_GM_M3_PER_S2, WGS84_OMEGA_RAD_PER_S
from kizuna.frames import ecef_to_geodetic, enu_rotation, geodetic_to_ecef, great_circle_distance_m
from kizuna.truth.flight import (
    AeroTable,
    Coast,
    Impact,
    Phase,
    PhaseEnd,
    Stage,
    StateAt,
    Trajectory,
    Vehicle,
    fly,
    gravity_turn_program,
)
from kizuna.truth.missiles import Missile

__all__ = [
    "EXO_BOUNDARY_ALT_M",
    "LOFT_TOL_RAD",
    "RANGE_CLASSES",
    "TARGET_MISS_M",
    "BallisticShot",
    "RangeClass",
    "check_ballistic_aim",
    "fly_ballistic",
    "ground_range_m",
    "min_energy_path_angle_rad",
    "range_class",
    "solve_ballistic",
    "terminated_vehicle",
]

Array = NDArray[np.float64]

_MU = WGS84_GM_M3_PER_S2
_OMEGA = WGS84_OMEGA_RAD_PER_S
_TWO_PI = 2.0 * math.pi
_DEG = math.pi / 180.0

EXO_BOUNDARY_ALT_M = 100_000.0
"""Midcourse ends (terminal begins) where the descent crosses this geodetic height [m]."""

TARGET_MISS_M = 50.0
"""The solver stops once the whole flight lands this close to the aim point [m]."""

LOFT_TOL_RAD = 5e-4
"""... and once its burnout meets γ_bo − γ_me = loft to this [rad] (0.03°)."""

_MAX_MISS_M = 1_000.0
"""A solution still missing by more than this after the last correction pass is an error [m]."""

_CORRECTION_PASSES = 6
_PATH_ANGLE_TOL_RAD = 1e-4
"""The surrogate's flight-path residual is solved to this [rad] (0.006°)."""

_RTOL_BOOST = 1e-8
"""Integrator tolerance of the surrogate's boost integrations (one per kick tried)."""

_RTOL_FULL = 1e-9
"""Integrator tolerance of the whole flights, the delivered one included (`fly`'s default). The
impact of a depressed 5,000 km shot moves by ≈ 7 km per m/s of burnout speed, and at rtol 1e-8 the
burnout speed carries integration errors of ≈ 0.01 m/s that change with the cut-off time (the step
sequence does): up to 70 m of impact noise, enough to stall the defect correction. At 1e-9 impacts
lie within 3 m of a rtol 1e-12 reference (measured on 900-5,000 km shots)."""

_KICK_MIN_RAD = 0.2 * _DEG
_KICK_MAX_RAD = 60.0 * _DEG
_APOGEE_MARGIN_M = 5_000.0
_BAND_SLACK_M = 1.0
"""Ranges this close outside a class's band are accepted (floating-point round-off of the aim)."""


# --- Range classes --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RangeClass:
    """A generic ballistic missile: booster, re-entry vehicle, steering constants and range band.

    ``vehicle``: stages, payload (the RV's mass) and the booster's aerodynamics
    (`AeroTable.boost_stack` on the body cross-section). ``rv_area_m2``, ``rv_aero``: the RV's
    reference area (base) and drag table after separation. ``vertical_rise_s``, ``kick_s``: the fixed
    parts of the pitch program. ``min_cutoff_s``: the earliest thrust termination, seconds after
    launch. ``min_range_m``, ``max_range_m``: the band of ground ranges it flies on minimum-energy
    paths (measured, rounded inwards; see the module docstring).

    Solver hints, all measured by solving shots with this module: ``kick_table_deg``, rows
    (range_m, κ west, κ north, κ east) of minimum-energy kicks in degrees for shots from the equator
    westward, northward and eastward, interpolated in range and in the launch site's eastward
    fraction along the shot, cos φ sin ψ; ``kick_per_loft``, dκ/d(loft); ``kick_slope``, dg/dκ of the
    flight-path residual. ``nose_radius_m``, ``hot_area_m2``, ``body_area_m2``: the RV's dimensions
    for the infrared proxy (`missiles.Missile`).
    """

    name: str
    description: str
    vehicle: Vehicle
    rv_area_m2: float
    rv_aero: AeroTable
    vertical_rise_s: float
    kick_s: float
    min_cutoff_s: float
    min_range_m: float
    max_range_m: float
    kick_table_deg: tuple[tuple[float, float, float, float], ...]
    kick_per_loft: float
    kick_slope: float
    nose_radius_m: float
    hot_area_m2: float
    body_area_m2: float

    @property
    def burn_s(self) -> float:
        """Full burn time of all stages [s]."""
        return self.vehicle.burn_s

    def kick_guess_rad(self, range_m: float, east: float, loft_rad: float) -> float:
        """First guess of the kick [rad] for ``range_m``, eastward fraction ``east`` = cos φ sin ψ, loft."""
        table = np.array(self.kick_table_deg)
        west, north, eastward = (float(np.interp(range_m, table[:, 0], table[:, j])) for j in (1, 2, 3))
        kick_deg = north + east * (eastward - north) if east >= 0.0 else north - east * (west - north)
        return kick_deg * _DEG + self.kick_per_loft * loft_rad


def _circle_area_m2(diameter_m: float) -> float:
    return math.pi * diameter_m * diameter_m / 4.0


def _make_classes() -> dict[str, RangeClass]:
    rv = AeroTable.reentry_vehicle()
    boost = AeroTable.boost_stack()
    short = RangeClass(
        name="short",
        description=(
            "single-stage short-range missile: 0.9 m body, 8.3 t at launch, one 75 s burn at Isp 250 s "
            "(thrust 213 kN, thrust-to-weight 2.6); 800 kg RV of 0.64 m base (β ≈ 25 kPa)"
        ),
        vehicle=Vehicle(
            stages=(Stage(propellant_kg=6_500.0, dry_kg=1_000.0, isp_s=250.0, burn_s=75.0),),
            payload_kg=800.0,
            reference_area_m2=_circle_area_m2(0.9),
            aero=boost,
        ),
        rv_area_m2=_circle_area_m2(0.64),
        rv_aero=rv,
        vertical_rise_s=5.0,
        kick_s=4.0,
        min_cutoff_s=40.0,
        min_range_m=150e3,
        max_range_m=1_000e3,
        kick_table_deg=(
            (150e3, 30.51, 30.87, 31.17),
            (200e3, 29.44, 29.82, 30.14),
            (350e3, 27.75, 28.17, 28.54),
            (500e3, 26.99, 27.43, 27.83),
            (700e3, 26.5, 26.97, 27.4),
            (850e3, 26.33, 26.81, 27.25),
            (1_000e3, 26.25, 26.74, 27.19),
        ),
        kick_per_loft=-0.62,
        kick_slope=-1.5,
        nose_radius_m=0.08,
        hot_area_m2=0.01,
        body_area_m2=1.5,
    )
    medium = RangeClass(
        name="medium",
        description=(
            "two-stage medium-range missile: 1.25 m body, 16.7 t at launch, burns of 80 s + 70 s at Isp "
            "250 / 260 s (thrust 337 / 109 kN, thrust-to-weight 2.1); 700 kg RV of 0.5 m base (β ≈ 36 kPa)"
        ),
        vehicle=Vehicle(
            stages=(
                Stage(propellant_kg=11_000.0, dry_kg=1_500.0, isp_s=250.0, burn_s=80.0),
                Stage(propellant_kg=3_000.0, dry_kg=450.0, isp_s=260.0, burn_s=70.0),
            ),
            payload_kg=700.0,
            reference_area_m2=_circle_area_m2(1.25),
            aero=boost,
        ),
        rv_area_m2=_circle_area_m2(0.5),
        rv_aero=rv,
        vertical_rise_s=8.0,
        kick_s=4.0,
        min_cutoff_s=85.0,
        min_range_m=600e3,
        max_range_m=3_000e3,
        kick_table_deg=(
            (550e3, 20.44, 21.03, 21.54),
            (800e3, 19.33, 19.97, 20.54),
            (1_200e3, 18.53, 19.21, 19.85),
            (1_700e3, 18.2, 18.93, 19.61),
            (2_200e3, 18.21, 18.96, 19.67),
            (2_600e3, 18.33, 19.1, 19.82),
            (3_000e3, 18.52, 19.3, 20.04),
        ),
        kick_per_loft=-0.43,
        kick_slope=-2.2,
        nose_radius_m=0.06,
        hot_area_m2=0.007,
        body_area_m2=1.2,
    )
    intermediate = RangeClass(
        name="intermediate",
        description=(
            "two-stage intermediate-range missile: 1.5 m body, 28.8 t at launch, burns of 95 s + 85 s at "
            "Isp 260 / 270 s (thrust 537 / 165 kN, thrust-to-weight 1.9); 650 kg RV of 0.4 m base "
            "(β ≈ 52 kPa)"
        ),
        vehicle=Vehicle(
            stages=(
                Stage(propellant_kg=20_000.0, dry_kg=2_200.0, isp_s=260.0, burn_s=95.0),
                Stage(propellant_kg=5_300.0, dry_kg=650.0, isp_s=270.0, burn_s=85.0),
            ),
            payload_kg=650.0,
            reference_area_m2=_circle_area_m2(1.5),
            aero=boost,
        ),
        rv_area_m2=_circle_area_m2(0.4),
        rv_aero=rv,
        vertical_rise_s=8.0,
        kick_s=4.0,
        min_cutoff_s=100.0,
        min_range_m=750e3,
        max_range_m=5_500e3,
        kick_table_deg=(
            (700e3, 13.65, 14.16, 14.63),
            (1_200e3, 12.67, 13.25, 13.78),
            (2_000e3, 12.3, 12.93, 13.51),
            (3_000e3, 12.46, 13.11, 13.73),
            (4_000e3, 12.86, 13.54, 14.18),
            (4_800e3, 13.27, 13.96, 14.62),
            (5_500e3, 13.66, 14.36, 15.04),
        ),
        kick_per_loft=-0.30,
        kick_slope=-3.2,
        nose_radius_m=0.05,
        hot_area_m2=0.005,
        body_area_m2=0.9,
    )
    return {c.name: c for c in (short, medium, intermediate)}


_CLASSES = _make_classes()
RANGE_CLASSES: tuple[str, ...] = tuple(_CLASSES)
"""Names of the generic range classes: "short", "medium", "intermediate"."""


def range_class(name: str) -> RangeClass:
    """The `RangeClass` called ``name`` (one of `RANGE_CLASSES`)."""
    return _get_class(name)


def _get_class(name: object) -> RangeClass:
    cls = _CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        bands = "; ".join(f"{c.name!r}: {_band_km(c)}" for c in _CLASSES.values())
        raise ValueError(f"range_class must be one of {RANGE_CLASSES} ({bands}); got {name!r}.")
    return cls


def _km(x_m: float) -> str:
    return f"{x_m / 1000.0:,.0f} km"


def _band_km(c: RangeClass) -> str:
    return f"{c.min_range_m / 1000.0:,.0f}–{c.max_range_m / 1000.0:,.0f} km"


# --- Geometry -------------------------------------------------------------------------------------


def ground_range_m(lat1_rad: float, lon1_rad: float, lat2_rad: float, lon2_rad: float) -> float:
    """Great-circle distance [m] on the mean-radius sphere (haversine), the range of `RANGE_CLASSES`.

    R = `MEAN_EARTH_RADIUS_M`, geodetic latitudes taken as spherical ones: within 0.5 % of the
    ellipsoidal geodesic, the precision of ranges quoted for missiles.
    """
    return float(great_circle_distance_m(lat1_rad, lon1_rad, lat2_rad, lon2_rad))


def min_energy_path_angle_rad(r1_m: Array, r2_m: Array) -> float:
    """Flight-path angle at ``r1_m`` of the least-energy Keplerian conic from ``r1_m`` to ``r2_m`` [rad].

    Positions (3,) from the attracting centre. γ_me = ½ ∠(−r₁, F* − r₁) with the empty focus
    F* = r₁ + (s − |r₁|) ĉ on the chord c = r₂ − r₁, s = (|r₁| + |r₂| + |c|)/2 (module docstring;
    Bate, Mueller & White 1971, §5.2). Equal radii give (π − Ψ)/4, Ψ the angle between r₁ and r₂.
    """
    r1 = np.asarray(r1_m, dtype=np.float64)
    r2 = np.asarray(r2_m, dtype=np.float64)
    chord = r2 - r1
    c = float(np.linalg.norm(chord))
    n1 = float(np.linalg.norm(r1))
    s = 0.5 * (n1 + float(np.linalg.norm(r2)) + c)
    to_empty = (s - n1) / c * chord
    cross = np.cross(-r1, to_empty)
    return 0.5 * math.atan2(float(np.linalg.norm(cross)), float(np.dot(-r1, to_empty)))


def _inertial_velocity(pos: list[float], vel: list[float]) -> list[float]:
    """v_inertial = v_ECEF + ω⊕ × r, in the inertial frame aligned with ECEF at this instant."""
    return [vel[0] - _OMEGA * pos[1], vel[1] + _OMEGA * pos[0], vel[2]]


def _path_angle(pos: list[float], vel: list[float]) -> float:
    """Geocentric flight-path angle asin(r̂ · v̂) [rad]."""
    rv = pos[0] * vel[0] + pos[1] * vel[1] + pos[2] * vel[2]
    return math.asin(max(-1.0, min(1.0, rv / (math.hypot(*pos) * math.hypot(*vel)))))


def _rotate_z(vec: list[float], angle_rad: float) -> list[float]:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return [c * vec[0] - s * vec[1], s * vec[0] + c * vec[1], vec[2]]


@dataclass(frozen=True)
class _Conic:
    """A Kepler free flight from an inertial state down to a geocentric radius."""

    tof_s: float
    impact_inertial_m: list[float]
    apogee_radius_m: float
    apogee_dir: list[float]


def _kepler_to_radius(pos: list[float], vel: list[float], r_target_m: float) -> _Conic | None:
    """The Kepler conic from (pos, vel) (inertial) to where it descends through ``r_target_m``.

    Elements from the state (Bate, Mueller & White 1971, §2.4): h = r × v,
    e = ((v² − μ/r) r − (r·v) v)/μ, p = h²/μ, a = −μ/(2ε). The descending crossing of r_T has true
    anomaly f_T = 2π − acos((p/r_T − 1)/e); the time of flight follows from Kepler's equation
    M = E − e sin E with n = √(μ/a³) (ibid., §4.2). None if the conic is not an ellipse, is (nearly)
    vertical, never descends to r_T or is already past it.
    """
    rx, ry, rz = pos
    vx, vy, vz = vel
    rn = math.sqrt(rx * rx + ry * ry + rz * rz)
    v2 = vx * vx + vy * vy + vz * vz
    energy = 0.5 * v2 - _MU / rn
    if energy >= 0.0:
        return None
    hx, hy, hz = ry * vz - rz * vy, rz * vx - rx * vz, rx * vy - ry * vx
    h2 = hx * hx + hy * hy + hz * hz
    if h2 < 1e-6 * rn * rn * v2:
        return None
    rv = rx * vx + ry * vy + rz * vz
    k = v2 - _MU / rn
    ex, ey, ez = (k * rx - rv * vx) / _MU, (k * ry - rv * vy) / _MU, (k * rz - rv * vz) / _MU
    e = math.sqrt(ex * ex + ey * ey + ez * ez)
    cos_ft = (h2 / _MU / r_target_m - 1.0) / e
    if not -1.0 < cos_ft < 1.0:
        return None
    hn = math.sqrt(h2)
    px, py, pz = ex / e, ey / e, ez / e
    qx, qy, qz = (hy * pz - hz * py) / hn, (hz * px - hx * pz) / hn, (hx * py - hy * px) / hn
    f0 = math.atan2(rx * qx + ry * qy + rz * qz, rx * px + ry * py + rz * pz) % _TWO_PI
    ft = _TWO_PI - math.acos(cos_ft)
    if ft <= f0:
        return None
    a = -_MU / (2.0 * energy)
    root = math.sqrt(1.0 - e * e)

    def mean_anomaly(f: float) -> float:
        ecc = math.atan2(root * math.sin(f), e + math.cos(f)) % _TWO_PI
        return ecc - e * math.sin(ecc)

    tof = (mean_anomaly(ft) - mean_anomaly(f0)) / math.sqrt(_MU / (a * a * a))
    c, s = r_target_m * math.cos(ft), r_target_m * math.sin(ft)
    return _Conic(
        tof_s=tof,
        impact_inertial_m=[c * px + s * qx, c * py + s * qy, c * pz + s * qz],
        apogee_radius_m=a * (1.0 + e),
        apogee_dir=[-px, -py, -pz],
    )


# --- Thrust termination ---------------------------------------------------------------------------


def terminated_vehicle(vehicle: Vehicle, cutoff_s: float) -> Vehicle:
    """``vehicle`` with its thrust terminated ``cutoff_s`` seconds after launch, in its last stage.

    The last stage keeps its mass flow ṁ (so its thrust ṁ Isp g0) and burns only until the cut-off;
    its unburnt propellant ṁ (t_burnout − t_c) joins the dry mass jettisoned there, as when the RV
    separates from a booster whose engine was shut down. Up to the cut-off the mass schedule, and so
    the flight, is the full vehicle's. ValueError for a cut-off outside the last stage's burn.
    """
    stages = vehicle.stages
    if not stages:
        raise ValueError("terminated_vehicle needs a vehicle with at least one stage.")
    ignition_s = float(sum(s.burn_s for s in stages[:-1]))
    last = stages[-1]
    if not ignition_s < cutoff_s <= ignition_s + last.burn_s:
        raise ValueError(
            f"cutoff_s must fall in the last stage's burn, ({ignition_s:g}, {ignition_s + last.burn_s:g}] "
            f"s after launch; got {cutoff_s!r}."
        )
    burn_s = cutoff_s - ignition_s
    burnt_kg = last.mass_flow_kg_per_s * burn_s
    cut = Stage(
        propellant_kg=burnt_kg,
        dry_kg=last.dry_kg + (last.propellant_kg - burnt_kg),
        isp_s=last.isp_s,
        burn_s=burn_s,
    )
    return Vehicle((*stages[:-1], cut), vehicle.payload_kg, vehicle.reference_area_m2, vehicle.aero)


# --- Result ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BallisticShot:
    """A solved ballistic shot: the flown `Missile` and what the solver found.

    Steering: ``azimuth_rad`` (of the kick, clockwise from north), ``kick_rad``, ``cutoff_s``
    (thrust termination, seconds after launch). Geometry: ``range_m`` (launch to aim, great circle on
    the mean sphere), ``aim_pos_m`` (ECEF). Burnout: ``burnout`` (ECEF state), ``burnout_speed_m_per_s``
    (Earth-relative) and ``burnout_inertial_speed_m_per_s`` (|v + ω⊕ × r|), ``burnout_path_angle_rad``
    (of the ECEF velocity above the geocentric horizontal), ``min_energy_path_angle_rad`` (γ_me from
    the burnout point to the aim) and ``loft_rad`` (asked; γ_bo − γ_me meets it to `LOFT_TOL_RAD`).
    Outcome: ``apogee_alt_m``, ``apogee_time_s``, ``impact``, ``flight_time_s`` (launch to impact),
    ``miss_m`` (impact to aim point, ECEF distance). Effort: ``boost_flights`` and ``full_flights``,
    the integrations of the boost alone and of whole flights the solver needed.
    """

    missile: Missile
    range_class: str
    range_m: float
    aim_pos_m: Array
    azimuth_rad: float
    kick_rad: float
    cutoff_s: float
    loft_rad: float
    burnout: StateAt
    burnout_speed_m_per_s: float
    burnout_inertial_speed_m_per_s: float
    burnout_path_angle_rad: float
    min_energy_path_angle_rad: float
    apogee_alt_m: float
    apogee_time_s: float
    impact: Impact
    flight_time_s: float
    miss_m: float
    boost_flights: int
    full_flights: int

    @property
    def trajectory(self) -> Trajectory:
        return self.missile.trajectory


# --- Surrogate solver -----------------------------------------------------------------------------


class _Infeasible(Exception):
    """The flight-path condition has no root inside the class's energy and steering limits."""


@dataclass
class _Surrogate:
    """The boost at one kick (flown at the azimuth ψ_b) and its inner solution onto the target."""

    kick_rad: float
    boost: Trajectory
    dpsi_rad: float = 0.0
    cutoff_s: float = math.nan
    reach: int = 0  # -1: too long even at the earliest cut-off, +1: short even at full burn, 0: met
    g_rad: float = math.nan
    conic: _Conic | None = None


@dataclass
class _Problem:
    """One shot being solved: geometry, the surrogate's target and the boosts flown so far."""

    cls: RangeClass
    launch_pos: Array
    aim_pos: Array
    aim_alt_m: float
    loft_rad: float
    azimuth0_rad: float  # great-circle azimuth launch -> aim, where the boosts are flown
    enu_launch: Array  # rows east, north, up at the launch point
    east: float  # cos φ sin ψ: the launch site's eastward fraction along the shot
    target: Array  # the surrogate's aim: the aim point shifted by the full model's defect
    aim_radius_m: float = field(init=False)
    u_launch: Array = field(init=False)
    target_theta_rad: float = 0.0
    target_az_rad: float = 0.0
    g_shift_rad: float = 0.0  # full model's flight-path residual minus the surrogate's
    slope: float = -1.0  # dg/dκ, refined by the secant
    boosts: int = 0
    cache: dict[float, _Surrogate] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.aim_radius_m = float(np.linalg.norm(self.aim_pos))
        self.u_launch = self.launch_pos / np.linalg.norm(self.launch_pos)
        self.set_target(self.target)

    def set_target(self, target: Array) -> None:
        self.target = target
        self.target_theta_rad, self.target_az_rad = self.angle_and_azimuth(target)

    def angle_and_azimuth(self, p: Array | list[float]) -> tuple[float, float]:
        """Central angle from the launch point and azimuth (launch ENU) of the point ``p`` [rad]."""
        v = np.asarray(p, dtype=np.float64)
        u = v / np.linalg.norm(v)
        theta = math.atan2(float(np.linalg.norm(np.cross(self.u_launch, u))), float(self.u_launch @ u))
        return theta, math.atan2(float(self.enu_launch[0] @ v), float(self.enu_launch[1] @ v))

    def fly_boost(self, kick_rad: float) -> _Surrogate:
        """The full-burn boost at this kick (integrated once per kick, then cached)."""
        s = self.cache.get(kick_rad)
        if s is None:
            c = self.cls
            steering = gravity_turn_program(c.vertical_rise_s, kick_rad, self.azimuth0_rad, c.kick_s)
            traj = fly(
                c.vehicle,
                [Phase("boost", steering, duration_s=c.vehicle.burn_s)],
                self.launch_pos,
                impact_alt_m=self.aim_alt_m,
                rtol=_RTOL_BOOST,
            )
            self.boosts += 1
            s = self.cache[kick_rad] = _Surrogate(kick_rad, traj)
        return s

    def states(self, s: _Surrogate, cutoff_s: Array, dpsi_rad: float) -> tuple[Array, Array]:
        """ECEF states (n, 3) at the cut-offs, the boost turned by ``dpsi_rad`` about the launch vertical."""
        pos, vel, _, _ = s.boost.sample(cutoff_s)
        c, sn = math.cos(dpsi_rad), math.sin(dpsi_rad)
        turn = self.enu_launch.T @ np.array([[c, sn, 0.0], [-sn, c, 0.0], [0.0, 0.0, 1.0]]) @ self.enu_launch
        return self.launch_pos + (pos - self.launch_pos) @ turn.T, vel @ turn.T

    def conic(self, pos: list[float], vel: list[float]) -> _Conic | None:
        return _kepler_to_radius(pos, _inertial_velocity(pos, vel), self.aim_radius_m)

    def aim_errors(self, s: _Surrogate, cutoff_s: Array, dpsi_rad: float) -> list[tuple[float, float] | None]:
        """(range-angle error, azimuth error) [rad] of the surrogate's impact for each cut-off."""
        pos, vel = self.states(s, cutoff_s, dpsi_rad)
        out: list[tuple[float, float] | None] = []
        for p, v in zip(pos.tolist(), vel.tolist(), strict=True):
            conic = self.conic(p, v)
            if conic is None:
                out.append(None)
                continue
            theta, az = self.angle_and_azimuth(_rotate_z(conic.impact_inertial_m, -_OMEGA * conic.tof_s))
            out.append(
                (theta - self.target_theta_rad, (self.target_az_rad - az + math.pi) % _TWO_PI - math.pi)
            )
        return out

    def solve_inner(self, s: _Surrogate) -> _Surrogate:
        """Cut-off and azimuth offset that put the surrogate's impact on the target.

        Newton's method on (t_c, Δψ): the range angle θ(t_c) with its slope from a 1 ms difference
        (both times interpolated in one call); Δψ += azimuth error (turning the boost about the
        launch vertical turns the impact by as much). t_c stays in [``min_cutoff_s``, end of burn];
        pinned at a bound the shot is marked too long (−1) or too short (+1).
        """
        t_lo = self.cls.min_cutoff_s
        t_hi = min(self.cls.burn_s, s.boost.end_time_s - s.boost.launch_time_s)
        dpsi = s.dpsi_rad
        tc = s.cutoff_s if math.isfinite(s.cutoff_s) else self._cutoff_guess_s(s.kick_rad, t_hi)
        reach = 0
        if t_hi <= t_lo:  # the boost met the ground before the earliest cut-off
            reach, tc = 1, t_hi
        else:
            for _ in range(20):
                tc = min(max(tc, t_lo), t_hi)
                probe = tc - 1e-3 if tc + 1e-3 > t_hi else tc + 1e-3
                here, there = self.aim_errors(s, np.array([tc, probe]), dpsi)
                if here is None or there is None or not (there[0] - here[0]) / (probe - tc) > 0.0:
                    return self._solve_inner_bracketed(s, t_lo, t_hi)
                new = tc - here[0] * (probe - tc) / (there[0] - here[0])
                dpsi += here[1]
                if new > t_hi and tc == t_hi:
                    reach = 1
                    break
                if new < t_lo and tc == t_lo:
                    reach = -1
                    break
                done = abs(new - tc) < 1e-7 and abs(here[1]) < 1e-9
                tc = new
                if done:
                    break
            tc = min(max(tc, t_lo), t_hi)
        s.dpsi_rad, s.cutoff_s, s.reach = dpsi, float(tc), reach
        return self._finish(s)

    def _solve_inner_bracketed(self, s: _Surrogate, t_lo: float, t_hi: float) -> _Surrogate:
        """The slow, safe inner solve: Brent on t_c, fixed-point on Δψ (where Newton's slope fails)."""
        dpsi = s.dpsi_rad
        reach, tc = 1, t_hi
        for _ in range(8):

            def range_error(t: float, dpsi: float = dpsi) -> float:
                err = self.aim_errors(s, np.array([t]), dpsi)[0]
                return math.pi if err is None else err[0]

            if range_error(t_lo) > 0.0:
                reach, tc = -1, t_lo
            elif range_error(t_hi) < 0.0:
                reach, tc = 1, t_hi
            else:
                reach, tc = 0, brentq(range_error, t_lo, t_hi, xtol=1e-7, rtol=1e-12)
            err = self.aim_errors(s, np.array([tc]), dpsi)[0]
            if err is None:
                break
            dpsi += err[1]
            if abs(err[1]) < 1e-9:
                break
        s.dpsi_rad, s.cutoff_s, s.reach = dpsi, float(tc), reach
        return self._finish(s)

    def _finish(self, s: _Surrogate) -> _Surrogate:
        """The flight-path residual g = γ_bo − γ_me − loft (+ defect) at the surrogate's solution."""
        pos_a, vel_a = self.states(s, np.array([s.cutoff_s]), s.dpsi_rad)
        pos, vel = pos_a[0].tolist(), vel_a[0].tolist()
        s.conic = self.conic(pos, vel)
        if s.conic is None:
            s.g_rad = -1.0 if s.boost.end_reason == "impact" else 1.0
            return s
        gamma_me = min_energy_path_angle_rad(pos_a[0], self.aim_pos)
        s.g_rad = _path_angle(pos, vel) - gamma_me - self.loft_rad + self.g_shift_rad
        return s

    def _cutoff_guess_s(self, kick_rad: float, t_hi: float) -> float:
        """The cut-off of the nearest kick already solved, else the end of the burn."""
        done = [v for v in self.cache.values() if math.isfinite(v.cutoff_s)]
        if not done:
            return t_hi
        return min(done, key=lambda v: abs(v.kick_rad - kick_rad)).cutoff_s

    def g(self, kick_rad: float) -> float:
        return self.solve_inner(self.fly_boost(kick_rad)).g_rad


def _clamp_kick(kick_rad: float) -> float:
    return min(max(kick_rad, _KICK_MIN_RAD), _KICK_MAX_RAD)


def _solve_kick(prob: _Problem, guess_rad: float) -> _Surrogate:
    """Root of g(κ) = γ_bo − γ_me − loft, one boost integration per κ tried.

    A Newton step from the guess with ``prob.slope`` ≈ dg/dκ (negative: a larger kick flattens the
    boost), then the secant method; Brent's method on a bracket grown from the kicks tried when the
    secant leaves the kick limits or stalls. Raises `_Infeasible` when the root needs a cut-off outside
    the burn (more or less energy than the class has) or no kick meets the condition.
    """
    k0 = _clamp_kick(guess_rad)
    g0 = prob.g(k0)
    found: _Surrogate | None = prob.cache[k0] if abs(g0) < _PATH_ANGLE_TOL_RAD else None
    if found is None:
        k1 = _clamp_kick(k0 - g0 / prob.slope)
        if k1 == k0:
            k1 = _clamp_kick(k0 * 0.98)
        g1 = prob.g(k1)
        for _ in range(10):
            best = prob.cache[k1 if abs(g1) < abs(g0) else k0]
            if abs(best.g_rad) < _PATH_ANGLE_TOL_RAD:
                found = best
                break
            if g1 == g0:
                break
            prob.slope = (g1 - g0) / (k1 - k0)
            k2 = k1 - g1 / prob.slope
            if not _KICK_MIN_RAD <= k2 <= _KICK_MAX_RAD or abs(k2 - k1) > 20.0 * _DEG:
                break
            k0, g0, k1, g1 = k1, g1, k2, prob.g(k2)
    if found is None:
        found = _bracketed_kick(prob)
    if found.reach != 0:
        raise _Infeasible("the flight-path condition needs a cut-off outside the burn")
    return found


def _bracketed_kick(prob: _Problem) -> _Surrogate:
    """Brent's method on g(κ), bracketed by the kicks tried so far or the kick limits."""
    tried = sorted((k, s.g_rad) for k, s in prob.cache.items())
    lo = max((k for k, gv in tried if gv > 0.0), default=None)
    hi = min((k for k, gv in tried if gv < 0.0 and (lo is None or k > lo)), default=None)
    if lo is None:
        lo = _KICK_MIN_RAD
        if prob.g(lo) <= 0.0:
            raise _Infeasible("even the smallest kick gives too flat a burnout")
    if hi is None:
        hi = _KICK_MAX_RAD
        if prob.g(hi) >= 0.0:
            raise _Infeasible("even the largest kick gives too steep a burnout")
    k = brentq(prob.g, lo, hi, xtol=1e-6)
    return prob.solve_inner(prob.fly_boost(k))


# --- Full model -----------------------------------------------------------------------------------


def _fly_full(prob: _Problem, sur: _Surrogate, launch_s: float) -> Trajectory:
    """The whole flight at the surrogate's steering: boost to the cut-off, then the RV to impact.

    Midcourse ends where the descent crosses `EXO_BOUNDARY_ALT_M`, or at apogee when the surrogate's
    apogee lies below that boundary (+5 km margin); if the boundary is not crossed after all, the flight
    is flown again with the apogee switch (the same physics: only the phase boundary moves).
    """
    cls = prob.cls
    vehicle = terminated_vehicle(cls.vehicle, sur.cutoff_s)
    azimuth = prob.azimuth0_rad + sur.dpsi_rad
    assert sur.conic is not None
    apogee = np.array(sur.conic.apogee_dir) * sur.conic.apogee_radius_m
    apogee_end = float(ecef_to_geodetic(apogee)[2]) < EXO_BOUNDARY_ALT_M + _APOGEE_MARGIN_M
    traj = None
    for end_at_apogee in (apogee_end, True):
        steering = gravity_turn_program(cls.vertical_rise_s, sur.kick_rad, azimuth, cls.kick_s)
        end = PhaseEnd.apogee() if end_at_apogee else PhaseEnd.altitude_crossing(EXO_BOUNDARY_ALT_M)
        phases = [
            Phase("boost", steering, duration_s=vehicle.burn_s),
            Phase("midcourse", Coast(), end=end, aero=cls.rv_aero, reference_area_m2=cls.rv_area_m2),
            Phase("terminal", Coast(), aero=cls.rv_aero, reference_area_m2=cls.rv_area_m2),
        ]
        traj = fly(
            vehicle,
            phases,
            prob.launch_pos,
            launch_time_s=launch_s,
            impact_alt_m=prob.aim_alt_m,
            rtol=_RTOL_FULL,
        )
        if traj.impact is None or traj.burnout is None:
            raise RuntimeError(
                f"A solved ballistic flight ended without impact ({traj.end_reason}): please report the shot."
            )
        if not math.isnan(traj.phase_start_s[2]):
            break
    assert traj is not None
    return traj


def _path_angles(traj: Trajectory, aim_pos: Array) -> tuple[float, float]:
    """(γ_bo, γ_me) of a flown trajectory [rad]: its ECEF burnout flight-path angle, and the
    minimum-energy one from its burnout point to the aim (`min_energy_path_angle_rad`)."""
    bo = traj.burnout
    assert bo is not None
    return _path_angle(bo.pos_m.tolist(), bo.vel_m_per_s.tolist()), min_energy_path_angle_rad(
        bo.pos_m, aim_pos
    )


# --- Public API -----------------------------------------------------------------------------------


def check_ballistic_aim(
    launch_lat_rad: float, launch_lon_rad: float, aim_lat_rad: float, aim_lon_rad: float, range_class: str
) -> float:
    """The ground range [m] from launch to aim; ValueError if ``range_class`` cannot fly it.

    Cheap (no flight): what a scenario check calls first. The message names the class, the range
    asked and the band the class flies, and names a class that does fly it, e.g. "aim point is
    1,850 km from launch; the 'short' range class flies 150–1,000 km: use range_class 'medium'".
    """
    cls = _get_class(range_class)
    rng = ground_range_m(launch_lat_rad, launch_lon_rad, aim_lat_rad, aim_lon_rad)
    if cls.min_range_m - _BAND_SLACK_M <= rng <= cls.max_range_m + _BAND_SLACK_M:
        return rng
    fits = [c.name for c in _CLASSES.values() if c.min_range_m <= rng <= c.max_range_m]
    if fits:
        hint = f": use range_class {' or '.join(repr(f) for f in fits)}"
    else:
        lo = min(c.min_range_m for c in _CLASSES.values())
        hi = max(c.max_range_m for c in _CLASSES.values())
        hint = f", and no class flies it (together they fly {_km(lo)}–{_km(hi)})"
    shown = (
        f"{rng / 1000.0:,.1f} km" if _km(rng) in (_km(cls.min_range_m), _km(cls.max_range_m)) else _km(rng)
    )
    raise ValueError(
        f"aim point is {shown} from launch; the {cls.name!r} range class flies {_band_km(cls)}{hint}."
    )


def solve_ballistic(
    target_id: str,
    launch_lat_rad: float,
    launch_lon_rad: float,
    aim_lat_rad: float,
    aim_lon_rad: float,
    range_class: str,
    loft_rad: float = 0.0,
    launch_s: float = 0.0,
    *,
    launch_alt_m: float = 0.0,
    aim_alt_m: float = 0.0,
) -> BallisticShot:
    """Solve the steering that lands a ``range_class`` missile on the aim point, and fly it.

    Latitudes geodetic and longitudes east-positive [rad], heights above the WGS-84 ellipsoid [m]; the
    flight ends where the descent reaches ``aim_alt_m``. ``loft_rad``: burnout flight-path angle above
    (+) or below (−) the minimum-energy one. ``launch_s``: launch time, seconds since the scenario
    epoch. The model and the solver are in the module docstring. Raises ValueError, with a message for
    the scenario check, when the class cannot fly the range or the loft (the message then gives the
    band of lofts it can fly at that range).
    """
    cls = _get_class(range_class)
    for name, value in (
        ("launch_lat_rad", launch_lat_rad),
        ("launch_lon_rad", launch_lon_rad),
        ("aim_lat_rad", aim_lat_rad),
        ("aim_lon_rad", aim_lon_rad),
        ("loft_rad", loft_rad),
        ("launch_s", launch_s),
        ("launch_alt_m", launch_alt_m),
        ("aim_alt_m", aim_alt_m),
    ):
        if not math.isfinite(value):
            raise ValueError(f"{target_id!r}: {name} must be finite; got {value!r}.")
    if abs(launch_lat_rad) > 0.5 * math.pi or abs(aim_lat_rad) > 0.5 * math.pi:
        raise ValueError(
            f"{target_id!r}: latitudes must lie in [-π/2, π/2] rad; got launch {launch_lat_rad!r}, "
            f"aim {aim_lat_rad!r} (degrees where radians were expected?)."
        )
    if abs(loft_rad) >= 0.5 * math.pi:
        raise ValueError(f"{target_id!r}: loft_rad must lie within ±π/2; got {loft_rad!r}.")
    try:
        rng = check_ballistic_aim(launch_lat_rad, launch_lon_rad, aim_lat_rad, aim_lon_rad, cls.name)
    except ValueError as exc:
        raise ValueError(f"{target_id!r}: {exc}") from None

    launch_pos = geodetic_to_ecef(launch_lat_rad, launch_lon_rad, launch_alt_m)
    aim_pos = geodetic_to_ecef(aim_lat_rad, aim_lon_rad, aim_alt_m)
    enu = enu_rotation(launch_lat_rad, launch_lon_rad)
    chord = aim_pos - launch_pos
    azimuth0 = math.atan2(float(enu[0] @ chord), float(enu[1] @ chord))
    prob = _Problem(
        cls=cls,
        launch_pos=launch_pos,
        aim_pos=aim_pos,
        aim_alt_m=float(aim_alt_m),
        loft_rad=float(loft_rad),
        azimuth0_rad=azimuth0,
        enu_launch=enu,
        east=math.cos(launch_lat_rad) * math.sin(azimuth0),
        target=aim_pos.copy(),
        slope=cls.kick_slope,
    )
    try:
        sur = _solve_kick(prob, cls.kick_guess_rad(rng, prob.east, loft_rad))
    except _Infeasible:
        raise ValueError(_loft_message(prob, target_id, rng)) from None

    full_flights = 0
    traj: Trajectory | None = None
    miss = math.inf
    enu_aim = enu_rotation(aim_lat_rad, aim_lon_rad)[:2]  # rows: east, north at the aim
    offset_en = np.zeros(2)  # the surrogate's target minus the aim point, east and north [m]
    response = np.eye(2)  # d(miss)/d(offset), Broyden-updated; the identity is plain defect correction
    previous: tuple[Array, Array] | None = None
    for _ in range(_CORRECTION_PASSES):
        traj = _fly_full(prob, sur, launch_s)
        full_flights += 1
        assert traj.impact is not None
        miss_vec = traj.impact.pos_m - aim_pos
        miss = float(np.linalg.norm(miss_vec))
        gamma_bo, gamma_me = _path_angles(traj, aim_pos)
        g_true = gamma_bo - gamma_me - prob.loft_rad
        if miss <= TARGET_MISS_M and abs(g_true) <= LOFT_TOL_RAD:
            break
        # Defect correction: move the surrogate's target against the full model's miss, through the
        # response that Broyden's update learns from the passes so far (drag-dominated short shots
        # respond ~15 % more strongly than the surrogate), and shift its flight-path residual.
        miss_en = enu_aim @ miss_vec
        if previous is not None:
            d_off, d_miss = offset_en - previous[0], miss_en - previous[1]
            response = response + np.outer(d_miss - response @ d_off, d_off) / float(d_off @ d_off)
            if not 0.2 < np.linalg.det(response) < 5.0:
                response = np.eye(2)
        previous = (offset_en.copy(), miss_en)
        offset_en = offset_en - np.linalg.solve(response, miss_en)
        prob.set_target(aim_pos + enu_aim.T @ offset_en)
        prob.g_shift_rad += g_true - sur.g_rad
        sur = prob.solve_inner(sur)
        try:
            if abs(sur.g_rad) > _PATH_ANGLE_TOL_RAD or sur.reach != 0:
                sur = _solve_kick(prob, sur.kick_rad)
        except _Infeasible:
            raise ValueError(_loft_message(prob, target_id, rng)) from None
    assert traj is not None and traj.impact is not None and traj.burnout is not None
    if miss > _MAX_MISS_M:
        raise RuntimeError(
            f"{target_id!r}: the steering solver still missed the aim by {miss:,.0f} m after "
            f"{_CORRECTION_PASSES} passes ({cls.name!r}, {_km(rng)}, loft {loft_rad / _DEG:+.1f}°): please "
            "report the shot."
        )
    bo = traj.burnout
    gamma_bo, gamma_me = _path_angles(traj, aim_pos)
    missile = Missile(
        target_id=target_id,
        kind="ballistic_missile",
        vehicle=traj.vehicle,
        trajectory=traj,
        nose_radius_m=cls.nose_radius_m,
        hot_area_m2=cls.hot_area_m2,
        body_area_m2=cls.body_area_m2,
    )
    return BallisticShot(
        missile=missile,
        range_class=cls.name,
        range_m=rng,
        aim_pos_m=aim_pos,
        azimuth_rad=(prob.azimuth0_rad + sur.dpsi_rad) % _TWO_PI,
        kick_rad=sur.kick_rad,
        cutoff_s=sur.cutoff_s,
        loft_rad=float(loft_rad),
        burnout=bo,
        burnout_speed_m_per_s=float(np.linalg.norm(bo.vel_m_per_s)),
        burnout_inertial_speed_m_per_s=math.hypot(
            *_inertial_velocity(bo.pos_m.tolist(), bo.vel_m_per_s.tolist())
        ),
        burnout_path_angle_rad=gamma_bo,
        min_energy_path_angle_rad=gamma_me,
        apogee_alt_m=traj.apogee_alt_m,
        apogee_time_s=traj.apogee_time_s,
        impact=traj.impact,
        flight_time_s=traj.impact.t_s - traj.launch_time_s,
        miss_m=miss,
        boost_flights=prob.boosts,
        full_flights=full_flights,
    )


def fly_ballistic(
    target_id: str,
    launch_lat_rad: float,
    launch_lon_rad: float,
    aim_lat_rad: float,
    aim_lon_rad: float,
    range_class: str,
    loft_rad: float = 0.0,
    launch_s: float = 0.0,
    *,
    launch_alt_m: float = 0.0,
    aim_alt_m: float = 0.0,
) -> Missile:
    """The flown `Missile` of `solve_ballistic` (same arguments), ready for `missiles.sample_missiles`."""
    return solve_ballistic(
        target_id,
        launch_lat_rad,
        launch_lon_rad,
        aim_lat_rad,
        aim_lon_rad,
        range_class,
        loft_rad,
        launch_s,
        launch_alt_m=launch_alt_m,
        aim_alt_m=aim_alt_m,
    ).missile


# --- Error messages -------------------------------------------------------------------------------


def _loft_message(prob: _Problem, target_id: str, rng: float) -> str:
    """Why the loft cannot be met, with the band of lofts the class reaches at this range."""
    cls = prob.cls
    band = _loft_band_rad(prob, rng)
    if band is None:
        can = f"at {_km(rng)} it has the energy for the minimum-energy path only"
    else:
        can = f"at {_km(rng)} it flies lofts from {band[0] / _DEG:+.1f}° to {band[1] / _DEG:+.1f}°"
    return (
        f"{target_id!r}: a loft of {prob.loft_rad / _DEG:+.1f}° at {_km(rng)} is beyond the {cls.name!r} "
        f"range class ({can}; at loft 0 it flies {_band_km(cls)}): bring the loft into that band, "
        "shorten the range, or use a longer-range class."
    )


def _loft_band_rad(prob: _Problem, rng: float) -> tuple[float, float] | None:
    """The lofts γ_bo − γ_me with which a full burn reaches ``rng`` (surrogate); None if none.

    At full burn the range is unimodal in the kick, highest near the minimum-energy kick; the two
    kicks where it equals the asked range (Brent's method, to 0.06°) bound the reachable lofts: the
    smaller kick the lofted end, the larger the depressed end (or where the boost meets the ground).
    On the error path only (≈ 15 boost integrations, ≈ 0.5 s).
    """
    cls = prob.cls
    k_me = _clamp_kick(cls.kick_guess_rad(rng, prob.east, 0.0))

    def full_burn(kick_rad: float) -> tuple[_Surrogate, float]:
        """The boost at this kick, cut off at the end of its burn, and its range error [rad]."""
        s = prob.fly_boost(kick_rad)
        s.cutoff_s = min(cls.burn_s, s.boost.end_time_s - s.boost.launch_time_s)
        s.dpsi_rad = 0.0
        err = None if s.boost.end_reason == "impact" else prob.aim_errors(s, np.array([s.cutoff_s]), 0.0)[0]
        return s, -1.0 if err is None else err[0]

    if full_burn(k_me)[1] < 0.0:
        return None
    ends = []
    for far in (_KICK_MAX_RAD, _KICK_MIN_RAD):
        k = far
        if full_burn(far)[1] < 0.0:
            k = brentq(lambda x: full_burn(x)[1], *sorted((k_me, far)), xtol=1e-3)
            if full_burn(k)[1] < 0.0:  # on the short side of the root: step back into reach
                k += 1e-3 if far < k_me else -1e-3
        s = prob._finish(full_burn(k)[0])
        ends.append(s.g_rad + prob.loft_rad - prob.g_shift_rad)
    return ends[0], ends[1]
