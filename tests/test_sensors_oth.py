"""Skywave OTH radar (`kizuna.sensors.oth`): ground range, azimuth, range-rate, window, detection.

Reference values come from outside the module: pymap3d's Vincenty geodesic (``vdist`` / ``vreckon``,
T. Vincenty, Survey Review 23(176), 1975) for ground ranges, geodesic azimuths and placing targets,
pymap3d's ``geodetic2aer`` for the ENU azimuth, finite differences of Vincenty distances for the
range-rate, and Swerling 1 Pd = Pfa^(1/(1+SNR)) (Skolnik, *Introduction to Radar Systems*, 3rd ed.,
§2.8) with the radar equation written out here.

The model computes ground range with Lambert's long-line formula, which its docstring states to
1.5e-6 of the distance; tolerances below say where that enters. Statistical checks use fixed seeds
and 4 to 5 standard errors, each stated.
"""

from __future__ import annotations

import math

import numpy as np
import pymap3d
import pytest
from pymap3d.vincenty import vdist, vreckon

from kizuna.scenario import schema
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX
from kizuna.sensors.oth import (
    OTH_MAX_ALTITUDE_M,
    OthRadar,
    ground_range_m,
    oth_measurement,
    sub_point_azimuth_rad,
)
from kizuna.sensors.radar import FALSE_ALARM_RANGE_RATE_MAX_M_PER_S, DetectionModel
from kizuna.truth.samples import TruthSamples

SITE_LAT_DEG, SITE_LON_DEG, SITE_ALT_M = -23.66, 144.15, 200.0
LAMBERT_REL = 1.5e-6
"""Stated accuracy of the model's ground range against the WGS-84 geodesic (fraction of the distance)."""


def place(dist_m, az_deg, alt_m):
    """ECEF points at geodesic distance and azimuth from the site (pymap3d Vincenty), at a height."""
    lat, lon = vreckon(SITE_LAT_DEG, SITE_LON_DEG, dist_m, az_deg)
    return np.stack(pymap3d.geodetic2ecef(lat, lon, alt_m), axis=-1)


def truth_of(pos_m, vel_m_per_s=None, *, t_s=(0.0,), kinds=None, active=None):
    """TruthSamples of still targets ``(N, 3)`` held over ``len(t_s)`` looks."""
    t = np.asarray(t_s, dtype=float)
    pos = np.repeat(np.asarray(pos_m, dtype=float).reshape(-1, 3)[:, None, :], len(t), axis=1)
    vel = (
        np.zeros_like(pos)
        if vel_m_per_s is None
        else np.repeat(np.asarray(vel_m_per_s)[:, None, :], len(t), 1)
    )
    n = pos.shape[0]
    act = np.ones(pos.shape[:2], dtype=bool) if active is None else np.asarray(active)
    return TruthSamples(
        target_ids=tuple(f"T{i}" for i in range(n)),
        kinds=tuple(kinds or ["aircraft"] * n),
        t_s=t,
        pos_m=np.where(act[..., None], pos, np.nan),
        vel_m_per_s=np.where(act[..., None], vel, np.nan),
        active=act,
        phase=np.where(act, 0, -1).astype(np.int8),
        ir_intensity_w_per_sr=np.where(act, 1.0, np.nan),
        rcs_m2=np.where(act, 10.0, np.nan),
    )


def scenario_oth(**kw):
    base = dict(
        kind="oth_radar",
        id="AUS-oth",
        nation="AUS",
        site={"lat_deg": SITE_LAT_DEG, "lon_deg": SITE_LON_DEG, "alt_m": SITE_ALT_M},
        boresight_az_deg=0.0,
        sector_width_deg=90.0,
        min_ground_range_m=1_000_000.0,
        max_ground_range_m=3_000_000.0,
        revisit_s=20.0,
        sigma_ground_range_m=5_000.0,
        sigma_azimuth_deg=0.5,
        sigma_range_rate_m_per_s=3.0,
        detection={
            "snr0_db": 60.0,
            "ref_range_m": 2_000_000.0,
            "ref_rcs_m2": 10.0,
            "false_alarms_per_scan": 0.0,
        },
    )
    base.update(kw)
    return schema.OthRadar.model_validate(base)


def make_oth(**kw):
    return OthRadar.from_scenario(scenario_oth(**kw))


def observe(radar, truth, seed=1, first_id=0):
    return radar.observe(truth, first_id, np.random.default_rng(seed))


def count(labels, target_id):
    return np.count_nonzero(labels.target_id == target_id)


def vincenty_ground_range_m(pos_m):
    lat, lon, _ = pymap3d.ecef2geodetic(*np.asarray(pos_m).T)
    return np.asarray(vdist(SITE_LAT_DEG, SITE_LON_DEG, lat, lon)[0])


# --- geometry against pymap3d --------------------------------------------------------------------


def test_ground_range_matches_the_vincenty_geodesic() -> None:
    # 20,000 random pairs anywhere, kept up to 10,000 km: Lambert's formula is within 1.5e-6 of the
    # distance (≤ 4.5 m at 3,000 km: 0.1 % of a 5 km OTH range sigma) plus 1 mm of rounding.
    gen = np.random.default_rng(11)
    n = 20_000
    lat1, lat2 = gen.uniform(-89, 89, (2, n))
    lon1, lon2 = gen.uniform(-180, 180, (2, n))
    ref = np.asarray(vdist(lat1, lon1, lat2, lon2)[0])
    keep = ref < 1e7
    got = ground_range_m(*np.radians([lat1[keep], lon1[keep], lat2[keep], lon2[keep]]))
    assert keep.sum() > 5_000
    assert np.all(np.abs(got - ref[keep]) <= LAMBERT_REL * ref[keep] + 1e-3)
    assert ground_range_m(0.3, 1.2, 0.3, 1.2) == 0.0


def test_azimuth_is_the_sub_point_enu_azimuth_and_close_to_the_geodesic_azimuth() -> None:
    # pymap3d.geodetic2aer of the ground point (lat, lon, 0) is an independent ENU azimuth: equal to
    # 1e-9 rad. The geodesic's own azimuth (vdist) differs by < 0.01° within 3,000 km (stated; 2 % of
    # a 0.5° OTH azimuth sigma).
    gen = np.random.default_rng(5)
    n = 2_000
    lat0, lon0 = gen.uniform(-60, 60, n), gen.uniform(-180, 180, n)
    az_deg, dist_m = gen.uniform(0, 360, n), gen.uniform(5e5, 3e6, n)
    lat, lon = (np.asarray(x) for x in vreckon(lat0, lon0, dist_m, az_deg))
    got = sub_point_azimuth_rad(np.radians(lat0), np.radians(lon0), np.radians(lat), np.radians(lon))
    enu_az, _, _ = pymap3d.geodetic2aer(lat, lon, 0.0, lat0, lon0, 0.0, deg=True)
    assert np.all(np.abs((got - np.radians(enu_az) + math.pi) % (2 * math.pi) - math.pi) < 1e-9)
    assert np.all(np.abs((np.degrees(got) - az_deg + 180.0) % 360.0 - 180.0) < 0.01)
    assert np.all((got >= 0.0) & (got < 2 * math.pi))


def test_range_rate_is_the_rate_of_change_of_the_geodesic_ground_range() -> None:
    # Random targets (0-100 km up, 0.5-3 Mm away) with random 3-D velocities. Reference: central
    # difference of Vincenty distances to the targets' sub-points along their ECEF motion (δt = 0.05 s;
    # truncation < 1e-4 m/s). Allowed: 5e-6 of the speed (the gradient of Lambert's error, measured
    # 2.7e-6: 0.04 m/s at 8 km/s against a 3 m/s sigma) plus 5 mm/s of rounding.
    gen = np.random.default_rng(8)
    n = 400
    pos = place(gen.uniform(5e5, 3e6, n), gen.uniform(0, 360, n), gen.uniform(0, 1e5, n))
    vel = gen.normal(0.0, 2_000.0, (n, 3))
    _, _, rate = oth_measurement(math.radians(SITE_LAT_DEG), math.radians(SITE_LON_DEG), pos, vel)
    dt = 0.05
    ref = (vincenty_ground_range_m(pos + vel * dt) - vincenty_ground_range_m(pos - vel * dt)) / (2 * dt)
    assert np.all(np.abs(rate - ref) <= 5e-6 * np.linalg.norm(vel, axis=1) + 5e-3)


def test_range_rate_of_radial_tangential_and_vertical_motion() -> None:
    # A target 1,500 km out at sea level. Flying away along the geodesic (Vincenty back azimuth
    # + 180°) at 250 m/s the ground range grows at 250 m/s; across it: 0; climbing: 0. Tolerance 2 mm/s
    # (Lambert's gradient error, 2.7e-6 × 250 m/s, plus rounding). At 10 km altitude the same level
    # flight moves the sub-point slower by R/(R + h): 250 × (1 − 10/6,370) ≈ 249.61 m/s (±0.01 for
    # R = 6,335 … 6,400 km, the WGS-84 radii of curvature).
    lat, lon = vreckon(SITE_LAT_DEG, SITE_LON_DEG, 1_500_000.0, 20.0)
    _, back_az_deg = vdist(lat, lon, SITE_LAT_DEG, SITE_LON_DEG)
    away = math.radians(float(back_az_deg) + 180.0)
    velocities_enu = [
        (250.0 * math.sin(away), 250.0 * math.cos(away), 0.0),
        (250.0 * math.cos(away), -250.0 * math.sin(away), 0.0),
        (0.0, 0.0, 300.0),
    ]
    vel = np.array([np.stack(pymap3d.enu2uvw(*v, lat, lon)) for v in velocities_enu])
    site = (math.radians(SITE_LAT_DEG), math.radians(SITE_LON_DEG))
    pos = np.stack(pymap3d.geodetic2ecef(lat, lon, 0.0))
    _, _, rate = oth_measurement(*site, np.tile(pos, (3, 1)), vel)
    np.testing.assert_allclose(rate, [250.0, 0.0, 0.0], rtol=0, atol=2e-3)
    high = np.stack(pymap3d.geodetic2ecef(lat, lon, 10_000.0))
    _, _, rate_high = oth_measurement(*site, high, vel[0])
    assert rate_high[0] == pytest.approx(250.0 * (1 - 10e3 / 6_370e3), abs=0.01)


# --- the skywave window ---------------------------------------------------------------------------


def test_window_sector_and_altitude_decide_visibility_not_line_of_sight() -> None:
    # Window 1,000-3,000 km, sector 0° ± 45° (through north), up to 100 km height. Ground ranges
    # ±1 % (10 km, far beyond Lambert's 1.5e-6) off each edge. A target 2,000 km out at 100 m is
    # 4,000 km beyond any radio horizon and still seen: no line-of-sight test.
    radar = make_oth()
    cases = [
        (990_000.0, 0.0, 5_000.0, False),
        (1_010_000.0, 0.0, 5_000.0, True),
        (2_970_000.0, 10.0, 5_000.0, True),
        (3_030_000.0, 10.0, 5_000.0, False),
        (2_000_000.0, 44.0, 100.0, True),
        (2_000_000.0, 46.0, 100.0, False),
        (2_000_000.0, 316.0, 100.0, True),
        (2_000_000.0, 314.0, 100.0, False),
        (2_000_000.0, 180.0, 100.0, False),
        (2_000_000.0, 0.0, OTH_MAX_ALTITUDE_M - 1_000.0, True),
        (2_000_000.0, 0.0, OTH_MAX_ALTITUDE_M + 1_000.0, False),
    ]
    pos = np.array([place(d, a, h) for d, a, h, _ in cases])
    expected = np.array([c[3] for c in cases])
    np.testing.assert_array_equal(radar.visible(pos), expected)
    _, labels = observe(radar, truth_of(pos, t_s=np.arange(10) * 20.0))
    np.testing.assert_array_equal(
        [count(labels, f"T{i}") for i in range(len(cases))], np.where(expected, 10, 0)
    )


def test_inactive_samples_are_never_detected() -> None:
    radar = make_oth()
    active = np.zeros((2, 50), dtype=bool)
    active[0, 10:30] = True
    pos = np.array([place(1.5e6, 0.0, 5_000.0), place(2.5e6, 20.0, 5_000.0)])
    _, labels = observe(radar, truth_of(pos, t_s=np.arange(50) * 20.0, active=active))
    assert count(labels, "T0") == 20 and count(labels, "T1") == 0


# --- detection and false alarms -----------------------------------------------------------------


def test_pd_matches_swerling_1_with_ground_range_in_the_radar_equation() -> None:
    # SNR = SNR₀ (R₀/R)⁴ (σ/σ₀) with R the ground range; Pd = Pfa^(1/(1+SNR)). Aircraft flying
    # straight at the site along the ground (nose-on, 2 m²) and across the line (beam, 10 m²).
    # 4,000 looks each; the detected fraction must lie within 4 binomial standard errors.
    pfa, snr0_db, r0_m, sigma0_m2 = 1e-4, 10.0, 2_000_000.0, 10.0
    radar = make_oth(
        detection={"snr0_db": snr0_db, "ref_range_m": r0_m, "ref_rcs_m2": sigma0_m2, "pfa": pfa,
                   "false_alarms_per_scan": 0.0}
    )  # fmt: skip
    pos, vel, rcs = [], [], []
    for dist_m in (1_200_000.0, 1_600_000.0, 2_200_000.0):
        lat, lon = vreckon(SITE_LAT_DEG, SITE_LON_DEG, dist_m, 10.0)
        _, to_site_deg = vdist(lat, lon, SITE_LAT_DEG, SITE_LON_DEG)
        to_site = math.radians(float(to_site_deg))
        p = np.stack(pymap3d.geodetic2ecef(lat, lon, 8_000.0))
        for heading, sigma in ((to_site, 2.0), (to_site + math.pi / 2, 10.0)):
            pos.append(p)
            vel.append(
                np.stack(pymap3d.enu2uvw(200 * math.sin(heading), 200 * math.cos(heading), 0.0, lat, lon))
            )
            rcs.append(sigma)
    n = 4_000
    _, labels = observe(radar, truth_of(np.array(pos), np.array(vel), t_s=np.arange(n) * 20.0), seed=4)
    ground = vincenty_ground_range_m(np.array(pos))
    for i, sigma in enumerate(rcs):
        snr = 10 ** (snr0_db / 10) * (r0_m / ground[i]) ** 4 * sigma / sigma0_m2
        pd = pfa ** (1 / (1 + snr))
        fraction = count(labels, f"T{i}") / n
        assert abs(fraction - pd) <= 4 * math.sqrt(pd * (1 - pd) / n), (i, snr, pd, fraction)


def test_false_alarms_are_poisson_and_inside_the_window() -> None:
    # λ = 3 per look over 20,000 looks: mean within 5 √(λ/n), variance within 5 √((λ + 2λ²)/n).
    lam, n = 3.0, 20_000
    radar = make_oth(
        boresight_az_deg=350.0,
        detection={"snr0_db": 10.0, "ref_range_m": 2e6, "false_alarms_per_scan": lam},
    )
    batch, labels = observe(radar, truth_of(np.zeros((0, 3)), t_s=np.arange(n) * 20.0))
    assert np.all(labels.is_false_alarm)
    counts = np.bincount(np.rint(batch.time_s / 20.0).astype(int), minlength=n)
    assert abs(counts.mean() - lam) < 5 * math.sqrt(lam / n)
    assert abs(counts.var(ddof=1) - lam) < 5 * math.sqrt((lam + 2 * lam**2) / n)
    ground, az, rate = batch.z[:, 0], batch.z[:, 1], batch.z[:, 2]
    assert np.all((ground >= 1e6) & (ground <= 3e6))
    assert np.all(np.abs((np.degrees(az) - 350.0 + 180.0) % 360.0 - 180.0) <= 45.0)
    assert np.all(np.abs(rate) <= FALSE_ALARM_RANGE_RATE_MAX_M_PER_S)
    assert np.all(np.isnan(batch.z[:, 3]))


def test_measurement_noise_has_zero_mean_and_the_declared_covariance() -> None:
    # 20,000 looks at one target 1,800 km out. References: Vincenty ground range (Lambert's bias
    # ≤ 2.7 m, 0.08 standard errors), pymap3d ENU azimuth, Vincenty finite-difference range-rate.
    # |mean error| < 4σ/√n; sample variance within 4√(2/(n-1)) (±4 %); correlations < 4/√n.
    sig = np.array([5_000.0, math.radians(0.5), 3.0])
    radar = make_oth()
    lat, lon = vreckon(SITE_LAT_DEG, SITE_LON_DEG, 1_800_000.0, 15.0)
    p = np.stack(pymap3d.geodetic2ecef(lat, lon, 9_000.0))
    v = np.stack(pymap3d.enu2uvw(120.0, -230.0, 0.0, lat, lon))
    n = 20_000
    batch, labels = observe(radar, truth_of(p[None], v[None], t_s=np.arange(n) * 20.0), seed=6)
    # SNR ≈ 1.5e6 gives Pd = 1 − 9e-6: a miss or two in 20,000 looks is expected.
    assert len(batch) >= n - 5 and not np.any(labels.is_false_alarm)
    az0 = math.radians(pymap3d.geodetic2aer(lat, lon, 0.0, SITE_LAT_DEG, SITE_LON_DEG, 0.0)[0])
    rate0 = (vincenty_ground_range_m(p + 0.05 * v) - vincenty_ground_range_m(p - 0.05 * v)) / 0.1
    n = len(batch)
    err = batch.z[:, :3] - np.array([vincenty_ground_range_m(p), az0, rate0])
    err[:, 1] = (err[:, 1] + math.pi) % (2 * math.pi) - math.pi
    assert np.all(np.abs(err.mean(axis=0)) < 4 * sig / math.sqrt(n))
    assert np.all(np.abs(err.var(axis=0, ddof=1) / sig**2 - 1.0) < 4 * math.sqrt(2.0 / (n - 1)))
    corr = np.corrcoef(err.T)
    assert np.all(np.abs(corr[np.triu_indices(3, 1)]) < 4 / math.sqrt(n))


# --- construction and the batch contract ---------------------------------------------------------


def test_from_scenario_converts_degrees() -> None:
    radar = make_oth()
    assert (radar.sensor_id, radar.nation, radar.revisit_s) == ("AUS-oth", "AUS", 20.0)
    assert radar.site_lat_rad == pytest.approx(math.radians(SITE_LAT_DEG))
    assert radar.sigmas == pytest.approx((5_000.0, math.radians(0.5), 3.0))
    np.testing.assert_array_equal(radar.look_times(0.0, 100.0), [0.0, 20.0, 40.0, 60.0, 80.0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"min_ground_range_m": 3_000_000.0}, "skywave window is empty"),
        ({"max_ground_range_m": 12_000_000.0}, "a few thousand km"),
    ],
)
def test_inconsistent_parameters_are_refused(change, message) -> None:
    with pytest.raises(ValueError, match=message) as info:
        make_oth(**change)
    assert "AUS-oth" in str(info.value)


def test_batch_contract() -> None:
    # Kind "oth"; z columns 0-2 used and column 3 NaN; covariance diag(σ²) in the 3×3 block, NaN in the
    # unused row and column; ids consecutive from first_id; rows by (time, azimuth); labels by id.
    radar = make_oth(detection={"snr0_db": 20.0, "ref_range_m": 2e6, "false_alarms_per_scan": 2.0})
    pos = np.array([place(d, a, 3_000.0) for d, a in ((1.2e6, -30.0), (1.9e6, 0.0), (2.6e6, 30.0))])
    t = np.arange(40) * 20.0
    batch, labels = observe(radar, truth_of(pos, np.full((3, 3), 50.0), t_s=t), first_id=77)
    m = len(batch)
    assert m > 0 and np.any(labels.is_false_alarm) and np.any(~labels.is_false_alarm)
    np.testing.assert_array_equal(batch.detection_id, np.arange(77, 77 + m))
    np.testing.assert_array_equal(labels.detection_id, batch.detection_id)
    assert np.all(batch.kind == MEASUREMENT_KINDS.index("oth"))
    assert batch.z.shape == (m, Z_MAX) and not np.any(np.isnan(batch.z[:, :3]))
    assert np.all(np.isnan(batch.z[:, 3]))
    np.testing.assert_array_equal(
        batch.cov[:, :3, :3], np.broadcast_to(np.diag(np.square(radar.sigmas)), (m, 3, 3))
    )
    assert np.all(np.isnan(batch.cov[:, 3, :])) and np.all(np.isnan(batch.cov[:, :, 3]))
    assert np.all(np.diff(batch.time_s) >= 0)
    for scan in t:
        assert np.all(np.diff(batch.z[batch.time_s == scan, 1]) >= 0)
    site = np.stack(pymap3d.geodetic2ecef(SITE_LAT_DEG, SITE_LON_DEG, SITE_ALT_M))
    np.testing.assert_allclose(batch.sensor_pos_m, np.broadcast_to(site, (m, 3)), atol=1e-6)
    np.testing.assert_array_equal(batch.sensor_vel_m_per_s, 0.0)
    true_ground = vincenty_ground_range_m(pos)
    for target, ground in zip(labels.target_id, batch.z[:, 0], strict=True):
        if target:
            assert abs(ground - true_ground[int(target[1:])]) < 6 * 5_000.0


def test_detection_model_is_shared_with_the_surface_radars() -> None:
    assert isinstance(make_oth().detection, DetectionModel)
