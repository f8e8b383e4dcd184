"""Track lifecycle: a batched track table, M-of-N confirmation, deletion, and track quality 0–15.

The `TrackTable` holds N tracks as parallel arrays — no per-track objects — and every operation is
an array operation over all rows (or a boolean mask of them):

| column | dtype | meaning |
| --- | --- | --- |
| ``track_id`` | int64 | unique, stable, from a monotone counter; never reused after deletion |
| ``status`` | int8 | `TrackStatus`: tentative, confirmed, coasting, deleted |
| ``hits`` | uint16 | hit history, bit 0 the latest look (1 = hit), at most 16 looks kept |
| ``n_looks`` | int32 | looks since creation (the creation counts as the first, a hit) |
| ``misses`` | int32 | consecutive misses up to the latest look |
| ``n_updates`` | int64 | detections used (hits) since creation, the creation included |
| ``created_s``, ``updated_s`` | float64 | creation time and time of the last hit |
| ``x``, ``P`` | float64 | state ``(N, n)`` and covariance ``(N, n, n)``, ECEF, position first |

Rows are kept in creation order, so ``track_id`` is strictly increasing down the table and
`TrackTable.rows_of` is a binary search. Rows marked DELETED stay until `TrackTable.purge` (so a
caller can report them) and are ignored by the logic.

**Looks.** A *look* is an update opportunity of a track: the caller decides which tracks were
looked at in a step (e.g. tracks inside the field of view of a sensor that scanned, or simply every
track at every tracker step) and which of those got a detection (a hit). Tracks not looked at keep
their history unchanged, so a track outside every sensor's coverage is not penalised for it — only
the time limit below ends it.

**M-of-N confirmation** (the M/N confirmation logic of Blackman 1986, *Multiple-Target Tracking
with Radar Applications*, and Blackman & Popoli 1999, *Design and Analysis of Modern Tracking
Systems*, here with a fixed window that starts at the track's creation): a tentative
track is confirmed as soon as M of its first N looks (creation included) are hits, and deleted as
soon as it cannot reach M any more within those N looks — hits + (N − looks) < M. Either happens
by the N-th look at the latest, so a tentative track's whole window fits in the history mask.

**Maintenance**: a confirmed track that misses a look becomes *coasting*; a hit returns it to
*confirmed*; after ``max_consecutive_misses`` (K) consecutive misses it is deleted. Any live track
is also deleted when its position standard deviation along the worst axis (√λ_max of the 3 × 3
position block) exceeds ``max_position_sigma_m``, or when the time since its last hit exceeds
``max_time_since_update_s`` (`LifecycleParameters`).

**Track quality 0–15** (`track_quality`) from the position covariance, in the manner of the Link 16
(MIL-STD-6016) track quality: the radius of the 95 % position-uncertainty region is compared with a
table of 15 decreasing radius thresholds; TQ is the number of thresholds the radius does not
exceed. **The table here is not the standard's.** The official MIL-STD-6016 table could not be
verified from public sources, so `TQ_RADIUS_THRESHOLDS_M` is a documented stand-in in the same
spirit: 15 radii in geometric progression from 20 NM (TQ ≥ 1) down to 25 ft (TQ 15), a ratio of
about 1.83 between steps. The 95 % radius is that of the sphere containing the 95 % error
ellipsoid, r95 = √(χ²₃(0.95) λ_max) (≈ 2.80 σ_max): a conservative scalar, monotone in the
covariance (a larger covariance in the positive semi-definite order never gets a higher TQ).

Imports NumPy and SciPy only (and Numba through `kizuna.tracking.kernels`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray
from scipy.stats import chi2

from kizuna.constants import FT, NMI
from kizuna.tracking import kernels

__all__ = [
    "MAX_HISTORY_LOOKS",
    "R95_SCALE",
    "TQ_RADIUS_THRESHOLDS_M",
    "LifecycleParameters",
    "LookResult",
    "TrackStatus",
    "TrackTable",
    "largest_eigenvalue_3x3",
    "position_radius95_m",
    "position_sigma_max_m",
    "track_quality",
]

Array = NDArray[np.float64]

MAX_HISTORY_LOOKS = 16
"""Looks kept in the uint16 hit history; N of M-of-N is at most this."""

TQ_RADIUS_THRESHOLDS_M: Array = 20.0 * NMI * (25.0 * FT / (20.0 * NMI)) ** (np.arange(15) / 14.0)
"""Radius thresholds [m] for TQ 1..15 (index k − 1 for TQ k): TQ = k when r95 ≤ T_k and
(k = 15 or r95 > T_{k+1}); TQ 0 above 20 NM. Geometric from 20 NM (37,040 m) to 25 ft (7.62 m).
A Kizuna stand-in, **not** the MIL-STD-6016 table (module docstring)."""

R95_SCALE = float(np.sqrt(chi2.ppf(0.95, 3)))
"""√χ²₃(0.95) ≈ 2.7955: r95 = R95_SCALE · σ_max for the sphere around the 95 % ellipsoid."""


class TrackStatus(IntEnum):
    """Status codes of the ``status`` column."""

    TENTATIVE = 0
    CONFIRMED = 1
    COASTING = 2
    DELETED = 3


@dataclass(frozen=True)
class LifecycleParameters:
    """M-of-N confirmation and deletion limits (module docstring).

    confirm_hits (M) of confirm_looks (N ≤ 16) looks confirm a tentative track;
    max_consecutive_misses (K) deletes a confirmed/coasting track; max_position_sigma_m (default
    20 km: beyond it a track no longer tells which target it is) and max_time_since_update_s
    (default 60 s without a hit) delete any live track.
    """

    confirm_hits: int = 2
    confirm_looks: int = 3
    max_consecutive_misses: int = 3
    max_position_sigma_m: float = 20_000.0
    max_time_since_update_s: float = 60.0

    def __post_init__(self) -> None:
        if not 1 <= self.confirm_looks <= MAX_HISTORY_LOOKS:
            raise ValueError(
                f"confirm_looks (N) must be in 1..{MAX_HISTORY_LOOKS} (the uint16 hit history), "
                f"got {self.confirm_looks}"
            )
        if not 1 <= self.confirm_hits <= self.confirm_looks:
            raise ValueError(
                f"confirm_hits (M) must be in 1..N = {self.confirm_looks}, got {self.confirm_hits}"
            )
        if self.max_consecutive_misses < 1:
            raise ValueError(f"max_consecutive_misses must be at least 1, got {self.max_consecutive_misses}")


def largest_eigenvalue_3x3(a: ArrayLike) -> Array:
    """Largest eigenvalue ``(...)`` of symmetric 3 × 3 matrices ``(..., 3, 3)``, closed form.

    Smith 1961, "Eigenvalues of a symmetric 3 × 3 matrix", Commun. ACM 4(4): 168: with
    q = tr A / 3, p = √(‖A − qI‖²_F / 6), B = (A − qI)/p, r = det B / 2 ∈ [−1, 1],
    λ_max = q + 2p cos(acos(r)/3); λ_max = q when p = 0. About 10× faster than a batched
    ``eigvalsh`` (the tests' reference); only the upper triangle is read. Accuracy: ~1e-15
    relative in general, ~1e-8 when the largest eigenvalue is (nearly) repeated, where acos is
    ill-conditioned at r = ±1 — immaterial for track quality and deletion limits.
    """
    m = np.asarray(a, dtype=np.float64)
    a00, a11, a22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    a01, a02, a12 = m[..., 0, 1], m[..., 0, 2], m[..., 1, 2]
    q = (a00 + a11 + a22) / 3.0
    b00, b11, b22 = a00 - q, a11 - q, a22 - q
    p1 = a01 * a01 + a02 * a02 + a12 * a12
    p = np.sqrt((b00 * b00 + b11 * b11 + b22 * b22 + 2.0 * p1) / 6.0)
    det = b00 * (b11 * b22 - a12 * a12) - a01 * (a01 * b22 - a12 * a02) + a02 * (a01 * a12 - b11 * a02)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip(det / (2.0 * p**3), -1.0, 1.0)
    lam = q + 2.0 * p * np.cos(np.arccos(r) / 3.0)
    return np.where(p > 0, lam, q)


def position_sigma_max_m(p: ArrayLike) -> Array:
    """√λ_max of the position block ``P[..., :3, :3]`` ``(N,)`` [m] (`largest_eigenvalue_3x3`);
    NaN for a non-finite block."""
    cov = np.asarray(p, dtype=np.float64)[..., 0:3, 0:3]
    if kernels.ENABLED and cov.ndim == 3 and bool(np.isfinite(cov).all()):  # fused twin of the lines below
        return np.sqrt(kernels.max_eig_3x3(cov, 1.0, True)[0])
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.maximum(largest_eigenvalue_3x3(cov), 0.0))


def position_radius95_m(p: ArrayLike) -> Array:
    """Radius [m] of the sphere holding the 95 % position-error ellipsoid: √(χ²₃(0.95) λ_max)."""
    return R95_SCALE * position_sigma_max_m(p)


def track_quality(p: ArrayLike, thresholds_m: ArrayLike = TQ_RADIUS_THRESHOLDS_M) -> NDArray[np.int8]:
    """Track quality 0–15 ``(N,)`` from covariances ``(N, n, n)`` (module docstring; not the official
    MIL-STD-6016 table). TQ = #{k : r95 ≤ T_k} for decreasing thresholds T; NaN covariance -> 0."""
    r95 = position_radius95_m(p)
    ascending = np.asarray(thresholds_m, dtype=np.float64)[::-1]
    tq = len(ascending) - np.searchsorted(ascending, r95, side="left")
    return np.where(np.isfinite(r95), tq, 0).astype(np.int8)


_POPCOUNT = np.bitwise_count if hasattr(np, "bitwise_count") else None


def _popcount16(v: NDArray[np.uint16]) -> NDArray[np.int32]:
    if _POPCOUNT is not None:
        return _POPCOUNT(v).astype(np.int32)
    w = v.astype(np.uint32)  # SWAR popcount (Hacker's Delight §5-1) for NumPy < 2.0
    w = w - ((w >> 1) & 0x5555)
    w = (w & 0x3333) + ((w >> 2) & 0x3333)
    w = (w + (w >> 4)) & 0x0F0F
    return ((w + (w >> 8)) & 0x1F).astype(np.int32)


@dataclass(frozen=True, eq=False)
class LookResult:
    """What one `TrackTable.record_looks` changed, as masks over the table's rows at that time."""

    confirmed: NDArray[np.bool_]
    """Tentative tracks confirmed at this look."""
    deleted: NDArray[np.bool_]
    """Tracks deleted at this look (by M-of-N, misses, covariance or time)."""


class TrackTable:
    """N tracks as parallel arrays (module docstring); create with `TrackTable.empty`."""

    def __init__(self, n_state: int = 6, *, first_id: int = 1) -> None:
        self.n_state = int(n_state)
        self.next_id = int(first_id)
        self.track_id = np.zeros(0, dtype=np.int64)
        self.status = np.zeros(0, dtype=np.int8)
        self.hits = np.zeros(0, dtype=np.uint16)
        self.n_looks = np.zeros(0, dtype=np.int32)
        self.misses = np.zeros(0, dtype=np.int32)
        self.n_updates = np.zeros(0, dtype=np.int64)
        self.created_s = np.zeros(0)
        self.updated_s = np.zeros(0)
        self.x = np.zeros((0, self.n_state))
        self.P = np.zeros((0, self.n_state, self.n_state))
        self.extra: dict[str, NDArray[Any]] = {}

    _COLUMNS = (
        "track_id",
        "status",
        "hits",
        "n_looks",
        "misses",
        "n_updates",
        "created_s",
        "updated_s",
        "x",
        "P",
    )

    @staticmethod
    def empty(n_state: int = 6, *, first_id: int = 1) -> TrackTable:
        return TrackTable(n_state, first_id=first_id)

    def __len__(self) -> int:
        return len(self.track_id)

    def declare(self, name: str, tail_shape: tuple[int, ...] = (), dtype: DTypeLike = np.float64) -> None:
        """Add an extra per-row column ``name`` of shape (N, *tail_shape) (e.g. a filter's own
        state, such as IMM mode estimates); rows added later must supply it (`add`'s ``extra``)."""
        if len(self):
            raise ValueError("TrackTable.declare: declare extra columns before adding rows")
        self.extra[name] = np.zeros((0, *tail_shape), dtype=dtype)

    def copy(self) -> TrackTable:
        """A deep copy (every column, the extra ones and the id counter)."""
        out = TrackTable(self.n_state, first_id=self.next_id)
        for name in self._COLUMNS:
            setattr(out, name, getattr(self, name).copy())
        out.extra = {name: value.copy() for name, value in self.extra.items()}
        return out

    # --- rows ------------------------------------------------------------------------------------

    def add(
        self,
        x: ArrayLike,
        p: ArrayLike,
        time_s: ArrayLike,
        *,
        hits: ArrayLike = 1,
        n_looks: ArrayLike = 1,
        status: int = TrackStatus.TENTATIVE,
        extra: Mapping[str, ArrayLike] | None = None,
    ) -> NDArray[np.int64]:
        """Append K tracks (``x (K, n)``, ``p (K, n, n)``, ``time_s`` scalar or (K,)) and return their
        new ids. By default the creation is one look and a hit; pass ``hits``/``n_looks`` for a
        track started from several detections (e.g. two-point: hits=0b11, n_looks=2). ``extra``
        gives the rows of every declared extra column."""
        xx = np.asarray(x, dtype=np.float64).reshape(-1, self.n_state)
        pp = np.asarray(p, dtype=np.float64).reshape(-1, self.n_state, self.n_state)
        k = len(xx)
        if pp.shape[0] != k:
            raise ValueError(f"TrackTable.add: {k} states but {pp.shape[0]} covariances")
        t = np.broadcast_to(np.asarray(time_s, dtype=np.float64), (k,))
        ids = np.arange(self.next_id, self.next_id + k, dtype=np.int64)
        self.next_id += k
        new = {
            "track_id": ids,
            "status": np.full(k, status, dtype=np.int8),
            "hits": np.broadcast_to(np.asarray(hits, dtype=np.uint16), (k,)),
            "n_looks": np.broadcast_to(np.asarray(n_looks, dtype=np.int32), (k,)),
            "misses": np.zeros(k, dtype=np.int32),
            "n_updates": _popcount16(np.broadcast_to(np.asarray(hits, dtype=np.uint16), (k,))).astype(
                np.int64
            ),
            "created_s": t,
            "updated_s": t,
            "x": xx,
            "P": pp,
        }
        given = dict(extra or {})
        if set(given) != set(self.extra):
            raise ValueError(f"TrackTable.add: extra columns {sorted(given)}, declared {sorted(self.extra)}")
        for name, column in self.extra.items():
            rows = np.asarray(given[name], dtype=column.dtype)
            rows = np.broadcast_to(rows, (k, *column.shape[1:]))
            self.extra[name] = np.concatenate([column, rows])
        for name in self._COLUMNS:
            setattr(self, name, np.concatenate([getattr(self, name), new[name]]))
        return ids

    def keep(self, mask: ArrayLike) -> None:
        """Keep the rows where ``mask`` is True, in order (every column together)."""
        m = np.asarray(mask, dtype=bool)
        if m.shape != (len(self),):
            raise ValueError(f"TrackTable.keep: mask has shape {m.shape}, expected ({len(self)},)")
        for name in self._COLUMNS:
            setattr(self, name, getattr(self, name)[m])
        self.extra = {name: value[m] for name, value in self.extra.items()}

    def remove(self, mask: ArrayLike) -> None:
        """Drop the rows where ``mask`` is True. Their ids are never issued again."""
        self.keep(~np.asarray(mask, dtype=bool))

    def purge(self) -> NDArray[np.int64]:
        """Drop the DELETED rows; returns their ids."""
        gone = self.status == TrackStatus.DELETED
        ids = self.track_id[gone]
        self.keep(~gone)
        return ids

    def rows_of(self, track_id: ArrayLike) -> NDArray[np.int64]:
        """Row of each id ``(K,)``, −1 where the id is not in the table (ids are sorted: binary search)."""
        ids = np.asarray(track_id, dtype=np.int64)
        pos = np.searchsorted(self.track_id, ids)
        safe = np.minimum(pos, max(len(self) - 1, 0))
        found = (pos < len(self)) & (self.track_id[safe] == ids) if len(self) else np.zeros(ids.shape, bool)
        return np.where(found, pos, -1).astype(np.int64)

    @property
    def live(self) -> NDArray[np.bool_]:
        """Rows not DELETED."""
        return self.status != TrackStatus.DELETED

    # --- lifecycle -------------------------------------------------------------------------------

    def record_looks(
        self,
        looked: ArrayLike,
        hit: ArrayLike,
        now_s: float,
        params: LifecycleParameters | None = None,
    ) -> LookResult:
        """Apply one look to the rows in ``looked`` (bool (N,)), with ``hit`` (bool (N,)) marking
        those that got a detection (hits outside ``looked`` are ignored), then the covariance and
        time limits to every live row (`apply_limits`). States are the caller's to update (write
        ``x``/``P`` rows); this only moves the bookkeeping. Hit rows get ``updated_s = now_s``."""
        prm = LifecycleParameters() if params is None else params
        n = len(self)
        look = np.asarray(looked, dtype=bool).reshape(n) & self.live
        got = np.asarray(hit, dtype=bool).reshape(n) & look
        if kernels.ENABLED:  # fused twin of the lines below
            (self.hits, self.n_looks, self.misses, self.n_updates, self.updated_s, self.status, confirm,
             drop) = kernels.record_looks(
                self.hits, self.n_looks, self.misses, self.n_updates, self.updated_s, self.status, look, got,
                float(now_s), int(prm.confirm_hits), int(prm.confirm_looks), int(prm.max_consecutive_misses),
            )  # fmt: skip
            limited = self.apply_limits(now_s, prm)
            return LookResult(confirmed=confirm, deleted=drop | limited)
        miss = look & ~got
        window = np.uint16((1 << prm.confirm_looks) - 1) if prm.confirm_looks < 16 else np.uint16(0xFFFF)

        # H ← (H << 1 | hit) on the looked rows; 16 looks kept
        shifted = ((self.hits.astype(np.uint32) << 1) | got).astype(np.uint16)
        self.hits = np.where(look, shifted, self.hits)
        self.n_looks = self.n_looks + look
        self.misses = np.where(got, 0, self.misses + miss).astype(np.int32)
        self.n_updates = self.n_updates + got
        self.updated_s = np.where(got, now_s, self.updated_s)

        status = self.status.copy()
        tentative = look & (status == TrackStatus.TENTATIVE)
        count = _popcount16(self.hits & window)
        remaining = np.maximum(prm.confirm_looks - self.n_looks, 0)
        confirm = tentative & (count >= prm.confirm_hits)
        drop = tentative & ~confirm & (count + remaining < prm.confirm_hits)
        held = look & ((status == TrackStatus.CONFIRMED) | (status == TrackStatus.COASTING))
        status[held & got] = TrackStatus.CONFIRMED
        status[held & miss] = TrackStatus.COASTING
        drop |= held & (self.misses >= prm.max_consecutive_misses)
        status[confirm] = TrackStatus.CONFIRMED
        status[drop] = TrackStatus.DELETED
        self.status = status
        limited = self.apply_limits(now_s, prm)
        return LookResult(confirmed=confirm, deleted=drop | limited)

    def apply_limits(self, now_s: float, params: LifecycleParameters | None = None) -> NDArray[np.bool_]:
        """Delete live rows whose position σ_max exceeds the limit (or is not finite) or whose last
        hit is older than the limit; returns the mask of rows deleted here."""
        prm = LifecycleParameters() if params is None else params
        sigma = position_sigma_max_m(self.P)
        with np.errstate(invalid="ignore"):
            bad = ~(sigma <= prm.max_position_sigma_m) | (
                now_s - self.updated_s > prm.max_time_since_update_s
            )
        gone = self.live & bad
        self.status = np.where(gone, np.int8(TrackStatus.DELETED), self.status).astype(np.int8)
        return gone

    def quality(self, thresholds_m: ArrayLike = TQ_RADIUS_THRESHOLDS_M) -> NDArray[np.int8]:
        """Track quality 0–15 of every row (`track_quality`)."""
        return track_quality(self.P, thresholds_m)
