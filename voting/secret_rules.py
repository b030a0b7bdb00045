"""Secret ballots in the log: the rules of ``mode: "secret"`` (Belenios 2.0 inside our envelopes).

A secret ballot's life, each step a signed statement (the handlers below, called from
:mod:`voting.rules`):

1. ``ballot.open`` with ``"mode": "secret"`` and ``"secret": {"group", "uuid", "trustees",
   "threshold"}``: the trustees are named by key (k of n). Status ``setup``. Then the opener
   (the credential authority) posts ``ballot.credentials`` statements, up to
   :data:`CREDENTIALS_PER_STATEMENT` each (a record stays under 64 KiB): one public
   credential per key of the electorate snapshot, with its private credential sealed to
   that key (:mod:`voting.sealed`); the list is frozen when the snapshot is covered.
2. The key ceremony (spec §3.1.1 "Pedersen", §4.6), each message signed by its trustee:
   ``trustee.cert`` (step 1), ``trustee.polynomial`` (step 3; the vinputs of step 4 are a
   pure function of the polynomials, recomputed by anyone with :func:`vinput_for`),
   ``trustee.voutput`` (step 5). With the last voutput the handler checks every
   verification key (step 6) and fixes the election (§4.10): status ``open``.
3. ``vote.cast`` with ``{"ballot", "belenios"}``: a Belenios ballot (§4.11–4.15) for this
   election, signed with the credential frozen for the envelope's resident; every proof is
   checked here, by the sequencer and by every witness replaying the log. The last one counts.
4. ``ballot.close`` with ``{"ballot", "electorate_hash", "encrypted_tally"}`` (the hex
   SHA-256 of the encrypted tally's text, §4.16): the end of ballots; the handler recomputes
   the tally of the counted ballots. Status ``tallying``.
5. ``trustee.decrypt`` with ``{"ballot", "partial_decryption"}`` (§4.18), proofs checked.
6. ``ballot.result`` with ``{"ballot", "result"}``: once ``threshold`` valid partial
   decryptions are in, the handler combines them (§4.19) and records the result in the same
   shape as an open ballot's (plus ``blank``). Status ``closed``.

State: ``secret/<id>`` (the ceremony, the election text, the tally, the decryptions),
``credential/<id>`` (electorate key -> public credential) and ``sealed/<id>/<key>`` (the
sealed private credential). A secret vote document has ``choice: null`` and the ballot's
``tracker`` (the smart ballot tracker, §4.15) and text: no choice is ever in clear.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ledger.canonical import canonical_json
from ledger.errors import ConflictError, ForbiddenError, InputError, ProofError, RuleViolation
from ledger.keys import is_key_id
from ledger.state import Context, State
from ledger.statements import Envelope
from voting.sealed import check_sealed
from voting.secret.archive import PublicData, credentials_json
from voting.secret.ballot import check_ballot, parse_ballot
from voting.secret.election import Election, parse_election, question_for_kind, result_counts
from voting.secret.encoding import get_num, loads
from voting.secret.group import group_by_name
from voting.secret.setup import open_election
from voting.secret.tally import (
    EncryptedTally,
    PartialDecryption,
    check_partial_decryption,
    combine_result,
    encrypted_tally,
    encrypted_tally_from_json,
    parse_partial_decryption,
    trustee_public_keys,
)
from voting.secret.trustees import (
    Polynomial,
    SignedMsg,
    Vinput,
    cert_keys,
    check_cert,
    check_voutput,
    coefexps_values,
    make_threshold_parameters,
    make_vinputs,
    parse_polynomial,
    parse_trustees,
    parse_voutput,
    signed_msg_from_json,
    trustees_to_json,
    verify_signed,
)
from voting.spec import BallotSpec, spec_from_doc
from voting.tally import result_from_counts

__all__ = [
    "CREDENTIALS_PER_STATEMENT",
    "MODES",
    "SECRET_KINDS",
    "ballot_credentials",
    "ballot_election",
    "ceremony_certs",
    "close_secret",
    "decrypt",
    "public_data",
    "question_of",
    "record_result",
    "result_body",
    "secret_close_body",
    "secret_doc",
    "secret_open",
    "stored_tally",
    "tally_of",
    "trustee_cert",
    "trustee_index",
    "trustee_polynomial",
    "trustee_voutput",
    "vinput_for",
    "vote_secret",
]

MODES = ("open", "secret")
SECRET_KINDS = ("yes_no", "single", "approval")
MAX_TRUSTEES = 16
_SECRET_FIELDS = {"group", "uuid", "trustees", "threshold"}
# Credentials per ballot.credentials statement: a record stays under 64 KiB.
CREDENTIALS_PER_STATEMENT = 50


def _fields(body: dict[str, Any], required: set[str]) -> None:
    missing, extra = required - set(body), set(body) - required
    if missing or extra:
        raise InputError(f"body fields: missing {sorted(missing)}, unexpected {sorted(extra)}")


def _text(texts: dict[str, str] | None) -> str:
    if not texts:
        return ""
    return texts.get("en") or texts[sorted(texts)[0]]


def question_of(doc: dict[str, Any]) -> Any:
    """The Belenios question of a secret ballot document (yes_no's ``abstain`` is blank)."""
    kind = doc["kind"]
    options = [o["id"] for o in doc["options"]]
    if kind == "yes_no":
        options = [o for o in options if o != "abstain"]
    return question_for_kind(kind, _text(doc["title"]), options)


# --- 1. opening -------------------------------------------------------------------------------


def secret_open(
    state: State, doc: dict[str, Any], setup: Any, electorate: list[str], ctx: Context
) -> None:
    """Check a secret ballot's ``secret`` setup and store it (status ``setup``).

    ``doc`` is the ballot document :mod:`voting.rules` built (changed in place);
    ``electorate`` the frozen snapshot the credentials (``ballot.credentials``) must cover.
    """
    del electorate, ctx
    kind = doc["kind"]
    if kind not in SECRET_KINDS:
        question_for_kind(kind, "", [])  # the core's reason (budget ballots cannot be secret)
    if not isinstance(setup, dict):
        raise InputError("body.secret must be an object: group, uuid, trustees, threshold")
    _fields(setup, _SECRET_FIELDS)
    group_name = setup["group"]
    if not isinstance(group_name, str):
        raise InputError("body.secret.group must be a group name such as BELENIOS-2048")
    group_by_name(group_name)
    trustees = setup["trustees"]
    if (
        not isinstance(trustees, list)
        or not 1 <= len(trustees) <= MAX_TRUSTEES
        or not all(isinstance(t, str) and is_key_id(t) for t in trustees)
        or len(set(trustees)) != len(trustees)
    ):
        raise InputError(f"body.secret.trustees must be 1 to {MAX_TRUSTEES} distinct key ids")
    for t in trustees:
        if t not in state.rows("committee") and state.peek("member", t) is None:
            raise ForbiddenError(f"trustee {t} is neither a committee member nor a resident")
    k = setup["threshold"]
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= len(trustees):
        raise InputError(f"body.secret.threshold must be an integer from 1 to {len(trustees)}")
    uuid = setup["uuid"]
    if not isinstance(uuid, str):
        raise InputError("body.secret.uuid must be a string")
    # The election cannot exist before the ceremony gives its key; check the uuid now.
    open_election_check(group_name, uuid)
    n = len(trustees)
    state.put("credential", doc["id"], {})
    state.put(
        "secret",
        doc["id"],
        {
            "group": group_name,
            "uuid": uuid,
            "trustees": trustees,
            "threshold": k,
            "phase": "certs",
            "certs": [None] * n,
            "polynomials": [None] * n,
            "voutputs": [None] * n,
            "trustees_json": None,
            "election": None,
            "tally": None,
            "partial_decryptions": {},
            "credentials_done": False,
        },
    )
    doc.update(mode="secret", status="setup", threshold=k, trustees=trustees)


def ballot_credentials(state: State, env: Envelope, ctx: Context) -> None:
    """``ballot.credentials``: public credentials for some electorate keys, each with the
    private one sealed to that key (§4.8), by the ballot's opener during setup. The list is
    frozen once every key of the electorate snapshot has one."""
    _fields(env.body, {"ballot", "credentials"})
    bid = env.body["ballot"]
    if not isinstance(bid, str):
        raise InputError("body.ballot must be a ballot id")
    s = secret_doc(state, bid)
    ballot = state.peek("ballot", bid)
    if env.signer != ballot["opened_by"]:
        raise ForbiddenError(
            f"only ballot {bid}'s opener (its credential authority) posts credentials"
        )
    if ballot["status"] != "setup" or s["credentials_done"]:
        raise ConflictError(f"ballot {bid}'s credentials are already frozen")
    creds = env.body["credentials"]
    if not isinstance(creds, dict) or not 1 <= len(creds) <= CREDENTIALS_PER_STATEMENT:
        raise InputError(
            f"body.credentials maps 1 to {CREDENTIALS_PER_STATEMENT} electorate key ids to "
            "{public, sealed}"
        )
    group = group_by_name(s["group"])
    electorate = set(state.peek("electorate", bid, []))
    publics: dict[str, str] = dict(state.peek("credential", bid))
    seen = set(publics.values())
    for key_id in sorted(creds):
        if key_id not in electorate:
            raise ConflictError(f"{key_id} is not in ballot {bid}'s electorate snapshot")
        if key_id in publics:
            raise ConflictError(f"{key_id} already has a credential for ballot {bid}")
        c = creds[key_id]
        if not isinstance(c, dict) or set(c) != {"public", "sealed"}:
            raise InputError(f"credential of {key_id}: exactly the fields public and sealed")
        value = get_num(c["public"], f"public credential of {key_id}")
        if not group.is_element(value) or str(value) in seen:
            raise InputError(f"public credential of {key_id}: a distinct group element (§4.8)")
        seen.add(str(value))
        publics[key_id] = str(value)
        state.put("sealed", f"{bid}/{key_id}", check_sealed(c["sealed"]))
    state.put("credential", bid, publics)
    if len(publics) == len(electorate):
        s = dict(s, credentials_done=True)
        state.put("secret", bid, s)
        _maybe_open(state, bid, s)


def _maybe_open(state: State, bid: str, s: dict[str, Any]) -> None:
    # Votes start once both the election (the ceremony's key) and the credentials are fixed.
    if s["election"] is not None and s["credentials_done"]:
        ballot = state.get("ballot", bid)
        ballot["status"] = "open"
        ballot["election_hash"] = _parse_election(s["election"]).fingerprint
        state.put("ballot", bid, ballot)


def open_election_check(group_name: str, uuid: str) -> None:
    """InputError unless ``uuid`` is a Belenios election uuid (spec §4.2)."""
    from voting.secret.credentials import BASE58

    if len(uuid) < 14 or any(ch not in BASE58 for ch in uuid):
        raise InputError("body.secret.uuid: at least 14 Base58 characters (spec §4.2)")
    group_by_name(group_name)


# --- 2. the ceremony --------------------------------------------------------------------------


def secret_doc(state: State, bid: str) -> dict[str, Any]:
    """Ballot ``bid``'s ``secret/<id>`` document (read-only); ConflictError if not secret."""
    s = state.peek("secret", bid)
    if s is None:
        raise ConflictError(f"ballot {bid} is not a secret ballot")
    out: dict[str, Any] = s
    return out


def trustee_index(state: State, bid: str, signer: str) -> int:
    """The 0-based position of ``signer`` among ballot ``bid``'s trustees."""
    s = secret_doc(state, bid)
    if signer not in s["trustees"]:
        raise ForbiddenError(f"{signer} is not a trustee of ballot {bid}")
    i: int = s["trustees"].index(signer)
    return i


def _ceremony_step(
    state: State, env: Envelope, field: str, phase: str
) -> tuple[str, int, dict[str, Any]]:
    _fields(env.body, {"ballot", field})
    bid = env.body["ballot"]
    if not isinstance(bid, str):
        raise InputError("body.ballot must be a ballot id")
    s = secret_doc(state, bid)
    i = trustee_index(state, bid, env.signer)
    if s["phase"] != phase:
        raise ConflictError(f"ballot {bid}'s key ceremony is at step {s['phase']!r}, not {phase!r}")
    if s[f"{phase}"][i] is not None:
        raise ConflictError(f"trustee {i + 1} of ballot {bid} already posted its {field}")
    if not isinstance(env.body[field], str):
        raise InputError(f"body.{field} must be the message's JSON text")
    return bid, i, dict(s)


def ceremony_certs(s: dict[str, Any]) -> list[SignedMsg]:
    """The trustees' certificates posted so far (every one, once the ceremony is past step 1)."""
    return [signed_msg_from_json(loads(c, "a certificate"), "certificate") for c in s["certs"]]


def trustee_cert(state: State, env: Envelope, ctx: Context) -> None:
    """``trustee.cert``: step 1, the trustee's certificate (§4.6.2), checked (step 2)."""
    bid, i, s = _ceremony_step(state, env, "cert", "certs")
    group = group_by_name(s["group"])
    cert = signed_msg_from_json(loads(env.body["cert"], "the certificate"), "certificate")
    if not check_cert(group, cert):
        raise ProofError(f"trustee {i + 1}'s certificate does not verify (§4.6.2)")
    if any(
        c is not None and loads(c, "cert") == loads(env.body["cert"], "cert") for c in s["certs"]
    ):
        raise ConflictError("this certificate is already another trustee's")
    s["certs"] = [*s["certs"][:i], env.body["cert"], *s["certs"][i + 1 :]]
    if all(c is not None for c in s["certs"]):
        s["phase"] = "polynomials"
    state.put("secret", bid, s)


def trustee_polynomial(state: State, env: Envelope, ctx: Context) -> None:
    """``trustee.polynomial``: step 3 (§4.6.4); its commitments are signed by its cert."""
    bid, i, s = _ceremony_step(state, env, "polynomial", "polynomials")
    group = group_by_name(s["group"])
    certs = ceremony_certs(s)
    p: Polynomial = parse_polynomial(env.body["polynomial"])
    if len(p.secrets) != len(certs):
        raise InputError(f"a polynomial carries {len(certs)} encrypted shares")
    if not verify_signed(group, cert_keys(group, certs[i]).verification, p.coefexps):
        raise ProofError(f"trustee {i + 1}'s coefficient commitments are not signed by it")
    if len(coefexps_values(group, p.coefexps, "coefexps")) != s["threshold"]:
        raise InputError(f"a polynomial has {s['threshold']} coefficients (the threshold)")
    s["polynomials"] = [*s["polynomials"][:i], env.body["polynomial"], *s["polynomials"][i + 1 :]]
    if all(x is not None for x in s["polynomials"]):
        s["phase"] = "voutputs"
    state.put("secret", bid, s)


def vinput_for(state: State, bid: str, i: int) -> Vinput:
    """Step 4 for trustee ``i`` (0-based): its shares routed from every polynomial (§4.6.5)."""
    s = secret_doc(state, bid)
    group = group_by_name(s["group"])
    polys = [parse_polynomial(p) for p in s["polynomials"]]
    return make_vinputs(group, ceremony_certs(s), polys)[i]


def trustee_voutput(state: State, env: Envelope, ctx: Context) -> None:
    """``trustee.voutput``: step 5 (§4.6.6), checked against the commitments; the last one
    fixes the threshold parameters (§4.6.7) and the election (§4.10)."""
    bid, i, s = _ceremony_step(state, env, "voutput", "voutputs")
    group = group_by_name(s["group"])
    vo = parse_voutput(env.body["voutput"])
    polys = [parse_polynomial(p) for p in s["polynomials"]]
    commitments = [coefexps_values(group, p.coefexps, "coefexps") for p in polys]
    if not check_voutput(group, commitments, i, vo):
        raise ProofError(f"trustee {i + 1}'s verification key does not match the shares")
    s["voutputs"] = [*s["voutputs"][:i], env.body["voutput"], *s["voutputs"][i + 1 :]]
    if all(x is not None for x in s["voutputs"]):
        params = make_threshold_parameters(
            group,
            ceremony_certs(s),
            polys,
            [parse_voutput(v) for v in s["voutputs"]],
            s["threshold"],
        )
        ballot = state.get("ballot", bid)
        election = open_election(
            group,
            s["uuid"],
            _text(ballot["title"]),
            _text(ballot["text"]),
            [question_of(ballot)],
            params,
        )
        s.update(phase="done", trustees_json=trustees_to_json([params]), election=election.raw)
        state.put("secret", bid, s)
        _maybe_open(state, bid, s)
        return
    state.put("secret", bid, s)


def ballot_election(state: State, bid: str) -> Election:
    """The fixed election of secret ballot ``bid`` (ConflictError before the ceremony ends)."""
    s = secret_doc(state, bid)
    if s["election"] is None:
        raise ConflictError(f"ballot {bid}'s key ceremony is not complete (step {s['phase']})")
    return _parse_election(s["election"])


_ELECTIONS: dict[str, Election] = {}


def _parse_election(raw: str) -> Election:
    # Parsing is cheap but precomputing the key's tables is not: keep one per election.
    e = _ELECTIONS.get(raw)
    if e is None:
        e = parse_election(raw)
        if len(_ELECTIONS) > 64:
            _ELECTIONS.clear()
        _ELECTIONS[raw] = e
    return e


# --- 3. casting -------------------------------------------------------------------------------


def vote_secret(
    state: State, env: Envelope, ctx: Context, ballot: dict[str, Any], voter: str
) -> dict[str, Any]:
    """Check a secret ``vote.cast`` for electorate key ``voter``; the vote document to store."""
    _fields(env.body, {"ballot", "belenios"})
    raw = env.body["belenios"]
    if not isinstance(raw, str):
        raise InputError("body.belenios must be the Belenios ballot's JSON text")
    bid = ballot["id"]
    election = ballot_election(state, bid)
    frozen = int(state.peek("credential", bid)[voter])
    verdict = check_ballot(election, raw)
    if not verdict.ok:
        if verdict.kind == "input":
            raise InputError(f"ballot {verdict.tracker}: {verdict.reason}")
        raise ProofError(f"ballot {verdict.tracker}: {verdict.reason}")
    if verdict.credential != frozen:
        listed = str(verdict.credential) in state.peek("credential", bid).values()
        if listed:
            raise ForbiddenError(
                f"ballot {verdict.tracker} is signed with another resident's credential: "
                f"{env.signer} votes only with the credential sealed to them"
            )
        raise ForbiddenError(
            f"ballot {verdict.tracker}: the credential is not in ballot {bid}'s frozen list"
        )
    return {"choice": None, "tracker": verdict.tracker, "belenios": raw}


# --- 4. the end of ballots and the encrypted tally --------------------------------------------


def _counted(state: State, bid: str) -> list[str]:
    keys: list[str] = state.peek("electorate", bid, [])
    votes = [state.peek("vote", f"{bid}/{k}") for k in keys]
    return [v["belenios"] for v in sorted((v for v in votes if v), key=lambda v: v["index"])]


def tally_of(state: State, bid: str) -> EncryptedTally:
    """The encrypted tally of the counted (last) ballot of each resident (§4.15, §4.16)."""
    election = ballot_election(state, bid)
    return encrypted_tally(election, [parse_ballot(raw) for raw in _counted(state, bid)])


def _tally_hash(t: EncryptedTally) -> str:
    return hashlib.sha256(t.ciphertexts_json().encode()).hexdigest()


def secret_close_body(state: State, bid: str) -> dict[str, Any]:
    """The ``ballot.close`` body the handler accepts for secret ballot ``bid``."""
    return {
        "ballot": bid,
        "electorate_hash": state.peek("ballot", bid)["electorate_hash"],
        "encrypted_tally": _tally_hash(tally_of(state, bid)),
    }


def close_secret(state: State, env: Envelope, ballot: dict[str, Any]) -> dict[str, Any]:
    """Check a secret close's tally hash; the ballot's new fields (status ``tallying``)."""
    _fields(env.body, {"ballot", "electorate_hash", "encrypted_tally"})
    bid = ballot["id"]
    t = tally_of(state, bid)
    if env.body["encrypted_tally"] != _tally_hash(t):
        raise RuleViolation(
            f"ballot {bid}: the close names encrypted tally {env.body['encrypted_tally']!r}, "
            f"the product of the counted ballots is {_tally_hash(t)}"
        )
    s = state.get("secret", bid)
    s["tally"] = {
        "num_tallied": t.num_tallied,
        "total_weight": t.total_weight,
        "ciphertexts": t.ciphertexts_json(),
    }
    state.put("secret", bid, s)
    return {"status": "tallying"}


def stored_tally(s: dict[str, Any]) -> EncryptedTally:
    """The encrypted tally recorded at the close (§4.16)."""
    t = s["tally"]
    sized = canonical_json(
        {"num_tallied": t["num_tallied"], "total_weight": t["total_weight"]}
    ).decode()
    return encrypted_tally_from_json(sized, t["ciphertexts"])


# --- 5. partial decryptions -------------------------------------------------------------------


def decrypt(state: State, env: Envelope, ctx: Context) -> None:
    """``trustee.decrypt``: a trustee's partial decryption of the tally, proofs checked."""
    _fields(env.body, {"ballot", "partial_decryption"})
    bid = env.body["ballot"]
    if not isinstance(bid, str):
        raise InputError("body.ballot must be a ballot id")
    s = secret_doc(state, bid)
    i = trustee_index(state, bid, env.signer)
    if s["tally"] is None:
        raise ConflictError(f"ballot {bid} has no encrypted tally yet: it is not closed")
    if str(i + 1) in s["partial_decryptions"]:
        raise ConflictError(f"trustee {i + 1} already decrypted ballot {bid}")
    text = env.body["partial_decryption"]
    if not isinstance(text, str):
        raise InputError("body.partial_decryption must be its JSON text (§4.18)")
    pd = parse_partial_decryption(text)
    election = ballot_election(state, bid)
    keys = trustee_public_keys(parse_trustees(s["trustees_json"]))
    reason = check_partial_decryption(election, stored_tally(s), pd, keys[i + 1])
    if reason is not None:
        raise ProofError(f"trustee {i + 1}'s partial decryption of ballot {bid}: {reason}")
    s = state.get("secret", bid)
    s["partial_decryptions"][str(i + 1)] = text
    state.put("secret", bid, s)


# --- 6. the result ----------------------------------------------------------------------------


def _decrypted(state: State, bid: str) -> tuple[tuple[int, ...], ...]:
    s = secret_doc(state, bid)
    if s["tally"] is None:
        raise ConflictError(f"ballot {bid} is not closed: there is no tally to decrypt")
    pds: dict[int, PartialDecryption] = {
        int(o): parse_partial_decryption(t) for o, t in s["partial_decryptions"].items()
    }
    if len(pds) < s["threshold"]:
        raise ConflictError(
            f"ballot {bid} has {len(pds)} valid partial decryptions; {s['threshold']} are needed"
        )
    election = ballot_election(state, bid)
    return combine_result(election, parse_trustees(s["trustees_json"]), stored_tally(s), pds)


def _result(
    state: State, bid: str, rows: tuple[tuple[int, ...], ...] | None = None
) -> dict[str, Any]:
    ballot = state.peek("ballot", bid)
    row = (rows or _decrypted(state, bid))[0]
    counts = result_counts(question_of(ballot), row)
    spec: BallotSpec = spec_from_doc(ballot)
    blank = counts.pop("blank", 0)
    if spec.kind == "yes_no":
        counts["abstain"] = blank
        blank = 0
    turnout = stored_tally(secret_doc(state, bid)).num_tallied
    out = result_from_counts(spec, counts, turnout, ballot["electorate_size"])
    out["blank"] = blank
    return out


def result_body(state: State, bid: str) -> dict[str, Any]:
    """The ``ballot.result`` body the handler accepts (ConflictError before k decryptions)."""
    return {"ballot": bid, "result": _result(state, bid)}


def record_result(state: State, env: Envelope, ctx: Context, ballot: dict[str, Any]) -> None:
    """``ballot.result``: the decrypted result, recomputed here from the decryptions."""
    bid = ballot["id"]
    if ballot["status"] != "tallying":
        raise ConflictError(f"ballot {bid} is {ballot['status']}, not awaiting its result")
    rows = _decrypted(state, bid)
    expected = _result(state, bid, rows)
    try:
        same = canonical_json(env.body["result"]) == canonical_json(expected)
    except InputError:
        same = False
    if not same:
        raise RuleViolation(f"ballot {bid}: the result is not what the partial decryptions give")
    b = dict(ballot)
    b.update(status="closed", result=expected, result_at=ctx.index, result_time=ctx.time_text)
    state.put("ballot", bid, b)
    # The Belenios result (§4.19) as recorded, for the export and the audit to check again.
    state.put("secret", bid, dict(secret_doc(state, bid), result=[list(r) for r in rows]))


# --- the export -------------------------------------------------------------------------------


def public_data(state: State, bid: str) -> PublicData:
    """Secret ballot ``bid`` as Belenios 2.0 public data (for the ``.bel`` export, §4.4)."""
    s = secret_doc(state, bid)
    election = ballot_election(state, bid)
    creds = sorted(int(c) for c in state.peek("credential", bid).values())
    tally = stored_tally(s) if s["tally"] is not None else None
    recorded = s.get("result")
    result = None if recorded is None else tuple(tuple(r) for r in recorded)
    return PublicData(
        election=election,
        trustees=s["trustees_json"],
        credentials=tuple(loads(credentials_json(creds), "credentials")),
        ballots=tuple(_counted(state, bid)),
        ballots_ended=tally is not None,
        tally=tally,
        partial_decryptions=tuple(sorted((int(o), t) for o, t in s["partial_decryptions"].items())),
        result=result,
        timestamp=0,
    )
