"""Picture outputs: a node's system tracks sent each step as CoT, DIS or ASTERIX.

``kizuna run`` and ``kizuna node`` take ``--cot tcp://HOST:PORT`` or ``--cot udp://HOST:PORT``,
``--dis udp://HOST:PORT`` and ``--asterix udp://HOST:PORT``. `PictureOutputs` opens the senders
once and sends every picture it is given in each enabled format. A destination that fails (a TAK
server that goes away, an unreachable port) is counted and logged once; the node carries on.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from kizuna.interop.asterix import AsterixSender, TrackNumbers
from kizuna.interop.cot import CotTcpClient, cot_events, send_udp
from kizuna.interop.dis import DisSender, entity_state_pdus

__all__ = ["OutputError", "PictureOutputs", "parse_output"]

_log = logging.getLogger("kizuna.interop")

_URL = re.compile(
    r"^(?P<scheme>tcp|udp)://(?P<host>[A-Za-z0-9_.:-]+|\[[0-9A-Fa-f:]+\]):(?P<port>[0-9]{1,5})$"
)
_SCHEMES = {"cot": ("tcp", "udp"), "dis": ("udp",), "asterix": ("udp",)}


class OutputError(ValueError):
    """An output that cannot be used: a malformed URL, a scheme the format does not speak, a TCP
    server that refuses the connection."""


@dataclass(frozen=True)
class Output:
    fmt: str
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"--{self.fmt} {self.scheme}://{self.host}:{self.port}"


def parse_output(fmt: str, url: str) -> Output:
    """``fmt`` (cot, dis, asterix) to ``url``; `OutputError` naming what is wrong."""
    if fmt not in _SCHEMES:
        raise OutputError(f"unknown output format {fmt!r} (formats: {sorted(_SCHEMES)})")
    m = _URL.match(url)
    if m is None:
        raise OutputError(f"--{fmt} {url!r}: expected tcp://HOST:PORT or udp://HOST:PORT")
    port = int(m["port"])
    if not 0 < port < 65536:
        raise OutputError(f"--{fmt} {url!r}: port must be 1–65535")
    if m["scheme"] not in _SCHEMES[fmt]:
        raise OutputError(f"--{fmt} {url!r}: {fmt} goes over {' or '.join(_SCHEMES[fmt])} only")
    return Output(fmt, m["scheme"], m["host"].strip("[]"), port)


@dataclass
class PictureOutputs:
    """Senders for ``outputs``; `send` each picture (rows of ``picture_<NATION>``) at each step.
    ``sac``/``sic`` identify this node in ASTERIX."""

    outputs: list[Output]
    epoch_utc: datetime
    sac: int = 1
    sic: int = 1
    sent: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._senders: dict[Output, Any] = {}
        self._numbers = TrackNumbers()
        self._warned: set[Output] = set()

    def open(self) -> PictureOutputs:
        """Open every sender; `OutputError` if a TCP destination refuses."""
        for out in self.outputs:
            if out.fmt == "cot" and out.scheme == "tcp":
                try:
                    self._senders[out] = CotTcpClient(out.host, out.port)
                except (OSError, ValueError) as exc:
                    raise OutputError(f"{out}: {exc}") from None
            elif out.fmt == "dis":
                self._senders[out] = DisSender(out.host, out.port)
            elif out.fmt == "asterix":
                self._senders[out] = AsterixSender(out.host, out.port)
        return self

    def send(self, picture: pd.DataFrame) -> None:
        """Send one step's picture in every format; failures are counted, logged once per output."""
        if len(picture) == 0:
            return
        for out in self.outputs:
            try:
                n = self._send(out, picture)
            except (OSError, ValueError) as exc:
                self.failed[str(out)] += 1
                level = logging.DEBUG if out in self._warned else logging.WARNING
                self._warned.add(out)
                _log.log(level, "%s: could not send the picture (%s); carrying on", out, exc)
                continue
            self.sent[str(out)] += n

    def _send(self, out: Output, picture: pd.DataFrame) -> int:
        if out.fmt == "cot":
            events = cot_events(picture, self.epoch_utc)
            if out.scheme == "udp":
                return send_udp(events, out.host, out.port)
            self._senders[out].send(events)
            return len(events)
        if out.fmt == "dis":
            return self._senders[out].send(entity_state_pdus(picture, self.epoch_utc))
        self._numbers.retain_only(picture["track_id"].to_numpy())
        return self._senders[out].send_picture(
            picture, self.epoch_utc, sac=self.sac, sic=self.sic, track_numbers=self._numbers
        )

    def close(self) -> None:
        for sender in self._senders.values():
            sender.close()
        self._senders.clear()

    def __enter__(self) -> PictureOutputs:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
