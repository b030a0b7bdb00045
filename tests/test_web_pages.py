"""The community page in headless Chromium against a real demo community (five nodes).

Every page, in both languages, must reach ``data-verification="ok"`` and show the API's
figures; a tampering proxy in front of the sequencer (forged record, wrong root, rolled
back checkpoint, cosignatures short of the quorum) must turn it ``failed``, naming the
check. Screenshots of every page in both languages go to tests/output/screenshots/.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo import DEMO_PASSPHRASE, build_demo
from ledger.community import commitment
from ledger.keys import load_key_file
from ledger.statements import make_statement, sign_envelope
from node.launcher import NodeProcess
from tests.support.web import ROOT, SCREENSHOTS, browser, start_nodes
from tests.test_demo import _free_block
from tests.web_proxy import tamper_proxy

# One demo and one browser per module: keep the tests on one xdist worker.
pytestmark = pytest.mark.xdist_group("web-demo")

PAGES = [
    "community",
    "ballots",
    "ballots/{closed}",
    "ballots/{budget}",
    "ballots/{secret}",
    "budget",
    "expenses",
    "accounts",
]


@dataclass
class Demo:
    data: Path
    nodes: list[NodeProcess]
    seq: str
    mirror: str
    vkey: str
    genesis: str
    info: dict[str, Any]

    def fragment(self) -> str:
        return f"?vkey={self.vkey}&genesis={self.genesis}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data = tmp_path_factory.mktemp("web") / "demo"
    port = _free_block()
    info = build_demo(data, records=60, port=port)
    nodes = start_nodes(data, port)
    try:
        seq = nodes[0].url
        c = httpx.get(seq + "/v1/community").json()
        mirror = next(n.url for n in nodes if n.role == "mirror")
        yield Demo(data, nodes, seq, mirror, c["log_vkey"], c["genesis_hash"], info)
    finally:
        for n in reversed(nodes):
            n.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser() as b:
        yield b


def open_page(ctx: Any, url: str, timeout: float = 60_000) -> Any:
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("document.body.dataset.verification !== 'pending'", timeout=timeout)
    page.errors = errors
    return page


def checks(page: Any) -> dict[str, str]:
    return page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.check')].map(li => [li.dataset.check, li.dataset.status]))"
    )


def digits(text: str) -> str:
    return re.sub(r"[^0-9-]", "", text)


def goto_route(page: Any, base: str, route: str) -> None:
    page.goto(f"{base}/#/{route}")
    page.reload()
    page.wait_for_function("document.body.dataset.verification !== 'pending'", timeout=60_000)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_verifies_and_shows_the_apis_figures(
    demo: Demo, chromium: Any, lang: str
) -> None:
    ctx = chromium.new_context(
        locale="zh-CN" if lang == "zh" else "en-GB", viewport={"width": 1280, "height": 900}
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ballots = demo.info["voting"]["ballots"]
    try:
        page = open_page(ctx, f"{demo.seq}/#/community{demo.fragment()}")
        # The browser's language is the default.
        assert page.evaluate("document.documentElement.lang").startswith(lang)
        api = {
            p: httpx.get(demo.seq + p).json()
            for p in [
                "/v1/community",
                "/v1/ballots",
                "/v1/funds/budget",
                "/v1/funds/expenses",
                "/v1/funds/accounts",
            ]
        }
        for route in PAGES:
            route = route.format(
                closed=ballots["cleaning_day"],
                budget=ballots["budget"],
                secret=demo.info["voting"]["secret"]["ballot"],
            )
            goto_route(page, demo.seq, route)
            assert page.evaluate("document.body.dataset.verification") == "ok", (
                route,
                checks(page),
            )
            assert set(checks(page).values()) == {"pass"}, (route, checks(page))
            page.screenshot(
                path=str(SCREENSHOTS / f"{lang}-{route.replace('/', '-')}.png"), full_page=True
            )
            if route == "community":
                assert page.text_content("[data-figure=origin]") == api["/v1/community"]["origin"]
                assert (
                    int(digits(page.text_content("[data-figure=members]")))
                    == api["/v1/community"]["members"]
                )
            elif route == "ballots":
                shown = page.eval_on_selector_all(
                    "[data-ballot]",
                    "els => els.map(e => [e.dataset.ballot, e.querySelector('[data-figure=title]').textContent])",
                )
                assert shown == [[b["id"], b["title"][lang]] for b in api["/v1/ballots"]["ballots"]]
            elif route.startswith("ballots/"):
                bid = route.split("/")[1]
                res = httpx.get(f"{demo.seq}/v1/ballots/{bid}/result").json()
                result = res["result"] or res["provisional"]
                counts = page.eval_on_selector_all(
                    "[data-count]",
                    "els => Object.fromEntries(els.map(e => [e.dataset.count, e.textContent]))",
                )
                assert {k: int(digits(v)) for k, v in counts.items()} == result["counts"]
                assert (
                    page.text_content("h1[data-figure=title]")
                    == httpx.get(f"{demo.seq}/v1/ballots/{bid}").json()["title"][lang]
                )
                assert str(result["electorate_size"]) in digits(
                    page.text_content("[data-figure=electorate]")
                )
            elif route == "budget":
                for line in api["/v1/funds/budget"]["lines"]:
                    for field in ("budgeted", "requested", "committed", "spent", "remaining"):
                        cell = page.text_content(f"[data-line='{line['key']}'][data-field={field}]")
                        assert int(digits(cell)) == line[field], (line["key"], field, cell)
                assert page.locator("svg.chart").count() >= 1
            elif route == "expenses":
                for e in api["/v1/funds/expenses"]["expenses"]:
                    assert (
                        int(
                            digits(
                                page.text_content(
                                    f"[data-expense='{e['id']}'] [data-figure=amount]"
                                )
                            )
                        )
                        == e["amount"]
                    )
            elif route == "accounts":
                for a in api["/v1/funds/accounts"]["accounts"]:
                    assert (
                        int(digits(page.text_content(f"[data-account='{a['id']}']")))
                        == a["balance"]
                    )
        assert page.errors == []
    finally:
        ctx.close()


def test_documents_are_checked_on_download_and_export_offered(demo: Demo, chromium: Any) -> None:
    ctx = chromium.new_context(accept_downloads=True)
    try:
        page = open_page(ctx, f"{demo.seq}/#/expenses{demo.fragment()}")
        assert page.evaluate("document.body.dataset.verification") == "ok"
        expenses = httpx.get(demo.seq + "/v1/funds/expenses").json()["expenses"]
        docs = {
            d["sha256"]: d for d in httpx.get(demo.seq + "/v1/funds/documents").json()["documents"]
        }
        public = next(d for e in expenses for d in e["documents"] if docs[d]["public"])
        with page.expect_download() as dl:
            page.click(f"[data-download='{public}']")
        assert (
            page.get_attribute(
                f"[data-download='{public}'] + * + [data-doc], [data-download='{public}'] ~ [data-doc]",
                "data-doc",
            )
            == "ok"
        )
        import hashlib

        assert hashlib.sha256(Path(dl.value.path()).read_bytes()).hexdigest() == public
        goto_route(page, demo.seq, "accounts")
        with page.expect_download() as dl2:
            page.click("#export-transactions")
        rows = Path(dl2.value.path()).read_text().splitlines()
        txs = httpx.get(demo.seq + "/v1/funds/transactions").json()["transactions"]
        assert rows[0].startswith("record_index,leaf_hash,time,kind")
        assert [r.split(",")[:2] for r in rows[1:]] == [
            [str(t["index"]), t["leaf_hash"]] for t in txs
        ]
    finally:
        ctx.close()


def test_a_mirror_serves_a_page_that_verifies(demo: Demo, chromium: Any) -> None:
    ctx = chromium.new_context()
    try:
        page = open_page(ctx, f"{demo.mirror}/#/budget{demo.fragment()}")
        assert page.evaluate("document.body.dataset.verification") == "ok", checks(page)
    finally:
        ctx.close()


def test_the_page_stays_pending_without_a_trust_root_and_refuses_a_wrong_one(
    demo: Demo, chromium: Any
) -> None:
    ctx = chromium.new_context()
    try:
        page = ctx.new_page()
        page.goto(demo.seq + "/")
        page.wait_for_selector("#trust-vkey")
        assert page.evaluate("document.body.dataset.verification") == "pending"
        # A genesis hash that is not this log's: the page fails on "genesis".
        page.fill("#trust-vkey", demo.vkey)
        page.fill("#trust-genesis", "ab" * 32)
        page.click("button[type=submit]")
        page.wait_for_function("document.body.dataset.verification !== 'pending'", timeout=60_000)
        assert page.evaluate("document.body.dataset.verification") == "failed"
        assert checks(page)["genesis"] == "fail"
    finally:
        ctx.close()


def _grow_log(demo: Demo) -> int:
    """Append one record (an enrolment by the chair) and wait for its cosigned checkpoint."""
    chair = load_key_file(demo.data / "keys" / "alice.key", DEMO_PASSPHRASE)
    from ledger.keys import generate_keypair

    body = {
        "key": generate_keypair().key_id,
        "unit_commitment": commitment("Block 9, Flat 9", b"\x01" * 16),
    }
    env = sign_envelope(
        make_statement(demo.info["origin"], "member.enrol", body, chair.key_id), [chair]
    )
    r = httpx.post(demo.seq + "/v1/statements", json=env, timeout=60)
    assert r.status_code == 201, r.text
    size = r.json()["index"] + 1
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        note = httpx.get(demo.seq + "/log/checkpoint").text
        if note.split("\n")[1] == str(size) and note.count("witness") >= 2:
            return size
        time.sleep(0.3)
    raise AssertionError("the new checkpoint was never cosigned")


@pytest.mark.parametrize(
    ("mode", "route", "check"),
    [
        ("forged-record", "budget", "inclusion"),
        ("wrong-root", "community", "log signature"),
        ("short-quorum", "community", "witness quorum"),
    ],
)
def test_a_tampering_node_turns_the_page_red(
    demo: Demo, chromium: Any, mode: str, route: str, check: str
) -> None:
    budget = httpx.get(demo.seq + "/v1/funds/budget").json()
    with tamper_proxy(demo.seq) as proxy:
        proxy.mode = mode
        proxy.forge_index = budget["lines"][0]["set_at"]
        ctx = chromium.new_context()
        try:
            page = open_page(ctx, f"{proxy.url}/#/{route}{demo.fragment()}")
            assert page.evaluate("document.body.dataset.verification") == "failed"
            got = checks(page)
            assert got[check] == "fail", got
            assert page.text_content(f"[data-check='{check}'] .check-detail")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"tampered-{mode}.png"), full_page=True)
        finally:
            ctx.close()


def test_a_rolled_back_checkpoint_is_caught_with_both_checkpoints_as_evidence(
    demo: Demo, chromium: Any
) -> None:
    old = httpx.get(demo.seq + "/log/checkpoint").content
    _grow_log(demo)
    with tamper_proxy(demo.seq) as proxy:
        ctx = chromium.new_context()
        try:
            page = open_page(ctx, f"{proxy.url}/#/community{demo.fragment()}")
            assert page.evaluate("document.body.dataset.verification") == "ok", checks(page)
            newest = httpx.get(demo.seq + "/log/checkpoint").text
            proxy.mode, proxy.old_checkpoint = "rollback", old
            page.reload()
            page.wait_for_function(
                "document.body.dataset.verification !== 'pending'", timeout=60_000
            )
            assert page.evaluate("document.body.dataset.verification") == "failed"
            assert checks(page)["consistency"] == "fail"
            assert "ROLLBACK" in page.text_content("[data-check=consistency] .check-detail")
            assert page.text_content("[data-evidence=old]") == newest
            assert page.text_content("[data-evidence=new]") == old.decode()
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "tampered-rollback.png"), full_page=True)
            # The remembered checkpoint is not overwritten: the alarm stays on the next visit.
            page.reload()
            page.wait_for_function(
                "document.body.dataset.verification !== 'pending'", timeout=60_000
            )
            assert checks(page)["consistency"] == "fail"
        finally:
            ctx.close()


def _open_residents(demo: Demo, chromium: Any) -> tuple[Any, Any]:
    ctx = chromium.new_context(accept_downloads=True)
    page = open_page(ctx, f"{demo.seq}/#/residents{demo.fragment()}")
    assert page.evaluate("document.body.dataset.verification") == "ok", checks(page)
    return ctx, page


def test_a_resident_votes_from_the_page_and_the_cli_verifies_the_receipt(
    demo: Demo, chromium: Any, tmp_path: Path
) -> None:
    ballot = demo.info["voting"]["ballots"]["classes"]
    ctx, page = _open_residents(demo, chromium)
    try:
        # A wrong passphrase is refused in the browser, with the catalogue's message.
        page.set_input_files("#key-file", str(demo.data / "keys" / "fatima.key"))
        page.fill("#passphrase", "not the passphrase")
        page.click("#open-key")
        page.wait_for_selector("#key-status.bad")
        assert "passphrase" in page.text_content("#key-status").lower()
        page.fill("#passphrase", DEMO_PASSPHRASE)
        page.click("#open-key")
        page.wait_for_selector(f"[data-vote-ballot='{ballot}']", timeout=120_000)
        fatima = demo.info["voting"]["voters"]["fatima"]
        assert fatima in page.text_content("#key-status")
        form = page.locator(f"[data-vote-ballot='{ballot}']")
        form.locator("input[value=english]").check()
        form.locator("button[type=submit]").click()
        page.wait_for_selector(
            f"[data-vote-ballot='{ballot}'] .vote-status[data-recorded]", timeout=60_000
        )
        index = int(
            page.get_attribute(f"[data-vote-ballot='{ballot}'] .vote-status", "data-recorded")
        )
        with page.expect_download() as dl:
            page.click(f"#receipt-{ballot}")
        receipt = tmp_path / "vote.tlog-proof"
        dl.value.save_as(receipt)
        page.screenshot(path=str(SCREENSHOTS / "en-residents.png"), full_page=True)
    finally:
        ctx.close()
    record = httpx.get(f"{demo.seq}/v1/records/{index}").json()["record"]["envelope"]["statement"]
    assert (record["type"], record["signer"], record["body"]) == (
        "vote.cast",
        fatima,
        {"ballot": ballot, "choice": ["english"]},
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "vote",
            "verify",
            "--receipt",
            str(receipt),
            "--node",
            demo.seq,
            "--log-key",
            demo.vkey,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "receipt verified" in out.stdout


def test_a_dropped_receipt_is_verified_with_the_cli_steps(
    demo: Demo, chromium: Any, tmp_path: Path
) -> None:
    good = Path(demo.info["voting"]["receipt"])
    lines = good.read_bytes().split(b"\n")
    # The same receipt claiming another index: step 2 (the record is not that index) fails.
    bad = tmp_path / "bad.tlog-proof"
    bad.write_bytes(
        b"\n".join(line if not line.startswith(b"index ") else b"index 1" for line in lines)
    )
    ctx, page = _open_residents(demo, chromium)
    try:
        page.set_input_files("#receipt-file", str(good))
        page.wait_for_selector("#receipt-result[data-ok]", timeout=60_000)
        steps = page.eval_on_selector_all(
            "#receipt-result [data-step]",
            "els => els.map(e => [Number(e.dataset.step), e.dataset.status])",
        )
        # Step 6 compares the other nodes' checkpoints this node's gossip fetched: skipped
        # only while it has fetched none yet.
        assert [n for n, _ in steps] == list(range(1, 10))
        assert all(s == "pass" or (n == 6 and s == "skip") for n, s in steps), steps
        page.screenshot(path=str(SCREENSHOTS / "en-residents-receipt.png"), full_page=True)
        page.set_input_files("#receipt-file", str(bad))
        page.wait_for_function(
            "document.querySelector('#receipt-result').dataset.ok === 'false'", timeout=60_000
        )
        statuses = dict(
            page.eval_on_selector_all(
                "#receipt-result [data-step]",
                "els => els.map(e => [e.dataset.step, e.dataset.status])",
            )
        )
        assert statuses["1"] == "pass" and statuses["2"] == "fail"
    finally:
        ctx.close()


def test_the_page_is_served_at_the_root_without_shadowing_the_api(demo: Demo) -> None:
    index = httpx.get(demo.seq + "/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert 'src="web/js/app.js"' in index.text
    js = httpx.get(demo.seq + "/web/js/verify/merkle.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    missing = httpx.get(demo.seq + "/v1/no-such-route")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert httpx.get(demo.seq + "/log/checkpoint").text.startswith(demo.info["origin"] + "\n")
    assert "/" not in httpx.get(demo.seq + "/openapi.json").json()["paths"]
    for n in demo.nodes:  # every role serves the page
        assert httpx.get(n.url + "/").status_code == 200


def test_usable_on_a_phone_and_from_the_keyboard(demo: Demo, chromium: Any) -> None:
    ctx = chromium.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    try:
        page = open_page(ctx, f"{demo.seq}/#/community{demo.fragment()}")
        for route in [
            "community",
            "ballots",
            f"ballots/{demo.info['voting']['ballots']['budget']}",
            "budget",
            "expenses",
            "accounts",
            "residents",
        ]:
            goto_route(page, demo.seq, route)
            assert page.evaluate("document.body.dataset.verification") == "ok", (
                route,
                checks(page),
            )
            # Nothing wider than the screen (tables scroll inside their own box).
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (
                route
            )
            # Every control has an accessible name: a <label for>, aria-label or its text.
            unlabelled = page.evaluate(
                """() => [...document.querySelectorAll('input:not([hidden]), select, button')].filter(el =>
                     !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim()
                   ).map(el => el.outerHTML.slice(0, 80))"""
            )
            assert unlabelled == [], (route, unlabelled)
            page.screenshot(
                path=str(SCREENSHOTS / f"phone-zh-{route.replace('/', '-')}.png"), full_page=True
            )
        # Keyboard: the first Tab reaches the skip link, then the navigation.
        goto_route(page, demo.seq, "community")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "skip"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('nav') !== null")
        page.keyboard.press("Enter")
        page.wait_for_function("location.hash === '#/community'")
    finally:
        ctx.close()


def test_zz_a_mirrors_page_keeps_working_while_the_sequencer_is_down(
    demo: Demo, chromium: Any
) -> None:
    """Last in the module: it stops the sequencer."""
    demo.nodes[0].stop()
    with pytest.raises(httpx.HTTPError):
        httpx.get(demo.seq + "/healthz", timeout=2)
    ctx = chromium.new_context()
    try:
        page = open_page(ctx, f"{demo.mirror}/#/ballots{demo.fragment()}")
        assert page.evaluate("document.body.dataset.verification") == "ok", checks(page)
        # Every ballot the mirror holds (the open ones and the secret one), from its own API.
        held = httpx.get(demo.mirror + "/v1/ballots", timeout=10).json()["ballots"]
        assert (
            page.locator("[data-ballot]").count()
            == len(held)
            >= len(demo.info["voting"]["ballots"])
        )
    finally:
        ctx.close()
