"""Where an audit reports its progress: a terminal bar (``cli.audit_cmds``), or nothing."""

from __future__ import annotations

from typing import Protocol

__all__ = ["NullProgress", "Progress"]


class Progress(Protocol):
    """Where the audit reports progress (a terminal bar, or nothing)."""

    def start(self, phase: str, total: int | None, unit: str) -> None: ...

    def advance(self, phase: str, n: int = 1) -> None: ...

    def finish(self, phase: str) -> None: ...


class NullProgress:
    """Progress that shows nothing."""

    def start(self, phase: str, total: int | None, unit: str) -> None:
        return None

    def advance(self, phase: str, n: int = 1) -> None:
        return None

    def finish(self, phase: str) -> None:
        return None
