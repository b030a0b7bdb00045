"""The voting part of the demo community: four ballots of each kind, zh and en titles.

Residents dana, eli and fatima (the demo's resident key files) vote; one ballot closes a few
seconds after it opens so that the demo shows a closed ballot with its recorded result.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from client.submit import signed_statement
from ledger.keys import KeyPair, load_key_file
from ledger.records import format_time
from node.context import NodeContext
from voting.receipts import build_receipt
from voting.rules import close_body

__all__ = ["populate"]

# Seconds the quick ballot stays open: enough for three votes to land before it closes.
QUICK_BALLOT_SECONDS = 3


def _when(seconds: float) -> str:
    return format_time((datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0))


def _ballots(quick_closes: str) -> dict[str, dict[str, Any]]:
    month = _when(30 * 86400)
    return {
        "solar": {
            "kind": "yes_no",
            "title": {
                "en": "Install solar panels on the roof of Block 2?",
                "zh": "是否在2号楼屋顶安装太阳能板？",
            },
            "text": {
                "en": "The panels would cover the lighting of the common areas.",
                "zh": "太阳能板的发电将用于公共区域照明。",
            },
            "closes": month,
            "quorum": {"votes": 2},
            "passing": "simple_majority",
        },
        "cleaning_day": {
            "kind": "single",
            "title": {"en": "Date of the spring cleaning day", "zh": "春季大扫除的日期"},
            "options": [
                {"id": "sat-5", "label": {"en": "Saturday 5 April", "zh": "4月5日星期六"}},
                {"id": "sun-6", "label": {"en": "Sunday 6 April", "zh": "4月6日星期日"}},
                {"id": "sat-12", "label": {"en": "Saturday 12 April", "zh": "4月12日星期六"}},
            ],
            "closes": quick_closes,
            "quorum": {"votes": 2},
            "passing": "plurality",
        },
        "classes": {
            "kind": "approval",
            "title": {
                "en": "Which evening classes should the community room host?",
                "zh": "社区活动室应开设哪些晚间课程？",
            },
            "options": [
                {"id": "taichi", "label": {"en": "Tai chi", "zh": "太极拳"}},
                {"id": "english", "label": {"en": "English conversation", "zh": "英语会话"}},
                {"id": "cooking", "label": {"en": "Cooking", "zh": "烹饪"}},
            ],
            "closes": month,
            "quorum": {"percent": 0},
            "passing": "absolute_majority",
        },
        "budget": {
            "kind": "budget",
            "title": {"en": "Participatory budget 2027", "zh": "2027年参与式预算"},
            "options": [
                {
                    "id": "playground",
                    "label": {"en": "Repair the playground", "zh": "修缮儿童游乐场"},
                    "cost": {"amount": 800000, "currency": "EUR"},
                },
                {
                    "id": "bikes",
                    "label": {"en": "Covered bike shelter", "zh": "有顶自行车棚"},
                    "cost": {"amount": 450000, "currency": "EUR"},
                },
                {
                    "id": "garden",
                    "label": {"en": "Community garden", "zh": "社区花园"},
                    "cost": {"amount": 300000, "currency": "EUR"},
                },
                {
                    "id": "lights",
                    "label": {"en": "LED lights in the stairwells", "zh": "楼梯间LED照明"},
                    "cost": {"amount": 500000, "currency": "EUR"},
                },
            ],
            "budget": {"amount": 1500000, "currency": "EUR"},
            "closes": month,
            "quorum": {"votes": 2},
            "passing": "greedy",
        },
    }


# (ballot, resident, choice) in order; fatima changes her mind on the solar panels.
_VOTES: list[tuple[str, str, Any]] = [
    ("cleaning_day", "dana", "sat-5"),
    ("cleaning_day", "eli", "sun-6"),
    ("cleaning_day", "fatima", "sat-5"),
    ("solar", "dana", "yes"),
    ("solar", "eli", "no"),
    ("solar", "fatima", "no"),
    ("solar", "fatima", "yes"),
    ("classes", "dana", ["taichi", "cooking"]),
    ("classes", "eli", ["taichi"]),
    ("budget", "dana", ["playground", "garden"]),
    ("budget", "eli", ["bikes", "garden", "lights"]),
    ("budget", "fatima", ["playground", "bikes"]),
]


def populate(ctx: NodeContext, keys: Path) -> dict[str, Any]:
    """Add sample voting statements to the demo community; return a summary for demo.json."""
    from demo.community import DEMO_PASSPHRASE, submit_all

    def kp(name: str) -> KeyPair:
        return load_key_file(keys / f"{name}.key", DEMO_PASSPHRASE)

    origin = ctx.cfg.origin
    chair = kp("alice")
    people = {n: kp(n) for n in ("dana", "eli", "fatima")}

    def env(type_: str, body: dict[str, Any], signer: KeyPair) -> dict[str, Any]:
        return signed_statement(origin, type_, body, signer)

    specs = _ballots(_when(QUICK_BALLOT_SECONDS))
    opened = submit_all(ctx, [env("ballot.open", b, chair) for b in specs.values()])
    ids = {name: str(a.index) for name, a in zip(specs, opened, strict=True)}
    votes = submit_all(
        ctx,
        [env("vote.cast", {"ballot": ids[b], "choice": c}, people[who]) for b, who, c in _VOTES],
    )
    # Dana keeps the receipt of her vote on the quick ballot, as `civic vote cast` would.
    first = votes[0]
    receipt = keys.parent / "dana-cleaning-day.tlog-proof"
    receipt.write_bytes(
        build_receipt(
            first.index,
            first.inclusion_proof,
            first.checkpoint,
            ctx.log.entry(first.index),
            ctx.log.verifier,
        )
    )
    # The quick ballot: wait for its closing time to pass in sequencer time, then close it
    # with the tally recomputed from the state (the handler checks it again).
    closes = datetime.fromisoformat(specs["cleaning_day"]["closes"].replace("Z", "+00:00"))
    time.sleep(max(0.0, (closes - datetime.now(UTC)).total_seconds()) + 0.2)
    quick = ids["cleaning_day"]
    (closed,) = submit_all(ctx, [env("ballot.close", close_body(ctx.state(), quick), chair)])
    return {
        "ballots": ids,
        "closed": {"ballot": quick, "record": closed.index},
        "voters": {n: k.key_id for n, k in people.items()},
        "receipt": str(receipt),
        "try": [
            f"civic vote verify --receipt {receipt} --node URL",
            "civic ballot list --node URL",
            f"civic ballot show --ballot {ids['budget']} --node URL",
            f"civic ballot tally --ballot {quick} --node URL",
            f"civic vote cast --ballot {ids['classes']} --choice english --key KEYS/fatima.key "
            "--node URL --receipt vote.tlog-proof",
        ],
    }
