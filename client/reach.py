"""Which of several nodes answer, asked all at once with short timeouts.

A command given several nodes (``vote verify``, ``civic audit``) must go on with those that
answer and name those that do not, quickly: a node that is down refuses the connection, but
a hung one accepts it and never answers, so both the connect and the read of the probe are
bounded (``PROBE_TIMEOUT``), and every node is probed in parallel.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from client.http import NodeClient
from ledger.errors import CivicError, NetworkError

__all__ = ["PROBE_TIMEOUT", "Reach", "probe_nodes"]

PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Reach:
    """The nodes that answered (in the order given) and, for the others, why not."""

    up: tuple[str, ...]
    down: dict[str, str]


def _probe(url: str, timeout: float) -> str | None:
    with NodeClient(url, timeout=timeout, connect_timeout=min(2.0, timeout)) as c:
        try:
            c.checkpoint()
        except NetworkError as exc:
            return exc.message
        except CivicError:
            return None  # it answered, if only with a problem: it is reachable
    return None


def probe_nodes(urls: Sequence[str], timeout: float = PROBE_TIMEOUT) -> Reach:
    """Ask every node in ``urls`` for its checkpoint at once; which answered within
    ``timeout`` seconds, and why each other one did not."""
    unique = list(dict.fromkeys(urls))
    if not unique:
        return Reach((), {})
    with ThreadPoolExecutor(max_workers=min(16, len(unique))) as pool:
        why = list(pool.map(lambda u: _probe(u, timeout), unique))
    up = tuple(u for u, w in zip(unique, why, strict=True) if w is None)
    down = {u: w for u, w in zip(unique, why, strict=True) if w is not None}
    return Reach(up, down)
