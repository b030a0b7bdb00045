"""``GET /metrics``: a running node scraped and parsed, against what its API answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from node.bootstrap import init_community
from node.launcher import NodeProcess, start_node
from tests.test_district import ELM, OAK, enrol, make_district, submit

ORIGIN = "civic.example/metrics-garden"


@pytest.fixture
def procs() -> Iterator[list[NodeProcess]]:
    started: list[NodeProcess] = []
    yield started
    for p in started:
        p.kill()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``url``/metrics by (name, sorted labels)."""
    r = httpx.get(url + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def one(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_single_community_metrics_equal_the_api(tmp_path: Path, procs: list[NodeProcess]) -> None:
    from tests.test_district import CHAIR

    data = tmp_path / "node"
    init_community(data, ORIGIN, [CHAIR])
    node = start_node(data)
    procs.append(node)
    envs = [enrol_single(i) for i in range(3)]
    for env in envs:
        assert httpx.post(node.url + "/v1/statements", json=env).status_code == 201
    replay = httpx.post(node.url + "/v1/statements", json=envs[0])
    assert replay.status_code >= 400
    reason = replay.json()["type"].rsplit("/", 1)[-1]
    m = scrape(node.url)
    assert one(m, "civic_statements_accepted_total", origin=ORIGIN) == 3
    assert one(m, "civic_statements_rejected_total", origin=ORIGIN, reason=reason) == 1
    size = httpx.get(node.url + "/v1/community").json()["size"]
    assert size == 4 and one(m, "civic_tree_size", origin=ORIGIN) == size
    # Each single submission was its own group commit here: 3 batches of 1 statement.
    assert one(m, "civic_batch_size_count", origin=ORIGIN) == 3
    assert one(m, "civic_batch_size_sum", origin=ORIGIN) == 3
    assert one(m, "civic_batch_size_bucket", origin=ORIGIN, le="1.0") == 3
    assert one(m, "civic_commit_seconds_count", origin=ORIGIN) == 3
    assert one(m, "civic_commit_seconds_sum", origin=ORIGIN) > 0
    assert one(m, "civic_evidence", origin=ORIGIN) == 0
    assert one(m, "civic_community_up", origin=ORIGIN) == 1


def enrol_single(i: int) -> dict[str, Any]:
    from ledger.community import commitment
    from ledger.statements import make_statement, sign_envelope
    from tests.factory import key
    from tests.test_district import CHAIR

    label = f"metrics-{i}"
    body = {"key": key(label).key_id, "unit_commitment": commitment(label, b"s" * 16)}
    return sign_envelope(make_statement(ORIGIN, "member.enrol", body, CHAIR.key_id), [CHAIR])


def test_district_metrics_are_per_community(tmp_path: Path, procs: list[NodeProcess]) -> None:
    data = make_district(tmp_path, None, [ELM, OAK])
    node = start_node(data)
    procs.append(node)
    for i in range(3):
        assert submit(node.url, ELM, enrol(ELM, f"elm-{i}")).status_code == 201
    batch = [enrol(OAK, "oak-0"), enrol(OAK, "oak-1"), enrol(ELM, "elm-in-oak")]
    r = httpx.post(f"{node.url}/c/{OAK}/v1/statements", json=batch)
    results = r.json()["results"]
    assert [x["status"] for x in results][:2] == [201, 201] and results[2]["status"] != 201
    reason = results[2]["type"].rsplit("/", 1)[-1]
    m = scrape(node.url)
    assert one(m, "civic_statements_accepted_total", origin=ELM) == 3
    assert one(m, "civic_statements_accepted_total", origin=OAK) == 2
    assert one(m, "civic_statements_rejected_total", origin=OAK, reason=reason) == 1
    assert ("civic_statements_rejected_total", (("origin", ELM), ("reason", reason))) not in m
    for origin in (ELM, OAK):
        size = httpx.get(f"{node.url}/c/{origin}/v1/community").json()["size"]
        assert one(m, "civic_tree_size", origin=origin) == size
    assert one(m, "civic_batch_size_sum", origin=OAK) == 2
    assert one(m, "civic_batch_size_sum", origin=ELM) == 3
    # A community's own prefix serves its own series only.
    own = scrape(f"{node.url}/c/{OAK}")
    assert {dict(k[1]).get("origin") for k in own} == {OAK}


def test_cosignature_lag_while_the_witness_is_away(
    tmp_path: Path, procs: list[NodeProcess]
) -> None:
    from ledger.c2sp.cosignature import generate_cosigner
    from node.launcher import free_port
    from tests.test_district import CHAIR

    silent = generate_cosigner("away.example").verifier().vkey()
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    data = tmp_path / "node"
    init_community(
        data, ORIGIN, [CHAIR], [{"name": "away.example", "vkey": silent, "url": url}], quorum=1
    )
    node = start_node(data)
    procs.append(node)
    for env in (enrol_single(0), enrol_single(1)):
        assert httpx.post(node.url + "/v1/statements", json=env).status_code == 201
    m = scrape(node.url)
    witnessed = httpx.get(node.url + "/v1/checkpoints/witnessed")
    assert witnessed.status_code == 404  # no checkpoint meets the quorum yet
    assert one(m, "civic_cosignature_lag_entries", origin=ORIGIN) == 3
    assert one(m, "civic_cosignature_lag_seconds", origin=ORIGIN) > 0
