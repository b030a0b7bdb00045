"""How the CLI speaks: one line on errors, JSON when asked."""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any, NoReturn

from ledger.errors import (
    CivicError,
    ForbiddenError,
    InputError,
    NetworkError,
    VerificationError,
)

__all__ = [
    "EXIT_EVIDENCE",
    "EXIT_FAILURE",
    "EXIT_FORBIDDEN",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "emit_json",
    "exit_code",
    "fail",
]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_EVIDENCE = 3
EXIT_UNREACHABLE = 4
EXIT_FORBIDDEN = 5


def exit_code(exc: CivicError) -> int:
    """Exit code by error origin: not allowed, evidence, unreachable, usage, other."""
    if isinstance(exc, ForbiddenError):
        # a permission refusal (HTTP 403, or a rule on who may sign) is no evidence
        return EXIT_FORBIDDEN
    if isinstance(exc, VerificationError):
        return EXIT_EVIDENCE
    if isinstance(exc, NetworkError):
        return EXIT_UNREACHABLE
    if isinstance(exc, InputError):
        return EXIT_USAGE
    return EXIT_FAILURE


def fail(exc: CivicError) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit; tracebacks only with CIVIC_VERBOSE=1."""
    if os.environ.get("CIVIC_VERBOSE"):
        traceback.print_exception(exc)
    print(f"error: {exc.diagnostics()}", file=sys.stderr)
    sys.exit(exit_code(exc))


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    print(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))
