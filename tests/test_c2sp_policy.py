"""C2SP tlog-policy (ledger.c2sp.policy) and the trusted-checkpoint check (ledger.c2sp.trust)."""

from __future__ import annotations

import hashlib

import pytest

from ledger.c2sp.cosignature import cosigner_from_seed
from ledger.c2sp.note import add_signatures, parse_note, parse_vkey, sign_note
from ledger.c2sp.policy import (
    Policy,
    PolicyGroup,
    PolicyLog,
    PolicyWitness,
    format_policy,
    parse_policy,
    policy_satisfied,
)
from ledger.c2sp.trust import INVALID, MISSING, VALID, check_trust, trusted_checkpoint
from ledger.errors import InputError, SignatureError
from tests.support.c2sp_vectors import (
    ALICE,
    LOG,
    LOG_VKEY,
    ROOT,
    TESSERA,
    TS,
    WITNESSES,
    cosigned,
    log_checkpoint,
    quorum_policy,
    retimed,
    spec_example_policy_text,
)


def test_policy_spec_example() -> None:
    policy = parse_policy(spec_example_policy_text())
    assert [w.name for w in policy.witnesses] == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert [(g.name, g.threshold) for g in policy.groups] == [
        ("X-witnesses", 2),
        ("Y-witnesses", 1),
        ("X-and-Y", 2),
    ]
    assert policy.quorum == "X-and-Y"
    assert policy_satisfied(policy, {"X1", "X3", "Y2"})
    assert not policy_satisfied(policy, {"X1", "Y1", "Y2", "Y3"})
    assert not policy_satisfied(policy, {"X1", "X2", "X3"})
    assert parse_policy(format_policy(policy)) == policy


def test_policy_round_trip_with_urls_comments_and_tabs() -> None:
    w = [c.verifier() for c in WITNESSES]
    text = (
        "# a comment\n"
        f"  log\t{LOG.verifier().vkey()}   https://log.example/\n"
        "\n"
        f"witness a {w[0].vkey()} https://a.example/\n"
        f"\twitness b\t{w[1].vkey()}\n"
        f"witness c {w[2].vkey()}\n"
        "   # indented comment\n"
        "group g 2 a b c\n"
        "quorum g"  # no final newline
    )
    policy = parse_policy(text)
    assert policy.logs == (PolicyLog(LOG.verifier(), "https://log.example/"),)
    assert policy.witnesses[0] == PolicyWitness("a", w[0], "https://a.example/")
    assert policy.groups == (PolicyGroup("g", 2, ("a", "b", "c")),)
    formatted = format_policy(policy)
    assert parse_policy(formatted) == policy
    assert format_policy(parse_policy(formatted)) == formatted


def test_two_of_three_cosignatures_satisfy_quorum_two() -> None:
    cp, data = log_checkpoint()
    note = cosigned(data, WITNESSES[:2])
    assert trusted_checkpoint(note, quorum_policy(2)) == cp


def test_one_of_three_cosignatures_does_not_satisfy_quorum_two() -> None:
    _, data = log_checkpoint()
    note = cosigned(data, WITNESSES[:1])
    with pytest.raises(SignatureError, match=r"1 valid witness cosignature.*at least 2"):
        trusted_checkpoint(note, quorum_policy(2))


def test_unknown_cosigners_do_not_count() -> None:
    _, data = log_checkpoint()
    strangers = [cosigner_from_seed(f"stranger/{i}", bytes([i]) * 32) for i in range(3)]
    note = cosigned(data, [WITNESSES[0], *strangers])
    with pytest.raises(SignatureError, match="1 valid"):
        trusted_checkpoint(note, quorum_policy(2))


def test_bad_cosignature_from_policy_witness_rejects() -> None:
    _, data = log_checkpoint()
    body = parse_note(data).text
    bad = retimed(WITNESSES[2].cosign(body, TS), TS + 5)
    note = add_signatures(cosigned(data, WITNESSES[:2]), [bad])
    with pytest.raises(SignatureError, match="w3"):
        trusted_checkpoint(note, quorum_policy(2))


def test_cosignature_over_other_checkpoint_rejects() -> None:
    _, data = log_checkpoint(42)
    other, _ = log_checkpoint(43)
    sigs = [c.cosign(other.body(), TS) for c in WITNESSES]
    with pytest.raises(SignatureError):
        trusted_checkpoint(add_signatures(data, sigs), quorum_policy(2))


def test_quorum_none_needs_only_the_log() -> None:
    cp, data = log_checkpoint()
    policy = Policy((PolicyLog(LOG.verifier()),), (), (), "none")
    assert trusted_checkpoint(data, policy) == cp


def test_trusted_checkpoint_requires_policy_log() -> None:
    _, data = log_checkpoint()
    note = cosigned(data, WITNESSES)
    other_log = Policy((PolicyLog(ALICE.verifier()),), quorum_policy().witnesses, (), "w1")
    with pytest.raises(SignatureError, match="no known key"):
        trusted_checkpoint(note, other_log)
    no_logs = Policy((), quorum_policy().witnesses, (), "w1")
    with pytest.raises(SignatureError):
        trusted_checkpoint(note, no_logs)
    assert trusted_checkpoint(note, no_logs, log_verifiers=[LOG.verifier()]).size == 42


def test_trusted_checkpoint_log_name_must_be_origin() -> None:
    data = sign_note(f"other.example/log\n1\n{ROOT}\n", [LOG])
    with pytest.raises(SignatureError, match="origin"):
        trusted_checkpoint(data, Policy((PolicyLog(LOG.verifier()),), (), (), "none"))


def test_nested_group_quorum_through_trusted_checkpoint() -> None:
    policy = parse_policy(spec_example_policy_text().replace(LOG.verifier().vkey(), LOG_VKEY))
    assert policy.logs[0].verifier == parse_vkey(LOG_VKEY)
    keys = {
        n: cosigner_from_seed(f"w.example/{n}", hashlib.sha256(n.encode()).digest())
        for n in ("X1", "X2", "X3", "Y1", "Y2", "Y3")
    }
    tessera = (TESSERA / "checkpoint.15").read_bytes()
    ok = cosigned(tessera, [keys["X1"], keys["X3"], keys["Y2"]])
    assert trusted_checkpoint(ok, policy).size == 15
    short = cosigned(tessera, [keys["X1"], keys["Y1"], keys["Y2"]])
    with pytest.raises(SignatureError, match=r"3 valid .* at least 3"):
        trusted_checkpoint(short, policy)


def _policy_text(*lines: str) -> str:
    return "\n".join(lines) + "\n"


W = [c.verifier().vkey() for c in WITNESSES]


L = LOG.verifier().vkey()


INVALID_POLICIES = {
    "no-quorum": _policy_text(f"log {L}", f"witness a {W[0]}"),
    "two-quorums": _policy_text(f"witness a {W[0]}", "quorum a", "quorum none"),
    "quorum-undefined": _policy_text(f"witness a {W[0]}", "quorum b"),
    "quorum-forward-reference": _policy_text("quorum a", f"witness a {W[0]}"),
    "unknown-keyword": _policy_text("monitor x", "quorum none"),
    "log-extra-items": _policy_text(f"log {L} url extra", "quorum none"),
    "log-with-cosigner-key": _policy_text(f"log {W[0]}", "quorum none"),
    "witness-with-log-key": _policy_text(f"witness a {L}", "quorum none"),
    "witness-missing-key": _policy_text("witness a", "quorum none"),
    "witness-named-none": _policy_text(f"witness none {W[0]}", "quorum none"),
    "duplicate-witness-name": _policy_text(f"witness a {W[0]}", f"witness a {W[1]}", "quorum a"),
    "duplicate-witness-key": _policy_text(f"witness a {W[0]}", f"witness b {W[0]}", "quorum a"),
    "duplicate-log-key": _policy_text(f"log {L}", f"log {L} https://x/", "quorum none"),
    "group-name-clashes-witness": _policy_text(f"witness a {W[0]}", "group a any a", "quorum a"),
    "group-undefined-member": _policy_text(f"witness a {W[0]}", "group g any a b", "quorum g"),
    "group-forward-member": _policy_text("group g any a", f"witness a {W[0]}", "quorum g"),
    "group-member-none": _policy_text(f"witness a {W[0]}", "group g any a none", "quorum g"),
    "group-member-twice": _policy_text(f"witness a {W[0]}", "group g 1 a a", "quorum g"),
    "member-in-two-groups": _policy_text(
        f"witness a {W[0]}", f"witness b {W[1]}", "group g any a", "group h any a b", "quorum h"
    ),
    "group-threshold-zero": _policy_text(f"witness a {W[0]}", "group g 0 a", "quorum g"),
    "group-threshold-too-big": _policy_text(f"witness a {W[0]}", "group g 2 a", "quorum g"),
    "group-threshold-leading-zero": _policy_text(f"witness a {W[0]}", "group g 01 a", "quorum g"),
    "group-threshold-word": _policy_text(f"witness a {W[0]}", "group g some a", "quorum g"),
    "group-no-members": _policy_text(f"witness a {W[0]}", "group g any", "quorum a"),
    "control-character": _policy_text(f"witness a {W[0]}\r", "quorum a"),
    "trailing-comment": _policy_text(f"witness a {W[0]} # comment", "quorum a"),
}


@pytest.mark.parametrize("text", INVALID_POLICIES.values(), ids=INVALID_POLICIES.keys())
def test_invalid_policies(text: str) -> None:
    with pytest.raises(InputError):
        parse_policy(text)


def test_policy_error_names_line() -> None:
    with pytest.raises(InputError, match="policy line 3"):
        parse_policy(_policy_text(f"witness a {W[0]}", "", "group g any a b", "quorum g"))


def test_policy_constructor_validates() -> None:
    w = PolicyWitness("a", WITNESSES[0].verifier())
    with pytest.raises(InputError):
        Policy((), (w,), (), "b")
    with pytest.raises(InputError):
        Policy((), (w,), (PolicyGroup("g", 2, ("a",)),), "g")
    with pytest.raises(InputError):
        Policy((), (w, PolicyWitness("b", WITNESSES[0].verifier())), (), "a")


def test_policy_satisfied_single_witness_and_none() -> None:
    w = PolicyWitness("a", WITNESSES[0].verifier())
    assert policy_satisfied(Policy((), (w,), (), "a"), {"a"})
    assert not policy_satisfied(Policy((), (w,), (), "a"), set())
    assert policy_satisfied(Policy((), (w,), (), "none"), set())


# --- the inspectable result of the one trusted-checkpoint check ---------------------------


def test_check_trust_lists_every_witness_and_the_quorum() -> None:
    cp, data = log_checkpoint()
    body = parse_note(data).text
    bad = retimed(WITNESSES[2].cosign(body, TS), TS + 5)
    note = add_signatures(cosigned(data, WITNESSES[:1]), [bad])
    result = check_trust(note, quorum_policy(2))
    assert result.checkpoint == cp and result.log_ok and result.log_error is None
    assert [(c.witness, c.status) for c in result.cosignatures] == [
        ("w1", VALID),
        ("w2", MISSING),
        ("w3", INVALID),
    ]
    w1 = result.cosignatures[0]
    assert w1.timestamp == TS and w1.signature is not None
    assert w1.key == f"{WITNESSES[0].name}+{WITNESSES[0].key_hash.hex()}"
    assert result.cosigned_by == ("w1",) and [c.witness for c in result.invalid] == ["w3"]
    assert (result.quorum, result.quorum_needs, result.quorum_met) == ("witnesses", 2, False)
    assert not result.trusted
    # The first failing rule is the bad cosignature (it rejects the note), as raised.
    problem = result.problem()
    assert problem is not None and "'w3'" in problem and "does not verify" in problem
    with pytest.raises(SignatureError, match="'w3'"):
        trusted_checkpoint(note, quorum_policy(2))
    assert "NOT met" in result.summary() and "w3's cosignature" in result.summary()


def test_check_trust_reports_a_bad_log_signature_without_raising() -> None:
    _, data = log_checkpoint()
    note = cosigned(sign_note(parse_note(data).text, [ALICE]), WITNESSES)
    result = check_trust(note, quorum_policy(2))
    assert result.checkpoint is None and not result.log_ok and not result.trusted
    assert result.log_error is not None and "no known key" in result.log_error
    # The witnesses' cosignatures are over the same text and still listed.
    assert result.cosigned_by == ("w1", "w2", "w3") and result.quorum_met
    assert result.problem() == result.log_error
    assert "not signed by the log" in result.summary()


def test_check_trust_met_and_trusted() -> None:
    cp, data = log_checkpoint()
    result = check_trust(cosigned(data, WITNESSES[1:]), quorum_policy(2))
    assert result.trusted and result.problem() is None and result.checkpoint == cp
    assert result.cosigned_by == ("w2", "w3") and result.summary().endswith("quorum met")


def test_check_trust_refuses_malformed_notes() -> None:
    with pytest.raises(InputError):
        check_trust(b"not a note", quorum_policy(2))
