"""The tracker loop: frames of detections in, a track table out.

`Tracker.step` takes a `DetectionBatch` from any number of sensors and processes it **frame by
frame**: a frame is every row with the same ``time_s``, whatever the sensor (a radar's scan, the
simultaneous frames of a whole satellite layer). Each frame runs the loop of Stone Soup's
``MultiTargetTracker`` (predict → associate → update → looks/delete → initiate), each stage a named
function below working on whole arrays, never a loop over tracks or detections:

1. **Predict** (`predict_tracks`) every live track to the frame time with the motion model
   (`kizuna.tracking.filters.predict`), or with the IMM (`Tracker.imm`: mixing, mode-matched
   predictions, moment-matched output for gating).
2. **Associate** (`kizuna.tracking.association.gnn` with ``group`` = sensor): global nearest
   neighbour where each track takes **at most one detection per sensor** — two sensors reporting
   a target at the same time both update its track.
3. **Update** (`update_assigned`): EKF updates of the assigned tracks, in rounds when a track got
   several detections (sequential updates, rows ordered by sensor code then row). The table then
   holds the predicted state for the tracks not assigned and the updated one for those assigned —
   every live row's state is at the frame time afterwards (`Tracker.time_s`).
4. **Looks** (`looked_at`, then `TrackTable.record_looks`): which tracks the frame *looked at*
   decides who is charged a miss. A frame looks at the tracks **last updated by one of its
   sensors** (that sensor has been seeing them, so not seeing them now is a miss) and at those it
   updates now (a hit). A track held only by sensors absent from the frame is not penalised (it
   may be outside their coverage, or they did not report at this time); a tentative track is
   always made by a sensor that then looks at it, so it can die by M-of-N; a confirmed track
   missed coasts and is deleted after K misses, or by the covariance and time limits
   (`LifecycleParameters`). A sensor with no detection at all at a time sends no rows, so it
   charges no miss then. A coverage model per sensor (field of view, range) is the better rule and
   a later improvement.
5. **Initiate** (`Tracker._initiate`):
   - *position, radar, OTH* rows left unassigned are paired with the unassigned rows *of the same
     sensor* from that sensor's previous frame (`initiate_from_scans`, speed gate
     ``max_speed_m_per_s``, at most ``max_pair_dt_s`` apart, two-point differencing);
   - *los* rows left unassigned (space infrared) are grouped across satellites and triangulated
     (`kizuna.tracking.initiation.stereo_points`, least squares with the covariance from the
     geometry); the 3-D points are paired with the previous frame's unused points
     (`initiate_from_stereo`), again by two-point differencing.
   Each detection or point seeds at most one track (`one_per_detection`, greedy on the
   displacement). New tracks are tentative with two looks, both hits (``hits=0b11``), so the
   default confirmation is 3 of 4 looks: the two-point start plus 1 of the next 2.
6. **Purge** the deleted rows; optionally append the table to `Tracker.history`.

**Late data — a bounded re-processing window.** The tracker keeps, for every frame of the last
``reprocess_window_s`` seconds, its detections and the tracker's state *before* it. A batch with
rows earlier than `Tracker.time_s` (a partner's data delayed by the network, a sensor's slow
feed) rewinds to the first kept frame at or after its earliest time, and re-runs the kept frames
with the late rows merged in, in time order: the result equals processing everything in time
order in the first place (a test checks it). Rows older than the window are counted in
`Tracker.late_rows_skipped` (and their frames in `late_frames_skipped`) and logged — never
applied at the wrong time. Track ids are never re-issued: a rewind restores the tracks that
existed at the rewind time with their ids, and tracks started during re-processing get fresh ids.
The window costs memory proportional to (live tracks + detections) × frames in the window;
``reprocess_window_s = 0`` turns it off.

Imports NumPy and the tracking and sensor layers only.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kizuna.sensors.detections import MEASUREMENT_KINDS, DetectionBatch
from kizuna.tracking.association import Assignment, AssociationParameters, gnn
from kizuna.tracking.filters import Imm, ImmState, predict, update_detections
from kizuna.tracking.initiation import (
    Initiation,
    StereoPoints,
    initiate_from_scans,
    initiate_from_stereo,
    stereo_points,
)
from kizuna.tracking.lifecycle import LifecycleParameters, TrackStatus, TrackTable
from kizuna.tracking.models import ConstantVelocity, MotionModel

__all__ = [
    "DEFAULT_LIFECYCLE",
    "STATUS_NAMES",
    "Tracker",
    "frame_slices",
    "initiate_tracks",
    "looked_at",
    "one_per_detection",
    "predict_tracks",
    "scan_slices",
    "select_rows",
    "surveillance_tracker",
    "track_columns",
    "update_assigned",
]

Array = NDArray[np.float64]
Index = NDArray[np.intp]
log = logging.getLogger(__name__)

_LOS = MEASUREMENT_KINDS.index("los")

DEFAULT_LIFECYCLE = LifecycleParameters(confirm_hits=3, confirm_looks=4, max_consecutive_misses=5)
"""Two-point start (2 hits in 2 looks) plus 1 hit in the next 2 looks confirms; 5 misses in a row
delete (at P_D = 0.9 a held target loses its track by misses with probability 1e-5 per look).
3 of 4 rather than 4 of 5: on the Stone Soup benchmark (bench/bench_tracker.py) it confirms as
early as Stone Soup's four-point initiator and left no false track at 100 clutter per scan, where
4 of 5 confirmed later and gave a 5–10 % worse mean GOSPA over the run."""

STATUS_NAMES: NDArray[np.object_] = np.array([s.name.lower() for s in TrackStatus], dtype=object)
"""``status`` code -> name: tentative, confirmed, coasting, deleted."""

_LAST_SENSOR = "last_sensor"
_SOURCES = "sources"
_IMM_X, _IMM_P, _IMM_MU = "imm_x", "imm_P", "imm_mu"


# --- Stages --------------------------------------------------------------------------------------


def select_rows(batch: DetectionBatch, rows: ArrayLike | slice) -> DetectionBatch:
    """The batch's rows ``rows`` (indices in that order, or a boolean mask) as a new batch."""
    fields = DetectionBatch.__dataclass_fields__
    return DetectionBatch(**{name: getattr(batch, name)[rows] for name in fields})


def _cuts(keys: list[NDArray[np.generic]], order: Index) -> list[Index]:
    cut = np.zeros(len(order) - 1, dtype=bool)
    for key in keys:
        k = key[order]
        cut |= k[1:] != k[:-1]
    return np.split(order, np.flatnonzero(cut) + 1)


def scan_slices(batch: DetectionBatch) -> list[Index]:
    """Row indices of each scan (same time_s and sensor_id), scans in (time, sensor id) order."""
    if len(batch) == 0:
        return []
    _, sensor_code = np.unique(batch.sensor_id.astype(str), return_inverse=True)
    order = np.lexsort((sensor_code, batch.time_s)).astype(np.intp)
    return _cuts([batch.time_s, sensor_code], order)


def frame_slices(batch: DetectionBatch, sensor_code: NDArray[np.int64] | None = None) -> list[Index]:
    """Row indices of each frame (same time_s, any sensor), frames in time order; within a frame
    rows are ordered by ``sensor_code`` (when given), then by their order in the batch."""
    if len(batch) == 0:
        return []
    keys = (batch.time_s,) if sensor_code is None else (sensor_code, batch.time_s)
    order = np.lexsort(keys).astype(np.intp)
    return _cuts([batch.time_s], order)


def predict_tracks(model: MotionModel, table: TrackTable, dt_s: Array) -> tuple[Array, Array]:
    """Every row of the table predicted over its own ``dt_s (N,)`` (x (N, n), P (N, n, n))."""
    if len(table) == 0:
        return table.x.copy(), table.P.copy()
    return predict(model, table.x, table.P, dt_s)


def update_rounds(track_index: Index) -> list[Index]:
    """Positions into ``track_index`` split into rounds so that no round holds a track twice: the
    first detection of every track, then the second, … (in the order given)."""
    if len(track_index) == 0:
        return []
    if np.bincount(track_index).max() == 1:  # the usual case: one detection per track
        return [np.arange(len(track_index), dtype=np.intp)]
    order = np.argsort(track_index, kind="stable")
    sorted_t = track_index[order]
    start = np.r_[0, np.flatnonzero(sorted_t[1:] != sorted_t[:-1]) + 1]
    run_start = np.repeat(start, np.diff(np.r_[start, len(order)]))
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order)) - run_start
    return [np.flatnonzero(rank == r) for r in range(int(rank.max()) + 1)]


def update_assigned(
    x: Array, p: Array, scan: DetectionBatch, assignment: Assignment
) -> tuple[Array, Array, NDArray[np.bool_]]:
    """x, P with the assigned rows EKF-updated by their detections (sequentially, `update_rounds`,
    when a track has several), and the hit mask (N,)."""
    x_out, p_out = x.copy(), p.copy()
    hit = np.zeros(len(x), dtype=bool)
    for sel in update_rounds(assignment.track_index):
        ti, dj = assignment.track_index[sel], assignment.detection_index[sel]
        x_out[ti], p_out[ti], _ = update_detections(
            x_out[ti], p_out[ti], scan.kind[dj], scan.z[dj], scan.cov[dj], scan.sensor_pos_m[dj],
            scan.sensor_vel_m_per_s[dj],
        )  # fmt: skip
        hit[ti] = True
    return x_out, p_out, hit


def looked_at(
    last_sensor: NDArray[np.int64], frame_sensors: ArrayLike, hit: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """Tracks a frame looked at: those last updated by one of the frame's sensors, and its hits now."""
    return np.isin(last_sensor, np.asarray(frame_sensors)) | hit


def one_per_detection(init: Initiation) -> Index:
    """Indices of pairs keeping at most one pair per earlier and per later detection, preferring
    the smaller displacement (greedy in two passes: later detections first, then earlier)."""
    speed = np.linalg.norm(init.x[:, 3:6], axis=1)
    order = np.argsort(speed, kind="stable")
    _, first_of_second = np.unique(init.second[order], return_index=True)
    kept = order[np.sort(first_of_second)]
    _, first_of_first = np.unique(init.first[kept], return_index=True)
    return np.sort(kept[first_of_first]).astype(np.intp)


def _subset(init: Initiation, keep: Index) -> Initiation:
    return Initiation(
        init.x[keep], init.P[keep], init.time_s[keep], init.first[keep], init.second[keep], init.n_candidates
    )


def initiate_tracks(
    previous: DetectionBatch | None,
    current: DetectionBatch,
    max_speed_m_per_s: float,
    max_dt_s: float = np.inf,
) -> tuple[Initiation | None, Index]:
    """Two-point initiation from the unused rows of earlier frames and of this frame, pairs only
    within one sensor: (the kept pairs, rows of ``current`` left unused). ``None`` when there is
    nothing to pair."""
    all_rows = np.arange(len(current), dtype=np.intp)
    if previous is None or len(previous) == 0 or len(current) == 0:
        return None, all_rows
    init = initiate_from_scans(
        previous, current, max_speed_m_per_s=max_speed_m_per_s, max_dt_s=max_dt_s, same_sensor=True
    )
    init = _subset(init, one_per_detection(init))
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
    cols["P"] = table.P[:, 0:6, 0:6].copy()
    return cols


def _empty_stereo() -> StereoPoints:
    return StereoPoints(
        np.zeros((0, 3)), np.zeros((0, 3, 3)), np.zeros(0), np.zeros((0, 1), np.int64), np.zeros(0),
        np.zeros(0, np.int64),
    )  # fmt: skip


def _stereo_rows(points: StereoPoints, keep: NDArray[np.bool_] | Index) -> StereoPoints:
    return StereoPoints(
        points.pos_m[keep], points.cov_m2[keep], points.time_s[keep], points.rows[keep], points.chi2[keep],
        points.dof[keep],
    )  # fmt: skip


# --- The tracker ---------------------------------------------------------------------------------


@dataclass
class _State:
    """Everything a frame changes: restored by a rewind (the id counter excepted)."""

    table: TrackTable
    time_s: float
    pending: DetectionBatch  # unused non-los rows of earlier frames (their sensors' latest)
    pending_sensor: NDArray[np.int64]
    pending_stereo: StereoPoints  # unused triangulated points of the latest los frame
    pending_stereo_sensor: NDArray[np.int64]
    n_frames: int
    n_confirmed: int

    def copy(self) -> _State:
        return _State(
            self.table.copy(), self.time_s, self.pending, self.pending_sensor.copy(), self.pending_stereo,
            self.pending_stereo_sensor.copy(), self.n_frames, self.n_confirmed,
        )  # fmt: skip


@dataclass
class _Kept:
    time_s: float
    before: _State
    frame: DetectionBatch
    n_history: int


@dataclass
class Tracker:
    """GNN / EKF (or IMM) multi-target tracker over frames (module docstring). Rows of `table` are
    the live tracks, every state at `time_s`; `history` holds `track_columns` per frame when
    ``record_history`` is set (concatenate with `history_columns`).

    ``imm``, when set, replaces ``model``: each track carries the IMM's mode-conditioned states
    (extra table columns) and the table's ``x``/``P`` hold the moment-matched estimate, used for
    gating and output; new tracks start in every mode with ``imm_initial_mu``.
    """

    model: MotionModel = field(default_factory=lambda: ConstantVelocity(q_m2_per_s3=10.0))
    association: AssociationParameters = field(default_factory=AssociationParameters)
    lifecycle: LifecycleParameters = DEFAULT_LIFECYCLE
    max_speed_m_per_s: float = 1_000.0
    max_pair_dt_s: float = 60.0
    stereo: bool = True
    stereo_max_rays: int = 3
    imm: Imm | None = None
    imm_initial_mu: tuple[float, ...] | None = None
    reprocess_window_s: float = 30.0
    record_history: bool = False
    source_bits: dict[str, int] = field(default_factory=dict)
    """Sensor id (or, for a satellite layer's rows ``"<layer>/<satellite>"``, the layer id) → the
    bit of its kind; each track ORs the bits of the sensors that updated it (``sources``)."""

    def __post_init__(self) -> None:
        n_state = self.imm.state_dim if self.imm is not None else self.model.state_dim
        table = TrackTable.empty(n_state)
        table.declare(_LAST_SENSOR, (), np.int64)
        table.declare(_SOURCES, (), np.uint8)
        if self.imm is not None:
            r = len(self.imm.models)
            table.declare(_IMM_X, (r, n_state))
            table.declare(_IMM_P, (r, n_state, n_state))
            table.declare(_IMM_MU, (r,))
            given = self.imm_initial_mu
            mu = np.full(r, 1.0 / r) if given is None else np.asarray(given, dtype=np.float64)
            if mu.shape != (r,) or not np.isclose(mu.sum(), 1.0) or (mu < 0).any():
                raise ValueError(f"imm_initial_mu must be {r} probabilities summing to 1; got {given}")
            self._mu0 = mu
        empty = DetectionBatch.empty()
        self._state = _State(
            table, -np.inf, empty, np.zeros(0, np.int64), _empty_stereo(), np.zeros(0, np.int64), 0, 0
        )
        self._sensor_codes: dict[str, int] = {}
        self._code_bits = np.zeros(0, dtype=np.uint8)
        self._kept: deque[_Kept] = deque()
        self.history: list[dict[str, NDArray[np.generic]]] = []
        self.late_frames_skipped = 0
        self.late_rows_skipped = 0
        self.rewinds = 0

    # --- public state ----------------------------------------------------------------------------

    @property
    def table(self) -> TrackTable:
        return self._state.table

    @property
    def time_s(self) -> float:
        return self._state.time_s

    @property
    def n_frames(self) -> int:
        return self._state.n_frames

    @property
    def n_confirmed(self) -> int:
        """Tracks ever confirmed."""
        return self._state.n_confirmed

    def sensor_name(self, code: ArrayLike) -> NDArray[np.object_]:
        """Sensor ids of sensor codes (as in the ``last_sensor`` column)."""
        names = np.array(list(self._sensor_codes), dtype=object)
        return names[np.asarray(code, dtype=np.intp)]

    # --- stepping --------------------------------------------------------------------------------

    def step(self, batch: DetectionBatch) -> None:
        """Process the batch's frames in time order. Rows earlier than `time_s` rewind the
        re-processing window (module docstring) or, older than it, are counted and skipped."""
        if len(batch) == 0:
            return
        late = batch.time_s < self.time_s
        if late.any():
            batch = self._rewind(batch, late)
        codes = self._codes(batch.sensor_id)
        for rows in frame_slices(batch, codes):
            self._frame(select_rows(batch, rows), codes[rows])

    def _codes(self, sensor_id: NDArray[np.object_]) -> NDArray[np.int64]:
        names, inverse = np.unique(sensor_id.astype(str), return_inverse=True)
        for name in names:
            if str(name) not in self._sensor_codes:
                self._sensor_codes[str(name)] = len(self._sensor_codes)
                bit = self.source_bits.get(str(name), self.source_bits.get(str(name).split("/")[0], 0))
                self._code_bits = np.append(self._code_bits, np.uint8(bit))
        lookup = np.array([self._sensor_codes[str(n)] for n in names], dtype=np.int64)
        return lookup[inverse.reshape(-1)]

    def _rewind(self, batch: DetectionBatch, late: NDArray[np.bool_]) -> DetectionBatch:
        """Restore the state before the first kept frame at or after the earliest recoverable late
        row; return the rows to run from there (kept frames + the batch). Unrecoverable rows are
        counted and dropped."""
        oldest = self._kept[0].time_s if self._kept else np.inf
        lost = late & (batch.time_s < oldest)
        if lost.any():
            self.late_rows_skipped += int(lost.sum())
            self.late_frames_skipped += len(np.unique(batch.time_s[lost]))
            log.warning(
                "%d late detection rows (times %.3f–%.3f s) are older than the re-processing window "
                "(tracker time %.3f s, window %.1f s): skipped",
                int(lost.sum()), batch.time_s[lost].min(), batch.time_s[lost].max(), self.time_s,
                self.reprocess_window_s,
            )  # fmt: skip
            batch = select_rows(batch, ~lost)
            late = late[~lost]
        if not late.any():
            return batch
        t_late = float(batch.time_s[late].min())
        i = next(k for k, kept in enumerate(self._kept) if kept.time_s >= t_late)
        redo = [self._kept[k].frame for k in range(i, len(self._kept))]
        first = self._kept[i]
        next_id = self.table.next_id
        self._state = first.before.copy()
        self._state.table.next_id = next_id  # ids are never re-issued
        del self.history[first.n_history :]
        for _ in range(len(self._kept) - i):
            self._kept.pop()
        self.rewinds += 1
        return DetectionBatch.concatenate([*redo, batch])

    def _frame(self, frame: DetectionBatch, codes: NDArray[np.int64]) -> None:
        t = float(frame.time_s[0])
        if self.reprocess_window_s > 0:
            self._kept.append(_Kept(t, self._state.copy(), frame, len(self.history)))
            while self._kept and self._kept[0].time_s < t - self.reprocess_window_s:
                self._kept.popleft()
        st = self._state
        table = st.table
        dt = np.full(len(table), t - st.time_s if len(table) else 0.0)
        imm_state = None
        if self.imm is not None and len(table):
            imm_state = self.imm.predict(
                ImmState(table.extra[_IMM_X], table.extra[_IMM_P], table.extra[_IMM_MU]), dt
            )
            x, p = self.imm.combine(imm_state)
        else:
            x, p = predict_tracks(self.model, table, dt)
        assignment = gnn(x, p, frame, self.association, group=codes)
        if imm_state is not None:
            table.x, table.P, hit = self._imm_update(imm_state, frame, assignment)
        else:
            table.x, table.P, hit = update_assigned(x, p, frame, assignment)
        last = table.extra[_LAST_SENSOR]
        looked = looked_at(last, np.unique(codes), hit)
        last[assignment.track_index] = codes[assignment.detection_index]
        np.bitwise_or.at(
            table.extra[_SOURCES], assignment.track_index, self._code_bits[codes[assignment.detection_index]]
        )
        result = table.record_looks(looked, hit, t, self.lifecycle)
        st.n_confirmed += int(result.confirmed.sum())
        self._initiate(frame, codes, assignment.unassigned_detections, t)
        table.purge()
        st.time_s, st.n_frames = t, st.n_frames + 1
        if self.record_history:
            self.history.append(track_columns(table, t))

    def _imm_update(
        self, state: ImmState, frame: DetectionBatch, assignment: Assignment
    ) -> tuple[Array, Array, NDArray[np.bool_]]:
        """IMM update of the assigned tracks (rounds as in `update_assigned`, grouped by kind)."""
        assert self.imm is not None
        xs, ps, mu = state.x.copy(), state.P.copy(), state.mu.copy()
        hit = np.zeros(len(mu), dtype=bool)
        for sel in update_rounds(assignment.track_index):
            ti, dj = assignment.track_index[sel], assignment.detection_index[sel]
            for k, name in enumerate(MEASUREMENT_KINDS):
                m = frame.kind[dj] == k
                if not m.any():
                    continue
                tk, dk = ti[m], dj[m]
                out = self.imm.update(
                    ImmState(xs[tk], ps[tk], mu[tk]), name, frame.z[dk], frame.cov[dk],
                    frame.sensor_pos_m[dk], frame.sensor_vel_m_per_s[dk],
                )  # fmt: skip
                xs[tk], ps[tk], mu[tk] = out.x, out.P, out.mu
            hit[ti] = True
        table = self._state.table
        table.extra[_IMM_X], table.extra[_IMM_P], table.extra[_IMM_MU] = xs, ps, mu
        x, p = self.imm.combine(ImmState(xs, ps, mu))
        return x, p, hit

    def _add_tracks(self, init: Initiation, sensor: NDArray[np.int64]) -> None:
        table = self._state.table
        n = table.n_state
        x = np.zeros((len(init), n))
        p = np.zeros((len(init), n, n))
        x[:, :6], p[:, :6, :6] = init.x, init.P
        if n > 6:  # extra components (e.g. turn rate, acceleration): zero mean, the model's scale
            p[:, 6:, 6:] = np.eye(n - 6) * 1.0
        extra: dict[str, ArrayLike] = {_LAST_SENSOR: sensor, _SOURCES: self._code_bits[sensor]}
        if self.imm is not None:
            s = self.imm.initial_state(x, p, self._mu0)
            extra.update({_IMM_X: s.x, _IMM_P: s.P, _IMM_MU: s.mu})
        table.add(x, p, init.time_s, hits=0b11, n_looks=2, extra=extra)

    def _initiate(self, frame: DetectionBatch, codes: NDArray[np.int64], unused: Index, t: float) -> None:
        st = self._state
        is_los = frame.kind[unused] == _LOS
        rows, los_rows = unused[~is_los], unused[is_los]
        frame_sensors = np.unique(codes)
        # Two-point starts per sensor: pair with that sensor's rows of its previous frame.
        fresh = t - st.pending.time_s <= self.max_pair_dt_s
        mine = np.isin(st.pending_sensor, frame_sensors)
        current = select_rows(frame, rows)
        init, left = initiate_tracks(
            select_rows(st.pending, mine & fresh), current, self.max_speed_m_per_s, self.max_pair_dt_s
        )
        if init is not None and len(init):
            self._add_tracks(init, codes[rows[init.second]])
        keep = ~mine & fresh
        kept, new = select_rows(st.pending, keep), select_rows(current, left)
        sensor = np.concatenate([st.pending_sensor[keep], codes[rows[left]]])
        order = np.argsort(np.concatenate([kept.time_s, new.time_s]), kind="stable")
        st.pending, st.pending_sensor = DetectionBatch.concatenate([kept, new]), sensor[order]
        if self.stereo:
            self._initiate_stereo(frame, codes, los_rows, t)

    def _initiate_stereo(
        self, frame: DetectionBatch, codes: NDArray[np.int64], los_rows: Index, t: float
    ) -> None:
        st = self._state
        prev = st.pending_stereo
        fresh = t - prev.time_s <= self.max_pair_dt_s
        prev, prev_sensor = _stereo_rows(prev, fresh), st.pending_stereo_sensor[fresh]
        if len(np.unique(codes[los_rows])) < 2:
            points = _empty_stereo()
        else:
            points = stereo_points(select_rows(frame, los_rows), max_rays=self.stereo_max_rays)
        sensor = codes[los_rows[points.rows[:, 0]]] if len(points) else np.zeros(0, np.int64)
        used = np.zeros(len(points), dtype=bool)
        if len(prev) and len(points):
            init = initiate_from_stereo(
                prev, points, max_speed_m_per_s=self.max_speed_m_per_s, max_dt_s=self.max_pair_dt_s
            )
            init = _subset(init, one_per_detection(init))
            if len(init):
                self._add_tracks(init, sensor[init.second])
                used[init.second] = True
        if len(points):
            st.pending_stereo, st.pending_stereo_sensor = _stereo_rows(points, ~used), sensor[~used]
        else:
            st.pending_stereo, st.pending_stereo_sensor = prev, prev_sensor

    # --- output ----------------------------------------------------------------------------------

    def tracks(self) -> dict[str, NDArray[np.generic]]:
        """The live tracks now, as `track_columns` at `time_s`."""
        return track_columns(self.table, self.time_s)

    def predicted_table(self, time_s: float) -> TrackTable:
        """A copy of the table with every state predicted to ``time_s`` (≥ `time_s`; the tracker's
        own state is unchanged) — the picture at a reporting time between frames."""
        view = self.table.copy()
        if len(view) == 0 or time_s == self.time_s:
            return view
        if time_s < self.time_s:
            raise ValueError(f"cannot report at {time_s} s: the tracks are at {self.time_s} s already")
        dt = np.full(len(view), time_s - self.time_s)
        if self.imm is not None:
            st = self.imm.predict(ImmState(view.extra[_IMM_X], view.extra[_IMM_P], view.extra[_IMM_MU]), dt)
            view.x, view.P = self.imm.combine(st)
        else:
            view.x, view.P = predict_tracks(self.model, view, dt)
        return view

    def tracks_at(self, time_s: float) -> dict[str, NDArray[np.generic]]:
        """The live tracks predicted to ``time_s`` (`predicted_table`) as `track_columns`, plus
        ``last_sensor_id`` (the sensor of each track's latest detection) and ``sources`` (the
        OR of the `source_bits` of every sensor that updated it)."""
        view = self.predicted_table(time_s)
        cols = track_columns(view, time_s)
        cols["n_updates"] = view.n_updates.copy()
        cols["last_sensor_id"] = self.sensor_name(view.extra[_LAST_SENSOR])
        cols["sources"] = view.extra[_SOURCES].copy()
        return cols

    def drain_history(self, *, final: bool = False) -> dict[str, NDArray[np.generic]] | None:
        """Remove and return (as one set of columns) the recorded frames a rewind can no longer
        change — those before the oldest kept frame — or every recorded frame when ``final``;
        ``None`` when there is none. Lets a long run write its history as it goes."""
        upto = len(self.history) if final or not self._kept else self._kept[0].n_history
        if upto == 0:
            return None
        parts, self.history = self.history[:upto], self.history[upto:]
        for kept in self._kept:
            kept.n_history = max(kept.n_history - upto, 0)
        return {name: np.concatenate([h[name] for h in parts]) for name in parts[0]}

    def history_columns(self) -> dict[str, NDArray[np.generic]]:
        """Every recorded frame's rows joined into one set of columns (empty columns if none)."""
        parts = self.history or [track_columns(TrackTable.empty(self.table.n_state), self.time_s)]
        return {name: np.concatenate([h[name] for h in parts]) for name in parts[0]}


SURVEILLANCE_IMM = Imm(
    models=(ConstantVelocity(q_m2_per_s3=1.0), ConstantVelocity(q_m2_per_s3=2_000.0)),
    transition_probability=np.array([[0.97, 0.03], [0.05, 0.95]]),
)
"""The national trackers' IMM: a quiet CV (q = 1 m²/s³, airliners and cruise legs) and a
manoeuvring CV (q = 2000 m²/s³: about 45 m/s² of unmodelled acceleration over a 1 s update — a
boosting missile, a glide vehicle's weave, a terminal dive); mean sojourn 33 and 20 updates."""


def surveillance_tracker(**overrides: object) -> Tracker:
    """The tracker `kizuna run` gives each nation over its own sensors: the `SURVEILLANCE_IMM`,
    a two-point speed gate of 8 km/s (ballistic re-entry, glide vehicles), stereo starts from the
    space layer; keyword arguments override any `Tracker` field."""
    settings: dict[str, object] = {
        "imm": SURVEILLANCE_IMM,
        "imm_initial_mu": (0.5, 0.5),
        "max_speed_m_per_s": 8_000.0,
    }
    settings.update(overrides)
    return Tracker(**settings)  # type: ignore[arg-type]
