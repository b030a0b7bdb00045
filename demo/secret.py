"""The secret ballot of the demo community: 3 trustees (the committee), threshold 2, fully
decrypted. Residents dana, eli and fatima vote with their sealed credentials.

:func:`start` opens it, runs the key ceremony and casts the votes; :func:`finish` waits for
its closing time (the other demo ballots are written meanwhile), closes it, posts two of the
three partial decryptions and records the result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from client.submit import signed_statement
from ledger.keys import KeyPair, load_key_file
from ledger.records import format_time
from node.context import NodeContext
from voting import secret_steps as steps
from voting.rules import close_body
from voting.secret_rules import result_body

__all__ = ["Started", "finish", "start"]

# Seconds the secret ballot stays open: enough for the ceremony and three votes on a busy
# machine (the other demo ballots are written while it waits).
SECRET_BALLOT_SECONDS = 15
_VOTES = (("dana", "garden"), ("eli", "playground"), ("fatima", "garden"))


@dataclass(frozen=True)
class Started:
    ballot: str
    closes: str
    trackers: dict[str, str]


def _keys(keys: Path) -> dict[str, KeyPair]:
    from demo.community import DEMO_PASSPHRASE

    names = ("alice", "bob", "chen", "dana", "eli", "fatima")
    return {n: load_key_file(keys / f"{n}.key", DEMO_PASSPHRASE) for n in names}


def start(ctx: NodeContext, keys: Path) -> Started:
    """Open the secret ballot, run the ceremony, cast three secret votes."""
    from demo.community import submit_all

    k = _keys(keys)
    origin = ctx.cfg.origin

    def submit(type_: str, body: dict[str, Any], signer: KeyPair) -> Any:
        (out,) = submit_all(ctx, [signed_statement(origin, type_, body, signer)])
        return out

    closes = format_time(
        (datetime.now(UTC) + timedelta(seconds=SECRET_BALLOT_SECONDS)).replace(microsecond=0)
    )
    base = {
        "kind": "single",
        "title": {
            "en": "Secret ballot: what to build on the empty lot?",
            "zh": "秘密投票：空地上建什么？",
        },
        "options": [
            {"id": "garden", "label": {"en": "A community garden", "zh": "社区花园"}},
            {"id": "playground", "label": {"en": "A playground", "zh": "儿童游乐场"}},
            {"id": "parking", "label": {"en": "Bicycle parking", "zh": "自行车停车场"}},
        ],
        "closes": closes,
        "quorum": {"votes": 2},
        "passing": "plurality",
    }
    trustees = [k["alice"], k["bob"], k["chen"]]
    body = steps.open_body(base, [t.key_id for t in trustees], 2)
    bid = str(submit("ballot.open", body, k["alice"]).index)
    for chunk in steps.credential_bodies(ctx.state(), bid):
        submit("ballot.credentials", chunk, k["alice"])
    for type_, make in (
        ("trustee.cert", steps.cert_body),
        ("trustee.polynomial", steps.polynomial_body),
        ("trustee.voutput", steps.voutput_body),
    ):
        for t in trustees:
            submit(type_, make(ctx.state(), bid, t), t)
    trackers = {}
    for who, choice in _VOTES:
        credential = steps.my_credential(ctx.state(), bid, k[who])
        vote, trackers[who] = steps.vote_body(ctx.state(), bid, credential, choice)
        submit("vote.cast", vote, k[who])
    return Started(bid, closes, trackers)


def finish(ctx: NodeContext, keys: Path, started: Started) -> dict[str, Any]:
    """After the closing time: close, two partial decryptions, the result; the summary."""
    from demo.community import submit_all

    k = _keys(keys)
    origin = ctx.cfg.origin
    bid = started.ballot

    def submit(type_: str, body: dict[str, Any], signer: KeyPair) -> Any:
        (out,) = submit_all(ctx, [signed_statement(origin, type_, body, signer)])
        return out

    closes = datetime.fromisoformat(started.closes.replace("Z", "+00:00"))
    time.sleep(max(0.0, (closes - datetime.now(UTC)).total_seconds()) + 0.2)
    submit("ballot.close", close_body(ctx.state(), bid), k["alice"])
    for t in ("alice", "chen"):
        submit("trustee.decrypt", steps.decrypt_body(ctx.state(), bid, k[t]), k[t])
    done = submit("ballot.result", result_body(ctx.state(), bid), k["alice"])
    return {
        "ballot": bid,
        "trustees": ["alice", "bob", "chen"],
        "threshold": 2,
        "decrypted_by": ["alice", "chen"],
        "result_record": done.index,
        "trackers": started.trackers,
        "try": [
            f"civic ballot tally --ballot {bid} --node URL",
            f"civic ballot export-belenios {bid} --out belenios-{bid} --node URL",
            f"belenios-tool election verify --dir belenios-{bid}",
        ],
    }
