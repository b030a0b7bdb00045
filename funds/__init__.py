"""Community funds: accounts, budgets, expenses with M-of-N approval, payments, documents.

- :mod:`funds.model`: money, identifiers, the funds policy keys and their defaults;
- :mod:`funds.rules`: the ``funds.*`` statement types, one module per aggregate (``RULES``,
  for the community's rule set);
- :mod:`funds.ledger_math`: double entry and the invariants every state satisfies;
- :mod:`funds.views`: the read views the API serves;
- :mod:`funds.bodies`: assembling statement bodies on the client side (CLI, demo);
- :mod:`funds.report`: the report of balances and budget against actual;
- :mod:`funds.export`: the Frictionless data package of transactions and budget lines.
"""

from __future__ import annotations

__all__: list[str] = []
