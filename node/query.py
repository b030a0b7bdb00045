"""Query strings that say only what a route reads.

FastAPI ignores query parameters a route does not declare, so a mistyped filter
(``/v1/funds/expenses?state=paid`` for ``status``) silently returns everything. The list
routes take :data:`STRICT_QUERY` as a dependency: an unknown parameter is a 422 that
names it and the parameters the route does read.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.routing import APIRoute

from ledger.errors import InputError

__all__ = ["STRICT_QUERY", "refuse_unknown_query"]


def refuse_unknown_query(request: Request) -> None:
    """InputError (422) when the request's query names a parameter the route does not read."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = {p.alias for p in route.dependant.query_params}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        err = InputError(
            f"unknown query parameter(s) {', '.join(unknown)}; this route reads "
            f"{', '.join(sorted(known)) or 'none'}"
        )
        err.status = 422
        raise err


STRICT_QUERY = Depends(refuse_unknown_query)
