"""Belenios 2.0 public data: the ``UUID.bel`` archive of data and events (spec §4.4).

The archive is an old-style (V7) tar file, append-only, that ``belenios-tool election verify
--dir DIR`` reads from ``DIR/UUID.bel``:

- first a ``BELENIOS`` header ``{"version":1,"timestamp":"…"}``;
- then ``HASH.data.json`` files (payloads) and ``HASH.event.json`` files (a hash chain:
  ``{"parent":…,"height":…,"type":…,"payload":…}``), ``HASH`` being the hex SHA256 of the
  file's bytes;
- in the order: election, trustees, public credentials, setup data, *Setup*; each ballot,
  *Ballot*; *EndBallots*; encrypted tally, sized encrypted tally, *EncryptedTally*; each
  partial decryption, owned partial decryption, *PartialDecryption*; result, *Result*.

:func:`archive_bytes` builds it from plain values (pure); :func:`read_archive` parses one
(ours or belenios-tool's), checking every name against its content and the event chain.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ledger.errors import InputError, IntegrityError
from voting.secret.election import Election, parse_election
from voting.secret.encoding import (
    dumps,
    get_int_field,
    get_list,
    get_num,
    get_obj,
    get_str,
    hex_hash,
    loads,
)
from voting.secret.tally import (
    EncryptedTally,
    encrypted_tally_from_json,
    parse_partial_decryption,
    parse_result,
    result_to_json,
)

__all__ = [
    "PublicData",
    "archive_bytes",
    "archive_name",
    "credentials_json",
    "parse_credentials",
    "read_archive",
    "write_archive",
]

_BLOCK = 512


@dataclass(frozen=True)
class PublicData:
    """Everything a Belenios auditor needs, as plain values (spec §2, §4.4).

    ``ballots`` are the exact texts of the accepted ballots in the order they were cast
    (revotes included; the tally keeps each credential's last one). ``partial_decryptions``
    pair the owner number (from 1, §4.18) with the text of its partial decryption.
    """

    election: Election
    trustees: str
    credentials: tuple[str, ...]
    ballots: tuple[str, ...] = ()
    ballots_ended: bool = False
    tally: EncryptedTally | None = None
    partial_decryptions: tuple[tuple[int, str], ...] = ()
    result: tuple[tuple[int, ...], ...] | None = None
    timestamp: int = 0
    # Text of the tally payloads exactly as read (so a verifier checks what was published).
    tally_text: tuple[str, str] | None = field(default=None, compare=False)
    result_text: str | None = field(default=None, compare=False)


def credentials_json(
    public_credentials: Sequence[int], weights: Sequence[int] | None = None
) -> str:
    """``public_credentials`` (spec §4.8): strings, ``"cred,weight"`` when weights are used."""
    if weights is None:
        return dumps([str(c) for c in public_credentials])
    return dumps([f"{c},{w}" for c, w in zip(public_credentials, weights, strict=True)])


def parse_credentials(raw: str) -> dict[int, int]:
    """Public credential -> weight (1 unless given), from a ``public_credentials`` text."""
    out: dict[int, int] = {}
    for i, item in enumerate(get_list(loads(raw, "the public credentials"), "credentials")):
        if not isinstance(item, str):
            raise InputError(f"public credential {i} must be a string")
        cred, _, weight = item.partition(",")
        value = get_num(cred, f"public credential {i}")
        if value in out:
            raise InputError(f"public credential {i} appears twice")
        out[value] = get_num(weight, f"weight {i}") if weight else 1
    return out


def archive_name(uuid: str) -> str:
    """The archive's file name in the directory belenios-tool reads (``UUID.bel``)."""
    return f"{uuid}.bel"


def _v7_header(name: str, size: int, mtime: int) -> bytes:
    # An old-style tar header, as belenios-tool writes it (no ustar magic, typeflag '0').
    raw = bytearray(_BLOCK)
    raw[0 : len(name)] = name.encode("ascii")
    raw[100:108] = b"0000644\0"
    raw[108:116] = b"0000000\0"
    raw[116:124] = b"0000000\0"
    raw[124:136] = f"{size:011o}\0".encode()
    raw[136:148] = f"{mtime:011o}\0".encode()
    raw[148:156] = b" " * 8
    raw[156] = ord("0")
    checksum = sum(raw)
    raw[148:156] = f"{checksum:06o}\0 ".encode()
    return bytes(raw)


def _tar_entry(name: str, data: bytes, mtime: int) -> bytes:
    pad = (-len(data)) % _BLOCK
    return _v7_header(name, len(data), mtime) + data + b"\0" * pad


class _Builder:
    def __init__(self, timestamp: int) -> None:
        self.timestamp = timestamp
        self.parts: list[bytes] = []
        self.parent: str | None = None
        self.height = 0

    def add(self, name: str, data: bytes) -> None:
        self.parts.append(_tar_entry(name, data, self.timestamp))

    def data(self, text: str) -> str:
        return self.data_name(text, "data")

    def event(self, kind: str, payload: str | None) -> None:
        ev: dict[str, object] = {}
        if self.parent is not None:
            ev["parent"] = self.parent
        ev["height"] = self.height
        ev["type"] = kind
        if payload is not None:
            ev["payload"] = payload
        text = dumps(ev)
        self.parent = self.data_name(text, "event")
        self.height += 1

    def data_name(self, text: str, suffix: str) -> str:
        h = hex_hash(text)
        self.add(f"{h}.{suffix}.json", text.encode("utf-8"))
        return h


def archive_bytes(data: PublicData) -> bytes:
    """The ``UUID.bel`` archive for ``data`` (pure; see the module docstring for the order)."""
    b = _Builder(data.timestamp)
    b.add("BELENIOS", dumps({"version": 1, "timestamp": str(data.timestamp)}).encode())
    setup = dumps(
        {
            "election": b.data(data.election.raw),
            "trustees": b.data(data.trustees),
            "credentials": b.data(dumps(list(data.credentials))),
        }
    )
    b.event("Setup", b.data(setup))
    for raw in data.ballots:
        b.event("Ballot", b.data(raw))
    if not data.ballots_ended:
        return b"".join(b.parts)
    b.event("EndBallots", None)
    if data.tally is None:
        return b"".join(b.parts)
    if data.tally_text is not None:
        tally_text, sized_text = data.tally_text
    else:
        tally_text = data.tally.ciphertexts_json()
        sized_text = data.tally.sized_json(hex_hash(tally_text))
    b.data(tally_text)
    b.event("EncryptedTally", b.data(sized_text))
    for owner, pd in data.partial_decryptions:
        owned = dumps({"owner": owner, "payload": b.data(pd)})
        b.event("PartialDecryption", b.data(owned))
    if data.result is not None:
        text = data.result_text if data.result_text is not None else result_to_json(data.result)
        b.event("Result", b.data(text))
    return b"".join(b.parts)


def write_archive(data: PublicData, directory: Path) -> Path:
    """Write ``DIR/UUID.bel`` (the only I/O of this package); the directory must exist."""
    path = directory / archive_name(data.election.uuid)
    tmp = path.with_suffix(".bel.tmp")
    tmp.write_bytes(archive_bytes(data))
    tmp.replace(path)
    return path


def _entries(blob: bytes) -> list[tuple[str, bytes]]:
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tar:
            out = []
            for member in tar:
                f = tar.extractfile(member)
                if f is None:
                    raise InputError(f"archive entry {member.name!r} is not a file")
                out.append((member.name, f.read()))
            return out
    except tarfile.TarError as exc:
        raise InputError(f"not a Belenios archive: {exc}") from None


def read_archive(blob: bytes) -> PublicData:
    """Parse a ``UUID.bel`` archive: names must be their contents' hashes, events chained."""
    entries = _entries(blob)
    if not entries or entries[0][0] != "BELENIOS":
        raise InputError("a Belenios archive starts with its BELENIOS header")
    header = get_obj(loads(entries[0][1], "the archive header"), "header")
    timestamp = get_num(header.get("timestamp"), "header.timestamp")
    files: dict[str, str] = {}
    events: list[dict[str, object]] = []
    parent: str | None = None
    for name, content in entries[1:]:
        h, _, suffix = name.partition(".")
        if hex_hash(content) != h:
            raise IntegrityError(f"archive entry {name} does not hash to its name")
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"archive entry {name} is not UTF-8 text") from None
        files[h] = text
        if suffix == "event.json":
            ev = dict(get_obj(loads(text, name), name))
            if ev.get("parent") != parent or get_int_field(ev, "height", name) != len(events):
                raise IntegrityError(f"event {name} is not chained to the previous event")
            ref = ev.get("payload")
            if ref is not None and ref not in files:
                raise IntegrityError(f"event {name} refers to a payload not before it")
            events.append(ev)
            parent = h
        elif suffix != "data.json":
            raise InputError(f"unexpected archive entry {name}")
    if not events or events[0].get("type") != "Setup":
        raise InputError("the archive has no Setup event")

    def get_file(ref: str) -> str:
        if ref not in files:
            raise IntegrityError(f"the archive refers to {ref}, which it does not hold")
        return files[ref]

    def payload(ev: dict[str, object]) -> str:
        ref = ev.get("payload")
        if not isinstance(ref, str):
            raise InputError(f"a {ev.get('type')} event needs a payload")
        return get_file(ref)

    setup = get_obj(loads(payload(events[0]), "setup data"), "setup_data")
    election = parse_election(get_file(get_str(setup, "election", "setup_data")))
    trustees = get_file(get_str(setup, "trustees", "setup_data"))
    creds_text = get_file(get_str(setup, "credentials", "setup_data"))
    creds = tuple(
        str(c) for c in get_list(loads(creds_text, "the public credentials"), "credentials")
    )
    ballots: list[str] = []
    ended = False
    tally: EncryptedTally | None = None
    tally_text: tuple[str, str] | None = None
    pds: list[tuple[int, str]] = []
    result = None
    result_text = None
    for ev in events[1:]:
        kind = ev.get("type")
        if kind == "Ballot":
            ballots.append(payload(ev))
        elif kind == "EndBallots":
            ended = True
        elif kind == "EncryptedTally":
            sized = payload(ev)
            sized_obj = get_obj(loads(sized, "the sized tally"), "sized_encrypted_tally")
            ref = get_str(sized_obj, "encrypted_tally", "sized_encrypted_tally")
            tally_text = (get_file(ref), sized)
            tally = encrypted_tally_from_json(sized, get_file(ref))
        elif kind == "PartialDecryption":
            owned = get_obj(loads(payload(ev), "owned partial decryption"), "owned")
            pd_text = get_file(get_str(owned, "payload", "owned_partial_decryption"))
            parse_partial_decryption(pd_text)
            pds.append((get_int_field(owned, "owner", "owned_partial_decryption"), pd_text))
        elif kind == "Result":
            result_text = payload(ev)
            result = parse_result(result_text)
        else:
            raise InputError(f"unsupported event type {kind!r} (homomorphic elections only)")
    return PublicData(
        election=election,
        trustees=trustees,
        credentials=creds,
        ballots=tuple(ballots),
        ballots_ended=ended,
        tally=tally,
        partial_decryptions=tuple(pds),
        result=result,
        timestamp=timestamp,
        tally_text=tally_text,
        result_text=result_text,
    )
