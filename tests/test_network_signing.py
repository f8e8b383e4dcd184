"""Signed messages (kizuna/network/signing.py): what a genuine partner seals opens exactly once;
everything else — forged, tampered, replayed, unsigned, from an unknown or mismatched sender, not
released to us, stale or from the future, or plain garbage — is refused with exactly the documented
reason, counted, logged and written to the audit file, and `Verifier.open` never raises.

Keys come from `keys_from_seed` (deterministic, simulation-only) so that every run is the same;
the attacker's key comes from another seed.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.network.messages import Envelope, Message, Tracks, decode_envelope, encode, pack_tracks
from kizuna.network.signing import (
    REJECTION_REASONS,
    AuditLog,
    KeyFileError,
    Opened,
    Sealer,
    Verifier,
    generate_keys,
    keys_from_seed,
    load_signing_key,
    load_verify_key,
)

NATIONS = ("USA", "JPN", "AUS")
SIGNING, VERIFY = keys_from_seed(7, NATIONS)
ATTACKER, ATTACKER_VERIFY = keys_from_seed(666, NATIONS)
T_VALID_S = 100.0
T_SENT_S = 100.5
T_NOW_S = 101.0


def make_tracks(n: int = 5, time_s: float = T_VALID_S) -> Tracks:
    rng = np.random.default_rng(n)
    return Tracks(
        time_s=time_s,
        nations=NATIONS,
        track_id=np.arange(n, dtype=np.int64),
        system_number=np.arange(n, dtype=np.int64) + 4000,
        x=rng.normal(size=(n, 6)) * 1e6,
        P=np.broadcast_to(np.diag([900.0, 900.0, 900.0, 4.0, 4.0, 4.0]), (n, 6, 6)).copy(),
        quality=np.full(n, 9, dtype=np.uint8),
        category=np.zeros(n, dtype=np.uint8),
        pedigree=np.tile(np.array([0, 1, 8], dtype=np.uint8), (n, 1)),
    )


PAYLOAD = pack_tracks(make_tracks())


def seal(
    sender: str = "JPN",
    key: object = None,
    *,
    seq: int = 1,
    release: tuple[str, ...] = ("USA", "AUS"),
    sent_time_s: float = T_SENT_S,
) -> bytes:
    sealer = Sealer(sender, key if key is not None else SIGNING[sender], first_seq=seq)
    return sealer.seal(T_VALID_S, sent_time_s, list(release), PAYLOAD)


def resign(body: bytes, envelope_sender: str = "JPN", key_of: str = "JPN") -> bytes:
    """An envelope around ``body`` correctly signed with ``key_of``'s key."""
    return encode(Envelope(envelope_sender, body, SIGNING[key_of].sign(body).signature))


def with_envelope(data: bytes, **changes: object) -> bytes:
    return encode(msgspec.structs.replace(decode_envelope(data), **changes))


def flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def read_audit(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "USA.jsonl"


# --- Acceptance ------------------------------------------------------------------------------------


def test_genuine_message_opens_with_its_tracks() -> None:
    verifier = Verifier("USA", VERIFY)
    opened = verifier.open(seal(), T_NOW_S)
    assert isinstance(opened, Opened)
    message = opened.message
    assert (message.sender, message.seq, message.kind) == ("JPN", 1, "tracks")
    assert (message.valid_time_s, message.sent_time_s, message.release) == (
        T_VALID_S,
        T_SENT_S,
        ["USA", "AUS"],
    )
    assert message.payload == PAYLOAD
    np.testing.assert_array_equal(opened.tracks.x, make_tracks().x)
    assert verifier.accepted == {"JPN": 1} and not verifier.rejected


def test_sealer_numbers_messages_and_its_counter_can_be_restored() -> None:
    sealer = Sealer("JPN", SIGNING["JPN"])
    seqs = [
        msgspec.msgpack.decode(
            decode_envelope(
                sealer.seal(1.0 * i, 1.0 * i, ["USA"], pack_tracks(make_tracks(time_s=1.0 * i)))
            ).body,
            type=Message,
        ).seq
        for i in range(3)
    ]
    assert seqs == [1, 2, 3] and sealer.next_seq == 4
    sealer.next_seq = 41
    assert sealer.next_seq == 41
    with pytest.raises(ValueError, match="next_seq must be an int ≥ 1"):
        sealer.next_seq = 0
    with pytest.raises(ValueError, match="differs from the payload's time_s"):
        sealer.seal(T_VALID_S + 1.0, T_SENT_S, ["USA"], PAYLOAD)
    with pytest.raises(ValueError, match="not a nation code"):
        Sealer("Japan", SIGNING["JPN"])


@pytest.mark.parametrize(("sent_time_s", "now_s"), [(40.0, 100.0), (105.0, 100.0)])
def test_age_limits_are_inclusive(sent_time_s: float, now_s: float) -> None:
    """Exactly max_age_s old, or exactly max_future_s ahead, is still accepted."""
    assert Verifier("USA", VERIFY).open(seal(sent_time_s=sent_time_s), now_s) is not None


# --- Rejections -----------------------------------------------------------------------------------


def _bad_body() -> bytes:
    message = msgspec.msgpack.decode(decode_envelope(seal()).body, type=Message)
    bad_payload = msgspec.structs.replace(PAYLOAD, x=PAYLOAD.x[:-8])
    return encode(msgspec.structs.replace(message, payload=bad_payload))


def _body_sender(sender: str) -> bytes:
    message = msgspec.msgpack.decode(decode_envelope(seal()).body, type=Message)
    return encode(msgspec.structs.replace(message, sender=sender))


def _flip_in_wire_body() -> bytes:
    """One bit flipped inside the body as it lies in the envelope bytes, not re-encoded."""
    data = seal()
    start = data.index(decode_envelope(data).body)
    return flip(data, start + 300)


REJECTIONS: dict[str, tuple[Callable[[], bytes], str, str]] = {
    # case: (make the bytes, sender counted, reason)
    "garbage": (lambda: b"\x00garbage", "?", "malformed"),
    "empty": (lambda: b"", "?", "malformed"),
    "truncated": (lambda: seal()[:-10], "?", "malformed"),
    "unsigned": (lambda: with_envelope(seal(), signature=b""), "JPN", "unsigned"),
    "unknown sender": (lambda: seal("KOR", SIGNING["JPN"]), "KOR", "unknown-sender"),
    "unknown non-code sender": (lambda: with_envelope(seal(), sender="evil\n" * 50), "?", "unknown-sender"),
    "forged with attacker key": (lambda: seal("JPN", ATTACKER["JPN"]), "JPN", "bad-signature"),
    "signed by another partner": (lambda: seal("JPN", SIGNING["AUS"]), "JPN", "bad-signature"),
    "tampered body": (
        lambda: with_envelope(seal(), body=flip(decode_envelope(seal()).body, 1000)),
        "JPN",
        "bad-signature",
    ),
    "tampered body on the wire": (_flip_in_wire_body, "JPN", "bad-signature"),
    "tampered signature": (lambda: flip(seal(), len(seal()) - 5), "JPN", "bad-signature"),
    "short signature": (
        lambda: with_envelope(seal(), signature=decode_envelope(seal()).signature[:63]),
        "JPN",
        "bad-signature",
    ),
    "body not a Message": (lambda: resign(b"\x93\x01\x02\x03"), "JPN", "malformed-body"),
    "payload fails unpack": (lambda: resign(_bad_body()), "JPN", "malformed-body"),
    "sender mismatch": (lambda: resign(_body_sender("USA")), "JPN", "sender-mismatch"),
    "not released to me": (lambda: seal(release=("AUS",)), "JPN", "not-released"),
    "stale": (lambda: seal(sent_time_s=T_NOW_S - 60.001), "JPN", "stale"),
    "future": (lambda: seal(sent_time_s=T_NOW_S + 5.001), "JPN", "future"),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_rejected_with_exactly_the_expected_reason(case: str, audit_path: Path) -> None:
    make, sender, reason = REJECTIONS[case]
    data = make()
    with AuditLog(audit_path) as audit:
        verifier = Verifier("USA", VERIFY, audit=audit)
        assert verifier.open(data, T_NOW_S) is None
        records = read_audit(audit_path)  # flushed before close
    assert verifier.rejected == {(sender, reason): 1}
    assert not verifier.accepted
    assert reason in REJECTION_REASONS
    assert len(records) == 1
    record = records[0]
    assert list(record)[:2] == ["event", "time_s"]
    assert record["event"] == "rejection" and record["time_s"] == T_NOW_S
    assert (record["sender"], record["reason"], record["n_bytes"]) == (sender, reason, len(data))
    assert isinstance(record["detail"], str) and record["detail"]


def test_receiver_holding_another_key_for_the_sender_rejects() -> None:
    verifier = Verifier("USA", {**VERIFY, "JPN": ATTACKER_VERIFY["JPN"]})
    assert verifier.open(seal(), T_NOW_S) is None
    assert verifier.rejected == {("JPN", "bad-signature"): 1}


def test_warning_once_per_sender_and_reason_then_debug(caplog: pytest.LogCaptureFixture) -> None:
    verifier = Verifier("USA", VERIFY)
    forged = seal("JPN", ATTACKER["JPN"])
    with caplog.at_level(logging.DEBUG, logger="kizuna.network.signing"):
        for _ in range(3):
            verifier.open(forged, T_NOW_S)
        verifier.open(seal("AUS", ATTACKER["AUS"]), T_NOW_S)
    assert [r.levelname for r in caplog.records] == ["WARNING", "DEBUG", "DEBUG", "WARNING"]
    assert "USA: rejected message from JPN: bad-signature: " in caplog.records[0].getMessage()
    assert all(r.name == "kizuna.network.signing" for r in caplog.records)
    assert verifier.rejected == {("JPN", "bad-signature"): 3, ("AUS", "bad-signature"): 1}


# --- Replay -----------------------------------------------------------------------------------


def test_same_bytes_twice_second_is_replayed(audit_path: Path) -> None:
    data = seal()
    with AuditLog(audit_path) as audit:
        verifier = Verifier("USA", VERIFY, audit=audit)
        assert verifier.open(data, T_NOW_S) is not None
        assert verifier.open(data, T_NOW_S) is None
    assert verifier.accepted == {"JPN": 1}
    assert verifier.rejected == {("JPN", "replayed"): 1}
    assert [r["reason"] for r in read_audit(audit_path)] == ["replayed"]


def test_out_of_order_within_window_accepted_once_each() -> None:
    sealer = Sealer("JPN", SIGNING["JPN"])
    messages = [sealer.seal(T_VALID_S, T_SENT_S, ["USA"], PAYLOAD) for _ in range(6)]  # seq 1..6
    verifier = Verifier("USA", VERIFY, replay_window=8)
    order = [4, 2, 5, 0, 3, 1]
    assert all(verifier.open(messages[i], T_NOW_S) is not None for i in order)
    assert all(verifier.open(messages[i], T_NOW_S) is None for i in order)
    assert verifier.accepted == {"JPN": 6} and verifier.rejected == {("JPN", "replayed"): 6}


def test_seq_older_than_the_window_is_replayed() -> None:
    window = 8
    verifier = Verifier("USA", VERIFY, replay_window=window)
    late = {seq: seal(seq=seq) for seq in (1, 12, 13)}
    assert verifier.open(late[1], T_NOW_S) is not None
    assert verifier.open(seal(seq=20), T_NOW_S) is not None  # the window now covers 13..20
    assert verifier.open(late[12], T_NOW_S) is None  # never seen, but 20 − 12 = window: too old
    assert verifier.open(late[13], T_NOW_S) is not None  # never seen, inside the window
    assert verifier.open(late[1], T_NOW_S) is None
    assert verifier.rejected == {("JPN", "replayed"): 2}


def test_huge_sequence_jump_slides_the_whole_window() -> None:
    verifier = Verifier("USA", VERIFY, replay_window=8)
    assert verifier.open(seal(seq=3), T_NOW_S) is not None
    assert verifier.open(seal(seq=2**63 - 1), T_NOW_S) is not None
    assert verifier.open(seal(seq=2**63 - 2), T_NOW_S) is not None
    assert verifier.open(seal(seq=4), T_NOW_S) is None
    assert verifier.state()["senders"]["JPN"] == {"highest_seq": 2**63 - 1, "accepted_bitmap_hex": "3"}


def test_rejected_copy_does_not_spend_the_sequence_number() -> None:
    """A tampered or stale copy arriving first must not make the genuine message a 'replay'."""
    genuine = seal(seq=5)
    verifier = Verifier("USA", VERIFY)
    assert verifier.open(flip(genuine, len(genuine) - 5), T_NOW_S) is None
    assert verifier.open(genuine, T_NOW_S + 1000.0) is None  # stale
    assert verifier.open(genuine, T_NOW_S) is not None


def test_senders_have_separate_windows() -> None:
    verifier = Verifier("USA", VERIFY)
    assert verifier.open(seal("JPN", seq=1), T_NOW_S) is not None
    assert verifier.open(seal("AUS", seq=1, release=("USA",)), T_NOW_S) is not None


def test_restored_verifier_rejects_replays() -> None:
    sealer = Sealer("JPN", SIGNING["JPN"])
    first, second, third = (sealer.seal(T_VALID_S, T_SENT_S, ["USA"], PAYLOAD) for _ in range(3))
    verifier = Verifier("USA", VERIFY)
    assert verifier.open(second, T_NOW_S) is not None
    assert verifier.open(first, T_NOW_S) is not None
    state = json.loads(json.dumps(verifier.state()))
    assert state == verifier.state()

    restarted = Verifier("USA", VERIFY)
    restarted.restore(state)
    assert restarted.open(first, T_NOW_S) is None
    assert restarted.open(second, T_NOW_S) is None
    assert restarted.rejected == {("JPN", "replayed"): 2}
    assert restarted.open(third, T_NOW_S) is not None


def test_restore_from_a_smaller_window_refuses_what_it_cannot_know() -> None:
    small = Verifier("USA", VERIFY, replay_window=4)
    assert small.open(seal(seq=10), T_NOW_S) is not None
    large = Verifier("USA", VERIFY, replay_window=16)
    large.restore(small.state())
    assert large.open(seal(seq=9), T_NOW_S) is not None  # inside the saved window, not accepted before
    assert large.open(seal(seq=5), T_NOW_S) is None  # outside the saved window: unknown, so refused
    assert large.open(seal(seq=10), T_NOW_S) is None


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"version": 2, "replay_window": 8, "senders": {}},
        {"version": 1, "replay_window": 8, "senders": []},
        {
            "version": 1,
            "replay_window": 8,
            "senders": {"JPN": {"highest_seq": "7", "accepted_bitmap_hex": "1"}},
        },
        {
            "version": 1,
            "replay_window": 8,
            "senders": {"JPN": {"highest_seq": 7, "accepted_bitmap_hex": "xyz"}},
        },
    ],
)
def test_restore_refuses_a_broken_state(state: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="not a Verifier replay state"):
        Verifier("USA", VERIFY).restore(state)


# --- Never raises ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2000))
def test_random_bytes_never_raise(data: bytes) -> None:
    verifier = Verifier("USA", VERIFY)
    assert verifier.open(data, T_NOW_S) is None
    assert verifier.internal_errors == 0 and sum(verifier.rejected.values()) == 1


GENUINE = seal()


@settings(max_examples=200, deadline=None)
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["flip", "cut", "insert", "delete"]),
            st.integers(0, len(GENUINE)),
            st.binary(min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_mutated_envelopes_never_raise(edits: list[tuple[str, int, bytes]]) -> None:
    data = bytearray(GENUINE)
    for op, position, chunk in edits:
        position = min(position, max(len(data) - 1, 0))
        if op == "flip" and data:
            data[position] ^= chunk[0] or 0xFF
        elif op == "cut":
            del data[position:]
        elif op == "insert":
            data[position:position] = chunk
        elif op == "delete":
            del data[position : position + len(chunk)]
    verifier = Verifier("USA", VERIFY)
    opened = verifier.open(bytes(data), T_NOW_S)
    assert verifier.internal_errors == 0
    if opened is None:
        assert sum(verifier.rejected.values()) == 1
    else:  # only an edit that leaves the signed body and sender intact can pass
        assert opened.message == msgspec.msgpack.decode(decode_envelope(GENUINE).body, type=Message)


def test_non_bytes_input_never_raises() -> None:
    verifier = Verifier("USA", VERIFY)
    assert verifier.open("not bytes", T_NOW_S) is None  # type: ignore[arg-type]
    assert verifier.rejected == {("?", "malformed"): 1}


# --- Audit log ----------------------------------------------------------------------------------


def test_audit_release_records_and_null_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as audit:
        audit.release(5.0, "JPN", 12, ["USA"], 40, {"AUS": 3, "USA": 0})
        audit.rejection(float("nan"), "?", "malformed", 'quote " and newline \n', 3)
    first, second = read_audit(path)
    assert first == {
        "event": "release",
        "time_s": 5.0,
        "sender": "JPN",
        "seq": 12,
        "to": ["USA"],
        "n_tracks": 40,
        "withheld": {"AUS": 3, "USA": 0},
    }
    assert second["time_s"] is None and second["detail"] == 'quote " and newline \n'
    with AuditLog(path) as audit:  # appends
        audit.release(6.0, "JPN", 13, [], 0, {})
    assert len(read_audit(path)) == 3
    with AuditLog(path, append=False) as audit:  # starts afresh
        audit.release(6.5, "JPN", 13, [], 0, {})
    assert [r["time_s"] for r in read_audit(path)] == [6.5]
    audit.release(7.0, "JPN", 14, [], 0, {})  # closed: counted, not raised
    assert audit.write_errors == 1 and len(read_audit(path)) == 1

    null = AuditLog(None)
    null.rejection(1.0, "JPN", "stale", "x", 10)
    null.close()
    assert null.write_errors == 0


# --- Keys ---------------------------------------------------------------------------------------


def test_generated_key_files_load_and_sign(tmp_path: Path) -> None:
    paths = generate_keys(tmp_path / "keys", ["USA", "JPN"])
    assert sorted(paths) == ["JPN", "USA"]
    for nation, key_path in paths.items():
        assert key_path == tmp_path / "keys" / f"{nation}.key"
        assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
        assert len(key_path.read_text().strip()) == 64
    verify_keys = {n: load_verify_key(p.with_suffix(".pub")) for n, p in paths.items()}
    sealer = Sealer("JPN", load_signing_key(paths["JPN"]))
    verifier = Verifier("USA", verify_keys)
    assert verifier.open(sealer.seal(T_VALID_S, T_SENT_S, ["USA"], PAYLOAD), T_NOW_S) is not None
    with pytest.raises(KeyFileError, match=r"USA\.key: already exists"):
        generate_keys(tmp_path / "keys", ["USA"])
    generate_keys(tmp_path / "keys", ["USA"], overwrite=True)
    assert load_signing_key(paths["USA"]).verify_key != verify_keys["USA"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "key file not found"),
        (b"", "expected 64 hex characters .* found 0"),
        (b"ab" * 31 + b"\n", "expected 64 hex characters .* found 62"),
        (b"ab" * 33, "found 66"),
        (b"zz" * 32, "found other characters"),
        (b"\xff" * 64, "non-ASCII"),
    ],
    ids=["missing", "empty", "short", "long", "non-hex", "binary"],
)
def test_bad_key_files_raise_key_file_error_naming_the_file(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    for loader, name in ((load_signing_key, "JPN.key"), (load_verify_key, "JPN.pub")):
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(KeyFileError, match=expected) as info:
            loader(path)
        message = str(info.value)
        assert message.startswith(str(path)) and "\n" not in message


def test_unreadable_and_misplaced_key_files(tmp_path: Path) -> None:
    (tmp_path / "dir.key").mkdir()
    with pytest.raises(KeyFileError, match=r"dir\.key: cannot read key file"):
        load_signing_key(tmp_path / "dir.key")
    generate_keys(tmp_path, ["JPN"])
    with pytest.raises(KeyFileError, match=r"JPN\.pub: is a public key"):
        load_signing_key(tmp_path / "JPN.pub")


def test_group_readable_private_key_loads_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_path = generate_keys(tmp_path, ["JPN"])["JPN"]
    key_path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="kizuna.network.signing"):
        load_signing_key(key_path)
    assert "chmod 600" in caplog.text


def test_simulation_keys_are_deterministic_and_distinct() -> None:
    signing, verify = keys_from_seed(7, NATIONS)
    assert [bytes(k) for k in signing.values()] == [bytes(k) for k in SIGNING.values()]
    assert verify == {n: k.verify_key for n, k in signing.items()}
    all_keys = {bytes(k) for k in signing.values()} | {
        bytes(k) for k in keys_from_seed(8, NATIONS)[0].values()
    }
    assert len(all_keys) == 2 * len(NATIONS)
