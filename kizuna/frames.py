"""Coordinate frames: WGS-84 geodetic, ECEF, local ENU, AER, and TEME (SGP4's output frame).

Owns every frame conversion in Kizuna; nothing else converts frames. Imports only
`kizuna.constants`.

Conventions (see docs/conventions.md):

* The default frame is ECEF (WGS-84, Earth-centred Earth-fixed); positions in metres, velocities
  in metres per second. A name says its frame when it is not ECEF: ``pos_enu_m``, ``r_teme_m``.
* Angles are radians inside. Latitude is geodetic, longitude east-positive, both radians;
  azimuth is clockwise from true north in ``[0, 2π)``, elevation from the local horizontal plane.
* Every function is vectorised: a batch of N vectors is an ``(N, 3)`` array (any leading shape
  ``(..., 3)`` works), and scalar site parameters broadcast against the batch.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kizuna.constants import (
    DAYS_PER_JULIAN_CENTURY,
    JD_J2000,
    MEAN_EARTH_RADIUS_M,
    SECONDS_PER_DAY,
    WGS84_A_M,
    WGS84_B_M,
    WGS84_E2,
    WGS84_EP2,
    WGS84_F,
    WGS84_OMEGA_RAD_PER_S,
)

__all__ = [
    "aer_to_ecef",
    "aer_to_enu",
    "ecef_to_aer",
    "ecef_to_enu",
    "ecef_to_geodetic",
    "ecef_vector_to_enu",
    "enu_rotation",
    "enu_to_aer",
    "enu_to_ecef",
    "enu_vector_to_ecef",
    "geodetic_to_ecef",
    "gmst82_rad",
    "great_circle_distance_m",
    "teme_to_ecef",
    "unit_vector",
]

Array = NDArray[np.float64]

_BOWRING_ITERATIONS = 4
"""Bowring's iteration converges cubically; from the reduced-latitude start, two iterations reach
1e-12 rad near the surface and four cover points out to geostationary distance (tested)."""


def _as_float(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def _stack_last(a: Array, b: Array, c: Array) -> Array:
    a, b, c = np.broadcast_arrays(a, b, c)
    return np.stack([a, b, c], axis=-1)


# --- Geodetic <-> ECEF -------------------------------------------------------------------------


def geodetic_to_ecef(lat_rad: ArrayLike, lon_rad: ArrayLike, alt_m: ArrayLike) -> Array:
    """WGS-84 geodetic latitude, longitude, ellipsoidal height -> ECEF position ``(..., 3)`` [m].

    Closed form (e.g. NIMA TR8350.2 eq. 4-14): with the prime-vertical radius
    N = a / sqrt(1 - e² sin²φ):  x = (N + h) cosφ cosλ,  y = (N + h) cosφ sinλ,
    z = (N(1 - e²) + h) sinφ.
    """
    lat, lon, alt = _as_float(lat_rad), _as_float(lon_rad), _as_float(alt_m)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat**2)
    x = (n + alt) * cos_lat * np.cos(lon)
    y = (n + alt) * cos_lat * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + alt) * sin_lat
    return _stack_last(x, y, z)


def ecef_to_geodetic(pos_m: ArrayLike) -> tuple[Array, Array, Array]:
    """ECEF position ``(..., 3)`` [m] -> (geodetic latitude [rad], longitude [rad], height [m]).

    Bowring's iteration on the reduced latitude β (B. R. Bowring, "Transformation from spatial to
    geographical coordinates", Survey Review 23(181), 1976):
    tan φ = (z + e'² b sin³β) / (p - e² a cos³β),  tan β = (1 - f) tan φ,
    then the height in the form that stays exact at the poles and the equator:
    h = p cosφ + z sinφ - a sqrt(1 - e² sin²φ).
    Longitude is in (-π, π]. The centre of the Earth maps to latitude 0, height -a.
    """
    pos = _as_float(pos_m)
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    p = np.hypot(x, y)
    lon = np.arctan2(y, x)
    beta = np.arctan2(z, (1.0 - WGS84_F) * p)
    lat = beta
    for _ in range(_BOWRING_ITERATIONS):
        sin_b, cos_b = np.sin(beta), np.cos(beta)
        lat = np.arctan2(
            z + WGS84_EP2 * WGS84_B_M * sin_b**3,
            p - WGS84_E2 * WGS84_A_M * cos_b**3,
        )
        beta = np.arctan2((1.0 - WGS84_F) * np.sin(lat), np.cos(lat))
    sin_lat = np.sin(lat)
    alt = p * np.cos(lat) + z * sin_lat - WGS84_A_M * np.sqrt(1.0 - WGS84_E2 * sin_lat**2)
    return lat, lon, alt


def unit_vector(lat_rad: ArrayLike, lon_rad: ArrayLike) -> Array:
    """Unit vectors ``(..., 3)`` (cos φ cos λ, cos φ sin λ, sin φ): the ellipsoid normal ("up") when φ is
    geodetic, the point on the unit sphere when φ is spherical."""
    lat, lon = _as_float(lat_rad), _as_float(lon_rad)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def great_circle_distance_m(
    lat1_rad: ArrayLike,
    lon1_rad: ArrayLike,
    lat2_rad: ArrayLike,
    lon2_rad: ArrayLike,
    radius_m: float = MEAN_EARTH_RADIUS_M,
) -> Array:
    """Great-circle distance on a sphere by the haversine formula (Sinnott 1984), latitudes taken as
    spherical: within 0.5 % of the WGS-84 geodesic, for ranges quoted to a few hundred metres."""
    lat1, lon1, lat2, lon2 = (_as_float(a) for a in (lat1_rad, lon1_rad, lat2_rad, lon2_rad))
    h = np.sin((lat2 - lat1) / 2.0) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2.0) ** 2
    return 2.0 * radius_m * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


# --- ECEF <-> local ENU ------------------------------------------------------------------------


def enu_rotation(lat_rad: ArrayLike, lon_rad: ArrayLike) -> Array:
    """Rotation matrices ``(..., 3, 3)`` whose rows are the east, north, up unit vectors in ECEF.

    ``v_enu = R @ v_ecef`` and ``v_ecef = R.T @ v_enu`` (Bowring/Torge, local level frame).
    """
    lat, lon = np.broadcast_arrays(_as_float(lat_rad), _as_float(lon_rad))
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(lat)
    east = np.stack([-so, co, zero], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return np.stack([east, north, up], axis=-2)


def ecef_vector_to_enu(vec_m: ArrayLike, lat_rad: ArrayLike, lon_rad: ArrayLike) -> Array:
    """Rotate ECEF vectors (velocities, differences) ``(..., 3)`` into the ENU frame at (lat, lon)."""
    rot = enu_rotation(lat_rad, lon_rad)
    return np.einsum("...ij,...j->...i", rot, _as_float(vec_m))


def enu_vector_to_ecef(vec_enu: ArrayLike, lat_rad: ArrayLike, lon_rad: ArrayLike) -> Array:
    """Rotate ENU vectors ``(..., 3)`` at (lat, lon) into ECEF."""
    rot = enu_rotation(lat_rad, lon_rad)
    return np.einsum("...ji,...j->...i", rot, _as_float(vec_enu))


def ecef_to_enu(
    pos_m: ArrayLike, site_lat_rad: ArrayLike, site_lon_rad: ArrayLike, site_alt_m: ArrayLike
) -> Array:
    """ECEF positions ``(..., 3)`` -> ENU positions relative to a geodetic site [m]."""
    site = geodetic_to_ecef(site_lat_rad, site_lon_rad, site_alt_m)
    return ecef_vector_to_enu(_as_float(pos_m) - site, site_lat_rad, site_lon_rad)


def enu_to_ecef(
    pos_enu_m: ArrayLike, site_lat_rad: ArrayLike, site_lon_rad: ArrayLike, site_alt_m: ArrayLike
) -> Array:
    """ENU positions relative to a geodetic site ``(..., 3)`` -> ECEF positions [m]."""
    site = geodetic_to_ecef(site_lat_rad, site_lon_rad, site_alt_m)
    return enu_vector_to_ecef(pos_enu_m, site_lat_rad, site_lon_rad) + site


# --- ENU <-> AER -------------------------------------------------------------------------------


def enu_to_aer(pos_enu_m: ArrayLike) -> tuple[Array, Array, Array]:
    """ENU ``(..., 3)`` -> (azimuth [rad, 0..2π, clockwise from north], elevation [rad], slant range [m])."""
    enu = _as_float(pos_enu_m)
    e, n, u = enu[..., 0], enu[..., 1], enu[..., 2]
    horizontal = np.hypot(e, n)
    az = np.mod(np.arctan2(e, n), 2.0 * np.pi)
    az = np.where(az >= 2.0 * np.pi, 0.0, az)  # mod rounds -1e-17 up to exactly 2π: keep [0, 2π)
    el = np.arctan2(u, horizontal)
    return az, el, np.hypot(horizontal, u)


def aer_to_enu(az_rad: ArrayLike, el_rad: ArrayLike, range_m: ArrayLike) -> Array:
    """(azimuth, elevation, slant range) -> ENU ``(..., 3)`` [m]."""
    az, el, rng = _as_float(az_rad), _as_float(el_rad), _as_float(range_m)
    horizontal = rng * np.cos(el)
    return _stack_last(horizontal * np.sin(az), horizontal * np.cos(az), rng * np.sin(el))


def ecef_to_aer(
    pos_m: ArrayLike, site_lat_rad: ArrayLike, site_lon_rad: ArrayLike, site_alt_m: ArrayLike
) -> tuple[Array, Array, Array]:
    """ECEF positions ``(..., 3)`` -> (azimuth, elevation, slant range) seen from a geodetic site."""
    return enu_to_aer(ecef_to_enu(pos_m, site_lat_rad, site_lon_rad, site_alt_m))


def aer_to_ecef(
    az_rad: ArrayLike,
    el_rad: ArrayLike,
    range_m: ArrayLike,
    site_lat_rad: ArrayLike,
    site_lon_rad: ArrayLike,
    site_alt_m: ArrayLike,
) -> Array:
    """(azimuth, elevation, slant range) from a geodetic site -> ECEF positions ``(..., 3)`` [m]."""
    return enu_to_ecef(aer_to_enu(az_rad, el_rad, range_m), site_lat_rad, site_lon_rad, site_alt_m)


# --- TEME -> ECEF ------------------------------------------------------------------------------


def gmst82_rad(jd_ut1: ArrayLike, fr_ut1: ArrayLike = 0.0) -> Array:
    """Greenwich mean sidereal time, IAU-1982 model [rad, 0..2π], at Julian date UT1 = jd + fr.

    Vallado, *Fundamentals of Astrodynamics and Applications*, 4th ed., eq. 3-47:
    θ = 67310.54841 s + (876600 h + 8640184.812866 s) T + 0.093104 s T² - 6.2e-6 s T³,
    T = (JD_UT1 - 2451545.0) / 36525. This is the sidereal time SGP4's TEME frame is defined by.
    Pass the date split in two (as ``sgp4.api.jday`` returns it) to keep microsecond precision.
    """
    days = _as_float(jd_ut1) - JD_J2000
    fr = _as_float(fr_ut1)
    t = (days + fr) / DAYS_PER_JULIAN_CENTURY
    # The 876600 h·T term is a whole number of days plus the UT1 day fraction: add only the fraction
    # (as Skyfield does), so no 1e9-second intermediate costs precision decades from J2000.
    day_fraction = np.mod(days, 1.0) + np.mod(fr, 1.0)
    seconds = 67310.54841 + (8640184.812866 + (0.093104 - 6.2e-6 * t) * t) * t
    return np.mod(seconds + day_fraction * SECONDS_PER_DAY, SECONDS_PER_DAY) * (2.0 * np.pi / SECONDS_PER_DAY)


def teme_to_ecef(
    r_teme_m: ArrayLike,
    v_teme_m_per_s: ArrayLike,
    jd_ut1: ArrayLike,
    fr_ut1: ArrayLike = 0.0,
    xp_rad: float = 0.0,
    yp_rad: float = 0.0,
) -> tuple[Array, Array]:
    """SGP4's TEME position/velocity ``(..., 3)`` -> ECEF (ITRF) position [m] and velocity [m/s].

    Vallado, Crawford, Hujsak & Kelso, "Revisiting Spacetrack Report #3", AIAA 2006-6753, §C and
    Vallado (2013) §3.7: TEME -> PEF is a rotation about z by GMST-82,
    r_pef = R3(θ) r_teme,  v_pef = R3(θ) v_teme - ω⊕ × r_pef;
    PEF -> ITRF applies polar motion (xp, yp) as in Vallado's ``polarm`` (IAU-76/FK5):
    r_itrf = W r_pef with W = R2(-xp) R1(-yp) for small angles. Polar motion is below 0.6" (< 20 m
    at LEO radius); leave ``xp_rad = yp_rad = 0`` when no Earth-orientation data is at hand.

    ``jd_ut1 + fr_ut1`` may be a scalar or have the batch's leading shape.
    """
    r = _as_float(r_teme_m)
    v = _as_float(v_teme_m_per_s)
    theta = gmst82_rad(jd_ut1, fr_ut1)
    c, s = np.cos(theta), np.sin(theta)
    # R3(θ) applied to a vector: x' = c x + s y, y' = -s x + c y, z' = z.
    r_pef = _stack_last(c * r[..., 0] + s * r[..., 1], -s * r[..., 0] + c * r[..., 1], r[..., 2])
    v_rot = _stack_last(c * v[..., 0] + s * v[..., 1], -s * v[..., 0] + c * v[..., 1], v[..., 2])
    # ω × r with ω = (0, 0, ω⊕): (-ω y, ω x, 0)
    w = WGS84_OMEGA_RAD_PER_S
    v_pef = v_rot - _stack_last(-w * r_pef[..., 1], w * r_pef[..., 0], np.zeros_like(r_pef[..., 0]))
    if xp_rad == 0.0 and yp_rad == 0.0:
        return r_pef, v_pef
    pm_t = _polar_motion_transpose(xp_rad, yp_rad)
    return r_pef @ pm_t.T, v_pef @ pm_t.T


def _polar_motion_transpose(xp_rad: float, yp_rad: float) -> Array:
    """The PEF -> ITRF matrix, the transpose of Vallado's ``polarm`` (IAU-76/FK5 form)."""
    cx, sx = np.cos(xp_rad), np.sin(xp_rad)
    cy, sy = np.cos(yp_rad), np.sin(yp_rad)
    pm = np.array(
        [
            [cx, 0.0, -sx],
            [sx * sy, cy, cx * sy],
            [sx * cy, -sy, cx * cy],
        ]
    )
    return pm.T
