"""The node's OpenAPI says what the API does: typed bodies, problem+json for every error,
problem types that the node itself serves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from node.app import create_app
from node.bootstrap import init_community
from node.problems import PROBLEM_TYPES
from tests.factory import key

PROBLEM = "application/problem+json"
ORIGIN = "civic.example/openapi"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    d = tmp_path_factory.mktemp("openapi") / "n"
    init_community(d, ORIGIN, [key("openapi-chair")])
    with TestClient(create_app(d)) as c:
        yield c


@pytest.fixture(scope="module")
def spec(client: TestClient) -> dict[str, Any]:
    got: dict[str, Any] = client.get("/openapi.json").json()
    return got


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            yield path, method.upper(), op


def test_every_error_is_documented_as_a_problem(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    # FastAPI's own validation shape is never answered, so it is not documented.
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, method, op in _operations(spec):
        for code, answer in op["responses"].items():
            if int(code) < 400 or (path, code) == ("/healthz", "503"):
                continue
            content = answer.get("content", {})
            assert PROBLEM in content, f"{method} {path} {code}"
            assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
            assert "application/json" not in content, f"{method} {path} {code}"


def test_every_json_answer_has_a_model(spec: dict[str, Any]) -> None:
    for path, method, op in _operations(spec):
        for code, answer in op["responses"].items():
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            if schema is not None:
                assert schema != {}, f"{method} {path} {code} has no model"


def test_routes_with_parameters_document_their_422(spec: dict[str, Any]) -> None:
    for path, method, op in _operations(spec):
        constrained = [
            p
            for p in op.get("parameters", [])
            if p["in"] == "query" and set(p["schema"]) & {"pattern", "minimum", "maximum"}
        ]
        if constrained:
            assert "422" in op["responses"], f"{method} {path}"


def test_statement_and_document_bodies(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/v1/statements"]["post"]["requestBody"]["content"]["application/json"]
    envelope = {"$ref": "#/components/schemas/Envelope"}
    batch = {"type": "array", "items": envelope, "minItems": 1, "maxItems": 1000}
    assert body["schema"]["anyOf"] == [envelope, batch]
    env = spec["components"]["schemas"]["Envelope"]
    assert set(env["properties"]) == {"statement", "signatures", "private"}
    assert set(env["required"]) == {"statement", "signatures"}
    assert env["additionalProperties"] is False
    statement = spec["components"]["schemas"]["Statement"]
    assert set(statement["required"]) == {
        "v",
        "community",
        "type",
        "signer",
        "nonce",
        "created",
        "body",
    }
    answers = spec["paths"]["/v1/statements"]["post"]["responses"]
    assert {"200", "201", "401", "403", "409", "413", "422"} <= set(answers)
    docs = spec["paths"]["/v1/documents"]["post"]
    media = docs["requestBody"]["content"]
    assert "application/pdf" in media and "application/octet-stream" in media
    assert media["application/pdf"]["schema"]["format"] == "binary"
    assert {"400", "401", "403", "413"} <= set(docs["responses"])


def test_problem_types_are_served(client: TestClient) -> None:
    r = client.get("/v1/records/99")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    page = client.get(r.json()["type"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    assert "404" in page.text
    for slug, _text in PROBLEM_TYPES.values():
        assert client.get(f"/problems/{slug}").status_code == 200
    missing = client.get("/problems/no-such-type")
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/not-found"


def test_a_validation_error_is_a_problem_with_its_type(client: TestClient) -> None:
    r = client.get("/v1/proofs/consistency?first=x&second=1")
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "/problems/unprocessable"
    assert "first" in r.json()["detail"]


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    r = client.post("/v1/members/ed25519:x/private")
    assert r.status_code == 405 and r.headers["content-type"] == PROBLEM
    assert r.headers["allow"] == "DELETE, GET"
