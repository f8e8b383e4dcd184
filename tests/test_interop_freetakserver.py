"""End to end through a real TAK server: our CoT events relayed by FreeTAKServer to another client.

Peer: FreeTAKServer 2.2.1 (FTS), in its own venv ``.venv-fts`` (``tools/fts-requirements.txt``,
built by the Makefile) because its dependency pins fight ours. Facts used, verified here: FTS
needs ``opentelemetry-{api,sdk}==1.24.0``;
``FTS_FIRST_START=false`` starts it headless; it writes to a hard-coded ``/opt/fts``; it opens its
plain CoT port 8087 after 10–20 s; it relays CoT XML between TCP clients, and routes a client's
events only after that client's first SA (situational awareness) event is registered, ~2 s; its
multiprocessing children survive a kill of the main process.

Isolation: FTS runs under ``unshare`` in private namespaces —

* **PID**: FTS's python is PID 1 there, so when it dies the kernel kills every child it left;
  ``--kill-child`` ties it to ``unshare``, and ``unshare`` to this process (``PR_SET_PDEATHSIG``),
  so even a killed pytest leaves nothing behind;
* **mount**: a per-test folder is bind-mounted over ``/opt/fts``, and FTS's site-packages is an
  overlay whose writes are discarded: nothing on the host but that folder is written;
* **network**: FTS binds its HTTP(S) data-package ports 8080/8443 on 0.0.0.0 whatever it is told
  (``DataPackageServerConstants.IP`` is hard-coded), so it gets a network namespace with only a
  loopback: nothing is reachable from outside, and a TAK server already on the host's 8087 cannot
  collide with it. The test's two clients enter that namespace (``setns`` on a short-lived
  thread; the sockets keep their namespace) and connect to 127.0.0.1:8087 there.

Needs root (``unshare``, ``mount``, ``setns``), as the Makefile's CI runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import math
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pytest

from kizuna.interop.cot import CotError, CotEvent, CotTcpClient, cot_events, parse_cot

REPO = Path(__file__).resolve().parents[1]
FTS_PYTHON = REPO / ".venv-fts" / "bin" / "python"
COT_PORT = 8087
START_TIMEOUT_S = 60.0
SA_REGISTER_S = 3.0  # FTS routes a client's events only once its first SA is registered (~2 s)
RELAY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not FTS_PYTHON.exists(),
        reason=f"{FTS_PYTHON.relative_to(REPO)} is missing: run `make test` (or `make fts-venv`) to build "
        "FreeTAKServer's venv from tools/fts-requirements.txt",
    ),
]

T = TypeVar("T")

# Runs as PID 1 of the new namespaces (sh, then exec'd into FTS). If /opt/fts does not exist it is
# not created on the host: a tmpfs goes over /opt in this mount namespace only, every original
# entry of /opt is bound back into it (a Python under /opt keeps working), and fts is added.
# FTS and digitalpy also write into their own site-packages (DEBUG.log files, and a pickled
# connections.json that would carry one run's clients into the next): an overlay with a tmpfs
# upper layer keeps the installed venv as pip left it.
_FTS_SCRIPT = r"""
set -eu
ip link set lo up
if [ ! -d /opt/fts ]; then
    mkdir -p "$FTS_SCRATCH/opt"
    mount --rbind /opt "$FTS_SCRATCH/opt"
    mount -t tmpfs -o mode=755,size=16m kizuna-opt /opt
    for e in "$FTS_SCRATCH/opt"/* "$FTS_SCRATCH/opt"/.[!.]*; do
        [ -e "$e" ] || [ -L "$e" ] || continue
        n="/opt/${e##*/}"
        if [ -L "$e" ]; then cp -P "$e" "$n"
        elif [ -d "$e" ]; then mkdir "$n" && mount --rbind "$e" "$n"
        else touch "$n" && mount --bind "$e" "$n"
        fi
    done
    mkdir /opt/fts
fi
mount --bind "$FTS_HOME" /opt/fts
v="$FTS_SCRATCH/venv"
mkdir "$v" && mount -t tmpfs -o size=64m kizuna-fts-venv "$v" && mkdir "$v/upper" "$v/work"
mount -t overlay kizuna-fts-venv -o "lowerdir=$FTS_SITE,upperdir=$v/upper,workdir=$v/work" "$FTS_SITE"
cd "$FTS_HOME"
exec env FTS_FIRST_START=false "$FTS_PYTHON" -m FreeTAKServer.controllers.services.FTS \
    -CoTIP 127.0.0.1 -DataPackageIP 127.0.0.1 -SSLCoTIP 127.0.0.1 -SSLDataPackageIP 127.0.0.1 \
    -RestAPIIP 127.0.0.1 -AutoStart True
"""

_PR_SET_PDEATHSIG = 1
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """In the forked child before exec: SIGKILL it when the pytest process dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# ---------------------------------------------------------------------------------------- helpers


def _in_netns(netns: Path, fn: Callable[[], T], timeout_s: float = 10.0) -> T:
    """Run `fn` on a fresh thread that has joined the network namespace `netns`.

    ``setns`` moves only the calling thread, which ends with `fn`; a socket keeps the namespace
    it was created in, so it can be used from any thread afterwards.
    """
    box: dict[str, object] = {}

    def run() -> None:
        try:
            fd = os.open(netns, os.O_RDONLY)
            try:
                if _libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({netns}): {os.strerror(err)}")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, name="netns-connect", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {timeout_s} s inside {netns}")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def _listening(netns_pid: int, port: int) -> bool:
    """Whether 127.0.0.1:`port` is in LISTEN state in the network namespace of `netns_pid`."""
    local = f"0100007F:{port:04X}"  # /proc/net/tcp: little-endian IPv4, hex port; st 0A = LISTEN
    try:
        lines = Path(f"/proc/{netns_pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(f[1] == local and f[3] == "0A" for f in (line.split() for line in lines))


def _pids_in_pidns(pidns: str) -> list[int]:
    """Host PIDs of the processes whose PID namespace is `pidns` (``pid:[inode]``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(entry / "ns" / "pid") == pidns:
                    pids.append(int(entry.name))
    return pids


def _tail(log: Path, n_lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n_lines:])
    except OSError as exc:
        return f"(no log: {exc})"


class _Fts:
    """A running FreeTAKServer: the unshare process, its namespaces and its log."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc, self.log = proc, log
        self.netns = Path(f"/proc/{proc.pid}/ns/net")
        self.pidns = os.readlink(f"/proc/{proc.pid}/ns/pid_for_children")

    def connect(self) -> socket.socket:
        return _in_netns(self.netns, lambda: socket.create_connection(("127.0.0.1", COT_PORT), timeout=5.0))

    def client(self) -> CotTcpClient:
        return _in_netns(self.netns, lambda: CotTcpClient("127.0.0.1", COT_PORT))


def _fts_site_packages() -> Path:
    found = sorted((FTS_PYTHON.parent.parent / "lib").glob("python3*/site-packages"))
    if len(found) != 1:
        pytest.fail(f"expected one site-packages in {FTS_PYTHON.parent.parent}/lib, found {found}; "
                    "rebuild it: rm -rf .venv-fts && make test")  # fmt: skip
    return found[0]


@contextlib.contextmanager
def _freetakserver(home: Path) -> Iterator[_Fts]:
    """Start FTS in private PID, mount and network namespaces; always stop it and all its children."""
    (home / "fts").mkdir()
    (home / "scratch").mkdir()
    log = home / "fts.log"
    env = {
        **os.environ,
        "FTS_HOME": str(home / "fts"),
        "FTS_SCRATCH": str(home / "scratch"),
        "FTS_PYTHON": str(FTS_PYTHON),
        "FTS_SITE": str(_fts_site_packages()),
        "PYTHONUNBUFFERED": "1",  # so the log tail shown on a failure is up to date
    }
    cmd = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--net", "sh", "-c", _FTS_SCRIPT]
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
    pidns = None
    try:
        deadline = time.monotonic() + 5.0
        while pidns is None:  # unshare needs a moment to create the namespaces
            with contextlib.suppress(OSError):
                candidate = os.readlink(f"/proc/{proc.pid}/ns/pid_for_children")
                if candidate != os.readlink("/proc/self/ns/pid"):
                    pidns = candidate
            if pidns is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"unshare did not start (exit {proc.poll()}):\n{_tail(log)}")
                time.sleep(0.05)
        fts = _Fts(proc, log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _listening(proc.pid, COT_PORT):
            if proc.poll() is not None:
                pytest.fail(f"FreeTAKServer exited with {proc.returncode} before opening {COT_PORT}:\n"
                            f"{_tail(log)}")  # fmt: skip
            if time.monotonic() > deadline:
                pytest.fail(f"FreeTAKServer did not open 127.0.0.1:{COT_PORT} within {START_TIMEOUT_S} s:\n"
                            f"{_tail(log)}")  # fmt: skip
            time.sleep(0.25)
        yield fts
    finally:
        _stop(proc, pidns, log)


def _stop(proc: subprocess.Popen[bytes], pidns: str | None, log: Path) -> None:
    """SIGTERM the process group, then SIGKILL; the PID namespace's init dying takes the rest."""
    for sig, grace_s in ((signal.SIGTERM, 3.0), (signal.SIGKILL, STOP_TIMEOUT_S)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if proc.poll() is not None and not (pidns and _pids_in_pidns(pidns)):
                break
            time.sleep(0.1)
    # FTS's main process ignores SIGTERM; only the SIGKILL round ends it (and with it the namespace).
    for pid in _pids_in_pidns(pidns) if pidns else []:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=STOP_TIMEOUT_S)
    if pidns:
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while (left := _pids_in_pidns(pidns)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, f"FreeTAKServer processes survived in {pidns}: {left}\n{_tail(log, 10)}"


class _Receiver:
    """A TCP client of FTS that reads its stream on a thread and splits it on ``</event>``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(0.5)
        self.events: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="fts-receiver", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            *complete, buffer = buffer.split(b"</event>")
            with self._lock:
                self.events.extend(part.strip() + b"</event>" for part in complete)

    def snapshot(self) -> list[bytes]:
        with self._lock:
            return list(self.events)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.sock.close()


def _sa_event(uid: str, callsign: str, now: dt.datetime) -> bytes:
    """A minimal TAK client SA (self position) event: what FTS registers a connection with."""
    fmt = "%Y-%m-%dT%H:%M:%S.000Z"
    t, stale = now.strftime(fmt), (now + dt.timedelta(minutes=10)).strftime(fmt)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><event version="2.0" uid="{uid}" type="a-f-G-U-C"'
        f' how="h-e" time="{t}" start="{t}" stale="{stale}">'
        '<point lat="35.0" lon="139.0" hae="10.0" ce="10.0" le="10.0"/>'
        f'<detail><contact callsign="{callsign}" endpoint="*:-1:stcp"/>'
        '<__group name="Cyan" role="Team Member"/><takv platform="kizuna-test" version="1"/>'
        f'<uid Droid="{callsign}"/></detail></event>'
    ).encode()


def _picture(step: int) -> pd.DataFrame:
    """Three tracks (air, missile, space) over Japan at `step`, columns of PICTURE_SCHEMA."""
    n = 3
    rng = np.random.default_rng(11)
    base_lat, base_lon = np.array([35.1, 36.2, 37.3]), np.array([139.1, 140.2, 141.3])
    return pd.DataFrame(
        {
            "time_s": np.full(n, step * 1.0),
            "track_id": np.arange(500, 500 + n, dtype=np.int64),
            "status": ["confirmed"] * n,
            "x_m": np.zeros(n), "y_m": np.zeros(n), "z_m": np.zeros(n),
            "vx_m_per_s": rng.normal(0, 200, n),
            "vy_m_per_s": rng.normal(0, 200, n),
            "vz_m_per_s": rng.normal(0, 200, n),
            "lat_deg": base_lat + 0.01 * step,
            "lon_deg": base_lon - 0.01 * step,
            "alt_m": np.array([9_000.0, 60_000.0, 400_000.0]) + 10.0 * step,
            "sigma_x_m": rng.uniform(5, 500, n),
            "sigma_y_m": rng.uniform(5, 500, n),
            "sigma_z_m": rng.uniform(5, 500, n),
            "sigma_vx_m_per_s": np.ones(n),
            "sigma_vy_m_per_s": np.ones(n),
            "sigma_vz_m_per_s": np.ones(n),
            "quality": np.full(n, 9, dtype=np.int8),
            "category": ["air", "missile", "space"],
            "pedigree": ["JPN+USA"] * n,
            "n_sources": np.full(n, 2, dtype=np.int64),
            "reporter": ["JPN"] * n,
        }
    )  # fmt: skip


def _key(ev: CotEvent) -> tuple[str, dt.datetime]:
    return ev.uid, ev.time


# ------------------------------------------------------------------------------------------- test


def test_tracks_relayed_by_freetakserver_to_another_client(tmp_path):
    """Our `cot_events`, streamed by `CotTcpClient` into FTS, reach a second client field for field.

    FTS re-serialises every event (attributes reordered, ``<point>`` after ``<detail>``, no XML
    declaration, empty ``<contact>``/``<marti>``/``<usericon>`` added), so fields are compared, not
    bytes. Tolerances: 1e-7° (~1 cm) and 0.01 m, i.e. our printed digits come back unchanged.
    FTS 2.2.1 turns our ``<remarks>`` element into a ``remarks`` attribute of ``<detail>``: the
    release marking survives in the bytes, but not where CoT readers (and `parse_cot`) look.
    """
    started = time.monotonic()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)  # FTS may drop events already stale
    sent: dict[tuple[str, dt.datetime], CotEvent] = {}
    with _freetakserver(tmp_path) as fts:
        receiver = _Receiver(fts.connect())
        try:
            receiver.sock.sendall(_sa_event("kizuna-test-receiver", "KIZUNA-RX", now))
            with fts.client() as sender:
                sender.send([_sa_event("kizuna-test-sender", "KIZUNA-TX", now)])
                time.sleep(SA_REGISTER_S)
                for step in range(3):
                    events = cot_events(_picture(step), now)
                    sent.update((_key(ev), ev) for ev in map(parse_cot, events))
                    sender.send(events)
                    time.sleep(0.2)
                deadline = time.monotonic() + RELAY_TIMEOUT_S
                got: dict[tuple[str, dt.datetime], tuple[CotEvent, bytes]] = {}
                while time.monotonic() < deadline and set(sent) - set(got):
                    for raw in receiver.snapshot():
                        with contextlib.suppress(CotError):
                            ev = parse_cot(raw)
                            if ev.uid.startswith("kizuna-") and not ev.uid.startswith("kizuna-test-"):
                                got[_key(ev)] = ev, raw
                    time.sleep(0.2)
        finally:
            receiver.close()
        log_tail = _tail(fts.log)
    elapsed_s = time.monotonic() - started

    assert len(sent) == 9
    missing = sorted(set(sent) - set(got))
    assert not missing, f"FTS relayed {len(got)} of {len(sent)} events; missing {missing}\n{log_tail}"
    for key, ours in sent.items():
        theirs, raw = got[key]
        assert (theirs.uid, theirs.type, theirs.how) == (ours.uid, ours.type, ours.how)
        assert (theirs.time, theirs.start, theirs.stale) == (ours.time, ours.start, ours.stale)
        assert math.isclose(theirs.lat_deg, ours.lat_deg, abs_tol=1e-7)
        assert math.isclose(theirs.lon_deg, ours.lon_deg, abs_tol=1e-7)
        assert math.isclose(theirs.hae_m, ours.hae_m, abs_tol=0.01)
        assert math.isclose(theirs.ce_m, ours.ce_m, abs_tol=0.01)
        assert math.isclose(theirs.le_m, ours.le_m, abs_tol=0.01)
        assert theirs.course_deg is not None and ours.course_deg is not None
        assert math.isclose(theirs.course_deg, ours.course_deg, abs_tol=1e-6)
        assert theirs.speed_m_per_s == pytest.approx(ours.speed_m_per_s, abs=1e-3)
        kizuna_fields = ("track_number", "quality", "category", "pedigree", "reporter")
        assert [getattr(theirs, f) for f in kizuna_fields] == [getattr(ours, f) for f in kizuna_fields]
        assert theirs.remarks is None and b'remarks="REL TO USA, JPN, AUS"' in raw  # see docstring
    assert elapsed_s < 120.0
