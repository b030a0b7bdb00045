"""A mirror: follows the log through its tiles API, verifies as a witness does, serves reads.

Every ``follow_interval`` seconds the mirror fetches the log's newest checkpoint, and
brings its :class:`~node.replica.Replica` up to it (fetch, check against the signed root,
replay through the rules, store). It also keeps the witness cosignatures it sees — on the
newest checkpoint and on the log's newest quorum checkpoint — so that residents and
auditors get trusted checkpoints, records, proofs and state from the mirror while the
sequencer is down. (C2SP tlog-mirror's push protocol is not implemented: the mirror pulls.)
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ledger.c2sp.note import parse_vkey
from ledger.errors import CivicError, InputError, NotFoundError
from node.config import CONFIG_FILE, NodeConfig, save_config
from node.cosigning import CosignatureBook
from node.replica import Replica, Source

__all__ = ["Follower", "init_mirror"]

log = logging.getLogger("civic.mirror")


class Follower(threading.Thread):
    """Polls the log and keeps the replica (and its cosignatures) up to date."""

    def __init__(
        self, replica: Replica, source: Source, book: CosignatureBook, interval: float
    ) -> None:
        super().__init__(name="mirror-follower", daemon=True)
        self.replica = replica
        self.source = source
        self.book = book
        self.interval = interval
        self.error = ""
        self.stopping = threading.Event()
        self.wake = threading.Event()

    def poll(self) -> int:
        """One round: reach the log's newest checkpoint; the replica's size afterwards."""
        note = self.source.checkpoint()
        self.replica.sync_to(note)
        self.replica.learn_cosignatures(note, self.book)
        try:
            witnessed = self.source.get("/v1/checkpoints/witnessed")
        except NotFoundError:
            pass  # the log has no quorum checkpoint yet (or is not a civic node)
        else:
            self.replica.learn_cosignatures(witnessed, self.book)
        return self.replica.log.size

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.poll()
                self.error = ""
            except CivicError as exc:
                if exc.message != self.error:
                    log.warning("mirror cannot follow %s: %s", self.source.url, exc.message)
                self.error = exc.message
            except Exception as exc:  # keep following whatever the log sends
                log.exception("mirror: unexpected error")
                self.error = f"unexpected error: {exc}"
            self.wake.wait(self.interval)
            self.wake.clear()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()


def init_mirror(data_dir: Path, follow: str, log_vkey: str, database: str | None = None) -> None:
    """Create a mirror's data folder that follows the log at ``follow``."""
    if (data_dir / CONFIG_FILE).exists():
        raise InputError(f"{data_dir} already holds a node; choose an empty folder")
    origin = parse_vkey(log_vkey).name
    data_dir.mkdir(parents=True, exist_ok=True)
    save_config(
        data_dir,
        NodeConfig(
            origin=origin, role="mirror", database=database, log_vkey=log_vkey, follow=follow
        ),
    )
