"""The C2SP formats (github.com/C2SP/C2SP), one small pure module per specification.

Like golang.org/x/mod/sumdb/note and tlog: values in, values out; nothing here reads
files, sockets or clocks, and the only dependencies are the standard library,
:mod:`ledger.errors` and PyNaCl (Ed25519).

=========================  ======================================================
module                     specification
=========================  ======================================================
:mod:`.note`               ``signed-note.md``: notes, signature lines, key names,
                           key IDs, vkeys, Ed25519 (signature type 0x01)
:mod:`.checkpoint`         ``tlog-checkpoint.md``: origin, tree size, root hash,
                           extension lines; sign, open, read
:mod:`.cosignature`        ``tlog-cosignature.md``: ``cosignature/v1`` Ed25519
                           witness cosignatures (signature type 0x04)
:mod:`.policy`             ``tlog-policy.md``: ``log`` / ``witness`` / ``group`` /
                           ``quorum`` text and the quorum rule
:mod:`.trust`              tlog-policy applied to a checkpoint note: the one
                           trusted-checkpoint check (log signature, each witness
                           cosignature, quorum)
:mod:`.proof`              ``tlog-proof.md``: ``c2sp.org/tlog-proof@v1``
:mod:`.witness`            ``tlog-witness.md``: the ``add-checkpoint`` wire format
=========================  ======================================================

Import from the modules themselves; this package exports nothing.
"""
