"""Standard atmosphere for flight models: density, speed of sound, temperature, pressure.

Source: the ICAO Standard Atmosphere 1993 (Doc 7488/3), identical to the U.S. Standard Atmosphere
1976 below 80 km geopotential (≈ 81 km geometric), as implemented by the ``ambiance`` library
(A. Dettmann). ``ambiance`` builds Python objects on every call (≈ 0.6 ms for one altitude), far too
slow for an ODE right-hand side called ~10^4 times per trajectory, so this module samples it once
and evaluates a smooth representation of those samples:

* The standard is defined layer by layer (temperature linear in geopotential height, hydrostatic
  pressure), so ln ρ, ln p, T and a are analytic inside each layer and kink only at the 7 layer
  boundaries. In each layer (its bounds taken from ``ambiance.CONST.LAYER_SPEC_PROP`` and converted
  to geometric height with ``ambiance``'s own h = r H / (r - H)) ``ambiance`` is sampled at 64
  Chebyshev nodes and fitted by the lowest-degree polynomial (≤ 16; in practice 2-9) that matches it
  to 1e-10 relative at 101 check points between the nodes. Against ``ambiance`` at random altitudes
  the relative error is below 1e-9 (tested). ``ambiance`` itself jumps by up to
  4e-6 in ρ at some boundaries (its base pressures are rounded to 6 digits); the fit keeps each
  layer's own side.
* Why not interpolate a fine table: a linear or cubic-spline table has a kink (or a jump in a higher
  derivative) every grid step, and DOP853 at rtol ~1e-9 rejects about one step in two when it
  crosses thousands of them (measured: 2.5x the function evaluations on a 1000 km ballistic
  flight). Per-layer polynomials are smooth except where the standard itself kinks.
* Below -5 km every property is clamped to its -5 km value.
* Above 81 km (``ambiance`` stops at 81.02 km) density and pressure continue exponentially,
  ρ(h) = ρ(81 km) · exp(-(h - 81 km) / H_ρ), with the local scale height at 81 km, H_ρ ≈ 6.27 km
  (pressure: H_p ≈ 5.91 km), so value and slope of ln ρ are continuous; T and a are held at their
  81 km values (196.7 K, 281.1 m/s). The real atmosphere warms above ~90 km, so this extension
  drifts from the real (and the US 1976 upper) atmosphere above ~100 km, but there ρ < 1e-6 kg/m³
  and drag on a re-entry vehicle is negligible for a surveillance truth model.

Altitudes are heights above the WGS-84 ellipsoid, used as the standard atmosphere's geometric
altitude above mean sea level (the geoid undulation, < 110 m, is ignored). Every public function
accepts any array shape (or a scalar) and returns a float64 array of the same shape; NaN in gives
NaN out.

May import NumPy and ``ambiance`` only.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

import numpy as np
from numpy.polynomial import chebyshev
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BOTTOM_M",
    "TOP_M",
    "density_kg_per_m3",
    "density_scale_height_above_top_m",
    "layer_edges_m",
    "pressure_pa",
    "scalar_density_and_sound_speed",
    "speed_of_sound_m_per_s",
    "temperature_k",
]

Array = NDArray[np.float64]

BOTTOM_M = -5_000.0
"""Lowest modelled altitude [m]; below it every property is clamped."""
TOP_M = 81_000.0
"""Highest altitude taken from ``ambiance`` [m]; above it ρ and p decay exponentially."""
_NODES = 64
_CHECKS = 101
_MAX_DEGREE = 16
_FIT_TOL = 1e-10
"""Largest error allowed of each layer's polynomial against ``ambiance`` at check points between the
fitting nodes: absolute in ln ρ and ln p (= relative in ρ, p), relative in T and a."""


@dataclass(frozen=True)
class _Layered:
    """One quantity as a polynomial per layer in x = (h - centre) / half_width ∈ [-1, 1]."""

    edges: tuple[float, ...]  # n_layers + 1 geometric altitudes [m], BOTTOM_M .. TOP_M
    centres: tuple[float, ...]
    inv_half_widths: tuple[float, ...]
    coeffs: tuple[tuple[float, ...], ...]  # per layer, highest power first (Horner order)
    top_value: float
    top_slope_per_m: float
    matrix: Array  # the coefficients padded with leading zeros to one length: (n_layers, max degree + 1)

    def __call__(self, alt_m: ArrayLike) -> Array:
        """Evaluate at any shape, clamped to [BOTTOM_M, TOP_M]; NaN stays NaN."""
        alt = np.asarray(alt_m, dtype=np.float64)
        h = np.clip(alt, BOTTOM_M, TOP_M)
        layer = np.clip(np.searchsorted(self.edges, h, side="right") - 1, 0, len(self.centres) - 1)
        x = (h - np.asarray(self.centres)[layer]) * np.asarray(self.inv_half_widths)[layer]
        c = self.matrix[layer]  # (..., max degree + 1)
        value = np.zeros_like(h)
        for k in range(c.shape[-1]):
            value = value * x + c[..., k]
        return value

    def scalar(self) -> Callable[[float], float]:
        """The same polynomials for one float (≈ 1.5 µs a call)."""
        edges, centres, inv_w, coeffs = self.edges, self.centres, self.inv_half_widths, self.coeffs
        inner = edges[1:-1]

        def q(h: float) -> float:
            i = bisect_right(inner, h)
            x = (h - centres[i]) * inv_w[i]
            v = 0.0
            for c in coeffs[i]:
                v = v * x + c
            return v

        return q


def layer_edges_m() -> tuple[float, ...]:
    """Geometric altitudes [m] of the layer boundaries used, from BOTTOM_M to TOP_M."""
    from ambiance import CONST

    r = float(CONST.r)
    inner = [r * float(row[0]) / (r - float(row[0])) for row in CONST.LAYER_SPEC_PROP[1:]]
    return (BOTTOM_M, *(h for h in inner if BOTTOM_M < h < TOP_M), TOP_M)


def _fit(edges: tuple[float, ...], quantity: Callable[[Array], Array], log: bool) -> _Layered:
    """Least-squares Chebyshev fit per layer, of the lowest degree meeting `_FIT_TOL` at check points."""
    nodes = np.cos(np.pi * (np.arange(_NODES) + 0.5) / _NODES)  # Chebyshev nodes, open interval
    checks = np.linspace(-1.0, 1.0, _CHECKS + 2)[1:-1]
    centres, inv_w, coeffs = [], [], []
    for lo, hi in pairwise(edges):
        c, w = 0.5 * (lo + hi), 0.5 * (hi - lo)
        at_nodes, at_checks = quantity(c + w * nodes), quantity(c + w * checks)
        scale = 1.0 if log else np.abs(at_checks)
        for degree in range(1, _MAX_DEGREE + 1):
            cheb = chebyshev.chebfit(nodes, at_nodes, degree)
            if np.max(np.abs(chebyshev.chebval(checks, cheb) - at_checks) / scale) <= _FIT_TOL:
                break
        else:
            raise RuntimeError(
                f"kizuna.truth.atmosphere: no polynomial of degree <= {_MAX_DEGREE} fits ambiance to "
                f"{_FIT_TOL} in the layer {lo:.0f} m .. {hi:.0f} m; has the ambiance version changed?"
            )
        coeffs.append(tuple(chebyshev.cheb2poly(cheb)[::-1].tolist()))
        centres.append(c)
        inv_w.append(1.0 / w)
    width = max(len(c) for c in coeffs)
    matrix = np.array([(0.0,) * (width - len(c)) + c for c in coeffs])
    layered = _Layered(tuple(edges), tuple(centres), tuple(inv_w), tuple(coeffs), 0.0, 0.0, matrix)
    # Value and slope at the top from the last polynomial (exact derivative of the Horner form).
    top = float(layered(TOP_M))
    poly = np.array(coeffs[-1][::-1])  # lowest power first
    slope = float(np.polynomial.polynomial.polyval(1.0, np.polynomial.polynomial.polyder(poly))) * inv_w[-1]
    return _Layered(tuple(edges), tuple(centres), tuple(inv_w), tuple(coeffs), top, slope, matrix)


@dataclass(frozen=True)
class _Model:
    ln_density: _Layered
    ln_pressure: _Layered
    temperature_k: _Layered
    speed_of_sound_m_per_s: _Layered


@cache
def _model() -> _Model:
    from ambiance import Atmosphere  # imported lazily: building the fits is its only use

    def prop(name: str, log: bool) -> Callable[[Array], Array]:
        def f(h: Array) -> Array:
            v = np.asarray(getattr(Atmosphere(h), name), dtype=np.float64)
            return np.log(v) if log else v

        return f

    edges = layer_edges_m()
    return _Model(
        ln_density=_fit(edges, prop("density", True), log=True),
        ln_pressure=_fit(edges, prop("pressure", True), log=True),
        temperature_k=_fit(edges, prop("temperature", False), log=False),
        speed_of_sound_m_per_s=_fit(edges, prop("speed_of_sound", False), log=False),
    )


def density_scale_height_above_top_m() -> float:
    """The scale height H_ρ [m] of the exponential density extension above 81 km (≈ 6.27 km)."""
    return -1.0 / _model().ln_density.top_slope_per_m


def _exp_with_exponential_top(alt_m: ArrayLike, ln_q: _Layered) -> Array:
    alt = np.asarray(alt_m, dtype=np.float64)
    value = ln_q(alt)
    above = alt > TOP_M
    if np.any(above):
        value = np.where(above, ln_q.top_value + ln_q.top_slope_per_m * (alt - TOP_M), value)
    return np.exp(value)


def density_kg_per_m3(alt_m: ArrayLike) -> Array:
    """Air density ρ [kg/m³] at geometric altitude(s) ``alt_m`` [m] (US 1976 / ICAO 1993).

    Any shape; see the module docstring for the representation, its accuracy, and the extension
    beyond -5 km .. 81 km.
    """
    return _exp_with_exponential_top(alt_m, _model().ln_density)


def pressure_pa(alt_m: ArrayLike) -> Array:
    """Static air pressure p [Pa] at geometric altitude(s) ``alt_m`` [m] (US 1976 / ICAO 1993)."""
    return _exp_with_exponential_top(alt_m, _model().ln_pressure)


def temperature_k(alt_m: ArrayLike) -> Array:
    """Kinetic temperature T [K] at geometric altitude(s) ``alt_m`` [m]; held constant above 81 km."""
    return _model().temperature_k(alt_m)


def speed_of_sound_m_per_s(alt_m: ArrayLike) -> Array:
    """Speed of sound a = sqrt(κ R T) [m/s] at geometric altitude(s) ``alt_m`` [m]; held above 81 km."""
    return _model().speed_of_sound_m_per_s(alt_m)


def scalar_density_and_sound_speed() -> tuple[Callable[[float], float], Callable[[float], float]]:
    """Two fast scalar functions ``rho(alt_m: float) -> float`` and ``a(alt_m: float) -> float``.

    For ODE right-hand sides that work on one state in plain Python floats (≈ 2 µs a call instead
    of ≈ 20 µs for the vectorised functions on a scalar). Same polynomials, same results to
    rounding (tested).
    """
    m = _model()
    ln_rho, sound = m.ln_density.scalar(), m.speed_of_sound_m_per_s.scalar()
    ln_rho_top, slope_top = m.ln_density.top_value, m.ln_density.top_slope_per_m
    rho_bottom = math.exp(ln_rho(BOTTOM_M))
    a_bottom, a_top = sound(BOTTOM_M), m.speed_of_sound_m_per_s.top_value
    exp = math.exp

    def rho(alt_m: float) -> float:
        if alt_m >= TOP_M:
            return exp(ln_rho_top + slope_top * (alt_m - TOP_M))
        if alt_m <= BOTTOM_M:
            return rho_bottom
        return exp(ln_rho(alt_m))

    def a(alt_m: float) -> float:
        if alt_m >= TOP_M:
            return a_top
        if alt_m <= BOTTOM_M:
            return a_bottom
        return sound(alt_m)

    return rho, a
