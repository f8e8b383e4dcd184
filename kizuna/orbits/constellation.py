"""Satellite constellations (Walker patterns or TLEs) and their SGP4 ephemerides in ECEF.

SGP4 is the reference implementation in ``sgp4`` (Vallado, Crawford, Hujsak & Kelso, "Revisiting
Spacetrack Report #3", AIAA 2006-6753), run for all satellites × all times in one call to
``SatrecArray.sgp4``; its TEME output goes to ECEF through `kizuna.frames.teme_to_ecef`, with UT1
taken equal to UTC (see `kizuna.timebase`: up to ~460 m along-track at LEO radius).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from os import PathLike

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sgp4.api import WGS72, Satrec, SatrecArray
from sgp4.earth_gravity import wgs72

from kizuna.frames import teme_to_ecef
from kizuna.orbits.tle import parse_tles, read_tle_file
from kizuna.timebase import Epoch

__all__ = ["SGP4_ERROR_REASONS", "Constellation", "Ephemeris"]

SGP4_ERROR_REASONS = {
    1: "mean eccentricity is outside 0 <= e < 1 (hyperbolic or corrupt elements)",
    2: "mean motion is below zero (the elements describe no orbit)",
    3: "perturbed eccentricity is outside 0 <= e <= 1 (drag or resonance drove it out of range)",
    4: "semi-latus rectum is below zero (the orbit has collapsed)",
    5: "error 5 (no longer used by SGP4; it meant the elements at epoch were underground)",
    6: "the satellite has decayed: its orbital radius fell below one Earth radius",
}
"""SGP4's error codes in words (python-sgp4 ``sgp4.api.SGP4_ERRORS``; Vallado's sgp4unit.cpp)."""

WALKER_ALTITUDE_RANGE_M = (150e3, 40_000e3)
"""Altitudes `Constellation.from_walker` accepts: from the lowest orbit that lasts a few
revolutions to just above geostationary (35,786 km)."""

_JD_SGP4INIT_ORIGIN = 2_433_281.5
"""Julian date of 1949-12-31 00:00 UT, the origin of ``Satrec.sgp4init``'s epoch (days)."""


@dataclass(frozen=True)
class Ephemeris:
    """Positions and velocities of S satellites at T times, ECEF (WGS-84), from SGP4.

    Shapes: ``t_s (T,)`` seconds after `epoch`; ``pos_m`` and ``vel_m_per_s (S, T, 3)``;
    ``error_code (S, T)`` SGP4's code per sample (0 = good, see `SGP4_ERROR_REASONS`). A failed
    sample has NaN position and velocity; the other samples are unaffected. SGP4 judges each
    sample on its own, so a sub-orbital object flagged as decayed near perigee (code 6) can have
    good samples again later; treat the first failure as the end of a satellite's life if that is
    what the caller needs.
    """

    satellite_ids: tuple[str, ...]
    epoch: Epoch
    t_s: NDArray[np.float64]
    pos_m: NDArray[np.float64]
    vel_m_per_s: NDArray[np.float64]
    error_code: NDArray[np.uint8]

    @property
    def failures(self) -> dict[str, str]:
        """For each satellite with any failed sample, why and when, in words."""
        reasons = {}
        for s in np.flatnonzero(self.error_code.any(axis=1)):
            bad = np.flatnonzero(self.error_code[s])
            codes = sorted({int(c) for c in self.error_code[s, bad]})
            why = "; ".join(f"error {c}: {SGP4_ERROR_REASONS.get(c, 'unknown SGP4 error')}" for c in codes)
            reasons[self.satellite_ids[s]] = (
                f"SGP4 failed at {bad.size} of {self.t_s.size} times, first at t = "
                f"{self.t_s[bad[0]]:.1f} s after {self.epoch.utc.isoformat()} ({why})"
            )
        return reasons


class Constellation:
    """A named set of satellites (an owner's constellation) with their SGP4 element sets.

    ``__init__`` takes the canonical data: a name, unique satellite ids and one ``sgp4.api.Satrec``
    per id. Build from other formats with `from_walker`, `from_tles` or `from_tle_file`.
    """

    def __init__(self, name: str, satellite_ids: Sequence[str], satrecs: Sequence[Satrec]) -> None:
        ids = tuple(satellite_ids)
        if not isinstance(name, str) or not name:
            raise ValueError(f"name={name!r}: give the constellation a non-empty name, e.g. its owner")
        if len(ids) != len(satrecs) or not ids:
            raise ValueError(
                f"{len(ids)} satellite ids for {len(satrecs)} Satrec objects: give at least one "
                "satellite and exactly one id per Satrec"
            )
        duplicates = sorted(i for i, count in Counter(ids).items() if count > 1)
        if duplicates:
            raise ValueError(f"satellite ids must be unique; repeated: {duplicates}")
        self.name = name
        self.satellite_ids = ids
        self.satrecs = tuple(satrecs)
        self._array = SatrecArray(list(self.satrecs))

    def __len__(self) -> int:
        return len(self.satellite_ids)

    def __repr__(self) -> str:
        return f"Constellation({self.name!r}, {len(self)} satellites)"

    @classmethod
    def from_walker(
        cls,
        name: str,
        *,
        total: int,
        planes: int,
        phasing: int,
        altitude_m: float,
        inclination_rad: float,
        epoch: Epoch,
        raan0_rad: float = 0.0,
        id_prefix: str | None = None,
    ) -> Constellation:
        """A Walker-delta pattern i:T/P/F of circular orbits (J. G. Walker, "Satellite
        constellations", J. Br. Interplanet. Soc. 37, 559-572, 1984).

        P planes equally spaced in right ascension of the ascending node, Ω_p = Ω_0 + 2π p / P;
        T/P satellites per plane equally spaced in argument of latitude, and each plane ahead of
        the previous one by F·2π/T:  u_{p,s} = 2π s P / T + 2π F p / T,  p < P, s < T/P.
        The angles are mean elements at `epoch` in SGP4's TEME frame. Satellites are ordered
        plane by plane; ids are ``f"{id_prefix or name}-P{p + 1:02d}-S{s + 1:02d}"``.

        Each satellite is ``Satrec.sgp4init`` with WGS-72 constants, the ones SGP4 is defined with
        and every published TLE is fitted with, so Walker and TLE satellites share one model;
        opsmode 'i'; no drag (B* = 0); eccentricity 0 and argument of perigee 0, so the mean
        anomaly is the argument of latitude. The mean motion is n = sqrt(GM / a³) with
        a = R + `altitude_m` (R = 6378.135 km, GM = 398600.8 km³/s², WGS-72), given to SGP4 as
        its Kozai mean motion. SGP4 turns it into Brouwer's mean motion and adds J2 short-period
        terms; to first order the orbit-averaged geocentric radius is then a - ¼ J2 (3cos²i - 1) R²/a
        (Hoots & Roehrich, Spacetrack Report #3, 1980: SGP4's "recover original mean motion" and
        short-period update), from -3.4 km (equatorial orbit at 150 km) through 0 (i = 54.7°) to
        +1.7 km (polar). We accept that offset rather than invert SGP4's conversion. Around that
        mean the radius varies over an orbit by the J2 short-period term ¼ J2 (R²/a) sin²i cos 2u
        (≤ 1.7 km) and SGP4's J3 long-period term ½ |J3/J2| R sin i (≤ 7.5 km at any altitude:
        Earth's pear shape puts the orbit lower over the northern hemisphere). So
        `altitude_m` is mean height above the equatorial radius; the geodetic altitude over the
        WGS-84 ellipsoid is larger by up to f·a·sin²(latitude) ≈ 21.4 km·sin²(latitude).
        """
        _require(
            isinstance(total, Integral) and not isinstance(total, bool) and total > 0,
            f"total={total!r}: the number of satellites T must be a positive integer",
        )
        _require(
            isinstance(planes, Integral) and not isinstance(planes, bool) and planes > 0,
            f"planes={planes!r}: the number of orbital planes P must be a positive integer",
        )
        _require(
            total % planes == 0,
            f"total={total} is not divisible by planes={planes}: a Walker-delta pattern puts "
            "T/P satellites in each of P planes",
        )
        _require(
            isinstance(phasing, Integral) and not isinstance(phasing, bool) and 0 <= phasing < planes,
            f"phasing={phasing!r}: the Walker phasing factor F must be an integer with "
            f"0 <= F < planes={planes}",
        )
        low_m, high_m = WALKER_ALTITUDE_RANGE_M
        _require(
            _finite(altitude_m) and low_m <= altitude_m <= high_m,
            f"altitude_m={altitude_m!r}: expected {low_m:.0f} to {high_m:.0f} metres "
            "(150 km to 40,000 km); the unit is metres",
        )
        _require(
            _finite(inclination_rad) and 0.0 <= inclination_rad <= math.pi,
            f"inclination_rad={inclination_rad!r}: expected 0 to π radians (0° to 180°); "
            "convert degrees with kizuna.constants.DEG, e.g. 55 * DEG",
        )
        _require(_finite(raan0_rad), f"raan0_rad={raan0_rad!r}: expected a finite angle in radians")
        _require(isinstance(epoch, Epoch), f"epoch={epoch!r}: expected a kizuna.timebase.Epoch")

        a_km = wgs72.radiusearthkm + altitude_m / 1e3
        no_kozai_rad_per_min = math.sqrt(wgs72.mu / a_km**3) * 60.0
        jd0, fr0 = epoch.jd_split
        epoch_days = (jd0 - _JD_SGP4INIT_ORIGIN) + fr0
        per_plane = total // planes
        prefix = name if id_prefix is None else id_prefix
        ids, satrecs = [], []
        for p in range(planes):
            raan_rad = (raan0_rad + 2.0 * math.pi * p / planes) % (2.0 * math.pi)
            for s in range(per_plane):
                u_rad = 2.0 * math.pi * (s * planes + phasing * p) / total % (2.0 * math.pi)
                satrec = Satrec()
                satrec.sgp4init(  # positional only:
                    WGS72,  # whichconst
                    "i",  # opsmode: improved
                    len(satrecs) + 1,  # satnum
                    epoch_days,  # epoch [days since 1949-12-31 00:00 UT]
                    0.0,  # bstar
                    0.0,  # ndot
                    0.0,  # nddot
                    0.0,  # ecco
                    0.0,  # argpo [rad]
                    inclination_rad,  # inclo [rad]
                    u_rad,  # mo [rad]
                    no_kozai_rad_per_min,  # no_kozai [rad/min]
                    raan_rad,  # nodeo [rad]
                )
                ids.append(f"{prefix}-P{p + 1:02d}-S{s + 1:02d}")
                satrecs.append(satrec)
        return cls(name, ids, satrecs)

    @classmethod
    def from_tles(
        cls, name: str, text_or_lines: str | Iterable[str], *, source: str = "TLE text"
    ) -> Constellation:
        """Satellites from 2-line or 3-line TLE sets (see `kizuna.orbits.tle.parse_tles`).

        Raises `TleError` listing every broken line, with `source` and its line number.
        """
        lines = text_or_lines.split("\n") if isinstance(text_or_lines, str) else text_or_lines
        ids, satrecs = zip(*parse_tles(lines, source), strict=True)
        return cls(name, ids, satrecs)

    @classmethod
    def from_tle_file(cls, name: str, path: str | PathLike[str]) -> Constellation:
        """Satellites from a 2-line or 3-line TLE file; errors name the file and line."""
        ids, satrecs = zip(*read_tle_file(path), strict=True)
        return cls(name, ids, satrecs)

    def propagate(self, epoch: Epoch, t_s: ArrayLike) -> Ephemeris:
        """ECEF positions and velocities of every satellite at `t_s` (T,) seconds after `epoch`.

        One ``SatrecArray.sgp4`` call covers all S satellites × T times; TEME -> ECEF by GMST-82
        with UT1 = UTC and no polar motion (`kizuna.frames.teme_to_ecef`). A sample SGP4 flags
        (decayed, eccentricity out of range, ...) is NaN with its code in ``error_code``: nothing
        raises for one bad satellite; `Ephemeris.failures` says which and why.
        """
        t = np.asarray(t_s, dtype=np.float64)
        if t.ndim != 1 or not np.all(np.isfinite(t)):
            raise ValueError(
                f"t_s must be a 1-D array of finite seconds after the epoch, got shape {t.shape}"
                f"{' with non-finite values' if t.ndim == 1 else ''}; wrap a single time as [t_s]"
            )
        jd, fr = epoch.jd(t)
        error_code, r_teme_km, v_teme_km_per_s = self._array.sgp4(jd, fr)
        failed = error_code != 0
        r_teme_km[failed] = np.nan  # SGP4 still returns numbers for some codes (6: decayed)
        v_teme_km_per_s[failed] = np.nan
        pos_m, vel_m_per_s = teme_to_ecef(r_teme_km * 1e3, v_teme_km_per_s * 1e3, jd, fr)
        arrays = (t.copy(), pos_m, vel_m_per_s, error_code)
        for array in arrays:
            array.flags.writeable = False
        return Ephemeris(self.satellite_ids, epoch, *arrays)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _finite(x: object) -> bool:
    return isinstance(x, Real) and math.isfinite(x)
