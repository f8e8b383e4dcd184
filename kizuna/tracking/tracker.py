"""The tracker loop: scans of detections in, a track table out.

`Tracker.step` takes a `DetectionBatch` and processes its *scans* in time order — a scan is the rows
with the same (time_s, sensor_id); scans at the same time are taken in sensor-id order. Each scan
runs the loop of Stone Soup's ``MultiTargetTracker`` (predict → associate → update → looks/delete →
initiate), each stage a named function below working on whole arrays:

1. **Predict** (`predict_tracks`) every live track to the scan time with the motion model
   (`kizuna.tracking.filters.predict`, per-track Δt from the track's state time).
2. **Associate** (`kizuna.tracking.association.gnn`): global nearest neighbour of the predicted
   tracks and the scan's detections.
3. **Update** (`update_assigned`): EKF update of the assigned tracks
   (`kizuna.tracking.filters.update_detections`). The table then holds the *predicted* state for
   the tracks not assigned and the updated one for those assigned — every live row's state is at
   the scan time afterwards (`Tracker.time_s`). For the linear CV model, predicting in several
   steps equals predicting once over their sum, so this write-back changes nothing.
4. **Looks** (`looked_at`, then `TrackTable.record_looks`): which tracks the scan *looked at*
   decides who is charged a miss. Kizuna charges a scan to the tracks **this sensor last updated**
   (it has been seeing them, so not seeing them now is a miss) and to those it updates now (a
   hit). A track held only by another sensor is not penalised when this one does not report it (it
   may be outside this sensor's coverage); a tentative track is always made by the sensor that
   then looks at it, so it can die by M-of-N; a confirmed track missed by its sensor coasts and is
   deleted after K misses, or by the covariance and time limits (`LifecycleParameters`).
   A coverage model per sensor (field of view, range) is the better rule and a later improvement.
5. **Initiate** (`initiate_tracks`): the scan's unassigned detections are paired with the
   previous scan's unassigned detections *of the same sensor* (`initiate_from_scans`, speed
   gate ``max_speed_m_per_s``, two-point differencing); each detection seeds at most one track
   (greedy on the displacement). New tracks are tentative with two looks, both hits (``hits=0b11``),
   so the default confirmation is 4 of 5 looks: the two-point start plus 2 of the next 3.
   ``los`` rows do not initiate (stereo initiation is not wired here yet).
6. **Purge** the deleted rows; optionally append the table to `Tracker.history`.

**Late data.** A scan earlier than `Tracker.time_s` is not applied at the wrong time: it is
counted in `Tracker.late_scans` and skipped. Re-processing within a bounded window (keeping the
recent scans and rewinding) is a later improvement.

Imports NumPy and the tracking and sensor layers only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from kizuna.sensors.detections import DetectionBatch
from kizuna.tracking.association import Assignment, AssociationParameters, gnn
from kizuna.tracking.filters import predict, update_detections
from kizuna.tracking.initiation import Initiation, initiate_from_scans
from kizuna.tracking.lifecycle import LifecycleParameters, TrackStatus, TrackTable
from kizuna.tracking.models import ConstantVelocity, MotionModel

__all__ = [
    "DEFAULT_LIFECYCLE",
    "STATUS_NAMES",
    "Tracker",
    "initiate_tracks",
    "looked_at",
    "one_per_detection",
    "predict_tracks",
    "scan_slices",
    "select_rows",
    "track_columns",
    "update_assigned",
]

Array = NDArray[np.float64]

DEFAULT_LIFECYCLE = LifecycleParameters(confirm_hits=4, confirm_looks=5, max_consecutive_misses=5)
"""Two-point start (2 hits in 2 looks) plus 2 hits in the next 3 looks confirms; 5 misses in a row
delete (at P_D = 0.9 a held target loses its track by misses with probability 1e-5 per look)."""

STATUS_NAMES: NDArray[np.object_] = np.array([s.name.lower() for s in TrackStatus], dtype=object)
"""``status`` code -> name: tentative, confirmed, coasting, deleted."""


# --- Stages --------------------------------------------------------------------------------------


def select_rows(batch: DetectionBatch, rows: NDArray[np.intp]) -> DetectionBatch:
    """The batch's rows ``rows`` (in that order) as a new batch."""
    fields = DetectionBatch.__dataclass_fields__
    return DetectionBatch(**{name: getattr(batch, name)[rows] for name in fields})


def scan_slices(batch: DetectionBatch) -> list[NDArray[np.intp]]:
    """Row indices of each scan (same time_s and sensor_id), scans in (time, sensor id) order."""
    if len(batch) == 0:
        return []
    _, sensor_code = np.unique(batch.sensor_id.astype(str), return_inverse=True)
    order = np.lexsort((sensor_code, batch.time_s))
    t, s = batch.time_s[order], sensor_code[order]
    cuts = np.flatnonzero((t[1:] != t[:-1]) | (s[1:] != s[:-1])) + 1
    return np.split(order.astype(np.intp), cuts)


def predict_tracks(model: MotionModel, table: TrackTable, dt_s: Array) -> tuple[Array, Array]:
    """Every row of the table predicted over its own ``dt_s (N,)`` (x (N, n), P (N, n, n))."""
    if len(table) == 0:
        return table.x.copy(), table.P.copy()
    return predict(model, table.x, table.P, dt_s)


def update_assigned(
    x: Array, p: Array, scan: DetectionBatch, assignment: Assignment
) -> tuple[Array, Array, NDArray[np.bool_]]:
    """x, P with the assigned rows EKF-updated by their detections, and the hit mask (N,)."""
    ti, dj = assignment.track_index, assignment.detection_index
    x_out, p_out = x.copy(), p.copy()
    hit = np.zeros(len(x), dtype=bool)
    if len(ti):
        x_out[ti], p_out[ti], _ = update_detections(
            x[ti], p[ti], scan.kind[dj], scan.z[dj], scan.cov[dj], scan.sensor_pos_m[dj],
            scan.sensor_vel_m_per_s[dj],
        )  # fmt: skip
        hit[ti] = True
    return x_out, p_out, hit


def looked_at(last_sensor: NDArray[np.object_], sensor_id: str, hit: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Tracks a scan of ``sensor_id`` looked at: those this sensor last updated, and its hits now."""
    return (last_sensor == sensor_id) | hit


def one_per_detection(init: Initiation) -> NDArray[np.intp]:
    """Indices of pairs keeping at most one pair per earlier and per later detection, preferring
    the smaller displacement (greedy in two passes: later detections first, then earlier)."""
    speed = np.linalg.norm(init.x[:, 3:6], axis=1)
    order = np.argsort(speed, kind="stable")
    _, first_of_second = np.unique(init.second[order], return_index=True)
    kept = order[np.sort(first_of_second)]
    _, first_of_first = np.unique(init.first[kept], return_index=True)
    return np.sort(kept[first_of_first]).astype(np.intp)


def initiate_tracks(
    previous: DetectionBatch | None, current: DetectionBatch, max_speed_m_per_s: float
) -> tuple[Initiation | None, NDArray[np.intp]]:
    """Two-point initiation from two scans of one sensor: (the kept pairs, rows of ``current``
    left unused). ``None`` when there is nothing to pair."""
    all_rows = np.arange(len(current), dtype=np.intp)
    if previous is None or len(previous) == 0 or len(current) == 0:
        return None, all_rows
    init = initiate_from_scans(previous, current, max_speed_m_per_s=max_speed_m_per_s, same_sensor=True)
    keep = one_per_detection(init)
    init = Initiation(
        init.x[keep], init.P[keep], init.time_s[keep], init.first[keep], init.second[keep], init.n_candidates
    )
    return init, np.setdiff1d(all_rows, init.second).astype(np.intp)


def track_columns(table: TrackTable, time_s: float) -> dict[str, NDArray[np.generic]]:
    """The table's rows as output columns: time_s, track_id, status (name), x_m … vz_m_per_s,
    sigma_x_m … sigma_z_m (√ of the position covariance diagonal), quality (0–15), P (N, 6, 6)."""
    n = len(table)
    sigma = np.sqrt(np.maximum(np.diagonal(table.P[:, 0:3, 0:3], axis1=1, axis2=2), 0.0))
    cols: dict[str, NDArray[np.generic]] = {
        "time_s": np.full(n, float(time_s)),
        "track_id": table.track_id.copy(),
        "status": STATUS_NAMES[table.status.astype(np.intp)],
    }
    names = ("x_m", "y_m", "z_m", "vx_m_per_s", "vy_m_per_s", "vz_m_per_s")
    cols.update({name: table.x[:, i].copy() for i, name in enumerate(names)})
    cols.update({name: sigma[:, i] for i, name in enumerate(("sigma_x_m", "sigma_y_m", "sigma_z_m"))})
    cols["quality"] = table.quality()
    cols["P"] = table.P.copy()
    return cols


# --- The tracker ---------------------------------------------------------------------------------


@dataclass
class Tracker:
    """GNN / EKF multi-target tracker over scans (module docstring). Rows of `table` are the live
    tracks, every state at `time_s`; `history` holds `track_columns` per scan when
    ``record_history`` is set (concatenate with `history_columns`)."""

    model: MotionModel = field(default_factory=lambda: ConstantVelocity(q_m2_per_s3=10.0))
    association: AssociationParameters = field(default_factory=AssociationParameters)
    lifecycle: LifecycleParameters = DEFAULT_LIFECYCLE
    max_speed_m_per_s: float = 1_000.0
    record_history: bool = False

    def __post_init__(self) -> None:
        self.table = TrackTable.empty(self.model.state_dim)
        self.time_s = -np.inf
        self.last_sensor = np.zeros(0, dtype=object)  # per row: the sensor of its last hit
        self.pending: dict[str, DetectionBatch] = {}  # per sensor: last scan's unused detections
        self.history: list[dict[str, NDArray[np.generic]]] = []
        self.n_scans = 0
        self.late_scans = 0
        self.n_confirmed = 0  # tracks ever confirmed

    def step(self, batch: DetectionBatch) -> None:
        """Process the batch's scans in time order; scans earlier than `time_s` are counted in
        `late_scans` and skipped."""
        for rows in scan_slices(batch):
            scan = select_rows(batch, rows)
            if scan.time_s[0] < self.time_s:
                self.late_scans += 1
                continue
            self._scan(scan)

    def _scan(self, scan: DetectionBatch) -> None:
        t, sensor = float(scan.time_s[0]), str(scan.sensor_id[0])
        dt = np.full(len(self.table), t - self.time_s if len(self.table) else 0.0)
        x, p = predict_tracks(self.model, self.table, dt)
        assignment = gnn(x, p, scan, self.association)
        self.table.x, self.table.P, hit = update_assigned(x, p, scan, assignment)
        looked = looked_at(self.last_sensor, sensor, hit)
        self.last_sensor = np.where(hit, sensor, self.last_sensor)
        result = self.table.record_looks(looked, hit, t, self.lifecycle)
        self.n_confirmed += int(result.confirmed.sum())
        self._initiate(select_rows(scan, assignment.unassigned_detections), sensor)
        self._purge()
        self.time_s, self.n_scans = t, self.n_scans + 1
        if self.record_history:
            self.history.append(track_columns(self.table, t))

    def _initiate(self, unused: DetectionBatch, sensor: str) -> None:
        init, left = initiate_tracks(self.pending.get(sensor), unused, self.max_speed_m_per_s)
        self.pending[sensor] = select_rows(unused, left)
        if init is not None and len(init):
            self.table.add(init.x, init.P, init.time_s, hits=0b11, n_looks=2)
            self.last_sensor = np.concatenate([self.last_sensor, np.full(len(init), sensor, dtype=object)])

    def _purge(self) -> None:
        self.last_sensor = self.last_sensor[self.table.live]
        self.table.purge()

    def tracks(self) -> dict[str, NDArray[np.generic]]:
        """The live tracks now, as `track_columns` at `time_s`."""
        return track_columns(self.table, self.time_s)

    def history_columns(self) -> dict[str, NDArray[np.generic]]:
        """Every recorded scan's rows joined into one set of columns (empty columns if none)."""
        parts = self.history or [track_columns(TrackTable.empty(self.model.state_dim), self.time_s)]
        return {name: np.concatenate([h[name] for h in parts]) for name in parts[0]}
