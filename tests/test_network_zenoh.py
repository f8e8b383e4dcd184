"""The live Zenoh bus (kizuna/network/zenoh_bus.py), on real Zenoh sessions over 127.0.0.1, no mocks:
a burst arrives whole and in order (congestion control BLOCK), a message reaches only the nations it
is addressed to, a late joiner gets each sender's latest report from the publisher's cache, bad
endpoints fail with one clear line, and a node in another process talks to one in this process.

Ports are picked free by binding port 0; multicast scouting is off, so nothing leaves loopback.
Every session is opened through the `buses` fixture, which closes them all even when a test fails.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from kizuna.network.zenoh_bus import BusError, ZenohBus

REPO = Path(__file__).resolve().parents[1]

OpenBus = Callable[..., ZenohBus]


def free_port() -> int:
    """A port nobody listens on now (the OS picks it, we let it go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def endpoint(port: int) -> str:
    return f"tcp/127.0.0.1:{port}"


def payload(i: int, size: int = 200) -> bytes:
    """``size`` bytes that say which message they are."""
    return (i.to_bytes(4, "big") * (size // 4 + 1))[:size]


@pytest.fixture
def buses() -> Iterator[OpenBus]:
    """``buses(nation, listen=[...], connect=[...])`` opens a `ZenohBus`; all are closed at the end."""
    with ExitStack() as stack:  # closes every bus, last opened first, even if one close fails

        def open_bus(nation: str, *, listen: list[str] | None = None, connect: list[str] | None = None,
                     **kw: Any) -> ZenohBus:  # fmt: skip
            bus = ZenohBus(nation, listen=listen or [], connect=connect or [], **kw)
            stack.callback(bus.close, flush_timeout_s=0.5)
            return bus.open()

        yield open_bus


def test_burst_arrives_whole_and_in_order(buses: OpenBus) -> None:
    """2,000 messages of 200 B sent flat out: all arrive, in order, byte for byte. Zenoh's default
    congestion control (DROP) loses part of such a burst (7–24 % in our trials); BLOCK
    loses none."""
    port = free_port()
    usa = buses("USA", listen=[endpoint(port)])
    jpn = buses("JPN", connect=[endpoint(port)])
    assert jpn.wait_for_partners(["USA"], 5.0), "JPN never saw USA's bus"
    sent = [payload(i) for i in range(2000)]
    for data in sent:
        jpn.send("JPN", ["USA"], data, 0.0)
    got = usa.wait_for("USA", len(sent), 10.0)
    assert len(got) == len(sent)
    assert got == sent
    assert (jpn.sent, usa.received, usa.dropped, usa.missed) == (2000, 2000, 0, 0)


def test_messages_reach_only_their_addressees(buses: OpenBus) -> None:
    """A star around USA: what USA sends to JPN alone never reaches AUS, a message to both reaches
    both, and no node receives its own message even when it lists itself."""
    port = free_port()
    usa = buses("USA", listen=[endpoint(port)])
    jpn = buses("JPN", connect=[endpoint(port)])
    aus = buses("AUS", connect=[endpoint(port)])
    assert usa.wait_for_partners(["JPN", "AUS"], 5.0), f"USA sees only {usa.partners()}"

    usa.send("USA", ["JPN"], b"to JPN only", 0.0)
    usa.send("USA", ["JPN", "AUS"], b"to JPN and AUS", 0.0)
    usa.send("USA", ["USA", "AUS"], b"to AUS (and USA itself)", 0.0)
    assert usa.flush(5.0)

    # One sender, one link: had "to JPN only" reached AUS, it would have arrived before the others.
    assert jpn.wait_for("JPN", 2, 5.0) == [b"to JPN only", b"to JPN and AUS"]
    assert aus.wait_for("AUS", 2, 5.0) == [b"to JPN and AUS", b"to AUS (and USA itself)"]
    assert usa.wait_for("USA", 1, 0.3) == []
    assert usa.sent == 4
    assert jpn.receive("JPN", 0.0) == [] and aus.receive("AUS", 0.0) == []


def test_late_joiner_gets_the_latest_report_at_once(buses: OpenBus) -> None:
    """USA reports to JPN before JPN's node exists; when JPN starts it gets USA's latest report from
    the publisher's cache (``cache_samples=1``: the latest only), then new reports as they come."""
    port = free_port()
    usa = buses("USA", listen=[endpoint(port)])
    usa.send("USA", ["JPN"], b"old report", 0.0)
    usa.send("USA", ["JPN"], b"latest report", 0.0)

    jpn = buses("JPN", connect=[endpoint(port)])
    assert jpn.wait_for("JPN", 1, 5.0) == [b"latest report"]

    assert usa.wait_for_partners(["JPN"], 5.0)
    usa.send("USA", ["JPN"], b"new report", 0.0)
    assert jpn.wait_for("JPN", 1, 5.0) == [b"new report"]
    assert usa.flush(2.0)
    assert jpn.receive("JPN", 0.0) == []


def test_late_joiner_reached_when_the_sender_connects_to_it(buses: OpenBus) -> None:
    """The other way round: USA dials JPN, which is not up yet, and reports anyway; JPN starts
    listening, USA's retry reaches it, and JPN's subscriber finds USA's publisher and asks it for
    its cache (late-publisher detection)."""
    port = free_port()
    usa = buses("USA", connect=[endpoint(port)])
    usa.send("USA", ["JPN"], b"sent before JPN was up", 0.0)
    jpn = buses("JPN", listen=[endpoint(port)])
    assert jpn.wait_for("JPN", 1, 5.0) == [b"sent before JPN was up"]
    assert usa.peers() == [jpn.zid]


@pytest.mark.parametrize(
    "bad", ["tcp127.0.0.1:7447", "tcp/127.0.0.1", "tcp/127.0.0.1:99999", "foo/127.0.0.1:7447", ""]
)
@pytest.mark.parametrize("side", ["listen", "connect"])
def test_malformed_endpoint_is_one_clear_line(bad: str, side: str) -> None:
    with pytest.raises(BusError) as err:
        ZenohBus("USA", listen=[bad] if side == "listen" else [], connect=[bad] if side == "connect" else [])
    message = str(err.value)
    assert repr(bad) in message and "\n" not in message and ".rs" not in message


def test_listen_port_in_use_names_the_endpoint(buses: OpenBus) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        where = endpoint(taken.getsockname()[1])
        with pytest.raises(BusError) as err:
            buses("USA", listen=[where])
    message = str(err.value)
    assert where in message and "already in use" in message
    assert "\n" not in message and ".rs" not in message


def test_unreachable_peer_is_not_an_error_at_open(buses: OpenBus) -> None:
    """Partners may start later: open succeeds, and `wait_for_peers` says nobody answered."""
    jpn = buses("JPN", connect=[endpoint(free_port())])
    assert jpn.wait_for_peers(1, 1.0) is False
    assert jpn.peers() == [] and jpn.partners() == set()


def test_bus_serves_only_its_own_nation(buses: OpenBus) -> None:
    usa = buses("USA", listen=[endpoint(free_port())])
    with pytest.raises(ValueError, match="receives for 'USA', not 'JPN'"):
        usa.receive("JPN", 0.0)
    with pytest.raises(ValueError, match="sends for 'USA', not 'JPN'"):
        usa.send("JPN", ["AUS"], b"x", 0.0)
    with pytest.raises(ValueError, match="cannot be part of a key"):
        usa.send("USA", ["A/B"], b"x", 0.0)


def test_full_queue_drops_counts_and_warns_once(buses: OpenBus, caplog: pytest.LogCaptureFixture) -> None:
    """A node that stops draining loses the newest messages, counted, with one WARNING on the next
    drain — and Zenoh's thread never blocks."""
    port = free_port()
    usa = buses("USA", listen=[endpoint(port)], queue_max=10)
    jpn = buses("JPN", connect=[endpoint(port)])
    assert jpn.wait_for_partners(["USA"], 5.0)
    for i in range(25):
        jpn.send("JPN", ["USA"], payload(i), 0.0)
    deadline = time.monotonic() + 5.0
    while usa.received + usa.dropped < 25 and time.monotonic() < deadline:
        time.sleep(0.01)
    with caplog.at_level(logging.WARNING, logger="kizuna.network"):
        got = usa.receive("USA", 0.0)
        assert usa.receive("USA", 0.0) == []
    assert got == [payload(i) for i in range(10)]
    assert (usa.received, usa.dropped) == (10, 15)
    warnings = [r for r in caplog.records if r.name == "kizuna.network" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "15 message(s) dropped" in warnings[0].getMessage()


def test_close_is_idempotent_and_context_managed() -> None:
    with ZenohBus("USA", listen=[endpoint(free_port())], connect=[]) as usa:
        assert usa.peers() == []
    usa.close()
    usa.close()
    with pytest.raises(BusError, match="not open"):
        usa.send("USA", ["JPN"], b"x", 0.0)


CHILD = """
import sys
from kizuna.network.zenoh_bus import ZenohBus
where, n = sys.argv[1], int(sys.argv[2])
with ZenohBus("JPN", listen=[], connect=[where]) as bus:
    if not bus.wait_for_partners(["USA"], 10.0):
        sys.exit("JPN: USA never came up at " + where)
    for i in range(n):
        bus.send("JPN", ["USA"], i.to_bytes(4, "big") * 50, 0.0)
"""


def test_node_in_another_process(buses: OpenBus) -> None:
    """A JPN node in its own process sends 500 messages and exits; this process's USA bus gets them
    all, in order. Closing flushes: Zenoh alone drops what is still queued when a session closes."""
    port = free_port()
    usa = buses("USA", listen=[endpoint(port)])
    n = 500
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", CHILD, endpoint(port), str(n)]
    with subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as child:
        try:
            got = usa.wait_for("USA", n, 20.0)
            out, _ = child.communicate(timeout=10.0)
        finally:
            child.kill()  # a no-op once it has exited; Popen's exit closes the pipe and waits
    assert child.returncode == 0, out.decode(errors="replace")
    assert got == [i.to_bytes(4, "big") * 50 for i in range(n)]
