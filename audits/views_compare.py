"""Step 4 of the audit: every view a node publishes, compared with the same view computed
from the replayed state (the checks themselves are in :mod:`audits.views`).

Only nodes that stand at the audited tree are compared, and a node that appends records
while its views are read is skipped (``view.skipped``): its views describe another state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audits.checkpoints import Seen
from audits.findings import Finding, finding
from audits.found import Collector, Found
from audits.progress import Progress
from audits.views import ViewCheck, json_diff, view_checks
from ledger.c2sp.checkpoint import Checkpoint
from ledger.errors import NetworkError, NotFoundError
from ledger.state import State

__all__ = ["ViewsCompared", "ViewsContext", "compare_views"]


@dataclass(frozen=True)
class ViewsContext:
    """The replayed state, the audited checkpoint and the sources that served one."""

    state: State
    target: Checkpoint
    seen: tuple[Seen, ...]
    progress: Progress
    down: frozenset[str]


@dataclass(frozen=True)
class ViewsCompared:
    """``views``: per node compared, what its report row says (match, n differ, skipped)."""

    views: Mapping[str, str]
    found: Found


def compare_views(ctx: ViewsContext) -> ViewsCompared:
    """Step 4: fetch every view from every node at the audited tree and compare."""
    col = Collector(ctx.down)
    t = ctx.target
    t0 = time.perf_counter()
    checks: list[tuple[ViewCheck, str, Any]] = []
    for c in view_checks():
        try:
            checks += [(c, p, e) for p, e in c.expected(ctx.state)]
        except Exception as exc:  # a view function failing on this state: say so
            msg = f"the {c.name} view could not be computed from the replay: {exc!r}"
            col.add(finding("view.skipped", msg))
    nodes = [
        s
        for s in ctx.seen
        if s.fetcher is not None
        and s.kind == "latest"
        and not s.fetcher.offline
        and s.cp is not None
        and s.cp.size == t.size
        and s.cp.root_hash == t.root_hash
        and s.name not in ctx.down
    ]
    ctx.progress.start("views", len(checks) * len(nodes), "views")
    compared = 0
    views: dict[str, str] = {}
    for s in nodes:
        f = s.fetcher
        assert f is not None
        found: list[Finding] = []
        try:
            moved = f.fetch("log/checkpoint") != s.note
            if not moved:
                for check, path, expected in checks:
                    try:
                        actual = f.fetch_json(path)
                    except NotFoundError:
                        found.append(
                            finding(
                                "view.skipped", f"{s.name} does not publish {path}", node=s.name
                            )
                        )
                        continue
                    want, got = check.project(expected), check.project(actual)
                    # Equal as Python values is the common case and costs one C-level
                    # comparison; otherwise compare through JSON (tuples become lists).
                    diff = [] if want == got else json_diff(_as_json(want), got)
                    if diff:
                        msg = f"{s.name} publishes {path} unlike the log: {diff[0]}"
                        found.append(
                            finding(
                                "view.mismatch",
                                msg,
                                node=s.name,
                                path=path,
                                view=check.name,
                                differences=diff,
                            )
                        )
                    compared += 1
                    ctx.progress.advance("views")
                moved = f.fetch("log/checkpoint") != s.note
        except NetworkError as exc:
            col.unreachable(s.name, exc)
            views[s.name] = "unreachable"
            continue
        if moved:
            views[s.name] = "skipped (node moved on)"
            col.add(
                finding(
                    "view.skipped",
                    f"{s.name} appended records while the audit ran; its views were not compared",
                    node=s.name,
                )
            )
            continue
        bad = sum(1 for x in found if x.code == "view.mismatch")
        views[s.name] = f"{bad} differ" if bad else "match"
        col.extend(found)
    ctx.progress.finish("views")
    col.phase("views", compared, "views", time.perf_counter() - t0)
    return ViewsCompared(views, col.found())


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))
