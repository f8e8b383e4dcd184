"""Tests for `kizuna.frames`: WGS-84 geodetic, ECEF, ENU, AER and TEME conversions.

Every expected value comes from somewhere other than Kizuna:

* pymap3d 3.2 (an independent implementation of the same WGS-84 conversions), on ~10,000 seeded
  random points per conversion;
* IOGP/EPSG Guidance Note 7-2 worked examples (EPSG methods 9602 and 9836);
* closed-form points of the ellipsoid (a, 0, 0), (0, a, 0), (0, 0, ±b);
* Vallado, Crawford, Hujsak & Kelso, "Revisiting Spacetrack Report #3", AIAA 2006-6753 (Rev 2),
  Appendix C, which is also Vallado (2013) Example 3-15 — the TEME -> ITRF worked example;
* Vallado (2013) Example 3-5 for GMST-82;
* Skyfield 1.55 (`skyfield.sgp4lib.TEME_to_ITRF` and `theta_GMST1982`), an independent
  implementation of the same TEME -> PEF -> ITRF reduction.

Round trips (Hypothesis) cover what no reference covers: altitudes out to 40,000 km, the poles,
the antimeridian.

Tolerances are in physical units. For scale: 1 mm is far below any sensor's resolution in this
system; 1e-9 rad is 6.4 mm on the Earth's surface and 4.2 cm at geostationary radius.
"""

from __future__ import annotations

import numpy as np
import pymap3d
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sgp4.api import jday
from skyfield.sgp4lib import TEME_to_ITRF, theta_GMST1982

from kizuna import frames
from kizuna.constants import ARCSEC, DEG, SECONDS_PER_DAY, WGS84_A_M, WGS84_B_M

ONE_MM = 1e-3
"""[m] Far below any sensor's resolution; a wrong ellipsoid constant or sign shows as metres."""
ONE_NANORADIAN = 1e-9
"""[rad] 6.4 mm along the ground at the Earth's radius; 4.2 cm at geostationary radius."""
ONE_MICROMETRE = 1e-6
"""[m] For round trips, which must come back to float64 rounding (ECEF values to 5e7 m carry
~1e-8 m of rounding); a micrometre miss would mean the two directions disagree, not rounding."""

# pymap3d's own ecef2geodetic (You 2000, non-iterative) loses accuracy far from the Earth: about
# 1e-9 rad of latitude at 1,000 km altitude and 2e-6 rad at 40,000 km (measured by the lead and
# re-measured here). So the comparisons with pymap3d that go through its ecef2geodetic use
# altitudes from -10 km to 500 km only, where it is good to ~1e-10 rad. Higher altitudes (to
# 40,000 km) are covered by the round-trip and closed-form tests below, which do not rely on it.
PYMAP3D_ALT_MIN_M = -10e3
PYMAP3D_ALT_MAX_M = 500e3
ALT_MIN_M = -10e3
"""Below the deepest ocean trench; a sensor or target is never lower."""
ALT_MAX_M = 40_000e3
"""Slightly above geostationary altitude (35,786 km): the farthest object Kizuna tracks."""

N_RANDOM = 10_000


def _wrap_pi(angle_rad: np.ndarray | float) -> np.ndarray:
    """Angle difference wrapped into [-π, π), so 2π - ε and 0 compare as ε apart."""
    return np.mod(np.asarray(angle_rad) + np.pi, 2.0 * np.pi) - np.pi


def _random_geodetic(
    rng: np.random.Generator, shape: int | tuple[int, ...], alt_min_m: float, alt_max_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lat_rad = rng.uniform(-np.pi / 2, np.pi / 2, shape)
    lon_rad = rng.uniform(-np.pi, np.pi, shape)
    alt_m = rng.uniform(alt_min_m, alt_max_m, shape)
    return lat_rad, lon_rad, alt_m


def _pymap3d_stack(xyz: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    return np.stack([np.asarray(c) for c in xyz], axis=-1)


# --- Against pymap3d (independent implementation) ---------------------------------------------


def test_geodetic_to_ecef_matches_pymap3d():
    # pymap3d's geodetic2ecef is closed form and exact at any altitude, so the full range is used.
    rng = np.random.default_rng(20260601)
    lat, lon, alt = _random_geodetic(rng, N_RANDOM, ALT_MIN_M, ALT_MAX_M)
    ours = frames.geodetic_to_ecef(lat, lon, alt)
    theirs = _pymap3d_stack(pymap3d.geodetic2ecef(lat, lon, alt, deg=False))
    assert np.abs(ours - theirs).max() <= ONE_MM


def test_ecef_to_geodetic_matches_pymap3d():
    rng = np.random.default_rng(20260602)
    lat, lon, alt = _random_geodetic(rng, N_RANDOM, PYMAP3D_ALT_MIN_M, PYMAP3D_ALT_MAX_M)
    pos = frames.geodetic_to_ecef(lat, lon, alt)
    lat_k, lon_k, alt_k = frames.ecef_to_geodetic(pos)
    lat_p, lon_p, alt_p = pymap3d.ecef2geodetic(pos[:, 0], pos[:, 1], pos[:, 2], deg=False)
    assert np.abs(lat_k - lat_p).max() <= ONE_NANORADIAN
    assert np.abs(_wrap_pi(lon_k - lon_p)).max() <= ONE_NANORADIAN
    assert np.abs(alt_k - alt_p).max() <= ONE_MM


def test_ecef_to_enu_matches_pymap3d():
    # Sites anywhere from -10 km to 40,000 km (ground radars, aircraft, satellites); pymap3d's
    # ecef2enu builds the site with its closed-form geodetic2ecef, so no altitude limit applies.
    rng = np.random.default_rng(20260603)
    pos = frames.geodetic_to_ecef(*_random_geodetic(rng, N_RANDOM, ALT_MIN_M, ALT_MAX_M))
    site_lat, site_lon, site_alt = _random_geodetic(rng, N_RANDOM, ALT_MIN_M, ALT_MAX_M)
    ours = frames.ecef_to_enu(pos, site_lat, site_lon, site_alt)
    theirs = _pymap3d_stack(
        pymap3d.ecef2enu(pos[:, 0], pos[:, 1], pos[:, 2], site_lat, site_lon, site_alt, deg=False)
    )
    assert np.abs(ours - theirs).max() <= ONE_MM


def test_enu_to_ecef_matches_pymap3d():
    rng = np.random.default_rng(20260604)
    site_lat, site_lon, site_alt = _random_geodetic(rng, N_RANDOM, ALT_MIN_M, ALT_MAX_M)
    enu_m = rng.uniform(-5e7, 5e7, (N_RANDOM, 3))
    ours = frames.enu_to_ecef(enu_m, site_lat, site_lon, site_alt)
    theirs = _pymap3d_stack(
        pymap3d.enu2ecef(enu_m[:, 0], enu_m[:, 1], enu_m[:, 2], site_lat, site_lon, site_alt, deg=False)
    )
    assert np.abs(ours - theirs).max() <= ONE_MM


def test_ecef_to_aer_matches_pymap3d():
    # pymap3d zeroes ENU components under 1 mm before taking angles; with random points spread
    # over thousands of km no component comes that close to zero, so that rounding never bites.
    rng = np.random.default_rng(20260605)
    pos = frames.geodetic_to_ecef(*_random_geodetic(rng, N_RANDOM, ALT_MIN_M, ALT_MAX_M))
    site_lat, site_lon, site_alt = _random_geodetic(rng, N_RANDOM, ALT_MIN_M, 20e3)
    az, el, rng_m = frames.ecef_to_aer(pos, site_lat, site_lon, site_alt)
    az_p, el_p, rng_p = pymap3d.ecef2aer(
        pos[:, 0], pos[:, 1], pos[:, 2], site_lat, site_lon, site_alt, deg=False
    )
    assert np.abs(_wrap_pi(az - az_p)).max() <= ONE_NANORADIAN
    assert np.abs(el - el_p).max() <= ONE_NANORADIAN
    assert np.abs(rng_m - rng_p).max() <= ONE_MM


def test_aer_to_ecef_matches_pymap3d():
    rng = np.random.default_rng(20260606)
    site_lat, site_lon, site_alt = _random_geodetic(rng, N_RANDOM, ALT_MIN_M, 20e3)
    az = rng.uniform(0.0, 2.0 * np.pi, N_RANDOM)
    el = rng.uniform(-np.pi / 2, np.pi / 2, N_RANDOM)
    range_m = rng.uniform(0.0, 5e7, N_RANDOM)
    ours = frames.aer_to_ecef(az, el, range_m, site_lat, site_lon, site_alt)
    theirs = _pymap3d_stack(pymap3d.aer2ecef(az, el, range_m, site_lat, site_lon, site_alt, deg=False))
    assert np.abs(ours - theirs).max() <= ONE_MM


# --- Round trips (Hypothesis), -10 km to 40,000 km ---------------------------------------------

LAT = st.floats(min_value=-np.pi / 2, max_value=np.pi / 2)
LON = st.floats(min_value=-np.pi, max_value=np.pi)
ALT = st.floats(min_value=ALT_MIN_M, max_value=ALT_MAX_M)
NEAR_POLE_RAD = np.pi / 2 - 1e-4 * DEG
"""Beyond this |latitude| (within 0.0001°, 11 m of the pole) longitude is ill-defined."""
EL_MAX_RAD = 89.9 * DEG
"""Away from the zenith/nadir, where azimuth is ill-defined."""


@settings(max_examples=300, deadline=None)
@given(lat=LAT, lon=LON, alt=ALT)
def test_geodetic_ecef_geodetic_round_trip(lat, lon, alt):
    pos = frames.geodetic_to_ecef(lat, lon, alt)
    lat2, lon2, alt2 = frames.ecef_to_geodetic(pos)
    # 1 µm of height; 1e-12 rad of latitude is 6 µm on the ground, 46 µm at 40,000 km.
    assert abs(alt2 - alt) <= ONE_MICROMETRE
    if abs(lat) < NEAR_POLE_RAD:
        assert abs(lat2 - lat) <= 1e-12
        assert abs(_wrap_pi(lon2 - lon)) <= 1e-12
    # Valid at the poles too: the recovered coordinates name the same point within 1 µm.
    assert np.abs(frames.geodetic_to_ecef(lat2, lon2, alt2) - pos).max() <= ONE_MICROMETRE


@settings(max_examples=300, deadline=None)
@given(
    enu=arrays(np.float64, 3, elements=st.floats(min_value=-5e7, max_value=5e7)),
    lat=LAT,
    lon=LON,
    alt=ALT,
)
def test_enu_ecef_enu_round_trip(enu, lat, lon, alt):
    back = frames.ecef_to_enu(frames.enu_to_ecef(enu, lat, lon, alt), lat, lon, alt)
    assert np.abs(back - enu).max() <= ONE_MICROMETRE


@settings(max_examples=300, deadline=None)
@given(
    az=st.floats(min_value=0.0, max_value=2.0 * np.pi, exclude_max=True),
    el=st.floats(min_value=-EL_MAX_RAD, max_value=EL_MAX_RAD),
    range_m=st.floats(min_value=1.0, max_value=5e7),
)
def test_aer_enu_aer_round_trip(az, el, range_m):
    az2, el2, range2 = frames.enu_to_aer(frames.aer_to_enu(az, el, range_m))
    # 1e-12 rad: 50 µm of cross-range at 50,000 km. Azimuth compared modulo 2π.
    assert abs(_wrap_pi(az2 - az)) <= 1e-12
    assert abs(el2 - el) <= 1e-12
    assert abs(range2 - range_m) <= ONE_MICROMETRE


# --- Published reference values ---------------------------------------------------------------


def test_closed_form_points_of_the_ellipsoid():
    # Definition of WGS-84 (NIMA TR8350.2 table 3.1): a on the equator, b = a(1 - f) at the poles.
    # These are exact up to float64 rounding of sin/cos: a nanometre.
    tol_m = 1e-9
    h_m = 1234.5
    cases = [
        ((0.0, 0.0, 0.0), (WGS84_A_M, 0.0, 0.0)),
        ((0.0, 90 * DEG, 0.0), (0.0, WGS84_A_M, 0.0)),
        ((0.0, 180 * DEG, h_m), (-(WGS84_A_M + h_m), 0.0, 0.0)),
        ((90 * DEG, 0.0, 0.0), (0.0, 0.0, WGS84_B_M)),
        ((-90 * DEG, 0.0, h_m), (0.0, 0.0, -(WGS84_B_M + h_m))),
    ]
    for (lat, lon, alt), expected in cases:
        np.testing.assert_allclose(frames.geodetic_to_ecef(lat, lon, alt), expected, rtol=0, atol=tol_m)

    lat, lon, alt = frames.ecef_to_geodetic([WGS84_A_M + h_m, 0.0, 0.0])
    assert (lat, lon) == (0.0, 0.0)
    assert alt == pytest.approx(h_m, abs=tol_m)
    lat, _, alt = frames.ecef_to_geodetic([0.0, 0.0, WGS84_B_M])
    assert lat == pytest.approx(np.pi / 2, abs=1e-15)
    assert alt == pytest.approx(0.0, abs=tol_m)
    lat, _, alt = frames.ecef_to_geodetic([0.0, 0.0, -(WGS84_B_M + h_m)])
    assert lat == pytest.approx(-np.pi / 2, abs=1e-15)
    assert alt == pytest.approx(h_m, abs=tol_m)


# IOGP Publication 373-7-2, Geomatics Guidance Note 7-2, EPSG method 9602 (geographic/geocentric
# conversions) worked example on WGS 84, quoted to the cm at https://epsg.io/9603-method and to
# the mm in Apache SIS's GeocentricTranslationTest: 53°48'33.820"N, 2°07'46.380"E, h = 73.000 m
# <-> X = 3771793.968 m, Y = 140253.342 m, Z = 5124304.349 m.
EPSG_LAT_RAD = (53 + 48 / 60 + 33.820 / 3600) * DEG
EPSG_LON_RAD = (2 + 7 / 60 + 46.380 / 3600) * DEG
EPSG_ALT_M = 73.0
EPSG_XYZ_M = np.array([3771793.968, 140253.342, 5124304.349])


def test_epsg_9602_geographic_to_geocentric_example():
    # Published to the millimetre, so a correct result is within 0.5 mm per coordinate.
    ours = frames.geodetic_to_ecef(EPSG_LAT_RAD, EPSG_LON_RAD, EPSG_ALT_M)
    assert np.abs(ours - EPSG_XYZ_M).max() <= 0.5 * ONE_MM


def test_epsg_9602_geocentric_to_geographic_example():
    # The published X, Y, Z carry up to 0.5 mm of rounding each, which moves the point by < 1 mm.
    lat, lon, alt = frames.ecef_to_geodetic(EPSG_XYZ_M)
    metres_per_rad = 6.4e6  # radius of curvature, generously; turns an angle miss into metres
    assert abs(lat - EPSG_LAT_RAD) * metres_per_rad <= ONE_MM
    assert abs(lon - EPSG_LON_RAD) * metres_per_rad <= ONE_MM
    assert abs(alt - EPSG_ALT_M) <= ONE_MM


def test_epsg_9836_geocentric_to_topocentric_example():
    # IOGP GN 7-2, EPSG method 9836 (geocentric/topocentric conversions) worked example on WGS 84,
    # transcribed at https://epsg.io/9836-method and in PROJ's +proj=topocentric documentation:
    # topocentric origin 55°N, 5°E, h0 = 200 m, i.e. X0 = 3652755.3058, Y0 = 319574.6799,
    # Z0 = 5201547.3536 m; the point above (X, Y, Z) has U (east) = -189013.869 m,
    # V (north) = -128642.040 m, W (up) = -4220.171 m.
    site = (55 * DEG, 5 * DEG, 200.0)
    origin_m = frames.geodetic_to_ecef(*site)
    # Origin published to 0.1 mm.
    assert np.abs(origin_m - [3652755.3058, 319574.6799, 5201547.3536]).max() <= 0.1 * ONE_MM
    # U, V, W published to the millimetre (and the input X, Y, Z too): within 0.5 mm each.
    enu_m = frames.ecef_to_enu(EPSG_XYZ_M, *site)
    expected_enu_m = np.array([-189013.869, -128642.040, -4220.171])
    assert np.abs(enu_m - expected_enu_m).max() <= 0.5 * ONE_MM
    assert np.abs(frames.enu_to_ecef(expected_enu_m, *site) - EPSG_XYZ_M).max() <= 0.5 * ONE_MM


# Vallado, Crawford, Hujsak & Kelso (2006), "Revisiting Spacetrack Report #3", AIAA 2006-6753
# Rev 2, Appendix C = Vallado (2013) Example 3-15. Confirmed against three transcriptions:
# Skyfield's own test suite (skyfield/tests/test_earth_satellites.py,
# test_appendix_c_conversion_from_TEME_to_ITRF), Vallado's companion code exsgp4_teme.m
# (same ITRF vector, epoch, ΔUT1, xp, yp), and SatelliteToolbox.jl's tests (same TEME vector).
VALLADO_R_TEME_M = np.array([5094.18016210, 6127.64465950, 6380.34453270]) * 1e3
VALLADO_V_TEME_M_PER_S = np.array([-4.746131487, 0.785818041, 5.531931288]) * 1e3
VALLADO_R_ITRF_M = np.array([-1033.4793830, 7901.2952754, 6380.3565958]) * 1e3
VALLADO_V_ITRF_M_PER_S = np.array([-3.225636520, -2.872451450, 5.531924446]) * 1e3
VALLADO_XP_RAD = -0.140682 * ARCSEC
VALLADO_YP_RAD = 0.333309 * ARCSEC
# 2004-04-06 07:51:28.386009 UTC with UT1 - UTC = -0.4399619 s.
VALLADO_JD_UT1, VALLADO_FR_UT1 = jday(2004, 4, 6, 7, 51, 28.386009 - 0.4399619)
VALLADO_JD_UT1_AS_EVALUATED = 2453101.827406783
"""Vallado's code (``teme2ecef(..., jdut1 + jdut1frac, ...)``) adds the date into one float64,
and the example quotes JD_UT1 = 2453101.827406783. That double is 14.69 µs later than the stated
instant (a float64 Julian date resolves only ~40 µs)."""


def test_vallado_teme_to_itrf_as_published():
    # Evaluated at the single-double Julian date Vallado's code used, we reproduce the published
    # ITRF vector to 0.07 mm and 1.4 µm/s; its printed digits are 0.1 mm and 1 µm/s. This pins
    # the GMST-82 rotation, the ω⊕ × r term and the polar-motion matrix (signs and order: polar
    # motion alone moves this point 16 m; the wrong sign misses by 33 m). 0.5 mm and 10 µm/s
    # leave room for the last printed digits.
    r_m, v_m_per_s = frames.teme_to_ecef(
        VALLADO_R_TEME_M,
        VALLADO_V_TEME_M_PER_S,
        VALLADO_JD_UT1_AS_EVALUATED,
        0.0,
        VALLADO_XP_RAD,
        VALLADO_YP_RAD,
    )
    assert np.linalg.norm(r_m - VALLADO_R_ITRF_M) <= 0.5 * ONE_MM
    assert np.linalg.norm(v_m_per_s - VALLADO_V_ITRF_M_PER_S) <= 1e-5


def test_vallado_teme_to_itrf_at_the_exact_instant():
    # How Kizuna passes dates: split in two (sgp4.api.jday, Epoch.jd), exact to well under a µs.
    # The published vector belongs to an instant 14.69 µs later (see VALLADO_JD_UT1_AS_EVALUATED);
    # in 14.69 µs the Earth turns this point (7,968 km from the axis, 581 m/s) by 8.5 mm, which
    # is the 8.6 mm we miss by. 2 cm covers that with margin and would still catch any real error
    # (a wrong sign of polar motion is 33 m; 1 ms of UT1 is 58 cm). Velocity: 0.1 mm/s.
    r_m, v_m_per_s = frames.teme_to_ecef(
        VALLADO_R_TEME_M,
        VALLADO_V_TEME_M_PER_S,
        VALLADO_JD_UT1,
        VALLADO_FR_UT1,
        VALLADO_XP_RAD,
        VALLADO_YP_RAD,
    )
    assert np.linalg.norm(r_m - VALLADO_R_ITRF_M) <= 20 * ONE_MM
    assert np.linalg.norm(v_m_per_s - VALLADO_V_ITRF_M_PER_S) <= 1e-4


def _skyfield_teme_to_itrf(r_m, v_m_per_s, jd, fr, xp_rad=0.0, yp_rad=0.0):
    """Skyfield's TEME_to_ITRF takes (3, N) km and km/DAY and returns the same; convert to SI."""
    r_km, v_km_per_day = TEME_to_ITRF(
        jd, r_m.T / 1e3, v_m_per_s.T / 1e3 * SECONDS_PER_DAY, xp_rad, yp_rad, fr
    )
    return r_km.T * 1e3, v_km_per_day.T * 1e3 / SECONDS_PER_DAY


@pytest.mark.parametrize("polar_motion", [False, True], ids=["no-polar-motion", "polar-motion"])
def test_teme_to_ecef_matches_skyfield(polar_motion):
    # Random TEME states from LEO to beyond GEO at random dates 2000-2040.
    rng = np.random.default_rng(20260607 + polar_motion)
    n = N_RANDOM
    jd0, _ = jday(2000, 1, 1, 0, 0, 0)
    jd1, _ = jday(2040, 1, 1, 0, 0, 0)
    jd = rng.integers(int(jd0), int(jd1), n) + 0.5
    fr = rng.uniform(0.0, 1.0, n)
    direction = rng.normal(size=(n, 3))
    r_m = direction / np.linalg.norm(direction, axis=1, keepdims=True)
    r_m *= rng.uniform(6.6e6, 4.5e7, (n, 1))
    v_m_per_s = rng.normal(size=(n, 3)) * 4e3
    # Polar motion stays below 0.6" (IERS); draw one pair per batch as the API takes scalars.
    xp, yp = (rng.uniform(-0.6, 0.6, 2) * ARCSEC) if polar_motion else (0.0, 0.0)

    r_k, v_k = frames.teme_to_ecef(r_m, v_m_per_s, jd, fr, xp, yp)
    r_s, v_s = _skyfield_teme_to_itrf(r_m, v_m_per_s, jd, fr, xp, yp)

    r_norm_m = np.linalg.norm(r_m, axis=1)
    v_norm_m_per_s = np.linalg.norm(v_m_per_s, axis=1)
    # Rotation angle: the two GMST-82 evaluations differ by up to 3.4e-11 rad over 2000-2040
    # (ours loses a few 1e-11 rad to float64 by evaluating the 876600 h·T term in seconds;
    # Skyfield reduces to the day fraction first). The two polar-motion matrices (Vallado's
    # IAU-76/FK5 `polarm` here, rot_x(yp)·rot_y(xp) in Skyfield) differ at second order, by a
    # rotation of xp·yp < 1e-11 rad. 5e-11 rad + |xp·yp| is 0.3 mm at LEO, 2.7 mm at 45,000 km.
    angle_rad = 5e-11 + abs(xp * yp)
    assert np.all(np.linalg.norm(r_k - r_s, axis=1) <= angle_rad * r_norm_m)
    # Velocity: ω⊕ × r uses the WGS-84 nominal ω = 7.292115e-5 rad/s here and the GMST-82 rate
    # 7.2921158553e-5 rad/s in Skyfield: 8.6e-12 rad/s apart, 0.06 mm/s at LEO and 0.4 mm/s at
    # 45,000 km; plus the rotation-angle difference above applied to v (under 1 µm/s).
    assert np.all(np.linalg.norm(v_k - v_s, axis=1) <= 1e-11 * r_norm_m + angle_rad * v_norm_m_per_s)


def test_gmst82_vallado_example_3_5():
    # Vallado (2013) Example 3-5: 1992 August 20, 12:14 UT1 (JD_UT1 = 2448855.009722,
    # T_UT1 = -0.073647919) -> GMST = 152.578787886°, LST = 48.578787886° at 104°W. The same
    # numbers appear in several independent public test suites (e.g. geospacepy's
    # test_gmst_matches_vallado, and Java and Julia ports of Vallado's routines).
    # Ours and Skyfield's theta_GMST1982, evaluated at the exact split date, agree with each other
    # to 1.3e-12 rad and both land 6.0e-10 rad (3.4e-8°, 8 µs of Earth rotation) below the printed
    # value, presumably rounding inside the example's own arithmetic (its 9 printed decimals
    # would resolve 2e-11 rad). 1e-9 rad = 6.4 mm at the equator; a formula error (a wrong
    # coefficient, epoch or unit) is orders of magnitude larger.
    jd, fr = jday(1992, 8, 20, 12, 14, 0)
    assert jd + fr == pytest.approx(2448855.009722, abs=1e-6)
    published_rad = 152.578787886 * DEG
    assert abs(_wrap_pi(frames.gmst82_rad(jd, fr) - published_rad)) <= ONE_NANORADIAN
    assert abs(_wrap_pi(frames.gmst82_rad(jd, fr) - theta_GMST1982(jd, fr)[0])) <= 1e-11


def test_gmst82_at_j2000_is_the_defining_constant():
    # IAU 1982 (Aoki et al. 1982; Vallado eq. 3-47): at JD_UT1 2451545.0 (T = 0),
    # GMST = 67310.54841 s = 18h 41m 50.54841s of sidereal time.
    assert frames.gmst82_rad(2451545.0) == pytest.approx(67310.54841 / 86400 * 2 * np.pi, abs=1e-15)


def test_gmst82_matches_skyfield_on_random_dates():
    # Skyfield's theta_GMST1982 (an independent implementation of the same IAU-82 formula).
    # Over 2000-2040 the two agree to 3.4e-11 rad (0.5 µs of Earth rotation; 1.4 mm at GEO).
    rng = np.random.default_rng(20260608)
    jd0, _ = jday(2000, 1, 1, 0, 0, 0)
    jd1, _ = jday(2040, 1, 1, 0, 0, 0)
    jd = rng.integers(int(jd0), int(jd1), N_RANDOM) + 0.5
    fr = rng.uniform(0.0, 1.0, N_RANDOM)
    ours = frames.gmst82_rad(jd, fr)
    assert np.all((ours >= 0.0) & (ours <= 2 * np.pi))
    assert np.abs(_wrap_pi(ours - theta_GMST1982(jd, fr)[0])).max() <= 5e-11


# --- Azimuth range ------------------------------------------------------------------------------


def test_azimuth_is_in_the_documented_half_open_range():
    # kizuna.frames documents azimuth in [0, 2π). A target due north of a site with a rounding-
    # sized negative east component (here -5.7e-14 m at 110 km) gives arctan2 ≈ -5e-19 rad, and
    # np.mod(-5e-19, 2π) rounds to exactly 2π. Sectors, bins and lookup tables indexed by
    # azimuth would then run one past their end. Site on the equator at 45°E, target 1° due north.
    site = (0.0, 45 * DEG, 0.0)
    target = frames.geodetic_to_ecef(1 * DEG, 45 * DEG, 0.0)
    az, _, _ = frames.ecef_to_aer(target, *site)
    assert 0.0 <= az < 2 * np.pi, f"azimuth {az!r} is outside [0, 2π)"
    az, _, _ = frames.enu_to_aer([-1e-14, 1000.0, 0.0])
    assert 0.0 <= az < 2 * np.pi, f"azimuth {az!r} is outside [0, 2π)"
    # A batch of targets due north of random sites: every azimuth in range.
    rng = np.random.default_rng(20260609)
    lat = rng.uniform(-1.2, 1.2, 1000)
    lon = rng.uniform(-np.pi, np.pi, 1000)
    az, _, _ = frames.ecef_to_aer(frames.geodetic_to_ecef(lat + 0.01, lon, 1e4), lat, lon, 0.0)
    assert np.all((az >= 0.0) & (az < 2 * np.pi)), f"{np.sum(az >= 2 * np.pi)} azimuths equal 2π"


# --- ENU rotation -------------------------------------------------------------------------------


def test_enu_rotation_is_orthonormal_and_right_handed():
    rng = np.random.default_rng(20260610)
    lat, lon, alt = _random_geodetic(rng, N_RANDOM, ALT_MIN_M, ALT_MAX_M)
    rot = frames.enu_rotation(lat, lon)
    identity = np.einsum("nij,nkj->nik", rot, rot)
    assert np.abs(identity - np.eye(3)).max() <= 1e-15 * 4
    assert np.abs(np.linalg.det(rot) - 1.0).max() <= 1e-14
    # "Up" is the ellipsoid normal: geodetic_to_ecef is linear in height, so moving 1 m up is
    # exactly the unit normal (to rounding of coordinates ~5e7 m: 3e-8 relative at worst).
    step = frames.geodetic_to_ecef(lat, lon, alt + 1.0) - frames.geodetic_to_ecef(lat, lon, alt)
    assert np.abs(rot[:, 2, :] - step).max() <= 3e-8
    # East is horizontal in the equatorial plane; north completes the right-handed triad.
    assert np.all(rot[:, 0, 2] == 0.0)
    assert np.abs(np.cross(rot[:, 2, :], rot[:, 0, :]) - rot[:, 1, :]).max() <= 1e-15 * 4


def test_vector_rotation_round_trip_is_identity():
    rng = np.random.default_rng(20260611)
    lat, lon, _ = _random_geodetic(rng, N_RANDOM, 0.0, 0.0)
    vel_m_per_s = rng.uniform(-1e4, 1e4, (N_RANDOM, 3))
    vel_enu = frames.ecef_vector_to_enu(vel_m_per_s, lat, lon)
    # A rotation keeps speed; and back to ECEF returns the vector to float64 rounding (1e-9 m/s
    # is 3 mm after an hour of dead reckoning).
    speed = np.linalg.norm(vel_m_per_s, axis=1)
    assert np.abs(np.linalg.norm(vel_enu, axis=1) - speed).max() <= 1e-9
    assert np.abs(frames.enu_vector_to_ecef(vel_enu, lat, lon) - vel_m_per_s).max() <= 1e-9


def test_vector_rotation_agrees_with_position_conversion():
    # The difference of two ENU positions is the ENU rotation of their ECEF difference.
    rng = np.random.default_rng(20260612)
    site = (0.6, -1.9, 250.0)
    p1 = frames.geodetic_to_ecef(*_random_geodetic(rng, 100, 0.0, 2e6))
    p2 = p1 + rng.uniform(-1e4, 1e4, (100, 3))
    diff_enu = frames.ecef_to_enu(p2, *site) - frames.ecef_to_enu(p1, *site)
    np.testing.assert_allclose(
        diff_enu, frames.ecef_vector_to_enu(p2 - p1, site[0], site[1]), rtol=0, atol=ONE_MICROMETRE
    )


# --- Shape convention: (3,), (N, 3), (T, N, 3); scalar sites broadcast --------------------------

T, N = 4, 7


def test_shapes_geodetic_ecef():
    rng = np.random.default_rng(1)
    lat, lon, alt = _random_geodetic(rng, (T, N), ALT_MIN_M, ALT_MAX_M)
    pos = frames.geodetic_to_ecef(lat, lon, alt)
    assert pos.shape == (T, N, 3)
    assert frames.geodetic_to_ecef(lat[0], lon[0], alt[0]).shape == (N, 3)
    assert frames.geodetic_to_ecef(lat[0, 0], lon[0, 0], alt[0, 0]).shape == (3,)
    assert frames.geodetic_to_ecef(lat[0], lon[0], 0.0).shape == (N, 3)  # scalar height broadcasts
    np.testing.assert_allclose(
        pos[2, 3], frames.geodetic_to_ecef(lat[2, 3], lon[2, 3], alt[2, 3]), rtol=0, atol=1e-9
    )
    for batch, shape in ((pos, (T, N)), (pos[0], (N,)), (pos[0, 0], ())):
        out = frames.ecef_to_geodetic(batch)
        assert [np.shape(x) for x in out] == [shape] * 3
    lat2, _, alt2 = frames.ecef_to_geodetic(pos)
    assert lat2[2, 3] == pytest.approx(frames.ecef_to_geodetic(pos[2, 3])[0], abs=1e-15)
    assert alt2[2, 3] == pytest.approx(frames.ecef_to_geodetic(pos[2, 3])[2], abs=1e-9)


def test_shapes_enu_rotation_and_vectors():
    rng = np.random.default_rng(2)
    lat, lon, _ = _random_geodetic(rng, (T, N), 0.0, 0.0)
    assert frames.enu_rotation(lat[0, 0], lon[0, 0]).shape == (3, 3)
    assert frames.enu_rotation(lat[0], lon[0]).shape == (N, 3, 3)
    assert frames.enu_rotation(lat, lon).shape == (T, N, 3, 3)
    assert frames.enu_rotation(0.3, lon[0]).shape == (N, 3, 3)  # scalar latitude broadcasts

    vec = rng.normal(size=(T, N, 3))
    for convert in (frames.ecef_vector_to_enu, frames.enu_vector_to_ecef):
        assert convert(vec[0, 0], 0.3, 0.4).shape == (3,)
        assert convert(vec[0], 0.3, 0.4).shape == (N, 3)  # one site, N vectors
        assert convert(vec, 0.3, 0.4).shape == (T, N, 3)  # one site, T×N vectors
        assert convert(vec[0], lat[0], lon[0]).shape == (N, 3)  # a site per vector
        assert convert(vec, lat[0], lon[0]).shape == (T, N, 3)  # N sites, T times each
        # Batched per-vector sites give the same answer as one call per vector.
        batched = convert(vec, lat[0], lon[0])
        np.testing.assert_allclose(batched[1, 5], convert(vec[1, 5], lat[0, 5], lon[0, 5]), atol=1e-15)


def test_shapes_ecef_enu_aer():
    rng = np.random.default_rng(3)
    pos = frames.geodetic_to_ecef(*_random_geodetic(rng, (T, N), 0.0, 1e6))
    site = (0.5, 0.2, 100.0)
    site_lat, site_lon, site_alt = _random_geodetic(rng, N, 0.0, 1e3)

    for convert in (frames.ecef_to_enu, frames.enu_to_ecef):
        assert convert(pos[0, 0], *site).shape == (3,)
        assert convert(pos[0], *site).shape == (N, 3)
        assert convert(pos, *site).shape == (T, N, 3)
        batched = convert(pos, site_lat, site_lon, site_alt)  # N sites broadcast over T
        assert batched.shape == (T, N, 3)
        single = convert(pos[2, 6], site_lat[6], site_lon[6], site_alt[6])
        np.testing.assert_allclose(batched[2, 6], single, rtol=0, atol=1e-6)
        # docs/conventions.md: a time series of a batch is (N, T, 3), object first; then the N
        # sites go in as (N, 1) so they broadcast over time.
        series = convert(np.swapaxes(pos, 0, 1), site_lat[:, None], site_lon[:, None], site_alt[:, None])
        assert series.shape == (N, T, 3)
        np.testing.assert_allclose(series[6, 2], single, rtol=0, atol=1e-6)

    enu = frames.ecef_to_enu(pos, *site)
    for batch, shape in ((enu, (T, N)), (enu[0], (N,)), (enu[0, 0], ())):
        assert [np.shape(x) for x in frames.enu_to_aer(batch)] == [shape] * 3
    for batch, shape in ((pos, (T, N)), (pos[0], (N,)), (pos[0, 0], ())):
        assert [np.shape(x) for x in frames.ecef_to_aer(batch, *site)] == [shape] * 3

    az, el, range_m = frames.ecef_to_aer(pos, *site)
    assert frames.aer_to_enu(az, el, range_m).shape == (T, N, 3)
    assert frames.aer_to_enu(az[0], el[0], range_m[0]).shape == (N, 3)
    assert frames.aer_to_enu(az[0, 0], el[0, 0], range_m[0, 0]).shape == (3,)
    assert frames.aer_to_enu(az[0], 0.1, 1e3).shape == (N, 3)  # scalar el, range broadcast
    assert frames.aer_to_ecef(az, el, range_m, *site).shape == (T, N, 3)
    assert frames.aer_to_ecef(az[0], el[0], range_m[0], *site).shape == (N, 3)
    assert frames.aer_to_ecef(az[0, 0], el[0, 0], range_m[0, 0], *site).shape == (3,)


def test_shapes_teme_and_gmst():
    rng = np.random.default_rng(4)
    r_m = rng.normal(size=(T, N, 3)) * 7e6
    v_m_per_s = rng.normal(size=(T, N, 3)) * 7e3
    jd = np.full((T, 1), 2461000.5)  # one date per time step, broadcast over N satellites
    fr = rng.uniform(0, 1, (T, 1))

    assert np.shape(frames.gmst82_rad(2461000.5, 0.25)) == ()
    assert frames.gmst82_rad(jd, fr).shape == (T, 1)
    assert frames.gmst82_rad(np.full(N, 2461000.5), fr[0]).shape == (N,)

    for xp, yp in ((0.0, 0.0), (0.1 * ARCSEC, 0.3 * ARCSEC)):
        r1, v1 = frames.teme_to_ecef(r_m[0, 0], v_m_per_s[0, 0], 2461000.5, 0.25, xp, yp)
        assert (r1.shape, v1.shape) == ((3,), (3,))
        r2, v2 = frames.teme_to_ecef(r_m[0], v_m_per_s[0], 2461000.5, 0.25, xp, yp)
        assert (r2.shape, v2.shape) == ((N, 3), (N, 3))
        r3, v3 = frames.teme_to_ecef(r_m, v_m_per_s, jd, fr, xp, yp)
        assert (r3.shape, v3.shape) == ((T, N, 3), (T, N, 3))
        # Each (t, n) element is the single-vector conversion at that step's date.
        r_single, v_single = frames.teme_to_ecef(r_m[2, 5], v_m_per_s[2, 5], jd[2, 0], fr[2, 0], xp, yp)
        np.testing.assert_allclose(r3[2, 5], r_single, rtol=0, atol=1e-6)
        np.testing.assert_allclose(v3[2, 5], v_single, rtol=0, atol=1e-9)
        # The (N, T, 3) layout of docs/conventions.md with one date per time step, shape (T,).
        r5, v5 = frames.teme_to_ecef(
            np.swapaxes(r_m, 0, 1), np.swapaxes(v_m_per_s, 0, 1), jd[:, 0], fr[:, 0], xp, yp
        )
        assert (r5.shape, v5.shape) == ((N, T, 3), (N, T, 3))
        np.testing.assert_allclose(r5[5, 2], r_single, rtol=0, atol=1e-6)
        # A date per element, shape (T, N), works too.
        r4, _ = frames.teme_to_ecef(r_m, v_m_per_s, np.broadcast_to(jd, (T, N)), np.broadcast_to(fr, (T, N)))
        assert r4.shape == (T, N, 3)


def test_unit_vector_is_the_ellipsoid_normal() -> None:
    # ENU's up row (frames.enu_rotation) is the geodetic normal; unit_vector must equal it.
    rng = np.random.default_rng(11)
    lat, lon = rng.uniform(-np.pi / 2, np.pi / 2, 1000), rng.uniform(-np.pi, np.pi, 1000)
    np.testing.assert_allclose(
        frames.unit_vector(lat, lon), frames.enu_rotation(lat, lon)[:, 2, :], atol=1e-15
    )


def test_great_circle_distance_against_vincenty() -> None:
    # pymap3d's Vincenty geodesic on WGS-84 is the reference; the sphere of mean radius differs by
    # at most ~0.5 % (flattening f = 1/298 spread over the path).
    from pymap3d.vincenty import vdist

    rng = np.random.default_rng(12)
    lat1, lat2 = rng.uniform(-80, 80, (2, 300))
    lon1, lon2 = rng.uniform(-180, 180, (2, 300))
    ours = frames.great_circle_distance_m(
        np.radians(lat1), np.radians(lon1), np.radians(lat2), np.radians(lon2)
    )
    ref = np.array([vdist(a, b, c, d)[0] for a, b, c, d in zip(lat1, lon1, lat2, lon2, strict=True)])
    np.testing.assert_allclose(ours, ref, rtol=0.006)
    assert frames.great_circle_distance_m(0.0, 0.0, 0.0, np.pi / 2) == pytest.approx(np.pi / 2 * 6_371_008.8)
