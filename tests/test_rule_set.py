"""The rule set is wired explicitly: one list of layers, the same for the node and the audit.

``ledger`` holds the rule engine and never names the layers above it; each layer exposes
its rules as a value, :func:`rules.community_rules` joins them, and every place that
replays (the sequencer, the witness and mirror replicas, the private store, the auditor)
runs under that one set.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from audits.verify import fresh_state
from funds.rules import FUNDS_TYPES
from ledger.errors import InputError
from ledger.ruleset import CommittedField, Rules, RuleSet
from ledger.state import Context, State
from ledger.statements import Envelope
from node.bootstrap import init_community
from node.context import open_context
from node.mirror import init_mirror
from rules import LAYERS, community_rules
from tests.factory import key

ROOT = Path(__file__).resolve().parent.parent
UPPER = ("voting", "funds")
# A string that names a module or statement type of an upper layer: "funds", "voting.rules",
# "funds.expense.request".
_UPPER_NAME = re.compile(r"^(voting|funds)(\.[A-Za-z_]\w*)*$")
_DYNAMIC_IMPORTS = {"import_module", "__import__", "find_spec", "spec_from_file_location"}


def upper_layer_names(source: str) -> list[str]:
    """Where ``source`` names voting or funds: imports, dynamic imports, module strings."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in UPPER]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in UPPER:
                out.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in _DYNAMIC_IMPORTS:
                # ledger loads no module by name at all: that is how it once reached upward.
                out.append(f"{name}(...) at line {node.lineno}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _UPPER_NAME.match(node.value)
        ):
            out.append(f"the string {node.value!r} at line {node.lineno}")
    return out


@pytest.mark.parametrize(
    "source",
    [
        "import voting.rules",
        "import funds",
        "from funds.rules import RULES",
        "import importlib\nimportlib.import_module(name)",
        "__import__('x')",
        "MODULES = ('ledger.community', 'voting.rules')",
        "T = 'funds.expense.request'",
    ],
)
def test_the_scan_finds_each_way_of_naming_an_upper_layer(source: str) -> None:
    assert upper_layer_names(source)


def test_the_scan_lets_plain_ledger_code_pass() -> None:
    assert upper_layer_names("from ledger.state import State\nX = 'member.enrol'\n") == []


def test_ledger_never_names_voting_or_funds() -> None:
    files = sorted((ROOT / "ledger").rglob("*.py"))
    assert len(files) > 10
    found = {
        str(p.relative_to(ROOT)): names
        for p in files
        if (names := upper_layer_names(p.read_text(encoding="utf-8")))
    }
    assert found == {}


# --- one list, the same for the node and the auditor ------------------------------------


def _fingerprint(rs: RuleSet) -> tuple[Any, ...]:
    """Everything a rule set decides: each type's handler object, validators, commitments."""
    return (
        [(t, rs.handler_for(t)) for t in rs.types()],
        rs.policy_validators,
        [(t, rs.committed_field(t)) for t in rs.types()],
    )


def test_the_community_rule_set_is_every_layer_once() -> None:
    rs = community_rules()
    assert [r.layer for r in LAYERS] == ["community", "keys", "voting", "funds"]
    assert rs.types() == sorted(t for r in LAYERS for t in r.types())
    assert set(FUNDS_TYPES) <= set(rs.types())
    assert {"community.genesis", "member.enrol", "ballot.open", "vote.cast"} <= set(rs.types())
    # The hooks that used to be registered at import time travel in the set.
    assert rs.committed_field("member.enrol") == CommittedField(
        "member.enrol", "unit_commitment", "key"
    )
    assert rs.committed_field("funds.expense.request") == CommittedField(
        "funds.expense.request", "payee_commitment", "payee_label"
    )
    assert rs.committed_field("vote.cast") is None
    assert len(rs.policy_validators) == 1
    assert _fingerprint(rs) == _fingerprint(community_rules())


def test_node_and_auditor_replay_under_the_same_rule_set(tmp_path: Path) -> None:
    chair = key("rule-set-chair")
    board = init_community(tmp_path / "seq", "civic.example/rules", [chair])
    init_mirror(tmp_path / "mirror", "http://127.0.0.1:9", board["log_vkey"])
    expected = _fingerprint(community_rules())
    seq = open_context(tmp_path / "seq", serve=True)
    try:
        sets = {
            "sequencer context": seq.rules,
            "sequencer state": seq.state().rules,
            "private store": seq.services["private"].rules,
        }
        mirror = open_context(tmp_path / "mirror", serve=True)
        try:
            sets["mirror context"] = mirror.rules
            sets["mirror replica state"] = mirror.state().rules
        finally:
            mirror.close()
    finally:
        seq.close()
    sets["auditor state"] = fresh_state().rules
    for where, rs in sets.items():
        assert _fingerprint(rs) == expected, where
        assert rs == community_rules(), where


# --- the rule set itself -----------------------------------------------------------------


def _noop(state: State, env: Envelope, ctx: Context) -> None:
    return None


def test_a_type_with_two_handlers_is_refused() -> None:
    a = Rules.of("a", {"x.do": _noop})
    b = Rules.of("b", {"x.do": _noop})
    with pytest.raises(ValueError, match=r"'x\.do' has a handler in both a and b"):
        RuleSet((a, b))


def test_a_committed_field_needs_its_layers_handler() -> None:
    bad = Rules.of("a", {"x.do": _noop}, committed_fields=[CommittedField("y.do", "c", "s")])
    with pytest.raises(ValueError, match=r"committed field of 'y\.do'"):
        RuleSet((bad,))


def test_an_unknown_type_lists_the_known_ones() -> None:
    rs = RuleSet((Rules.of("a", {"x.do": _noop, "w.do": _noop}),))
    with pytest.raises(InputError, match=r"unknown statement type 'z'; known types: w\.do, x\.do"):
        rs.handler_for("z")


def test_a_state_needs_a_rule_set() -> None:
    with pytest.raises(TypeError, match="RuleSet"):
        State(None)  # type: ignore[arg-type]


def test_a_private_payee_is_accepted_without_any_route_module(tmp_path: Path) -> None:
    # In a fresh interpreter that never imports the HTTP routes: the committed field is
    # the funds rules', so the sequencer keeps the payee's opening all the same.
    script = """
import json, sys
from pathlib import Path
from funds.bodies import document_body, expense_request_body, private_payee
from ledger.statements import make_statement, sign_envelope
from node.bootstrap import init_community
from node.context import open_context
from tests.factory import key

d, origin, chair = Path(sys.argv[1]), "civic.example/payee", key("payee-chair")
init_community(d, origin, [chair])
ctx = open_context(d, serve=True)
def env(type_, body):
    return sign_envelope(make_statement(origin, type_, body, chair.key_id), [chair])
doc = document_body(b"invoice", "text/plain", True)
fields, opening = private_payee("Jane Doe")
request = expense_request_body(
    500, "EUR", "garden", "2026", "hedge", [doc["sha256"]], private=fields
)
seq = ctx.services["sequencer"]
out = seq.submit([
    env("funds.budget.set", {"period": "2026", "category": "garden", "amount": 1000,
                             "currency": "EUR"}),
    env("funds.document.publish", doc),
    {**env("funds.expense.request", request), "private": opening},
])
held = ctx.private().read(fields["payee_label"])
ctx.close()
print(json.dumps({
    "results": [type(r).__name__ for r in out],
    "held": [h["value"] for h in held],
    "routes": sorted(m for m in sys.modules if m.startswith(("node.routes", "node.app"))),
}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "n")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got == {"results": ["Accepted"] * 3, "held": ["Jane Doe"], "routes": []}
