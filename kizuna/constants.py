"""Physical and geodetic constants, in SI units, each with its source.

This module owns every constant that more than one layer uses. It imports nothing from Kizuna.
"""

from __future__ import annotations

import math

# --- WGS-84 ellipsoid -------------------------------------------------------------------------
# NIMA TR8350.2, "Department of Defense World Geodetic System 1984", 3rd ed. (2000), table 3.1.
WGS84_A_M = 6_378_137.0
"""Semi-major (equatorial) axis [m]."""
WGS84_INV_F = 298.257_223_563
"""Inverse flattening 1/f [-]."""
WGS84_F = 1.0 / WGS84_INV_F
WGS84_B_M = WGS84_A_M * (1.0 - WGS84_F)
"""Semi-minor (polar) axis [m], derived: a(1 - f)."""
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
"""First eccentricity squared e² = f(2 - f) [-]."""
WGS84_EP2 = WGS84_E2 / (1.0 - WGS84_E2)
"""Second eccentricity squared e'² = e² / (1 - e²) [-]."""
WGS84_GM_M3_PER_S2 = 3.986_004_418e14
"""Earth's gravitational parameter GM, atmosphere included [m³/s²] (TR8350.2 table 3.1)."""
WGS84_OMEGA_RAD_PER_S = 7.292_115e-5
"""Nominal mean angular velocity of the Earth [rad/s] (TR8350.2 table 3.1)."""
WGS84_J2 = 1.082_629_821_313_7e-3
"""Second zonal harmonic J2 = -√5 C̄2,0 with C̄2,0 = -0.484166774985e-3 (TR8350.2 table 3.2)."""

MEAN_EARTH_RADIUS_M = 6_371_008.8
"""IUGG mean Earth radius R1 = (2a + b) / 3 [m] (Moritz, Geodetic Reference System 1980)."""

STANDARD_GRAVITY_M_PER_S2 = 9.806_65
"""Standard acceleration of gravity g0 [m/s²] (CGPM 1901, used to define specific impulse)."""

# --- Time --------------------------------------------------------------------------------------
SECONDS_PER_DAY = 86_400.0
JD_J2000 = 2_451_545.0
"""Julian date of the J2000.0 epoch, 2000-01-01 12:00:00 TT [d]."""
DAYS_PER_JULIAN_CENTURY = 36_525.0

# --- Unit conversions (only at the edges) ------------------------------------------------------
DEG = math.pi / 180.0
"""Radians per degree: multiply degrees by DEG to get radians."""
ARCSEC = DEG / 3600.0
"""Radians per arc-second."""
FT = 0.3048
"""Metres per international foot."""
NMI = 1852.0
"""Metres per international nautical mile."""
KNOT = NMI / 3600.0
"""Metres per second per knot."""
