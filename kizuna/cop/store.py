"""The pictures the COP shows, indexed by time: from a recording (replay) or growing (live).

A **view** is one nation's picture in one of two forms: ``coalition`` (its system tracks,
``picture_<NATION>``) or ``own`` (the firm tracks of its own sensors alone, ``tracks_<NATION>``).
Own tracks carry the number the nation's node gives a system track it starts from them (its block
plus the local id, `kizuna.fusion.picture.NUMBER_BLOCK`), so a track keeps its number when a user
switches from own to coalition.

`PictureStore.at(view, t)` is the picture at the last step at or before ``t``: one binary search
and a slice. Rows become the page's track records (`track_records`): position, speed, course,
category, quality, pedigree, reporter, and the 2σ horizontal uncertainty ellipse from the recorded
σ (the diagonal of the ECEF covariance, rotated to local east-north).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from kizuna.fusion.category import classify
from kizuna.fusion.picture import NUMBER_BLOCK
from kizuna.network.messages import CATEGORIES
from kizuna.recording import RecordingError, read_manifest
from kizuna.scenario import LoadedScenario

__all__ = ["VIEWS", "PictureStore", "View", "scenario_payload", "track_records"]

VIEWS = ("coalition", "own")
FIRM = ("confirmed", "coasting")
TRAIL_S = 60.0
"""Length of the trails drawn behind tracks, seconds."""
ELLIPSE_SIGMA = 2.0
"""Uncertainty ellipses are drawn at 2σ (86 % of a 2-D Gaussian's mass)."""


@dataclass(frozen=True)
class View:
    nation: str
    view: str  # "coalition" or "own"

    @property
    def table(self) -> str:
        return f"picture_{self.nation}" if self.view == "coalition" else f"tracks_{self.nation}"


@dataclass
class _Table:
    """Rows of one view sorted by time, with the row offset of each step."""

    chunks: list[pd.DataFrame] = field(default_factory=list)
    frame: pd.DataFrame | None = None
    times: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    starts: NDArray[np.intp] = field(default_factory=lambda: np.zeros(1, dtype=np.intp))

    def consolidate(self) -> pd.DataFrame:
        if self.chunks:
            parts = ([self.frame] if self.frame is not None else []) + self.chunks
            frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
            frame = frame.sort_values("time_s", kind="stable", ignore_index=True)
            self.chunks = []
            self.frame = frame
            t = frame["time_s"].to_numpy()
            edges = np.flatnonzero(np.diff(t)) + 1 if len(t) else np.zeros(0, dtype=np.intp)
            self.times = t[np.concatenate([[0], edges])] if len(t) else np.zeros(0)
            self.starts = np.concatenate([[0], edges, [len(t)]]).astype(np.intp)
        if self.frame is None:
            self.frame = pd.DataFrame({"time_s": np.zeros(0), "track_id": np.zeros(0, dtype=np.int64)})
        return self.frame


class PictureStore:
    """Every view of every nation, by time; thread-safe for one writer (a running simulation or
    node) and many readers (the server's connections)."""

    def __init__(self, scenario: dict[str, Any], *, live: bool = False) -> None:
        self.scenario = scenario
        self.live = live
        s = scenario["scenario"]
        self.nations: list[str] = [n["code"] for n in s["nations"]]
        self.step_s = float(s["step_s"])
        self.duration_s = float(s["duration_s"])
        self.epoch_utc: str = scenario["derived"]["epoch_utc"]
        self._tables: dict[str, _Table] = {}
        self._lock = threading.Lock()
        self._satellites: list[pd.DataFrame] = []
        self.default_nation = self.nations[0]
        self.version = 0
        """Incremented by every `append`: a live page's clock follows it."""

    # -- filling ---------------------------------------------------------------------------------

    @classmethod
    def from_recording(cls, folder: str | Path) -> PictureStore:
        """Load a recording written by `kizuna run`; `RecordingError` says what is missing."""
        folder = Path(folder)
        manifest = read_manifest(folder)
        scenario_path = folder / "scenario.json"
        if not scenario_path.is_file():
            raise RecordingError(f"{folder}: scenario.json is missing (the COP needs the scenario)")
        try:
            scenario = json.loads(scenario_path.read_text(encoding="utf-8"))
            scenario["scenario"]["nations"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise RecordingError(f"{scenario_path}: not a Kizuna scenario.json ({exc})") from None
        store = cls(scenario)
        tables = manifest.get("tables", {})
        needed = [f"picture_{n}" for n in store.nations]
        missing = [name for name in needed if name not in tables]
        if missing:
            raise RecordingError(
                f"{folder}: no coalition picture in this recording ({', '.join(missing)} missing); "
                "it was written before coalition nodes existed — re-run the scenario"
            )
        for nation in store.nations:
            for name in (f"picture_{nation}", f"tracks_{nation}"):
                if name in tables:
                    store.append(name, pq.read_table(folder / tables[name]).to_pandas())
        if "satellites" in tables:
            store.append("satellites", pq.read_table(folder / tables["satellites"]).to_pandas())
        return store

    @classmethod
    def for_scenario(cls, scenario: dict[str, Any], *, nation: str | None = None) -> PictureStore:
        """An empty live store for a resolved scenario (``scenario.json``'s content, or
        `scenario_payload`); ``nation``: the one a live node serves, shown first."""
        store = cls(scenario, live=True)
        if nation is not None:
            store.default_nation = nation
        return store

    def append(self, table: str, rows: pd.DataFrame | dict[str, Any]) -> None:
        """Add rows of ``picture_<N>``, ``tracks_<N>`` or ``satellites`` (recording schemas);
        other tables are ignored, so this can listen to every write of a run."""
        if not (table.startswith(("picture_", "tracks_")) or table == "satellites"):
            return
        if isinstance(rows, pd.DataFrame):
            frame = rows
        else:
            frame = pd.DataFrame({
                k: v.to_numpy(zero_copy_only=False) if isinstance(v, pa.Array) else v for k, v in rows.items()
            })  # fmt: skip
        if table.startswith("tracks_"):
            frame = _own_rows(frame, self.nations.index(table.removeprefix("tracks_")))
        with self._lock:
            if table == "satellites":
                self._satellites.append(frame)
            else:
                self._tables.setdefault(table, _Table()).chunks.append(frame)
            self.version += 1

    @property
    def satellites(self) -> pd.DataFrame | None:
        """Every satellite row so far (None when the scenario has no satellites)."""
        with self._lock:
            if len(self._satellites) > 1:
                self._satellites = [pd.concat(self._satellites, ignore_index=True)]
            return self._satellites[0] if self._satellites else None

    # -- reading ---------------------------------------------------------------------------------

    def _table(self, view: View) -> _Table:
        if view.nation not in self.nations:
            raise KeyError(f"unknown nation {view.nation!r}; this picture has {self.nations}")
        if view.view not in VIEWS:
            raise KeyError(f"unknown view {view.view!r}; choose one of {list(VIEWS)}")
        table = self._tables.setdefault(view.table, _Table())
        table.consolidate()
        return table

    def time_range(self) -> tuple[float, float]:
        """First and last step time held in any view (0, 0 when nothing yet)."""
        with self._lock:
            tables = [self._table(View(n, "coalition")) for n in self.nations]
            spans = [t.times for t in tables if len(t.times)]
        if not spans:
            return 0.0, 0.0
        return min(float(s[0]) for s in spans), max(float(s[-1]) for s in spans)

    def at(self, view: View, t: float) -> pd.DataFrame:
        """The view's rows at the last step at or before ``t`` (empty before its first step, or
        when that step is more than two steps older than ``t``: the picture was empty then)."""
        with self._lock:
            table = self._table(view)
            frame = table.frame
            assert frame is not None
            k = int(np.searchsorted(table.times, t + 1e-9, side="right")) - 1
            if k < 0 or t - table.times[k] > 2.0 * self.step_s:
                return frame.iloc[0:0]
            return frame.iloc[table.starts[k] : table.starts[k + 1]]

    def between(self, view: View, t0: float, t1: float) -> pd.DataFrame:
        """The view's rows with ``t0 ≤ time ≤ t1``."""
        with self._lock:
            table = self._table(view)
            frame = table.frame
            assert frame is not None
            a = int(np.searchsorted(table.times, t0 - 1e-9, side="left"))
            b = int(np.searchsorted(table.times, t1 + 1e-9, side="right"))
            return frame.iloc[table.starts[a] : table.starts[b]]

    def history(self, view: View, track_id: int) -> pd.DataFrame:
        """Every row of one track in a view."""
        with self._lock:
            frame = self._table(view).frame
            assert frame is not None
            return frame[frame["track_id"].to_numpy() == track_id]

    def trails(self, view: View, t: float, ids: NDArray[np.int64]) -> dict[int, list[list[float]]]:
        """``[lon, lat]`` points of each track over the last `TRAIL_S` seconds, oldest first."""
        rows = self.between(view, t - TRAIL_S, t)
        rows = rows[np.isin(rows["track_id"].to_numpy(), ids)]
        out: dict[int, list[list[float]]] = {}
        for track_id, lon, lat in zip(
            rows["track_id"].to_numpy(), rows["lon_deg"].to_numpy(), rows["lat_deg"].to_numpy(), strict=True
        ):
            out.setdefault(int(track_id), []).append([round(float(lon), 5), round(float(lat), 5)])
        return out


def scenario_payload(loaded: LoadedScenario) -> dict[str, Any]:
    """What the COP reads of ``scenario.json``, for a live node that writes none."""
    return {
        "scenario": loaded.scenario.model_dump(mode="json"),
        "derived": {"epoch_utc": loaded.scenario.epoch.isoformat()},
    }


def _own_rows(frame: pd.DataFrame, nation_index: int) -> pd.DataFrame:
    """A nation's tracker rows as a picture: firm tracks only, numbered as its node numbers them,
    categorised by the same kinematic rule as the system picture."""
    frame = frame[frame["status"].isin(FIRM).to_numpy()].copy()
    frame["track_id"] = frame["track_id"].to_numpy() + (nation_index + 1) * NUMBER_BLOCK
    x = frame[["x_m", "y_m", "z_m", "vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]].to_numpy()
    frame["category"] = np.array(CATEGORIES, dtype=object)[classify(x)] if len(frame) else []
    return frame


def _enu_rotation(lat_deg: NDArray[np.float64], lon_deg: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N, 3, 3) ECEF → local east-north-up rotations."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    zero = np.zeros_like(lat)
    return np.stack(
        [
            np.stack([-so, co, zero], axis=-1),
            np.stack([-sl * co, -sl * so, cl], axis=-1),
            np.stack([cl * co, cl * so, sl], axis=-1),
        ],
        axis=-2,
    )


def track_records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The page's record of each track row (module docstring); numbers rounded for the wire."""
    if not len(rows):
        return []
    lat = rows["lat_deg"].to_numpy()
    lon = rows["lon_deg"].to_numpy()
    rot = _enu_rotation(lat, lon)
    v_enu = np.einsum("nij,nj->ni", rot, rows[["vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]].to_numpy())
    speed = np.hypot(v_enu[:, 0], v_enu[:, 1])
    course = np.degrees(np.arctan2(v_enu[:, 0], v_enu[:, 1])) % 360.0
    var = rows[["sigma_x_m", "sigma_y_m", "sigma_z_m"]].to_numpy() ** 2
    en = rot[:, :2, :]
    cov = np.einsum("nij,nj,nkj->nik", en, var, en)  # horizontal (east, north) covariance
    half_trace = 0.5 * (cov[:, 0, 0] + cov[:, 1, 1])
    diff = np.hypot(0.5 * (cov[:, 0, 0] - cov[:, 1, 1]), cov[:, 0, 1])
    major = ELLIPSE_SIGMA * np.sqrt(np.maximum(half_trace + diff, 0.0))
    minor = ELLIPSE_SIGMA * np.sqrt(np.maximum(half_trace - diff, 0.0))
    # azimuth of the major axis from north, clockwise
    orient = np.degrees(0.5 * np.arctan2(2.0 * cov[:, 0, 1], cov[:, 1, 1] - cov[:, 0, 0])) % 180.0
    n = len(rows)
    pedigree = rows["pedigree"].to_numpy() if "pedigree" in rows else np.full(n, "", dtype=object)
    reporter = rows["reporter"].to_numpy() if "reporter" in rows else np.full(n, "", dtype=object)
    n_sources = rows["n_sources"].to_numpy() if "n_sources" in rows else np.ones(n, dtype=np.int64)
    sensor = rows["last_sensor_id"].to_numpy() if "last_sensor_id" in rows else np.full(n, "", dtype=object)
    columns = zip(
        rows["track_id"].to_numpy().tolist(),
        np.round(lat, 5).tolist(),
        np.round(lon, 5).tolist(),
        np.round(rows["alt_m"].to_numpy()).tolist(),
        np.round(speed, 1).tolist(),
        np.round(course, 1).tolist(),
        np.round(v_enu[:, 2], 1).tolist(),
        rows["category"].tolist(),
        rows["quality"].to_numpy().astype(int).tolist(),
        rows["status"].tolist(),
        [str(p) for p in pedigree],
        [str(r) for r in reporter],
        np.asarray(n_sources).astype(int).tolist(),
        [str(s) for s in sensor],
        np.round(major).tolist(),
        np.round(minor).tolist(),
        np.round(orient, 1).tolist(),
        strict=True,
    )
    keys = (
        "id", "lat", "lon", "alt", "spd", "crs", "vz", "cat", "q", "st", "ped", "rep", "n", "sensor",
        "ea", "eb", "eo",
    )  # fmt: skip
    return [dict(zip(keys, values, strict=True)) for values in columns]
