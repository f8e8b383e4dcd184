"""Tests for kizuna.sensors.space_ir: limb geometry, background, Pd, false alarms, LOS noise, contract.

Geometry references are closed-form plane geometry in the equatorial plane (where the grazing
ellipsoid is a circle of radius a + 20 km), pymap3d's elevation angle, and a ray/ellipsoid quadratic
written here; statistics are checked at 4 standard errors (a false failure about once in 16,000
runs of a test, and every run is seeded).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pymap3d
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from sgp4.api import WGS72, Satrec

from kizuna.constants import DEG
from kizuna.orbits import Constellation
from kizuna.scenario.schema import SpaceInfrared
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX
from kizuna.sensors.space_ir import (
    GRAZING_HEIGHT_M,
    SpaceInfraredLayer,
    detection_probability,
    los_visibility,
)
from kizuna.timebase import Epoch
from kizuna.truth.samples import TruthSamples

# WGS-84 (NIMA TR8350.2 table 3.1), written out here rather than imported.
A_M = 6_378_137.0
B_M = A_M * (1.0 - 1.0 / 298.257_223_563)
GRAZE_A_M, GRAZE_B_M = A_M + 20_000.0, B_M + 20_000.0
EPOCH = Epoch(dt.datetime(2027, 3, 1, 2, 0, tzinfo=dt.UTC))
SIGMA_URAD = 20.0
TH_SPACE, TH_EARTH = 2e-11, 1e-10


def _spec(**overrides):
    fields = {
        "kind": "space_ir",
        "id": "USA-leo-ir",
        "nation": "USA",
        "constellation": "layer",
        "field_of_regard_deg": 130.0,
        "frame_s": 2.0,
        "sigma_los_urad": SIGMA_URAD,
        "threshold_space_w_per_m2": TH_SPACE,
        "threshold_earth_w_per_m2": TH_EARTH,
        "false_alarms_per_frame": 0.0,
    }
    fields.update(overrides)
    return SpaceInfrared(**fields)


def _walker(total=28, planes=4, phasing=1):
    return Constellation.from_walker(
        "layer",
        total=total,
        planes=planes,
        phasing=phasing,
        altitude_m=1_000e3,
        inclination_rad=60 * DEG,
        epoch=EPOCH,
    )


def _truth(pos_m, intensity_w_per_sr, t_s, active=None):
    n, n_t = pos_m.shape[:2]
    return TruthSamples(
        target_ids=tuple(f"tgt-{i}" for i in range(n)),
        kinds=("aircraft",) * n,
        t_s=np.asarray(t_s, dtype=np.float64),
        pos_m=pos_m,
        vel_m_per_s=np.zeros_like(pos_m),
        active=np.ones((n, n_t), dtype=bool) if active is None else active,
        phase=np.zeros((n, n_t), dtype=np.int8),
        ir_intensity_w_per_sr=intensity_w_per_sr,
        rcs_m2=np.ones((n, n_t)),
    )


def _equatorial(radius_m, angle_rad):
    return np.array([radius_m * math.cos(angle_rad), radius_m * math.sin(angle_rad), 0.0])


# --- Earth occlusion and background at the limb ------------------------------------------------


@pytest.mark.parametrize(("tangent_offset_m", "expect_visible"), [(3_000.0, True), (-3_000.0, False)])
def test_limb_occlusion_at_the_grazing_height(tangent_offset_m, expect_visible):
    """Satellite at 1,000 km and a target at 100 km on opposite sides of the limb, in the equatorial
    plane. The target is placed so that the line of sight is tangent to the circle of radius
    a + 20 km ± 3 km: angle from the satellite to the tangent point arccos(ρ/r_s), from there to the
    target arccos(ρ/r_t) (plane geometry). 3 km either side of the grazing height must flip the answer
    (rounding is at the nanometre level)."""
    r_sat, r_tgt = A_M + 1_000e3, A_M + 100e3
    rho = GRAZE_A_M + tangent_offset_m
    sat = _equatorial(r_sat, 0.0)
    tgt = _equatorial(r_tgt, math.acos(rho / r_sat) + math.acos(rho / r_tgt))
    visible, earth = los_visibility(sat, tgt, math.pi)
    assert bool(visible) is expect_visible
    if expect_visible:
        assert not earth  # beyond the target the line climbs away into space: a limb/space background


@pytest.mark.parametrize(("tangent_offset_m", "expect_earth"), [(3_000.0, False), (-3_000.0, True)])
def test_background_is_earth_when_the_extended_line_meets_the_grazing_ellipsoid(
    tangent_offset_m, expect_earth
):
    """A target 70 % of the way from the satellite to the tangent point (about 115 km high, seen from
    above): the line beyond it grazes at a + 20 km ± 3 km, so it is seen against the Earth (−3 km)
    or against the limb and space (+3 km). Either way the target itself is visible."""
    r_sat = A_M + 1_000e3
    rho = GRAZE_A_M + tangent_offset_m
    sat = _equatorial(r_sat, 0.0)
    tangent = _equatorial(rho, math.acos(rho / r_sat))
    tgt = sat + 0.7 * (tangent - sat)
    visible, earth = los_visibility(sat, tgt, math.pi)
    assert visible
    assert bool(earth) is expect_earth


def test_low_targets_are_seen_exactly_when_the_satellite_is_above_their_horizon():
    """Targets below the grazing height (10 km aircraft, 0 m sea-skimmers) at many latitudes and
    ranges: visible ⇔ the satellite's elevation from the target, by pymap3d.ecef2aer (WGS-84), is
    ≥ 0. Cases within 0.01° of the horizon are left out: the grazing-frame vertical differs from the
    geodetic one by ~1e-5 rad. Always against the Earth background."""
    rng = np.random.default_rng(7)
    sat = np.array([A_M + 1_000e3, 0.0, 0.0])
    checked = 0
    for _ in range(400):
        lat, lon = rng.uniform(-50.0, 50.0), rng.uniform(-45.0, 45.0)
        alt = rng.choice([0.0, 10_000.0])
        x, y, z = pymap3d.geodetic2ecef(lat, lon, alt)
        _, el_deg, _ = pymap3d.ecef2aer(*sat, lat, lon, alt)
        if abs(el_deg) < 0.01:
            continue
        visible, earth = los_visibility(sat, np.array([x, y, z]), math.pi)
        assert bool(visible) == (el_deg > 0.0), (lat, lon, alt, el_deg)
        assert earth
        checked += 1
    assert checked > 350


def test_field_of_regard_is_a_cone_around_the_geocentric_nadir():
    """FOR 60°: a target 29.9° off the geocentric nadir is in, one 30.1° off is out (by construction)."""
    sat = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8]) * (A_M + 1_000e3)
    nadir = -sat / np.linalg.norm(sat)
    side = np.cross(nadir, [0.0, 0.0, 1.0])
    side /= np.linalg.norm(side)
    for angle_deg, inside in ((29.9, True), (30.1, False)):
        los = math.cos(angle_deg * DEG) * nadir + math.sin(angle_deg * DEG) * side
        visible, _ = los_visibility(sat, sat + 500e3 * los, 60 * DEG)
        assert bool(visible) is inside


def _segment_hits_grazing_ellipsoid(s, p):
    """Reference: does the open segment s→p cross (x² + y²)/A² + z²/B² = 1? Roots of a quadratic in t."""
    d = p - s
    w = np.array([1 / GRAZE_A_M**2, 1 / GRAZE_A_M**2, 1 / GRAZE_B_M**2])
    qa, qb, qc = np.sum(w * d * d), 2 * np.sum(w * s * d), np.sum(w * s * s) - 1.0
    disc = qb * qb - 4 * qa * qc
    if disc <= 0:
        return False, disc
    roots = ((-qb - math.sqrt(disc)) / (2 * qa), (-qb + math.sqrt(disc)) / (2 * qa))
    return any(0.0 < t < 1.0 for t in roots), disc


@settings(max_examples=300, deadline=None)
@given(
    sat_dir=st.tuples(*[st.floats(-1, 1)] * 3),
    tgt_dir=st.tuples(*[st.floats(-1, 1)] * 3),
    sat_alt_km=st.floats(300, 40_000),
    tgt_alt_km=st.floats(25, 2_000),
)
def test_occlusion_matches_a_ray_ellipsoid_quadratic(sat_dir, tgt_dir, sat_alt_km, tgt_alt_km):
    """For targets above the grazing height in the nadir hemisphere (FOR 180°), hidden ⇔ the segment
    crosses the grazing ellipsoid (roots of |W(s + t d)|² = 1 in (0, 1)): an independent formulation
    of the same surface. Near-tangent cases (discriminant within 1e-9) and targets within 0.01° of the
    satellite's horizontal plane (the FOR edge) are skipped."""
    u, v = np.array(sat_dir), np.array(tgt_dir)
    assume(np.linalg.norm(u) > 0.1 and np.linalg.norm(v) > 0.1)
    s = u / np.linalg.norm(u) * (A_M + sat_alt_km * 1e3)
    p = v / np.linalg.norm(v) * (A_M + tgt_alt_km * 1e3)
    assume(np.linalg.norm(p - s) > 1_000.0)
    cos_from_nadir = np.dot(-s, p - s) / (np.linalg.norm(s) * np.linalg.norm(p - s))
    assume(cos_from_nadir > math.cos(89.99 * DEG))
    hits, disc = _segment_hits_grazing_ellipsoid(s, p)
    assume(abs(disc) > 1e-9)
    visible, _ = los_visibility(s, p, math.pi)
    assert bool(visible) is not hits


# --- Detection probability ---------------------------------------------------------------------


def test_pd_is_a_gaussian_detector_with_the_threshold_at_snr_5():
    """Pd = Φ(5 (E/E_th − 1)); Φ from scipy.stats.norm (Φ(2) = 0.97725, Abramowitz & Stegun 26.2)."""
    ratio = np.array([0.0, 0.6, 1.0, 1.4, 3.0])
    pd = detection_probability(ratio * TH_EARTH, TH_EARTH)
    np.testing.assert_allclose(pd, norm.cdf(5.0 * (ratio - 1.0)), rtol=1e-12, atol=0)
    np.testing.assert_allclose(pd[1:4], [0.02275, 0.5, 0.97725], atol=1e-5)
    assert np.all(np.diff(detection_probability(np.linspace(0, 3, 301) * TH_EARTH, TH_EARTH)) >= 0)


def _nadir_targets(layer, t_s, alt_m):
    """Targets straight below the single satellite of `layer`, `alt_m` above the equatorial radius."""
    sat = layer.constellation.propagate(EPOCH, t_s).pos_m[0]  # (T, 3)
    r = np.linalg.norm(sat, axis=1, keepdims=True)
    return sat, sat * (A_M + alt_m) / r


def test_detection_rate_follows_pd_against_earth_and_space():
    """One satellite, 1,500 frames. Targets at nadir (Earth background) with E/E_earth = 0.6, 1, 1.4,
    and one above the limb (space background: the line misses the Earth) with E = E_space, which
    against the Earth threshold would be 0.2 E_th (Pd 3e-5). Detected fractions match Pd at 4 σ."""
    layer = SpaceInfraredLayer(_spec(field_of_regard_deg=180.0), _walker(1, 1, 0), EPOCH)
    t_s = layer.look_times(0.0, 3_000.0)
    sat, below = _nadir_targets(layer, t_s, 100e3)
    nadir = -sat / np.linalg.norm(sat, axis=1, keepdims=True)
    side = np.cross(nadir, [0.0, 0.0, 1.0])
    side /= np.linalg.norm(side, axis=1, keepdims=True)
    up_limb = math.cos(66 * DEG) * nadir + math.sin(66 * DEG) * side  # Earth disc half-angle is 59.8°
    limb_target = sat + 2_000e3 * up_limb
    pos = np.stack([below, below, below, limb_target])
    range2 = np.sum((pos - sat) ** 2, axis=-1)
    ratios = np.array([0.6, 1.0, 1.4, 1.0])[:, None]
    thresholds = np.array([TH_EARTH, TH_EARTH, TH_EARTH, TH_SPACE])[:, None]
    truth = _truth(pos, ratios * thresholds * range2, t_s)
    _, labels = layer.observe(truth, 0, np.random.default_rng(11))
    n = t_s.size
    for i, expected in enumerate([norm.cdf(-2.0), 0.5, norm.cdf(2.0), 0.5]):
        rate = np.count_nonzero(labels.target_id == f"tgt-{i}") / n
        assert abs(rate - expected) <= 4 * math.sqrt(expected * (1 - expected) / n) + 1e-9, (i, rate)


# --- False alarms, noise, contract -------------------------------------------------------------


def test_false_alarms_are_poisson_and_uniform_over_the_field_of_regard():
    """28 satellites × 400 frames with mean 3: the count mean and variance are both 3 (Poisson) at
    4 σ (σ of the mean √(3/n), of the variance √((μ + 2μ²)/n)); every direction lies inside the
    130° cone around the geocentric nadir, and cos θ is uniform on [cos 65°, 1] (uniform in solid
    angle), so its mean is (1 + cos 65°)/2 at 4 σ (σ = (1 − cos 65°)/√12/√m)."""
    layer = SpaceInfraredLayer(_spec(false_alarms_per_frame=3.0), _walker(), EPOCH)
    t_s = layer.look_times(0.0, 800.0)
    empty = _truth(np.zeros((0, t_s.size, 3)), np.zeros((0, t_s.size)), t_s)
    batch, labels = layer.observe(empty, 100, np.random.default_rng(3))
    assert np.all(labels.is_false_alarm)
    sat_of = {sid: i for i, sid in enumerate(layer.satellite_sensor_ids)}
    frame = np.round(batch.time_s / 2.0).astype(int)
    sat = np.array([sat_of[s] for s in batch.sensor_id])
    counts = np.zeros((28, t_s.size))
    np.add.at(counts, (sat, frame), 1)
    n, mu = counts.size, 3.0
    assert abs(counts.mean() - mu) < 4 * math.sqrt(mu / n)
    assert abs(counts.var(ddof=1) - mu) < 4 * math.sqrt((mu + 2 * mu**2) / n)
    nadir = -batch.sensor_pos_m / np.linalg.norm(batch.sensor_pos_m, axis=1, keepdims=True)
    cos_theta = np.einsum("ij,ij->i", batch.z[:, :3], nadir)
    cos_half = math.cos(65 * DEG)
    assert cos_theta.min() >= cos_half - 1e-12
    m = cos_theta.size
    assert abs(cos_theta.mean() - (1 + cos_half) / 2) < 4 * (1 - cos_half) / math.sqrt(12 * m)


def test_los_noise_is_sigma_per_axis_perpendicular_to_the_line_of_sight():
    """4,000 frames of a bright target at nadir (Pd = 1): the measured z against the true u in a basis
    of our own (e₁ ∝ u × x̂, e₂ = u × e₁). Angular error per axis: mean 0 at 4σ/√n, variance σ² at
    4·√(2/n) relative, correlation 0 at 4/√n; along the LOS the unit vector loses only 1 − z·u ≈ θ²/2,
    of order σ² = 4e-10. The covariance is σ²(I − z zᵀ): z is in its null space, trace 2σ²."""
    layer = SpaceInfraredLayer(_spec(), _walker(1, 1, 0), EPOCH)
    t_s = layer.look_times(0.0, 8_000.0)
    sat, below = _nadir_targets(layer, t_s, 30e3)
    truth = _truth(below[None], np.full((1, t_s.size), 1e9), t_s)
    batch, labels = layer.observe(truth, 0, np.random.default_rng(5))
    assert len(batch) == t_s.size and not labels.is_false_alarm.any()
    u = below - sat
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    e1 = np.cross(u, [1.0, 0.0, 0.0])
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(u, e1)
    z = batch.z[:, :3]
    a1, a2 = np.einsum("ij,ij->i", z, e1), np.einsum("ij,ij->i", z, e2)
    sigma, n = SIGMA_URAD * 1e-6, t_s.size
    assert abs(a1.mean()) < 4 * sigma / math.sqrt(n) and abs(a2.mean()) < 4 * sigma / math.sqrt(n)
    for a in (a1, a2):
        assert abs(a.var() / sigma**2 - 1) < 4 * math.sqrt(2 / n)
    assert abs(np.corrcoef(a1, a2)[0, 1]) < 4 / math.sqrt(n)
    along = 1.0 - np.einsum("ij,ij->i", z, u)
    assert np.all(along >= -1e-15) and along.max() < 20 * sigma**2
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-15)
    cov = batch.cov[:, :3, :3]
    np.testing.assert_allclose(np.einsum("mij,mj->mi", cov, z), 0.0, atol=1e-24)
    np.testing.assert_allclose(np.trace(cov, axis1=1, axis2=2), 2 * sigma**2, rtol=1e-12)


def test_contract_shapes_ids_and_sensor_state():
    """28 satellites × 20 targets × 50 frames with false alarms: rows ordered by time, ids from
    first_id, sensor ids '<layer>/<satellite>', kind 'los', NaN padding, labels joined by id, and the
    sensor position and velocity equal to the constellation's ECEF ephemeris at the frame."""
    constellation = _walker()
    layer = SpaceInfraredLayer(_spec(false_alarms_per_frame=0.5), constellation, EPOCH)
    t_s = layer.look_times(10.0, 110.0)
    np.testing.assert_array_equal(t_s, np.arange(10.0, 110.0, 2.0))
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-40, 40, 20), rng.uniform(100, 170, 20)
    pos = np.stack(pymap3d.geodetic2ecef(lat, lon, 12_000.0), axis=-1)[:, None, :].repeat(t_s.size, axis=1)
    active = np.ones((20, t_s.size), dtype=bool)
    active[0] = False  # an inactive target is never detected
    pos[0] = np.nan
    truth = _truth(pos, np.full((20, t_s.size), 3_000.0), t_s, active)
    batch, labels = layer.observe(truth, 1_000, np.random.default_rng(2))
    m = len(batch)
    assert m > 100 and labels.is_false_alarm.any() and not labels.is_false_alarm.all()
    np.testing.assert_array_equal(batch.detection_id, np.arange(1_000, 1_000 + m))
    np.testing.assert_array_equal(labels.detection_id, batch.detection_id)
    assert np.all(np.diff(batch.time_s) >= 0) and set(batch.time_s) <= set(t_s)
    assert set(batch.sensor_id) <= set(layer.satellite_sensor_ids)
    assert layer.satellite_sensor_ids[0] == f"USA-leo-ir/{constellation.satellite_ids[0]}"
    assert layer.sensor_id == "USA-leo-ir" and layer.nation == "USA"
    assert np.all(batch.kind == MEASUREMENT_KINDS.index("los"))
    assert batch.z.shape == (m, Z_MAX) and np.all(np.isnan(batch.z[:, 3]))
    assert np.all(np.isnan(batch.cov[:, 3, :])) and np.all(np.isnan(batch.cov[:, :, 3]))
    assert np.all(np.isfinite(batch.cov[:, :3, :3]))
    assert "tgt-0" not in set(labels.target_id)
    eph = constellation.propagate(EPOCH, t_s)
    sat = np.array([layer.satellite_sensor_ids.index(s) for s in batch.sensor_id])
    frame = np.searchsorted(t_s, batch.time_s)
    np.testing.assert_array_equal(batch.sensor_pos_m, eph.pos_m[sat, frame])
    np.testing.assert_array_equal(batch.sensor_vel_m_per_s, eph.vel_m_per_s[sat, frame])
    again, again_labels = layer.observe(truth, 1_000, np.random.default_rng(2))
    np.testing.assert_array_equal(again.z, batch.z)  # same generator state, same bytes
    np.testing.assert_array_equal(again_labels.target_id, labels.target_id)


def test_a_satellite_whose_propagation_failed_sees_nothing():
    """A satellite with hyperbolic elements (SGP4 error 1 at every time, NaN ephemeris) reports no
    detections and no false alarms; its healthy neighbour reports both."""
    good = _walker(1, 1, 0)
    bad = Satrec()
    jd0, fr0 = EPOCH.jd_split
    bad.sgp4init(WGS72, "i", 99, jd0 - 2_433_281.5 + fr0, 0.0, 0.0, 0.0, 1.5, 0.0, 1.0, 0.0, 0.06, 0.0)
    constellation = Constellation("layer", ["good", "broken"], [good.satrecs[0], bad])
    layer = SpaceInfraredLayer(_spec(false_alarms_per_frame=2.0), constellation, EPOCH)
    t_s = layer.look_times(0.0, 200.0)
    assert np.all(constellation.propagate(EPOCH, t_s).error_code[1] != 0)
    _, below = _nadir_targets(SpaceInfraredLayer(_spec(), good, EPOCH), t_s, 30e3)
    batch, labels = layer.observe(
        _truth(below[None], np.full((1, t_s.size), 1e9), t_s), 0, np.random.default_rng(4)
    )
    assert "USA-leo-ir/broken" not in set(batch.sensor_id)
    assert np.count_nonzero(labels.target_id == "tgt-0") == t_s.size
    assert labels.is_false_alarm.sum() > 0


def test_errors_teach():
    with pytest.raises(ValueError, match=r"carried by constellation 'layer'.*given constellation 'other'"):
        SpaceInfraredLayer(_spec(), Constellation("other", ["x"], _walker(1, 1, 0).satrecs), EPOCH)
    with pytest.raises(ValueError, match="full cone angle"):
        los_visibility(np.ones(3) * 7e6, np.ones(3), 4.0)


def test_grazing_height_is_the_documented_20_km():
    assert GRAZING_HEIGHT_M == 20_000.0
