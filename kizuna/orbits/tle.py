"""Two-line element sets (TLEs): strict reading, with every broken line reported at once.

Format: the NORAD two-line element set as documented by CelesTrak ("NORAD Two-Line Element Set
Format", T. S. Kelso) and by Vallado, Crawford, Hujsak & Kelso, "Revisiting Spacetrack Report #3",
AIAA 2006-6753. Each data line has exactly 69 columns; column 69 is a checksum: the sum of the
digits in columns 1-68, each minus sign counting 1, modulo 10. A set is line 1 then line 2,
optionally preceded by a name line (a "3LE"; Space-Track prefixes names with ``"0 "``).

The reference parser (``sgp4.api.Satrec.twoline2rv``) checks neither checksums nor field syntax:
``08264.5178x528`` silently becomes day 264.5178. So this module checks first, then hands clean
lines to it. The column template is python-sgp4's (``sgp4/io.py``, ``LINE1`` and ``LINE2``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

from sgp4.api import WGS72, Satrec

__all__ = ["TleError", "parse_tles", "read_tle_file"]

TLE_LINE_LENGTH = 69

_TEMPLATE = {
    "1": "1 NNNNNC NNNNNAAA NNNNN.NNNNNNNN +.NNNNNNNN +NNNNN-N +NNNNN-N N NNNNN",
    "2": "2 NNNNN NNN.NNNN NNN.NNNN NNNNNNN NNN.NNNN NNN.NNNN NN.NNNNNNNNNNNNNN",
}
"""Where each space and decimal point must be; N marks a digit."""

_FLOAT = re.compile(r" *[+-]?(\d+\.\d*|\.\d+)")
_EXPONENT = re.compile(r"[ +-]\d{5}[+-]\d")  # "-11606-4" means -0.11606e-4: decimal point assumed
_SATNUM = re.compile(r"[0-9A-HJ-NP-Z]\d{4}")  # Alpha-5 numbering uses letters but not I or O

# (line kind, first column, last column (1-based, inclusive), field, pattern)
_FIELDS = (
    ("1", 3, 7, "catalog number", _SATNUM),
    ("1", 19, 20, "epoch year", re.compile(r"\d\d")),
    ("1", 21, 32, "epoch day of year", _FLOAT),
    ("1", 34, 43, "first derivative of mean motion", _FLOAT),
    ("1", 45, 52, "second derivative of mean motion", _EXPONENT),
    ("1", 54, 61, "BSTAR drag term", _EXPONENT),
    ("2", 3, 7, "catalog number", _SATNUM),
    ("2", 9, 16, "inclination [deg]", _FLOAT),
    ("2", 18, 25, "right ascension of the ascending node [deg]", _FLOAT),
    ("2", 27, 33, "eccentricity (decimal point assumed)", re.compile(r"[ \d]*\d")),
    ("2", 35, 42, "argument of perigee [deg]", _FLOAT),
    ("2", 44, 51, "mean anomaly [deg]", _FLOAT),
    ("2", 53, 63, "mean motion [rev/day]", _FLOAT),
)

Numbered = tuple[int, str]


class TleError(ValueError):
    """Broken TLE input; ``problems`` lists every fault found as (line number, reason)."""

    def __init__(self, source: str, problems: list[Numbered]) -> None:
        self.source = source
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        details = "\n".join(f"  line {number}: {reason}" for number, reason in problems)
        super().__init__(
            f"{count} reading TLEs from {source}:\n{details}\n"
            "A TLE set is an optional name line, then line 1 and line 2 of exactly 69 columns each, "
            "the last column a checksum (CelesTrak, 'NORAD Two-Line Element Set Format'). Copy the "
            "lines again from their source without re-wrapping or editing them."
        )


def _checksum(line: str) -> int:
    """Sum of the digits in columns 1-68, each '-' counting 1, modulo 10."""
    return sum(int(c) if c.isdigit() else c == "-" for c in line[:68]) % 10


def _line_problem(line: str, kind: str) -> str | None:
    """Why data line `kind` ('1' or '2') is broken, or None. Reports the first fault found."""
    if not line.isascii():
        return f"contains non-ASCII characters: {line!r}"
    if not line.isprintable():  # a NUL or other control character (the classification column included)
        return f"contains control characters: {line!r}"
    if len(line) != TLE_LINE_LENGTH:
        hint = "truncated?" if len(line) < TLE_LINE_LENGTH else "extra characters at the end?"
        return f"has {len(line)} characters, a TLE line has {TLE_LINE_LENGTH} ({hint}): {line!r}"
    if not line[68].isdigit() or int(line[68]) != _checksum(line):
        return (
            f"bad checksum: column 69 is {line[68]!r} but the digits of columns 1-68 (each '-' "
            f"counting 1) sum to {_checksum(line)} modulo 10, so a character was altered: {line!r}"
        )
    template = _TEMPLATE[kind]
    for column, (want, got) in enumerate(zip(template, line, strict=True), start=1):
        if want in " ." and got != want:
            return (
                f"column {column} should be {want!r} but is {got!r}, so the fields are shifted. "
                f"Expected layout (N = digit):\n    {template}\n    {line}"
            )
    for field_kind, first, last, field, pattern in _FIELDS:
        text = line[first - 1 : last]
        if field_kind == kind and not pattern.fullmatch(text):
            return f"cannot read the {field} in columns {first}-{last}: {text!r}"
    return None


def _read_set(
    name: Numbered | None, line1: Numbered, line2: Numbered, first_line_of: dict[str, int]
) -> tuple[str, Satrec] | list[Numbered]:
    """One set -> (satellite id, Satrec), or the list of its problems."""
    (n1, text1), (n2, text2) = line1, line2
    faults = [
        (n, why)
        for n, text, kind in ((n1, text1, "1"), (n2, text2, "2"))
        if (why := _line_problem(text, kind))
    ]
    if not faults and text1[2:7] != text2[2:7]:
        why = f"catalog number {text2[2:7]!r} differs from line 1's {text1[2:7]!r}: two satellites' lines"
        faults = [(n2, why)]
    start, satellite_id = name if name else (n1, text1[2:7])
    if not faults and satellite_id in first_line_of:
        why = (
            f"satellite id {satellite_id!r} is already used by the set at line {first_line_of[satellite_id]}"
        )
        faults = [(start, why + "; give each satellite a unique name line")]
    if faults:
        return faults
    first_line_of[satellite_id] = start
    return satellite_id, Satrec.twoline2rv(text1, text2, WGS72)


def parse_tles(lines: Iterable[str], source: str) -> list[tuple[str, Satrec]]:
    """Read 2-line and 3-line TLE sets into ``(satellite id, Satrec)`` pairs, in input order.

    The satellite id is the name line (less a ``"0 "`` prefix) where there is one, else the
    catalog number in columns 3-7 of line 1. Elements take the WGS-72 constants that SGP4 and the
    published element sets are fitted with (AIAA 2006-6753, "Gravitational constants"). Blank lines
    and lines starting with ``#`` (comments, as in Vallado's SGP4-VER.TLE) are skipped. Every
    broken line is collected and raised together as one `TleError` naming `source` and the 1-based
    line numbers.
    """
    numbered = [
        (n, text.rstrip())
        for n, text in enumerate(lines, start=1)
        if text.strip() and not text.startswith("#")
    ]
    problems: list[Numbered] = []
    sets: list[tuple[str, Satrec]] = []
    first_line_of: dict[str, int] = {}
    name: Numbered | None = None  # a name line waiting for its data lines
    i = 0
    while i < len(numbered):
        number, text = numbered[i]
        following = numbered[i + 1] if i + 1 < len(numbered) else (0, "")
        if text.startswith("1 ") and following[1].startswith("2 "):
            result = _read_set(name, numbered[i], following, first_line_of)
            if isinstance(result, tuple):
                sets.append(result)
            else:
                problems.extend(result)
            i += 2
        elif text.startswith("1 "):
            problems.append((number, "line 1 is not followed by a line 2 (a line 2 is missing)"))
            i += 1
        elif text.startswith("2 ") and following[1].startswith("1 "):
            problems.append(
                (number, f"line 2 comes before line 1: lines {number} and {following[0]} are swapped")
            )
            i += 2
        elif text.startswith("2 "):
            problems.append((number, "line 2 has no line 1 before it"))
            i += 1
        else:
            if name is not None:
                problems.append((name[0], f"name line {name[1]!r} is not followed by a TLE line 1"))
            name, i = (number, text.strip().removeprefix("0 ").strip()), i + 1
            continue
        name = None
    if name is not None:
        problems.append((name[0], f"name line {name[1]!r} is not followed by a TLE line 1"))
    if not problems and not sets:
        problems.append((1, "no TLE sets found: the input is empty, blank or only comments"))
    if problems:
        raise TleError(source, sorted(problems))
    return sets


def read_tle_file(path: str | PathLike[str]) -> list[tuple[str, Satrec]]:
    """`parse_tles` on a file; a `TleError` names the file. Line numbers are as an editor shows them
    (only newlines end a line); a non-ASCII byte is reported on its line, not as a decoding error."""
    text = Path(path).read_text(encoding="ascii", errors="replace")  # a bad byte becomes U+FFFD
    return parse_tles(text.split("\n"), str(path))
