"""Skywave over-the-horizon (OTH) radar: ground range, azimuth and ground range-rate, no altitude.

An `OthRadar` looks every ``revisit_s`` seconds (look times k·revisit, k = 0, 1, ...) and, like the
surface radars (`kizuna.sensors.radar`), sees every target at the look time, all targets × looks in
one vectorised pass.

Visibility
----------
HF energy refracted by the ionosphere comes down beyond the horizon, so there is *no line-of-sight
test*: the ionosphere carries the signal. A target is a candidate when

* its ground range from the site (below) lies in ``[min_ground_range_m, max_ground_range_m]``, the
  skywave window (inside it the skip zone, beyond it the end of the one-hop illumination);
* its azimuth lies within ``boresight ± width/2``;
* its height is at most `OTH_MAX_ALTITUDE_M` (100 km, the bottom of the ionosphere's E layer): the
  refracted ray turns back below the reflecting layer, so targets above it (ballistic missiles in
  midcourse) are not illuminated. Any lower height counts, sea-skimmers included.

Ionospheric conditions (day/night, frequency management, auroral clutter) are not modelled.

Measurement
-----------
``z = (ground_range_m, azimuth_rad, range_rate_m_per_s)``, no elevation and no altitude:

* *ground range*: the WGS-84 geodesic distance between the site and the target's sub-point (heights
  ignored), by Lambert's formula for long lines (W. D. Lambert, "The distance between two widely
  separated points on the surface of the earth", J. Washington Acad. Sci. 32(5), 1942): with reduced
  latitudes β = atan((1−f) tan φ), σ the central angle between (β₁, λ₁) and (β₂, λ₂) on the unit
  sphere, P = (β₁+β₂)/2, Q = (β₂−β₁)/2,

      X = (σ − sin σ) sin²P cos²Q / cos²(σ/2),   Y = (σ + sin σ) cos²P sin²Q / sin²(σ/2),
      s = a (σ − (f/2)(X + Y)).

  Against pymap3d's Vincenty geodesic it agrees to 1.5e-6 of the distance (≤ 4.2 m within 3,000 km,
  ≤ 13 m at 10,000 km; tested), far below the kilometre-level OTH range noise. The radar measures
  group delay along the skywave path and turns it into ground range with its ionospheric model
  (coordinate registration); this model reports the result of a perfect registration;
* *azimuth*: of the target's sub-point in the local ENU frame at the site (the normal-section
  azimuth, the bearing of the plane holding the site's vertical and the target: what a receiving
  array measures), in [0, 2π). It differs from the geodesic's azimuth by < 0.01° at 3,000 km;
* *range-rate*: the rate of change of the ground range, ds/dt, for the target moving with its ECEF
  velocity: by the chain rule along its geodetic track (φ̇ = v_N/(M + h), λ̇ = v_E/((N + h) cos φ)),
  evaluated as a central difference of s with δt = `RANGE_RATE_STEP_S` = 0.02 s, whose truncation
  error is below 2e-4 m/s for speeds up to 8 km/s beyond 500 km. It is the speed of the sub-point
  along the geodesic away from the site: vertical motion does not change it, and a target at height h
  flying level at speed v moves its sub-point at v·R/(R + h) (0.16 % slower at 10 km). A real OTH
  measures the Doppler of the skywave path; this is its idealisation on the ground.

Noise: independent Gaussian per component of the declared σ (km-level in range), azimuth wrapped;
``cov = diag(σ²)`` in the first three rows and columns, NaN in the unused fourth.

Detection
---------
The radar equation and Swerling 1 of `kizuna.sensors.radar.DetectionModel` with R the ground range:
SNR = SNR₀ (R₀/R)⁴ (σ/σ₀), Pd = Pfa^(1/(1+SNR)). The RCS is `signatures.rcs_m2` at the aspect
between the target's velocity and the horizontal direction from the target towards the site along
the great circle (the skywave arrives from the site's side at a low grazing angle). HF RCS (resonance
region) is not distinguished from the microwave table.

False alarms
------------
Poisson per look with mean ``false_alarms_per_scan``, uniform in ground range over the window and
in azimuth over the sector (uniform over the range-azimuth cells), range-rate uniform over
±`FALSE_ALARM_RANGE_RATE_MAX_M_PER_S`; label "" (a false alarm). Rows are ordered by (time,
measured azimuth) and numbered from ``first_id`` as for the surface radars.

Imports NumPy, `kizuna.constants`, `kizuna.frames`, `kizuna.sensors.radar` (the detection model and
the batch assembly), the detection contract and the truth types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kizuna.constants import DEG, WGS84_A_M, WGS84_E2, WGS84_F
from kizuna.frames import (
    ecef_to_enu,
    ecef_to_geodetic,
    ecef_vector_to_enu,
    enu_to_aer,
    geodetic_to_ecef,
    unit_vector,
)
from kizuna.sensors.detections import MEASUREMENT_KINDS, DetectionBatch, DetectionLabels
from kizuna.sensors.radar import (
    FALSE_ALARM_RANGE_RATE_MAX_M_PER_S,
    DetectionModel,
    aspect_rcs_m2,
    batch_from_rows,
    in_sector,
    look_times_every,
    wrap_2pi,
)
from kizuna.truth.samples import TruthSamples

if TYPE_CHECKING:  # the constructors read validated scenario tables; no runtime import of the schema
    from kizuna.scenario import schema

__all__ = [
    "MAX_GROUND_RANGE_M",
    "OTH_MAX_ALTITUDE_M",
    "RANGE_RATE_STEP_S",
    "OthRadar",
    "ground_range_m",
    "ground_range_rate_m_per_s",
    "oth_measurement",
    "sub_point_azimuth_rad",
]

Array = NDArray[np.float64]

OTH_MAX_ALTITUDE_M = 100_000.0
"""Highest target an OTH radar sees: the base of the ionospheric E layer, where the skywave turns."""
RANGE_RATE_STEP_S = 0.02
"""Half-step of the central difference that gives the ground range-rate [s]."""
MAX_GROUND_RANGE_M = 10_000_000.0
"""Largest far edge accepted: skywave radars reach a few thousand km, and Lambert's formula is checked
to this distance (it degrades towards antipodal points)."""

_KIND_OTH = np.int8(MEASUREMENT_KINDS.index("oth"))


def ground_range_m(
    lat1_rad: ArrayLike, lon1_rad: ArrayLike, lat2_rad: ArrayLike, lon2_rad: ArrayLike
) -> Array:
    """WGS-84 geodesic distance between geodetic points [m], by Lambert's formula (module docstring).

    Accurate to 1.5e-6 of the distance up to 10,000 km. Coincident points give 0.
    """
    lat1, lon1 = np.asarray(lat1_rad, dtype=np.float64), np.asarray(lon1_rad, dtype=np.float64)
    lat2, lon2 = np.asarray(lat2_rad, dtype=np.float64), np.asarray(lon2_rad, dtype=np.float64)
    beta1 = np.arctan2((1.0 - WGS84_F) * np.sin(lat1), np.cos(lat1))
    beta2 = np.arctan2((1.0 - WGS84_F) * np.sin(lat2), np.cos(lat2))
    u1, u2 = unit_vector(beta1, lon1), unit_vector(beta2, lon2)
    u1, u2 = np.broadcast_arrays(u1, u2)
    sigma = np.arctan2(np.linalg.norm(np.cross(u1, u2), axis=-1), np.einsum("...i,...i->...", u1, u2))
    p, q = 0.5 * (beta1 + beta2), 0.5 * (beta2 - beta1)
    cos_half2, sin_half2 = np.cos(0.5 * sigma) ** 2, np.sin(0.5 * sigma) ** 2
    x_num = (sigma - np.sin(sigma)) * np.sin(p) ** 2 * np.cos(q) ** 2
    y_num = (sigma + np.sin(sigma)) * np.cos(p) ** 2 * np.sin(q) ** 2
    x_num, y_num, cos_half2, sin_half2 = np.broadcast_arrays(x_num, y_num, cos_half2, sin_half2)
    x = np.divide(x_num, cos_half2, out=np.zeros(x_num.shape), where=cos_half2 > 0.0)
    y = np.divide(y_num, sin_half2, out=np.zeros(y_num.shape), where=sin_half2 > 0.0)
    return WGS84_A_M * (sigma - 0.5 * WGS84_F * (x + y))


def ground_range_rate_m_per_s(
    site_lat_rad: float,
    site_lon_rad: float,
    lat_rad: ArrayLike,
    lon_rad: ArrayLike,
    alt_m: ArrayLike,
    vel_m_per_s: ArrayLike,
) -> Array:
    """Rate of change of the ground range [m/s] of targets at geodetic (lat, lon, h) moving at ECEF ``vel``.

    Chain rule along the target's geodetic track: φ̇ = v_N / (M + h), λ̇ = v_E / ((N + h) cos φ)
    (v_E, v_N the local east and north velocity; M, N the meridian and prime-vertical radii), then the
    central difference (s(φ + φ̇δt, λ + λ̇δt) − s(φ − φ̇δt, λ − λ̇δt)) / 2δt, δt = `RANGE_RATE_STEP_S`.
    """
    lat, lon = np.asarray(lat_rad, dtype=np.float64), np.asarray(lon_rad, dtype=np.float64)
    alt = np.asarray(alt_m, dtype=np.float64)
    vel_enu = ecef_vector_to_enu(vel_m_per_s, lat, lon)
    w2 = 1.0 - WGS84_E2 * np.sin(lat) ** 2
    n_radius = WGS84_A_M / np.sqrt(w2)
    m_radius = n_radius * (1.0 - WGS84_E2) / w2
    lat_rate = vel_enu[..., 1] / (m_radius + alt)
    parallel_m = (n_radius + alt) * np.cos(lat)
    lon_rate = np.divide(vel_enu[..., 0], parallel_m, out=np.zeros(parallel_m.shape), where=parallel_m > 1e-3)
    step = RANGE_RATE_STEP_S
    ahead = ground_range_m(site_lat_rad, site_lon_rad, lat + step * lat_rate, lon + step * lon_rate)
    behind = ground_range_m(site_lat_rad, site_lon_rad, lat - step * lat_rate, lon - step * lon_rate)
    return (ahead - behind) / (2.0 * step)


def sub_point_azimuth_rad(
    site_lat_rad: float, site_lon_rad: float, lat_rad: ArrayLike, lon_rad: ArrayLike
) -> Array:
    """Azimuth [rad, 0..2π) of ground points (lat, lon) in the site's local ENU frame (normal section)."""
    sub_point = geodetic_to_ecef(lat_rad, lon_rad, 0.0)
    az, _, _ = enu_to_aer(ecef_to_enu(sub_point, site_lat_rad, site_lon_rad, 0.0))
    return az


def oth_measurement(
    site_lat_rad: float, site_lon_rad: float, pos_m: ArrayLike, vel_m_per_s: ArrayLike
) -> tuple[Array, Array, Array]:
    """Noise-free (ground range [m], azimuth [rad], ground range-rate [m/s]) of targets ``(M, 3)`` ECEF.

    The definitions are in the module docstring; a tracker can use this as its measurement function.
    """
    pos = np.asarray(pos_m, dtype=np.float64).reshape(-1, 3)
    vel = np.asarray(vel_m_per_s, dtype=np.float64).reshape(-1, 3)
    lat, lon, alt = ecef_to_geodetic(pos)
    return (
        ground_range_m(site_lat_rad, site_lon_rad, lat, lon),
        sub_point_azimuth_rad(site_lat_rad, site_lon_rad, lat, lon),
        ground_range_rate_m_per_s(site_lat_rad, site_lon_rad, lat, lon, alt, vel),
    )


@dataclass(frozen=True, eq=False)
class OthRadar:
    """A skywave OTH radar that implements the `kizuna.sensors.base.Sensor` protocol (module docstring).

    Angles are radians, ranges metres, times seconds. Build one from a scenario with `from_scenario`.
    """

    sensor_id: str
    nation: str
    site_lat_rad: float
    site_lon_rad: float
    site_alt_m: float
    boresight_az_rad: float
    sector_width_rad: float
    min_ground_range_m: float
    max_ground_range_m: float
    revisit_s: float
    sigma_ground_range_m: float
    sigma_azimuth_rad: float
    sigma_range_rate_m_per_s: float
    detection: DetectionModel
    max_altitude_m: float = OTH_MAX_ALTITUDE_M

    def __post_init__(self) -> None:
        who = f"OTH radar {self.sensor_id!r}"
        if not (self.revisit_s > 0.0 and math.isfinite(self.revisit_s)):
            raise ValueError(f"{who}: revisit_s must be a positive number of seconds; got {self.revisit_s!r}")
        if not 0.0 <= self.min_ground_range_m < self.max_ground_range_m:
            raise ValueError(
                f"{who}: the skywave window is empty: min_ground_range_m = {self.min_ground_range_m!r} "
                f"must be below max_ground_range_m = {self.max_ground_range_m!r} "
                "(e.g. 1_000_000.0 and 3_000_000.0)"
            )
        if self.max_ground_range_m > MAX_GROUND_RANGE_M:
            raise ValueError(
                f"{who}: max_ground_range_m = {self.max_ground_range_m!r} is beyond "
                f"{MAX_GROUND_RANGE_M:.0f} m; skywave radars reach a few thousand km (one or two hops) and "
                "the ground-range formula is validated only that far: lower it."
            )
        if not 0.0 < self.sector_width_rad <= 2.0 * math.pi:
            raise ValueError(
                f"{who}: sector width must be in (0°, 360°]; got {math.degrees(self.sector_width_rad):.6g}°"
            )
        if not all(s >= 0.0 and math.isfinite(s) for s in self.sigmas):
            raise ValueError(f"{who}: measurement sigmas must be finite and ≥ 0; got {self.sigmas}")

    @classmethod
    def from_scenario(cls, oth: schema.OthRadar) -> OthRadar:
        return cls(
            sensor_id=oth.id,
            nation=oth.nation,
            site_lat_rad=oth.site.lat_deg * DEG,
            site_lon_rad=oth.site.lon_deg * DEG,
            site_alt_m=oth.site.alt_m,
            boresight_az_rad=oth.boresight_az_deg * DEG,
            sector_width_rad=oth.sector_width_deg * DEG,
            min_ground_range_m=oth.min_ground_range_m,
            max_ground_range_m=oth.max_ground_range_m,
            revisit_s=oth.revisit_s,
            sigma_ground_range_m=oth.sigma_ground_range_m,
            sigma_azimuth_rad=oth.sigma_azimuth_deg * DEG,
            sigma_range_rate_m_per_s=oth.sigma_range_rate_m_per_s,
            detection=DetectionModel.from_scenario(oth.detection),
        )

    @property
    def sigmas(self) -> tuple[float, float, float]:
        """1σ noise of (ground_range_m, azimuth_rad, range_rate_m_per_s)."""
        return (self.sigma_ground_range_m, self.sigma_azimuth_rad, self.sigma_range_rate_m_per_s)

    @property
    def site_pos_m(self) -> Array:
        """ECEF position of the receiver site [m]."""
        return geodetic_to_ecef(self.site_lat_rad, self.site_lon_rad, self.site_alt_m)

    def look_times(self, t0_s: float, t1_s: float) -> NDArray[np.float64]:
        """Look times k·revisit_s (k = 0, 1, ...) in ``[t0_s, t1_s)``."""
        return look_times_every(self.revisit_s, t0_s, t1_s)

    def visible(self, pos_m: ArrayLike) -> NDArray[np.bool_]:
        """Whether targets at ECEF positions ``(..., 3)`` are in the skywave window (module docstring)."""
        pos = np.asarray(pos_m, dtype=np.float64)
        flat = pos.reshape(-1, 3)
        ground, az, alt, _, _ = self._ground_geometry(flat)
        return self._in_window(ground, az, alt).reshape(pos.shape[:-1])

    def _ground_geometry(self, pos_m: Array) -> tuple[Array, Array, Array, Array, Array]:
        """Ground range, sub-point azimuth, height, latitude, longitude of targets ``(M, 3)``."""
        lat, lon, alt = ecef_to_geodetic(pos_m)
        ground = ground_range_m(self.site_lat_rad, self.site_lon_rad, lat, lon)
        az = sub_point_azimuth_rad(self.site_lat_rad, self.site_lon_rad, lat, lon)
        return ground, az, alt, lat, lon

    def _in_window(self, ground: Array, az: Array, alt: Array) -> NDArray[np.bool_]:
        return (
            (ground >= self.min_ground_range_m)
            & (ground <= self.max_ground_range_m)
            & (alt <= self.max_altitude_m)
            & in_sector(az, self.boresight_az_rad, self.sector_width_rad)
        )

    def observe(
        self, truth: TruthSamples, first_id: int, rng: np.random.Generator
    ) -> tuple[DetectionBatch, DetectionLabels]:
        """Detections at each of ``truth.t_s`` (look times), numbered from ``first_id`` (module docstring).

        Draws, in this order: one uniform per visible (target, look), three standard normals per
        detection, the Poisson false-alarm count of every look, three uniforms per false alarm.
        """
        t = np.asarray(truth.t_s, dtype=np.float64)
        ok = (
            truth.active
            & np.all(np.isfinite(truth.pos_m), axis=-1)
            & np.all(np.isfinite(truth.vel_m_per_s), axis=-1)
        )
        target, look = np.nonzero(ok)
        ground, az, alt, lat, lon = self._ground_geometry(truth.pos_m[target, look])
        vis = self._in_window(ground, az, alt)
        target, look, ground, az, alt, lat, lon = (a[vis] for a in (target, look, ground, az, alt, lat, lon))
        vel = truth.vel_m_per_s[target, look]
        # Aspect: velocity against the horizontal direction from the target towards the site.
        up_target = unit_vector(lat, lon)
        up_site = unit_vector(np.array(self.site_lat_rad), np.array(self.site_lon_rad))
        toward = up_site - np.einsum("ij,j->i", up_target, up_site)[:, None] * up_target
        norm = np.linalg.norm(toward, axis=-1, keepdims=True)
        toward = np.divide(toward, norm, out=np.zeros_like(toward), where=norm > 0.0)  # 0: at the site
        speed = np.linalg.norm(vel, axis=-1)
        cos_aspect = np.einsum("ij,ij->i", vel, toward) / np.where(speed > 0.0, speed, 1.0)
        aspect = np.where(speed > 0.0, np.arccos(np.clip(cos_aspect, -1.0, 1.0)), 0.5 * np.pi)
        rcs = aspect_rcs_m2(truth, target, look, aspect)
        hit = rng.random(len(target)) < self.detection.pd(ground, rcs)
        target, look = target[hit], look[hit]
        rate = ground_range_rate_m_per_s(
            self.site_lat_rad, self.site_lon_rad, lat[hit], lon[hit], alt[hit], vel[hit]
        )
        z_true = np.stack([ground[hit], az[hit], rate], axis=-1)
        z_det = z_true + rng.standard_normal(z_true.shape) * np.asarray(self.sigmas)
        z_det[:, 1] = wrap_2pi(z_det[:, 1])
        counts = rng.poisson(self.detection.false_alarms_per_scan, len(t))
        fa_look = np.repeat(np.arange(len(t)), counts)
        u = rng.random((len(fa_look), 3))
        span = min(self.sector_width_rad, 2.0 * math.pi)
        z_fa = np.stack(
            [
                self.min_ground_range_m + u[:, 0] * (self.max_ground_range_m - self.min_ground_range_m),
                wrap_2pi(self.boresight_az_rad - 0.5 * span + u[:, 1] * span),
                (2.0 * u[:, 2] - 1.0) * FALSE_ALARM_RANGE_RATE_MAX_M_PER_S,
            ],
            axis=-1,
        )
        all_look = np.concatenate([look, fa_look])
        m = len(all_look)
        ids = np.asarray(truth.target_ids, dtype=object)
        return batch_from_rows(
            sensor_id=self.sensor_id,
            kind=_KIND_OTH,
            time_s=t[all_look],
            z=np.concatenate([z_det, z_fa]),
            sigmas=self.sigmas,
            sensor_pos_m=np.broadcast_to(self.site_pos_m, (m, 3)),
            sensor_vel_m_per_s=np.zeros((m, 3)),
            target_id=np.concatenate([ids[target], np.full(len(fa_look), "", dtype=object)]),
            first_id=first_id,
        )
