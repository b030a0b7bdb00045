"""Step 1 of the audit: the trust root, i.e. the log key that checkpoints must be signed
with and the genesis record the log must start from.

In order of precedence: the auditor's state file (``--state``: what an earlier audit
verified), then ``--vkey`` and ``--genesis`` (record 0's leaf hash, RFC 9162 §2.1.1), and
when nothing is pinned, record 0 of the first node that serves a genesis naming a log key,
which the report flags as ``warn.trust_unpinned``.
"""

from __future__ import annotations

from dataclasses import dataclass

from audits.fetch import Fetcher
from audits.findings import finding
from audits.found import Collector, Found
from audits.state_file import AuditState
from ledger import merkle
from ledger.c2sp.checkpoint import read_checkpoint
from ledger.c2sp.note import NoteVerifier, parse_vkey
from ledger.errors import CivicError, InputError, NetworkError, NotFoundError
from ledger.records import parse_record
from ledger.tiles import TILE_WIDTH, decode_bundle, tile_path

__all__ = ["TrustContext", "TrustRoot", "establish_trust_root"]


@dataclass(frozen=True)
class TrustContext:
    """The pins, and where to read record 0 when they do not settle the trust root."""

    fetchers: tuple[Fetcher, ...]
    down: frozenset[str]
    # the checkpoints obtained, unverified: only their sizes are read, for the width at
    # which a bundle or a static log serves entry bundle 0
    notes: tuple[bytes, ...]
    vkey: str | None = None
    genesis: str | None = None
    remembered: AuditState | None = None


@dataclass(frozen=True)
class TrustRoot:
    """The trust root. ``ok`` is False when no genesis matched the pins (the audit stops);
    ``verifier`` may still be set then, from ``--vkey``. ``pinned_by``: state, vkey,
    genesis or unpinned."""

    ok: bool
    verifier: NoteVerifier | None
    genesis_hash: str | None
    pinned_by: str
    found: Found


def establish_trust_root(ctx: TrustContext) -> TrustRoot:
    """Step 1: the log key to verify checkpoints with, from the pins or record 0.

    InputError when ``--vkey`` or ``--genesis`` contradicts the state file.
    """
    col = Collector(ctx.down)
    old = ctx.remembered
    if old is not None:
        if ctx.vkey and ctx.vkey != old.log_vkey:
            raise InputError("--vkey differs from the log key remembered in the state file")
        if ctx.genesis and ctx.genesis != old.genesis_hash:
            raise InputError("--genesis differs from the genesis remembered in the state file")
        return TrustRoot(True, parse_vkey(old.log_vkey), old.genesis_hash, "state", col.found())
    verifier: NoteVerifier | None = None
    pinned_by = "unpinned"
    if ctx.vkey:
        verifier = parse_vkey(ctx.vkey)
        pinned_by = "vkey"
    pinned = ctx.genesis.lower() if ctx.genesis else None
    if verifier is not None and pinned is None:
        return TrustRoot(True, verifier, None, pinned_by, col.found())
    for f in ctx.fetchers:
        if col.is_down(f.name):
            continue
        data = _record_zero(f, ctx.notes, col)
        if data is None:
            continue
        leaf = merkle.leaf_hash(data).hex()
        if pinned is not None and leaf != pinned:
            col.add(
                finding(
                    "trust.genesis_mismatch",
                    f"{f.name}: record 0 has leaf hash {leaf}, not the pinned genesis {pinned}",
                    index=0,
                    node=f.name,
                )
            )
            continue
        try:
            env = parse_record(data).envelope
            vkey = env["statement"]["body"]["log_vkey"]
            found = parse_vkey(vkey)
        except (CivicError, KeyError, TypeError) as exc:
            msg = f"{f.name}: record 0 is not a genesis naming a log key ({exc})"
            col.add(finding("trust.genesis_mismatch", msg, index=0, node=f.name))
            continue
        if verifier is not None and found != verifier:
            col.add(
                finding(
                    "trust.vkey_mismatch",
                    f"{f.name}: genesis names log key {vkey}, not the pinned {verifier.vkey()}",
                    index=0,
                    node=f.name,
                )
            )
            continue
        if verifier is None:
            verifier = found
            if pinned is None:
                col.add(
                    finding(
                        "warn.trust_unpinned",
                        f"nothing pinned the trust root: "
                        f"record 0 of {f.name} was taken as genesis {leaf}, log "
                        f"key {vkey}; compare both with the notice board, or pass "
                        "--genesis or --vkey",
                    )
                )
            else:
                pinned_by = "genesis"
        return TrustRoot(True, verifier, leaf, pinned_by, col.found())
    col.add(
        finding(
            "audit.stopped",
            "no node serves a genesis record matching the trust "
            "root, so no checkpoint can be verified",
        )
    )
    return TrustRoot(False, verifier, None, pinned_by, col.found())


def _record_zero(f: Fetcher, notes: tuple[bytes, ...], col: Collector) -> bytes | None:
    # A node serves entry bundle 0 at any width up to its size; a bundle or a static
    # log only at the width of its checkpoint (read here unverified, just for the path).
    widths = [1]
    for note in notes:
        try:
            widths.append(min(TILE_WIDTH, read_checkpoint(note).size))
        except InputError:
            continue
    for width in dict.fromkeys(w for w in widths if w > 0):
        try:
            entries = decode_bundle(f.fetch("log/" + tile_path(None, 0, width)))
        except NetworkError as exc:
            col.unreachable(f.name, exc)
            return None
        except (NotFoundError, InputError):
            continue
        if entries:
            return entries[0]
    return None
