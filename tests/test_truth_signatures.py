"""Signatures: infrared intensity proxies and radar cross-sections against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kizuna.truth.signatures import (
    ASPECT_NOSE_RAD,
    PHASES,
    SUTTON_GRAVES_K,
    aeroheating_intensity_w_per_sr,
    body_intensity_w_per_sr,
    nominal_rcs_m2,
    phase_code,
    plume_intensity_w_per_sr,
    rcs_m2,
)


def test_sutton_graves_reference_point() -> None:
    # Sutton & Graves (NASA TR R-376, 1971): q = k sqrt(ρ/Rn) v³ with k = 1.7415e-4 for air. At
    # ρ = 1e-3 kg/m³ (about 50 km), Rn = 1 m, v = 7 km/s: q = 1.7415e-4 · 0.0316228 · 3.43e11
    # = 1.889e6 W/m² (computed by hand from the formula). With A = π m², I = q A / π = q.
    intensity = aeroheating_intensity_w_per_sr(1e-3, 7000.0, nose_radius_m=1.0, hot_area_m2=math.pi)
    assert intensity == pytest.approx(1.7415e-4 * math.sqrt(1e-3) * 7000.0**3, rel=1e-12)
    assert intensity == pytest.approx(1.889e6, rel=1e-3)
    assert SUTTON_GRAVES_K == 1.7415e-4


def test_aeroheating_scales_with_cube_of_speed_and_root_of_density() -> None:
    base = aeroheating_intensity_w_per_sr(1e-3, 3000.0, 0.1, 0.01)
    assert aeroheating_intensity_w_per_sr(1e-3, 6000.0, 0.1, 0.01) == pytest.approx(8.0 * base)
    assert aeroheating_intensity_w_per_sr(4e-3, 3000.0, 0.1, 0.01) == pytest.approx(2.0 * base)
    assert aeroheating_intensity_w_per_sr(0.0, 3000.0, 0.1, 0.01) == 0.0  # no air, no heating


def test_plume_is_a_fraction_of_jet_power() -> None:
    # Jet kinetic power ½ F vₑ for F = 200 kN, vₑ = Isp g0 = 250 s · 9.80665 m/s²: 245 MW.
    # 1 % of it spread over 4π sr: 1.95e5 W/sr, the 1e5-W/sr order quoted for missile plumes.
    thrust_n, ve = 200e3, 250.0 * 9.80665
    intensity = plume_intensity_w_per_sr(thrust_n, ve)
    assert intensity == pytest.approx(0.01 * 0.5 * thrust_n * ve / (4 * math.pi))
    assert 1e5 < intensity < 3e5


def test_body_emission_is_stefan_boltzmann() -> None:
    # σT⁴ at 300 K = 459.3 W/m² (σ = 5.670374419e-8, CODATA 2018); Lambertian I = ε σ T⁴ A / π.
    assert body_intensity_w_per_sr(1.0, 300.0, 1.0) == pytest.approx(459.30 / math.pi, rel=1e-4)


def test_rcs_aspect_classes() -> None:
    aspects = np.array([0.0, ASPECT_NOSE_RAD - 1e-6, math.pi / 2, math.pi - ASPECT_NOSE_RAD + 1e-6, math.pi])
    np.testing.assert_array_equal(rcs_m2("cruise_missile", "cruise", aspects), [0.05, 0.05, 0.5, 0.1, 0.1])
    assert rcs_m2("ballistic_missile", "boost", 1.0) > rcs_m2("ballistic_missile", "midcourse", 1.0)
    with pytest.raises(ValueError, match="known kinds"):
        rcs_m2("balloon", "cruise", 0.0)


def test_nominal_rcs_is_the_average_over_viewing_directions() -> None:
    # Independent check: Monte Carlo over directions uniform on the sphere (cos of aspect uniform).
    rng = np.random.default_rng(7)
    aspect = np.arccos(rng.uniform(-1.0, 1.0, 400_000))
    for kind, phase in [("aircraft", "cruise"), ("glide_vehicle", "glide"), ("ballistic_missile", "boost")]:
        mc = rcs_m2(kind, phase, aspect).mean()
        assert nominal_rcs_m2(kind, phase) == pytest.approx(mc, rel=0.01)


def test_phase_codes() -> None:
    assert PHASES[phase_code("glide")] == "glide"
    with pytest.raises(ValueError, match="phases are"):
        phase_code("loiter")
