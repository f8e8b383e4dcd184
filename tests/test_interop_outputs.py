"""kizuna run --cot/--dis/--asterix: each step's picture reaches UDP receivers, and third-party
decoders (takproto, opendis, asterix-decoder) read what arrives as the recorded picture."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import asterix
import numpy as np
import pandas as pd
import pytest
import takproto
from opendis.PduFactory import createPdu
from test_simulation import loaded, small_scenario
from typer.testing import CliRunner

from kizuna.cli import app
from kizuna.interop.outputs import OutputError, PictureOutputs, parse_output
from kizuna.simulation import run


class Receiver:
    """A UDP socket on 127.0.0.1 drained by a thread while the run sends."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.packets: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                self.packets.append(self.sock.recv(65535))
            except TimeoutError:
                continue

    def close(self) -> list[bytes]:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        return self.packets


def test_each_step_reaches_the_receivers_and_peers_decode_it(tmp_path: Path) -> None:
    cot, dis, ast = Receiver(), Receiver(), Receiver()
    try:
        scenario = loaded(small_scenario(tmp_path, duration_s=60.0, civil_count=60))
        wanted = [parse_output("cot", f"udp://127.0.0.1:{cot.port}"), parse_output("dis", f"udp://127.0.0.1:{dis.port}"),
                  parse_output("asterix", f"udp://127.0.0.1:{ast.port}")]  # fmt: skip
        with PictureOutputs(wanted, scenario.scenario.epoch) as outputs:
            run(scenario, tmp_path / "run", outputs=outputs, output_nation="JPN")
            sent = dict(outputs.sent)
    finally:
        cot_packets, dis_packets, ast_packets = cot.close(), dis.close(), ast.close()
    picture = pd.read_parquet(tmp_path / "run" / "picture_JPN.parquet")
    assert len(picture) > 50
    # CoT: one event per picture row, every one parsed by takproto
    assert len(cot_packets) == len(picture) == sent[str(wanted[0])]
    uids = set()
    for packet in cot_packets:
        msg = takproto.parse_proto(packet)
        assert msg is not None
        uids.add(msg.cotEvent.uid)
    assert uids == {f"kizuna-{n}" for n in picture["track_id"].unique()}
    # DIS: one PDU per row, read by opendis; the last step's locations are the picture's ECEF
    assert len(dis_packets) == len(picture)
    last = picture[picture["time_s"] == picture["time_s"].max()]
    pdus = [createPdu(p) for p in dis_packets[-len(last) :]]
    got = np.array([[p.entityLocation.x, p.entityLocation.y, p.entityLocation.z] for p in pdus])
    np.testing.assert_allclose(got, last[["x_m", "y_m", "z_m"]].to_numpy(), rtol=0, atol=1e-6)
    # ASTERIX: every record decoded by asterix-decoder, one per row, positions within resolution
    records = [r for p in ast_packets for r in asterix.parse(p)]
    assert len(records) == len(picture)
    lat = np.array([r["I105"]["Lat"]["val"] for r in records])
    np.testing.assert_allclose(lat, picture["lat_deg"].to_numpy(), atol=180 / 2**25)


def test_bad_outputs_are_one_line() -> None:
    with pytest.raises(OutputError, match="udp only"):
        parse_output("dis", "tcp://127.0.0.1:3000")
    with pytest.raises(OutputError, match="expected tcp://HOST:PORT"):
        parse_output("cot", "127.0.0.1:3000")
    runner = CliRunner()
    example = Path(__file__).resolve().parents[1] / "examples" / "indo-pacific.toml"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens here once closed
    result = runner.invoke(app, ["run", str(example), "--cot", f"tcp://127.0.0.1:{port}", "--out", "/tmp/x"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"127.0.0.1:{port}" in " ".join(result.output.split())
