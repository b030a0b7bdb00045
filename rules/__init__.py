"""The community's rule set, built from one list of layers.

Each layer exposes its statement rules as a value (:data:`ledger.community.RULES`,
:data:`voting.rules.RULES`, :data:`funds.rules.RULES`); :func:`community_rules` joins them
in :data:`LAYERS` order. This package sits above ``ledger``, ``voting`` and ``funds`` and
below ``node``, ``audits`` and ``cli``: the node's start-up (sequencer, witness, mirror)
and the auditor build their state with it, so they replay under the same handlers.
"""

from __future__ import annotations

from funds.rules import RULES as FUNDS_RULES
from ledger.community import RULES as COMMUNITY_RULES
from ledger.log_keys import RULES as KEY_RULES
from ledger.ruleset import Rules, RuleSet
from voting.rules import RULES as VOTING_RULES

__all__ = ["LAYERS", "community_rules"]

# Every layer whose statement types a community log carries, bottom up.
LAYERS: tuple[Rules, ...] = (COMMUNITY_RULES, KEY_RULES, VOTING_RULES, FUNDS_RULES)


def community_rules() -> RuleSet:
    """The rule set of a community log: one handler per statement type of every layer,
    with the layers' policy validators and committed fields."""
    return RuleSet(LAYERS)
