"""Track category from kinematics alone: air, missile or space.

Release rules are per category, so every node must classify a track the same way from what it
has — the state. The rule (a surveillance picture has no identification here):

* **space** — the two-body orbit of the state (inertial velocity ``v + ω × r``) is bound and its
  perigee lies above `SPACE_PERIGEE_ALT_M`: the object will not come down by itself;
* **missile** — otherwise, faster than `MISSILE_SPEED_M_PER_S` or higher than `MISSILE_ALT_M`: no
  aircraft flies there; ballistic missiles, glide vehicles and boosters do;
* **air** — everything else. A subsonic cruise missile is *air* by this rule; only an
  identification could say more, and Kizuna has none.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kizuna.constants import WGS84_A_M, WGS84_B_M, WGS84_GM_M3_PER_S2, WGS84_OMEGA_RAD_PER_S

__all__ = [
    "AIR",
    "MISSILE",
    "MISSILE_ALT_M",
    "MISSILE_SPEED_M_PER_S",
    "SPACE",
    "SPACE_PERIGEE_ALT_M",
    "classify",
]

AIR, MISSILE, SPACE = 0, 1, 2
"""Category codes (the order of `kizuna.network.messages.CATEGORIES`)."""

MISSILE_SPEED_M_PER_S = 900.0
"""About Mach 3 at altitude: faster than any aircraft of the scenarios."""

MISSILE_ALT_M = 25_000.0
"""Higher than any aircraft of the scenarios flies."""

SPACE_PERIGEE_ALT_M = 100_000.0
"""The Kármán line: an orbit whose perigee is above it stays up."""


def classify(x: ArrayLike) -> NDArray[np.uint8]:
    """Category codes of N ECEF states ``x (N, ≥6)`` (module docstring)."""
    s = np.atleast_2d(np.asarray(x, dtype=np.float64))
    r, v = s[:, 0:3], s[:, 3:6]
    omega = np.array([0.0, 0.0, WGS84_OMEGA_RAD_PER_S])
    v_inertial = v + np.cross(omega, r)
    r_norm = np.linalg.norm(r, axis=1)
    speed2 = np.einsum("ij,ij->i", v_inertial, v_inertial)
    energy = 0.5 * speed2 - WGS84_GM_M3_PER_S2 / np.maximum(r_norm, 1.0)
    h = np.cross(r, v_inertial)
    h2 = np.einsum("ij,ij->i", h, h)
    bound = energy < 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(bound, -WGS84_GM_M3_PER_S2 / (2.0 * energy), np.inf)
        ecc = np.sqrt(np.maximum(1.0 + 2.0 * energy * h2 / WGS84_GM_M3_PER_S2**2, 0.0))
        perigee_alt = a * (1.0 - ecc) - WGS84_A_M
    # Height above the ellipsoid along the geocentric radius: within metres of the geodetic height
    # at these altitudes, and cheap.
    sin2 = (r[:, 2] / np.maximum(r_norm, 1.0)) ** 2
    alt = r_norm - WGS84_A_M * WGS84_B_M / np.sqrt(WGS84_B_M**2 * (1.0 - sin2) + WGS84_A_M**2 * sin2)
    out = np.full(len(s), AIR, dtype=np.uint8)
    out[(np.linalg.norm(v, axis=1) > MISSILE_SPEED_M_PER_S) | (alt > MISSILE_ALT_M)] = MISSILE
    out[bound & (perigee_alt > SPACE_PERIGEE_ALT_M)] = SPACE
    return out
