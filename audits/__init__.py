"""The independent verifier: fetch a community's log from any nodes, replay it, compare them.

Modules (the public surface of each is its ``__all__``):

- :mod:`audits.audit`       :func:`~audits.audit.run_audit` and :func:`~audits.audit.make_bundle`
- :mod:`audits.verify`      the pure checks: records, bundles, tiles, checkpoints, replay
- :mod:`audits.findings`    findings with stable codes and severities
- :mod:`audits.report`      the JSON (stable schema) and Markdown reports
- :mod:`audits.views`       the published views compared with the replay
- :mod:`audits.warnings`    data-quality warnings
- :mod:`audits.fetch`       the fetcher interface (HTTP, memory) and local stores
- :mod:`audits.download`    parallel, resumable download of tiles and entry bundles
- :mod:`audits.bundle`      the offline bundle format, its reader and proofs
- :mod:`audits.state_file`  ``--state FILE``: verify only what is new next time
"""

__all__: list[str] = []
