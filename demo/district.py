"""The demo's district: two more communities served by one sequencer process, cosigned by
one witness district (used by ``civic demo``).

Built through the same code paths as a real district (``node.district``: a district
folder, ``add_community`` with genesis naming the witness district, signed statements
through each community's own sequencer). Oak Court keeps a secret ballot open, so a
resident can cast it from the community's web page; Birch Row has an ordinary ballot.

Folders and ports: ``district/`` (sequencer, port + 5, JSON request log) and
``district-cosigner/`` (witness, port + 6), after the main community's five nodes. The
names must not start with ``witness-``: that pattern means the main community's witnesses.
"""

from __future__ import annotations

import json
import os
import shutil
from base64 import b64encode
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from client.submit import signed_statement
from ledger.community import commitment
from ledger.keys import KeyPair, generate_keypair
from ledger.records import format_time
from node.context import NodeContext, open_context
from node.district import (
    add_community,
    community_dir,
    init_district,
    load_district,
    witness_vkey,
)
from node.launcher import NodeProcess, start_node, wait_healthy
from voting import secret_steps as steps

__all__ = [
    "DISTRICT_COMMUNITIES",
    "DISTRICT_DIR",
    "DISTRICT_LOG",
    "DISTRICT_WITNESS_DIR",
    "build_district",
    "district_ports",
    "start_district_nodes",
]

DISTRICT_DIR = "district"
DISTRICT_WITNESS_DIR = "district-cosigner"
DISTRICT_LOG = "district.log"
DISTRICT_WITNESS_NAME = "district-cosigner.civic.example"
# Written last: a district folder without it is a build that did not finish.
_EXTRAS = "district-extras.json"
OAK = "civic.example/oak-court"
BIRCH = "civic.example/birch-row"
# origin -> (committee key files, resident key files, residents without key files)
DISTRICT_COMMUNITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {
    OAK: (("olga", "omar"), ("gita", "hiro", "ines"), 5),
    BIRCH: (("bea",), ("jon", "kai", "lea"), 3),
}
MONTH = 30 * 86400


def district_ports(port: int) -> tuple[int, int]:
    """(sequencer, witness) ports of the district: after the main community's five nodes."""
    from demo.community import WITNESSES

    return port + WITNESSES + 2, port + WITNESSES + 3


def _closes() -> str:
    return format_time((datetime.now(UTC) + timedelta(seconds=MONTH)).replace(microsecond=0))


def _enrol(ctx: NodeContext, chair: KeyPair, residents: list[KeyPair], street: str) -> None:
    from demo.community import submit_all

    envs = []
    for i, r in enumerate(residents):
        unit = f"{street} {i + 1}"
        salt = os.urandom(16)
        body = {"key": r.key_id, "unit_commitment": commitment(unit, salt)}
        private = {"value": unit, "salt": b64encode(salt).decode()}
        envs.append(signed_statement(ctx.cfg.origin, "member.enrol", body, chair, (), private))
    submit_all(ctx, envs)


def _submit(ctx: NodeContext, type_: str, body: dict[str, Any], signer: KeyPair) -> Any:
    from demo.community import submit_all

    (out,) = submit_all(ctx, [signed_statement(ctx.cfg.origin, type_, body, signer)])
    return out


def _oak_court(ctx: NodeContext, k: dict[str, KeyPair]) -> dict[str, Any]:
    """An open secret ballot (trustees olga and omar, both needed); Hiro has voted."""
    base = {
        "kind": "single",
        "title": {
            "en": "Secret ballot: colour of the front doors?",
            "zh": "秘密投票：大门的颜色？",
        },
        "options": [
            {"id": "green", "label": {"en": "Green", "zh": "绿色"}},
            {"id": "blue", "label": {"en": "Blue", "zh": "蓝色"}},
            {"id": "red", "label": {"en": "Red", "zh": "红色"}},
        ],
        "closes": _closes(),
        "quorum": {"votes": 2},
        "passing": "plurality",
    }
    trustees = [k["olga"], k["omar"]]
    body = steps.open_body(base, [t.key_id for t in trustees], 2)
    bid = str(_submit(ctx, "ballot.open", body, k["olga"]).index)
    for chunk in steps.credential_bodies(ctx.state(), bid):
        _submit(ctx, "ballot.credentials", chunk, k["olga"])
    for type_, make in (
        ("trustee.cert", steps.cert_body),
        ("trustee.polynomial", steps.polynomial_body),
        ("trustee.voutput", steps.voutput_body),
    ):
        for t in trustees:
            _submit(ctx, type_, make(ctx.state(), bid, t), t)
    credential = steps.my_credential(ctx.state(), bid, k["hiro"])
    vote, tracker = steps.vote_body(ctx.state(), bid, credential, "green")
    _submit(ctx, "vote.cast", vote, k["hiro"])
    return {"secret_ballot": bid, "voted": {"hiro": tracker}, "can_vote": ["gita", "ines"]}


def _birch_row(ctx: NodeContext, k: dict[str, KeyPair]) -> dict[str, Any]:
    """An open yes/no ballot with two votes cast."""
    body = {
        "kind": "yes_no",
        "title": {
            "en": "Allow a weekly food market in the courtyard?",
            "zh": "是否允许在院子里每周举办一次食品市场？",
        },
        "closes": _closes(),
        "quorum": {"votes": 2},
        "passing": "simple_majority",
    }
    bid = str(_submit(ctx, "ballot.open", body, k["bea"]).index)
    for who, choice in (("jon", "yes"), ("kai", "no")):
        _submit(ctx, "vote.cast", {"ballot": bid, "choice": choice}, k[who])
    return {"ballot": bid, "voted": ["jon", "kai"], "can_vote": ["lea"]}


def _build(data: Path, ddir: Path, wdir: Path, port: int) -> dict[str, Any]:
    from demo.community import _key

    seq_port, wit_port = district_ports(port)
    init_district(
        wdir, "witness", follow=f"http://127.0.0.1:{seq_port}", witness_name=DISTRICT_WITNESS_NAME
    )
    cosigner = witness_vkey(wdir)
    init_district(ddir, "sequencer")
    out: dict[str, Any] = {}
    for origin, (committee_names, resident_names, anonymous) in DISTRICT_COMMUNITIES.items():
        keys = data / "keys" / origin.rsplit("/", 1)[1]
        keys.mkdir(parents=True, exist_ok=True)
        k = {n: _key(keys, n) for n in (*committee_names, *resident_names)}
        witness = {
            "name": DISTRICT_WITNESS_NAME,
            "vkey": cosigner,
            "url": f"http://127.0.0.1:{wit_port}/c/{origin}",
        }
        made = add_community(ddir, origin, [k[n] for n in committee_names], [witness], 1)
        add_community(wdir, log_vkey=made["log_vkey"])
        ctx = open_context(community_dir(ddir, origin), serve=True)
        try:
            residents = [k[n] for n in resident_names]
            residents += [generate_keypair() for _ in range(anonymous)]
            street = origin.rsplit("/", 1)[1].replace("-", " ").title()
            _enrol(ctx, k[committee_names[0]], residents, street)
            sample = _oak_court(ctx, k) if origin == OAK else _birch_row(ctx, k)
        finally:
            ctx.close()
        out[origin] = {
            "log_vkey": made["log_vkey"],
            "genesis_hash": made["genesis_hash"],
            "keys": {n: str(keys / f"{n}.key") for n in (*committee_names, *resident_names)},
            **sample,
        }
    return out


def build_district(data: Path, port: int) -> dict[str, Any]:
    """Create (or reuse) the district folders under ``data``; return a summary for demo.json.

    The sequencer district serves Oak Court and Birch Row; the witness district, named in
    both geneses (quorum 1), cosigns them.
    """
    ddir, wdir = data / DISTRICT_DIR, data / DISTRICT_WITNESS_DIR
    extras_file = data / _EXTRAS
    if not extras_file.is_file():
        for d in (ddir, wdir):
            if d.exists():
                shutil.rmtree(d)
        extras = _build(data, ddir, wdir, port)
        extras_file.write_text(json.dumps(extras, indent=2) + "\n", "utf-8")
    extras = json.loads(extras_file.read_text("utf-8"))
    seq_port, wit_port = district_ports(port)
    url, wit_url = f"http://127.0.0.1:{seq_port}", f"http://127.0.0.1:{wit_port}"
    communities = []
    for origin in load_district(ddir).communities:
        base = f"{url}/c/{origin}"
        about = extras[origin]
        ctx = open_context(community_dir(ddir, origin))
        try:
            size = ctx.log.size
        finally:
            ctx.close()
        communities.append(
            {
                "origin": origin,
                "url": base,
                "size": size,
                "checkpoint": f"{base}/log/checkpoint",
                "metrics": f"{base}/metrics",
                "page": f"{base}/#/community?vkey={about['log_vkey']}"
                f"&genesis={about['genesis_hash']}",
                "witness": f"{wit_url}/c/{origin}",
                **about,
            }
        )
    return {
        "data": str(ddir),
        "url": url,
        "list": f"{url}/c/",
        "metrics": f"{url}/metrics",
        "log": str(data / DISTRICT_LOG),
        "log_format": "json",
        "witness": {"data": str(wdir), "url": wit_url, "name": DISTRICT_WITNESS_NAME},
        "communities": communities,
    }


def start_district_nodes(data: Path, port: int) -> list[NodeProcess]:
    """Start the district's sequencer (JSON request log in DIR/district.log) and its
    witness district as child processes; wait until both answer."""
    from demo.community import START_WAIT

    ddir, wdir = data / DISTRICT_DIR, data / DISTRICT_WITNESS_DIR
    seq_port, wit_port = district_ports(port)
    nodes: list[NodeProcess] = []
    try:
        json_log = ["--log-format", "json"]
        nodes.append(start_node(ddir, seq_port, json_log, log_file=data / DISTRICT_LOG, wait=False))
        nodes.append(
            start_node(wdir, wit_port, log_file=data / f"{DISTRICT_WITNESS_DIR}.log", wait=False)
        )
        for n in nodes:
            # The launcher's wait grows with the communities a district opens.
            wait_healthy(n.url, timeout=max(START_WAIT, n.start_timeout), proc=n.proc)
    except BaseException:
        for n in reversed(nodes):
            n.stop()
        raise
    return nodes
