"""Casting a secret (Belenios) ballot from the residents' page, in headless Chromium,
against real node processes: a sequencer and two witnesses (quorum 2).

The page proves the ballot's records, rebuilds the election, opens the credential sealed
to the resident and encrypts the ballot in the browser. The vote must then be in the log
(API and the Python verifier the sequencer runs), counted by the tally after the trustees
decrypt, and its receipt must verify in the page. A page whose Belenios code was altered
(a wrong proof) is refused by the sequencer with a message that says which proof failed,
and nothing is written. Screenshots in both languages go to tests/output/screenshots/.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from client import secret
from client.http import NodeClient
from client.submit import submit_statement
from ledger.c2sp.note import parse_vkey
from ledger.keys import KeyPair, save_key_file
from ledger.records import format_time
from ledger.state import State
from rules import community_rules
from tests.support.web import ROOT, SCREENSHOTS, WEB, browser
from tests.test_network import CHAIR
from tests.test_secret_e2e import DANA, ELI, FAY, Nodes, _enrol, nodes
from voting import secret_steps as steps
from voting.secret.ballot import ballot_tracker, check_ballot
from voting.secret_rules import ballot_election

pytestmark = pytest.mark.xdist_group("web-secret")

PASS = "web-secret-passphrase"
# Long enough for the ceremony and three votes from the page on a shared machine.
OPEN_SECONDS = 150


def _open_ballot(c: NodeClient, verifier: Any) -> str:
    closes = format_time(
        (datetime.now(UTC) + timedelta(seconds=OPEN_SECONDS)).replace(microsecond=0)
    )
    body = {
        "kind": "single",
        "title": {"en": "Secret: what goes on the empty lot?", "zh": "秘密投票：空地上建什么？"},
        "options": [
            {"id": "lot-garden", "label": {"en": "A garden", "zh": "花园"}},
            {"id": "lot-playground", "label": {"en": "A playground", "zh": "游乐场"}},
            {"id": "lot-parking", "label": {"en": "Bicycle parking", "zh": "自行车停车场"}},
        ],
        "closes": closes,
        "quorum": {"votes": 1},
        "passing": "plurality",
    }
    out = secret.open_secret(c, verifier, CHAIR, body, [CHAIR.key_id, DANA.key_id], 2)
    bid = str(out["index"])
    state = State(community_rules())
    for type_, make in (
        ("trustee.cert", steps.cert_body),
        ("trustee.polynomial", steps.polynomial_body),
        ("trustee.voutput", steps.voutput_body),
    ):
        for t in (CHAIR, DANA):
            state = secret.follow(c, state)
            submit_statement(c, type_, make(state, bid, t), t)
    return bid


def _tampered_ballot_js() -> str:
    # The page's own code, altered: every real interval proof's response is off by one.
    src = (WEB / "js" / "belenios" / "ballot.js").read_text("utf-8")
    needle = "const real = { challenge, response: mod(w - r * challenge, G.q) };"
    assert needle in src
    return src.replace(
        needle, "const real = { challenge, response: mod(w - r * challenge + 1n, G.q) };"
    )


def _resident_page(chromium: Any, url: str, lang: str, tampered: bool = False) -> tuple[Any, Any]:
    ctx = chromium.new_context(
        locale="zh-CN" if lang == "zh" else "en-GB",
        viewport={"width": 1280, "height": 900},
        accept_downloads=True,
    )
    if tampered:
        body = _tampered_ballot_js()
        ctx.route(
            "**/web/js/belenios/ballot.js",
            lambda route: route.fulfill(status=200, content_type="text/javascript", body=body),
        )
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("document.body.dataset.verification !== 'pending'", timeout=120_000)
    assert page.evaluate("document.body.dataset.verification") == "ok"
    return ctx, page


def _open_key(page: Any, key_file: Path, bid: str) -> None:
    page.set_input_files("#key-file", str(key_file))
    page.fill("#passphrase", PASS)
    page.click("#open-key")
    page.wait_for_selector(f"[data-vote-ballot='{bid}'] [data-secret]", timeout=120_000)


def _cast(page: Any, bid: str, option: str) -> dict[str, Any]:
    form = page.locator(f"[data-vote-ballot='{bid}']")
    before = page.evaluate("({...window.civicStats})")
    form.locator(f"input[value='{option}']").check()
    form.locator("button[type=submit]").click()
    page.wait_for_selector(
        f"[data-vote-ballot='{bid}'] .vote-status[data-recorded], "
        f"[data-vote-ballot='{bid}'] .vote-status[data-failed]",
        timeout=120_000,
    )
    after = page.evaluate("({...window.civicStats})")
    status = form.locator(".vote-status")
    return {
        "recorded": status.get_attribute("data-recorded"),
        "text": status.text_content(),
        "tracker": page.get_attribute(f"[data-vote-ballot='{bid}'] [data-tracker]", "data-tracker")
        if status.get_attribute("data-recorded")
        else None,
        "encrypt_ms": form.get_attribute("data-encrypt-ms"),
        "bytes": after["bytes"] - before["bytes"],
        "requests": after["requests"] - before["requests"],
    }


def _save_key(tmp: Path, name: str, kp: KeyPair) -> Path:
    path = tmp / f"{name}.key"
    save_key_file(path, kp, PASS, strength="min")
    return path


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    with nodes(tmp_path_factory.mktemp("web-secret")) as n:
        yield n


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser() as b:
        yield b


def _trust_url(seq: str, route: str) -> str:
    c = httpx.get(f"{seq}/v1/community").json()
    return f"{seq}/#/{route}?vkey={c['log_vkey']}&genesis={c['genesis_hash']}"


def test_a_secret_vote_cast_from_the_page_is_logged_counted_and_its_receipt_verifies(
    net: Nodes, chromium: Any, tmp_path: Path
) -> None:
    seq = net.seq.url
    verifier = parse_vkey(net.log_vkey)
    with NodeClient(seq) as c:
        for kp in (DANA, ELI, FAY):
            _enrol(c, kp)
        bid = _open_ballot(c, verifier)
    assert httpx.get(f"{seq}/v1/ballots/{bid}").json()["status"] == "open"
    url = _trust_url(seq, "residents")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # While open, the ballot's page verifies and says the result awaits the decryption.
    ctx, page = _resident_page(chromium, _trust_url(seq, f"ballots/{bid}"), "en")
    try:
        assert page.locator("[data-figure=secret-pending]").count() == 1
    finally:
        ctx.close()

    # 1. A page whose Belenios code makes a wrong proof: refused, nothing written.
    ctx, page = _resident_page(chromium, url, "en", tampered=True)
    try:
        _open_key(page, _save_key(tmp_path, "eli", ELI), bid)
        size = httpx.get(f"{seq}/healthz").json()["size"]
        got = _cast(page, bid, "lot-parking")
        assert got["recorded"] is None
        assert (
            "not accepted" in got["text"] and "individual proof does not verify" in got["text"]
        ), got["text"]
        assert httpx.get(f"{seq}/healthz").json()["size"] == size
        page.screenshot(path=str(SCREENSHOTS / "en-residents-secret-refused.png"), full_page=True)
    finally:
        ctx.close()

    # 2. Fay votes from the English page, Dana from the Chinese one.
    cast: dict[str, dict[str, Any]] = {}
    receipt = tmp_path / "fay.tlog-proof"
    for lang, name, kp, option in (
        ("en", "fay", FAY, "lot-garden"),
        ("zh", "dana", DANA, "lot-playground"),
    ):
        ctx, page = _resident_page(chromium, url, lang)
        try:
            loaded = page.evaluate("({...window.civicStats})")
            _open_key(page, _save_key(tmp_path, name, kp), bid)
            got = _cast(page, bid, option)
            got["page_bytes"] = loaded["bytes"]
            assert got["recorded"] is not None, got["text"]
            cast[name] = {**got, "key": kp.key_id, "option": option}
            page.screenshot(
                path=str(SCREENSHOTS / f"{lang}-residents-secret-vote.png"), full_page=True
            )
            if name == "fay":
                with page.expect_download() as dl:
                    page.click(f"#receipt-{bid}")
                dl.value.save_as(receipt)
            assert page.errors == []
        finally:
            ctx.close()
    print(
        "secret vote from the page: "
        + "; ".join(
            f"{n}: encryption {v['encrypt_ms']} ms, {v['bytes']} bytes in {v['requests']} "
            f"requests (the residents page before: {v['page_bytes']} bytes)"
            for n, v in cast.items()
        )
    )

    # 3. In the log: the vote records, their trackers, the ballot the sequencer checked.
    votes = httpx.get(f"{seq}/v1/ballots/{bid}/votes").json()["votes"]
    by_key = {v["key"]: v for v in votes}
    with NodeClient(seq) as c:
        state = secret.verified_state(c, verifier)
    election = ballot_election(state, bid)
    for name, v in cast.items():
        rec = httpx.get(f"{seq}/v1/records/{v['recorded']}").json()["record"]
        st = rec["envelope"]["statement"]
        assert (st["type"], st["signer"], st["body"]["ballot"]) == ("vote.cast", v["key"], bid)
        raw = st["body"]["belenios"]
        assert ballot_tracker(raw) == v["tracker"] == by_key[v["key"]]["tracker"]
        assert by_key[v["key"]]["choice"] is None
        assert check_ballot(election, raw).ok
        # No choice and no credential in clear in what the page sent.
        assert v["option"] not in json.dumps(st["body"])
        assert steps.my_credential(state, bid, FAY if name == "fay" else DANA) not in raw

    # 4. After the closing time: close, two partial decryptions, the result.
    closes = datetime.fromisoformat(
        httpx.get(f"{seq}/v1/ballots/{bid}").json()["closes"].replace("Z", "+00:00")
    )
    time.sleep(max(0.0, (closes - datetime.now(UTC)).total_seconds()) + 1)
    with NodeClient(seq) as c:
        secret.close_secret(c, verifier, CHAIR, bid)
        secret.decrypt(c, verifier, CHAIR, bid)
        secret.decrypt(c, verifier, DANA, bid)
        secret.post_result(c, verifier, CHAIR, bid)
    result = httpx.get(f"{seq}/v1/ballots/{bid}/result").json()["result"]
    assert result["counts"] == {"lot-garden": 1, "lot-playground": 1, "lot-parking": 0}
    assert result["turnout"] == 2
    tally = subprocess.run(
        [sys.executable, "-m", "cli.main", "ballot", "tally", "--ballot", bid, "--json",
         "--node", seq, "--log-key", net.log_vkey],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert tally.returncode == 0, tally.stdout + tally.stderr
    t = json.loads(tally.stdout)
    assert t["matches"] and t["result"]["counts"] == result["counts"]

    # The ballot's page, in both languages: the counts are the recorded result, the close
    # record's encrypted tally is recomputed from the proven ballots, trackers listed.
    for lang in ("en", "zh"):
        ctx, page = _resident_page(chromium, _trust_url(seq, f"ballots/{bid}"), lang)
        try:
            counts = page.eval_on_selector_all(
                "[data-count]",
                "els => Object.fromEntries(els.map(e => [e.dataset.count, e.textContent]))",
            )
            assert {k: int(v) for k, v in counts.items()} == result["counts"]
            shown = page.eval_on_selector_all(
                "[data-tracker]", "els => els.map(e => e.dataset.tracker)"
            )
            assert sorted(shown) == sorted(v["tracker"] for v in cast.values())
            page.screenshot(path=str(SCREENSHOTS / f"{lang}-ballot-secret.png"), full_page=True)
        finally:
            ctx.close()

    # 5. Fay's receipt, dropped on the page: every step passes, 9 on the encrypted tally.
    ctx, page = _resident_page(chromium, url, "en")
    try:
        page.set_input_files("#receipt-file", str(receipt))
        page.wait_for_selector("#receipt-result[data-ok]", timeout=120_000)
        steps_seen = dict(
            page.eval_on_selector_all(
                "#receipt-result [data-step]",
                "els => els.map(e => [Number(e.dataset.step), e.dataset.status])",
            )
        )
        assert page.get_attribute("#receipt-result", "data-ok") == "true", steps_seen
        assert all(steps_seen[n] == "pass" for n in range(1, 10)), steps_seen
        # 6: the witnesses' checkpoints, as the sequencer's gossip fetched them.
        assert "nodes show one log" in page.text_content("#receipt-result [data-step='6']")
        assert "encrypted tally" in page.text_content("#receipt-result [data-step='9']")
        page.screenshot(path=str(SCREENSHOTS / "en-residents-secret-receipt.png"), full_page=True)
    finally:
        ctx.close()
    # The CLI checks the same receipt up to the ballot's records (steps 1-5), which it
    # leaves to `civic ballot tally` for a secret ballot (run above).
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "vote", "verify", "--receipt", str(receipt),
         "--node", seq, "--log-key", net.log_vkey],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    for n in (1, 2, 3, 4, 5):
        assert f"  {n}. ok" in out.stdout, out.stdout
    assert "civic ballot tally" in out.stdout


def test_the_page_follows_a_witnesses_set_after_genesis(net: Nodes, chromium: Any) -> None:
    seq = net.seq.url
    genesis_set = httpx.get(f"{seq}/v1/community").json()["witnesses"]
    assert genesis_set["since"] == 0 and genesis_set["quorum"] == 2
    # The committee drops the second witness: one cosignature is enough from here on.
    body = {"witnesses": genesis_set["witnesses"][:1], "quorum": 1}
    with NodeClient(seq) as c:
        index = submit_statement(c, "witnesses.set", body, CHAIR)["index"]
    deadline = time.monotonic() + 120
    while httpx.get(f"{seq}/log/checkpoint").text.split("\n")[1] != str(index + 1):
        assert time.monotonic() < deadline, "no checkpoint after the witnesses.set"
        time.sleep(0.3)
    ctx = chromium.new_context(locale="en-GB")
    try:
        page = ctx.new_page()
        page.goto(_trust_url(seq, "community"))
        page.wait_for_function("document.body.dataset.verification !== 'pending'", timeout=120_000)
        got = page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('.check')].map(li => [li.dataset.check, li.dataset.status]))"
        )
        # The policy the node now serves is the new set's: the page agrees with it.
        assert page.evaluate("document.body.dataset.verification") == "ok", got
        assert page.get_attribute("[data-figure=witnesses-since]", "data-since") == str(index)
        assert "1" in page.text_content("[data-figure=quorum]")
        page.screenshot(path=str(SCREENSHOTS / "en-community-witnesses-set.png"), full_page=True)
    finally:
        ctx.close()
