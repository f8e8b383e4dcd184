"""Surface radars (`kizuna.sensors.radar`): horizon, detection, noise, false alarms, geometry, ships.

Reference values come from outside the module: the 4/3-Earth horizon closed form
d ≈ 4.12 (√h₁ + √h₂) km (Skolnik, *Introduction to Radar Systems*, 3rd ed., ch. 8), Swerling 1
Pd = Pfa^(1/(1+SNR)) (Skolnik §2.8, Meyer & Mayer 1973) with the radar equation written out here,
pymap3d's ``ecef2aer`` / ``geodetic2ecef`` / ``ecef2geodetic`` for the geometry, finite differences of
pymap3d ranges for range-rates, and spherical trigonometry (haversine, the direct problem) for ships.

Statistical checks use fixed seeds and bounds of 4 to 5 standard errors, each stated: with the seed
fixed they are deterministic, and a real model error of that size would be a physical miss.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pymap3d
import pytest
from scipy import stats

from kizuna.constants import MEAN_EARTH_RADIUS_M
from kizuna.scenario import schema
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch
from kizuna.sensors.radar import (
    FALSE_ALARM_RANGE_RATE_MAX_M_PER_S,
    DetectionModel,
    Platform,
    SurfaceRadar,
    aspect_rcs_m2,
)
from kizuna.truth.samples import TruthSamples

R_M = MEAN_EARTH_RADIUS_M
SITE_LAT_DEG, SITE_LON_DEG = 35.0, 135.0
TINY = 1e-12
"""Measurement sigmas (m, rad, m/s) that make a detection noise-free to far below the tolerances."""


# --- independent references and builders --------------------------------------------------------


def haversine_m(lat1_deg, lon1_deg, lat2_deg, lon2_deg):
    """Great-circle distance on the sphere of radius R (R. W. Sinnott, Sky & Telescope 68(2), 1984)."""
    lat1, lon1, lat2, lon2 = (np.radians(x) for x in (lat1_deg, lon1_deg, lat2_deg, lon2_deg))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2.0 * R_M * np.arcsin(np.sqrt(a))


def initial_bearing_deg(lat1_deg, lon1_deg, lat2_deg, lon2_deg):
    """Great-circle initial course (E. Williams, Aviation Formulary, "Course between points")."""
    lat1, lon1, lat2, lon2 = (math.radians(x) for x in (lat1_deg, lon1_deg, lat2_deg, lon2_deg))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(y, x))


def destination_deg(lat_deg, lon_deg, azimuth_deg, dist_m):
    """Spherical direct problem (E. Williams, Aviation Formulary, "Lat/lon given radial and distance")."""
    lat, lon, az = math.radians(lat_deg), math.radians(lon_deg), math.radians(azimuth_deg)
    d = dist_m / R_M
    lat2 = math.asin(math.sin(lat) * math.cos(d) + math.cos(lat) * math.sin(d) * math.cos(az))
    lon2 = lon + math.atan2(
        math.sin(az) * math.sin(d) * math.cos(lat), math.cos(d) - math.sin(lat) * math.sin(lat2)
    )
    return math.degrees(lat2), math.degrees(lon2)


def ecef(lat_deg, lon_deg, alt_m):
    """WGS-84 geodetic -> ECEF by pymap3d, ``(..., 3)``."""
    return np.stack(pymap3d.geodetic2ecef(lat_deg, lon_deg, alt_m), axis=-1)


def truth_of(pos_m, vel_m_per_s=None, *, t_s=None, kinds=None, active=None, rcs_m2=1.0):
    """TruthSamples for targets ``(N, T, 3)``; a ``(N, 3)`` array is held still over ``len(t_s)`` looks."""
    pos = np.asarray(pos_m, dtype=float)
    t = np.asarray(t_s if t_s is not None else [0.0], dtype=float)
    if pos.ndim == 2:
        pos = np.repeat(pos[:, None, :], len(t), axis=1)
    vel = np.zeros_like(pos) if vel_m_per_s is None else np.asarray(vel_m_per_s, dtype=float)
    if vel.ndim == 2:
        vel = np.repeat(vel[:, None, :], len(t), axis=1)
    n = pos.shape[0]
    act = np.ones(pos.shape[:2], dtype=bool) if active is None else np.asarray(active)
    pos, vel = np.where(act[..., None], pos, np.nan), np.where(act[..., None], vel, np.nan)
    return TruthSamples(
        target_ids=tuple(f"T{i}" for i in range(n)),
        kinds=tuple(kinds or ["aircraft"] * n),
        t_s=t,
        pos_m=pos,
        vel_m_per_s=vel,
        active=act,
        phase=np.where(act, 0, -1).astype(np.int8),
        ir_intensity_w_per_sr=np.where(act, 1.0, np.nan),
        rcs_m2=np.where(act, rcs_m2, np.nan),
    )


def make_radar(
    *,
    lat_deg=SITE_LAT_DEG,
    lon_deg=SITE_LON_DEG,
    alt_m=30.0,
    platform=None,
    sigmas=(TINY, TINY, TINY, TINY),
    detection=None,
    **kw,
):
    """A radar that sees everything it geometrically can: all round, −10°…90°, 0…3,000 km, huge SNR."""
    params = dict(
        revisit_s=5.0,
        max_range_m=3_000_000.0,
        boresight_az_rad=0.0,
        sector_width_rad=2 * math.pi,
        elevation_min_rad=math.radians(-10.0),
        elevation_max_rad=math.radians(90.0),
        min_range_m=0.0,
    )
    params.update(kw)
    return SurfaceRadar(
        sensor_id="R1",
        nation="JPN",
        platform=platform or Platform.fixed(math.radians(lat_deg), math.radians(lon_deg), alt_m),
        sigma_range_m=sigmas[0],
        sigma_azimuth_rad=sigmas[1],
        sigma_elevation_rad=sigmas[2],
        sigma_range_rate_m_per_s=sigmas[3],
        detection=detection or DetectionModel(snr0_db=60.0, ref_range_m=1e6, false_alarms_per_scan=0.0),
        **params,
    )


def observe(radar, truth, seed=1, first_id=0):
    return radar.observe(truth, first_id, np.random.default_rng(seed))


def detected_of(labels, target_id):
    return np.count_nonzero(labels.target_id == target_id)


# --- radar horizon ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("h_antenna_m", "h_target_m"), [(10.0, 10.0), (30.0, 10_000.0), (100.0, 100.0), (25.0, 5.0)]
)
def test_horizon_range_matches_four_thirds_earth_closed_form(h_antenna_m, h_target_m) -> None:
    # Skolnik 3rd ed. ch. 8: d = √(2kRh₁) + √(2kRh₂) ≈ 4.12 (√h₁ + √h₂) km (h in m, k = 4/3, R = 6370 km).
    # The closed form is the small-height limit on a 6370 km sphere. The model uses the WGS-84
    # normal-section radius at 35° N (6356-6385 km in the bearings below: √ of that ratio, ±0.12 %),
    # the exact tangent geometry (-0.05 % at 10 km height) and reports slant range (+0.03 %), and
    # 4.12 rounds 4.1213 (0.03 %). 0.5 % bounds all of it (130 m at 26 km, 2.1 km at 420 km).
    radar = make_radar(alt_m=h_antenna_m)
    closed_form_m = 4.12e3 * (math.sqrt(h_antenna_m) + math.sqrt(h_target_m))
    site = ecef(SITE_LAT_DEG, SITE_LON_DEG, h_antenna_m)
    for bearing_deg in (0.0, 60.0, 90.0, 225.0):

        def target(dist_m, bearing_deg=bearing_deg):
            return ecef(*destination_deg(SITE_LAT_DEG, SITE_LON_DEG, bearing_deg, dist_m), h_target_m)

        lo, hi = 1_000.0, 2.0 * closed_form_m
        assert radar.visible(target(lo), 0.0) and not radar.visible(target(hi), 0.0)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if radar.visible(target(mid), 0.0) else (lo, mid)
        slant_m = np.linalg.norm(target(lo) - site)
        assert slant_m == pytest.approx(closed_form_m, rel=5e-3), bearing_deg


def test_targets_just_beyond_the_horizon_are_never_detected() -> None:
    # 30 m antenna, 500 m target: horizon ≈ 4.12 (√30 + √500) = 114.7 km. With SNR ~ 1e8 the target is
    # seen in every one of 2,000 scans just inside it (-1 %), and in none just outside (+1 %).
    radar = make_radar(alt_m=30.0)
    horizon_m = 4.12e3 * (math.sqrt(30.0) + math.sqrt(500.0))
    pos = np.array(
        [ecef(*destination_deg(SITE_LAT_DEG, SITE_LON_DEG, 45.0, f * horizon_m), 500.0) for f in (0.99, 1.01)]
    )
    _, labels = observe(radar, truth_of(pos, t_s=np.arange(2000) * 5.0))
    assert detected_of(labels, "T0") == 2000
    assert detected_of(labels, "T1") == 0


def test_ship_radar_sees_a_sea_skimmer_to_its_horizon() -> None:
    # A 25 m mast and a 5 m sea-skimmer: 4.12 (5 + √5) = 29.8 km (closed form, 0.5 % as above).
    # The lower elevation limit must be below the horizon dip (-0.15°) for the horizon to bind.
    ship = schema.ShipRadar.model_validate(
        dict(
            kind="ship_radar",
            id="DDG",
            nation="USA",
            route=[{"lat_deg": 22.0, "lon_deg": 133.0}],
            antenna_height_m=25.0,
            elevation_min_deg=-1.0,
            max_range_m=300_000.0,
            revisit_s=4.0,
            sigma_range_m=20.0,
            sigma_azimuth_deg=0.15,
            sigma_elevation_deg=0.15,
            sigma_range_rate_m_per_s=2.0,
            detection={"ref_range_m": 300_000.0, "snr0_db": 40.0, "false_alarms_per_scan": 0.0},
        )
    )
    radar = SurfaceRadar.from_ship(ship)
    horizon_m = 4.12e3 * (5.0 + math.sqrt(5.0))
    inside, outside = (ecef(*destination_deg(22.0, 133.0, 10.0, f * horizon_m), 5.0) for f in (0.99, 1.01))
    assert radar.visible(inside, 0.0) and not radar.visible(outside, 0.0)
    # With a 0° lower limit the skimmer (below the mast) is never searched, however close.
    level = SurfaceRadar.from_ship(ship.model_copy(update={"elevation_min_deg": 0.0}))
    close = ecef(*destination_deg(22.0, 133.0, 10.0, 3_000.0), 5.0)
    assert not level.visible(close, 0.0)


# --- coverage limits ----------------------------------------------------------------------------


def aer_targets(az_deg, el_deg, range_m, alt_m=30.0):
    """ECEF points at (az, el, slant range) from the default site, by pymap3d."""
    return np.stack(pymap3d.aer2ecef(az_deg, el_deg, range_m, SITE_LAT_DEG, SITE_LON_DEG, alt_m), axis=-1)


def test_sector_wraps_through_north() -> None:
    # Boresight 350°, width 40°: covers 330° … 10° through north.
    radar = make_radar(boresight_az_rad=math.radians(350.0), sector_width_rad=math.radians(40.0))
    az = np.array([0.0, 8.0, 9.9, 10.1, 340.0, 330.1, 329.9, 180.0, 15.0])
    expected = np.array([True, True, True, False, True, True, False, False, False])
    pos = aer_targets(az, 5.0, 50_000.0)
    np.testing.assert_array_equal(radar.visible(pos, 0.0), expected)
    _, labels = observe(radar, truth_of(pos, t_s=np.arange(20) * 5.0))
    seen = np.array([detected_of(labels, f"T{i}") for i in range(len(az))])
    np.testing.assert_array_equal(seen, np.where(expected, 20, 0))


def test_elevation_limits_use_the_apparent_elevation() -> None:
    # Limits 1° … 60°. At 60 km the 4/3-Earth apparent elevation exceeds the geometric one by
    # s/(8R) ≈ 0.07° (small-angle form of the docstring's formula: ε_app - ε_geo = s/(2R) - s/(2kR)).
    # Targets 0.15° inside / outside each limit, in apparent elevation, are seen / not seen.
    radar = make_radar(elevation_min_rad=math.radians(1.0), elevation_max_rad=math.radians(60.0))
    k_r = 4.0 / 3.0 * R_M
    dist_m = 60_000.0
    rows = []
    for apparent_deg in (0.85, 1.15, 59.85, 60.15):
        # Height on the effective sphere for that apparent elevation at ground distance s (planar triangle
        # on the k·R sphere, law of sines): r₂ = (kR + h₁) cos ε / cos(ε + θₑ), θₑ = s / (kR).
        theta_e = dist_m / k_r
        eps = math.radians(apparent_deg)
        h2 = (k_r + 30.0) * math.cos(eps) / math.cos(eps + theta_e) - k_r
        rows.append(ecef(*destination_deg(SITE_LAT_DEG, SITE_LON_DEG, 30.0, dist_m), h2))
    np.testing.assert_array_equal(radar.visible(np.array(rows), 0.0), [False, True, True, False])


def test_range_limits() -> None:
    radar = make_radar(min_range_m=20_000.0, max_range_m=200_000.0)
    pos = aer_targets(90.0, 10.0, np.array([19_900.0, 20_100.0, 199_900.0, 200_100.0]))
    np.testing.assert_array_equal(radar.visible(pos, 0.0), [False, True, True, False])


def test_inactive_samples_are_never_detected() -> None:
    radar = make_radar()
    pos = aer_targets(np.array([10.0, 200.0]), 5.0, 80_000.0)
    active = np.zeros((2, 100), dtype=bool)
    active[0, 20:60] = True  # target 0 exists for 40 scans, target 1 never
    batch, labels = observe(radar, truth_of(pos, t_s=np.arange(100) * 5.0, active=active))
    assert detected_of(labels, "T0") == 40 and detected_of(labels, "T1") == 0
    assert np.all((batch.time_s >= 100.0) & (batch.time_s < 300.0))


# --- detection probability and false alarms -----------------------------------------------------


def test_pd_matches_swerling_1_at_several_snrs_and_aspects() -> None:
    # Swerling 1: Pd = Pfa^(1/(1+SNR)), SNR = SNR₀ (R₀/R)⁴ (σ/σ₀). Aircraft RCS (signatures table):
    # nose 2 m², beam 10 m², tail 4 m². Each (range, aspect) target is observed in 4,000 scans; the
    # detected fraction must lie within 4 binomial standard errors √(Pd(1-Pd)/n) (≤ 0.008).
    pfa, snr0_db, r0_m, sigma0_m2 = 1e-3, 10.0, 100_000.0, 2.0
    det = DetectionModel(
        snr0_db=snr0_db, ref_range_m=r0_m, ref_rcs_m2=sigma0_m2, pfa=pfa, false_alarms_per_scan=0
    )
    radar = make_radar(detection=det)
    site = ecef(SITE_LAT_DEG, SITE_LON_DEG, 30.0)
    pos, vel, rcs = [], [], []
    for range_m in (60_000.0, 100_000.0, 140_000.0, 190_000.0):
        p = aer_targets(20.0, 2.0, range_m)
        to_radar = (site - p) / np.linalg.norm(site - p)
        east = np.stack(pymap3d.enu2uvw(1.0, 0.0, 0.0, SITE_LAT_DEG, SITE_LON_DEG), -1)
        beam = np.cross(to_radar, np.cross(east, to_radar))  # perpendicular to the line of sight
        for v, sigma in ((to_radar, 2.0), (-to_radar, 4.0), (beam / np.linalg.norm(beam), 10.0)):
            pos.append(p), vel.append(250.0 * v), rcs.append(sigma)
    n_scans = 4000
    _, labels = observe(radar, truth_of(np.array(pos), np.array(vel), t_s=np.arange(n_scans) * 5.0), seed=7)
    for i, (p, sigma) in enumerate(zip(pos, rcs, strict=True)):
        _, _, slant = pymap3d.ecef2aer(*p, SITE_LAT_DEG, SITE_LON_DEG, 30.0)
        snr = 10 ** (snr0_db / 10) * (r0_m / slant) ** 4 * sigma / sigma0_m2
        pd = pfa ** (1.0 / (1.0 + snr))
        fraction = detected_of(labels, f"T{i}") / n_scans
        assert abs(fraction - pd) <= 4.0 * math.sqrt(pd * (1 - pd) / n_scans), (i, snr, pd, fraction)


def test_false_alarm_counts_are_poisson_and_inside_the_volume() -> None:
    # No targets, 20,000 scans, mean λ = 2.5: the count per scan has mean λ (standard error √(λ/n) =
    # 0.011) and variance λ (standard error √((λ + 2λ²)/n) = 0.029 for Poisson); bounds at 5 SE.
    lam, n_scans = 2.5, 20_000
    det = DetectionModel(snr0_db=13.0, ref_range_m=1e6, false_alarms_per_scan=lam)
    radar = make_radar(
        detection=det,
        boresight_az_rad=math.radians(350.0),
        sector_width_rad=math.radians(60.0),
        elevation_min_rad=math.radians(-1.0),
        elevation_max_rad=math.radians(40.0),
        min_range_m=5_000.0,
        max_range_m=400_000.0,
        sigmas=(50.0, 0.002, 0.002, 5.0),
    )
    batch, labels = observe(radar, truth_of(np.zeros((0, 3)), t_s=np.arange(n_scans) * 5.0))
    assert np.all(labels.is_false_alarm)
    counts = np.bincount(np.rint(batch.time_s / 5.0).astype(int), minlength=n_scans)
    assert abs(counts.mean() - lam) < 5 * math.sqrt(lam / n_scans)
    assert abs(counts.var(ddof=1) - lam) < 5 * math.sqrt((lam + 2 * lam**2) / n_scans)
    rng_m, az, el, rate = batch.z.T
    assert np.all((rng_m >= 5_000.0) & (rng_m <= 400_000.0))
    offset_deg = (np.degrees(az) - 350.0 + 180.0) % 360.0 - 180.0
    assert np.all(np.abs(offset_deg) <= 30.0) and np.all((az >= 0) & (az < 2 * math.pi))
    assert np.all((el >= math.radians(-1.0)) & (el <= math.radians(40.0)))
    assert np.all(np.abs(rate) <= FALSE_ALARM_RANGE_RATE_MAX_M_PER_S)
    # Uniform in each coordinate (resolution cells): Kolmogorov-Smirnov against the uniform law.
    for values, lo, hi in ((rng_m, 5_000.0, 400_000.0), (offset_deg, -30.0, 30.0), (rate, -8000.0, 8000.0)):
        assert stats.kstest(values, stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3
    np.testing.assert_array_equal(batch.cov[:, 0, 0], 50.0**2)


# --- measurements -------------------------------------------------------------------------------


def test_measurement_noise_has_zero_mean_and_the_declared_covariance() -> None:
    # 20,000 detections of one still target. Per component: |mean error| < 4σ/√n, sample variance
    # within 4 standard errors (√(2/(n-1)) σ², i.e. ±4 %), correlations |r| < 4/√n = 0.028.
    sig = (30.0, math.radians(0.1), math.radians(0.2), 4.0)
    radar = make_radar(sigmas=sig)
    p = aer_targets(123.0, 3.0, 150_000.0)
    v = np.array([150.0, -200.0, 30.0])
    n = 20_000
    batch, labels = observe(radar, truth_of(p[None], v[None], t_s=np.arange(n) * 5.0), seed=3)
    assert len(batch) == n and not np.any(labels.is_false_alarm)
    az0, el0, r0 = pymap3d.ecef2aer(
        *p, math.radians(SITE_LAT_DEG), math.radians(SITE_LON_DEG), 30.0, deg=False
    )
    site = ecef(SITE_LAT_DEG, SITE_LON_DEG, 30.0)
    rate0 = np.dot(p - site, v) / np.linalg.norm(p - site)
    err = batch.z - np.array([r0, az0, el0, rate0])
    err[:, 1] = (err[:, 1] + math.pi) % (2 * math.pi) - math.pi
    sig = np.array(sig)
    assert np.all(np.abs(err.mean(axis=0)) < 4 * sig / math.sqrt(n))
    assert np.all(np.abs(err.var(axis=0, ddof=1) / sig**2 - 1.0) < 4 * math.sqrt(2.0 / (n - 1)))
    corr = np.corrcoef(err.T)
    assert np.all(np.abs(corr[np.triu_indices(4, 1)]) < 4 / math.sqrt(n))
    np.testing.assert_array_equal(batch.cov[0], np.diag(sig**2))


def test_noise_free_geometry_matches_pymap3d() -> None:
    # Random sites and targets; pymap3d.ecef2aer is an independent implementation of ECEF -> AER.
    # Range to 1 mm and angles to 1e-9 rad (6 µm at 6,000 km: float64 rounding, no model error).
    # Range-rate: central difference of pymap3d's range along the target's velocity (δt = 1 ms;
    # truncation ≈ v³δt²/(6R²) < 1e-5 m/s at 1 km, rounding ~1e-6 m/s), to 1e-4 m/s.
    gen = np.random.default_rng(2024)
    compared = 0
    for _ in range(5):
        lat0, lon0, h0 = gen.uniform(-70, 70), gen.uniform(-180, 180), gen.uniform(0, 500)
        radar = make_radar(lat_deg=lat0, lon_deg=lon0, alt_m=h0)
        n = 200
        pts = [
            destination_deg(lat0, lon0, b, d)
            for b, d in zip(gen.uniform(0, 360, n), gen.uniform(1e3, 5e5, n), strict=True)
        ]
        lat, lon = np.array(pts).T
        pos = ecef(lat, lon, gen.uniform(0, 30_000, n))
        vel = gen.normal(0, 300, (n, 3))
        batch, labels = observe(radar, truth_of(pos, vel))
        idx = np.array([int(s[1:]) for s in labels.target_id])
        p, v = pos[idx], vel[idx]
        az, el, rng_m = pymap3d.ecef2aer(*p.T, math.radians(lat0), math.radians(lon0), h0, deg=False)
        np.testing.assert_allclose(batch.z[:, 0], rng_m, rtol=0, atol=1e-3)
        az_err = (batch.z[:, 1] - az + math.pi) % (2 * math.pi) - math.pi
        assert np.all(np.abs(az_err) < 1e-9)
        np.testing.assert_allclose(batch.z[:, 2], el, rtol=0, atol=1e-9)
        dt = 1e-3
        ahead = pymap3d.ecef2aer(*(p + v * dt).T, lat0, lon0, h0)[2]
        behind = pymap3d.ecef2aer(*(p - v * dt).T, lat0, lon0, h0)[2]
        np.testing.assert_allclose(batch.z[:, 3], (ahead - behind) / (2 * dt), rtol=0, atol=1e-4)
        compared += len(batch)
    assert compared > 300  # the rest are below the horizon


def test_rcs_follows_the_aspect_and_falls_back_for_unknown_kinds() -> None:
    # signatures table, aircraft: nose 2 m² within 30° of the velocity, beam 10 m², tail 4 m². An
    # unknown kind keeps the truth's aspect-averaged rcs_m2 (here 7 m²).
    truth = truth_of(np.zeros((2, 3)), kinds=["aircraft", "zeppelin"], rcs_m2=7.0)
    aspect = np.radians([10.0, 90.0, 170.0, 90.0])
    target = np.array([0, 0, 0, 1])
    got = aspect_rcs_m2(truth, target, np.zeros(4, dtype=np.intp), aspect)
    np.testing.assert_array_equal(got, [2.0, 10.0, 4.0, 7.0])


# --- ships --------------------------------------------------------------------------------------

ROUTE = [(22.0, 133.0), (22.5, 134.5), (21.5, 135.5)]


def ship_radar(route=ROUTE, speed=9.0, height=25.0, **kw):
    ship = schema.ShipRadar.model_validate(
        dict(
            kind="ship_radar",
            id="USA-ddg",
            nation="USA",
            route=[{"lat_deg": a, "lon_deg": b} for a, b in route],
            speed_m_per_s=speed,
            antenna_height_m=height,
            elevation_min_deg=-2.0,
            max_range_m=350_000.0,
            revisit_s=4.0,
            sigma_range_m=20.0,
            sigma_azimuth_deg=0.15,
            sigma_elevation_deg=0.15,
            sigma_range_rate_m_per_s=2.0,
            detection={"ref_range_m": 300_000.0, "false_alarms_per_scan": 0.0},
            **kw,
        )
    )
    return SurfaceRadar.from_ship(ship)


def test_ship_sails_its_route_at_constant_speed_and_stays_at_the_end() -> None:
    # Distance sailed on the sphere (haversine, R = 6,371,008.8 m) is speed × t: to 1 mm on the first
    # leg, and on the second leg counted from the turning point. The position lies on the great
    # circle (spherical direct problem from the start along the initial course), to 1 mm.
    radar, speed = ship_radar(), 9.0
    leg1_m = float(haversine_m(*ROUTE[0], *ROUTE[1]))
    leg2_m = float(haversine_m(*ROUTE[1], *ROUTE[2]))
    t = np.array([0.0, 3_600.0, leg1_m / speed + 5_000.0, 1e7])
    state = radar.platform.state_at(t)
    lat, lon, alt = pymap3d.ecef2geodetic(*state.pos_m.T)
    np.testing.assert_allclose(alt, 25.0, atol=1e-6)
    assert haversine_m(*ROUTE[0], lat[0], lon[0]) < 1e-3
    assert float(haversine_m(*ROUTE[0], lat[1], lon[1])) == pytest.approx(speed * 3_600.0, abs=1e-3)
    course = initial_bearing_deg(*ROUTE[0], *ROUTE[1])
    expected = destination_deg(*ROUTE[0], course, speed * 3_600.0)
    assert haversine_m(*expected, lat[1], lon[1]) < 1e-3
    assert float(haversine_m(*ROUTE[1], lat[2], lon[2])) == pytest.approx(5_000.0 * speed, abs=1e-3)
    assert radar.platform.route_length_m == pytest.approx(leg1_m + leg2_m, abs=1e-3)
    assert haversine_m(*ROUTE[2], lat[3], lon[3]) < 1e-3
    np.testing.assert_array_equal(state.vel_m_per_s[3], 0.0)


def test_ship_velocity_is_the_derivative_of_its_position() -> None:
    # Central difference of the positions (δt = 1 s; truncation ≈ v²·δt²/(6R) ~ 1e-11 m/s) against the
    # reported ECEF velocity, to 1e-6 m/s. Its magnitude is the speed within the map stretch
    # (-0.56 % … +0.64 %, module docstring).
    radar = ship_radar()
    t = np.array([100.0, 9_000.0, 20_000.0, 34_000.0])
    vel = radar.platform.state_at(t).vel_m_per_s
    diff = (radar.platform.state_at(t + 1.0).pos_m - radar.platform.state_at(t - 1.0).pos_m) / 2.0
    np.testing.assert_allclose(vel, diff, rtol=0, atol=1e-6)
    assert np.all(np.abs(np.linalg.norm(vel, axis=-1) / 9.0 - 1.0) < 0.0065)


def test_ship_range_rate_includes_the_ship_velocity() -> None:
    # A still target 20 km ahead on the ship's great circle, 50 m up. Expected range-rate: the central
    # difference of |target − ship(t)| with pymap3d/independent positions of the ship at t ± 0.01 s.
    radar = ship_radar()
    t = np.array([1_000.0])
    ship_now = radar.platform.state_at(t)
    lat_s, lon_s, _ = pymap3d.ecef2geodetic(*ship_now.pos_m[0])
    course = initial_bearing_deg(lat_s, lon_s, *ROUTE[1])
    target = ecef(*destination_deg(lat_s, lon_s, course, 20_000.0), 50.0)
    noise_free = dataclasses.replace(radar, sigma_range_rate_m_per_s=TINY)
    batch, labels = observe(noise_free, truth_of(target[None], t_s=t))
    assert len(batch) == 1 and labels.target_id[0] == "T0"
    ahead = np.linalg.norm(target - radar.platform.state_at(t + 0.01).pos_m[0])
    behind = np.linalg.norm(target - radar.platform.state_at(t - 0.01).pos_m[0])
    assert batch.z[0, 3] == pytest.approx((ahead - behind) / 0.02, abs=1e-4)
    assert batch.z[0, 3] == pytest.approx(-9.0, rel=0.007)  # closing at the ship's speed
    np.testing.assert_allclose(batch.sensor_pos_m[0], ship_now.pos_m[0])
    np.testing.assert_allclose(batch.sensor_vel_m_per_s[0], ship_now.vel_m_per_s[0])


def test_one_point_route_or_zero_speed_is_on_station() -> None:
    for radar in (ship_radar(route=[(10.0, 150.0)]), ship_radar(speed=0.0)):
        state = radar.platform.state_at(np.array([0.0, 5_000.0]))
        np.testing.assert_array_equal(state.pos_m[0], state.pos_m[1])
        np.testing.assert_array_equal(state.vel_m_per_s, 0.0)


def test_antipodal_route_points_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="antipodal"):
        ship_radar(route=[(10.0, 20.0), (-10.0, -160.0)])


# --- scenario constructors, scans and the batch contract ---------------------------------------


def scenario_radar(**kw):
    base = dict(
        kind="radar",
        id="JPN-r",
        nation="JPN",
        site={"lat_deg": 31.67, "lon_deg": 129.69, "alt_m": 200.0},
        boresight_az_deg=250.0,
        sector_width_deg=240.0,
        elevation_min_deg=0.5,
        elevation_max_deg=85.0,
        max_range_m=1_500_000.0,
        revisit_s=5.0,
        sigma_range_m=50.0,
        sigma_azimuth_deg=0.1,
        sigma_elevation_deg=0.1,
        sigma_range_rate_m_per_s=5.0,
        detection={"snr0_db": 13.0, "ref_range_m": 1_000_000.0, "false_alarms_per_scan": 1.0},
    )
    base.update(kw)
    return schema.Radar.model_validate(base)


def test_from_scenario_converts_degrees_and_keeps_the_parameters() -> None:
    radar = SurfaceRadar.from_scenario(scenario_radar())
    assert (radar.sensor_id, radar.nation, radar.revisit_s) == ("JPN-r", "JPN", 5.0)
    assert radar.boresight_az_rad == pytest.approx(math.radians(250.0))
    assert radar.sector_width_rad == pytest.approx(math.radians(240.0))
    assert radar.sigmas == pytest.approx((50.0, math.radians(0.1), math.radians(0.1), 5.0))
    assert radar.platform.alt_m == 200.0 and radar.detection.pfa == 1e-6


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"elevation_min_deg": 30.0, "elevation_max_deg": 20.0}, "elevation"),
        ({"min_range_m": 2_000_000.0}, "range interval is empty"),
    ],
)
def test_inconsistent_parameters_are_refused(change, message) -> None:
    with pytest.raises(ValueError, match=message) as info:
        SurfaceRadar.from_scenario(scenario_radar(**change))
    assert "JPN-r" in str(info.value)


def test_look_times_are_multiples_of_the_revisit() -> None:
    radar = make_radar(revisit_s=5.0)
    np.testing.assert_array_equal(radar.look_times(0.0, 20.0), [0.0, 5.0, 10.0, 15.0])
    np.testing.assert_array_equal(radar.look_times(7.0, 20.0), [10.0, 15.0])
    np.testing.assert_array_equal(radar.look_times(10.0, 10.0), [])
    assert len(make_radar(revisit_s=0.1).look_times(0.0, 1.0)) == 10  # 0.0 … 0.9, never 1.0


def test_batch_contract_ids_order_padding_and_labels() -> None:
    # Shapes and kind, ids consecutive from first_id, rows by (time, azimuth) so their order says
    # nothing of which are false alarms, labels joined by id and true to their target, no truth inside.
    det = DetectionModel(snr0_db=30.0, ref_range_m=300_000.0, false_alarms_per_scan=3.0)
    sig = (50.0, math.radians(0.2), math.radians(0.2), 5.0)
    radar = make_radar(detection=det, sigmas=sig)
    az = np.linspace(0.0, 350.0, 12)
    pos = aer_targets(az, 4.0, np.linspace(30_000.0, 150_000.0, 12))
    t = np.arange(50) * 5.0
    truth = truth_of(pos, np.full((12, 3), 100.0), t_s=t)
    batch, labels = observe(radar, truth, first_id=1000)
    m = len(batch)
    assert m > 12 * 50 * 0.9 and np.any(labels.is_false_alarm)
    np.testing.assert_array_equal(batch.detection_id, np.arange(1000, 1000 + m))
    np.testing.assert_array_equal(labels.detection_id, batch.detection_id)
    assert batch.z.shape == (m, Z_MAX) and batch.cov.shape == (m, Z_MAX, Z_MAX)
    assert not np.any(np.isnan(batch.z)) and not np.any(np.isnan(batch.cov))  # radar uses all 4 columns
    assert np.all(batch.kind == MEASUREMENT_KINDS.index("radar")) and set(batch.sensor_id) == {"R1"}
    assert np.all(np.diff(batch.time_s) >= 0)
    for scan in t:
        rows = batch.time_s == scan
        assert np.all(np.diff(batch.z[rows, 1]) >= 0)
    assert set(DetectionBatch.__dataclass_fields__) == {
        "detection_id", "time_s", "sensor_id", "kind", "z", "cov", "sensor_pos_m", "sensor_vel_m_per_s"
    }  # fmt: skip
    # Label join: each labelled detection is within 6σ of its target's true range at that scan.
    by_id = dict(zip(labels.detection_id.tolist(), labels.target_id.tolist(), strict=True))
    _, _, true_range = pymap3d.ecef2aer(*pos.T, SITE_LAT_DEG, SITE_LON_DEG, 30.0)
    for det_id, r in zip(batch.detection_id, batch.z[:, 0], strict=True):
        target = by_id[int(det_id)]
        if target:
            assert abs(r - true_range[int(target[1:])]) < 6 * sig[0]
    np.testing.assert_allclose(
        batch.sensor_pos_m, np.broadcast_to(ecef(SITE_LAT_DEG, SITE_LON_DEG, 30.0), (m, 3))
    )
    np.testing.assert_array_equal(batch.sensor_vel_m_per_s, 0.0)


def test_same_seed_same_detections() -> None:
    det = DetectionModel(snr0_db=10.0, ref_range_m=100_000.0, false_alarms_per_scan=2.0)
    radar = make_radar(detection=det, sigmas=(50.0, 0.002, 0.002, 5.0))
    truth = truth_of(aer_targets(np.array([10.0, 100.0]), 3.0, 120_000.0), t_s=np.arange(30) * 5.0)
    a, la = observe(radar, truth, seed=9)
    b, lb = observe(radar, truth, seed=9)
    np.testing.assert_array_equal(a.z, b.z)
    np.testing.assert_array_equal(la.target_id, lb.target_id)


def test_no_targets_no_false_alarms_gives_an_empty_batch() -> None:
    batch, labels = observe(make_radar(), truth_of(np.zeros((0, 3)), t_s=np.arange(3) * 5.0))
    assert len(batch) == 0 and len(labels.detection_id) == 0 and batch.z.shape == (0, Z_MAX)
