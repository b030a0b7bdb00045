"""Child process for the crash test: append record batches forever, print each ack.

Usage: python -m tests.procs.append_forever DB_URL ORIGIN PRIVATE_KEY
"""

from __future__ import annotations

import sys

from ledger.c2sp.note import parse_private_key
from ledger.log import Log
from ledger.sql import SqlStore


def main() -> None:
    url, origin, key = sys.argv[1:4]
    log = Log(SqlStore(url), origin, parse_private_key(key))
    n = 0
    while True:
        n += 1
        res = log.append_records(
            [{"batch": n, "i": i, "pad": "x" * 200} for i in range(1 + n % 50)]
        )
        # Printed only after the commit returned: this is the acknowledgement.
        print(f"ack {res.size}", flush=True)


if __name__ == "__main__":
    main()
