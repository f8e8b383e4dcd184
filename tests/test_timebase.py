"""Tests for `kizuna.timebase`: UTC at the edges, seconds inside, split Julian dates.

Expected values come from outside Kizuna: `sgp4.api.jday` (python-sgp4's translation of
Vallado's `jday`, an independent calendar-to-Julian-date implementation), Python's own
`datetime` arithmetic, and published Julian dates (Vallado 2013, Examples 3-4 and 3-5; the Unix
epoch and J2000.0 by definition).

For scale: 1 µs of time is 7.5 mm of a LEO satellite's motion and 0.46 mm of the Earth's
rotation at the equator.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sgp4.api import jday

from kizuna.constants import SECONDS_PER_DAY
from kizuna.timebase import Epoch, NaiveDatetimeError, require_utc

UTC = dt.UTC
ONE_MICROSECOND = 1e-6
"""[s] The resolution of Python's datetime; Epoch.jd must agree with jday to this."""


def _jday_of(when: dt.datetime) -> tuple[float, float]:
    """sgp4's independent (jd, fraction) of an aware datetime's UTC calendar fields."""
    u = when.astimezone(UTC)
    return jday(u.year, u.month, u.day, u.hour, u.minute, u.second + u.microsecond * 1e-6)


def _split_difference_s(a: tuple, b: tuple) -> np.ndarray:
    """(whole_a + frac_a) - (whole_b + frac_b) in seconds, without adding the big parts first."""
    return ((np.asarray(a[0]) - np.asarray(b[0])) + (np.asarray(a[1]) - np.asarray(b[1]))) * SECONDS_PER_DAY


# --- Naive datetimes are refused, with the fix in the message ----------------------------------


def test_naive_datetime_is_refused_with_a_message_that_shows_the_fix():
    naive = dt.datetime(2026, 6, 1, 12, 30)
    with pytest.raises(NaiveDatetimeError) as excinfo:
        Epoch(naive)
    message = str(excinfo.value)
    assert naive.isoformat() in message  # quotes the bad input
    assert "2026-06-01T00:00:00Z" in message  # shows the TOML fix, with Z
    assert "tzinfo=datetime.timezone.utc" in message  # and the Python fix
    assert issubclass(NaiveDatetimeError, ValueError)


def test_naive_datetime_is_refused_everywhere_time_enters():
    epoch = Epoch(dt.datetime(2026, 6, 1, tzinfo=UTC))
    with pytest.raises(NaiveDatetimeError, match="Z"):
        require_utc(dt.datetime(2026, 6, 1))
    with pytest.raises(NaiveDatetimeError, match="Z"):
        epoch.seconds_since(dt.datetime(2026, 6, 1, 0, 0, 1))


def test_tzinfo_without_an_offset_counts_as_naive():
    # Python's definition of "aware": tzinfo is set AND tzinfo.utcoffset(d) is not None.
    class NoOffset(dt.tzinfo):
        def utcoffset(self, d):
            return None

        def dst(self, d):
            return None

        def tzname(self, d):
            return None

    with pytest.raises(NaiveDatetimeError):
        Epoch(dt.datetime(2026, 6, 1, tzinfo=NoOffset()))


# --- Aware non-UTC datetimes are converted to UTC ----------------------------------------------


def test_non_utc_datetime_is_converted_to_utc():
    tokyo = dt.timezone(dt.timedelta(hours=9))
    epoch = Epoch(dt.datetime(2026, 6, 1, 8, 0, tzinfo=tokyo))
    assert epoch.utc == dt.datetime(2026, 5, 31, 23, 0, tzinfo=UTC)
    assert epoch.utc.utcoffset() == dt.timedelta(0)
    assert epoch == Epoch(dt.datetime(2026, 5, 31, 23, 0, tzinfo=UTC))
    # The Julian date belongs to the UTC calendar day (31 May), not the local one (1 June):
    # JD 2461191.5 is 2026-05-31 00:00 UTC (sgp4.api.jday).
    assert epoch.jd_split == (2461191.5, pytest.approx(23 / 24, abs=1e-15))
    assert epoch.jd_split[0] == jday(2026, 5, 31, 0, 0, 0)[0]


def test_seconds_since_accepts_any_aware_zone():
    epoch = Epoch(dt.datetime(2026, 6, 1, tzinfo=UTC))
    new_york = dt.timezone(dt.timedelta(hours=-5))
    assert epoch.seconds_since(dt.datetime(2026, 5, 31, 20, 0, 30, tzinfo=new_york)) == 3630.0


# --- Julian dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected_jd", "tol_days"),
    [
        # JD of the Unix epoch, by definition (e.g. USNO; Meeus, Astronomical Algorithms ch. 7).
        (dt.datetime(1970, 1, 1, tzinfo=UTC), 2440587.5, 0.0),
        # J2000.0 is JD 2451545.0 at 2000-01-01 12:00 (as a calendar instant).
        (dt.datetime(2000, 1, 1, 12, tzinfo=UTC), 2451545.0, 0.0),
        # Vallado (2013) Example 3-4: 1996 October 26, 14:20 UT -> JD 2450383.09722222 (to 1e-8 d).
        (dt.datetime(1996, 10, 26, 14, 20, tzinfo=UTC), 2450383.09722222, 1e-8),
        # Vallado (2013) Example 3-5: 1992 August 20, 12:14 UT1 -> JD 2448855.009722 (to 1e-6 d).
        (dt.datetime(1992, 8, 20, 12, 14, tzinfo=UTC), 2448855.009722, 1e-6),
    ],
)
def test_jd_split_matches_published_julian_dates(when, expected_jd, tol_days):
    whole, fraction = Epoch(when).jd_split
    assert (whole - 0.5) % 1.0 == 0.0
    assert whole + fraction == pytest.approx(expected_jd, abs=tol_days)


def test_jd_matches_sgp4_jday_on_random_epochs_and_offsets():
    # 100 random epochs 1990-2060 (to the microsecond) x 50 offsets up to ±5 days each, so most
    # offsets cross one or more midnights, forwards or backwards. The offsets are whole
    # microseconds, so the reference instant epoch + offset is exact datetime arithmetic.
    rng = np.random.default_rng(20260601)
    first = dt.datetime(1990, 1, 1, tzinfo=UTC)
    span_us = int((dt.datetime(2060, 1, 1, tzinfo=UTC) - first) / dt.timedelta(microseconds=1))
    worst_s = 0.0
    for _ in range(100):
        epoch = Epoch(first + dt.timedelta(microseconds=int(rng.integers(0, span_us))))
        offsets_us = rng.integers(-5 * 86_400_000_000, 5 * 86_400_000_000, 50)
        whole, fraction = epoch.jd(offsets_us / 1e6)
        # The whole part is a midnight: it ends in .5. The fraction is within the day.
        assert np.all((whole - 0.5) % 1.0 == 0.0)
        assert np.all((fraction >= 0.0) & (fraction < 1.0))
        reference = np.array([_jday_of(epoch.utc + dt.timedelta(microseconds=int(us))) for us in offsets_us])
        worst_s = max(worst_s, np.abs(_split_difference_s((whole, fraction), reference.T)).max())
    assert worst_s <= ONE_MICROSECOND


def test_jd_across_midnight():
    # Half a second before midnight UTC; step across it forwards and back.
    epoch = Epoch(dt.datetime(2026, 6, 1, 23, 59, 59, 500_000, tzinfo=UTC))
    jd_june_1, _ = jday(2026, 6, 1, 0, 0, 0)
    offsets_s = np.array([-86_400.0, -0.25, 0.0, 0.25, 0.75, 1.5, 86_400.0, 3 * 86_400.0 + 0.6])
    whole, fraction = epoch.jd(offsets_s)
    assert list(whole - jd_june_1) == [-1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 4.0]
    expected_fraction = (
        np.array([86_399.5, 86_399.25, 86_399.5, 86_399.75, 0.25, 1.0, 86_399.5, 0.1]) / 86_400
    )
    assert np.abs(fraction - expected_fraction).max() * SECONDS_PER_DAY <= ONE_MICROSECOND
    # And the same against sgp4's jday at each instant.
    for t_s, w, f in zip(offsets_s, whole, fraction, strict=True):
        reference = _jday_of(epoch.utc + dt.timedelta(seconds=float(t_s)))
        assert abs(_split_difference_s((w, f), reference)) <= ONE_MICROSECOND


def test_jd_keeps_the_batch_shape():
    epoch = Epoch(dt.datetime(2026, 6, 1, tzinfo=UTC))
    assert [np.shape(x) for x in epoch.jd(12.5)] == [(), ()]
    assert [np.shape(x) for x in epoch.jd(np.zeros(7))] == [(7,), (7,)]
    assert [np.shape(x) for x in epoch.jd(np.zeros((4, 7)))] == [(4, 7), (4, 7)]


# --- datetime_at and seconds_since invert each other ------------------------------------------

EPOCHS = st.datetimes(
    min_value=dt.datetime(1960, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)
)
ZONES = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)


@settings(max_examples=300, deadline=None)
@given(epoch_utc=EPOCHS, t_s=st.floats(min_value=-30 * 365.25 * 86_400, max_value=30 * 365.25 * 86_400))
def test_seconds_since_inverts_datetime_at(epoch_utc, t_s):
    # datetime keeps whole microseconds, so a float offset comes back within half a microsecond
    # (plus float64 rounding of ~1e9 s, 1e-7 s): within 1 µs.
    epoch = Epoch(epoch_utc)
    assert abs(epoch.seconds_since(epoch.datetime_at(t_s)) - t_s) <= ONE_MICROSECOND


@settings(max_examples=300, deadline=None)
@given(epoch_utc=EPOCHS, when_utc=EPOCHS, zone=ZONES)
def test_datetime_at_inverts_seconds_since(epoch_utc, when_utc, zone):
    # Any aware instant within ±140 years maps to seconds and back to the same microsecond,
    # whatever its time zone; the result is in UTC.
    epoch = Epoch(epoch_utc)
    when = when_utc.astimezone(zone)
    back = epoch.datetime_at(epoch.seconds_since(when))
    assert back == when
    assert back.utcoffset() == dt.timedelta(0)
