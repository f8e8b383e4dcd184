"""Three-degree-of-freedom point-mass flight over the rotating WGS-84 Earth.

The core that ballistic missiles and hypersonic glide vehicles are built on: a vehicle (stages,
payload, aerodynamics) flies a list of named phases, each steered by a control law, and `fly`
returns a `Trajectory` that answers "where, how fast, in which phase" at any times.

Equations of motion (ECEF, rotating with the Earth at ω = ω⊕ ẑ; e.g. Vallado 2013, *Fundamentals
of Astrodynamics and Applications*, 4th ed., §3.7 for the rotating-frame kinematics; Zipfel 2014,
*Modeling and Simulation of Aerospace Vehicle Dynamics*, 3rd ed., ch. 8 for the point-mass model):

    r̈ = g(r) - 2 ω × ṙ - ω × (ω × r) + (T + D + L) / m

* g(r): WGS-84 point mass plus J2 (`gravity_m_per_s2`); J2 or all of gravity can be switched off.
* -2ω×ṙ (Coriolis) and -ω×(ω×r) (centrifugal); with ``earth_rotation=False`` both vanish and the
  ECEF axes are treated as inertial (used for the vacuum Kepler test).
* T: thrust of the burning stage, |T| = ṁ Isp g0 with ṁ = propellant / burn time (vacuum Isp, no
  back-pressure loss), along the direction the phase's control commands.
* D, L: aerodynamic drag and lift. The air co-rotates with the Earth (no wind), so the air-relative
  velocity is the ECEF velocity v. With q = ½ ρ |v|² (ρ from `kizuna.truth.atmosphere` at the
  geodetic height) and reference area S:
  D = -q S C_D(M) v̂,   L = q S C_L(M) f_L (cos σ ê_up⊥ + sin σ v̂ × ê_up⊥),
  where M = |v| / a(h) is the Mach number, f_L the control's lift fraction, σ its bank angle and
  ê_up⊥ the unit component of the local geodetic up perpendicular to v: σ = 0 puts lift in the
  vertical plane, "up"; σ > 0 banks it to the right of the flight direction. When v is within
  1e-9 rad of vertical, ê_up⊥ is undefined and lift is zero.

Mass is not integrated: it is the exact piecewise-linear schedule of `Vehicle.mass_kg`, stage i
igniting at the burnout of stage i - 1 and dropping its dry mass at its own burnout; the payload
mass remains after the last stage.

Integration: ``scipy.integrate.solve_ivp`` (DOP853, the Dormand-Prince 8(5,3) pair of Hairer,
Nørsett & Wanner, *Solving ODEs I*, §II.10; default rtol 1e-9, atol 1e-3 m and 1e-6 m/s), restarted
at every phase boundary, stage burnout and control breakpoint so no discontinuity lies inside a
step. Terminal events: ground impact (geodetic height falls to ``impact_alt_m``) and the phase's
optional `PhaseEnd`. The right-hand side works on one state in plain Python floats (no per-call
objects beyond the control's `Command`), about 10 µs a call. With the defaults, a 1,000 km
two-stage flight lands within 0.1 m of a rtol = 1e-13 reference and its dense output stays within
2 m of it everywhere (measured); pass rtol = 1e-11 where metres matter (the Kepler test does).

Conventions: times are seconds since the scenario epoch (a trajectory starts at its launch time);
positions ECEF [m], velocities ECEF [m/s]; angles in radians; azimuth clockwise from north.

May import `kizuna.constants`, `kizuna.frames`, `kizuna.truth.atmosphere`, NumPy and SciPy.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal, NamedTuple, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import solve_ivp
from scipy.interpolate import PchipInterpolator

from kizuna.constants import (
    STANDARD_GRAVITY_M_PER_S2,
    WGS84_A_M,
    WGS84_B_M,
    WGS84_E2,
    WGS84_EP2,
    WGS84_F,
    WGS84_GM_M3_PER_S2,
    WGS84_J2,
    WGS84_OMEGA_RAD_PER_S,
)
from kizuna.frames import ecef_to_geodetic
from kizuna.truth.atmosphere import scalar_density_and_sound_speed

__all__ = [
    "GRAVITY_MODELS",
    "Accelerations",
    "AeroTable",
    "Coast",
    "Command",
    "Control",
    "FixedEnu",
    "Glide",
    "GravityTurn",
    "Impact",
    "Phase",
    "PhaseEnd",
    "Scheduled",
    "Stage",
    "StateAt",
    "Trajectory",
    "Vehicle",
    "fly",
    "gravitational_potential_m2_per_s2",
    "gravity_m_per_s2",
    "gravity_turn_program",
    "jacobi_energy_m2_per_s2",
]

Array = NDArray[np.float64]
GravityModel = Literal["j2", "point_mass", "off"]
EndFunction = Callable[[float, NDArray[np.float64], NDArray[np.float64]], float]
GRAVITY_MODELS: tuple[str, ...] = ("j2", "point_mass", "off")
"""Values of ``fly(gravity=...)``: WGS-84 point mass + J2, point mass only, or no gravity."""

_MU = WGS84_GM_M3_PER_S2
_RE = WGS84_A_M
_OMEGA = WGS84_OMEGA_RAD_PER_S
_G0 = STANDARD_GRAVITY_M_PER_S2
_AERO_CEILING_M = 200_000.0
"""Above this geodetic height aerodynamic forces are skipped: the atmosphere model's density there is
below 1e-13 kg/m³ (see `kizuna.truth.atmosphere`), a deceleration below 1e-7 m/s² for any vehicle."""
_VERTICAL_LIFT_EPS = 1e-9
_MIN_SPEED_M_PER_S = 1e-6
_CONTROL_CLAMP_S = 1e-9


# --- Gravity and energy ------------------------------------------------------------------------


def _check_gravity(gravity: str) -> None:
    if gravity not in GRAVITY_MODELS:
        raise ValueError(f"gravity must be one of {GRAVITY_MODELS}; got {gravity!r}.")


def gravity_m_per_s2(pos_m: ArrayLike, *, gravity: GravityModel = "j2") -> Array:
    """Gravitational acceleration ``(..., 3)`` [m/s²] at ECEF positions ``(..., 3)`` [m].

    WGS-84 point mass plus the J2 zonal term, the gradient of `gravitational_potential_m2_per_s2`
    (e.g. Vallado 2013, 4th ed., §8.6.1; Curtis 2014, *Orbital Mechanics for Engineering Students*,
    3rd ed., §10.7):

        a_x,y = -μ x,y / r³ [1 + 1.5 J2 (R/r)² (1 - 5 z²/r²)]
        a_z   = -μ z   / r³ [1 + 1.5 J2 (R/r)² (3 - 5 z²/r²)]

    with μ = GM and R the WGS-84 equatorial radius. Gravitation only: the centrifugal term of the
    rotating frame is separate (it is in `fly`'s equations of motion and in
    `jacobi_energy_m2_per_s2`). ``gravity="point_mass"`` drops J2; ``"off"`` returns zeros.
    """
    _check_gravity(gravity)
    pos = np.asarray(pos_m, dtype=np.float64)
    if gravity == "off":
        return np.zeros_like(pos)
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    r2 = x * x + y * y + z * z
    k = -_MU / (r2 * np.sqrt(r2))
    if gravity == "point_mass":
        return pos * k[..., None]
    c = 1.5 * WGS84_J2 * _RE * _RE / r2
    s = 5.0 * z * z / r2
    kxy = k * (1.0 + c * (1.0 - s))
    kz = k * (1.0 + c * (3.0 - s))
    return np.stack([kxy * x, kxy * y, kz * z], axis=-1)


def gravitational_potential_m2_per_s2(pos_m: ArrayLike, *, gravity: GravityModel = "j2") -> Array:
    """Gravitational potential energy per unit mass U [m²/s²] (negative) at ECEF ``(..., 3)`` [m].

    U = -μ/r [1 - J2 (R/r)² (3 sin²φc - 1) / 2], φc the geocentric latitude (sin φc = z/r);
    the J2 term of the zonal expansion (Vallado 2013, §8.6.1, eq. for U with P2(sin φc)). Its
    negative gradient is `gravity_m_per_s2` (tested by finite differences).
    """
    _check_gravity(gravity)
    pos = np.asarray(pos_m, dtype=np.float64)
    if gravity == "off":
        return np.zeros(pos.shape[:-1])
    r2 = np.sum(pos * pos, axis=-1)
    r = np.sqrt(r2)
    if gravity == "point_mass":
        return -_MU / r
    sin2 = pos[..., 2] ** 2 / r2
    return -_MU / r * (1.0 - WGS84_J2 * _RE * _RE / r2 * (3.0 * sin2 - 1.0) / 2.0)


def jacobi_energy_m2_per_s2(
    pos_m: ArrayLike,
    vel_m_per_s: ArrayLike,
    *,
    gravity: GravityModel = "j2",
    earth_rotation: bool = True,
) -> Array:
    """Specific mechanical energy in the rotating ECEF frame [m²/s²] (the Jacobi integral).

    ε = ½|v|² + U(r) - ½|ω × r|², v the ECEF velocity. Without thrust and aerodynamic forces it is
    conserved along `fly`'s trajectories: the Coriolis force is perpendicular to v and does no
    work, and the centrifugal force derives from the potential -½|ω × r|² (e.g. Vallado 2013
    §2.3 on the restricted-problem Jacobi integral; Battin 1999 §3.7). Drag only lowers it; lift,
    perpendicular to v, leaves it unchanged; d ε / dt = (T + D + L)·v / m. With
    ``earth_rotation=False`` the ω term is dropped (the frame treated as inertial).
    """
    pos = np.asarray(pos_m, dtype=np.float64)
    vel = np.asarray(vel_m_per_s, dtype=np.float64)
    eps = 0.5 * np.sum(vel * vel, axis=-1) + gravitational_potential_m2_per_s2(pos, gravity=gravity)
    if earth_rotation:
        eps = eps - 0.5 * _OMEGA**2 * (pos[..., 0] ** 2 + pos[..., 1] ** 2)
    return eps


# --- Scalar geodesy for the hot path -------------------------------------------------------------


def _geodetic_scalar(x: float, y: float, z: float) -> tuple[float, float, float, float, float]:
    """ECEF -> (height [m], sin φ, cos φ, sin λ, cos λ) in plain floats, without trigonometry.

    Bowring's iteration as in `kizuna.frames.ecef_to_geodetic` (Survey Review 23(181), 1976), two
    iterations from the reduced-latitude start (1e-12 rad near the surface; tested against frames),
    written with sines and cosines from their tangents: tan β = z / ((1 - f) p),
    tan φ = (z + e'² b sin³β) / (p - e² a cos³β), tan β = (1 - f) tan φ;
    h = p cos φ + z sin φ - a sqrt(1 - e² sin²φ). The geodetic up vector is
    (cos φ cos λ, cos φ sin λ, sin φ). On the polar axis λ is taken as 0.
    """
    p = math.hypot(x, y)
    one_f = 1.0 - WGS84_F
    k = math.hypot(z, one_f * p)
    if k == 0.0:  # the centre of the Earth
        return -WGS84_A_M, 0.0, 1.0, 0.0, 1.0
    sb, cb = z / k, one_f * p / k
    sl = cl = 0.0
    for _ in range(2):
        num = z + WGS84_EP2 * WGS84_B_M * sb * sb * sb
        den = p - WGS84_E2 * WGS84_A_M * cb * cb * cb
        k = math.hypot(num, den)
        sl, cl = num / k, den / k
        k = math.hypot(one_f * sl, cl)
        sb, cb = one_f * sl / k, cl / k
    h = p * cl + z * sl - WGS84_A_M * math.sqrt(1.0 - WGS84_E2 * sl * sl)
    if p == 0.0:
        return h, sl, cl, 0.0, 1.0
    return h, sl, cl, y / p, x / p


# --- Aerodynamics ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AeroTable:
    """Drag and lift coefficients against Mach number, interpolated by monotone cubics (PCHIP).

    ``mach``, ``cd``, ``cl`` are 1-D, equally long (≥ 2), ``mach`` strictly increasing; outside the
    table the end values hold. Coefficients refer to the vehicle's reference area S. ``cl`` is the
    lift coefficient at full lift (the control's lift fraction scales it; 0 everywhere for a
    vehicle that never produces lift). Use the constructors for generic shapes:
    `AeroTable.boost_stack`, `AeroTable.reentry_vehicle`, `AeroTable.glide_vehicle`.

    Interpolation: piecewise cubic Hermite with Fritsch-Carlson monotone slopes (Fritsch & Carlson,
    SIAM J. Numer. Anal. 17(2), 1980; ``scipy.interpolate.PchipInterpolator``): it passes through
    every table point, never overshoots between them (a drag peak stays where the table puts it),
    and is C¹, so the integrator does not meet a slope kink at every table Mach number as it would
    with linear interpolation (measured: half the function evaluations through a transonic boost).
    """

    mach: Array
    cd: Array
    cl: Array
    _pieces: tuple[list[float], list[list[float]], list[list[float]]] = field(init=False, repr=False)

    def __init__(self, mach: ArrayLike, cd: ArrayLike, cl: ArrayLike | None = None) -> None:
        m = np.asarray(mach, dtype=np.float64)
        d = np.asarray(cd, dtype=np.float64)
        lift = np.zeros_like(d) if cl is None else np.asarray(cl, dtype=np.float64)
        if m.ndim != 1 or m.shape != d.shape or m.shape != lift.shape or m.size < 2:
            raise ValueError(
                "AeroTable needs 1-D mach, cd, cl of equal length >= 2; got shapes "
                f"{m.shape}, {d.shape}, {lift.shape}."
            )
        if not (np.all(np.isfinite(m)) and np.all(np.isfinite(d)) and np.all(np.isfinite(lift))):
            raise ValueError("AeroTable values must be finite (no NaN or inf).")
        if np.any(np.diff(m) <= 0.0) or m[0] < 0.0:
            raise ValueError(
                f"AeroTable.mach must be non-negative and strictly increasing; got {m.tolist()}."
            )
        if np.any(d < 0.0):
            raise ValueError(f"AeroTable.cd must be >= 0 (drag opposes motion); got {d.tolist()}.")
        object.__setattr__(self, "mach", m)
        object.__setattr__(self, "cd", d)
        object.__setattr__(self, "cl", lift)
        # Per interval: cubic coefficients (c3, c2, c1, c0) in (M - M_i), as scipy's PPoly stores them.
        pieces_cd = PchipInterpolator(m, d).c.T.tolist()
        pieces_cl = PchipInterpolator(m, lift).c.T.tolist()
        object.__setattr__(self, "_pieces", (m.tolist(), pieces_cd, pieces_cl))

    def coefficients(self, mach: ArrayLike) -> tuple[Array, Array]:
        """(C_D, C_L) at Mach number(s) ``mach`` (any shape); end values outside the table."""
        m = np.clip(np.asarray(mach, dtype=np.float64), self.mach[0], self.mach[-1])
        return PchipInterpolator(self.mach, self.cd)(m), PchipInterpolator(self.mach, self.cl)(m)

    def _scalar(self, mach: float) -> tuple[float, float]:
        """`coefficients` for one float, in plain Python (the integrator's hot path)."""
        ms, pcd, pcl = self._pieces
        if mach <= ms[0]:
            i, f = 0, 0.0
        elif mach >= ms[-1]:
            i = len(ms) - 2
            f = ms[-1] - ms[-2]
        else:
            i = bisect_right(ms, mach) - 1
            f = mach - ms[i]
        a, b = pcd[i], pcl[i]
        return ((a[0] * f + a[1]) * f + a[2]) * f + a[3], ((b[0] * f + b[1]) * f + b[2]) * f + b[3]

    @classmethod
    def boost_stack(cls) -> AeroTable:
        """Zero-lift drag of a generic slender finned rocket (booster stack), no lift.

        Shape after the wind-tunnel drag curve of the V-2 at zero angle of attack, jet off
        (reproduced in Sutton & Biblarz, *Rocket Propulsion Elements*, ch. 4, "Aerodynamic
        coefficients of the V-2"): ≈ 0.2 subsonic, a transonic rise peaking near Mach 1.2, then a
        fall to a ≈ 0.15-0.2 supersonic plateau. Values rounded and illustrative, not a specific
        missile. Reference area: the body cross-section.
        """
        return cls(
            mach=[0.0, 0.6, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 10.0],
            cd=[0.20, 0.20, 0.22, 0.38, 0.42, 0.36, 0.29, 0.22, 0.17, 0.15],
        )

    @classmethod
    def reentry_vehicle(cls) -> AeroTable:
        """Zero-lift drag of a generic slender conical re-entry vehicle (≈ 10° half-angle), no lift.

        Hypersonic plateau from Newtonian theory for a sharp cone, C_D ≈ 2 sin²θc ≈ 0.06 (Anderson,
        *Hypersonic and High-Temperature Gas Dynamics*, 2nd ed., §3.2 and §3.4), plus skin friction
        and base drag, ≈ 0.10; a transonic peak near Mach 1.2 as for any body. Values illustrative.
        With a 0.4 m base diameter (S ≈ 0.126 m²) and 500 kg this gives a ballistic coefficient
        m/(C_D S) ≈ 40 kPa at hypersonic speed, in the range published for modern RVs.
        """
        return cls(
            mach=[0.0, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 8.0, 25.0],
            cd=[0.30, 0.32, 0.48, 0.52, 0.44, 0.34, 0.24, 0.15, 0.11, 0.10],
        )

    @classmethod
    def glide_vehicle(cls) -> AeroTable:
        """A generic hypersonic glide body at fixed trim angle of attack: L/D ≈ 2.5 above Mach 5.

        Published lift-to-drag ratios for generic hypersonic glide vehicles lie near 2-3.5 (e.g. the
        "Common Aero Vehicle" CAV-H model used in open studies, T. H. Phillips, AFIT thesis 2003);
        this table takes L/D ≈ 2.4-2.6 hypersonic, falling in the transonic drag rise. Values
        illustrative. Pair it with a reference area of order 0.5 m² and a mass of order 1000 kg.
        """
        return cls(
            mach=[0.0, 0.8, 1.0, 1.2, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0],
            cd=[0.20, 0.22, 0.36, 0.38, 0.26, 0.20, 0.16, 0.145, 0.14, 0.14],
            cl=[0.50, 0.50, 0.48, 0.47, 0.45, 0.41, 0.39, 0.36, 0.35, 0.35],
        )


# --- Propulsion and vehicle -----------------------------------------------------------------------


def _positive(value: float, what: str, allow_zero: bool = False) -> float:
    v = float(value)
    ok = v >= 0.0 if allow_zero else v > 0.0
    if not (math.isfinite(v) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{what} must be finite and {bound}; got {value!r}.")
    return v


@dataclass(frozen=True)
class Stage:
    """One rocket stage: burns ``propellant_kg`` at a constant rate over ``burn_s`` seconds.

    ṁ = propellant / burn, thrust = ṁ Isp g0 (vacuum specific impulse, g0 = 9.80665 m/s²). At
    burnout the stage's ``dry_kg`` is jettisoned and the next stage ignites at once.
    """

    propellant_kg: float
    dry_kg: float
    isp_s: float
    burn_s: float

    def __post_init__(self) -> None:
        _positive(self.propellant_kg, "Stage.propellant_kg")
        _positive(self.dry_kg, "Stage.dry_kg", allow_zero=True)
        _positive(self.isp_s, "Stage.isp_s")
        _positive(self.burn_s, "Stage.burn_s")

    @property
    def mass_flow_kg_per_s(self) -> float:
        return self.propellant_kg / self.burn_s

    @property
    def thrust_n(self) -> float:
        return self.mass_flow_kg_per_s * self.isp_s * _G0


@dataclass(frozen=True, eq=False)
class Vehicle:
    """A vehicle: stages fired in order, then the payload; aerodynamics by default for every phase.

    ``stages`` may be empty (a coasting or gliding body of mass ``payload_kg``). ``aero=None`` means
    no aerodynamic forces (vacuum); with a table, ``reference_area_m2`` must be > 0. A `Phase` can
    override both (e.g. the re-entry vehicle after separation from its booster).
    """

    stages: tuple[Stage, ...]
    payload_kg: float
    reference_area_m2: float = 0.0
    aero: AeroTable | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        for i, s in enumerate(self.stages):
            if not isinstance(s, Stage):
                raise TypeError(f"Vehicle.stages[{i}] must be a Stage; got {type(s).__name__}.")
        _positive(self.payload_kg, "Vehicle.payload_kg")
        _positive(self.reference_area_m2, "Vehicle.reference_area_m2", allow_zero=True)
        if self.aero is not None and self.reference_area_m2 <= 0.0:
            raise ValueError(
                "Vehicle has an aero table but reference_area_m2 = 0: give the area the coefficients "
                "refer to (e.g. the body cross-section, π d²/4), or aero=None for a vacuum model."
            )

    @property
    def burn_s(self) -> float:
        """Total burn time of all stages [s] (stages fire back to back)."""
        return float(sum(s.burn_s for s in self.stages))

    @property
    def launch_mass_kg(self) -> float:
        return self.payload_kg + sum(s.propellant_kg + s.dry_kg for s in self.stages)

    def burnout_times_s(self) -> Array:
        """Burnout time of each stage, seconds after launch ``(n_stages,)``."""
        return np.cumsum([s.burn_s for s in self.stages], dtype=np.float64)

    def mass_kg(self, elapsed_s: ArrayLike) -> Array:
        """Mass [kg] at ``elapsed_s`` seconds after launch (any shape).

        Exact schedule: during stage i's burn the mass falls linearly at ṁ_i; at its burnout (the
        instant itself included) the dry mass is gone. Before launch: the launch mass.
        """
        return self._mass_at(elapsed_s, 0.0)

    def _mass_at(self, t_s: ArrayLike, launch_time_s: float) -> Array:
        """`mass_kg` at absolute times, with the stage boundaries computed exactly as `fly` does."""
        t = np.asarray(t_s, dtype=np.float64)
        m = np.full(t.shape, self.payload_kg)
        for start, end, m_ign, flow in self._stage_schedule(launch_time_s):
            m = np.where((t >= start) & (t < end), m_ign - flow * (t - start), m)
        return np.where(t < launch_time_s, self.launch_mass_kg, m)

    def _stage_schedule(self, launch_time_s: float) -> list[tuple[float, float, float, float]]:
        """(ignition, burnout [absolute s], mass at ignition [kg], mass flow [kg/s]) per stage."""
        out = []
        elapsed = 0.0
        above = self.launch_mass_kg
        for s in self.stages:
            start = launch_time_s + elapsed
            elapsed += s.burn_s
            out.append((start, launch_time_s + elapsed, above, s.mass_flow_kg_per_s))
            above -= s.propellant_kg + s.dry_kg
        return out


# --- Controls -------------------------------------------------------------------------------------


class Command(NamedTuple):
    """What a control commands at one instant.

    ``thrust_dir``: the thrust direction in ECEF, any non-zero length (normalised here), or None
    when the control does not thrust (then no stage may be burning during its phase). ``lift_fraction``
    scales the table's C_L (0 = no lift, 1 = full table lift; a way to model angle-of-attack
    modulation). ``bank_rad``: bank angle σ of the lift vector about the velocity (0 = lift up in
    the vertical plane, > 0 = banked to the right of the flight direction).
    """

    thrust_dir: tuple[float, float, float] | Array | None
    lift_fraction: float = 0.0
    bank_rad: float = 0.0


class Control(Protocol):
    """A steering law for one phase.

    ``command(t_s, elapsed_s, pos_m, vel_m_per_s)`` gets the absolute time, the seconds since the
    phase began, and the ECEF state as (3,) arrays (read-only views: do not modify), and returns a
    `Command`. It is called at every right-hand-side evaluation: keep it cheap (plain float math on
    ``pos_m.tolist()`` is ≈ 10x faster than NumPy on 3-vectors).

    Optional attribute ``breakpoints_s``: a sequence of elapsed times [s] at which the command
    jumps (a law switch, a bank reversal); the integrator restarts there so no discontinuity lies
    inside a step. Between two restarts the control is only ever asked about times at least 1 ns
    inside that interval, so a step function of time (``-0.5 if elapsed_s >= 30 else 0.5``) shows each
    side only its own value, even at the step's end stage. Smooth commands need no breakpoints; a
    command that jumps without a listed breakpoint still works but costs rejected steps.
    """

    def command(self, t_s: float, elapsed_s: float, pos_m: Array, vel_m_per_s: Array) -> Command: ...


_COAST = Command(None, 0.0, 0.0)


@dataclass(frozen=True)
class Coast:
    """No thrust, no lift: a ballistic body (drag still acts if the vehicle has an aero table)."""

    def command(self, t_s: float, elapsed_s: float, pos_m: Array, vel_m_per_s: Array) -> Command:
        return _COAST


@dataclass(frozen=True)
class FixedEnu:
    """Thrust along a fixed direction in the local geodetic ENU frame at the current position.

    ``azimuth_rad`` clockwise from north, ``elevation_rad`` above the local horizontal plane.
    `FixedEnu.vertical()` is the vertical rise. No lift.
    """

    azimuth_rad: float
    elevation_rad: float

    @classmethod
    def vertical(cls) -> FixedEnu:
        return cls(0.0, 0.5 * math.pi)

    def command(self, t_s: float, elapsed_s: float, pos_m: Array, vel_m_per_s: Array) -> Command:
        x, y, z = pos_m.tolist()
        _, sl, cl, so, co = _geodetic_scalar(x, y, z)
        ce, se = math.cos(self.elevation_rad), math.sin(self.elevation_rad)
        e, n, u = ce * math.sin(self.azimuth_rad), ce * math.cos(self.azimuth_rad), se
        return Command(
            (-so * e - sl * co * n + cl * co * u, co * e - sl * so * n + cl * so * u, cl * n + sl * u),
            0.0,
            0.0,
        )


@dataclass(frozen=True)
class GravityTurn:
    """Thrust along the air-relative (= ECEF) velocity: a gravity turn. Vertical while |v| < 1e-6 m/s.

    ``lift_fraction`` and ``bank_rad`` (default 0) let a lifting body fly a powered turn.
    """

    lift_fraction: float = 0.0
    bank_rad: float = 0.0

    def command(self, t_s: float, elapsed_s: float, pos_m: Array, vel_m_per_s: Array) -> Command:
        vx, vy, vz = vel_m_per_s.tolist()
        if vx * vx + vy * vy + vz * vz < _MIN_SPEED_M_PER_S**2:
            x, y, z = pos_m.tolist()
            _, sl, cl, so, co = _geodetic_scalar(x, y, z)
            return Command((cl * co, cl * so, sl), self.lift_fraction, self.bank_rad)
        return Command((vx, vy, vz), self.lift_fraction, self.bank_rad)


@dataclass(frozen=True)
class Glide:
    """Unpowered lifting flight: lift fraction and bank angle, constants or functions of elapsed time.

    ``bank_rad`` / ``lift_fraction``: a float, or a callable ``f(elapsed_s) -> float`` of the seconds
    since the phase (or `Scheduled` law) began, e.g. an S-weave ``lambda s: 0.6 * math.sin(2π s/120)``.
    Prefer smooth functions; for a step (bank reversal) list its times in ``breakpoints_s``.
    """

    bank_rad: float | Callable[[float], float] = 0.0
    lift_fraction: float | Callable[[float], float] = 1.0
    breakpoints_s: tuple[float, ...] = ()

    def command(self, t_s: float, elapsed_s: float, pos_m: Array, vel_m_per_s: Array) -> Command:
        bank = self.bank_rad(elapsed_s) if callable(self.bank_rad) else self.bank_rad
        frac = self.lift_fraction(elapsed_s) if callable(self.lift_fraction) else self.lift_fraction
        return Command(None, float(frac), float(bank))


@dataclass(frozen=True)
class Scheduled:
    """Switches between laws at given elapsed times within one phase.

    ``laws``: ``((start_elapsed_s, control), ...)`` with the first start 0 and starts increasing. Each
    law sees ``elapsed_s`` counted from its own start. The switch times are breakpoints (the
    integrator restarts there), and so are the sub-laws' own breakpoints.
    """

    laws: tuple[tuple[float, Control], ...]
    breakpoints_s: tuple[float, ...] = field(init=False)
    _starts: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        laws = tuple((float(s), c) for s, c in self.laws)
        starts = [s for s, _ in laws]
        if not laws or starts[0] != 0.0 or any(b <= a for a, b in pairwise(starts)):
            raise ValueError(
                "Scheduled.laws must start at elapsed 0 s with strictly increasing start times; "
                f"got {starts}."
            )
        bps = set(starts[1:])
        for s, c in laws:
            bps.update(s + float(b) for b in getattr(c, "breakpoints_s", ()))
        object.__setattr__(self, "laws", laws)
        object.__setattr__(self, "breakpoints_s", tuple(sorted(bps)))
        object.__setattr__(self, "_starts", tuple(starts))

    def command(self, t_s: float, elapsed_s: float, pos_m: Array, vel_m_per_s: Array) -> Command:
        i = bisect_right(self._starts, elapsed_s) - 1
        start, law = self.laws[max(i, 0)]
        return law.command(t_s, elapsed_s - start, pos_m, vel_m_per_s)


def gravity_turn_program(
    vertical_rise_s: float, kick_rad: float, azimuth_rad: float, kick_s: float = 4.0
) -> Scheduled:
    """The classic boost steering: vertical rise, a pitch-over kick, then a gravity turn.

    Vertical thrust for ``vertical_rise_s``; then thrust held at elevation 90° - ``kick_rad`` in the
    direction ``azimuth_rad`` (local ENU) for ``kick_s`` seconds, which tilts the velocity towards
    the azimuth; then thrust along the velocity (`GravityTurn`) for the rest of the phase. The
    flight-path angle at the end of the kick is not exactly 90° - κ (it depends on the thrust, the
    speed and ``kick_s``) but grows monotonically with κ, which is what a range solver needs.
    """
    _positive(vertical_rise_s, "vertical_rise_s", allow_zero=True)
    _positive(kick_s, "kick_s")
    laws: list[tuple[float, Control]] = []
    if vertical_rise_s > 0.0:
        laws.append((0.0, FixedEnu.vertical()))
    laws.append((vertical_rise_s, FixedEnu(azimuth_rad, 0.5 * math.pi - kick_rad)))
    laws.append((vertical_rise_s + kick_s, GravityTurn()))
    return Scheduled(tuple(laws))


# --- Phases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseEnd:
    """Ends a phase when ``function(t_s, pos_m, vel_m_per_s)`` crosses zero.

    ``direction``: -1 only falling crossings count, +1 only rising, 0 both. Located by solve_ivp's
    event root finder to machine precision in time.
    """

    function: Callable[[float, Array, Array], float]
    direction: float = 0.0

    @classmethod
    def altitude_crossing(cls, alt_m: float, direction: float = -1.0) -> PhaseEnd:
        """Geodetic height crosses ``alt_m`` (default: on the way down)."""
        alt = float(alt_m)

        def height_above(t_s: float, pos_m: Array, vel_m_per_s: Array) -> float:
            x, y, z = pos_m.tolist()
            return _geodetic_scalar(x, y, z)[0] - alt

        return cls(height_above, direction)

    @classmethod
    def apogee(cls) -> PhaseEnd:
        """The geodetic height stops rising: dh/dt = v · n̂ (n̂ the ellipsoid normal) falls through 0."""

        def climb_rate(t_s: float, pos_m: Array, vel_m_per_s: Array) -> float:
            return _climb_rate(pos_m.tolist(), vel_m_per_s.tolist())

        return cls(climb_rate, -1.0)

    @classmethod
    def at_time(cls, t_s: float) -> PhaseEnd:
        """At absolute time ``t_s`` (seconds since the epoch)."""
        t_end = float(t_s)
        return cls(lambda t, p, v: t - t_end, 1.0)


def _climb_rate(pos: list[float], vel: list[float]) -> float:
    _, sl, cl, so, co = _geodetic_scalar(pos[0], pos[1], pos[2])
    return cl * (co * vel[0] + so * vel[1]) + sl * vel[2]


@dataclass(frozen=True, eq=False)
class Phase:
    """One named phase of flight: a control law until a duration elapses or a `PhaseEnd` fires.

    ``name`` is free text ("boost", "midcourse", "glide", "terminal"); names may repeat. A phase with
    neither ``duration_s`` nor ``end`` lasts until impact or ``fly``'s ``max_duration_s``. ``aero``
    and ``reference_area_m2`` override the vehicle's for this phase (e.g. the re-entry vehicle).
    """

    name: str
    control: Control
    duration_s: float | None = None
    end: PhaseEnd | None = None
    aero: AeroTable | None = None
    reference_area_m2: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Phase.name must be a non-empty string; got {self.name!r}.")
        if not callable(getattr(self.control, "command", None)):
            raise TypeError(
                f"Phase {self.name!r}: control must have a method "
                "command(t_s, elapsed_s, pos_m, vel_m_per_s) returning a Command (e.g. Coast(), "
                f"GravityTurn(), Glide(...)); got {type(self.control).__name__}."
            )
        if self.duration_s is not None:
            _positive(self.duration_s, f"Phase {self.name!r} duration_s")
        if self.reference_area_m2 is not None:
            _positive(self.reference_area_m2, f"Phase {self.name!r} reference_area_m2")


# --- Trajectory -----------------------------------------------------------------------------------


class StateAt(NamedTuple):
    """An ECEF state at one instant."""

    t_s: float
    pos_m: Array
    vel_m_per_s: Array


class Impact(NamedTuple):
    """Where and when the trajectory reached the impact height."""

    t_s: float
    lat_rad: float
    lon_rad: float
    pos_m: Array
    vel_m_per_s: Array


class Accelerations(NamedTuple):
    """The terms of the equations of motion ``(T, 3)`` [m/s²] and the mass ``(T,)`` [kg] at T times.

    ``frame`` is Coriolis + centrifugal; ``thrust``, ``drag`` and ``lift`` are already divided by
    the mass. Their sum is the ECEF acceleration.
    """

    gravity: Array
    frame: Array
    thrust: Array
    drag: Array
    lift: Array
    mass_kg: Array


class _Dynamics:
    """The right-hand side for one integration segment (constant phase, stage and breakpoint span)."""

    __slots__ = (
        "aero",
        "area_m2",
        "control",
        "elapsed_hi_s",
        "elapsed_lo_s",
        "gravity",
        "mass0_kg",
        "mdot_kg_per_s",
        "phase_start_s",
        "rho",
        "rotate",
        "sound",
        "t0_s",
        "thrust_n",
    )

    def __init__(
        self,
        *,
        control: Control,
        phase_start_s: float,
        t0_s: float,
        t1_s: float,
        mass0_kg: float,
        mdot_kg_per_s: float,
        thrust_n: float,
        aero: AeroTable | None,
        area_m2: float,
        gravity: str,
        rotate: bool,
    ) -> None:
        self.control = control
        self.phase_start_s = phase_start_s
        self.t0_s = t0_s
        # The control sees times clamped to [t0 + δ, t1 - δ] (δ = 1 ns): a command that jumps at a
        # breakpoint then shows each segment only its own side of the jump, even at the step's end
        # stage (DOP853 evaluates f at t + h). Smooth commands move by a negligible 1 ns.
        lo, hi = t0_s - phase_start_s + _CONTROL_CLAMP_S, t1_s - phase_start_s - _CONTROL_CLAMP_S
        if lo > hi:
            lo = hi = 0.5 * (t0_s + t1_s) - phase_start_s
        self.elapsed_lo_s, self.elapsed_hi_s = lo, hi
        self.mass0_kg = mass0_kg
        self.mdot_kg_per_s = mdot_kg_per_s
        self.thrust_n = thrust_n
        self.aero = aero
        self.area_m2 = area_m2
        self.gravity = gravity
        self.rotate = rotate
        self.rho, self.sound = scalar_density_and_sound_speed()

    def terms(self, t: float, y: Array) -> tuple[float, ...]:
        """(g, frame, thrust, drag, lift) as 15 floats, then the mass: one evaluation of the model."""
        x, yy, z, vx, vy, vz = y.tolist()
        # Gravity: point mass + J2 (see gravity_m_per_s2).
        gx = gy = gz = 0.0
        if self.gravity != "off":
            r2 = x * x + yy * yy + z * z
            k = -_MU / (r2 * math.sqrt(r2))
            if self.gravity == "j2":
                c = 1.5 * WGS84_J2 * _RE * _RE / r2
                s = 5.0 * z * z / r2
                kxy = k * (1.0 + c * (1.0 - s))
                gx, gy, gz = kxy * x, kxy * yy, k * (1.0 + c * (3.0 - s)) * z
            else:
                gx, gy, gz = k * x, k * yy, k * z
        # Rotating frame: -2 ω × v - ω × (ω × r) with ω = ω⊕ ẑ.
        fx = fy = 0.0
        if self.rotate:
            w = _OMEGA
            fx = 2.0 * w * vy + w * w * x
            fy = -2.0 * w * vx + w * w * yy
        mass = self.mass0_kg - self.mdot_kg_per_s * (t - self.t0_s)
        elapsed = min(max(t - self.phase_start_s, self.elapsed_lo_s), self.elapsed_hi_s)
        cmd = self.control.command(self.phase_start_s + elapsed, elapsed, y[0:3], y[3:6])
        tx = ty = tz = 0.0
        if self.thrust_n > 0.0:
            direction = cmd[0]
            if direction is None:
                raise ValueError(
                    f"At t = {t:.3f} s a stage is burning but the phase's control "
                    f"({type(self.control).__name__}) commanded no thrust direction: end the phase at "
                    "burnout (Phase(duration_s=vehicle.burn_s)) or use a thrusting control "
                    "(GravityTurn, FixedEnu)."
                )
            dx, dy, dz = direction
            norm = math.sqrt(dx * dx + dy * dy + dz * dz)
            if not norm > 0.0:
                raise ValueError(
                    f"At t = {t:.3f} s the control commanded a zero thrust direction {direction}."
                )
            a_t = self.thrust_n / (mass * norm)
            tx, ty, tz = a_t * dx, a_t * dy, a_t * dz
        ddx = ddy = ddz = lx = ly = lz = 0.0
        aero = self.aero
        if aero is not None:
            v2 = vx * vx + vy * vy + vz * vz
            if v2 > _MIN_SPEED_M_PER_S**2:
                h, sl, cl_lat, so, co = _geodetic_scalar(x, yy, z)
                if h < _AERO_CEILING_M:
                    v = math.sqrt(v2)
                    cd, cl = aero._scalar(v / self.sound(h))
                    qsm = 0.5 * self.rho(h) * v2 * self.area_m2 / mass  # q S / m
                    ux, uy, uz = vx / v, vy / v, vz / v
                    kd = -qsm * cd
                    ddx, ddy, ddz = kd * ux, kd * uy, kd * uz
                    frac = cmd[1]
                    if frac != 0.0 and cl != 0.0:
                        ex, ey, ez = cl_lat * co, cl_lat * so, sl
                        d = ex * ux + ey * uy + ez * uz
                        px, py, pz = ex - d * ux, ey - d * uy, ez - d * uz  # up, perpendicular to v
                        pn = math.sqrt(px * px + py * py + pz * pz)
                        if pn > _VERTICAL_LIFT_EPS:
                            px, py, pz = px / pn, py / pn, pz / pn
                            rx, ry, rz = uy * pz - uz * py, uz * px - ux * pz, ux * py - uy * px  # v̂ × up⊥
                            cb, sb = math.cos(cmd[2]), math.sin(cmd[2])
                            kl = qsm * cl * frac
                            lx = kl * (cb * px + sb * rx)
                            ly = kl * (cb * py + sb * ry)
                            lz = kl * (cb * pz + sb * rz)
        return (gx, gy, gz, fx, fy, 0.0, tx, ty, tz, ddx, ddy, ddz, lx, ly, lz, mass)

    def rhs(self, t: float, y: Array) -> Array:
        a = self.terms(t, y)
        return np.array(
            (
                y[3],
                y[4],
                y[5],
                a[0] + a[3] + a[6] + a[9] + a[12],
                a[1] + a[4] + a[7] + a[10] + a[13],
                a[2] + a[5] + a[8] + a[11] + a[14],
            )
        )


@dataclass(frozen=True)
class _Segment:
    t0_s: float
    t1_s: float
    phase_index: int
    dynamics: _Dynamics
    solution: object | None  # scipy OdeSolution, None when dense output was not kept


@dataclass(frozen=True, eq=False)
class Trajectory:
    """The result of `fly`: a piecewise-continuous ECEF trajectory with named phases.

    Attributes: ``launch_time_s``, ``end_time_s`` (seconds since the epoch); ``phase_names``;
    ``phase_start_s`` / ``phase_end_s`` ``(P,)`` (NaN for phases never reached); ``end_reason``:
    ``"impact"``, ``"end_of_phases"`` (the last phase's duration or end event) or
    ``"max_duration"``; ``burnouts`` (a `StateAt` per stage that burned out, at the burnout instant)
    and ``burnout`` (the last of them, or None); ``apogee_time_s``, ``apogee_alt_m`` (the highest
    geodetic height reached); ``impact`` (an `Impact`, or None).
    """

    launch_time_s: float
    end_time_s: float
    phase_names: tuple[str, ...]
    phase_start_s: Array
    phase_end_s: Array
    end_reason: str
    burnouts: tuple[StateAt, ...]
    apogee_time_s: float
    apogee_alt_m: float
    impact: Impact | None
    vehicle: Vehicle
    gravity: str
    earth_rotation: bool
    _segments: tuple[_Segment, ...] = field(repr=False)
    _segment_starts: Array = field(repr=False)

    @property
    def burnout(self) -> StateAt | None:
        """State at the last stage's burnout, or None if the flight ended before it."""
        if len(self.burnouts) == len(self.vehicle.stages) and self.burnouts:
            return self.burnouts[-1]
        return None

    def _locate(self, t_s: ArrayLike) -> tuple[Array, Array, NDArray[np.intp]]:
        t = np.asarray(t_s, dtype=np.float64)
        flat = t.reshape(-1)
        active = np.isfinite(flat) & (flat >= self.launch_time_s) & (flat <= self.end_time_s)
        seg = np.searchsorted(self._segment_starts, flat, side="right") - 1
        seg = np.clip(seg, 0, len(self._segments) - 1)
        return flat, active, seg

    def sample(self, t_s: ArrayLike) -> tuple[Array, Array, NDArray[np.bool_], NDArray[np.intp]]:
        """State at times ``t_s`` (shape S): pos_m (S, 3), vel_m_per_s (S, 3), active (S,), phase_index (S,).

        Inactive (before launch, after the end, NaN times): NaN position and velocity, phase -1.
        At a boundary between phases the later phase's index is reported; ``end_time_s`` itself is
        active and belongs to the last phase. Evaluates the integrator's dense output (DOP853's
        7th-order interpolant), one vectorised call per segment.
        """
        flat, active, seg = self._locate(t_s)
        shape = np.shape(t_s)
        pos = np.full((flat.size, 3), np.nan)
        vel = np.full((flat.size, 3), np.nan)
        phase = np.full(flat.size, -1, dtype=np.intp)
        for j in np.unique(seg[active]):
            segment = self._segments[j]
            if segment.solution is None:
                raise ValueError(
                    "This Trajectory was flown with dense_output=False: fly it again with "
                    "dense_output=True to sample it between its events."
                )
            mask = active & (seg == j)
            y = segment.solution(flat[mask])  # type: ignore[operator]
            pos[mask] = y[0:3].T
            vel[mask] = y[3:6].T
            phase[mask] = segment.phase_index
        return pos.reshape(*shape, 3), vel.reshape(*shape, 3), active.reshape(shape), phase.reshape(shape)

    def mass_kg(self, t_s: ArrayLike) -> Array:
        """Vehicle mass [kg] at absolute times ``t_s`` (any shape); NaN where inactive."""
        t = np.asarray(t_s, dtype=np.float64)
        m = self.vehicle._mass_at(t, self.launch_time_s)
        ok = np.isfinite(t) & (t >= self.launch_time_s) & (t <= self.end_time_s)
        return np.where(ok, m, np.nan)

    def accelerations(self, t_s: ArrayLike) -> Accelerations:
        """Each term of the equations of motion at times ``t_s`` (1-D, T), for diagnostics and tests.

        Evaluates the same code as the integrator's right-hand side, one time at a time (not vectorised:
        meant for hundreds to thousands of points). NaN where inactive.
        """
        flat, active, seg = self._locate(t_s)
        pos, vel, _, _ = self.sample(flat)
        out = np.full((flat.size, 16), np.nan)
        for i in np.flatnonzero(active):
            dyn = self._segments[seg[i]].dynamics
            out[i] = dyn.terms(float(flat[i]), np.concatenate([pos[i], vel[i]]))
        return Accelerations(out[:, 0:3], out[:, 3:6], out[:, 6:9], out[:, 9:12], out[:, 12:15], out[:, 15])


# --- Flying ---------------------------------------------------------------------------------------


def _as_vector(value: ArrayLike, what: str) -> Array:
    v = np.asarray(value, dtype=np.float64)
    if v.shape != (3,) or not np.all(np.isfinite(v)):
        raise ValueError(f"{what} must be a finite ECEF 3-vector; got {np.asarray(value).tolist()!r}.")
    return v


def fly(
    vehicle: Vehicle,
    phases: Sequence[Phase],
    launch_pos_m: ArrayLike,
    launch_vel_m_per_s: ArrayLike = (0.0, 0.0, 0.0),
    launch_time_s: float = 0.0,
    *,
    gravity: GravityModel = "j2",
    earth_rotation: bool = True,
    impact_alt_m: float = 0.0,
    max_duration_s: float = 7200.0,
    rtol: float = 1e-9,
    atol_m: float = 1e-3,
    atol_m_per_s: float = 1e-6,
    dense_output: bool = True,
) -> Trajectory:
    """Fly ``vehicle`` through ``phases`` from an ECEF state at ``launch_time_s``; see the module docstring.

    Stages burn back to back from launch, independently of the phases; a phase whose control
    commands no thrust must not overlap a burn (make the boost phase ``vehicle.burn_s`` long).
    The flight ends at ground impact (geodetic height falling through ``impact_alt_m``), at the end
    of the last phase, or after ``max_duration_s``, whichever comes first.

    Integration: DOP853 with ``rtol`` and absolute tolerances ``atol_m`` (position) and
    ``atol_m_per_s`` (velocity), restarted at each phase boundary, burnout and control breakpoint.
    ``dense_output=False`` skips keeping the interpolants (summary data only; a range solver's
    inner loop) — `Trajectory.sample` then refuses.
    """
    _check_gravity(gravity)
    phases = tuple(phases)
    if not phases:
        raise ValueError("fly needs at least one Phase (e.g. [Phase('midcourse', Coast())]).")
    for i, p in enumerate(phases):
        if not isinstance(p, Phase):
            raise TypeError(f"phases[{i}] must be a Phase; got {type(p).__name__}.")
    pos0 = _as_vector(launch_pos_m, "launch_pos_m")
    vel0 = _as_vector(launch_vel_m_per_s, "launch_vel_m_per_s")
    t_launch = float(launch_time_s)
    if not math.isfinite(t_launch):
        raise ValueError(f"launch_time_s must be finite; got {launch_time_s!r}.")
    _positive(max_duration_s, "max_duration_s")
    _positive(rtol, "rtol")
    _positive(atol_m, "atol_m")
    _positive(atol_m_per_s, "atol_m_per_s")
    _check_liftoff(vehicle, pos0, vel0, impact_alt_m)

    schedule = vehicle._stage_schedule(t_launch)
    burnout_abs = [end for _, end, _, _ in schedule]
    t_stop_all = t_launch + float(max_duration_s)
    atol = np.array([atol_m] * 3 + [atol_m_per_s] * 3)

    def impact_event(t: float, y: Array) -> float:
        return _geodetic_scalar(y[0], y[1], y[2])[0] - impact_alt_m

    impact_event.terminal = True  # type: ignore[attr-defined]
    impact_event.direction = -1.0  # type: ignore[attr-defined]

    def apogee_event(t: float, y: Array) -> float:
        return _climb_rate(y[0:3].tolist(), y[3:6].tolist())

    apogee_event.terminal = False  # type: ignore[attr-defined]
    apogee_event.direction = -1.0  # type: ignore[attr-defined]

    segments: list[_Segment] = []
    n_phases = len(phases)
    phase_start = np.full(n_phases, np.nan)
    phase_end = np.full(n_phases, np.nan)
    burnouts: list[StateAt] = []
    apogee_candidates: list[tuple[float, Array]] = [(t_launch, pos0)]
    t, y = t_launch, np.concatenate([pos0, vel0])
    end_reason = ""

    for k, phase in enumerate(phases):
        phase_start[k] = t
        t_phase_stop = t_stop_all if phase.duration_s is None else min(t_stop_all, t + phase.duration_s)
        # A phase meant to end at a burnout (duration_s = vehicle.burn_s - ...) may miss it by rounding.
        t_phase_stop = next(
            (b for b in burnout_abs if abs(b - t_phase_stop) <= 1e-9 * max(1.0, abs(b))), t_phase_stop
        )
        breaks = {b for b in burnout_abs if t < b < t_phase_stop}
        control_breaks = (t + float(b) for b in getattr(phase.control, "breakpoints_s", ()))
        breaks.update(b for b in control_breaks if t < b < t_phase_stop)
        aero = phase.aero if phase.aero is not None else vehicle.aero
        area = phase.reference_area_m2 if phase.reference_area_m2 is not None else vehicle.reference_area_m2
        if aero is not None and area <= 0.0:
            raise ValueError(
                f"Phase {phase.name!r} has an aero table but no reference area: set Phase.reference_area_m2 "
                "or Vehicle.reference_area_m2."
            )
        events: list[Callable[[float, Array], float]] = [impact_event, apogee_event]
        if phase.end is not None:
            user = phase.end.function

            def phase_event(tt: float, yy: Array, fn: EndFunction = user) -> float:
                return float(fn(tt, yy[0:3], yy[3:6]))

            phase_event.terminal = True  # type: ignore[attr-defined]
            phase_event.direction = float(phase.end.direction)  # type: ignore[attr-defined]
            events.append(phase_event)
        stopped = ""
        for t_next in [*sorted(breaks), t_phase_stop]:
            if t_next <= t:
                continue
            dyn = _segment_dynamics(
                vehicle,
                schedule,
                t,
                t_next,
                phase,
                float(phase_start[k]),
                aero,
                area,
                gravity,
                earth_rotation,
            )
            sol = solve_ivp(
                dyn.rhs,
                (t, t_next),
                y,
                method="DOP853",
                rtol=rtol,
                atol=atol,
                dense_output=dense_output,
                events=events,
            )
            if sol.status == -1:
                raise RuntimeError(
                    f"Integration failed in phase {phase.name!r} between t = {t:.3f} s and {t_next:.3f} s: "
                    f"{sol.message} (state at failure: pos_m={sol.y[:3, -1].tolist()}, "
                    f"vel_m_per_s={sol.y[3:, -1].tolist()})."
                )
            t_end = float(sol.t[-1])
            y = sol.y[:, -1].copy()
            if t_end > t:
                segments.append(_Segment(t, t_end, k, dyn, sol.sol))
            for ta, ya in zip(sol.t_events[1], sol.y_events[1], strict=True):
                apogee_candidates.append((float(ta), ya[0:3]))
            apogee_candidates.append((t_end, y[0:3]))
            t = t_end
            if sol.status == 1:
                stopped = "impact" if sol.t_events[0].size else "phase_end"
                break
            if any(t == b for b in burnout_abs):
                burnouts.append(StateAt(t, y[0:3].copy(), y[3:6].copy()))
        phase_end[k] = t
        if stopped == "impact":
            end_reason = "impact"
            break
        if k == n_phases - 1:
            completed = stopped == "phase_end" or (
                phase.duration_s is not None and float(phase_start[k]) + phase.duration_s <= t_stop_all
            )
            end_reason = "end_of_phases" if completed else "max_duration"
        elif t >= t_stop_all:
            end_reason = "max_duration"
            break

    if not segments:
        raise ValueError(
            f"The flight ended at once (reason: {end_reason}) at t = {t_launch} s: check that the launch "
            "point is above impact_alt_m and that the first phase moves the vehicle."
        )
    cand_t = np.array([c[0] for c in apogee_candidates])
    cand_h = ecef_to_geodetic(np.array([c[1] for c in apogee_candidates]))[2]
    best = int(np.argmax(cand_h))
    impact = None
    if end_reason == "impact":
        lat, lon, _ = ecef_to_geodetic(y[0:3])
        impact = Impact(t, float(lat), float(lon), y[0:3].copy(), y[3:6].copy())
    return Trajectory(
        launch_time_s=t_launch,
        end_time_s=t,
        phase_names=tuple(p.name for p in phases),
        phase_start_s=phase_start,
        phase_end_s=phase_end,
        end_reason=end_reason,
        burnouts=tuple(burnouts),
        apogee_time_s=float(cand_t[best]),
        apogee_alt_m=float(cand_h[best]),
        impact=impact,
        vehicle=vehicle,
        gravity=gravity,
        earth_rotation=earth_rotation,
        _segments=tuple(segments),
        _segment_starts=np.array([s.t0_s for s in segments]),
    )


def _segment_dynamics(
    vehicle: Vehicle,
    schedule: list[tuple[float, float, float, float]],
    t: float,
    t_next: float,
    phase: Phase,
    phase_start_s: float,
    aero: AeroTable | None,
    area: float,
    gravity: str,
    rotate: bool,
) -> _Dynamics:
    """The dynamics on [t, next break): which stage burns (if any) is fixed over the segment."""
    mass0 = vehicle.payload_kg
    mdot = thrust = 0.0
    for (start, end, m_ign, flow), stage in zip(schedule, vehicle.stages, strict=True):
        if start <= t < end:
            mass0 = m_ign - flow * (t - start)
            mdot, thrust = flow, stage.thrust_n
            break
    return _Dynamics(
        control=phase.control,
        phase_start_s=phase_start_s,
        t0_s=t,
        t1_s=t_next,
        mass0_kg=mass0,
        mdot_kg_per_s=mdot,
        thrust_n=thrust,
        aero=aero,
        area_m2=area,
        gravity=gravity,
        rotate=rotate,
    )


def _check_liftoff(vehicle: Vehicle, pos0: Array, vel0: Array, impact_alt_m: float) -> None:
    """Refuse a ground launch whose first stage cannot lift the vehicle (it would 'impact' at t = 0)."""
    h = _geodetic_scalar(*pos0.tolist())[0]
    if h > impact_alt_m + 1.0 or float(np.linalg.norm(vel0)) > 1.0 or not vehicle.stages:
        return
    weight_n = vehicle.launch_mass_kg * _G0
    thrust_n = vehicle.stages[0].thrust_n
    if thrust_n <= weight_n:
        raise ValueError(
            f"The vehicle starts on the ground (height {h:.1f} m) at rest but its first stage's thrust "
            f"{thrust_n:.0f} N does not exceed its launch weight {weight_n:.0f} N (thrust-to-weight "
            f"{thrust_n / weight_n:.2f}): raise propellant_kg / burn_s or isp_s, or lighten the vehicle."
        )
