"""Published vectors, deterministic keys and helpers shared by the tests/test_c2sp_*.py files."""

from __future__ import annotations

import base64
import hashlib
import struct
from pathlib import Path

from hypothesis import strategies as st

from ledger.c2sp.checkpoint import Checkpoint, sign_checkpoint
from ledger.c2sp.cosignature import CosignatureSigner, cosigner_from_seed
from ledger.c2sp.note import (
    NoteSignature,
    add_signatures,
    is_valid_key_name,
    parse_note,
    sign_note,
    signer_from_seed,
)
from ledger.c2sp.policy import Policy, PolicyGroup, PolicyLog, PolicyWitness

VECTORS = Path(__file__).parent.parent / "vectors"


TESSERA = VECTORS / "tessera-log"


DASH = "\u2014"


# signed-note.md example (tests/vectors/README.md)
EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"


EXAMPLE_NOTE = (
    "This is an example message.\n\n"
    f"{DASH} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3m"
    "FXmRKuwHjG1Yu72IneyaQM=\n"
).encode()


# tessera testdata/log keys (tests/vectors/README.md)
LOG_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"


LOG_SKEY = (
    "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
)


LOG_ORIGIN = "example.com/log/testdata"


ROOT_15 = "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs="


EMPTY_ROOT = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


TESSERA_CHECKPOINTS = sorted(TESSERA.glob("checkpoint*"), key=lambda p: p.name)


# tlog-checkpoint.md / tlog-cosignature.md example checkpoint
SOFA_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


SOFA_LOG_SIG = (
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8="
)


SOFA_W1_SIG = (
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIU"
    "BkBIfZ+qnA=="
)


# tlog-proof.md example (its signatures are elided with "[...]" in the spec)
PROOF_EXAMPLE = (
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
    "\n"
    "example.com/fancylog\n"
    "109482\n"
    "sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
    "\n"
    f"{DASH} example.com/fancylog hI2DJw[...]1roloI=\n"
    f"{DASH} witness1.example mJirIklj[...]qY9v2B/5bg==\n"
    f"{DASH} witness2.example TnKKVHLX[...]xwYwrSjgow==\n"
    f"{DASH} witness3.example S4X82uH5[...]3oEcROGLFQ==\n"
).encode()


# Deterministic keys for the tests.
ALICE = signer_from_seed("example.org/alice", bytes(range(32)))


BOB = signer_from_seed("example.org/bob", bytes(range(1, 33)))


LOG = signer_from_seed("ledger.example/log", b"\x07" * 32)


WITNESSES = [cosigner_from_seed(f"witness.example/w{i}", bytes([0x40 + i]) * 32) for i in (1, 2, 3)]


TS = 1_700_000_000


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sig_line(name: str, payload: bytes) -> str:
    return f"{DASH} {name} {b64(payload)}\n"


def alice_note(text: str = "hello\n") -> bytes:
    return sign_note(text, [ALICE])


def spec_example_policy_text() -> str:
    """tlog-policy.md's example with real keys in place of <vkey>."""
    keys = {
        n: cosigner_from_seed(f"w.example/{n}", hashlib.sha256(n.encode()).digest())
        for n in ("X1", "X2", "X3", "Y1", "Y2", "Y3")
    }
    lines = [f"log {LOG.verifier().vkey()}", ""]
    lines += [f"witness {n} {keys[n].verifier().vkey()}" for n in ("X1", "X2", "X3")]
    lines += ["group X-witnesses 2 X1 X2 X3", ""]
    lines += [f"witness {n} {keys[n].verifier().vkey()}" for n in ("Y1", "Y2", "Y3")]
    lines += ["group Y-witnesses any Y1 Y2 Y3", "", "group X-and-Y all X-witnesses Y-witnesses"]
    lines += ["quorum X-and-Y"]
    return "\n".join(lines) + "\n"


def log_checkpoint(size: int = 42) -> tuple[Checkpoint, bytes]:
    cp = Checkpoint(LOG.name, size, hashlib.sha256(str(size).encode()).digest())
    return cp, sign_checkpoint(cp, LOG)


def cosigned(data: bytes, cosigners: list[CosignatureSigner], ts: int = TS) -> bytes:
    body = parse_note(data).text
    return add_signatures(data, [c.cosign(body, ts) for c in cosigners])


def quorum_policy(k: int = 2) -> Policy:
    witnesses = tuple(
        PolicyWitness(f"w{i}", c.verifier()) for i, c in enumerate(WITNESSES, start=1)
    )
    group = PolicyGroup("witnesses", k, tuple(w.name for w in witnesses))
    return Policy((PolicyLog(LOG.verifier()),), witnesses, (group,), "witnesses")


def retimed(sig: NoteSignature, ts: int) -> NoteSignature:
    return NoteSignature(sig.name, sig.key_hash, struct.pack(">Q", ts) + sig.signature[8:])


key_names = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=30,
).filter(is_valid_key_name)


line_text = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=40
)


roots = st.binary(min_size=32, max_size=32)


sizes = st.integers(min_value=0, max_value=2**64 - 1)


checkpoints = st.builds(
    Checkpoint, line_text, sizes, roots, st.lists(line_text, max_size=3).map(tuple)
)


note_signatures = st.builds(
    NoteSignature, key_names, st.binary(min_size=4, max_size=4), st.binary(min_size=1, max_size=80)
)


note_texts = st.lists(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs"))), min_size=1)

ROOT = b64(b"\x11" * 32)
