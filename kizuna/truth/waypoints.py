"""Flight plans: aircraft and cruise missiles flying waypoints over the WGS-84 Earth.

A `FlightPlan` lists K ≥ 2 waypoints (geodetic latitude, longitude, ellipsoidal height, speed), a
start time and a bank-angle limit. `sample_plans` turns many plans into positions and velocities at
many times in one vectorised pass (`TruthSamples`).

Model
-----
*Horizontal path.* The waypoints' geodetic (lat, lon) are used as spherical coordinates on a sphere
of radius R = `MEAN_EARTH_RADIUS_M`. Legs are great-circle arcs on that sphere. At every interior
waypoint the vehicle flies by in a circular turn (a small circle on the sphere, geodesic radius
``r_turn``) tangent to both legs, so position and heading are continuous. The turn radius is that of a
coordinated level turn at the bank limit φ (FAA-H-8083-25, *Pilot's Handbook of Aeronautical
Knowledge*, ch. 5 "Aerodynamics of flight", turns):

    r_turn = v² / (g tan φ),   heading rate = v / r_turn = g tan φ / v,

with g = `STANDARD_GRAVITY_M_PER_S2` and v the highest scheduled speed on the two legs meeting at the
waypoint, so the limit holds even while the vehicle accelerates through the turn. On the sphere the
radius is enlarged by (N + h)/R, the largest stretch of the map to the ellipsoid at that waypoint
(see below), so that on WGS-84 the lateral acceleration never exceeds g tan φ. The spherical fly-by
geometry is exact (Napier's rules for the right triangle waypoint / tangent point / turn centre,
e.g. Todhunter, *Spherical Trigonometry*, §62): with heading change Δψ and r = atan(r_turn/R), the
tangent points lie at δ = asin(tan r · tan(Δψ/2)) before and after the waypoint and the turn sweeps
2·atan2(sin(Δψ/2)/cos r, cos δ cos(Δψ/2)) about its centre. For r_turn ≪ R this is the plane fly-by:
tangent distance r_turn·tan(Δψ/2), closest approach to the waypoint r_turn·(1/cos(Δψ/2) - 1).

*Short legs.* A turn may use at most half of each leg it joins. When the bank-limited turn does not
fit, its radius shrinks until it does: the path stays continuous with continuous heading, but that
turn is tighter than the bank limit allows. A heading change within 1e-6 rad of 180° (a course
reversal, which no fly-by can fly) is refused.

*Schedules.* Along-track distance s is measured along the flown path (legs and turns) on the
sphere. Waypoint k's schedule point is where the path passes it: the middle of its turn (the ends
for the first and last waypoint). Between schedule points the speed has v² linear in s (constant
along-track acceleration, so v is linear in time) and the height is linear in s (constant climb
gradient). The scheduled speed is the horizontal speed ds/dt; the vertical rate adds to it.

*Mapping to the ellipsoid.* A point of the path (lat, lon) at scheduled height h maps to ECEF with
`kizuna.frames.geodetic_to_ecef`; the velocity is the exact derivative of that map,
``v = (M + h)·(u̇·n̂)·n̂ + (N + h)·(u̇·ê)·ê + ḣ·û`` (u the point on the unit sphere, ê n̂ û the local
east/north/up, M and N the meridian and prime-vertical radii of curvature), so velocity and
finite differences of position agree to rounding.

Error sizes of this approximation:

* The map stretches horizontal lengths by (M + h)/R northward and (N + h)/R eastward, from 0.9944
  (north-south at the equator) to 1.0045 + h/R (at the poles). Hence the ECEF horizontal speed is
  the scheduled speed within -0.56 % … +0.64 % below 12 km (about ±1.5 m/s at 250 m/s), and an
  arrival time is the path length on the sphere / speed. Position and velocity stay exactly
  consistent.
* Turns: the lateral acceleration never exceeds g tan φ (to 1e-5), i.e. the turn rate never exceeds
  g tan φ / v at the actual speed v. The radius of curvature is v²/(g tan φ) where the turn is
  tightest and up to 0.7 % wider elsewhere in it (the map's anisotropy (N + h)/(M + h) ≤ 1.0068).
* The path is not the WGS-84 geodesic between the waypoints: against pymap3d's Vincenty geodesic,
  the midpoint of a 2,000 km leg lies up to 0.8 km off the geodesic's midpoint (largest for
  north-south legs at mid-latitudes) and the leg length differs by up to 0.56 %. This matters only
  when comparing with an external flight-planning tool; for a target's own motion it is just a
  slightly different, smooth, plausible route.
* Heights are WGS-84 ellipsoidal heights (not above mean sea level; the geoid differs by < 110 m).

Great circles and small circles are computed with unit vectors (n-vectors: K. Gade, "A non-singular
horizontal position representation", J. Navigation 63(3), 2010), free of pole singularities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kizuna.constants import DEG, MEAN_EARTH_RADIUS_M, STANDARD_GRAVITY_M_PER_S2, WGS84_A_M, WGS84_E2
from kizuna.frames import geodetic_to_ecef, unit_vector
from kizuna.truth.samples import TruthSamples
from kizuna.truth.signatures import ENGINE_INTENSITY_W_PER_SR, PHASES, nominal_rcs_m2

__all__ = ["FLIGHT_PLAN_KINDS", "MAX_BANK_LIMIT_RAD", "FlightPlan", "sample_plans", "with_cruise_terminal"]

Array = NDArray[np.float64]

FLIGHT_PLAN_KINDS = ("aircraft", "civil_aircraft", "cruise_missile")
"""The kinds of target a `FlightPlan` can describe."""
MAX_BANK_LIMIT_RAD = 89.0 * DEG
"""Upper (exclusive) limit for `FlightPlan.max_bank_rad`: tan φ diverges at 90°."""
ALT_LIMITS_M = (-1_000.0, 60_000.0)
"""Accepted waypoint heights: aircraft and cruise missiles; faster, higher things have own models."""
MIN_LEG_M = 1.0
"""Shortest accepted distance between consecutive waypoints [m]."""
_MAX_LEG_RAD = 179.0 * DEG
"""Longest accepted leg: the great circle between near-antipodal points is ill-defined."""
_MAX_TURN_RAD = math.pi - 1e-6
"""Largest accepted heading change at a waypoint (180° is a course reversal)."""
_PIECE_FIELDS = (
    "t0_s",
    "v0_m_per_s",
    "acc_m_per_s2",
    "h0_m",
    "dh_ds",
    "a",
    "b",
    "c",
    "omega_rad_per_m",
    "phase0_rad",
)


@dataclass(frozen=True, eq=False)
class _Segments:
    """A plan's path as pieces (legs and half-turns) ready for vectorised sampling.

    Piece m starts at time ``t0_s[m]`` after the plan's start, at speed ``v0_m_per_s[m]`` and height
    ``h0_m[m]``; over it the along-track acceleration ``acc_m_per_s2`` and climb gradient ``dh_ds``
    are constant. Its point on the unit sphere after along-track distance σ is
    ``a + b cos(θ) + c sin(θ)`` with θ = ``phase0_rad + omega_rad_per_m·σ`` (a great circle when
    ``a = 0``, a small circle otherwise).
    """

    t0_s: Array
    v0_m_per_s: Array
    acc_m_per_s2: Array
    h0_m: Array
    dh_ds: Array
    a: Array
    b: Array
    c: Array
    omega_rad_per_m: Array
    phase0_rad: Array
    duration_s: float
    length_m: float
    waypoint_times_s: Array


@dataclass(frozen=True, eq=False)
class FlightPlan:
    """One aircraft or cruise missile flying waypoints (model: see the module docstring).

    Waypoint arrays are ``(K,)``, K ≥ 2: geodetic latitude and longitude [rad], WGS-84 ellipsoidal
    height [m] and horizontal speed [m/s] scheduled at each waypoint. The target becomes active at
    ``start_s`` (seconds since the scenario epoch, may be negative: already flying at t = 0) over
    the first waypoint and stops being active when it reaches the last one (`end_s`).
    ``max_bank_rad`` in (0, 89°) sets the turn radius v²/(g tan φ) at interior waypoints.
    ``terminal_waypoint``, if set, is the index of the waypoint from which the phase is
    ``terminal`` (a cruise missile's pop-up or sea-skim run; see `with_cruise_terminal`).
    """

    target_id: str
    kind: str
    lat_rad: Array
    lon_rad: Array
    alt_m: Array
    speed_m_per_s: Array
    start_s: float
    max_bank_rad: float
    terminal_waypoint: int | None = None
    _segments: _Segments = field(init=False, repr=False)

    def __post_init__(self) -> None:
        who = f"FlightPlan {self.target_id!r}"
        if not isinstance(self.target_id, str) or not self.target_id:
            raise ValueError(f"FlightPlan.target_id must be a non-empty string; got {self.target_id!r}.")
        if self.kind not in FLIGHT_PLAN_KINDS:
            raise ValueError(f"{who}: kind must be one of {FLIGHT_PLAN_KINDS}; got {self.kind!r}.")
        for name in ("lat_rad", "lon_rad", "alt_m", "speed_m_per_s"):
            arr = np.array(getattr(self, name), dtype=np.float64)  # a private, read-only copy
            if arr.ndim != 1 or not np.all(np.isfinite(arr)):
                raise ValueError(f"{who}: {name} must be a 1-D array of finite numbers; got {arr!r}.")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        k = self.lat_rad.size
        if k < 2:
            raise ValueError(
                f"{who}: a flight plan needs at least 2 waypoints (lat_rad has {k}); "
                "give a start and an end point."
            )
        for name in ("lon_rad", "alt_m", "speed_m_per_s"):
            if getattr(self, name).size != k:
                raise ValueError(
                    f"{who}: {name} has {getattr(self, name).size} entries but lat_rad has {k}; "
                    "give one value per waypoint."
                )
        if np.any(np.abs(self.lat_rad) > math.pi / 2):
            bad = int(np.argmax(np.abs(self.lat_rad)))
            raise ValueError(
                f"{who}: lat_rad must lie in [-π/2, π/2]; got {self.lat_rad[bad]:g} at waypoint {bad}. "
                "Degrees? Multiply by kizuna.constants.DEG or use FlightPlan.from_deg."
            )
        lo, hi = ALT_LIMITS_M
        if np.any((self.alt_m < lo) | (self.alt_m > hi)):
            raise ValueError(
                f"{who}: alt_m must lie in [{lo:g}, {hi:g}] m (WGS-84 ellipsoidal height); "
                f"got {self.alt_m.tolist()}. Feet? Multiply by kizuna.constants.FT."
            )
        if np.any(self.speed_m_per_s <= 0.0):
            bad = int(np.argmax(self.speed_m_per_s <= 0.0))
            raise ValueError(
                f"{who}: speed_m_per_s must be > 0 at every waypoint; got {self.speed_m_per_s[bad]:g} "
                f"at waypoint {bad}. Speeds are metres per second (250 m/s ≈ 486 kt)."
            )
        for name in ("start_s", "max_bank_rad"):
            value = getattr(self, name)
            if not isinstance(value, int | float | np.floating | np.integer) or not math.isfinite(value):
                raise ValueError(f"{who}: {name} must be a finite number; got {value!r}.")
            object.__setattr__(self, name, float(value))
        if not 0.0 < self.max_bank_rad < MAX_BANK_LIMIT_RAD:
            raise ValueError(
                f"{who}: max_bank_rad must lie in (0°, 89°) exclusive; got {self.max_bank_rad:g} rad "
                f"= {self.max_bank_rad / DEG:g}°. Airliners use about 25° (0.436 rad); degrees? Use from_deg."
            )
        if self.terminal_waypoint is not None and not 0 <= self.terminal_waypoint < k:
            raise ValueError(
                f"{who}: terminal_waypoint must index a waypoint (0..{k - 1}); got {self.terminal_waypoint}."
            )
        object.__setattr__(self, "_segments", _build_segments(self, who))

    @classmethod
    def from_deg(
        cls,
        target_id: str,
        kind: str,
        lat_deg: ArrayLike,
        lon_deg: ArrayLike,
        alt_m: ArrayLike,
        speed_m_per_s: ArrayLike,
        start_s: float,
        max_bank_deg: float,
    ) -> FlightPlan:
        """The same plan with latitude, longitude and bank limit in degrees (scenario-file units)."""
        return cls(
            target_id,
            kind,
            np.asarray(lat_deg, dtype=np.float64) * DEG,
            np.asarray(lon_deg, dtype=np.float64) * DEG,
            np.asarray(alt_m, dtype=np.float64),
            np.asarray(speed_m_per_s, dtype=np.float64),
            start_s,
            float(max_bank_deg) * DEG,
        )

    @property
    def end_s(self) -> float:
        """Arrival time at the last waypoint [s since the epoch]."""
        return self.start_s + self._segments.duration_s

    @property
    def path_length_m(self) -> float:
        """Length of the flown path (legs shortened by the turns, plus the turns) on the sphere [m]."""
        return self._segments.length_m

    @property
    def waypoint_times_s(self) -> Array:
        """``(K,)`` times the vehicle passes each waypoint (mid-turn for interior ones) [s since epoch]."""
        return self.start_s + self._segments.waypoint_times_s


def _phases(plans: Sequence[FlightPlan], t: Array, active: NDArray[np.bool_]) -> NDArray[np.int8]:
    """``cruise`` while active, ``terminal`` from each plan's terminal waypoint on, -1 when inactive."""
    terminal_from = np.array(
        [
            p.waypoint_times_s[p.terminal_waypoint] if p.terminal_waypoint is not None else np.inf
            for p in plans
        ]
    )
    phase = np.where(t >= terminal_from.reshape(-1, 1), PHASES.index("terminal"), PHASES.index("cruise"))
    return np.where(active, phase, -1).astype(np.int8)


def with_cruise_terminal(
    lat_rad: ArrayLike,
    lon_rad: ArrayLike,
    alt_m: ArrayLike,
    speed_m_per_s: ArrayLike,
    mode: str,
    distance_m: float,
    skim_alt_m: float = 5.0,
    pop_up_alt_m: float = 1_500.0,
) -> tuple[Array, Array, Array, Array, int]:
    """Waypoints with a cruise missile's terminal run added on the last leg; returns them and the
    index of the waypoint where the terminal phase begins.

    * ``sea_skim``: descend at 2° to ``skim_alt_m`` so as to reach it ``distance_m`` before the last
      waypoint, and hold it to the end (which is moved down to ``skim_alt_m`` too).
    * ``pop_up``: at ``distance_m`` before the last waypoint climb to ``pop_up_alt_m`` halfway, then
      dive to the surface (0 m) at the last waypoint.

    Raises ValueError when the last leg is too short for the run (the scenario check reports it).
    Heights change linearly with distance between waypoints, so the vertical rate steps at each
    new waypoint: a pull-up or push-over is instantaneous in this model.
    """
    lat, lon = np.array(lat_rad, dtype=np.float64), np.array(lon_rad, dtype=np.float64)
    alt, speed = np.array(alt_m, dtype=np.float64), np.array(speed_m_per_s, dtype=np.float64)
    u = unit_vector(lat[-2:], lon[-2:])
    leg_rad = float(np.arccos(np.clip(np.dot(u[0], u[1]), -1.0, 1.0)))
    leg_m = leg_rad * MEAN_EARTH_RADIUS_M
    if mode == "sea_skim":
        descent_m = max(alt[-2] - skim_alt_m, 0.0) / math.tan(math.radians(2.0))
        back_m = [distance_m + descent_m, distance_m]
        new_alt = [alt[-2], skim_alt_m]
        end_alt = skim_alt_m
    elif mode == "pop_up":
        back_m = [distance_m, distance_m / 2.0]
        new_alt = [alt[-2], pop_up_alt_m]
        end_alt = 0.0
    else:
        raise ValueError(f"cruise terminal mode must be 'sea_skim' or 'pop_up'; got {mode!r}")
    if back_m[0] >= leg_m - 1_000.0:
        raise ValueError(
            f"the last leg ({leg_m / 1e3:.1f} km) is too short for a {mode} run starting "
            f"{back_m[0] / 1e3:.1f} km before the end; shorten terminal_distance_m or move the last waypoint"
        )
    points = [_slerp(u[0], u[1], leg_rad, 1.0 - b / leg_m) for b in back_m]
    new_lat, new_lon = _lat_lon(np.array(points))
    lat = np.concatenate([lat[:-1], new_lat, lat[-1:]])
    lon = np.concatenate([lon[:-1], new_lon, lon[-1:]])
    alt = np.concatenate([alt[:-1], new_alt, [end_alt]])
    speed = np.concatenate([speed[:-1], [speed[-1], speed[-1]], speed[-1:]])
    return lat, lon, alt, speed, len(lat) - 3


def _slerp(u0: Array, u1: Array, angle_rad: float, fraction: float) -> Array:
    """The point `fraction` of the way along the great circle from u0 to u1 (angle between them given)."""
    return (np.sin((1.0 - fraction) * angle_rad) * u0 + np.sin(fraction * angle_rad) * u1) / np.sin(angle_rad)


def _lat_lon(u: Array) -> tuple[Array, Array]:
    """Spherical latitude/longitude [rad] of points ``(..., 3)`` on the unit sphere."""
    return np.arctan2(u[..., 2], np.hypot(u[..., 0], u[..., 1])), np.arctan2(u[..., 1], u[..., 0])


def _rowdot(x: Array, y: Array) -> Array:
    return np.einsum("ij,ij->i", x, y)


def _build_segments(plan: FlightPlan, who: str) -> _Segments:
    """Legs and fly-by turns of one plan, with the schedule at the start of each piece.

    Pieces in flight order, 3K - 5 of them: leg 0, turn 1 (first half), turn 1 (second half), leg 1,
    ..., leg K - 2. A waypoint flown straight through gets two empty turn halves.
    """
    radius_m = MEAN_EARTH_RADIUS_M
    u = unit_vector(plan.lat_rad, plan.lon_rad)
    pole = np.cross(u[:-1], u[1:])  # leg k's pole; it lies to the left of the direction of travel
    sin_leg = np.linalg.norm(pole, axis=1)
    leg_rad = np.arctan2(sin_leg, _rowdot(u[:-1], u[1:]))
    for k in np.flatnonzero((leg_rad * radius_m < MIN_LEG_M) | (leg_rad > _MAX_LEG_RAD)):
        raise ValueError(
            f"{who}: waypoints {k} and {k + 1} are {leg_rad[k] * radius_m:.6g} m apart; consecutive "
            f"waypoints must be between {MIN_LEG_M:g} m and {_MAX_LEG_RAD * radius_m / 1e3:,.0f} km apart "
            "(drop a repeated waypoint; split a near-antipodal leg)."
        )
    pole /= sin_leg[:, None]
    dir_out = np.cross(pole, u[:-1])  # direction of travel leaving waypoint k on leg k
    dir_in = np.cross(pole, u[1:])  # direction of travel arriving at waypoint k + 1 on leg k

    # Fly-by turns at the interior waypoints w = u[1:-1], all at once.
    w, d_in, d_out, pole_in = u[1:-1], dir_in[:-1], dir_out[1:], pole[:-1]
    dpsi = np.arctan2(_rowdot(np.cross(d_in, d_out), w), _rowdot(d_in, d_out))  # > 0: left turn
    for k in np.flatnonzero(np.abs(dpsi) > _MAX_TURN_RAD):
        raise ValueError(
            f"{who}: waypoint {k + 1} reverses course (heading change {dpsi[k] / DEG:.4f}°); a fly-by "
            "turn cannot. Add a waypoint off to one side to fly the turn around."
        )
    sin_h, cos_h = np.sin(np.abs(dpsi) / 2), np.cos(np.abs(dpsi) / 2)
    v, h = plan.speed_m_per_s, plan.alt_m
    v_turn = np.maximum.reduce([v[:-2], v[1:-1], v[2:]])  # fastest on the two legs of the turn
    h_turn = np.maximum.reduce([h[:-2], h[1:-1], h[2:]])
    # The largest stretch of the sphere-to-ellipsoid map at the turn is (N + h)/R (eastward): enlarge
    # the turn on the sphere by it so that on WGS-84 the lateral acceleration stays within g tan φ.
    stretch = (WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * w[:, 2] ** 2) + h_turn) / radius_m
    tan_r = v_turn**2 * stretch / (STANDARD_GRAVITY_M_PER_S2 * math.tan(plan.max_bank_rad)) / radius_m
    sin_d_max = np.sin(0.5 * np.minimum(leg_rad[:-1], leg_rad[1:]))  # half of the shorter leg
    too_big = tan_r * sin_h > sin_d_max * cos_h
    tan_r[too_big] = sin_d_max[too_big] * cos_h[too_big] / sin_h[too_big]  # shrink to fit
    sin_d = tan_r * sin_h / cos_h  # Napier: tan r = sin δ tan A with A = π/2 - Δψ/2
    r = np.arctan(tan_r)
    sin_r, cos_r = np.sin(r), np.cos(r)
    turning = (sin_h > 1e-9) & (sin_r > 1e-15)  # otherwise straight on: empty turn pieces
    sin_d[~turning] = 0.0
    cos_d = np.sqrt(1.0 - sin_d**2)
    sweep = np.where(turning, 2.0 * np.arctan2(sin_h / cos_r, cos_d * cos_h), 0.0)
    side = np.sign(dpsi)[:, None]
    t1 = w * cos_d[:, None] - d_in * sin_d[:, None]  # first tangent point, on the incoming leg
    sr, cr = sin_r[:, None], cos_r[:, None]
    # Small circle: centre axis cos r·t1 + side·sin r·pole; e1 from the axis to t1; e2 along travel.
    turn_a = (cr * t1 + side * sr * pole_in) * cr
    turn_b = (sr * t1 - side * cr * pole_in) * sr
    turn_c = np.cross(pole_in, t1) * sr
    turn_omega = 1.0 / (radius_m * np.where(turning, sin_r, 1.0))
    delta = np.concatenate([[0.0], np.arcsin(sin_d), [0.0]])  # tangent distance at each waypoint

    n_wp = u.shape[0]
    n_pieces = 3 * n_wp - 5
    a, b, c = np.zeros((n_pieces, 3)), np.empty((n_pieces, 3)), np.empty((n_pieces, 3))
    omega, phase0, length_m = np.empty(n_pieces), np.empty(n_pieces), np.empty(n_pieces)
    b[0::3], c[0::3], omega[0::3], phase0[0::3] = u[:-1], dir_out, 1.0 / radius_m, delta[:-1]
    length_m[0::3] = np.maximum(leg_rad - delta[:-1] - delta[1:], 0.0) * radius_m
    for half in (1, 2):
        a[half::3], b[half::3], c[half::3], omega[half::3] = turn_a, turn_b, turn_c, turn_omega
        phase0[half::3] = (half - 1) * 0.5 * sweep
        length_m[half::3] = 0.5 * sweep / turn_omega
    interval = (np.arange(n_pieces) + 1) // 3  # schedule interval (waypoint j to j + 1) of each piece

    # Schedule interval j runs from the passage of waypoint j to that of j + 1: v² and h linear in s.
    s0_m = np.concatenate([[0.0], np.cumsum(length_m)[:-1]])
    interval_len_m = np.bincount(interval, weights=length_m, minlength=n_wp - 1)
    interval_s0_m = np.concatenate([[0.0], np.cumsum(interval_len_m)])
    wp_times_s = np.concatenate([[0.0], np.cumsum(2.0 * interval_len_m / (v[:-1] + v[1:]))])
    acc = (v[1:] ** 2 - v[:-1] ** 2) / (2.0 * interval_len_m)
    dh_ds = (h[1:] - h[:-1]) / interval_len_m
    into_m = s0_m - interval_s0_m[interval]
    v0 = np.sqrt(np.maximum(v[interval] ** 2 + 2.0 * acc[interval] * into_m, 0.0))
    t0 = wp_times_s[interval] + 2.0 * into_m / (v[interval] + v0)
    return _Segments(
        t0_s=np.maximum.accumulate(t0),  # empty pieces may round a hair past their successor
        v0_m_per_s=v0,
        acc_m_per_s2=acc[interval],
        h0_m=h[interval] + dh_ds[interval] * into_m,
        dh_ds=dh_ds[interval],
        a=a,
        b=b,
        c=c,
        omega_rad_per_m=omega,
        phase0_rad=phase0,
        duration_s=float(wp_times_s[-1]),
        length_m=float(interval_s0_m[-1]),
        waypoint_times_s=wp_times_s,
    )


def sample_plans(plans: Sequence[FlightPlan], t_s: ArrayLike) -> TruthSamples:
    """Positions and velocities of every plan at every time, in one vectorised pass.

    ``t_s`` ``(T,)`` are seconds since the scenario epoch, in any order. Returns `TruthSamples`
    with ``pos_m`` and ``vel_m_per_s`` ``(N, T, 3)`` ECEF (NaN where inactive) and ``active`` ``(N, T)``,
    True for ``start_s <= t <= end_s``. The work per (plan, time) pair is NumPy arithmetic on flat
    arrays: one ``searchsorted`` finds each pair's piece, then the piece's closed form gives the
    point, the tangent, the speed and the height.
    """
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim != 1 or not np.all(np.isfinite(t)):
        raise ValueError(
            f"sample_plans: t_s must be a 1-D array (T,) of finite seconds; got shape {t.shape}."
        )
    n, n_t = len(plans), t.size
    pos = np.full((n, n_t, 3), np.nan)
    vel = np.full((n, n_t, 3), np.nan)
    start = np.array([p.start_s for p in plans], dtype=np.float64)
    duration = np.array([p._segments.duration_s for p in plans], dtype=np.float64)
    active = (t >= start[:, None]) & (t <= (start + duration)[:, None])
    engine_w_per_sr = np.array([ENGINE_INTENSITY_W_PER_SR[p.kind] for p in plans], dtype=np.float64)
    rcs = np.array([nominal_rcs_m2(p.kind, "cruise") for p in plans], dtype=np.float64)
    result = TruthSamples(
        target_ids=tuple(p.target_id for p in plans),
        kinds=tuple(p.kind for p in plans),
        t_s=t.copy(),
        pos_m=pos,
        vel_m_per_s=vel,
        active=active,
        phase=_phases(plans, t, active),
        ir_intensity_w_per_sr=np.where(active, engine_w_per_sr.reshape(n, 1), np.nan),
        rcs_m2=np.where(active, rcs.reshape(n, 1), np.nan),
    )
    i_plan, i_t = np.nonzero(active)
    if i_plan.size == 0:
        return result

    segs = [p._segments for p in plans]
    counts = np.array([s.t0_s.size for s in segs])
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    cat = {name: np.concatenate([getattr(s, name) for s in segs]) for name in _PIECE_FIELDS}
    # One searchsorted for all plans: key = plan index × W + time since the plan's start, with W longer
    # than any flight, so the keys of plan i sort before those of plan i + 1.
    width_s = float(duration.max()) + 1.0
    seg_key = np.repeat(np.arange(n) * width_s, counts) + cat["t0_s"]
    tau_s = t[i_t] - start[i_plan]
    idx = np.searchsorted(seg_key, i_plan * width_s + tau_s, side="right") - 1
    idx = np.clip(idx, first[i_plan], first[i_plan] + counts[i_plan] - 1)

    dt = tau_s - cat["t0_s"][idx]
    acc = cat["acc_m_per_s2"][idx]
    v0 = cat["v0_m_per_s"][idx]
    ds_m = v0 * dt + 0.5 * acc * dt**2  # along-track distance into the piece
    sdot = v0 + acc * dt  # horizontal speed on the sphere
    dh_ds = cat["dh_ds"][idx]
    alt = cat["h0_m"][idx] + dh_ds * ds_m
    alt_rate = dh_ds * sdot
    omega = cat["omega_rad_per_m"][idx]
    theta = cat["phase0_rad"][idx] + omega * ds_m
    cos_t, sin_t = np.cos(theta)[:, None], np.sin(theta)[:, None]
    b, c = cat["b"].take(idx, axis=0), cat["c"].take(idx, axis=0)
    u = cat["a"].take(idx, axis=0) + b * cos_t + c * sin_t  # point on the unit sphere = geodetic up
    u_dot = (c * cos_t - b * sin_t) * (omega * sdot)[:, None]  # its rate [1/s]

    flat = i_plan * n_t + i_t  # into the (N·T, 3) views of pos and vel
    lat, lon = _lat_lon(u)
    pos.reshape(-1, 3)[flat] = geodetic_to_ecef(lat, lon, alt)
    # Velocity: the time derivative of geodetic_to_ecef written with the unit up vector u (whose
    # components are cos φ cos λ, cos φ sin λ, sin φ): X = (N + h) u - e² N u_z ẑ, N = a / sqrt(1 - e² u_z²),
    # so  Ẋ = (N + h) u̇ + (Ṅ + ḣ) u - e² (Ṅ u_z + N u̇_z) ẑ  with  Ṅ = e² N u_z u̇_z / (1 - e² u_z²).
    uz, uz_dot = u[:, 2], u_dot[:, 2]
    w = 1.0 - WGS84_E2 * uz**2
    prime_vertical_m = WGS84_A_M / np.sqrt(w)
    n_dot = WGS84_E2 * prime_vertical_m * uz * uz_dot / w
    v_ecef = (prime_vertical_m + alt)[:, None] * u_dot + (n_dot + alt_rate)[:, None] * u
    v_ecef[:, 2] -= WGS84_E2 * (n_dot * uz + prime_vertical_m * uz_dot)
    vel.reshape(-1, 3)[flat] = v_ecef
    return result
