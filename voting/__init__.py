"""Resident voting: ballots, signed votes, tallies anyone can recompute, and vote receipts.

- :mod:`voting.spec`: ballot kinds, the ``ballot.open`` body and vote choices, checked;
- :mod:`voting.tally`: last vote per resident, tallies and passing rules (pure);
- :mod:`voting.rules`: the ``ballot.*`` and ``vote.cast`` statement types (``RULES``, for
  the community's rule set);
- :mod:`voting.evidence`: a ballot's record range proven against a checkpoint, the ballot
  bundle format, and reading a ballot's history from its records (pure);
- :mod:`voting.receipts`: C2SP tlog-proof vote receipts, built and verified (pure).
"""

from __future__ import annotations

__all__: list[str] = []
