"""The client side of a secret ballot: the bodies each participant signs, from the state.

Pure functions over a replayed :class:`~ledger.state.State` and the participant's own key
(the CLI, the demo, the tests and the benchmark call them; nothing here does I/O):

- the opener (the credential authority): :func:`open_body` generates one Belenios credential
  per electorate key and seals each private one to its resident (:mod:`voting.sealed`);
- each trustee: :func:`cert_body`, :func:`polynomial_body`, :func:`voutput_body`,
  :func:`decrypt_body`. A trustee's Belenios seed is derived from its Ed25519 seed and the
  election uuid (HMAC-SHA256), so its only secret stays in its encrypted key file;
- each resident: :func:`my_credential` opens their sealed credential and :func:`vote_body`
  builds the Belenios ballot on their machine.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from ledger.errors import InputError
from ledger.keys import KeyPair
from ledger.state import State
from voting.sealed import open_credential, seal_credential
from voting.secret.ballot import ballot_tracker, build_ballot
from voting.secret.credentials import BASE58
from voting.secret.election import vote_vector
from voting.secret.encoding import dumps
from voting.secret.group import group_by_name
from voting.secret.setup import make_credentials, new_uuid
from voting.secret.tally import make_partial_decryption
from voting.secret.trustees import (
    make_cert,
    make_polynomial,
    make_voutput,
    parse_voutput,
    trustee_decryption_key,
)
from voting.secret_rules import (
    CREDENTIALS_PER_STATEMENT,
    ballot_election,
    ceremony_certs,
    question_of,
    secret_doc,
    stored_tally,
    trustee_index,
    vinput_for,
)

__all__ = [
    "cert_body",
    "credential_bodies",
    "decrypt_body",
    "my_credential",
    "open_body",
    "polynomial_body",
    "trustee_seed",
    "vote_body",
    "vote_choices",
    "voutput_body",
]

_SEED_LENGTH = 22


def open_body(
    base: dict[str, Any],
    trustees: Sequence[str],
    threshold: int,
    group_name: str = "BELENIOS-2048",
) -> dict[str, Any]:
    """A secret ``ballot.open`` body: ``base`` (an open ballot's body) plus the setup."""
    group_by_name(group_name)
    return {
        **base,
        "mode": "secret",
        "secret": {
            "group": group_name,
            "uuid": new_uuid(),
            "trustees": list(trustees),
            "threshold": threshold,
        },
    }


def credential_bodies(state: State, bid: str) -> list[dict[str, Any]]:
    """The ``ballot.credentials`` bodies for every key of ballot ``bid``'s electorate
    snapshot: a fresh credential each, the private one sealed to that key (§4.8).

    Run by the opener, the credential authority: it sees the private credentials while it
    seals them, and keeps none (neither does the operator, which only relays sealed boxes).
    """
    s = secret_doc(state, bid)
    group = group_by_name(s["group"])
    keys: list[str] = sorted(state.peek("electorate", bid, []))
    creds = make_credentials(group, s["uuid"], len(keys))
    pairs = [
        (k, {"public": str(c.public), "sealed": seal_credential(k, c.private)})
        for k, c in zip(keys, creds, strict=True)
    ]
    n = CREDENTIALS_PER_STATEMENT
    return [{"ballot": bid, "credentials": dict(pairs[i : i + n])} for i in range(0, len(pairs), n)]


def trustee_seed(keypair: KeyPair, uuid: str) -> str:
    """The trustee's Belenios seed for election ``uuid`` (22 Base58 characters, §4.6.1)."""
    digest = hmac.new(keypair.seed, f"civic-ledger/belenios-trustee/{uuid}".encode(), "sha512")
    value = int.from_bytes(digest.digest(), "big")
    out = []
    for _ in range(_SEED_LENGTH):
        value, r = divmod(value, len(BASE58))
        out.append(BASE58[r])
    return "".join(out)


def _setup(state: State, bid: str, keypair: KeyPair) -> tuple[dict[str, Any], int, str]:
    s = secret_doc(state, bid)
    i = trustee_index(state, bid, keypair.key_id)
    return s, i, trustee_seed(keypair, s["uuid"])


def cert_body(state: State, bid: str, keypair: KeyPair) -> dict[str, Any]:
    """Step 1: this trustee's ``trustee.cert`` body (§4.6.2)."""
    s, _, seed = _setup(state, bid, keypair)
    cert = make_cert(group_by_name(s["group"]), seed)
    return {"ballot": bid, "cert": dumps(cert.to_json())}


def polynomial_body(state: State, bid: str, keypair: KeyPair) -> dict[str, Any]:
    """Step 3: this trustee's ``trustee.polynomial`` body, once every certificate is in."""
    s, _, seed = _setup(state, bid, keypair)
    if s["phase"] != "polynomials":
        raise InputError(f"ballot {bid}'s ceremony is at step {s['phase']!r}, not polynomials")
    p = make_polynomial(group_by_name(s["group"]), seed, ceremony_certs(s), s["threshold"])
    return {"ballot": bid, "polynomial": p.to_json()}


def voutput_body(state: State, bid: str, keypair: KeyPair) -> dict[str, Any]:
    """Step 5: this trustee's ``trustee.voutput`` body, once every polynomial is in."""
    s, i, seed = _setup(state, bid, keypair)
    if s["phase"] != "voutputs":
        raise InputError(f"ballot {bid}'s ceremony is at step {s['phase']!r}, not voutputs")
    vo = make_voutput(group_by_name(s["group"]), seed, ceremony_certs(s), vinput_for(state, bid, i))
    return {"ballot": bid, "voutput": vo.to_json()}


def decrypt_body(state: State, bid: str, keypair: KeyPair) -> dict[str, Any]:
    """This trustee's ``trustee.decrypt`` body: its partial decryption of the tally (§4.18)."""
    s, i, seed = _setup(state, bid, keypair)
    if s["tally"] is None:
        raise InputError(f"ballot {bid} is not closed: there is no tally to decrypt yet")
    group = group_by_name(s["group"])
    private = parse_voutput(s["voutputs"][i]).private_key
    x = trustee_decryption_key(group, seed, ceremony_certs(s), private)
    pd = make_partial_decryption(ballot_election(state, bid), stored_tally(s), x)
    return {"ballot": bid, "partial_decryption": pd.to_json()}


def my_credential(state: State, bid: str, keypair: KeyPair, voter: str | None = None) -> str:
    """Open the private credential sealed to ``keypair`` for ballot ``bid``.

    ``voter`` is the electorate key it was sealed to, when the resident has rotated since.
    """
    sealed = state.peek("sealed", f"{bid}/{voter or keypair.key_id}")
    if sealed is None:
        raise InputError(f"ballot {bid} has no credential sealed to {keypair.key_id}")
    return open_credential(keypair, sealed)


def vote_choices(doc: dict[str, Any], choice: Any) -> list[list[int]]:
    """The 0/1 vector of a civic-ledger choice (an option id, a list, or ``abstain``)."""
    q = question_of(doc)
    if doc["kind"] == "approval":
        if not isinstance(choice, list):
            raise InputError("an approval vote's choice is a list of option ids")
        return [vote_vector(q, choice)]
    if not isinstance(choice, str):
        raise InputError(f"a {doc['kind']} vote's choice is one option id")
    if choice in ("abstain", "blank"):
        return [vote_vector(q, None)]
    return [vote_vector(q, [choice])]


def vote_body(state: State, bid: str, credential: str, choice: Any) -> tuple[dict[str, Any], str]:
    """A secret ``vote.cast`` body built here (the choice never leaves) and its tracker."""
    election = ballot_election(state, bid)
    raw = build_ballot(election, credential, vote_choices(state.peek("ballot", bid), choice))
    return {"ballot": bid, "belenios": raw}, ballot_tracker(raw)
