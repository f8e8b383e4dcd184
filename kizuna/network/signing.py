"""Ed25519 keys, sealing and opening signed messages, the replay window and the audit log.

**Sealing.** `Sealer.seal` wraps a `TrackBatch` in a `Message` with the sender's next sequence
number, encodes it (MessagePack), signs the body bytes with the sender's Ed25519 key (RFC 8032,
via PyNaCl/libsodium) and returns the encoded `Envelope` ``[sender, body, signature]``. The
signature covers the body bytes as sent, so nothing is re-encoded before verification.

**Opening.** `Verifier.open` never raises: a message is accepted or rejected with exactly one
reason of `REJECTION_REASONS`, checked in that order (the first that applies counts):

1. ``malformed`` — not a decodable `Envelope` (or larger than `MAX_ENVELOPE_BYTES`);
2. ``unsigned`` — empty signature;
3. ``unknown-sender`` — no verify key for the envelope's sender;
4. ``bad-signature`` — the signature does not verify against the sender's key over the body
   (tampered body or signature, forged by another key, or the receiver holds a different key);
5. ``malformed-body`` — the body is not a `Message`, or it fails `check_message` (header or
   payload; the `MessageError` reason is in the detail);
6. ``sender-mismatch`` — the signed body names another sender than the envelope;
7. ``not-released`` — the receiving nation is not in the message's release list;
8. ``stale`` / ``future`` — sent more than ``max_age_s`` ago / more than ``max_future_s`` ahead of
   the receiver's clock;
9. ``replayed`` — the sequence number was already accepted, or is older than the replay window.

The signature is checked before the body is decoded, so an unauthenticated sender costs one
envelope decode and one Ed25519 verification, never a payload allocation. A rejection is counted
in ``Verifier.rejected[(sender, reason)]`` (sender ``"?"`` when none can be read, or the claimed
one is not a nation code), logged (logger ``kizuna.network.signing``: WARNING the first time per
sender and reason, DEBUG after) and written to the `AuditLog`.

**Replay window** (per sender, as IPsec's anti-replay window, RFC 4303 §3.4.3): the highest
accepted sequence number and a bitmap of the accepted ones among the ``replay_window`` numbers up
to it. A number above the highest is accepted and slides the window; one inside it is accepted once;
one below it is refused. Messages may thus arrive out of order by up to ``replay_window`` sequence
numbers. The state is only updated on acceptance, so a rejected copy never poisons a genuine one.
`Verifier.state` / `Verifier.restore` carry it across a restart (JSON-serialisable); the sender
side persists `Sealer.next_seq` for the same reason — a sender that restarts from 1 with the
receivers' state intact is refused until it passes its old numbers. Messages accepted after the
last saved state could be replayed to a restarted node, but only within ``max_age_s`` of being
sent; staleness bounds the exposure.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import msgspec
import nacl.exceptions
import nacl.signing

from kizuna.network.messages import (
    ENCODER,
    Envelope,
    Message,
    MessageError,
    TrackBatch,
    Tracks,
    check_message,
    decode_envelope,
    decode_message,
    is_nation_code,
)

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "REJECTION_REASONS",
    "AuditLog",
    "KeyFileError",
    "Opened",
    "Sealer",
    "Verifier",
    "generate_keys",
    "keys_from_seed",
    "load_signing_key",
    "load_verify_key",
]

logger = logging.getLogger("kizuna.network.signing")

SIGNATURE_BYTES = 64
KEY_BYTES = 32
MAX_ENVELOPE_BYTES = 16 * 1024 * 1024
"""Largest envelope `Verifier.open` decodes (a full batch of 20,000 tracks and 64 nations is ~6 MB)."""

REJECTION_REASONS: dict[str, str] = {
    "malformed": "not a decodable Envelope",
    "unsigned": "the envelope has no signature",
    "unknown-sender": "no verify key for the envelope's sender",
    "bad-signature": "the signature does not verify (tampered, forged or signed with another key)",
    "malformed-body": "the signed body is not a valid Message or its payload fails the checks",
    "sender-mismatch": "the signed body names another sender than the envelope",
    "not-released": "this node's nation is not in the message's release list",
    "stale": "sent longer ago than max_age_s",
    "future": "sent further ahead of this node's clock than max_future_s",
    "replayed": "sequence number already accepted, or older than the replay window",
}
"""Why `Verifier.open` refuses a message, in the order checked."""

_UNKNOWN_SENDER = "?"
_STATE_VERSION = 1


class KeyFileError(ValueError):
    """A key file that cannot be used; the message names the file and what is wrong."""


# --- Keys -----------------------------------------------------------------------------------------


def generate_keys(folder: str | Path, nations: Iterable[str], *, overwrite: bool = False) -> dict[str, Path]:
    """Fresh random key pairs: ``<NATION>.key`` (the 32-byte Ed25519 seed as 64 hex characters, mode
    0600) and ``<NATION>.pub`` (the 32-byte verify key, hex) in ``folder`` for each nation.

    Returns nation → path of its ``.key`` file (the ``.pub`` is beside it). An existing key file is
    a `KeyFileError` unless ``overwrite``: a private key is not replaced by accident.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for nation in nations:
        if not is_nation_code(nation):
            raise ValueError(f"nation {nation!r} is not a nation code (3 uppercase letters, e.g. 'JPN')")
        key_path, pub_path = folder / f"{nation}.key", folder / f"{nation}.pub"
        if not overwrite:
            for path in (key_path, pub_path):
                if path.exists():
                    raise KeyFileError(f"{path}: already exists; remove it or pass overwrite=True")
        key = nacl.signing.SigningKey.generate()
        _write_private(key_path, bytes(key).hex() + "\n")
        pub_path.write_text(bytes(key.verify_key).hex() + "\n", encoding="ascii")
        paths[nation] = key_path
    return paths


def load_signing_key(path: str | Path) -> nacl.signing.SigningKey:
    """The signing key in a ``.key`` file (64 hex characters); `KeyFileError` if unusable. A file
    readable by group or others is used, with a warning."""
    path = Path(path)
    if path.suffix == ".pub":
        raise KeyFileError(f"{path}: is a public key (.pub); a signing key (.key) is needed here")
    raw = _read_key_hex(path)
    try:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            logger.warning("%s: private key file is readable by group or others; chmod 600 it", path)
    except OSError:  # pragma: no cover - the file was just read
        pass
    return nacl.signing.SigningKey(raw)


def load_verify_key(path: str | Path) -> nacl.signing.VerifyKey:
    """The verify key in a ``.pub`` file (64 hex characters); `KeyFileError` if unusable."""
    return nacl.signing.VerifyKey(_read_key_hex(Path(path)))  # any 32 bytes make a verify key


def keys_from_seed(
    seed: int, nations: Iterable[str]
) -> tuple[dict[str, nacl.signing.SigningKey], dict[str, nacl.signing.VerifyKey]]:
    """Deterministic key pairs for a **simulated run only**: anyone who knows the scenario seed can
    derive every private key. Each nation's 32-byte Ed25519 seed is
    ``blake2b(f"kizuna-sim-key:{seed}:{nation}", digest_size=32)``. Live nodes use `generate_keys`."""
    signing: dict[str, nacl.signing.SigningKey] = {}
    for nation in nations:
        digest = hashlib.blake2b(f"kizuna-sim-key:{seed}:{nation}".encode(), digest_size=KEY_BYTES).digest()
        signing[nation] = nacl.signing.SigningKey(digest)
    return signing, {nation: key.verify_key for nation, key in signing.items()}


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file that already existed
        os.write(fd, text.encode("ascii"))
    finally:
        os.close(fd)


def _read_key_hex(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyFileError(f"{path}: key file not found") from None
    except UnicodeDecodeError:
        raise KeyFileError(
            f"{path}: not a key file: expected {2 * KEY_BYTES} hex characters, found non-ASCII bytes"
        ) from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read key file ({exc.strerror or exc})") from None
    text = text.strip()
    if len(text) != 2 * KEY_BYTES:
        raise KeyFileError(
            f"{path}: expected {2 * KEY_BYTES} hex characters (a {KEY_BYTES}-byte key), found {len(text)}"
        )
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise KeyFileError(
            f"{path}: expected {2 * KEY_BYTES} hex characters, found other characters"
        ) from None


# --- Audit log -------------------------------------------------------------------------------------


class AuditLog:
    """Security events as JSON lines, one object per event, flushed line by line (a process that
    dies loses nothing written before). ``AuditLog(None)`` records nothing. An existing file is
    appended to (a restarted live node keeps its history); ``append=False`` starts it afresh (a
    simulated run, whose outputs must not depend on an earlier run in the same folder).

    Each object has ``event`` and ``time_s`` (scenario seconds), then the event's fields. A write
    that fails (disk full, say) is logged once at ERROR and counted in ``write_errors``; it never
    raises into the node.
    """

    def __init__(self, path: str | Path | None, *, append: bool = True) -> None:
        self.path = None if path is None else Path(path)
        self.write_errors = 0
        self._file: TextIO | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a" if append else "w", encoding="utf-8")
        self._encoder = msgspec.json.Encoder()

    def rejection(self, now_s: float, sender: str, reason: str, detail: str, n_bytes: int) -> None:
        """A message refused by `Verifier.open`."""
        self._write(
            {
                "event": "rejection",
                "time_s": now_s,
                "sender": sender,
                "reason": reason,
                "detail": detail,
                "n_bytes": n_bytes,
            }
        )

    def release(
        self,
        now_s: float,
        sender: str,
        seq: int,
        to: list[str],
        n_tracks: int,
        withheld: Mapping[str, int],
    ) -> None:
        """A release decision by the sending node: message ``seq`` of ``n_tracks`` tracks released to
        ``to``; ``withheld`` maps a partner to the number of tracks held back from it."""
        self._write(
            {
                "event": "release",
                "time_s": now_s,
                "sender": sender,
                "seq": seq,
                "to": list(to),
                "n_tracks": n_tracks,
                "withheld": dict(withheld),
            }
        )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _write(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        try:
            if self._file is None:
                raise OSError("audit log is closed")
            # msgspec writes NaN/inf as null, so every line is valid JSON whatever the caller passes
            self._file.write(self._encoder.encode(record).decode() + "\n")
            self._file.flush()
        except (OSError, ValueError, TypeError, msgspec.EncodeError) as exc:
            self.write_errors += 1
            if self.write_errors == 1:
                logger.error(
                    "%s: audit record not written (%s); further failures are only counted", self.path, exc
                )


# --- Sealing -------------------------------------------------------------------------------------


class Sealer:
    """Seals a node's outgoing messages: numbers, signs and encodes them (module docstring).

    ``next_seq`` is the number the next message gets; persist it and set it back after a restart
    so that receivers do not take the new messages for replays.
    """

    def __init__(self, sender: str, signing_key: nacl.signing.SigningKey, *, first_seq: int = 1) -> None:
        if not is_nation_code(sender):
            raise ValueError(f"sender {sender!r} is not a nation code (3 uppercase letters, e.g. 'JPN')")
        self.sender = sender
        self._key = signing_key
        self.next_seq = first_seq

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @next_seq.setter
    def next_seq(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"next_seq must be an int ≥ 1, got {value!r}")
        self._next_seq = value

    def seal(
        self, valid_time_s: float, sent_time_s: float, release: Iterable[str], payload: TrackBatch
    ) -> bytes:
        """The encoded, signed `Envelope` of a ``"tracks"`` message; uses up one sequence number.

        ``valid_time_s`` must equal ``payload.time_s`` (receivers refuse a mismatch).
        """
        if valid_time_s != payload.time_s:
            raise ValueError(
                f"valid_time_s {valid_time_s} differs from the payload's time_s {payload.time_s}"
            )
        message = Message(
            sender=self.sender,
            seq=self._next_seq,
            valid_time_s=float(valid_time_s),
            sent_time_s=float(sent_time_s),
            release=list(release),
            kind="tracks",
            payload=payload,
        )
        body = ENCODER.encode(message)
        signature = self._key.sign(body).signature
        self._next_seq += 1
        return ENCODER.encode(Envelope(sender=self.sender, body=body, signature=signature))


# --- Opening -------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Opened:
    """An accepted message and its payload, already unpacked and checked by `unpack_tracks`."""

    message: Message
    tracks: Tracks


class _Rejected(Exception):
    def __init__(self, sender: str, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.sender, self.reason, self.detail = sender, reason, detail


@dataclass
class _Window:
    """Replay state of one sender: the highest accepted seq and bit i set ⇔ seq ``highest − i``
    accepted, for i < window."""

    highest: int
    bitmap: int


class Verifier:
    """Opens the messages that reach nation ``me`` (module docstring for the checks and their order).

    ``verify_keys`` maps a sender nation to its Ed25519 verify key. ``accepted`` counts accepted
    messages per sender, ``rejected`` refusals per (sender, reason). Should a check itself fail
    unexpectedly (a bug, not an input), the message is rejected as ``malformed``, the traceback
    logged at ERROR and ``internal_errors`` counted: one packet never stops the node.
    """

    def __init__(
        self,
        me: str,
        verify_keys: Mapping[str, nacl.signing.VerifyKey],
        *,
        replay_window: int = 4096,
        max_age_s: float = 60.0,
        max_future_s: float = 5.0,
        audit: AuditLog | None = None,
    ) -> None:
        if replay_window < 1:
            raise ValueError(f"replay_window must be ≥ 1, got {replay_window}")
        if not (max_age_s >= 0 and max_future_s >= 0):
            raise ValueError(f"max_age_s and max_future_s must be ≥ 0, got {max_age_s}, {max_future_s}")
        self.me = me
        self.verify_keys = dict(verify_keys)
        self.replay_window = replay_window
        self.max_age_s = max_age_s
        self.max_future_s = max_future_s
        self.audit = audit
        self.accepted: Counter[str] = Counter()
        self.rejected: Counter[tuple[str, str]] = Counter()
        self._windows: dict[str, _Window] = {}
        self._mask = (1 << replay_window) - 1
        self._warned: set[tuple[str, str]] = set()
        self.internal_errors = 0
        """Messages whose checks raised unexpectedly (a bug): rejected as malformed, logged at ERROR."""

    def open(self, data: bytes | bytearray | memoryview, now_s: float) -> Opened | None:
        """The message in ``data`` if it passes every check, else None (counted, logged, audited)."""
        try:
            opened = self._check(data, now_s)
        except _Rejected as rejection:
            self._reject(rejection, now_s, _n_bytes(data))
            return None
        except Exception as exc:  # a bug here must not stop the node (DESIGN.md Conventions)
            self.internal_errors += 1
            logger.exception("%s: unexpected error opening a message; rejected as malformed", self.me)
            detail = f"unexpected {type(exc).__name__}: {exc}"[:200]
            self._reject(_Rejected(_UNKNOWN_SENDER, "malformed", detail), now_s, _n_bytes(data))
            return None
        self._accept(opened.message)
        return opened

    # -- checks, in the documented order --

    def _check(self, data: bytes | bytearray | memoryview, now_s: float) -> Opened:
        envelope = self._decode(data)
        sender = envelope.sender if is_nation_code(envelope.sender) else _UNKNOWN_SENDER
        if not envelope.signature:
            raise _Rejected(sender, "unsigned", "empty signature")
        key = self.verify_keys.get(envelope.sender)
        if key is None:
            raise _Rejected(sender, "unknown-sender", f"no verify key for sender {_short(envelope.sender)}")
        self._verify(sender, key, envelope)
        try:
            message = decode_message(envelope.body)
            tracks = check_message(message)
        except MessageError as exc:
            raise _Rejected(sender, "malformed-body", str(exc)) from None
        if message.sender != envelope.sender:
            raise _Rejected(
                sender, "sender-mismatch", f"body sender {message.sender}, envelope sender {sender}"
            )
        if self.me not in message.release:
            raise _Rejected(sender, "not-released", f"seq {message.seq} released to {message.release}")
        age_s = now_s - message.sent_time_s
        if age_s > self.max_age_s:
            raise _Rejected(
                sender, "stale", f"seq {message.seq} sent {age_s:.3f} s ago > max_age_s {self.max_age_s}"
            )
        if -age_s > self.max_future_s:
            raise _Rejected(
                sender,
                "future",
                f"seq {message.seq} sent {-age_s:.3f} s ahead > max_future_s {self.max_future_s}",
            )
        self._check_replay(sender, message.seq)
        return Opened(message=message, tracks=tracks)

    def _decode(self, data: bytes | bytearray | memoryview) -> Envelope:
        n_bytes = _n_bytes(data)
        if n_bytes > MAX_ENVELOPE_BYTES:
            raise _Rejected(
                _UNKNOWN_SENDER, "malformed", f"{n_bytes} bytes > MAX_ENVELOPE_BYTES {MAX_ENVELOPE_BYTES}"
            )
        try:
            return decode_envelope(data)
        except MessageError as exc:
            raise _Rejected(_UNKNOWN_SENDER, "malformed", exc.detail) from None

    @staticmethod
    def _verify(sender: str, key: nacl.signing.VerifyKey, envelope: Envelope) -> None:
        if len(envelope.signature) != SIGNATURE_BYTES:
            raise _Rejected(
                sender,
                "bad-signature",
                f"signature is {len(envelope.signature)} bytes, expected {SIGNATURE_BYTES}",
            )
        try:
            key.verify(envelope.body, envelope.signature)
        except nacl.exceptions.BadSignatureError:
            raise _Rejected(sender, "bad-signature", "Ed25519 verification failed") from None

    def _check_replay(self, sender: str, seq: int) -> None:
        window = self._windows.get(sender)
        if window is None or seq > window.highest:
            return
        behind = window.highest - seq
        if behind >= self.replay_window:
            raise _Rejected(
                sender,
                "replayed",
                f"seq {seq} is older than the replay window ({window.highest} − {self.replay_window})",
            )
        if window.bitmap >> behind & 1:
            raise _Rejected(sender, "replayed", f"seq {seq} already accepted")

    # -- outcomes --

    def _accept(self, message: Message) -> None:
        sender, seq = message.sender, message.seq
        window = self._windows.get(sender)
        if window is None:
            self._windows[sender] = _Window(highest=seq, bitmap=1)
        elif seq - window.highest >= self.replay_window:  # the whole window slides past: no huge shift
            window.bitmap, window.highest = 1, seq
        elif seq > window.highest:
            window.bitmap = ((window.bitmap << (seq - window.highest)) | 1) & self._mask
            window.highest = seq
        else:
            window.bitmap |= 1 << (window.highest - seq)
        self.accepted[sender] += 1

    def _reject(self, rejection: _Rejected, now_s: float, n_bytes: int) -> None:
        key = (rejection.sender, rejection.reason)
        self.rejected[key] += 1
        if key in self._warned:
            logger.debug("%s: rejected message from %s: %s: %s", self.me, *key, rejection.detail)
        else:
            self._warned.add(key)
            logger.warning(
                "%s: rejected message from %s: %s: %s (first of this kind; further ones are logged at DEBUG "
                "and counted)",
                self.me,
                *key,
                rejection.detail,
            )
        if self.audit is not None:
            self.audit.rejection(now_s, rejection.sender, rejection.reason, rejection.detail, n_bytes)

    # -- persistence --

    def state(self) -> dict[str, Any]:
        """The replay state (JSON-serialisable): per sender the highest accepted seq and the bitmap of
        accepted seqs below it (bit i ⇔ highest − i), as hex."""
        return {
            "version": _STATE_VERSION,
            "replay_window": self.replay_window,
            "senders": {
                sender: {"highest_seq": w.highest, "accepted_bitmap_hex": format(w.bitmap, "x")}
                for sender, w in sorted(self._windows.items())
            },
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back a `state` (call before the first `open`); replaces the state of the senders it
        names. `ValueError` if it is not one. Saved with a smaller window, the seqs this window
        covers but the saved one did not are taken as accepted (refused), never as new."""
        try:
            if state["version"] != _STATE_VERSION:
                raise ValueError(f"version {state['version']!r}, expected {_STATE_VERSION}")
            saved_window = state["replay_window"]
            if isinstance(saved_window, bool) or not isinstance(saved_window, int) or saved_window < 1:
                raise ValueError(f"replay_window {saved_window!r} is not an int ≥ 1")
            windows: dict[str, _Window] = {}
            for sender, entry in state["senders"].items():
                if not is_nation_code(sender):
                    raise ValueError(f"sender {sender!r} is not a nation code")
                highest = entry["highest_seq"]
                if isinstance(highest, bool) or not isinstance(highest, int) or highest < 1:
                    raise ValueError(f"sender {sender!r}: highest_seq {highest!r} is not an int ≥ 1")
                bitmap = int(entry["accepted_bitmap_hex"], 16)
                bitmap &= (1 << min(saved_window, self.replay_window)) - 1
                if saved_window < self.replay_window:
                    bitmap |= self._mask ^ ((1 << saved_window) - 1)
                windows[sender] = _Window(highest=highest, bitmap=bitmap & self._mask)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a Verifier replay state: {exc!r}") from None
        self._windows.update(windows)


def _n_bytes(data: object) -> int:
    try:
        return memoryview(data).nbytes  # type: ignore[arg-type]
    except TypeError:
        return 0


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
