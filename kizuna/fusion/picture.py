"""A node's picture: system tracks fused from its own local tracks and its partners' reports.

**Sources.** The picture keeps the latest estimate of every *source track*: a local track of this
node, or a track a partner reported (nation, that partner's track id). A partner's later report
replaces the earlier one; a report older than ``stale_after_s`` is dropped. Nodes report their
*local* tracks only — what their own sensors built — so a source is one nation's data, and a
system track takes at most one source per nation.

**Never double-counting.** A system track's state is recomputed at every update from its
sources' latest estimates (predicted to the time with a CV model) fused by covariance
intersection (`kizuna.fusion.ci.fuse_groups`). Nothing is fused into a running estimate, so the
same information never enters twice, and CI stays consistent whatever the (unknown) correlation
between partners' errors.

**Association.** A source keeps its system track while it agrees with the fused estimate (χ² on
the 6-D difference with both covariances, `detach_probability`); after ``detach_after`` updates
in a row out of the gate it is detached. Sources without a system track are associated nation by
nation (`kizuna.fusion.t2t.associate_tracks`, gate ``gate_probability``) with the system tracks
that have no source of that nation yet; the unmatched start system tracks.

**Numbers.** Each node numbers from its own block — node *k* (its place in the scenario's
nations, from 0) owns ``(k + 1)·NUMBER_BLOCK …`` — so no two nodes ever issue the same number and
no server is needed. A system track that starts from a local track is numbered after it: block +
local track id (a tracker never reuses an id), so a node numbers the same object the same way
whatever the timing of the network — a live run and a simulated one agree. A system track that
starts from a partner's report takes the number the report carries (in the rare clash with a
number already used here, a fresh one from the upper half of the block).
Reports carry the sender's number, so each node sees the candidates for a shared track, and every
node picks with the same **merge rule**: the number whose originating report can reach the most
nations under the release rules (``reach``) wins, and among equals the lowest. A node that hears
of a better number adopts it (and its next reports carry it), so numbers converge across the
coalition without a central server and then stay put: nothing renumbers a track unless a better
candidate appears.

**Reporting responsibility.** Each system track has a *reporter*: the contributing nation whose
source has the best quality (ties to the earlier nation); the current reporter keeps it until
another's quality exceeds its own by ``reporter_hysteresis``. A node may leave out of its reports a
local track whose system track another nation reports (`SystemPicture.reported_elsewhere`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import chi2

from kizuna.fusion.category import classify
from kizuna.fusion.ci import fuse_groups
from kizuna.fusion.t2t import associate_tracks
from kizuna.tracking.models import cv_process_noise, cv_transition

__all__ = ["NUMBER_BLOCK", "PictureParameters", "SystemPicture", "SystemTracks"]

NUMBER_BLOCK = 1_000_000_000
"""System track numbers per node block: node k numbers from (k + 1)·NUMBER_BLOCK."""

ReachSize = Callable[[int, int, int], int]
"""(nation index, category code, source bits) → how many nations may receive that nation's track."""


@dataclass(frozen=True)
class PictureParameters:
    gate_probability: float = 0.999
    """Gate for a new source joining a system track (χ², 6 dof)."""
    detach_probability: float = 0.99999
    """Gate a source must stay within to keep its system track."""
    detach_after: int = 3
    """Updates in a row out of the gate before a source is detached."""
    stale_after_s: float = 10.0
    """A partner's report older than this is dropped."""
    predict_q_m2_per_s3: float = 100.0
    """CV process noise for bringing a report to the picture's time."""
    criterion: str = "trace"
    """Covariance intersection criterion (`kizuna.fusion.ci`)."""
    reporter_hysteresis: int = 2
    """Quality margin another source needs to take over reporting."""


@dataclass(frozen=True)
class SystemTracks:
    """The picture at one time: M system tracks as arrays."""

    time_s: float
    number: NDArray[np.int64]
    x: NDArray[np.float64]
    P: NDArray[np.float64]
    quality: NDArray[np.uint8]
    category: NDArray[np.uint8]
    pedigree: NDArray[np.uint8]
    """(M, K) OR of the sources' source bits per nation."""
    n_sources: NDArray[np.int64]
    reporter: NDArray[np.int64]
    """Index of the nation responsible for reporting each track."""

    def __len__(self) -> int:
        return len(self.number)


@dataclass(frozen=True)
class _Fused:
    """Fused state of every system track (sorted numbers) at one update."""

    number: NDArray[np.int64]
    x: NDArray[np.float64]
    P: NDArray[np.float64]


@dataclass
class _Sources:
    nation: NDArray[np.int64]
    track_id: NDArray[np.int64]
    time_s: NDArray[np.float64]
    x: NDArray[np.float64]
    P: NDArray[np.float64]
    quality: NDArray[np.uint8]
    pedigree: NDArray[np.uint8]
    reported: NDArray[np.int64]
    system: NDArray[np.int64]
    strikes: NDArray[np.int64]

    @staticmethod
    def empty(k: int) -> _Sources:
        z = np.zeros(0, dtype=np.int64)
        return _Sources(z, z, np.zeros(0), np.zeros((0, 6)), np.zeros((0, 6, 6)), np.zeros(0, np.uint8),
                        np.zeros((0, k), np.uint8), z, z, z)  # fmt: skip

    def take(self, rows: ArrayLike) -> _Sources:
        r = np.asarray(rows)
        return _Sources(*(getattr(self, f)[r] for f in _FIELDS))

    @staticmethod
    def join(a: _Sources, b: _Sources) -> _Sources:
        return _Sources(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in _FIELDS))


_FIELDS = ("nation", "track_id", "time_s", "x", "P", "quality", "pedigree", "reported", "system", "strikes")


@dataclass
class SystemPicture:
    """One node's system tracks (module docstring). ``nation`` is this node's index among the
    coalition's ``n_nations``; ``reach_size`` scores numbers for the merge rule (default: every
    nation reaches all)."""

    nation: int
    n_nations: int
    reach_size: ReachSize | None = None
    params: PictureParameters = field(default_factory=PictureParameters)
    next_number: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.nation < self.n_nations:
            raise ValueError(f"nation index {self.nation} outside 0..{self.n_nations - 1}")
        self.block = (self.nation + 1) * NUMBER_BLOCK
        if not self.block + NUMBER_BLOCK // 2 < self.next_number < self.block + NUMBER_BLOCK:
            self.next_number = self.block + NUMBER_BLOCK // 2 + 1
        self.sources = _Sources.empty(self.n_nations)
        self.reporter_of: dict[int, int] = {}
        self.last: SystemTracks | None = None
        self.numbers_issued = 0
        self.renumbered = 0
        self._gate = float(chi2.ppf(self.params.detach_probability, 6))

    # --- inputs ----------------------------------------------------------------------------------

    def set_local(
        self,
        time_s: float,
        track_id: ArrayLike,
        x: ArrayLike,
        p: ArrayLike,
        quality: ArrayLike,
        sources: ArrayLike,
    ) -> None:
        """Replace this node's own source tracks with its tracker's firm tracks at ``time_s``
        (``sources``: each track's source bits). Tracks keep their system numbers by track id."""
        ids = np.asarray(track_id, dtype=np.int64)
        ped = np.zeros((len(ids), self.n_nations), dtype=np.uint8)
        ped[:, self.nation] = np.asarray(sources, dtype=np.uint8)
        self._replace(self.nation, ids, np.full(len(ids), float(time_s)), x, p, quality, ped,
                      np.zeros(len(ids), np.int64), drop_others=True)  # fmt: skip

    def receive(
        self,
        nation: int,
        time_s: float,
        track_id: ArrayLike,
        x: ArrayLike,
        p: ArrayLike,
        quality: ArrayLike,
        pedigree: ArrayLike,
        reported_number: ArrayLike,
    ) -> None:
        """Take a partner's report: its tracks at ``time_s`` with their numbers. A report older
        than what the picture holds for a track is ignored."""
        if nation == self.nation:
            raise ValueError("a node does not receive its own reports")
        ids = np.asarray(track_id, dtype=np.int64)
        self._replace(nation, ids, np.full(len(ids), float(time_s)), x, p, quality,
                      np.asarray(pedigree, dtype=np.uint8).reshape(len(ids), self.n_nations),
                      np.asarray(reported_number, dtype=np.int64), drop_others=False)  # fmt: skip

    def _replace(
        self, nation: int, ids: NDArray[np.int64], time_s: NDArray[np.float64], x: ArrayLike, p: ArrayLike,
        quality: ArrayLike, pedigree: NDArray[np.uint8], reported: NDArray[np.int64], *, drop_others: bool,
    ) -> None:  # fmt: skip
        s = self.sources
        mine = s.nation == nation
        old_rows = np.flatnonzero(mine)
        old_ids = s.track_id[old_rows]
        order = np.argsort(old_ids, kind="stable")
        if len(old_ids):
            pos = np.minimum(np.searchsorted(old_ids[order], ids), len(old_ids) - 1)
            found = old_ids[order][pos] == ids
            match = np.where(found, old_rows[order][pos], -1)
        else:
            found, match = np.zeros(len(ids), dtype=bool), np.full(len(ids), -1)
        safe = np.maximum(match, 0)
        if len(s.nation) == 0:  # nothing held yet: every row is new
            prev_time, prev_system, prev_strikes = (np.zeros(len(ids)), np.zeros(len(ids), np.int64),
                                                    np.zeros(len(ids), np.int64))  # fmt: skip
        else:
            prev_time, prev_system, prev_strikes = s.time_s[safe], s.system[safe], s.strikes[safe]
        newer = ~found | (time_s >= prev_time)
        keep_new = np.flatnonzero(newer)
        system = np.where(found, prev_system, 0)[keep_new]
        strikes = np.where(found, prev_strikes, 0)[keep_new]
        new = _Sources(
            np.full(len(keep_new), nation, np.int64), ids[keep_new], time_s[keep_new],
            np.asarray(x, np.float64).reshape(-1, 6)[keep_new],
            np.asarray(p, np.float64).reshape(-1, 6, 6)[keep_new],
            np.asarray(quality, np.uint8).reshape(-1)[keep_new], pedigree[keep_new], reported[keep_new],
            system, strikes,
        )  # fmt: skip
        drop = mine.copy() if drop_others else np.zeros(len(s.nation), dtype=bool)
        drop[match[keep_new][found[keep_new]]] = True
        self.sources = _Sources.join(s.take(np.flatnonzero(~drop)), new)

    # --- the update ------------------------------------------------------------------------------

    def update(self, now_s: float) -> SystemTracks:
        """The picture at ``now_s``: expire, predict, check, associate, number, fuse (module
        docstring)."""
        s = self.sources
        fresh = (s.nation == self.nation) | (now_s - s.time_s <= self.params.stale_after_s)
        s = self.sources = s.take(np.flatnonzero(fresh))
        xp, pp = self._predicted(now_s)
        self._touched: set[int] = set()
        fused = self._fused(xp, pp, None)
        self._check(xp, pp, fused)
        fused = self._fused(xp, pp, fused)
        self._associate(xp, pp, fused)
        self._merge_numbers(xp, pp)
        out = self._fuse(now_s, xp, pp, self._fused(xp, pp, fused))
        self.last = out
        return out

    def _predicted(self, now_s: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        s = self.sources
        dt = np.maximum(now_s - s.time_s, 0.0)
        f = cv_transition(dt)
        q = cv_process_noise(dt, self.params.predict_q_m2_per_s3)
        x = (f @ s.x[..., None])[..., 0]
        p = f @ s.P @ f.swapaxes(1, 2) + q
        return x, p

    def _canonical(self) -> NDArray[np.intp]:
        """Assigned rows in fusion order: by system number, best quality first, then nation —
        the same order every time, so the same sources give the same fused state."""
        s = self.sources
        rows = np.flatnonzero(s.system > 0)
        return rows[np.lexsort((s.nation[rows], -s.quality[rows].astype(np.int64), s.system[rows]))]

    def _fused(self, xp: NDArray[np.float64], pp: NDArray[np.float64], cache: _Fused | None) -> _Fused:
        """Every system track's fused state; groups untouched since ``cache`` are taken from it
        (CI over thousands of tracks is the costly part of an update)."""
        s = self.sources
        order = self._canonical()
        numbers = np.unique(s.system[order])
        fx = np.zeros((len(numbers), 6))
        fp = np.zeros((len(numbers), 6, 6))
        redo = np.ones(len(numbers), dtype=bool)
        if cache is not None and len(cache.number):
            at = np.minimum(np.searchsorted(cache.number, numbers), len(cache.number) - 1)
            touched = np.fromiter(self._touched, dtype=np.int64, count=len(self._touched))
            reuse = (cache.number[at] == numbers) & ~np.isin(numbers, touched)
            fx[reuse], fp[reuse] = cache.x[at[reuse]], cache.P[at[reuse]]
            redo = ~reuse
        rows = order[np.isin(s.system[order], numbers[redo])]
        if len(rows):
            _, x, p = fuse_groups(xp[rows], pp[rows], s.system[rows], criterion=self.params.criterion)
            fx[redo], fp[redo] = x, p
        return _Fused(numbers, fx, fp)

    def _check(self, xp: NDArray[np.float64], pp: NDArray[np.float64], fused: _Fused) -> None:
        s = self.sources
        assigned = np.flatnonzero(s.system > 0)
        numbers, counts = np.unique(s.system[assigned], return_counts=True)
        shared = assigned[np.isin(s.system[assigned], numbers[counts > 1])]
        if len(shared) == 0:
            s.strikes[:] = 0
            return
        at = np.searchsorted(fused.number, s.system[shared])
        d = xp[shared] - fused.x[at]
        d2 = np.einsum("ni,ni->n", d, np.linalg.solve(pp[shared] + fused.P[at], d[..., None])[..., 0])
        out = d2 > self._gate
        strikes = np.zeros(len(s.system), dtype=np.int64)
        strikes[shared] = np.where(out, s.strikes[shared] + 1, 0)
        s.strikes = strikes
        detach = shared[strikes[shared] >= self.params.detach_after]
        self._touched.update(s.system[detach].tolist())
        s.system[detach] = 0
        s.strikes[detach] = 0

    def _associate(self, xp: NDArray[np.float64], pp: NDArray[np.float64], fused: _Fused) -> None:
        """Free sources, nation by nation (this node's first), against the system tracks with no
        source of that nation: the fused states of the update's start, plus the tracks started by
        the nations before in this pass."""
        s = self.sources
        order = [self.nation, *[k for k in range(self.n_nations) if k != self.nation]]
        used = set(s.system[s.system > 0].tolist())
        started: list[int] = []
        for k in order:
            free = np.flatnonzero((s.nation == k) & (s.system == 0))
            if len(free) == 0:
                continue
            taken = np.unique(s.system[(s.nation == k) & (s.system > 0)])
            new_rows = np.asarray(started, dtype=np.intp)
            ids = np.concatenate([fused.number, s.system[new_rows]])
            fx = np.concatenate([fused.x, xp[new_rows]])
            fp = np.concatenate([fused.P, pp[new_rows]])
            ok = ~np.isin(ids, taken) & np.isin(ids, s.system)
            ids, fx, fp = ids[ok], fx[ok], fp[ok]
            if len(ids):
                match = associate_tracks(
                    xp[free], pp[free], fx, fp, gate_probability=self.params.gate_probability
                )
                s.system[free[match.a_index]] = ids[match.b_index]
                self._touched.update(ids[match.b_index].tolist())
                free = free[np.asarray(match.unmatched_a, dtype=np.intp)]
            for row in free:
                number = self._new_number(int(row), used)
                s.system[row] = number
                used.add(number)
                self._touched.add(number)
                started.append(int(row))

    def _new_number(self, row: int, used: set[int]) -> int:
        s = self.sources
        if s.nation[row] == self.nation and 0 < s.track_id[row] < NUMBER_BLOCK // 2:
            candidate = self.block + int(s.track_id[row])
        else:
            candidate = int(s.reported[row])
        if candidate > 0 and candidate not in used:
            return candidate
        number = self.next_number
        self.next_number += 1
        self.numbers_issued += 1
        return number

    def _reach(self, nation: int, category: int, bits: int) -> int:
        return self.n_nations if self.reach_size is None else self.reach_size(nation, category, bits)

    def _merge_numbers(self, xp: NDArray[np.float64], pp: NDArray[np.float64]) -> None:
        s = self.sources
        differ = (s.nation != self.nation) & (s.reported > 0) & (s.reported != s.system) & (s.system > 0)
        for number in np.unique(s.system[differ]):
            rows = np.flatnonzero(s.system == number)
            if len(rows) == 0:  # merged away earlier in this loop
                continue
            category = int(classify(xp[rows[np.argmax(s.quality[rows])]])[0])
            best = (self._score(rows, number, category), -int(number))
            winner = int(number)
            for r in rows:
                if s.nation[r] == self.nation or s.reported[r] <= 0:
                    continue
                bits = int(s.pedigree[r, s.nation[r]])
                score = (self._reach(int(s.nation[r]), category, bits), -int(s.reported[r]))
                if score > best:
                    best, winner = score, int(s.reported[r])
            if winner != number:
                self._renumber(int(number), winner, xp, pp)

    def _score(self, rows: NDArray[np.intp], number: int, category: int) -> int:
        """How far the current number reaches: the widest reach of the sources that carry it (a
        local source carries the node's own number)."""
        s = self.sources
        best = 0
        for r in rows:
            if s.nation[r] == self.nation or s.reported[r] == number:
                best = max(best, self._reach(int(s.nation[r]), category, int(s.pedigree[r, s.nation[r]])))
        return best

    def _renumber(self, number: int, winner: int, xp: NDArray[np.float64], pp: NDArray[np.float64]) -> None:
        s = self.sources
        rows = np.flatnonzero(s.system == number)
        other = np.flatnonzero(s.system == winner)
        if len(other):
            # The winner names another system track here: one object twice (merge) or a clash.
            if np.intersect1d(s.nation[rows], s.nation[other]).size:
                return
            both = np.concatenate([rows, other])
            _, fx, fp = fuse_groups(
                xp[both], pp[both], np.r_[np.zeros(len(rows)), np.ones(len(other))].astype(np.int64)
            )
            d = fx[0] - fx[1]
            if float(d @ np.linalg.solve(fp[0] + fp[1], d)) > self._gate:
                return
        s.system[rows] = winner
        self._touched.update((number, winner))
        self.renumbered += 1
        if number in self.reporter_of and winner not in self.reporter_of:
            self.reporter_of[winner] = self.reporter_of[number]
        self.reporter_of.pop(number, None)

    def _fuse(
        self, now_s: float, xp: NDArray[np.float64], pp: NDArray[np.float64], fused: _Fused
    ) -> SystemTracks:
        s = self.sources
        order = self._canonical()
        numbers, first, counts = np.unique(s.system[order], return_index=True, return_counts=True)
        assert np.array_equal(fused.number, numbers)
        fx, fp = fused.x, fused.P
        best = order[first]
        quality = s.quality[best]
        pedigree = np.bitwise_or.reduceat(s.pedigree[order], first, axis=0) if len(order) else s.pedigree[:0]
        reporter = s.nation[best].copy()
        previous = self.reported_elsewhere(numbers)
        for i in np.flatnonzero((previous >= 0) & (previous != reporter)):
            members = order[first[i] : first[i] + counts[i]]
            held = members[s.nation[members] == previous[i]]
            if len(held) and int(s.quality[held[0]]) + self.params.reporter_hysteresis > int(quality[i]):
                reporter[i] = previous[i]
        self.reporter_of = dict(zip(numbers.tolist(), reporter.tolist(), strict=True))
        category = classify(fx) if len(fx) else np.zeros(0, np.uint8)
        return SystemTracks(
            now_s, numbers, fx, fp, quality, category, pedigree, counts.astype(np.int64), reporter
        )

    # --- questions a node asks -------------------------------------------------------------------

    def numbers_of_local(self, track_id: ArrayLike) -> NDArray[np.int64]:
        """System numbers of this node's local tracks (0 for a track the picture does not hold)."""
        s = self.sources
        mine = np.flatnonzero(s.nation == self.nation)
        return _lookup(s.track_id[mine], s.system[mine], np.asarray(track_id, dtype=np.int64), 0)

    def reported_elsewhere(self, number: ArrayLike) -> NDArray[np.int64]:
        """The reporter nation index of each system number (−1 when unknown)."""
        keys = np.fromiter(self.reporter_of.keys(), dtype=np.int64, count=len(self.reporter_of))
        values = np.fromiter(self.reporter_of.values(), dtype=np.int64, count=len(self.reporter_of))
        return _lookup(keys, values, np.asarray(number, dtype=np.int64), -1)


def _lookup(
    keys: NDArray[np.int64], values: NDArray[np.int64], query: NDArray[np.int64], missing: int
) -> NDArray[np.int64]:
    """``values`` at ``keys == query`` for each query (``missing`` where absent)."""
    if len(keys) == 0:
        return np.full(len(query), missing, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    at = np.minimum(np.searchsorted(keys[order], query), len(keys) - 1)
    hit = keys[order][at] == query
    return np.where(hit, values[order][at], missing).astype(np.int64)
