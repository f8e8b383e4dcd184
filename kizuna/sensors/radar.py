"""Surface radars, on land or on a ship: horizon, detection, measurements and false alarms, per scan.

A `SurfaceRadar` scans every ``revisit_s`` seconds (look times k·revisit, k = 0, 1, 2, ...) and sees
every target at the scan time (intra-scan timing is ignored). For every active target sample at a
look time, all at once (targets × looks as one flat batch, no Python loop over targets):

Visibility
----------
A target is a candidate when all four hold:

* *sector*: its azimuth lies within ``boresight ± width/2`` (wrapping through north; 360° = all round).
  The sector is fixed in true azimuth, also on a ship (not relative to the ship's heading);
* *instrumented range*: ``min_range_m ≤ R ≤ max_range_m``, R the geometric slant range;
* *radar horizon*, with the standard 4/3-Earth refraction model (Skolnik, *Introduction to Radar
  Systems*, 3rd ed., 2001, ch. 8; Barton, *Radar System Analysis and Modeling*, 2005): rays are
  straight over a sphere of effective radius ρ = k·R_α, k = 4/3, where R_α = MN / (N cos²α + M sin²α)
  is the WGS-84 radius of curvature of the normal section at the antenna in the target's azimuth α
  (Euler's theorem; M, N the meridian and prime-vertical radii). Heights h are above the ellipsoid,
  which is Kizuna's sea surface (truth heights are ellipsoidal too); terrain is not modelled. The
  ground arc s = R_α θ between antenna and target (θ the angle between their geodetic normals) keeps
  its length on the effective sphere, so the central angle there is θₑ = θ/k. The straight ray clears
  the effective sphere exactly when

      θₑ ≤ α(h₁) + α(h₂),   α(h) = arccos(ρ / (ρ + h)) = atan(√(h(2ρ + h)) / ρ),

  α(h) being the angle from a point at height h to its horizon (tangent point). For small heights
  this is Skolnik's d ≈ √(2kRh₁) + √(2kRh₂) = 4.12 (√h₁ + √h₂) km (h in metres, R = 6370 km).
  Heights below the surface count as 0;
* *elevation limits*: the *apparent* elevation, the one the beam is pointed at, lies in
  ``[elevation_min, elevation_max]``. In the 4/3-Earth model the apparent elevation is the elevation
  of the straight ray on the effective sphere,
  εₐ = atan2((h₂ − h₁) − 2(ρ + h₂) sin²(θₑ/2), (ρ + h₂) sin θₑ).
  It exceeds the geometric elevation by about s/(8R) (0.11° at 100 km, 0.45° at 400 km), the ray's
  downward bending. Note that a lower limit at or above 0° hides low targets long before the horizon:
  a sea-skimmer below the antenna always has εₐ < 0, so surface radars that must see them need a
  negative ``elevation_min_deg`` (the dip to the horizon is −√(2h₁/ρ), −0.15° for a 25 m mast).

Error sizes: the 4/3 model describes the standard lower atmosphere; it increasingly overstates the
bending for targets far above the troposphere, where the air is thin (an exponential reference
atmosphere would be the next step). R_α replaces the ellipsoid along the path by the sphere that fits
it at the antenna in that azimuth.

Detection
---------
Radar equation referenced to a design point, SNR = SNR₀ (R₀/R)⁴ (σ/σ₀) (Skolnik 3rd ed. ch. 2,
with everything but R and σ folded into SNR₀), with σ from `kizuna.truth.signatures.rcs_m2` at the
aspect between the target's velocity and the direction from the target to the antenna (a target at
rest is seen at beam aspect; a kind the signature table does not know keeps the truth's
aspect-averaged ``rcs_m2``). Swerling 1
(slow Rayleigh fluctuation, one look): Pd = Pfa^(1/(1+SNR)) (Skolnik 3rd ed. §2.8; Meyer & Mayer,
*Radar Target Detection*, 1973), one independent draw per target per scan.

Measurement
-----------
``z = (range_m, azimuth_rad, elevation_rad, range_rate_m_per_s)``: the geometric slant range,
azimuth and elevation in the local ENU frame at the antenna (exactly `kizuna.frames.ecef_to_aer`,
i.e. refraction is assumed corrected by the radar), and the range-rate
Ṙ = (p − s)·(v − vₛ)/|p − s| with the platform's velocity vₛ included. Each component gets
independent Gaussian noise of its declared σ; azimuth is wrapped to [0, 2π); ``cov = diag(σ²)``.

False alarms
------------
A Poisson number per scan with mean ``false_alarms_per_scan``. Threshold crossings happen per
resolution cell, and a radar's cells tile (range, azimuth, elevation) evenly, so a false alarm is
uniform *in each coordinate*: azimuth over the sector, elevation over the limits, range over
``[min_range_m, max_range_m]`` (not uniform in volume), range-rate uniform over
±`FALSE_ALARM_RANGE_RATE_MAX_M_PER_S`. The drawn values are what is reported (adding Gaussian noise
to a uniform draw would only smear it past the edges); the row carries the radar's declared
covariance like any other.

Rows
----
Within a scan, rows are ordered by measured azimuth, as a rotating radar reports them: the order
reveals nothing about which rows are false alarms or which target is which. Ids run consecutively
from ``first_id`` in that order; `DetectionLabels` holds the truth.

Ships
-----
A ship sails its route from t = 0 at constant speed along great circles of the sphere of radius
`MEAN_EARTH_RADIUS_M` (geodetic latitude and longitude used as spherical coordinates, as the flight
plans in `kizuna.truth.waypoints` do), then stays at the last point; one route point means on
station. The antenna is ``antenna_height_m`` above the ellipsoid. The ECEF velocity is the exact time
derivative of the mapped position, v = (M + h)(u̇·n̂)n̂ + (N + h)(u̇·ê)ê, so its magnitude differs
from ``speed_m_per_s`` by the map's stretch, −0.56 % … +0.64 % (the sailed distance on the sphere
is speed × t exactly).

Imports NumPy, `kizuna.constants`, `kizuna.frames`, the detection contract and the truth types; the
scenario schema only for type checking (the constructors read its validated tables).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kizuna.constants import DEG, MEAN_EARTH_RADIUS_M, WGS84_A_M, WGS84_E2
from kizuna.frames import ecef_to_geodetic, enu_rotation, enu_to_aer, geodetic_to_ecef, unit_vector
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch, DetectionLabels
from kizuna.truth import signatures
from kizuna.truth.samples import TruthSamples

if TYPE_CHECKING:  # the constructors read validated scenario tables; no runtime import of the schema
    from kizuna.scenario import schema

__all__ = [
    "FALSE_ALARM_RANGE_RATE_MAX_M_PER_S",
    "K_EFFECTIVE_EARTH",
    "DetectionModel",
    "Platform",
    "PlatformState",
    "SurfaceRadar",
    "aspect_rcs_m2",
    "batch_from_rows",
    "horizon_angle_rad",
    "in_sector",
    "look_times_every",
    "normal_section_radius_m",
    "radar_equation_snr",
    "swerling1_pd",
    "wrap_2pi",
]

Array = NDArray[np.float64]

K_EFFECTIVE_EARTH = 4.0 / 3.0
"""Effective-Earth-radius factor of the standard refraction model (Skolnik 3rd ed. ch. 8)."""

FALSE_ALARM_RANGE_RATE_MAX_M_PER_S = 8_000.0
"""False-alarm range-rates are uniform over ± this: the fastest target a scenario can hold (a glide
vehicle enters its glide at up to 8 km/s), so the Doppler band spans every real target."""

_MIN_LEG_RAD = 1e-12
"""Route legs shorter than this (1e-12 rad ≈ 6 µm) are repeated points and are dropped."""
_MAX_LEG_RAD = math.pi - 1e-6
"""Consecutive route points closer to antipodal than this have no defined great circle."""
_KIND_RADAR = np.int8(MEASUREMENT_KINDS.index("radar"))


# --- Small shared pieces ------------------------------------------------------------------------


def wrap_2pi(angle_rad: ArrayLike) -> Array:
    """Angles wrapped to [0, 2π) (``np.mod`` can round a tiny negative up to 2π: that becomes 0)."""
    wrapped = np.mod(np.asarray(angle_rad, dtype=np.float64), 2.0 * np.pi)
    return np.where(wrapped >= 2.0 * np.pi, 0.0, wrapped)


def in_sector(az_rad: ArrayLike, boresight_az_rad: float, width_rad: float) -> NDArray[np.bool_]:
    """True where azimuth lies within ``boresight ± width/2`` (wrapping through north); width 2π: all."""
    if width_rad >= 2.0 * np.pi:
        return np.ones(np.shape(az_rad), dtype=bool)
    offset = np.mod(np.asarray(az_rad, dtype=np.float64) - boresight_az_rad + np.pi, 2.0 * np.pi) - np.pi
    return np.abs(offset) <= 0.5 * width_rad


def radar_equation_snr(
    range_m: ArrayLike, rcs_m2: ArrayLike, snr0_db: float, ref_range_m: float, ref_rcs_m2: float
) -> Array:
    """Linear SNR = SNR₀ (R₀/R)⁴ (σ/σ₀): the radar equation referenced to a design point (Skolnik ch. 2).

    R = 0 gives an infinite SNR (Pd = 1), not a warning.
    """
    r = np.asarray(range_m, dtype=np.float64)
    with np.errstate(divide="ignore"):
        scale = (ref_range_m / r) ** 4
    return 10.0 ** (snr0_db / 10.0) * scale * (np.asarray(rcs_m2, dtype=np.float64) / ref_rcs_m2)


def swerling1_pd(snr: ArrayLike, pfa: float) -> Array:
    """Single-look detection probability of a Swerling 1 target, Pd = Pfa^(1/(1+SNR)) (Skolnik §2.8).

    From Pfa = exp(−V_T) for a square-law detector in Gaussian noise and the exponential distribution of
    a Rayleigh-fluctuating echo's power: Pd = exp(−V_T/(1 + SNR)).
    """
    return np.power(pfa, 1.0 / (1.0 + np.asarray(snr, dtype=np.float64)))


def normal_section_radius_m(lat_rad: ArrayLike, az_rad: ArrayLike) -> Array:
    """Radius of curvature of the WGS-84 normal section at latitude φ in azimuth α [m].

    Euler's theorem: 1/R_α = cos²α/M + sin²α/N, with M = a(1−e²)/W³, N = a/W, W = √(1 − e² sin²φ)
    (the principal radii of the ellipsoid; e.g. Torge & Müller, *Geodesy*, 4th ed., 2012).
    """
    sin_lat = np.sin(np.asarray(lat_rad, dtype=np.float64))
    w2 = 1.0 - WGS84_E2 * sin_lat**2
    n = WGS84_A_M / np.sqrt(w2)
    m = n * (1.0 - WGS84_E2) / w2
    az = np.asarray(az_rad, dtype=np.float64)
    return m * n / (n * np.cos(az) ** 2 + m * np.sin(az) ** 2)


def horizon_angle_rad(height_m: ArrayLike, sphere_radius_m: ArrayLike) -> Array:
    """Central angle from a point at height h above a sphere of radius ρ to its horizon, arccos(ρ/(ρ+h)).

    Written as atan(√(h(2ρ+h))/ρ), which keeps full precision for h ≪ ρ. Negative heights count as 0.
    """
    h = np.maximum(np.asarray(height_m, dtype=np.float64), 0.0)
    rho = np.asarray(sphere_radius_m, dtype=np.float64)
    return np.arctan2(np.sqrt(h * (2.0 * rho + h)), rho)


def _angle_between(u: Array, w: Array) -> Array:
    """Angle between unit vectors (rows), atan2(|u×w|, u·w): accurate at small and large angles."""
    return np.arctan2(np.linalg.norm(np.cross(u, w), axis=-1), np.einsum("...i,...i->...", u, w))


def aspect_rcs_m2(
    truth: TruthSamples, target_index: NDArray[np.intp], look_index: NDArray[np.intp], aspect_rad: Array
) -> Array:
    """RCS seen at each row's aspect, by kind and phase (`signatures.rcs_m2`).

    Loops over the distinct (kind, phase) pairs present (a handful), never over targets. A kind the
    signature table does not know keeps the truth's aspect-averaged ``rcs_m2`` for that row.
    """
    out = np.asarray(truth.rcs_m2[target_index, look_index], dtype=np.float64).copy()
    if len(target_index) == 0:
        return out
    kind_names = sorted(set(truth.kinds))
    kind_code = np.array([kind_names.index(k) for k in truth.kinds], dtype=np.int64)
    phase = truth.phase[target_index, look_index].astype(np.int64)
    pair = kind_code[target_index] * len(signatures.PHASES) + phase
    for code in np.unique(pair):
        kind, phase_code = divmod(int(code), len(signatures.PHASES))
        if phase_code < 0 or phase_code >= len(signatures.PHASES):
            continue
        rows = pair == code
        try:
            out[rows] = signatures.rcs_m2(kind_names[kind], signatures.PHASES[phase_code], aspect_rad[rows])
        except ValueError:
            continue  # no table entry for this kind: keep the truth's averaged value
    return out


def batch_from_rows(
    *,
    sensor_id: str,
    kind: np.int8,
    time_s: Array,
    z: Array,
    sigmas: Sequence[float],
    sensor_pos_m: Array,
    sensor_vel_m_per_s: Array,
    target_id: NDArray[np.object_],
    first_id: int,
) -> tuple[DetectionBatch, DetectionLabels]:
    """Assemble rows into a batch: order by (time, measured azimuth = ``z[:, 1]``), number from first_id.

    ``z`` is ``(M, d)`` with d = len(sigmas) ≤ `Z_MAX`; it is padded with NaN to `Z_MAX` columns and the
    covariance is diag(σ²) with NaN in the unused rows and columns. ``target_id`` ("" for a false
    alarm) goes to the labels only.
    """
    m, d = z.shape
    order = np.lexsort((z[:, 1], time_s))
    z_full = np.full((m, Z_MAX), np.nan)
    z_full[:, :d] = z[order]
    cov_one = np.full((Z_MAX, Z_MAX), np.nan)
    cov_one[:d, :d] = np.diag(np.square(np.asarray(sigmas, dtype=np.float64)))
    ids = np.arange(first_id, first_id + m, dtype=np.int64)
    batch = DetectionBatch(
        detection_id=ids,
        time_s=np.asarray(time_s[order], dtype=np.float64),
        sensor_id=np.full(m, sensor_id, dtype=object),
        kind=np.full(m, kind, dtype=np.int8),
        z=z_full,
        cov=np.broadcast_to(cov_one, (m, Z_MAX, Z_MAX)).copy(),
        sensor_pos_m=np.asarray(sensor_pos_m[order], dtype=np.float64),
        sensor_vel_m_per_s=np.asarray(sensor_vel_m_per_s[order], dtype=np.float64),
    )
    return batch, DetectionLabels(ids.copy(), np.asarray(target_id, dtype=object)[order])


def look_times_every(revisit_s: float, t0_s: float, t1_s: float) -> Array:
    """The times k·revisit_s (k = 0, 1, ...) that lie in ``[t0_s, t1_s)``."""
    if not t1_s > t0_s:
        return np.zeros(0)
    k0 = max(0, math.floor(t0_s / revisit_s) - 1)
    k1 = math.ceil(t1_s / revisit_s) + 1
    t = np.arange(k0, k1 + 1, dtype=np.float64) * revisit_s
    return t[(t >= t0_s) & (t < t1_s)]


# --- Detection model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectionModel:
    """SNR₀ at (R₀, σ₀), Swerling 1 detection at a false-alarm probability, Poisson false alarms."""

    snr0_db: float
    ref_range_m: float
    ref_rcs_m2: float = 1.0
    pfa: float = 1e-6
    false_alarms_per_scan: float = 1.0

    def __post_init__(self) -> None:
        if not (self.ref_range_m > 0.0 and self.ref_rcs_m2 > 0.0):
            raise ValueError(
                "detection reference range and RCS must be positive; got "
                f"ref_range_m = {self.ref_range_m!r}, ref_rcs_m2 = {self.ref_rcs_m2!r}"
            )
        if not 0.0 < self.pfa < 1.0:
            raise ValueError(f"pfa is a probability strictly between 0 and 1; got {self.pfa!r}")
        if not (self.false_alarms_per_scan >= 0.0 and math.isfinite(self.false_alarms_per_scan)):
            raise ValueError(
                f"false_alarms_per_scan is a Poisson mean (≥ 0); got {self.false_alarms_per_scan!r}"
            )

    @classmethod
    def from_scenario(cls, detection: schema.RadarDetection) -> DetectionModel:
        return cls(
            snr0_db=detection.snr0_db,
            ref_range_m=detection.ref_range_m,
            ref_rcs_m2=detection.ref_rcs_m2,
            pfa=detection.pfa,
            false_alarms_per_scan=detection.false_alarms_per_scan,
        )

    def snr(self, range_m: ArrayLike, rcs_m2: ArrayLike) -> Array:
        """Linear SNR at range R for RCS σ (`radar_equation_snr`)."""
        return radar_equation_snr(range_m, rcs_m2, self.snr0_db, self.ref_range_m, self.ref_rcs_m2)

    def pd(self, range_m: ArrayLike, rcs_m2: ArrayLike) -> Array:
        """Swerling 1 detection probability at range R for RCS σ (`swerling1_pd`)."""
        return swerling1_pd(self.snr(range_m, rcs_m2), self.pfa)


# --- Platform: a fixed site or a ship -----------------------------------------------------------


@dataclass(frozen=True)
class PlatformState:
    """The antenna at T times: geodetic lat, lon [rad], height [m] ``(T,)``; ECEF pos, vel ``(T, 3)``."""

    lat_rad: Array
    lon_rad: Array
    alt_m: Array
    pos_m: Array
    vel_m_per_s: Array


@dataclass(frozen=True, eq=False)
class Platform:
    """Where the antenna is: route points (lat, lon [rad], K ≥ 1) sailed at a constant speed, at a height.

    One point, or speed 0, is a fixed site. See the module docstring ("Ships") for the route model.
    """

    lat_rad: Array
    lon_rad: Array
    alt_m: float
    speed_m_per_s: float = 0.0
    name: str = "platform"
    _legs: tuple[Array, Array, Array, Array] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        lat = np.atleast_1d(np.asarray(self.lat_rad, dtype=np.float64))
        lon = np.atleast_1d(np.asarray(self.lon_rad, dtype=np.float64))
        if lat.shape != lon.shape or lat.ndim != 1 or len(lat) == 0:
            raise ValueError(
                f"{self.name}: route latitudes and longitudes must be two 1-D arrays of the same length ≥ 1; "
                f"got shapes {lat.shape} and {lon.shape}"
            )
        if not (np.all(np.isfinite(lat)) and np.all(np.isfinite(lon)) and math.isfinite(self.alt_m)):
            raise ValueError(f"{self.name}: route points and height must be finite numbers")
        if not (self.speed_m_per_s >= 0.0 and math.isfinite(self.speed_m_per_s)):
            raise ValueError(f"{self.name}: speed must be ≥ 0 m/s; got {self.speed_m_per_s!r}")
        object.__setattr__(self, "lat_rad", lat)
        object.__setattr__(self, "lon_rad", lon)
        u = unit_vector(lat, lon)
        u0, u1 = u[:-1], u[1:]
        angle = _angle_between(u0, u1)
        for k in np.nonzero(angle > _MAX_LEG_RAD)[0]:
            raise ValueError(
                f"{self.name}: route points {k} and {k + 1} (lat {math.degrees(lat[k]):.6f}°, "
                f"lon {math.degrees(lon[k]):.6f}° and lat {math.degrees(lat[k + 1]):.6f}°, "
                f"lon {math.degrees(lon[k + 1]):.6f}°) are antipodal, so no single great circle joins "
                "them; add a point in between to say which way the ship sails."
            )
        keep = angle >= _MIN_LEG_RAD
        u0, u1, angle = u0[keep], u1[keep], angle[keep]
        start = np.concatenate([[0.0], np.cumsum(angle)[:-1]]) * MEAN_EARTH_RADIUS_M if len(angle) else angle
        object.__setattr__(self, "_legs", (u0, u1, angle, start))

    @classmethod
    def fixed(cls, lat_rad: float, lon_rad: float, alt_m: float, name: str = "site") -> Platform:
        """A fixed site."""
        return cls(np.array([lat_rad]), np.array([lon_rad]), alt_m, 0.0, name)

    @property
    def route_length_m(self) -> float:
        """Length of the route on the sphere of radius `MEAN_EARTH_RADIUS_M` [m]."""
        return float(np.sum(self._legs[2]) * MEAN_EARTH_RADIUS_M)

    def state_at(self, t_s: ArrayLike) -> PlatformState:
        """Antenna position and velocity at times ``t_s (T,)`` (before t = 0: at the first point, at rest)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        u0, u1, angle, start_m = self._legs
        alt = np.full(t.shape, self.alt_m)
        if len(angle) == 0 or self.speed_m_per_s == 0.0:
            lat = np.full(t.shape, self.lat_rad[0])
            lon = np.full(t.shape, self.lon_rad[0])
            return PlatformState(lat, lon, alt, geodetic_to_ecef(lat, lon, alt), np.zeros((*t.shape, 3)))
        total_m = self.route_length_m
        sailed_m = np.clip(self.speed_m_per_s * t, 0.0, total_m)
        leg = np.clip(np.searchsorted(start_m, sailed_m, side="right") - 1, 0, len(angle) - 1)
        phi = (sailed_m - start_m[leg]) / MEAN_EARTH_RADIUS_M
        omega = angle[leg]
        a, b = u0[leg], u1[leg]
        sin_omega = np.sin(omega)[:, None]
        # Slerp along the leg and its derivative in the arc angle φ (unit sphere), then dφ/dt = v/R.
        u = (np.sin(omega - phi)[:, None] * a + np.sin(phi)[:, None] * b) / sin_omega
        du_dt = (-np.cos(omega - phi)[:, None] * a + np.cos(phi)[:, None] * b) / sin_omega
        moving = (t >= 0.0) & (self.speed_m_per_s * t < total_m)
        du_dt *= np.where(moving, self.speed_m_per_s / MEAN_EARTH_RADIUS_M, 0.0)[:, None]
        lat = np.arctan2(u[:, 2], np.hypot(u[:, 0], u[:, 1]))
        lon = np.arctan2(u[:, 1], u[:, 0])
        # v = (M + h)(u̇·n̂) n̂ + (N + h)(u̇·ê) ê: the derivative of geodetic_to_ecef along the path.
        rot = enu_rotation(lat, lon)
        east, north = rot[:, 0, :], rot[:, 1, :]
        w2 = 1.0 - WGS84_E2 * np.sin(lat) ** 2
        n_radius = WGS84_A_M / np.sqrt(w2)
        m_radius = n_radius * (1.0 - WGS84_E2) / w2
        north_rate = np.einsum("ij,ij->i", du_dt, north)
        east_rate = np.einsum("ij,ij->i", du_dt, east)
        vel = ((m_radius + alt) * north_rate)[:, None] * north + ((n_radius + alt) * east_rate)[
            :, None
        ] * east
        return PlatformState(lat, lon, alt, geodetic_to_ecef(lat, lon, alt), vel)


# --- The radar ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    """Noise-free geometry of M (target, look) rows."""

    range_m: Array
    az_rad: Array
    el_rad: Array
    range_rate_m_per_s: Array
    apparent_el_rad: Array
    visible: NDArray[np.bool_]
    los_m: Array  # target minus antenna, ECEF


@dataclass(frozen=True, eq=False)
class SurfaceRadar:
    """A surface radar (land site or ship) that implements the `kizuna.sensors.base.Sensor` protocol.

    Angles are radians, ranges metres, times seconds. Build one from a scenario with `from_scenario`
    (a `schema.Radar`) or `from_ship` (a `schema.ShipRadar`). The model is in the module docstring.
    """

    sensor_id: str
    nation: str
    platform: Platform
    revisit_s: float
    max_range_m: float
    sigma_range_m: float
    sigma_azimuth_rad: float
    sigma_elevation_rad: float
    sigma_range_rate_m_per_s: float
    detection: DetectionModel
    boresight_az_rad: float = 0.0
    sector_width_rad: float = 2.0 * math.pi
    elevation_min_rad: float = 0.0
    elevation_max_rad: float = 0.5 * math.pi
    min_range_m: float = 0.0

    def __post_init__(self) -> None:
        who = f"radar {self.sensor_id!r}"
        if not (self.revisit_s > 0.0 and math.isfinite(self.revisit_s)):
            raise ValueError(f"{who}: revisit_s must be a positive number of seconds; got {self.revisit_s!r}")
        if not 0.0 <= self.min_range_m < self.max_range_m:
            raise ValueError(
                f"{who}: the instrumented range interval is empty: min_range_m = {self.min_range_m!r} "
                f"must be ≥ 0 and below max_range_m = {self.max_range_m!r}"
            )
        if not -0.5 * math.pi <= self.elevation_min_rad <= self.elevation_max_rad <= 0.5 * math.pi:
            raise ValueError(
                f"{who}: elevation limits must satisfy -90° ≤ elevation_min ≤ elevation_max ≤ 90°; got "
                f"{math.degrees(self.elevation_min_rad):.6g}° … {math.degrees(self.elevation_max_rad):.6g}°"
            )
        if not 0.0 < self.sector_width_rad <= 2.0 * math.pi:
            raise ValueError(
                f"{who}: sector width must be in (0°, 360°]; got {math.degrees(self.sector_width_rad):.6g}°"
            )
        sigmas = (self.sigma_range_m, self.sigma_azimuth_rad, self.sigma_elevation_rad)
        if not all(s >= 0.0 and math.isfinite(s) for s in (*sigmas, self.sigma_range_rate_m_per_s)):
            raise ValueError(f"{who}: measurement sigmas must be finite and ≥ 0; got {self.sigmas}")

    @classmethod
    def from_scenario(cls, radar: schema.Radar) -> SurfaceRadar:
        """A fixed radar at ``radar.site`` (``site.alt_m`` is the antenna height above the ellipsoid)."""
        site = Platform.fixed(radar.site.lat_deg * DEG, radar.site.lon_deg * DEG, radar.site.alt_m, radar.id)
        return cls._from_common(radar, site)

    @classmethod
    def from_ship(cls, ship: schema.ShipRadar) -> SurfaceRadar:
        """A radar on a ship that sails ``ship.route`` at ``ship.speed_m_per_s`` from t = 0."""
        route = Platform(
            np.array([p.lat_deg for p in ship.route]) * DEG,
            np.array([p.lon_deg for p in ship.route]) * DEG,
            ship.antenna_height_m,
            ship.speed_m_per_s,
            f"ship radar {ship.id!r}",
        )
        return cls._from_common(ship, route)

    @classmethod
    def _from_common(cls, radar: schema.Radar | schema.ShipRadar, platform: Platform) -> SurfaceRadar:
        return cls(
            sensor_id=radar.id,
            nation=radar.nation,
            platform=platform,
            revisit_s=radar.revisit_s,
            max_range_m=radar.max_range_m,
            sigma_range_m=radar.sigma_range_m,
            sigma_azimuth_rad=radar.sigma_azimuth_deg * DEG,
            sigma_elevation_rad=radar.sigma_elevation_deg * DEG,
            sigma_range_rate_m_per_s=radar.sigma_range_rate_m_per_s,
            detection=DetectionModel.from_scenario(radar.detection),
            boresight_az_rad=radar.boresight_az_deg * DEG,
            sector_width_rad=radar.sector_width_deg * DEG,
            elevation_min_rad=radar.elevation_min_deg * DEG,
            elevation_max_rad=radar.elevation_max_deg * DEG,
            min_range_m=radar.min_range_m,
        )

    @property
    def sigmas(self) -> tuple[float, float, float, float]:
        """1σ noise of (range_m, azimuth_rad, elevation_rad, range_rate_m_per_s)."""
        return (
            self.sigma_range_m,
            self.sigma_azimuth_rad,
            self.sigma_elevation_rad,
            self.sigma_range_rate_m_per_s,
        )

    def look_times(self, t0_s: float, t1_s: float) -> NDArray[np.float64]:
        """Scan times k·revisit_s (k = 0, 1, ...) in ``[t0_s, t1_s)``."""
        return look_times_every(self.revisit_s, t0_s, t1_s)

    def visible(self, pos_m: ArrayLike, t_s: float) -> NDArray[np.bool_]:
        """Whether targets at ECEF positions ``(..., 3)`` are in the radar's coverage at time ``t_s``.

        Sector, instrumented range, 4/3-Earth horizon and apparent-elevation limits (module docstring).
        """
        pos = np.asarray(pos_m, dtype=np.float64)
        flat = pos.reshape(-1, 3)
        plat = self.platform.state_at(np.array([float(t_s)]))
        geo = self._geometry(flat, np.zeros_like(flat), plat, np.zeros(len(flat), dtype=np.intp))
        return geo.visible.reshape(pos.shape[:-1])

    def _geometry(
        self, pos_m: Array, vel_m_per_s: Array, plat: PlatformState, look: NDArray[np.intp]
    ) -> _Geometry:
        site_lat, site_lon, site_alt = plat.lat_rad[look], plat.lon_rad[look], plat.alt_m[look]
        los = pos_m - plat.pos_m[look]
        rot = enu_rotation(site_lat, site_lon)
        az, el, rng = enu_to_aer(np.einsum("...ij,...j->...i", rot, los))
        with np.errstate(invalid="ignore", divide="ignore"):
            range_rate = np.einsum("ij,ij->i", los, vel_m_per_s - plat.vel_m_per_s[look]) / rng
        # 4/3-Earth horizon and apparent elevation on the effective sphere.
        tgt_lat, tgt_lon, tgt_alt = ecef_to_geodetic(pos_m)
        theta_e = _angle_between(rot[:, 2, :], unit_vector(tgt_lat, tgt_lon)) / K_EFFECTIVE_EARTH
        rho = K_EFFECTIVE_EARTH * normal_section_radius_m(site_lat, az)
        r2 = rho + tgt_alt
        apparent_el = np.arctan2(
            (tgt_alt - site_alt) - 2.0 * r2 * np.sin(0.5 * theta_e) ** 2, r2 * np.sin(theta_e)
        )
        above_horizon = theta_e <= horizon_angle_rad(site_alt, rho) + horizon_angle_rad(tgt_alt, rho)
        visible = (
            above_horizon
            & (rng >= self.min_range_m)
            & (rng <= self.max_range_m)
            & (apparent_el >= self.elevation_min_rad)
            & (apparent_el <= self.elevation_max_rad)
            & in_sector(az, self.boresight_az_rad, self.sector_width_rad)
        )
        return _Geometry(rng, az, el, range_rate, apparent_el, visible, los)

    def observe(
        self, truth: TruthSamples, first_id: int, rng: np.random.Generator
    ) -> tuple[DetectionBatch, DetectionLabels]:
        """Detections at each of ``truth.t_s`` (scan times), numbered from ``first_id`` (module docstring).

        Draws, in this order: one uniform per visible (target, scan) for detection, four standard
        normals per detection, the Poisson false-alarm count of every scan, four uniforms per false alarm.
        """
        t = np.asarray(truth.t_s, dtype=np.float64)
        plat = self.platform.state_at(t)
        ok = (
            truth.active
            & np.all(np.isfinite(truth.pos_m), axis=-1)
            & np.all(np.isfinite(truth.vel_m_per_s), axis=-1)
        )
        target, look = np.nonzero(ok)
        pos, vel = truth.pos_m[target, look], truth.vel_m_per_s[target, look]
        geo = self._geometry(pos, vel, plat, look)
        vis = np.nonzero(geo.visible)[0]
        target, look, vel = target[vis], look[vis], vel[vis]
        # Aspect: angle between the target's velocity and the direction from the target to the antenna.
        to_radar = -geo.los_m[vis] / geo.range_m[vis, None]
        speed = np.linalg.norm(vel, axis=-1)
        cos_aspect = np.einsum("ij,ij->i", vel, to_radar) / np.where(speed > 0.0, speed, 1.0)
        aspect = np.where(speed > 0.0, np.arccos(np.clip(cos_aspect, -1.0, 1.0)), 0.5 * np.pi)
        rcs = aspect_rcs_m2(truth, target, look, aspect)
        hit = rng.random(len(vis)) < self.detection.pd(geo.range_m[vis], rcs)
        rows = vis[hit]
        target, look = target[hit], look[hit]
        sig = np.asarray(self.sigmas)
        z_true = np.stack(
            [geo.range_m[rows], geo.az_rad[rows], geo.el_rad[rows], geo.range_rate_m_per_s[rows]], -1
        )
        z_det = z_true + rng.standard_normal(z_true.shape) * sig
        z_det[:, 1] = wrap_2pi(z_det[:, 1])
        # False alarms: Poisson count per scan, uniform per coordinate over the surveillance volume.
        counts = rng.poisson(self.detection.false_alarms_per_scan, len(t))
        fa_look = np.repeat(np.arange(len(t)), counts)
        u = rng.random((len(fa_look), 4))
        z_fa = np.stack(
            [
                self.min_range_m + u[:, 0] * (self.max_range_m - self.min_range_m),
                wrap_2pi(self._sector_start_rad + u[:, 1] * self._sector_span_rad),
                self.elevation_min_rad + u[:, 2] * (self.elevation_max_rad - self.elevation_min_rad),
                (2.0 * u[:, 3] - 1.0) * FALSE_ALARM_RANGE_RATE_MAX_M_PER_S,
            ],
            axis=-1,
        )
        all_look = np.concatenate([look, fa_look])
        ids = np.asarray(truth.target_ids, dtype=object)
        return batch_from_rows(
            sensor_id=self.sensor_id,
            kind=_KIND_RADAR,
            time_s=t[all_look],
            z=np.concatenate([z_det, z_fa]),
            sigmas=self.sigmas,
            sensor_pos_m=plat.pos_m[all_look],
            sensor_vel_m_per_s=plat.vel_m_per_s[all_look],
            target_id=np.concatenate([ids[target], np.full(len(fa_look), "", dtype=object)]),
            first_id=first_id,
        )

    @property
    def _sector_span_rad(self) -> float:
        return min(self.sector_width_rad, 2.0 * math.pi)

    @property
    def _sector_start_rad(self) -> float:
        return self.boresight_az_rad - 0.5 * self._sector_span_rad
