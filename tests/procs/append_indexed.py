"""Child process for the crash test of the leaf-hash integrator: append batches forever
with a small index lag, so the integrator thread is always busy, and print each ack.

Usage: python -m tests.procs.append_indexed DB_URL ORIGIN PRIVATE_KEY
"""

from __future__ import annotations

import sys

from ledger.c2sp.note import parse_private_key
from ledger.log import Log
from ledger.sql import SqlStore


def main() -> None:
    url, origin, key = sys.argv[1:4]
    log = Log(SqlStore(url), origin, parse_private_key(key), index_lag=16)
    n = 0
    while True:
        n += 1
        res = log.append_records([{"batch": n, "i": i} for i in range(1 + n % 23)])
        # Printed only after the commit returned: this is the acknowledgement.
        print(f"ack {res.size}", flush=True)


if __name__ == "__main__":
    main()
