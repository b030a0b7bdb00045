"""The operator's side of the demo: an offline fsck of the sequencers' folders before the
nodes start, and the disaster-recovery recipe (``civic node restore``) for the demo's own
folders and mirror.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node.fsck import fsck_data_dir

__all__ = ["fsck_demo", "restore_recipe"]


def fsck_demo(folders: list[Path]) -> list[dict[str, Any]]:
    """Run ``civic node fsck``'s checks on each folder (a district: each community);
    one summary per community checked. The nodes must not run yet: fsck is offline."""
    out: list[dict[str, Any]] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for report in fsck_data_dir(folder):
            out.append(
                {
                    "target": report.target,
                    "clean": report.clean,
                    "size": report.size,
                    "verdict": report.verdict(),
                    "problems": [f"{p.kind}: {p.message}" for p in report.problems],
                }
            )
    return out


def restore_recipe(data: Path, mirror_url: str, port: int) -> list[str]:
    """The commands that rebuild the demo's sequencer from its mirror after a disaster
    (not run by the demo: it would need the sequencer stopped)."""
    restored = data / "sequencer-restored"
    return [
        f"civic node restore --from {mirror_url} --data {restored} "
        f"--log-key {data / 'sequencer' / 'log.key'}",
        f"civic node fsck --data {restored}",
        f"civic node start --data {restored} --port {port}",
    ]
