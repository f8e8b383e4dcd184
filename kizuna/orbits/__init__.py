"""Orbits: Walker constellations, TLE reading and SGP4 propagation to ECEF ephemerides.

Owns the satellites' element sets and their motion. May import only `kizuna.constants`,
`kizuna.frames` and `kizuna.timebase` (plus ``sgp4`` and NumPy); sensors import this, never the
reverse.
"""

from kizuna.orbits.constellation import SGP4_ERROR_REASONS, Constellation, Ephemeris
from kizuna.orbits.tle import TleError, read_tle_file

__all__ = ["SGP4_ERROR_REASONS", "Constellation", "Ephemeris", "TleError", "read_tle_file"]
