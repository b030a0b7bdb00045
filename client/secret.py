"""The secret-ballot workflows of a participant's client, against a node.

Every step first rebuilds the state on this machine: the log's entries are downloaded
(C2SP tlog-tiles), checked against the node's signed checkpoint and replayed through the
community's rules, which re-verify every ceremony message, ballot proof and decryption. The
bodies are then built here (:mod:`voting.secret_steps`), so a private credential, a trustee
seed and a plaintext choice never leave the participant's machine.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from client.http import NodeClient
from client.submit import submit_statement
from ledger import merkle
from ledger.c2sp.checkpoint import open_checkpoint
from ledger.c2sp.note import NoteVerifier
from ledger.errors import InputError, IntegrityError, ProofError
from ledger.keys import KeyPair
from ledger.records import parse_record
from ledger.state import State, replay
from ledger.tiles import TILE_WIDTH, decode_bundle, tile_path
from rules import community_rules
from voting import secret_steps as steps
from voting.rules import electorate_key, get_ballot, is_secret
from voting.secret.archive import write_archive
from voting.secret.verify import ElectionReport, verify_public_data
from voting.secret_rules import public_data, result_body, secret_close_body, trustee_index

__all__ = [
    "cast_secret",
    "close_secret",
    "decrypt",
    "export_belenios",
    "follow",
    "open_secret",
    "post_result",
    "trustee_step",
    "verified_state",
    "verify_secret",
]


def verified_state(c: NodeClient, verifier: NoteVerifier) -> State:
    """The state replayed here from every entry up to the node's signed checkpoint."""
    cp = open_checkpoint(c.checkpoint(), verifier)[0]
    entries: list[bytes] = []
    for n in range(-(-cp.size // TILE_WIDTH)):
        width = min(TILE_WIDTH, cp.size - n * TILE_WIDTH)
        entries.extend(decode_bundle(c.get_bytes("/log/" + tile_path(None, n, width))))
    tree = merkle.CompactRange()
    for e in entries:
        tree.append(merkle.leaf_hash(e))
    if len(entries) != cp.size or tree.root() != cp.root_hash:
        raise IntegrityError(
            f"the entries the node served do not hash to its checkpoint of size {cp.size}"
        )
    return replay([parse_record(e) for e in entries], State(community_rules()))


def follow(c: NodeClient, state: State) -> State:
    """``state`` brought up to the node's current size, record by record, through the rules
    (for a participant who keeps a state between steps instead of replaying the log; the
    records come from the node unproven: :func:`verified_state` is the checked way)."""
    size = c.get_json("/healthz")["size"]
    records = [
        parse_record(base64.b64decode(c.record(i)["entry"])) for i in range(state.size, size)
    ]
    return replay(records, state)


def _secret_ballot(state: State, bid: str) -> dict[str, Any]:
    doc = get_ballot(state, bid)
    if not is_secret(doc):
        raise InputError(f"ballot {bid} is not a secret ballot")
    return doc


def open_secret(
    c: NodeClient,
    verifier: NoteVerifier,
    key: KeyPair,
    body: dict[str, Any],
    trustees: list[str],
    threshold: int,
) -> dict[str, Any]:
    """Open a secret ballot, then post a credential for every key of its electorate
    snapshot, each private one sealed to its resident (generated here, kept nowhere)."""
    out = submit_statement(c, "ballot.open", steps.open_body(body, trustees, threshold), key)
    state = verified_state(c, verifier)
    for chunk in steps.credential_bodies(state, str(out["index"])):
        submit_statement(c, "ballot.credentials", chunk, key)
    return out


_STEPS = {
    "certs": ("trustee.cert", steps.cert_body),
    "polynomials": ("trustee.polynomial", steps.polynomial_body),
    "voutputs": ("trustee.voutput", steps.voutput_body),
}


def trustee_step(c: NodeClient, verifier: NoteVerifier, key: KeyPair, bid: str) -> str:
    """Post this trustee's message for the ceremony's current step; returns what it did."""
    state = verified_state(c, verifier)
    _secret_ballot(state, bid)
    s = state.peek("secret", bid)
    i = trustee_index(state, bid, key.key_id)
    if s["phase"] == "done":
        return "the key ceremony is complete: nothing to do"
    type_, make = _STEPS[s["phase"]]
    if s[s["phase"]][i] is not None:
        waiting = sum(1 for x in s[s["phase"]] if x is None)
        return f"already posted; waiting for {waiting} other trustee(s) ({s['phase']})"
    out = submit_statement(c, type_, make(state, bid, key), key)
    return f"posted {type_} at record {out['index']}"


def decrypt(c: NodeClient, verifier: NoteVerifier, key: KeyPair, bid: str) -> dict[str, Any]:
    """Post this trustee's partial decryption of the closed ballot's encrypted tally."""
    state = verified_state(c, verifier)
    _secret_ballot(state, bid)
    return submit_statement(c, "trustee.decrypt", steps.decrypt_body(state, bid, key), key)


def cast_secret(
    c: NodeClient, verifier: NoteVerifier, key: KeyPair, bid: str, choice: Any
) -> tuple[dict[str, Any], str]:
    """Open this resident's sealed credential, build the Belenios ballot here and cast it.

    Returns the node's answer and the smart ballot tracker (spec §4.15).
    """
    state = verified_state(c, verifier)
    _secret_ballot(state, bid)
    voter = electorate_key(state, bid, key.key_id)
    if voter is None:
        raise InputError(f"{key.key_id} is not in ballot {bid}'s electorate")
    credential = steps.my_credential(state, bid, key, voter)
    body, tracker = steps.vote_body(state, bid, credential, choice)
    out = submit_statement(c, "vote.cast", body, key)
    return out, tracker


def close_secret(c: NodeClient, verifier: NoteVerifier, key: KeyPair, bid: str) -> dict[str, Any]:
    """Record the end of ballots with the encrypted tally recomputed here."""
    state = verified_state(c, verifier)
    _secret_ballot(state, bid)
    return submit_statement(c, "ballot.close", secret_close_body(state, bid), key)


def post_result(c: NodeClient, verifier: NoteVerifier, key: KeyPair, bid: str) -> dict[str, Any]:
    """Record the result combined here from the valid partial decryptions (§4.19)."""
    state = verified_state(c, verifier)
    _secret_ballot(state, bid)
    return submit_statement(c, "ballot.result", result_body(state, bid), key)


def verify_secret(state: State, bid: str, workers: int = 2) -> ElectionReport:
    """Belenios' universal verification of ballot ``bid`` from a replayed state (spec
    §3.5): every ballot proof (over ``workers`` processes), the encrypted tally, every
    decryption proof and the result."""
    _secret_ballot(state, bid)
    report = verify_public_data(public_data(state, bid), workers=workers)
    recorded = state.peek("ballot", bid)["result"]
    if recorded is not None and report.result is None:
        raise ProofError(f"ballot {bid}: the recorded result does not verify")
    return report


def export_belenios(c: NodeClient, verifier: NoteVerifier, bid: str, out: Path) -> Path:
    """Write ballot ``bid`` as Belenios 2.0 public data (``DIR/UUID.bel``) for
    ``belenios-tool election verify --dir DIR``."""
    state = verified_state(c, verifier)
    _secret_ballot(state, bid)
    out.mkdir(parents=True, exist_ok=True)
    return write_archive(public_data(state, bid), out)
