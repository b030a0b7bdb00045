"""Each community's web page on a district node verifies under its own /c/{origin}/."""

from __future__ import annotations

from pathlib import Path

import httpx

from node.launcher import start_node
from tests.support.web import browser
from tests.test_district import ELM, OAK, enrol, make_district, submit


def test_each_communitys_page_verifies_under_its_prefix(tmp_path: Path) -> None:
    data = make_district(tmp_path, None, [ELM, OAK])
    node = start_node(data)
    try:
        for i in range(2):
            assert submit(node.url, ELM, enrol(ELM, f"elm-{i}")).status_code == 201
        with browser() as b:
            for origin in (ELM, OAK):
                c = httpx.get(f"{node.url}/c/{origin}/v1/community").json()
                ctx = b.new_context()
                try:
                    page = ctx.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                    fragment = f"?vkey={c['log_vkey']}&genesis={c['genesis_hash']}"
                    page.goto(f"{node.url}/c/{origin}/#/community{fragment}")
                    page.wait_for_function(
                        "document.body.dataset.verification !== 'pending'", timeout=60_000
                    )
                    assert page.evaluate("document.body.dataset.verification") == "ok", origin
                    assert not errors, errors
                finally:
                    ctx.close()
    finally:
        node.kill()
