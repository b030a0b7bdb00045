"""Step 1b of the audit: the log's key history, from the genesis key alone.

A log may have moved to new keys with ``log.rotate`` records (docs/adr/0012). Before the
checkpoints are checked, each node's ``GET /v1/log-keys`` is verified with
:func:`ledger.log_keys.follow_key_history` (every rotation record included in a checkpoint
that its epoch's key signed and the genesis witness quorum cosigned); the longest history
that verifies is the one checkpoints are checked against. After the replay,
:func:`compare_history` checks that the replayed ``log.rotate`` records give that same
history.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from audits.fetch import Fetcher
from audits.findings import finding
from audits.found import Collector, Found
from ledger import merkle
from ledger.c2sp.note import NoteVerifier
from ledger.errors import CivicError, NotFoundError
from ledger.log_keys import KeyHistory, follow_key_history, key_history
from ledger.state import State
from ledger.witness_policy import genesis_policy

__all__ = ["FollowedKeys", "compare_history", "follow_log_keys"]


@dataclass(frozen=True)
class FollowedKeys:
    """The key history to check checkpoints with (the genesis key only when none rotated)."""

    history: KeyHistory
    found: Found


def follow_log_keys(
    fetchers: tuple[Fetcher, ...],
    down: frozenset[str],
    genesis: NoteVerifier,
    genesis_hash: str | None,
) -> FollowedKeys:
    """Step 1b: the longest verified key history any node serves."""
    col = Collector(down)
    best = KeyHistory.genesis_only(genesis.vkey())
    for f in fetchers:
        if f.offline or col.is_down(f.name):
            continue
        try:
            doc = f.fetch_json("v1/log-keys")
            raw0 = base64.b64decode(f.fetch_json("v1/records/0")["entry"])
        except (CivicError, KeyError, TypeError, ValueError):
            # No key history served (an older node, a static mirror, a refusing node):
            # whether the node answers at all is the checkpoint steps' business.
            continue
        try:
            if genesis_hash is not None and merkle.leaf_hash(raw0).hex() != genesis_hash:
                continue  # another log's record 0: the trust step reports it
            policy = genesis_policy(raw0, genesis)
            got = follow_key_history(doc, genesis.vkey(), policy).history
        except NotFoundError:
            continue  # not witnessed past a rotation yet: nothing to hold against the node
        except CivicError as exc:
            col.add(
                finding(
                    "keys.history",
                    f"{f.name} serves a log key history that does not verify: {exc.message}",
                    node=f.name,
                )
            )
            continue
        if got.epochs[: len(best.epochs)] != best.epochs[: len(got.epochs)]:
            col.add(
                finding(
                    "keys.mismatch",
                    f"{f.name} serves a log key history that contradicts another node's: "
                    f"{[e.vkey for e in got.epochs]} against {[e.vkey for e in best.epochs]}",
                    node=f.name,
                )
            )
            continue
        if len(got.epochs) > len(best.epochs):
            best = got
    return FollowedKeys(best, col.found())


def compare_history(followed: KeyHistory, state: State) -> Found:
    """After the replay: the replayed log.rotate records must give the followed history
    (as far as the replay reached)."""
    col = Collector()
    if state.peek("community", "genesis") is None:
        return col.found()
    replayed = key_history(state)
    n = min(len(replayed.epochs), len(followed.epochs))
    if replayed.epochs[:n] != followed.epochs[:n] or len(followed.epochs) > len(replayed.epochs):
        col.add(
            finding(
                "keys.mismatch",
                "the log key history the nodes serve differs from the replayed log.rotate "
                f"records: served {[(e.vkey, e.first_size) for e in followed.epochs]}, "
                f"replayed {[(e.vkey, e.first_size) for e in replayed.epochs]}",
            )
        )
    return col.found()
