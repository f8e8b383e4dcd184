"""What sensors see of a target: flight phase, an infrared intensity proxy and a radar cross-section.

Every truth sample carries three signature values (docs/truth.md, "Signatures"):

* ``phase``: what the target is doing, a code into `PHASES` (``cruise`` for aircraft and the
  cruise leg of a cruise missile; ``boost``/``midcourse``/``terminal`` for ballistic missiles;
  ``boost``/``glide``/``terminal`` for glide vehicles).
* ``ir_intensity_w_per_sr``: radiant intensity, W/sr, all wavelengths — a proxy that sensors
  compare, after dividing by range², with an irradiance threshold. Three sources add up:
  - the rocket plume while a motor burns: a fraction of the jet's kinetic power, radiated evenly,
    I = η · ½ F vₑ / 4π with η = `PLUME_RADIANT_FRACTION` (1 %): of the order of 10⁵ W/sr for a
    200 kN motor, the order quoted for missile plumes in the mid-wave infrared;
  - aero-heating: the Sutton–Graves stagnation-point convective flux q = k √(ρ/Rₙ) v³
    (Sutton & Graves, NASA TR R-376, 1971; k = 1.7415e-4 kg^½/m for air), re-radiated in
    radiative equilibrium from an effective hot area A (the body area weighted by its flux
    relative to the stagnation point): I = q A / π. It grows with the square root of air density
    and the cube of speed, so glide vehicles at Mach 5+ in the upper atmosphere glow and coasting
    re-entry vehicles light up as they descend;
  - the body's own thermal emission, εσT⁴ A / π at 300 K, the floor for a cold body in space.
* ``rcs_m2``: radar cross-section, m², by kind and phase in three aspect classes (nose-on within
  30° of the velocity, tail-on within 30° of its opposite, beam otherwise). Truth has no radar in
  it, so `truth.parquet` carries the aspect-averaged value; radars call `rcs_m2` with the aspect
  they see. The values are generic round numbers of the published orders (airliner tens of m²,
  combat aircraft a few m², cruise missile and re-entry vehicle 0.01–1 m²), not any real system's.

Imports NumPy only.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ASPECT_NOSE_RAD",
    "ENGINE_INTENSITY_W_PER_SR",
    "PHASES",
    "PLUME_RADIANT_FRACTION",
    "SUTTON_GRAVES_K",
    "aeroheating_intensity_w_per_sr",
    "body_intensity_w_per_sr",
    "nominal_rcs_m2",
    "phase_code",
    "plume_intensity_w_per_sr",
    "rcs_m2",
]

Array = NDArray[np.float64]

PHASES: tuple[str, ...] = ("cruise", "boost", "midcourse", "glide", "terminal")
"""Phase names; a sample's ``phase`` is an index into this tuple."""

PLUME_RADIANT_FRACTION = 0.01
"""Share of a plume's kinetic power radiated (all bands): the proxy's one free constant."""

SUTTON_GRAVES_K = 1.7415e-4
"""Sutton–Graves constant for air [kg^0.5 / m]: q [W/m²] = k sqrt(ρ [kg/m³] / Rₙ [m]) v³ [m/s]."""

STEFAN_BOLTZMANN_W_PER_M2_K4 = 5.670_374_419e-8
"""σ, CODATA 2018 (exact in the 2019 SI)."""

ASPECT_NOSE_RAD = math.radians(30.0)
"""Half-width of the nose-on and tail-on aspect classes."""

ENGINE_INTENSITY_W_PER_SR: dict[str, float] = {
    "civil_aircraft": 1_500.0,
    "aircraft": 3_000.0,
    "cruise_missile": 300.0,
}
"""Air-breathing engines and their exhaust, all bands, by kind: generic orders of magnitude."""

# (nose, beam, tail) RCS in m², by (kind, phase); "*" matches any phase.
_RCS_TABLE: dict[tuple[str, str], tuple[float, float, float]] = {
    ("civil_aircraft", "*"): (10.0, 60.0, 15.0),
    ("aircraft", "*"): (2.0, 10.0, 4.0),
    ("cruise_missile", "*"): (0.05, 0.5, 0.1),
    ("ballistic_missile", "boost"): (1.0, 10.0, 3.0),
    ("ballistic_missile", "*"): (0.01, 0.2, 0.05),
    ("glide_vehicle", "boost"): (1.0, 10.0, 3.0),
    ("glide_vehicle", "*"): (0.02, 0.5, 0.1),
}

# Fractions of the sphere of directions in each aspect class (nose, beam, tail), for averaging:
# a cone of half-angle α covers (1 - cos α)/2 of the sphere.
_CAP = (1.0 - math.cos(ASPECT_NOSE_RAD)) / 2.0
_ASPECT_WEIGHTS = (_CAP, 1.0 - 2.0 * _CAP, _CAP)


def phase_code(name: str) -> int:
    """Index of a phase name in `PHASES` (raises ValueError naming the valid phases)."""
    try:
        return PHASES.index(name)
    except ValueError:
        raise ValueError(f"unknown phase {name!r}; phases are {PHASES}") from None


def plume_intensity_w_per_sr(thrust_n: ArrayLike, exhaust_speed_m_per_s: ArrayLike) -> Array:
    """Plume radiant intensity proxy I = η · ½ F vₑ / 4π [W/sr] (see the module docstring)."""
    power_w = (
        0.5 * np.asarray(thrust_n, dtype=np.float64) * np.asarray(exhaust_speed_m_per_s, dtype=np.float64)
    )
    return PLUME_RADIANT_FRACTION * power_w / (4.0 * math.pi)


def aeroheating_intensity_w_per_sr(
    density_kg_per_m3: ArrayLike, speed_m_per_s: ArrayLike, nose_radius_m: float, hot_area_m2: float
) -> Array:
    """Re-radiated aero-heating, I = k sqrt(ρ/Rₙ) v³ · A / π [W/sr] (Sutton–Graves, radiative equilibrium)."""
    rho = np.maximum(np.asarray(density_kg_per_m3, dtype=np.float64), 0.0)
    v = np.asarray(speed_m_per_s, dtype=np.float64)
    flux_w_per_m2 = SUTTON_GRAVES_K * np.sqrt(rho / nose_radius_m) * v**3
    return flux_w_per_m2 * hot_area_m2 / math.pi


def body_intensity_w_per_sr(area_m2: float, temperature_k: float = 300.0, emissivity: float = 0.8) -> float:
    """Thermal emission of a grey body seen face-on, I = εσT⁴ A / π [W/sr] (Lambertian)."""
    return emissivity * STEFAN_BOLTZMANN_W_PER_M2_K4 * temperature_k**4 * area_m2 / math.pi


def _rcs_row(kind: str, phase: str) -> tuple[float, float, float]:
    row = _RCS_TABLE.get((kind, phase)) or _RCS_TABLE.get((kind, "*"))
    if row is None:
        kinds = sorted({k for k, _ in _RCS_TABLE})
        raise ValueError(f"no radar cross-section for kind {kind!r}; known kinds: {kinds}")
    return row


def rcs_m2(kind: str, phase: str, aspect_rad: ArrayLike) -> Array:
    """RCS seen at `aspect_rad`, the angle between the target's velocity and the direction to the radar.

    0 is nose-on (the radar ahead of the target), π tail-on.
    """
    nose, beam, tail = _rcs_row(kind, phase)
    aspect = np.abs(np.asarray(aspect_rad, dtype=np.float64))
    return np.where(aspect < ASPECT_NOSE_RAD, nose, np.where(aspect > math.pi - ASPECT_NOSE_RAD, tail, beam))


def nominal_rcs_m2(kind: str, phase: str) -> float:
    """RCS averaged over all aspects (uniform on the sphere of viewing directions)."""
    row = _rcs_row(kind, phase)
    return float(sum(w * x for w, x in zip(_ASPECT_WEIGHTS, row, strict=True)))
