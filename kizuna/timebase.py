"""Absolute time: the one place where simulated seconds become UTC instants and Julian dates.

Inside Kizuna, time is float seconds since the scenario epoch (a timezone-aware UTC instant).
Orbits, CoT and ASTERIX need absolute time; they get it from an `Epoch`. Imports nothing from
Kizuna but constants.

UT1 is taken equal to UTC. |UT1 - UTC| stays below 0.9 s by definition (IERS), which rotates the
Earth by at most 0.9 s x 7.29e-5 rad/s = 66 µrad: about 460 m at a 7,000 km orbit radius and 420 m
on the ground at the equator. That is the accuracy of an Earth-fixed satellite position without
Earth-orientation data; docs/conventions.md says so too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kizuna.constants import SECONDS_PER_DAY

__all__ = ["Epoch", "NaiveDatetimeError", "require_utc"]

_JD_UNIX_EPOCH = 2_440_587.5
"""Julian date of 1970-01-01T00:00:00 UTC."""


class NaiveDatetimeError(ValueError):
    """A datetime without a timezone where Kizuna needs an unambiguous UTC instant."""


def require_utc(when: dt.datetime) -> dt.datetime:
    """Return `when` converted to UTC; refuse a naive datetime with a message that shows the fix."""
    if when.tzinfo is None or when.tzinfo.utcoffset(when) is None:
        raise NaiveDatetimeError(
            f"{when.isoformat()} has no timezone, so the instant it names is ambiguous. "
            "Give it one: in TOML write 2026-06-01T00:00:00Z (Z = UTC) or an offset such as "
            "+09:00; in Python use datetime(..., tzinfo=datetime.timezone.utc)."
        )
    return when.astimezone(dt.UTC)


@dataclass(frozen=True)
class Epoch:
    """The scenario's time origin: a UTC instant, and conversions from seconds after it."""

    utc: dt.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "utc", require_utc(self.utc))

    @property
    def jd_split(self) -> tuple[float, float]:
        """Julian date of the epoch split as (midnight-aligned whole part ending in .5, fraction)."""
        midnight = self.utc.replace(hour=0, minute=0, second=0, microsecond=0)
        days = (midnight - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).days
        since_midnight = self.utc - midnight
        fraction = since_midnight.total_seconds() / SECONDS_PER_DAY
        return _JD_UNIX_EPOCH + days, fraction

    def jd(self, t_s: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Julian dates (UTC, taken as UT1) at `t_s` seconds after the epoch, split as (whole, fraction).

        The split keeps sub-microsecond precision (one float64 Julian date resolves only ~40 µs).
        """
        jd0, fr0 = self.jd_split
        fr = fr0 + np.asarray(t_s, dtype=np.float64) / SECONDS_PER_DAY
        whole = np.floor(fr)
        fraction = fr - whole
        carry = fraction >= 1.0  # fr = -1e-17 gives 1.0 after the subtraction: keep [0, 1)
        return jd0 + whole + carry, np.where(carry, 0.0, fraction)

    def datetime_at(self, t_s: float) -> dt.datetime:
        """The UTC instant `t_s` seconds after the epoch."""
        return self.utc + dt.timedelta(seconds=float(t_s))

    def seconds_since(self, when: dt.datetime) -> float:
        """Seconds from the epoch to a timezone-aware instant (negative before the epoch)."""
        return (require_utc(when) - self.utc).total_seconds()
