"""Tests for kizuna.orbits: Walker geometry, agreement with Skyfield and Vallado, SGP4 failures, TLEs."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sgp4.api import WGS72, Satrec
from sgp4.earth_gravity import wgs72
from skyfield.api import EarthSatellite, load
from skyfield.framelib import itrs
from skyfield.sgp4lib import TEME_to_ITRF, theta_GMST1982

import kizuna.orbits
from kizuna.constants import DEG, WGS84_A_M, WGS84_F, WGS84_OMEGA_RAD_PER_S
from kizuna.frames import ecef_to_geodetic, gmst82_rad
from kizuna.orbits import SGP4_ERROR_REASONS, Constellation, Ephemeris, TleError, read_tle_file
from kizuna.timebase import Epoch

UTC = dt.UTC
DATA = Path(__file__).parent / "data"
EPOCH = Epoch(dt.datetime(2026, 6, 1, tzinfo=UTC))

# ISS (ZARYA), epoch 2008-09-20 12:25:40 UTC: the example TLE of Wikipedia's "Two-line element set".
ISS = (
    "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927",
    "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537",
)
# Vallado's verification set SGP4-VER.TLE (AIAA 2006-6753), columns 1-69: VANGUARD 1, MINOTAUR R/B.
VANGUARD = (
    "1 00005U 58002B   00179.78495062  .00000023  00000-0  28098-4 0  4753",
    "2 00005  34.2682 348.7242 1859667 331.7664  19.3264 10.82419157413667",
)
MINOTAUR = (
    "1 28872U 05037B   05333.02012661  .25992681  00000-0  24476-3 0  1534",
    "2 28872  96.4736 157.9986 0303955 244.0492 110.6523 16.46015938 10708",
)
TLE_FILE_TEXT = (DATA / "tles_3le.txt").read_text()
MINOTAUR_EPOCH = Epoch(dt.datetime(2005, 11, 29, 0, 28, 58, 939104, tzinfo=UTC))  # day 333.02012661

R_KM, J2, J3 = wgs72.radiusearthkm, wgs72.j2, wgs72.j3  # the constants SGP4 runs with (WGS-72)
OMEGA_ECEF = np.array([0.0, 0.0, WGS84_OMEGA_RAD_PER_S])


def _wrap_deg(angle_deg):
    """Angle difference folded into [-180, 180) degrees."""
    return (np.asarray(angle_deg) + 180.0) % 360.0 - 180.0


def _walker(total, planes, phasing, altitude_m=1200e3, inclination_deg=55.0, **kwargs):
    return Constellation.from_walker(
        f"walker-{total}-{planes}-{phasing}",
        total=total,
        planes=planes,
        phasing=phasing,
        altitude_m=altitude_m,
        inclination_rad=inclination_deg * DEG,
        epoch=EPOCH,
        **kwargs,
    )


# --- Walker geometry ---------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "planes", "phasing"), [(24, 3, 1), (28, 4, 1)])
def test_walker_planes_and_inclination_from_the_orbit_normal(total, planes, phasing):
    """Planes from the osculating orbit normal h = r × v_inertial at t = 0 (v_inertial = v + ω×r).

    J2 short-period terms move the osculating node by 0.75 J2 (R/a)² cos i sin 2u = ±0.019° and
    the inclination by 0.75 J2 (R/a)² sin i cos i cos 2u = ±0.016° at 1,200 km, 55° (Spacetrack
    Report #3, SGP4 short-period update), hence 0.03° per satellite. Over a plane's equally spaced
    satellites sin 2u and cos 2u average to zero, so plane means must match to 1e-3° (second-order
    terms ~J2² ≈ 1e-6 rad); 1e-3° is 130 m at orbit radius.
    """
    raan0_deg = 10.0
    eph = _walker(total, planes, phasing, raan0_rad=raan0_deg * DEG).propagate(EPOCH, [0.0])
    r, v = eph.pos_m[:, 0], eph.vel_m_per_s[:, 0]
    h = np.cross(r, v + np.cross(OMEGA_ECEF, r))
    inclination_deg = np.degrees(np.arccos(h[:, 2] / np.linalg.norm(h, axis=1)))
    # The node in ECEF is at atan2(h_x, -h_y); add GMST-82 to measure it from TEME's x axis.
    raan_deg = (np.degrees(np.arctan2(h[:, 0], -h[:, 1]) + gmst82_rad(*EPOCH.jd_split))) % 360.0

    gaps = np.diff(np.sort(raan_deg))
    assert 1 + np.count_nonzero(gaps > 1.0) == planes  # distinct planes, found from geometry alone
    per_plane = total // planes
    by_plane = raan_deg.reshape(planes, per_plane)  # ids run plane by plane
    assert np.all(np.ptp(by_plane, axis=1) < 2 * 0.03)
    expected_deg = raan0_deg + 360.0 * np.arange(planes) / planes
    np.testing.assert_allclose(_wrap_deg(by_plane.mean(axis=1) - expected_deg), 0.0, atol=1e-3)
    np.testing.assert_allclose(np.diff(by_plane.mean(axis=1)), 360.0 / planes, atol=1e-3)
    np.testing.assert_allclose(inclination_deg, 55.0, atol=0.03)
    np.testing.assert_allclose(inclination_deg.reshape(planes, per_plane).mean(axis=1), 55.0, atol=1e-3)
    assert eph.satellite_ids[per_plane] == f"walker-{total}-{planes}-{phasing}-P02-S01"


@pytest.mark.parametrize(("total", "planes", "phasing"), [(24, 3, 1), (28, 4, 1)])
def test_walker_phasing_from_ascending_node_times(total, planes, phasing):
    """Argument-of-latitude spacing 360P/T in a plane and F·360/T between planes (Walker 1984).

    Measured from when each satellite crosses the equator northbound (z = 0, z rising; z is the
    same in ECEF and TEME). SGP4 here has zonal terms only, so every satellite of the pattern
    flies the same osculating orbit shape and phase differences are exactly n Δt; the periodic J2
    and J3 terms that move one satellite's osculating u by up to 0.09° cancel. Linear interpolation
    of z over 10 s steps, where z is nearly linear in t, errs by < 1e-5°; tolerance 1e-3° (130 m).
    """
    period_s = 2 * math.pi / math.sqrt(wgs72.mu / (R_KM + 1200.0) ** 3)
    t_s = np.arange(0.0, 2.1 * period_s, 10.0)
    z_m = _walker(total, planes, phasing).propagate(EPOCH, t_s).pos_m[..., 2]
    rising = (z_m[:, :-1] < 0.0) & (z_m[:, 1:] >= 0.0)
    crossings_s = []
    for z, k in zip(z_m, rising, strict=True):
        i = np.flatnonzero(k)[:2]
        crossings_s.append(t_s[i] - z[i] / (z[i + 1] - z[i]) * 10.0)
    crossings_s = np.array(crossings_s)  # (S, 2): first two northbound equator crossings
    nodal_period_s = crossings_s[:, 1] - crossings_s[:, 0]
    np.testing.assert_allclose(nodal_period_s, nodal_period_s[0], atol=0.01)
    u_deg = (-360.0 * crossings_s[:, 0] / nodal_period_s).reshape(planes, total // planes)
    np.testing.assert_allclose(_wrap_deg(np.diff(u_deg, axis=1) - 360.0 * planes / total), 0.0, atol=1e-3)
    np.testing.assert_allclose(_wrap_deg(np.diff(u_deg, axis=0) - 360.0 * phasing / total), 0.0, atol=1e-3)


@pytest.mark.parametrize(
    ("altitude_km", "inclination_deg"),
    [(1200.0, 55.0), (550.0, 97.6), (20_200.0, 55.0)],  # Walker LEO, sun-synchronous, GPS-like (SDP4)
)
def test_walker_altitude_over_one_orbit(altitude_km, inclination_deg):
    """Geocentric radius and geodetic altitude over one orbit against first-order SGP4 theory.

    With a = R + h given as Kozai mean motion, SGP4's Kozai->Brouwer conversion and J2
    short-period radius term (Spacetrack Report #3) put the orbit-mean radius at
    a - ¼ J2 (3cos²i - 1) R²/a; around it the radius swings by ¼ J2 (R²/a) sin²i (J2 short-period)
    plus ½ |J3/J2| R sin i (SGP4's J3 long-period eccentricity: 6.1 km at 55°, any altitude).
    Margin 0.2 km for second-order terms and, at 20,200 km, SDP4's lunisolar periodics. The
    geodetic altitude adds the ellipsoid: up to f·a·sin²(max latitude) (14.4 km at 55°).
    """
    a_km, s = R_KM + altitude_km, math.sin(inclination_deg * DEG)
    mean_offset_km = -0.25 * J2 * (3 * math.cos(inclination_deg * DEG) ** 2 - 1) * R_KM**2 / a_km
    swing_km = 0.25 * J2 * R_KM**2 / a_km * s**2 + 0.5 * abs(J3 / J2) * R_KM * s + 0.2
    period_s = 2 * math.pi / math.sqrt(wgs72.mu / a_km**3)
    t_s = np.linspace(0.0, period_s, 720, endpoint=False)
    c = Constellation.from_walker(
        "alt",
        total=4,
        planes=2,
        phasing=1,
        altitude_m=altitude_km * 1e3,
        inclination_rad=inclination_deg * DEG,
        epoch=EPOCH,
    )
    eph = c.propagate(EPOCH, t_s)
    radius_km = np.linalg.norm(eph.pos_m, axis=-1) / 1e3 - a_km  # (S, T)
    np.testing.assert_allclose(radius_km.mean(axis=1), mean_offset_km, atol=0.1)
    assert np.abs(radius_km - mean_offset_km).max() <= swing_km
    _, _, alt_m = ecef_to_geodetic(eph.pos_m)
    ellipsoid_km = WGS84_F * WGS84_A_M / 1e3 * s**2  # the highest latitude reached is i or 180° - i
    assert altitude_km + mean_offset_km - swing_km <= alt_m.min() / 1e3
    assert alt_m.max() / 1e3 <= altitude_km + mean_offset_km + swing_km + ellipsoid_km


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"total": 25, "planes": 3}, "total=25 is not divisible by planes=3"),
        ({"total": 0}, "total=0"),
        ({"planes": 2.0}, "planes=2.0"),
        ({"phasing": 3}, "phasing=3"),
        ({"phasing": -1}, "phasing=-1"),
        ({"altitude_m": 1200}, "altitude_m=1200: expected 150000 to 40000000 metres"),
        ({"altitude_m": 100e3}, "altitude_m=100000.0"),
        ({"inclination_rad": 55.0}, "inclination_rad=55.0"),
        ({"inclination_rad": float("nan")}, "inclination_rad=nan"),
    ],
)
def test_walker_rejects_bad_parameters_by_name(kwargs, named):
    args = {"total": 24, "planes": 3, "phasing": 1, "altitude_m": 1200e3, "inclination_rad": 55 * DEG}
    with pytest.raises(ValueError, match=re.escape(named)):
        Constellation.from_walker("bad", epoch=EPOCH, **(args | kwargs))


# --- Agreement with Skyfield and with Vallado's published SGP4 output ----------------------------


def test_ecef_matches_skyfield_teme_to_itrf_to_a_millimetre():
    """Our SatrecArray + TEME->ECEF path against scalar Satrec.sgp4 + Skyfield's TEME_to_ITRF.

    Both are GMST-82 rotations with UT1 = the UTC we pass and no polar motion, so only rounding
    differs: tolerance 1 mm. Skyfield's Earth rate is dGMST82/dt = 7.2921158553e-5 rad/s against
    our WGS-84 7.292115e-5 rad/s: 8.6e-12 rad/s × 6,700 km = 0.06 mm/s, tolerance 0.1 mm/s.
    (TEME_to_ITRF takes and returns velocities per day, not per second.)
    """
    epoch = Epoch(dt.datetime(2008, 9, 20, 12, 0, tzinfo=UTC))
    t_s = np.arange(0.0, 86_400.0, 900.0)
    eph = Constellation.from_tles("iss", ISS).propagate(epoch, t_s)
    jd, fr = epoch.jd(t_s)
    satrec = Satrec.twoline2rv(*ISS, WGS72)
    states = [satrec.sgp4(j, f) for j, f in zip(jd, fr, strict=True)]
    assert all(e == 0 for e, _, _ in states)
    r_teme_km = np.array([r for _, r, _ in states]).T
    v_teme_km_per_day = np.array([v for _, _, v in states]).T * 86_400.0
    r_km, v_km_per_day = TEME_to_ITRF(jd, r_teme_km, v_teme_km_per_day, 0.0, 0.0, fr)
    np.testing.assert_allclose(eph.pos_m[0], r_km.T * 1e3, rtol=0, atol=1e-3)
    np.testing.assert_allclose(eph.vel_m_per_s[0], v_km_per_day.T * 1e3 / 86_400.0, rtol=0, atol=1e-4)


def test_ecef_matches_skyfield_itrs_once_ut1_is_accounted_for():
    """Against Skyfield's full path: EarthSatellite.at(t) (TEME -> GCRS) then ITRS, builtin data.

    Skyfield rotates TEME to GCRS by R3(GMST82 - GAST)·M and GCRS to ITRS by R3(-GAST)·M (no polar
    motion without a loaded table), which compose to R3(-GMST82) exactly as ours; its velocity
    drops the precession-nutation rates (~1e-11 rad/s × 6,700 km < 0.1 mm/s). What differs is UT1:
    Skyfield uses UT1 - UTC = -0.48 s from its builtin IERS table and we use UT1 = UTC, a rotation
    of 0.48 s × 7.29e-5 rad/s = 35 µrad, ~240 m at the ISS. So: the raw difference must be exactly
    that rotation (1 mm), and after undoing it the positions agree to 1 mm, velocities 0.1 mm/s.
    """
    epoch = Epoch(dt.datetime(2008, 9, 20, 12, 0, tzinfo=UTC))
    t_s = np.arange(0.0, 86_400.0, 900.0)
    eph = Constellation.from_tles("iss", ISS).propagate(epoch, t_s)
    ts = load.timescale(builtin=True)
    t = ts.utc(2008, 9, 20, 12, 0, t_s)
    pos, vel = EarthSatellite(*ISS, ts=ts).at(t).frame_xyz_and_velocity(itrs)
    pos_m, vel_m_per_s = pos.m.T, vel.m_per_s.T

    jd, fr = epoch.jd(t_s)
    dtheta = theta_GMST1982(jd, fr)[0] - theta_GMST1982(t.whole, t.ut1_fraction)[0]  # UT1=UTC minus UT1
    assert np.all(np.abs(t.dut1) > 0.4)  # the test means something only if UT1 - UTC is large
    c, s = np.cos(dtheta), np.sin(dtheta)

    def rotate(x):  # R3(dtheta): from Skyfield's Earth angle to ours
        return np.stack([c * x[:, 0] + s * x[:, 1], -s * x[:, 0] + c * x[:, 1], x[:, 2]], axis=-1)

    chord_m = 2 * np.abs(np.sin(dtheta / 2)) * np.hypot(pos_m[:, 0], pos_m[:, 1])
    np.testing.assert_allclose(np.linalg.norm(eph.pos_m[0] - pos_m, axis=-1), chord_m, rtol=0, atol=1e-3)
    np.testing.assert_allclose(eph.pos_m[0], rotate(pos_m), rtol=0, atol=1e-3)
    np.testing.assert_allclose(eph.vel_m_per_s[0], rotate(vel_m_per_s), rtol=0, atol=1e-4)


def test_minotaur_matches_vallado_published_output():
    """MINOTAUR R/B against Vallado's verification output (python-sgp4's sgp4/tcppver.out, TEME km).

    ECEF z equals TEME z and |r| is rotation-invariant, so both must match the published TEME
    values to their printed precision (1e-8 km) plus rounding: tolerance 1 mm.
    """
    published_km = {  # minutes since epoch: TEME x, y, z [km]
        0.0: (-6131.82730456, 2446.52815528, -253.64211033),
        25.0: (896.73799533, 447.12357305, 6607.22400507),
        50.0: (5548.43325922, -2480.16469245, -1979.24314527),
    }
    t_min = np.array(list(published_km))
    eph = Constellation.from_tles("minotaur", MINOTAUR).propagate(MINOTAUR_EPOCH, t_min * 60.0)
    r_km = np.array(list(published_km.values()))
    np.testing.assert_allclose(eph.pos_m[0, :, 2], r_km[:, 2] * 1e3, rtol=0, atol=1e-3)
    np.testing.assert_allclose(
        np.linalg.norm(eph.pos_m[0], axis=-1), np.linalg.norm(r_km, axis=-1) * 1e3, rtol=0, atol=1e-3
    )


# --- SGP4 failures are reported per satellite and sample, never raised ---------------------------


def test_failed_satellites_give_nan_rows_and_reasons_while_the_others_propagate():
    """A decaying TLE (MINOTAUR R/B: perigee -51 km, "lost in 50 minutes" per Vallado's set) and a
    hyperbolic element set (e = 1.2: SGP4 error 1 at every time) in one batch with a healthy Walker
    pattern at the same epoch. Codes must equal scalar Satrec.sgp4 calls (the reference path)."""
    walker = Constellation.from_walker(
        "w", total=4, planes=2, phasing=1, altitude_m=800e3, inclination_rad=60 * DEG, epoch=MINOTAUR_EPOCH
    )
    hyperbolic = Satrec()
    jd0, fr0 = MINOTAUR_EPOCH.jd_split
    hyperbolic.sgp4init(WGS72, "i", 99, jd0 - 2433281.5 + fr0, 0.0, 0.0, 0.0, 1.2, 0.0, 1.0, 0.0, 0.06, 0.0)
    minotaur = Satrec.twoline2rv(*MINOTAUR, WGS72)
    ids = [*walker.satellite_ids, "minotaur", "hyperbolic"]
    constellation = Constellation("mixed", ids, [*walker.satrecs, minotaur, hyperbolic])
    t_s = np.arange(0.0, 81.0, 5.0) * 60.0
    eph = constellation.propagate(MINOTAUR_EPOCH, t_s)

    jd, fr = MINOTAUR_EPOCH.jd(t_s)
    reference = np.array(
        [[s.sgp4(j, f)[0] for j, f in zip(jd, fr, strict=True)] for s in constellation.satrecs]
    )
    np.testing.assert_array_equal(eph.error_code, reference)
    good = eph.error_code == 0
    assert np.all(good[:4])
    assert np.all(np.isfinite(eph.pos_m[good])) and np.all(np.isfinite(eph.vel_m_per_s[good]))
    assert np.all(np.isnan(eph.pos_m[~good])) and np.all(np.isnan(eph.vel_m_per_s[~good]))
    assert np.all(eph.error_code[4, t_s <= 50 * 60.0] == 0)  # Vallado's output runs to 50 min
    assert eph.error_code[4, t_s == 55 * 60.0] == 6
    assert np.all(eph.error_code[5] == 1)
    assert set(eph.failures) == {"minotaur", "hyperbolic"}
    assert SGP4_ERROR_REASONS[6] in eph.failures["minotaur"]
    assert "first at t = 3300.0 s" in eph.failures["minotaur"]
    assert SGP4_ERROR_REASONS[1] in eph.failures["hyperbolic"]


# --- TLE reading ---------------------------------------------------------------------------------


def test_three_line_file_loads_with_names():
    c = Constellation.from_tle_file("public", DATA / "tles_3le.txt")
    assert c.satellite_ids == ("ISS (ZARYA)", "VANGUARD 1", "MINOTAUR R/B", "SL-14 DEB")
    assert [s.satnum for s in c.satrecs] == [25544, 5, 28872, 29141]
    iss = c.satrecs[0]
    # Epoch 08264.51782528 = 2008 day 264 (20 September) + 0.51782528 d; JD of 2008-01-01 00:00 is
    # 2454466.5, so day 264.51782528 is JD 2454466.5 + 263.51782528.
    assert iss.jdsatepoch + iss.jdsatepochF == pytest.approx(2454466.5 + 263.51782528, abs=1e-9)
    assert iss.inclo == pytest.approx(51.6416 * DEG, abs=1e-12)
    assert [i for i, _ in read_tle_file(DATA / "tles_3le.txt")] == list(c.satellite_ids)


def test_two_line_text_loads_with_catalog_numbers_as_ids():
    c = Constellation.from_tles("two", "\n".join([*ISS, "", *VANGUARD]) + "\n")
    assert c.satellite_ids == ("25544", "00005")
    assert c.name == "two" and len(c) == 2


def _with_checksum(line: str) -> str:
    total = sum(int(ch) if ch.isdigit() else ch == "-" for ch in line[:68])
    return line[:68] + str(total % 10)


@pytest.mark.parametrize(
    ("lines", "line_number", "why"),
    [
        ([ISS[0][:40] + "9" + ISS[0][41:], ISS[1]], 1, "bad checksum"),
        ([ISS[0], ISS[1][:60]], 2, "has 60 characters"),
        ([ISS[1], ISS[0]], 1, "lines 1 and 2 are swapped"),
        ([ISS[0]], 1, "not followed by a line 2"),
        (["ISS (ZARYA)", ISS[1]], 2, "line 2 has no line 1"),
        ([_with_checksum(ISS[0][:25] + "x" + ISS[0][26:]), ISS[1]], 1, "epoch day of year in columns 21-32"),
        ([_with_checksum(ISS[0][:23] + "5" + ISS[0][24:]), ISS[1]], 1, "column 24 should be '.'"),
        ([ISS[0], _with_checksum(ISS[1][:2] + "25545" + ISS[1][7:])], 2, "differs from line 1's"),
        ([*ISS, *ISS], 3, "already used by the set at line 1"),
        (["   ", "# only a comment"], 1, "no TLE sets found"),
    ],
)
def test_broken_tles_name_the_line_and_why(lines, line_number, why):
    with pytest.raises(TleError) as info:
        Constellation.from_tles("bad", lines, source="paste.txt")
    assert len(info.value.problems) == 1
    assert info.value.problems[0][0] == line_number
    assert why in info.value.problems[0][1]
    assert f"paste.txt:\n  line {line_number}: " in str(info.value)


def test_every_broken_set_is_reported_at_once_with_the_file_name(tmp_path):
    lines = TLE_FILE_TEXT.splitlines()  # 7 comment lines, then 4 sets of 3 (line n is lines[n - 1])
    lines[8] = lines[8][:-1] + str((int(lines[8][-1]) + 1) % 10)  # ISS line 1: checksum off by one
    lines[14] = lines[14][:50]  # MINOTAUR line 1 truncated
    lines[17], lines[18] = lines[18], lines[17]  # SL-14 DEB lines 1 and 2 swapped
    path = tmp_path / "broken.tle"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TleError) as info:
        Constellation.from_tle_file("broken", path)
    assert [number for number, _ in info.value.problems] == [9, 15, 18]
    message = str(info.value)
    assert str(path) in message and "3 problems" in message
    assert "bad checksum" in message and "has 50 characters" in message and "swapped" in message
    assert isinstance(info.value, ValueError)


def test_file_line_numbers_count_only_newlines_and_bad_bytes_are_reported_on_their_line(tmp_path):
    """A Latin-1 byte and a form feed inside TLE lines: refused on their own lines (9 and 10), and a
    form feed (which str.splitlines treats as a line break) does not shift the numbering."""
    raw = TLE_FILE_TEXT.encode("ascii").split(b"\n")
    raw[8] = raw[8][:30] + b"\xe9" + raw[8][31:]
    raw[9] = raw[9][:30] + b"\x0c" + raw[9][31:]
    path = tmp_path / "bytes.tle"
    path.write_bytes(b"\n".join(raw))
    with pytest.raises(TleError) as info:
        read_tle_file(path)
    assert info.value.problems[0][0] == 9 and "non-ASCII" in info.value.problems[0][1]
    assert info.value.problems[1][0] == 10 and "control characters" in info.value.problems[1][1]
    assert len(info.value.problems) == 2


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_a_mutated_tle_file_either_loads_or_raises_tle_error(position, replacement):
    """DESIGN: every loader gets mutated-input tests. One changed character anywhere (data, name,
    comment, newline) may be accepted or refused, but only ever as a TleError."""
    text = TLE_FILE_TEXT
    position %= len(text)
    mutated = text[:position] + replacement + text[position + 1 :]
    problems, loaded = [], 0
    try:
        loaded = len(Constellation.from_tles("mutated", mutated))
    except TleError as exc:
        problems = exc.problems
    assert bool(problems) != bool(loaded) and loaded <= 4


# --- Shapes, arguments, API ----------------------------------------------------------------------


@pytest.mark.parametrize("n_times", [1, 7])
def test_ephemeris_shapes(n_times):
    """The batch convention: satellites × times × xyz, times (T,), codes (S, T)."""
    c = _walker(6, 2, 1)
    eph = c.propagate(EPOCH, np.linspace(0.0, 3600.0, n_times))
    assert isinstance(eph, Ephemeris)
    assert eph.pos_m.shape == eph.vel_m_per_s.shape == (6, n_times, 3)
    assert eph.error_code.shape == (6, n_times) and eph.t_s.shape == (n_times,)
    assert len(eph.satellite_ids) == 6 and eph.epoch == EPOCH
    assert not eph.pos_m.flags.writeable and eph.failures == {}


@pytest.mark.parametrize("t_s", [0.0, [[0.0, 60.0]], [0.0, np.nan]])
def test_propagate_rejects_times_that_are_not_one_dimensional_and_finite(t_s):
    with pytest.raises(ValueError, match="t_s must be a 1-D array"):
        _walker(6, 2, 1).propagate(EPOCH, t_s)


def test_constellation_requires_one_unique_id_per_satrec():
    satrecs = _walker(2, 2, 0).satrecs
    with pytest.raises(ValueError, match="repeated: \\['a'\\]"):
        Constellation("dup", ["a", "a"], satrecs)
    with pytest.raises(ValueError, match="1 satellite ids for 2 Satrec"):
        Constellation("short", ["a"], satrecs)


def test_public_api():
    expected = ["Constellation", "Ephemeris", "SGP4_ERROR_REASONS", "TleError", "read_tle_file"]
    assert sorted(kizuna.orbits.__all__) == expected
    assert all(hasattr(kizuna.orbits, name) for name in expected)
    assert issubclass(TleError, ValueError)


def test_a_control_character_in_a_tle_line_is_a_tle_error() -> None:
    # Found by the mutation property test: a NUL in the classification column passed every column
    # check and crashed sgp4's parser with "embedded null character".
    line1 = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927"
    line2 = "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537"
    with pytest.raises(TleError, match="control characters"):
        Constellation.from_tles("x", [line1.replace("U", "\x00", 1), line2])
