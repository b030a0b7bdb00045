"""The web page's static files: shipped in the package, every string in both catalogues,
no third-party host referenced, vendored libraries with their licences. No browser needed."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from tests.web_support import ROOT, WEB

JS = sorted((WEB / "js").rglob("*.js"))


def catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((WEB / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    en, zh = catalogue("en"), catalogue("zh")
    assert en.keys() == zh.keys()
    for key in en:
        assert set(re.findall(r"\{(\w+)\}", en[key])) == set(re.findall(r"\{(\w+)\}", zh[key])), key
        assert zh[key].strip(), key


def test_every_literal_message_key_used_in_the_code_is_in_the_catalogue() -> None:
    en = catalogue("en")
    used: set[str] = set()
    for path in JS:
        text = path.read_text("utf-8")
        used |= set(re.findall(r"\bt\(\"([a-z0-9_]+)\"", text))
        # status keys handed to Session.set(...) and KeyFileError(...)
        used |= set(re.findall(r"\"([a-z_]+_(?:ok|first|same|none))\"", text))
        used |= set(re.findall(r"KeyFileError\(\"([a-z_]+)\"", text))
    assert used, "no message keys found"
    assert sorted(used - en.keys()) == []
    # Dynamic families: every value the code can produce has a message.
    for prefix, values in {
        "nav_": ["community", "ballots", "budget", "expenses", "accounts", "residents"],
        "check_": [
            "trust_root",
            "log_signature",
            "genesis",
            "witness_quorum",
            "policy",
            "consistency",
            "inclusion",
            "figures",
        ],
        "status_": ["pass", "fail", "pending", "skip"],
        "verdict_": ["ok", "failed", "pending", "off", "no_trust"],
        "ballot_kind_": ["yes_no", "single", "approval", "budget"],
        "ballot_status_": ["open", "closed", "cancelled"],
        "expense_status_": ["requested", "approved", "paid", "rejected", "withdrawn", "expired"],
        "tx_": ["income", "payment", "transfer", "reversal"],
        "role_": ["sequencer", "witness", "mirror"],
        "step_": [str(n) for n in range(1, 10)],
        "choice_": ["yes", "no", "abstain"],
        "lang_": ["en", "zh"],
    }.items():
        assert [prefix + v for v in values if prefix + v not in en] == []


def test_no_other_host_is_referenced() -> None:
    for path in [*JS, WEB / "index.html", WEB / "css" / "app.css"]:
        text = path.read_text("utf-8")
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", text), path
        assert 'fetch("http' not in text, path


def test_vendored_libraries_carry_their_licences_and_ship_in_the_package() -> None:
    vendor = WEB / "vendor"
    for lib in ("tweetnacl", "hash-wasm"):
        assert (vendor / lib / "LICENSE").is_file()
        assert lib in (vendor / "README.md").read_text("utf-8")
    assert "tweetnacl" in (ROOT / "README.md").read_text("utf-8")
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["node"]
    shipped = {p for pat in patterns for p in (ROOT / "node").glob(pat)}
    files = {p for p in WEB.rglob("*") if p.is_file()}
    assert files - shipped == set()


def test_index_loads_only_local_files() -> None:
    html = (WEB / "index.html").read_text("utf-8")
    for ref in re.findall(r"(?:src|href)=\"([^\"]+)\"", html):
        if ref.startswith(("data:", "#")):
            continue
        assert (WEB / ref.removeprefix("web/")).is_file(), ref
    assert Path(WEB / "js" / "app.js").is_file()
