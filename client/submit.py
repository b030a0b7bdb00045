"""Sign a statement with a key and submit it: what every writing command does.

:func:`signed_statement` builds the envelope (the statement, signed by ``key`` and any
co-signers, with an optional ``private`` part that the node keeps off the log);
:func:`submit_statement` sends it to a node and returns the node's 201 answer. The demo,
which writes through an in-process sequencer, uses :func:`signed_statement` alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from client.http import NodeClient
from ledger.keys import KeyPair
from ledger.statements import make_statement, sign_envelope

__all__ = ["signed_statement", "submit_statement"]


def signed_statement(
    origin: str,
    type_: str,
    body: Mapping[str, Any],
    key: KeyPair,
    also: Sequence[KeyPair] = (),
    private: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The envelope of a ``type_`` statement for ``origin``, signed by ``key`` then ``also``.

    ``private`` (a private payee's opening, a member's unit) travels beside the statement
    and is kept by the node, never written to the log.
    """
    env = sign_envelope(make_statement(origin, type_, dict(body), key.key_id), [key, *also])
    if private is not None:
        env["private"] = dict(private)
    return env


def submit_statement(
    c: NodeClient,
    type_: str,
    body: Mapping[str, Any],
    key: KeyPair,
    also: Sequence[KeyPair] = (),
    private: Mapping[str, str] | None = None,
    origin: str | None = None,
) -> dict[str, Any]:
    """Sign ``body`` as a ``type_`` statement with ``key`` (and ``also``) and submit it to
    the node behind ``c``.

    Returns the node's 201 answer: ``index``, ``leaf_hash``, ``checkpoint`` and
    ``inclusion_proof`` (what a vote receipt is built from). ``origin`` defaults to the
    node's community. A rejection comes back as the CivicError of its problem status.
    """
    if origin is None:
        origin = str(c.community()["origin"])
    out: dict[str, Any] = c.submit(signed_statement(origin, type_, body, key, also, private))
    return out
