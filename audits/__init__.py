"""The independent verifier: fetch a community's log from any nodes, replay it, compare them.

Modules (the public surface of each is its ``__all__``):

- :mod:`audits.audit`       :func:`~audits.audit.run_audit` (the orchestrator: the steps below
                            in order) and :func:`~audits.audit.make_bundle`

The steps, each a function taking a small frozen context and returning findings:

- :mod:`audits.checkpoints`   1. every source's checkpoints, log signatures, forks, the target
- :mod:`audits.trust`         1. the trust root: state file, --vkey/--genesis, or record 0
- :mod:`audits.pipeline`      2-3. download, verify on every core, replay
- :mod:`audits.tree`          3. the recomputed tree against the root and the served tiles
- :mod:`audits.witnesses`     3. other checkpoints, cosignatures, evidence the nodes hold
- :mod:`audits.views_compare` 4. the nodes' views against the replay
- :mod:`audits.remembered`    5. from and to the state file
- :mod:`audits.found`         what a step hands back (findings, silent nodes, timings)
- :mod:`audits.progress`      where progress is shown

Their building blocks:

- :mod:`audits.verify`      the pure checks: records, bundles, tiles, checkpoints, replay
- :mod:`audits.findings`    findings with stable codes and severities
- :mod:`audits.report`      the JSON (stable schema) and Markdown reports
- :mod:`audits.views`       the view checks: what each published view must equal
- :mod:`audits.warnings`    data-quality warnings
- :mod:`audits.fetch`       the fetcher interface (HTTP, memory) and local stores
- :mod:`audits.download`    parallel, resumable download of tiles and entry bundles
- :mod:`audits.bundle`      the offline bundle format, its reader and proofs
- :mod:`audits.state_file`  ``--state FILE``: verify only what is new next time
"""

__all__: list[str] = []
