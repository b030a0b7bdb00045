"""The open-data export: a Frictionless data package of transactions and budget lines.

``DIR/datapackage.json`` describes two CSV resources (Frictionless Data Package v1,
tabular data resources; the column choices follow the Fiscal Data Package idea of one
row per transaction with its amount, currency, date and classification):

- ``transactions.csv``: one row per transaction; money moves from ``from_account`` to
  ``to_account``; ``amount_minor`` is the exact integer of minor units and ``amount``
  the same value as decimal text for spreadsheets;
- ``budget.csv``: one row per budget line and period: budgeted, committed, spent,
  remaining.

Every row carries ``record_index`` and ``leaf_hash``: the log record that proves it. With
the checkpoint stored in the descriptor (``civic.checkpoint``) anyone can fetch an RFC 9162
inclusion proof for that leaf and check the row against the community's signed log.
A stock ``frictionless validate DIR/datapackage.json`` accepts the package.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from funds.model import format_money, minor_exponent
from ledger.c2sp.checkpoint import read_checkpoint
from ledger.errors import InputError

__all__ = ["BUDGET_FIELDS", "TRANSACTION_FIELDS", "ExportResult", "write_package"]

_HASH = {"type": "string", "constraints": {"required": True, "pattern": "[0-9a-f]{64}"}}
_CUR = {"type": "string", "constraints": {"required": True, "pattern": "[A-Z]{3}"}}
_MINOR = {"type": "integer", "bareNumber": True}

TRANSACTION_FIELDS: list[dict[str, Any]] = [
    {
        "name": "record_index",
        "type": "integer",
        "description": "index of the log record of this transaction (its id)",
        "constraints": {"required": True, "unique": True, "minimum": 0},
    },
    {"name": "leaf_hash", **_HASH, "description": "RFC 9162 leaf hash of that record (hex)"},
    {"name": "time", "type": "datetime", "description": "sequencer time (UTC)"},
    {
        "name": "kind",
        "type": "string",
        "constraints": {"required": True, "enum": ["income", "transfer", "payment", "reversal"]},
    },
    {"name": "from_account", "type": "string", "description": "account credited"},
    {"name": "to_account", "type": "string", "description": "account debited"},
    {
        "name": "amount_minor",
        **_MINOR,
        "description": "amount in integer minor units (cents)",
        "constraints": {"required": True, "minimum": 1},
    },
    {"name": "amount", "type": "number", "description": "amount as decimal text"},
    {"name": "currency", **_CUR, "description": "ISO 4217 code"},
    {"name": "expense", "type": "integer", "description": "id of the expense paid, if any"},
    {"name": "reverses", "type": "integer", "description": "id of the transaction reversed"},
    {"name": "counterparty", "type": "string", "description": "payee/payer name or label"},
    {"name": "description", "type": "string"},
    {"name": "documents", "type": "string", "description": "SHA-256 of documents, spaced"},
    {"name": "signer", "type": "string", "description": "key id that signed the statement"},
]

BUDGET_FIELDS: list[dict[str, Any]] = [
    {"name": "period", "type": "string", "constraints": {"required": True}},
    {"name": "category", "type": "string", "constraints": {"required": True}},
    {"name": "currency", **_CUR},
    {"name": "budgeted_minor", **_MINOR, "constraints": {"required": True, "minimum": 0}},
    {"name": "committed_minor", **_MINOR, "constraints": {"required": True, "minimum": 0}},
    {"name": "spent_minor", **_MINOR, "constraints": {"required": True, "minimum": 0}},
    {"name": "remaining_minor", **_MINOR, "constraints": {"required": True, "minimum": 0}},
    {
        "name": "record_index",
        "type": "integer",
        "description": "index of the record that last set this line",
        "constraints": {"required": True, "minimum": 0},
    },
    {"name": "leaf_hash", **_HASH, "description": "RFC 9162 leaf hash of that record (hex)"},
]


@dataclass(frozen=True)
class ExportResult:
    """What was written."""

    descriptor: Path
    transactions: int
    budget_lines: int


def _decimal(minor: int, currency: str) -> str:
    # Plain decimal text (no thousands separators) so a Frictionless number parses it.
    return (
        format_money(minor, currency).replace(",", "") if minor_exponent(currency) else str(minor)
    )


def _tx_row(t: Mapping[str, Any]) -> list[Any]:
    return [
        t["index"],
        t["leaf_hash"],
        t["time"],
        t["kind"],
        t["from_account"],
        t["to_account"],
        t["amount"],
        _decimal(t["amount"], t["currency"]),
        t["currency"],
        t["expense"] or "",
        t["reverses"] or "",
        t["counterparty"] or "",
        t["description"],
        " ".join(t["documents"]),
        t["by"],
    ]


def _budget_row(b: Mapping[str, Any]) -> list[Any]:
    return [
        b["period"],
        b["category"],
        b["currency"],
        b["budgeted"],
        b["committed"],
        b["spent"],
        b["remaining"],
        b["set_at"],
        b["leaf_hash"],
    ]


def _write_csv(path: Path, header: list[str], rows: Iterable[list[Any]]) -> tuple[int, str, int]:
    """Write the CSV; (rows, sha256 hex, bytes)."""
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow(row)
            n += 1
    data = path.read_bytes()
    return n, hashlib.sha256(data).hexdigest(), len(data)


def _resource(
    name: str,
    title: str,
    fields: list[dict[str, Any]],
    pk: list[str],
    n: int,
    digest: str,
    size: int,
) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "path": f"{name}.csv",
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "bytes": size,
        "hash": f"sha256:{digest}",
        "schema": {"fields": fields, "primaryKey": pk, "missingValues": [""]},
        "civic": {"rows": n},
    }


def write_package(
    out: Path,
    transactions: Iterable[Mapping[str, Any]],
    budget_lines: Iterable[Mapping[str, Any]],
    origin: str,
    checkpoint: str,
    source: str | None = None,
) -> ExportResult:
    """Write ``out/transactions.csv``, ``out/budget.csv`` and ``out/datapackage.json``.

    ``transactions`` are rows as :func:`funds.views.transaction_row` makes them (the API's
    ``/v1/funds/transactions``), ``budget_lines`` as ``/v1/funds/budget`` lists them;
    ``checkpoint`` is the signed checkpoint note the rows were read at.
    """
    out.mkdir(parents=True, exist_ok=True)
    n_tx, h_tx, b_tx = _write_csv(
        out / "transactions.csv",
        [f["name"] for f in TRANSACTION_FIELDS],
        (_tx_row(t) for t in transactions),
    )
    n_b, h_b, b_b = _write_csv(
        out / "budget.csv",
        [f["name"] for f in BUDGET_FIELDS],
        (_budget_row(b) for b in budget_lines),
    )
    try:
        size_line = str(read_checkpoint(checkpoint.encode("utf-8")).size)
    except InputError:
        size_line = ""  # not a checkpoint note: the package still names what it was given
    descriptor = {
        "profile": "tabular-data-package",
        "name": "civic-ledger-funds",
        "title": f"Community funds of {origin}",
        "description": (
            "Transactions and budget lines of a civic-ledger community, read from its "
            "tamper-evident log. Each row names the log record (index and RFC 9162 leaf "
            "hash) that proves it; amounts are integers of minor units."
        ),
        "licenses": [
            {
                "name": "ODC-PDDL-1.0",
                "path": "https://opendatacommons.org/licenses/pddl/1-0/",
                "title": "Open Data Commons Public Domain Dedication and License v1.0",
            }
        ],
        "sources": [{"title": origin, **({"path": source} if source else {})}],
        "resources": [
            _resource(
                "transactions",
                "Transactions (double entry, two postings each)",
                TRANSACTION_FIELDS,
                ["record_index"],
                n_tx,
                h_tx,
                b_tx,
            ),
            _resource(
                "budget",
                "Budget lines against actual spending",
                BUDGET_FIELDS,
                ["period", "category"],
                n_b,
                h_b,
                b_b,
            ),
        ],
        "civic": {"origin": origin, "tree_size": size_line, "checkpoint": checkpoint},
    }
    path = out / "datapackage.json"
    path.write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return ExportResult(path, n_tx, n_b)
