"""Benchmark: interoperability encoders and decoders — CoT, TAK v1, DIS, ASTERIX CAT062 — on one core.

Run:  .venv/bin/python bench/bench_interop.py [--tracks 100,1000,10000] [--repeats 5] [--quick]
          [--out out/bench_interop]

The script re-executes itself with ``OMP_NUM_THREADS=1`` (and the OpenBLAS, MKL and Numba
equivalents) unless they are already set.

**Picture** (seeded, built before any timing): N rows with the columns of
`kizuna.recording.PICTURE_SCHEMA`, one step (``time_s`` = 3,600 s after a UTC epoch). Positions
uniform over the Western Pacific (0–45° N, 120–170° E); categories 70 % air (0–15 km), 20 %
missile (0–60 km), 10 % space (40–60 km); ECEF x, y, z from lat/lon/alt by
`kizuna.frames.geodetic_to_ecef`; velocity 200–2,000 m/s in a random direction, climb within
±30°, rotated from local ENU to ECEF; position σ 50–2,000 m and velocity σ 5–50 m/s per axis;
quality 0–15; pedigree a random non-empty subset of USA+JPN+AUS, ``n_sources`` its size and
``reporter`` one of its nations; unique 40-bit track ids; status ``confirmed``.

**Encoders** (each call timed alone with `time.perf_counter`, best of ``--repeats``):
``cot_events(picture, epoch)`` (XML bytes, one event per track); ``encode_tak_v1`` over every
event of that list (the events themselves made outside the timing); ``entity_state_pdus``;
``cat062_blocks(..., sac=1, sic=1, track_numbers=TrackNumbers())`` with the default 65,535-byte
blocks and with ``max_block_bytes=1472`` (UDP). A fresh `TrackNumbers` per call, so the timing
includes numbering every track (the worst case; a running node numbers only new tracks).

**Send path**: one `PictureOutputs` with ``--cot``, ``--dis`` and ``--asterix`` all
``udp://127.0.0.1`` to three receiving sockets (``SO_RCVBUF`` asked at 4 MiB), each drained by
its own thread of this process (so the receivers share the GIL and the 2 cores with the sender).
Timed: ``outputs.send(picture)`` — encode and ``sendto`` for all three formats. After each send
the script waits until no datagram has arrived for 0.3 s and counts datagrams received against
``outputs.sent``. Loopback UDP drops when a receiver's buffer fills; the drops are reported, not
hidden.

**Decoders** (records/s, best of ``--repeats``): ``parse_cot`` over every CoT event,
``parse_entity_state`` over every PDU, ``parse_cat062`` over every 1,472-byte block (records =
tracks).

**The 1 Hz requirement**: a node with 10,000 tracks must emit its picture in all enabled formats
within 1 s. The verdict row sums the best encode times of CoT XML, DIS and CAT062 (UDP blocks),
and separately gives the measured full send path; the margin is 1,000 ms minus each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kizuna import frames
from kizuna.constants import DEG
from kizuna.interop.asterix import TrackNumbers, cat062_blocks, parse_cat062
from kizuna.interop.cot import cot_events, encode_tak_v1, parse_cot
from kizuna.interop.dis import entity_state_pdus, parse_entity_state
from kizuna.interop.outputs import PictureOutputs, parse_output
from kizuna.recording import PICTURE_SCHEMA

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")

SEED = 7
EPOCH_UTC = datetime(2027, 3, 1, 2, 0, 0, tzinfo=UTC)
STEP_TIME_S = 3_600.0
LAT_DEG, LON_DEG = (0.0, 45.0), (120.0, 170.0)
CATEGORIES = ("air", "missile", "space")
CATEGORY_SHARE = (0.7, 0.2, 0.1)
ALTITUDE_M = {"air": (0.0, 15e3), "missile": (0.0, 60e3), "space": (40e3, 60e3)}
SPEED_M_PER_S = (200.0, 2_000.0)
CLIMB_DEG = 30.0
SIGMA_M = (50.0, 2_000.0)
SIGMA_M_PER_S = (5.0, 50.0)
NATIONS = ("USA", "JPN", "AUS")
LOOPBACK = "127.0.0.1"
RCVBUF_BYTES = 4 * 1024 * 1024
QUIET_S = 0.3  # a receiver is drained when nothing has arrived for this long
UDP_BLOCK_BYTES = 1_472
BUDGET_MS = 1_000.0  # 1 Hz


# --- The picture ---------------------------------------------------------------------------------


def make_picture(n: int, seed: int = SEED) -> pd.DataFrame:
    """N synthetic system tracks with the columns of PICTURE_SCHEMA (module docstring)."""
    rng = np.random.default_rng([seed, n])
    category = rng.choice(np.array(CATEGORIES, dtype=object), size=n, p=CATEGORY_SHARE)
    lat_deg, lon_deg = rng.uniform(*LAT_DEG, n), rng.uniform(*LON_DEG, n)
    alt_m = np.empty(n)
    for name, (lo, hi) in ALTITUDE_M.items():
        mask = category == name
        alt_m[mask] = rng.uniform(lo, hi, int(mask.sum()))
    pos_m = frames.geodetic_to_ecef(lat_deg * DEG, lon_deg * DEG, alt_m).reshape(n, 3)
    speed = rng.uniform(*SPEED_M_PER_S, n)
    heading, climb = rng.uniform(0.0, 2 * np.pi, n), rng.uniform(-CLIMB_DEG, CLIMB_DEG, n) * DEG
    v_enu = speed[:, None] * np.column_stack(
        [np.cos(climb) * np.sin(heading), np.cos(climb) * np.cos(heading), np.sin(climb)]
    )
    rot = frames.enu_rotation(lat_deg * DEG, lon_deg * DEG)  # (N, 3, 3), rows e, n, u
    v_ecef = np.einsum("nji,nj->ni", rot, v_enu)  # v_ecef = Rᵀ v_enu
    members = rng.random((n, len(NATIONS))) < 0.5
    members[~members.any(axis=1), 0] = True
    pedigree = np.array(["+".join(np.array(NATIONS)[m]) for m in members], dtype=object)
    reporter = np.array([NATIONS[int(rng.choice(np.flatnonzero(m)))] for m in members], dtype=object)
    track_id = rng.choice(2**40, size=n, replace=False).astype(np.int64) + 1
    sigma = rng.uniform(*SIGMA_M, (n, 3))
    sigma_v = rng.uniform(*SIGMA_M_PER_S, (n, 3))
    df = pd.DataFrame(
        {
            "time_s": np.full(n, STEP_TIME_S),
            "track_id": track_id,
            "status": np.full(n, "confirmed", dtype=object),
            "x_m": pos_m[:, 0],
            "y_m": pos_m[:, 1],
            "z_m": pos_m[:, 2],
            "vx_m_per_s": v_ecef[:, 0],
            "vy_m_per_s": v_ecef[:, 1],
            "vz_m_per_s": v_ecef[:, 2],
            "lat_deg": lat_deg,
            "lon_deg": lon_deg,
            "alt_m": alt_m,
            "sigma_x_m": sigma[:, 0],
            "sigma_y_m": sigma[:, 1],
            "sigma_z_m": sigma[:, 2],
            "sigma_vx_m_per_s": sigma_v[:, 0],
            "sigma_vy_m_per_s": sigma_v[:, 1],
            "sigma_vz_m_per_s": sigma_v[:, 2],
            "quality": rng.integers(0, 16, n).astype(np.int8),
            "category": category,
            "pedigree": pedigree,
            "n_sources": members.sum(axis=1).astype(np.int64),
            "reporter": reporter,
        }
    )
    if list(df.columns) != PICTURE_SCHEMA.names:
        raise RuntimeError(
            f"picture columns {list(df.columns)} differ from PICTURE_SCHEMA {PICTURE_SCHEMA.names}"
        )
    return df


# --- Timing --------------------------------------------------------------------------------------


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Best wall time (s) of `repeats` calls, and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def encoders(picture: pd.DataFrame, repeats: int) -> tuple[list[dict[str, Any]], dict[str, list[bytes]]]:
    """Time each encoder on `picture`; rows of the encode table and the encoded messages."""
    n = len(picture)
    cases: list[tuple[str, Callable[[], list[bytes]]]] = [
        ("CoT XML (`cot_events`)", lambda: cot_events(picture, EPOCH_UTC)),
    ]
    events = cot_events(picture, EPOCH_UTC)
    cases += [
        ("TAK v1 (`encode_tak_v1` × events)", lambda: [encode_tak_v1(e) for e in events]),
        ("DIS ESPDU (`entity_state_pdus`)", lambda: entity_state_pdus(picture, EPOCH_UTC)),
        (
            "ASTERIX CAT062, 64 KiB blocks",
            lambda: cat062_blocks(picture, EPOCH_UTC, sac=1, sic=1, track_numbers=TrackNumbers()),
        ),
        (
            "ASTERIX CAT062, 1,472 B blocks (UDP)",
            lambda: cat062_blocks(
                picture,
                EPOCH_UTC,
                sac=1,
                sic=1,
                track_numbers=TrackNumbers(),
                max_block_bytes=UDP_BLOCK_BYTES,
            ),
        ),
    ]
    rows, out = [], {}
    for name, fn in cases:
        seconds, messages = best_of(fn, repeats)
        out[name] = messages
        rows.append(
            {
                "tracks": n,
                "format": name,
                "ms_per_picture": seconds * 1e3,
                "tracks_per_s": n / seconds,
                "messages": len(messages),
                "bytes": sum(len(m) for m in messages),
            }
        )
    return rows, out


def decoders(messages: dict[str, list[bytes]], n: int, repeats: int) -> list[dict[str, Any]]:
    events = messages["CoT XML (`cot_events`)"]
    pdus = messages["DIS ESPDU (`entity_state_pdus`)"]
    blocks = messages["ASTERIX CAT062, 1,472 B blocks (UDP)"]
    cases: list[tuple[str, Callable[[], int]]] = [
        ("`parse_cot`", lambda: len([parse_cot(e) for e in events])),
        ("`parse_entity_state`", lambda: len([parse_entity_state(p) for p in pdus])),
        ("`parse_cat062` (1,472 B blocks)", lambda: sum(len(parse_cat062(b)) for b in blocks)),
    ]
    rows = []
    for name, fn in cases:
        seconds, records = best_of(fn, repeats)
        if records != n:
            raise RuntimeError(f"{name} decoded {records} records of {n}")
        rows.append({"tracks": n, "decoder": name, "ms": seconds * 1e3, "records_per_s": records / seconds})
    return rows


# --- Send path -----------------------------------------------------------------------------------


class Receiver:
    """A UDP socket on 127.0.0.1 drained by its own thread; counts datagrams."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.rcvbuf_bytes = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.count = 0
        self.last_s = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        buf = bytearray(65_536)
        while not self._stop.is_set():
            try:
                self.sock.recv_into(buf)
            except TimeoutError:
                continue
            self.count += 1
            self.last_s = time.perf_counter()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def wait_quiet(receivers: list[Receiver], started_s: float) -> None:
    while True:
        time.sleep(0.05)
        last = max([started_s, *(r.last_s for r in receivers)])
        if time.perf_counter() - last > QUIET_S:
            return


def send_path(picture: pd.DataFrame, repeats: int) -> dict[str, Any]:
    """`PictureOutputs.send` to three loopback receivers: best time, datagrams sent and received."""
    receivers = {fmt: Receiver() for fmt in ("cot", "dis", "asterix")}
    outputs = [parse_output(fmt, f"udp://{LOOPBACK}:{r.port}") for fmt, r in receivers.items()]
    times, sent, received = [], {f: 0 for f in receivers}, {f: 0 for f in receivers}
    with PictureOutputs(outputs, EPOCH_UTC) as po:
        for _ in range(repeats):
            before_sent = {fmt: po.sent[str(out)] for fmt, out in zip(receivers, outputs, strict=True)}
            before_recv = {fmt: r.count for fmt, r in receivers.items()}
            t0 = time.perf_counter()
            po.send(picture)
            times.append(time.perf_counter() - t0)
            wait_quiet(list(receivers.values()), time.perf_counter())
            for fmt, out in zip(receivers, outputs, strict=True):
                sent[fmt] += po.sent[str(out)] - before_sent[fmt]
                received[fmt] += receivers[fmt].count - before_recv[fmt]
        failed = sum(po.failed.values())
    rcvbuf = min(r.rcvbuf_bytes for r in receivers.values())
    for r in receivers.values():
        r.close()
    n = len(picture)
    best = min(times)
    return {
        "tracks": n,
        "ms_best": best * 1e3,
        "ms_median": float(np.median(times)) * 1e3,
        "tracks_per_s": n / best,
        "sent": sent,
        "received": received,
        "failed_sends": failed,
        "rcvbuf_bytes": rcvbuf,
    }


# --- Report --------------------------------------------------------------------------------------


def encode_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| tracks | encoder | ms per picture | tracks/s | messages | bytes |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['tracks']:,} | {r['format']} | {r['ms_per_picture']:.2f} | {r['tracks_per_s']:,.0f} "
            f"| {r['messages']:,} | {r['bytes']:,} |"
        )
    return "\n".join(lines)


def decode_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| tracks | decoder | ms for all | records/s |", "| ---: | --- | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['tracks']:,} | {r['decoder']} | {r['ms']:.2f} | {r['records_per_s']:,.0f} |")
    return "\n".join(lines)


def send_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| tracks | send ms, best / median | tracks/s (all 3 formats) | CoT datagrams received / sent "
        "| DIS received / sent | ASTERIX received / sent | failed sends |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        cells = [f"{r['received'][f]:,} / {r['sent'][f]:,}" for f in ("cot", "dis", "asterix")]
        lines.append(
            f"| {r['tracks']:,} | {r['ms_best']:.1f} / {r['ms_median']:.1f} | {r['tracks_per_s']:,.0f} "
            f"| {' | '.join(cells)} | {r['failed_sends']} |"
        )
    return "\n".join(lines)


def budget_markdown(encode_rows: list[dict[str, Any]], send_rows: list[dict[str, Any]]) -> str:
    n = max(r["tracks"] for r in encode_rows)
    ms = {r["format"]: r["ms_per_picture"] for r in encode_rows if r["tracks"] == n}
    enc = (
        ms["CoT XML (`cot_events`)"]
        + ms["DIS ESPDU (`entity_state_pdus`)"]
        + ms["ASTERIX CAT062, 1,472 B blocks (UDP)"]
    )
    tak = ms["TAK v1 (`encode_tak_v1` × events)"]
    send = next(r["ms_best"] for r in send_rows if r["tracks"] == n)
    lines = [
        f"| {n:,}-track picture at 1 Hz | ms | fits in 1 s? | margin ms |",
        "| --- | ---: | --- | ---: |",
    ]
    for name, value in (
        ("encode CoT XML + DIS + CAT062 (UDP blocks)", enc),
        ("the same + TAK v1 framing of every event", enc + tak),
        ("`PictureOutputs.send`, all three over UDP (encode + sendto)", send),
    ):
        ok = "yes" if value < BUDGET_MS else "**no**"
        lines.append(f"| {name} | {value:.1f} | {ok} | {BUDGET_MS - value:,.0f} |")
    return "\n".join(lines)


def single_thread() -> None:
    """Re-execute with one BLAS/OpenMP thread unless that is already set."""
    if all(os.environ.get(v) == "1" for v in THREAD_VARS):
        return
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", default="100,1000,10000", help="picture sizes N, comma-separated")
    parser.add_argument("--repeats", type=int, default=5, help="best of this many per cell")
    parser.add_argument("--parts", default="encode,decode,send", help="comma-separated: encode, decode, send")
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 tracks, best of 2 (~5 s)")
    parser.add_argument("--out", default="", help="write PREFIX.json and PREFIX.md")
    args = parser.parse_args()
    single_thread()
    sizes = [int(v) for v in args.tracks.split(",")]
    if args.quick:
        sizes, args.repeats = [s for s in sizes if s <= 1_000] or [100], min(args.repeats, 2)
    parts = set(args.parts.split(","))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, pandas {pd.__version__}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
        f"load average {os.getloadavg()[0]:.2f}; best of {args.repeats}"
    )
    warm = make_picture(50, seed=SEED + 1)
    encoders(warm, 1)  # imports (takproto), first calls
    started = time.perf_counter()
    encode_rows: list[dict[str, Any]] = []
    decode_rows: list[dict[str, Any]] = []
    send_rows: list[dict[str, Any]] = []
    for n in sizes:
        picture = make_picture(n)
        print(f"{n:,} tracks", file=sys.stderr, flush=True)
        rows, messages = encoders(picture, args.repeats)
        if "encode" in parts:
            encode_rows += rows
            print(encode_markdown(rows), flush=True)
        if "decode" in parts:
            rows = decoders(messages, n, args.repeats)
            decode_rows += rows
            print(decode_markdown(rows), flush=True)
        if "send" in parts:
            row = send_path(picture, args.repeats)
            send_rows.append(row)
            print(send_markdown([row]), flush=True)
    sections = []
    if encode_rows:
        sections.append(encode_markdown(encode_rows))
    if decode_rows:
        sections.append(decode_markdown(decode_rows))
    if send_rows:
        sections.append(send_markdown(send_rows))
        sections.append(f"receive buffer per socket: {send_rows[0]['rcvbuf_bytes']:,} bytes (kernel value)")
    if encode_rows and send_rows:
        sections.append(budget_markdown(encode_rows, send_rows))
    report = "\n\n".join(sections)
    elapsed_s = time.perf_counter() - started
    print(f"\nall cells ({elapsed_s:.0f} s in all, load average {os.getloadavg()[0]:.2f}):\n")
    print(report)
    if args.out:
        prefix = Path(args.out)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        prefix.with_suffix(".md").write_text(report + "\n")
        dump = {"argv": sys.argv, "encode": encode_rows, "decode": decode_rows, "send": send_rows}
        prefix.with_suffix(".json").write_text(json.dumps(dump, indent=1))


if __name__ == "__main__":
    main()
