"""A live node's state on disk: SQLite in WAL mode, written at every step, read back at start.

What a node must not forget when it is killed and restarted:

* its **system-track table** — every source track with its system number (``sources``), each
  system track's reporter (``reporters``) and, for people and tools, the picture itself
  (``system_tracks``: number, position, quality, pedigree);
* its **number block** — the next number it will issue (``meta.next_number``), so no number is
  ever issued twice;
* its **sequence number** — the next one it signs with (``meta.next_seq``), so partners do not take
  its new messages for replays;
* the **last accepted sequence per peer** — the verifier's replay windows (``meta.verifier``), so
  a replay of an old message is refused after a restart too;
* its **tracker** — the local tracks, so local track ids are never reused and tracks carry on
  (``meta.tracker``, a pickle of the `Tracker`; the file is the node's own, never a partner's).

Each save is one transaction: a crash leaves the previous step's state whole. ``sqlite3 FILE``
opens it for inspection.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from kizuna.fusion.picture import SystemTracks, _Sources
from kizuna.node import Node

__all__ = ["SEQ_MARGIN", "STORE_VERSION", "NodeStore", "StoreError"]

STORE_VERSION = 1

SEQ_MARGIN = 16
"""Sequence numbers skipped on restart: more than a node sends between two saves."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE IF NOT EXISTS sources (
    row INTEGER PRIMARY KEY, nation INTEGER, track_id INTEGER, time_s REAL, x BLOB, p BLOB,
    quality INTEGER, pedigree BLOB, reported INTEGER, system INTEGER, strikes INTEGER);
CREATE TABLE IF NOT EXISTS reporters (number INTEGER PRIMARY KEY, nation INTEGER);
CREATE TABLE IF NOT EXISTS system_tracks (
    number INTEGER PRIMARY KEY, time_s REAL, x_m REAL, y_m REAL, z_m REAL, vx_m_per_s REAL,
    vy_m_per_s REAL, vz_m_per_s REAL, quality INTEGER, category INTEGER, pedigree TEXT, reporter TEXT);
"""


class StoreError(RuntimeError):
    """A state file that cannot be used (unreadable, another node's, another version)."""


class NodeStore:
    """The state file of one node (module docstring)."""

    def __init__(self, path: str | Path, nation: str, nations: tuple[str, ...]) -> None:
        self.path = Path(path)
        self.nation = nation
        self.nations = nations
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the node's state ({exc})") from None
        found = self._meta("identity")
        identity = {"version": STORE_VERSION, "nation": nation, "nations": list(nations)}
        if found is not None and json.loads(found) != identity:
            raise StoreError(
                f"{self.path}: state of another node or version ({json.loads(found)}), not {identity}; "
                "use another --state file"
            )

    def _meta(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @property
    def empty(self) -> bool:
        return self._meta("identity") is None

    def close(self) -> None:
        self.db.close()

    # --- save ------------------------------------------------------------------------------------

    def save(self, node: Node, now_s: float, picture: SystemTracks | None, *, tracker: bool = True) -> None:
        """Write the node's state as of ``now_s`` in one transaction."""
        pic = node.picture
        s = pic.sources
        identity = {"version": STORE_VERSION, "nation": self.nation, "nations": list(self.nations)}
        meta: dict[str, Any] = {
            "identity": json.dumps(identity),
            "time_s": float(now_s),
            "next_number": int(pic.next_number),
            "next_seq": int(node.sealer.next_seq),
            "next_publish_s": float(node.next_publish_s),
            "verifier": json.dumps(node.verifier.state()),
        }
        if tracker:
            meta["tracker"] = pickle.dumps(node.tracker, protocol=pickle.HIGHEST_PROTOCOL)
        rows = [
            (i, int(s.nation[i]), int(s.track_id[i]), float(s.time_s[i]), s.x[i].tobytes(), s.P[i].tobytes(),
             int(s.quality[i]), s.pedigree[i].tobytes(), int(s.reported[i]), int(s.system[i]),
             int(s.strikes[i]))
            for i in range(len(s.nation))
        ]  # fmt: skip
        db = self.db
        try:
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))
            db.execute("DELETE FROM sources")
            db.executemany("INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            db.execute("DELETE FROM reporters")
            db.executemany("INSERT INTO reporters VALUES (?, ?)", list(pic.reporter_of.items()))
            db.execute("DELETE FROM system_tracks")
            if picture is not None and len(picture):
                db.executemany(
                    "INSERT INTO system_tracks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (int(picture.number[i]), float(picture.time_s), *map(float, picture.x[i]),
                         int(picture.quality[i]), int(picture.category[i]),
                         "+".join(n for n, b in zip(self.nations, picture.pedigree[i], strict=True) if b),
                         self.nations[int(picture.reporter[i])])
                        for i in range(len(picture))
                    ],
                )  # fmt: skip
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            db.execute("ROLLBACK")
            raise StoreError(f"{self.path}: cannot save the node's state ({exc})") from None

    # --- load ------------------------------------------------------------------------------------

    def load(self, node: Node) -> float | None:
        """Put the saved state back into ``node``; the saved time, or None if nothing was saved."""
        if self.empty:
            return None
        k = len(self.nations)
        rows = self.db.execute(
            "SELECT nation, track_id, time_s, x, p, quality, pedigree, reported, system, strikes "
            "FROM sources ORDER BY row"
        ).fetchall()
        n = len(rows)
        col = list(zip(*rows, strict=True)) if n else [()] * 10
        pic = node.picture
        pic.sources = _Sources(
            np.array(col[0], dtype=np.int64),
            np.array(col[1], dtype=np.int64),
            np.array(col[2], dtype=np.float64),
            np.frombuffer(b"".join(col[3]), dtype=np.float64).reshape(n, 6).copy(),
            np.frombuffer(b"".join(col[4]), dtype=np.float64).reshape(n, 6, 6).copy(),
            np.array(col[5], dtype=np.uint8),
            np.frombuffer(b"".join(col[6]), dtype=np.uint8).reshape(n, k).copy(),
            np.array(col[7], dtype=np.int64),
            np.array(col[8], dtype=np.int64),
            np.array(col[9], dtype=np.int64),
        )
        pic.reporter_of = dict(self.db.execute("SELECT number, nation FROM reporters").fetchall())
        pic.next_number = int(self._meta("next_number"))
        # A kill between a send and the save would reuse a number partners already accepted:
        # skip ahead (their replay windows accept the jump).
        node.sealer.next_seq = int(self._meta("next_seq")) + SEQ_MARGIN
        node.next_publish_s = float(self._meta("next_publish_s"))
        node.verifier.restore(json.loads(self._meta("verifier")))
        blob = self._meta("tracker")
        if blob is not None:
            node.tracker = pickle.loads(blob)
        return float(self._meta("time_s"))
