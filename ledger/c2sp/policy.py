"""C2SP tlog-policy: ``log`` / ``witness`` / ``group`` / ``quorum`` policy text.

Parse, format, and evaluate the quorum rule over the names of the witnesses that cosigned.
Checking a checkpoint note against a policy is :mod:`ledger.c2sp.trust`. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.c2sp._text import U64_MAX, parse_decimal
from ledger.c2sp.cosignature import CosignatureVerifier, parse_cosigner_vkey
from ledger.c2sp.note import NoteVerifier, parse_vkey
from ledger.errors import InputError

__all__ = [
    "Policy",
    "PolicyGroup",
    "PolicyLog",
    "PolicyWitness",
    "format_policy",
    "min_cosignatures",
    "parse_policy",
    "policy_satisfied",
]

# C2SP tlog-policy: whitespace is sequences of ASCII space and tab only.
_POLICY_WS = re.compile(r"[ \t]+")
_NONE = "none"


@dataclass(frozen=True)
class PolicyLog:
    """A ``log <vkey> [<url>]`` line: a trusted log key (its name is the log's origin)."""

    verifier: NoteVerifier
    url: str | None = None


@dataclass(frozen=True)
class PolicyWitness:
    """A ``witness <name> <vkey> [<url>]`` line: a policy-local name and a cosigner key."""

    name: str
    verifier: CosignatureVerifier
    url: str | None = None


@dataclass(frozen=True)
class PolicyGroup:
    """A ``group <name> <k> <member>...`` line: witnessed when ``threshold`` members are."""

    name: str
    threshold: int
    members: tuple[str, ...]


def _check_policy_token(value: str, what: str) -> None:
    # C2SP tlog-policy: items are separated by space/tab; only tab and newline are allowed
    # control characters, and the file's octets with the high bit set are opaque.
    if not isinstance(value, str) or not value:
        raise InputError(f"{what} must not be empty")
    if any(c in " \t\n" or ord(c) < 0x20 or c == "\x7f" for c in value):
        raise InputError(f"{what} {value!r} must not contain whitespace or control characters")


class _PolicyBuilder:
    """Incremental checks of the tlog-policy rules, in definition order."""

    def __init__(self) -> None:
        self.logs: list[PolicyLog] = []
        self.witnesses: list[PolicyWitness] = []
        self.groups: list[PolicyGroup] = []
        self.quorum: str | None = None
        self._names: set[str] = set()
        self._members: set[str] = set()
        self._log_keys: set[bytes] = set()
        self._witness_keys: set[bytes] = set()
        self._witness_ids: set[tuple[str, bytes]] = set()

    def add_log(self, log: PolicyLog) -> None:
        if log.url is not None:
            _check_policy_token(log.url, "log URL")
        # C2SP tlog-policy: duplicate logs (same public key) are not allowed.
        if log.verifier.public_key in self._log_keys:
            raise InputError(f"duplicate log key {log.verifier.vkey()}")
        self._log_keys.add(log.verifier.public_key)
        self.logs.append(log)

    def _define(self, name: str, what: str) -> None:
        _check_policy_token(name, f"{what} name")
        # C2SP tlog-policy: witnesses and groups share one namespace; "none" is predefined.
        if name == _NONE or name in self._names:
            raise InputError(f"{what} name {name!r} is already defined")
        self._names.add(name)

    def add_witness(self, witness: PolicyWitness) -> None:
        self._define(witness.name, "witness")
        if witness.url is not None:
            _check_policy_token(witness.url, "witness URL")
        # C2SP tlog-policy: duplicate witnesses (same public key) are not allowed.
        slot = (witness.verifier.name, witness.verifier.key_hash)
        if witness.verifier.public_key in self._witness_keys or slot in self._witness_ids:
            raise InputError(f"duplicate witness key {witness.verifier.vkey()}")
        self._witness_keys.add(witness.verifier.public_key)
        self._witness_ids.add(slot)
        self.witnesses.append(witness)

    def add_group(self, group: PolicyGroup) -> None:
        # C2SP tlog-policy: at least one member, 1 <= k <= n, members defined on earlier
        # lines, "none" is not a member, and each name is a group member at most once.
        if not group.members:
            raise InputError(f"group {group.name!r} has no members")
        seen: set[str] = set()
        for member in group.members:
            if member == _NONE:
                raise InputError(f"group {group.name!r}: 'none' cannot be a group member")
            if member not in self._names:
                raise InputError(f"group {group.name!r}: member {member!r} is not defined")
            if member in self._members or member in seen:
                raise InputError(f"{member!r} is listed as a group member more than once")
            seen.add(member)
        threshold = group.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int):
            raise InputError(f"group {group.name!r}: threshold must be an integer")
        if not 1 <= threshold <= len(group.members):
            raise InputError(
                f"group {group.name!r}: threshold {threshold} is not between 1 and "
                f"{len(group.members)}"
            )
        self._define(group.name, "group")
        self._members.update(seen)
        self.groups.append(group)

    def set_quorum(self, name: str) -> None:
        # C2SP tlog-policy: exactly one quorum line, naming "none" or an earlier definition.
        if self.quorum is not None:
            raise InputError("a policy has exactly one quorum line")
        if name != _NONE and name not in self._names:
            raise InputError(f"quorum {name!r} is not a defined witness or group")
        self.quorum = name


@dataclass(frozen=True)
class Policy:
    """A trust policy: accepted logs, witnesses, witness groups and the quorum name."""

    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: tuple[PolicyGroup, ...]
    quorum: str

    def __post_init__(self) -> None:
        builder = _PolicyBuilder()
        for log in self.logs:
            builder.add_log(log)
        for witness in self.witnesses:
            builder.add_witness(witness)
        for group in self.groups:
            builder.add_group(group)
        builder.set_quorum(self.quorum)


def _parse_threshold(text: str, members: int) -> int:
    # C2SP tlog-policy: "all" is k = n, "any" is k = 1, otherwise decimal k.
    if text == "all":
        return members
    if text == "any":
        return 1
    return parse_decimal(text, "group threshold", U64_MAX)


def _parse_policy_line(builder: _PolicyBuilder, items: list[str]) -> None:
    keyword, args = items[0], items[1:]
    if keyword == "log" and len(args) in (1, 2):
        url = args[1] if len(args) == 2 else None
        builder.add_log(PolicyLog(parse_vkey(args[0]), url))
    elif keyword == "witness" and len(args) in (2, 3):
        url = args[2] if len(args) == 3 else None
        builder.add_witness(PolicyWitness(args[0], parse_cosigner_vkey(args[1]), url))
    elif keyword == "group" and len(args) >= 3:
        members = tuple(args[2:])
        builder.add_group(PolicyGroup(args[0], _parse_threshold(args[1], len(members)), members))
    elif keyword == "quorum" and len(args) == 1:
        builder.set_quorum(args[0])
    elif keyword in ("log", "witness", "group", "quorum"):
        raise InputError(f"wrong number of items on a {keyword!r} line")
    else:
        raise InputError(f"unknown policy keyword {keyword!r}")


def parse_policy(text: str) -> Policy:
    """Parse a C2SP tlog-policy file; InputError (naming the line) if invalid.

    A final line without its newline is accepted.
    """
    builder = _PolicyBuilder()
    for number, line in enumerate(text.split("\n"), start=1):
        try:
            # C2SP tlog-policy: allowed octets are tab, newline, 0x20-0x7E and 0x80-0xFF.
            if any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in line):
                raise InputError("control characters are not allowed")
            stripped = line.strip(" \t")
            # C2SP tlog-policy: empty lines and lines starting with '#' are ignored.
            if not stripped or stripped.startswith("#"):
                continue
            _parse_policy_line(builder, _POLICY_WS.split(stripped))
        except InputError as exc:
            raise InputError(f"policy line {number}: {exc.message}") from exc
    if builder.quorum is None:
        raise InputError("policy has no quorum line")
    return Policy(
        tuple(builder.logs), tuple(builder.witnesses), tuple(builder.groups), builder.quorum
    )


def format_policy(p: Policy) -> str:
    """Serialize a policy: log lines, witness lines, group lines, then the quorum line."""
    out: list[str] = []
    for log in p.logs:
        url = [] if log.url is None else [log.url]
        out.append(" ".join(["log", log.verifier.vkey(), *url]))
    for w in p.witnesses:
        url = [] if w.url is None else [w.url]
        out.append(" ".join(["witness", w.name, w.verifier.vkey(), *url]))
    for g in p.groups:
        n = len(g.members)
        k = "all" if g.threshold == n else "any" if g.threshold == 1 else str(g.threshold)
        out.append(" ".join(["group", g.name, k, *g.members]))
    out.append(f"quorum {p.quorum}")
    return "\n".join(out) + "\n"


def _quorum_nodes(policy: Policy) -> tuple[set[str], dict[str, PolicyGroup]]:
    return {w.name for w in policy.witnesses}, {g.name: g for g in policy.groups}


def policy_satisfied(policy: Policy, verified_witness_names: set[str]) -> bool:
    """Whether witnesses with these policy names having cosigned satisfies the quorum."""
    witnesses, groups = _quorum_nodes(policy)

    def witnessed(name: str) -> bool:
        # C2SP tlog-policy: a group witnesses iff at least k of its members witnessed.
        if name == _NONE:
            return True
        if name in witnesses:
            return name in verified_witness_names
        group = groups[name]
        return sum(1 for m in group.members if witnessed(m)) >= group.threshold

    return witnessed(policy.quorum)


def min_cosignatures(policy: Policy) -> int:
    """The fewest witness cosignatures that can satisfy the quorum."""
    witnesses, groups = _quorum_nodes(policy)

    def needed(name: str) -> int:
        if name == _NONE:
            return 0
        if name in witnesses:
            return 1
        group = groups[name]
        return sum(sorted(needed(m) for m in group.members)[: group.threshold])

    return needed(policy.quorum)
