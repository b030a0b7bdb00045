"""Submit statements to a writer/standby pair, retrying until each is acknowledged.

A sequencer answers a write only after its commit, so a connection that dies mid-request
leaves the client not knowing whether its statement is in the log. Retrying is safe:
every statement carries a nonce, and a statement that was committed comes back as a
*replay*. :class:`FailoverSubmitter` then looks it up in the log (the entry bundles from
the size it saw before its first try) and treats it as acknowledged, at the index where
it is. A 503 from a standby (node/standby.py) or a dead connection moves it on to the
next URL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ledger.errors import NetworkError
from ledger.records import parse_record
from ledger.tiles import TILE_WIDTH, decode_bundle, tile_path, tile_width

__all__ = ["Ack", "FailoverSubmitter"]


def checkpoint_size(note: bytes) -> int:
    """The tree size a C2SP checkpoint states (its second line); signatures unchecked: a
    client only uses it to know where to start looking."""
    return int(note.split(b"\n", 2)[1])


@dataclass(frozen=True)
class Ack:
    """Where an acknowledged statement is: by a 201, or found in the log after a replay."""

    index: int
    leaf_hash: str | None
    how: str  # "201" or "replay-found"
    latency: float  # seconds from the first try to the acknowledgement


class FailoverSubmitter:
    """POSTs to ``urls`` in turn (the writer first, when known) until acknowledged."""

    def __init__(self, urls: Sequence[str], timeout: float = 30.0, give_up: float = 120.0):
        self.urls = [u.rstrip("/") for u in urls]
        self.current = 0
        self.give_up = give_up
        self.http = httpx.Client(timeout=timeout)
        self.failovers = 0
        # A tree size seen before the current submission started: where a statement of
        # this submission can first be (raised by every acknowledgement).
        self.floor = 0

    def close(self) -> None:
        self.http.close()

    def _switch(self) -> None:
        self.current = (self.current + 1) % len(self.urls)
        self.failovers += 1

    def submit(self, envelopes: Sequence[dict[str, Any]]) -> list[Ack | dict[str, Any]]:
        """Submit ``envelopes`` as one array (a single one alone); retry until each is
        acknowledged (an :class:`Ack`) or refused by a rule (its problem, as a dict)."""
        start = time.monotonic()
        since = self.floor
        pending = dict(enumerate(envelopes))
        out: dict[int, Ack | dict[str, Any]] = {}
        while pending:
            if time.monotonic() - start > self.give_up:
                raise NetworkError(f"no node acknowledged {len(pending)} statement(s) in time")
            order = sorted(pending)
            items = [pending[i] for i in order]
            url = self.urls[self.current]
            try:
                body: Any = items[0] if len(items) == 1 else items
                r = self.http.post(url + "/v1/statements", json=body)
            except httpx.HTTPError:
                self._switch()
                time.sleep(0.1)
                continue
            if r.status_code in (503, 502, 504) or r.status_code == 405:
                self._switch()
                time.sleep(0.1)
                continue
            answer = r.json()
            results = answer["results"] if r.status_code == 200 else [answer]
            if r.status_code == 201:
                results = [{"status": 201, **answer}]
            now = time.monotonic() - start
            retry = False
            for i, res in zip(order, results, strict=True):
                status = int(res.get("status", 0))
                if status == 201:
                    out[i] = Ack(int(res["index"]), res["leaf_hash"], "201", now)
                    self.floor = max(self.floor, int(res["inclusion_proof"]["tree_size"]))
                    del pending[i]
                elif status == 409 and "replay" in str(res.get("detail", "")):
                    found = self.locate(pending[i], since)
                    if found is None:
                        # Only a statement in the log is a replay: not served yet here.
                        retry = True
                        continue
                    out[i] = Ack(found, None, "replay-found", time.monotonic() - start)
                    del pending[i]
                elif status in (500, 503):
                    retry = True  # the batch did not commit (e.g. the writer was fenced)
                else:
                    out[i] = dict(res)
                    del pending[i]
            if retry:
                self._switch()
                time.sleep(0.1)
        return [out[i] for i in range(len(envelopes))]

    def locate(self, envelope: dict[str, Any], since: int) -> int | None:
        """The index of ``envelope``'s record at or after ``since``, read from the entry
        bundles of whichever node answers; None when no node serves it yet."""
        want = envelope["signatures"]
        for u in [self.urls[self.current], *self.urls]:
            try:
                r = self.http.get(u + "/log/checkpoint", timeout=5.0)
                if r.status_code != 200:
                    continue
                size = checkpoint_size(r.content)
                for n in range(since // TILE_WIDTH, (size + TILE_WIDTH - 1) // TILE_WIDTH):
                    w = tile_width(None, n, size)
                    t = self.http.get(f"{u}/log/{tile_path(None, n, w)}", timeout=10.0)
                    if t.status_code != 200:
                        break
                    for k, data in enumerate(decode_bundle(t.content)):
                        rec = parse_record(data)
                        if rec.envelope.get("signatures") == want:
                            return n * TILE_WIDTH + k
            except httpx.HTTPError:
                continue
        return None
