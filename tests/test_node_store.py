"""A node's state survives a restart: saved to SQLite, loaded into a fresh node, it carries on
exactly as the node that was never stopped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from test_node import Coalition, air, coalition, missile

from kizuna.network.signing import keys_from_seed
from kizuna.node import Node, NodeSettings
from kizuna.node_store import SEQ_MARGIN, NodeStore, StoreError
from kizuna.scenario.schema import ReleaseRule
from kizuna.tracking.tracker import surveillance_tracker

NATIONS = ["USA", "JPN", "AUS"]
RULES = [ReleaseRule(nation=n, to=[m for m in NATIONS if m != n]) for n in NATIONS]


def world() -> Coalition:
    targets = [air(0), air(1), air(2), missile(0)]
    sensors = {
        "USA": [("USA-r1", "radar", [0, 1, 3])],
        "JPN": [("JPN-r1", "radar", [1, 2, 3])],
        "AUS": [("AUS-o1", "oth_radar", [0, 2])],
    }
    return coalition(NATIONS, RULES, sensors, targets)


def fresh_like(node: Node) -> Node:
    signing, verify = keys_from_seed(3, NATIONS)
    return Node(node.nation, NATIONS, node.policy, node.bus, signing[node.nation], verify,
                settings=NodeSettings(), tracker=surveillance_tracker())  # fmt: skip


def test_a_restored_node_carries_on_exactly(tmp_path: Path) -> None:
    a = world()
    a.run(10)
    jpn = a.nodes["JPN"]
    store = NodeStore(tmp_path / "jpn.sqlite", "JPN", tuple(NATIONS))
    store.save(jpn, 9.0, jpn.picture.last)
    store.close()

    restored = fresh_like(jpn)
    store = NodeStore(tmp_path / "jpn.sqlite", "JPN", tuple(NATIONS))
    assert store.load(restored) == 9.0
    store.close()
    src, got = jpn.picture.sources, restored.picture.sources
    for name in ("nation", "track_id", "time_s", "x", "P", "quality", "pedigree", "reported", "system"):
        np.testing.assert_array_equal(getattr(got, name), getattr(src, name), err_msg=name)
    assert restored.sealer.next_seq == jpn.sealer.next_seq + SEQ_MARGIN
    restored.sealer.next_seq = jpn.sealer.next_seq  # to compare the runs message for message
    assert restored.verifier.state() == jpn.verifier.state()
    assert restored.picture.reporter_of == jpn.picture.reporter_of
    assert restored.tracker.table.next_id == jpn.tracker.table.next_id
    np.testing.assert_array_equal(restored.tracker.table.x, jpn.tracker.table.x)

    # Both go on with the same inputs: the same pictures, numbers and reports.
    a.nodes["JPN"] = restored
    history = a.run_from(10, 16)
    b = world()
    b.run(10)
    expected = b.run_from(10, 16)
    for got_step, want_step in zip(history, expected, strict=True):
        np.testing.assert_array_equal(got_step["JPN"].number, want_step["JPN"].number)
        np.testing.assert_allclose(got_step["JPN"].x, want_step["JPN"].x, rtol=0, atol=1e-6)


def test_a_restored_node_refuses_replays(tmp_path: Path) -> None:
    a = world()
    a.run(6)
    usa = a.nodes["USA"]
    # a message JPN sent and USA accepted
    sent = [d for d in a.bus.log if d.sender == "JPN" and d.receiver == "USA" and d.fate == "delivered"]
    assert sent
    store = NodeStore(tmp_path / "usa.sqlite", "USA", tuple(NATIONS))
    store.save(usa, 5.0, usa.picture.last)
    restored = fresh_like(usa)
    store.load(restored)
    # reseal the same (sender, seq) — a replay — through JPN's sealer restored to an old number
    jpn = a.nodes["JPN"]
    jpn.sealer.next_seq = sent[0].seq
    local = jpn.local_tracks(5.0)
    from kizuna.network.messages import pack_tracks

    data = jpn.sealer.seal(5.0, 5.0, ["USA"], pack_tracks(local))
    assert restored.take(data, 5.0) is False
    assert any(reason == "replayed" for (_, reason) in restored.verifier.rejected)


def test_another_nodes_state_file_is_refused(tmp_path: Path) -> None:
    a = world()
    a.run(3)
    store = NodeStore(tmp_path / "s.sqlite", "USA", tuple(NATIONS))
    store.save(a.nodes["USA"], 2.0, None)
    store.close()
    with pytest.raises(StoreError, match="another node"):
        NodeStore(tmp_path / "s.sqlite", "JPN", tuple(NATIONS))


def test_the_state_file_is_plain_sqlite_in_wal_mode(tmp_path: Path) -> None:
    a = world()
    a.run(8)
    store = NodeStore(tmp_path / "s.sqlite", "USA", tuple(NATIONS))
    store.save(a.nodes["USA"], 7.0, a.nodes["USA"].picture.last)
    db = sqlite3.connect(tmp_path / "s.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    numbers = [r[0] for r in db.execute("SELECT number FROM system_tracks")]
    assert sorted(numbers) == sorted(a.nodes["USA"].picture.last.number.tolist())
    n_sources = db.execute("SELECT COUNT(*) FROM sources").fetchone()[0]
    assert n_sources == len(a.nodes["USA"].picture.sources.nation)
