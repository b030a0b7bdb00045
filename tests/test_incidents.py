"""incident.report and revocation through a real node, and the audit's evidence when a
sequencer accepts a statement signed with a revoked key anyway (a forged log)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from audits.audit import AuditOptions, run_audit
from ledger import merkle
from ledger.log import Log
from ledger.records import build_record, format_time
from ledger.sql import SqlStore
from ledger.statements import make_statement, sign_envelope
from ledger.storage import StateChange
from node.bootstrap import init_community
from node.config import load_log_key
from node.launcher import free_port, start_node
from tests.factory import key
from tests.support.audit import COMMITTEE, ORIGIN, enrol_env

MALLORY = key("incident-mallory")


def _incident_env(revoke: list[str]) -> dict[str, Any]:
    body = {
        "kind": "member_key_compromise",
        "summary": "a resident reported their phone stolen",
        "actions": "the key is revoked; the resident enrols again with a new key",
        "keys": revoke,
        "revoke": revoke,
    }
    st = make_statement(ORIGIN, "incident.report", body, COMMITTEE[0].key_id)
    return sign_envelope(st, COMMITTEE)


def _rotate_env(old: Any, label: str) -> dict[str, Any]:
    new = key(label)
    body = {"old": old.key_id, "new": new.key_id}
    return sign_envelope(make_statement(ORIGIN, "member.rotate", body, old.key_id), [old, new])


def _forge(seq_dir: Path, env: dict[str, Any]) -> int:
    """Append ``env`` straight into a stopped sequencer's log, as a sequencer that ignored
    the rules would (the views are not replayed: only the log and its checkpoint)."""
    store = SqlStore(f"sqlite+pysqlite:///{seq_dir / 'ledger.sqlite'}")
    try:
        log = Log(store, ORIGIN, load_log_key(seq_dir))
        index = log.size
        data = build_record(index, log.head, format_time(datetime.now(UTC)), env)
        leaf = merkle.leaf_hash(data).hex()
        log.append([data], StateChange([], index + 1, leaf))
        return index
    finally:
        store.close()


def test_revocation_refuses_later_statements_and_the_audit_flags_a_forged_one(
    tmp_path: Path,
) -> None:
    seq_dir = tmp_path / "seq"
    info = init_community(seq_dir, ORIGIN, COMMITTEE)
    proc = start_node(seq_dir, free_port(), log_file=tmp_path / "seq.log")
    try:
        with httpx.Client(timeout=30) as http:
            url = proc.url
            r = http.post(url + "/v1/statements", json=enrol_env(MALLORY))
            assert r.status_code == 201, r.text
            # Only one committee signature: the quorum (2 of 2) refuses it; nothing changes.
            lone = _incident_env([MALLORY.key_id])
            lone["signatures"] = lone["signatures"][:1]
            r = http.post(url + "/v1/statements", json=lone)
            assert r.status_code == 403 and "committee members" in r.json()["detail"]
            r = http.post(url + "/v1/statements", json=_incident_env([MALLORY.key_id]))
            assert r.status_code == 201, r.text
            at = r.json()["index"]
            got = http.get(url + "/v1/incidents").json()
            assert got["incidents"][0]["kind"] == "member_key_compromise"
            assert got["revoked"][MALLORY.key_id]["at"] == at
            # From the incident record on, statements signed with the key are refused.
            r = http.post(url + "/v1/statements", json=_rotate_env(MALLORY, "mallory-2"))
            assert r.status_code == 403, r.text
            problem = r.json()
            assert r.headers["content-type"].startswith("application/problem+json")
            assert f"revoked by incident record {at}" in problem["detail"]
            assert (
                http.get(url + f"/v1/members/{MALLORY.key_id}").json()["resident"]["status"]
                == "revoked"
            )
            clean = run_audit(AuditOptions(nodes=[url], vkey=info["log_vkey"], workers=0))
            assert clean.verdict == "clean", [f.message for f in clean.findings]
        proc.kill()
        forged = _forge(seq_dir, _rotate_env(MALLORY, "mallory-3"))
        proc.restart(log_file=tmp_path / "seq.log")
        from node.launcher import wait_healthy

        wait_healthy(proc.url, proc=proc.proc)
        rep = run_audit(AuditOptions(nodes=[proc.url], vkey=info["log_vkey"], workers=0))
        assert rep.verdict == "evidence"
        hits = [f for f in rep.findings if f.code == "record.revoked_key"]
        assert [f.index for f in hits] == [forged], [f.message for f in rep.findings]
        assert f"incident record {at} revoked" in hits[0].message
        assert not [f for f in rep.findings if f.code == "rule.violation"]
    finally:
        proc.kill()
