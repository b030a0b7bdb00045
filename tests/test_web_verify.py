"""The browser verifier (node/web/js/verify) against vectors made by the Python code.

Good and tampered checkpoints, cosignatures, policies, RFC 9162 proofs, record leaf
hashes and JCS texts are produced here with ``ledger``; headless Chromium runs the
JavaScript checks on them and each verdict must be the Python one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, sign_checkpoint
from ledger.c2sp.cosignature import cosigner_from_seed
from ledger.c2sp.note import add_signatures, signer_from_seed
from ledger.c2sp.policy import Policy, PolicyGroup, PolicyLog, PolicyWitness, format_policy
from ledger.canonical import canonical_json
from ledger.keys import encrypt_key, keypair_from_seed
from ledger.statements import make_statement, sign_envelope, signing_bytes
from tests.web_support import browser, static_server

ORIGIN = "civic.example/vector-garden"


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with browser() as b, static_server() as url:
        ctx = b.new_context()
        pg = ctx.new_page()
        pg.goto(url + "/")
        pg.evaluate("async () => { window.V = await import('/js/verify/index.js'); }")
        yield pg
        ctx.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_inclusion_and_consistency_match_python(page: Any) -> None:
    leaves = [merkle.leaf_hash(bytes([i]) * (i + 1)) for i in range(19)]
    cases = []
    for size in range(1, 20):
        root = merkle.root_from_leaves(leaves[:size])
        for index in range(size):
            proof = merkle.inclusion_proof_from_leaves(index, leaves[:size])
            cases.append(
                [
                    "inc",
                    leaves[index].hex(),
                    index,
                    size,
                    [h.hex() for h in proof],
                    root.hex(),
                    True,
                ]
            )
            if proof:
                bad = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
                cases.append(
                    [
                        "inc",
                        leaves[index].hex(),
                        index,
                        size,
                        [h.hex() for h in bad],
                        root.hex(),
                        False,
                    ]
                )
            if size > 1:
                other = (index + 1) % size
                cases.append(
                    [
                        "inc",
                        leaves[other].hex(),
                        index,
                        size,
                        [h.hex() for h in proof],
                        root.hex(),
                        False,
                    ]
                )
        for first in range(1, size + 1):
            proof = merkle.consistency_proof_from_leaves(first, leaves[:size])
            r1 = merkle.root_from_leaves(leaves[:first])
            cases.append(["con", first, size, [h.hex() for h in proof], r1.hex(), root.hex(), True])
            if proof:
                bad = [*proof[:-1], proof[-1][:-1] + bytes([proof[-1][-1] ^ 1])]
                cases.append(
                    ["con", first, size, [h.hex() for h in bad], r1.hex(), root.hex(), False]
                )
                fork = merkle.leaf_hash(b"fork").hex()
                cases.append(
                    ["con", first, size, [h.hex() for h in proof], fork, root.hex(), False]
                )
    got = page.evaluate(
        """async (cases) => {
          const out = [];
          for (const c of cases) {
            try {
              if (c[0] === 'inc') await V.verifyInclusion(V.unhex(c[1]), c[2], c[3], c[4].map(V.unhex), V.unhex(c[5]));
              else await V.verifyConsistency(c[1], c[2], c[3].map(V.unhex), V.unhex(c[4]), V.unhex(c[5]));
              out.push(true);
            } catch (e) { if (!(e instanceof V.VerifyError)) throw e; out.push(false); }
          }
          return out;
        }""",
        cases,
    )
    assert got == [c[-1] for c in cases]
    assert got.count(False) > 100 and got.count(True) > 300


def _witnesses() -> list[Any]:
    return [cosigner_from_seed(f"w{i}.example", bytes([40 + i]) * 32) for i in range(3)]


def test_checkpoint_signature_and_quorum(page: Any) -> None:
    log = signer_from_seed(ORIGIN, b"\x07" * 32)
    other = signer_from_seed(ORIGIN, b"\x08" * 32)
    ws = _witnesses()
    policy = Policy(
        (PolicyLog(log.verifier()),),
        tuple(PolicyWitness(w.name, w.verifier()) for w in ws),
        (PolicyGroup("q", 2, tuple(w.name for w in ws)),),
        "q",
    )
    cp = Checkpoint(ORIGIN, 12, merkle.leaf_hash(b"root"))
    note = sign_checkpoint(cp, log)
    body = cp.body()

    def cosigned(n: int) -> bytes:
        return add_signatures(
            note, [w.cosign(body, 1_700_000_000 + i) for i, w in enumerate(ws[:n])]
        )

    full = cosigned(3)
    forged_root = full.replace(b64(cp.root_hash).encode(), b64(merkle.leaf_hash(b"x")).encode())
    # The last cosignature line with one bit of its Ed25519 signature flipped.
    line = full.split(b"\n")[-2]
    name, sig = line.rsplit(b" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1
    bad_cosig = full.replace(line, name + b" " + base64.b64encode(bytes(raw)))
    cases = {
        "three": (full, "ok"),
        "two": (cosigned(2), "ok"),
        "one": (cosigned(1), "witness quorum"),
        "none": (note, "witness quorum"),
        "root altered": (forged_root, "log signature"),
        "other key, same name": (sign_checkpoint(cp, other), "log signature"),
        "cosignature altered": (bad_cosig, "witness quorum"),
        "not a note": (b"hello\n", "log signature"),
    }
    got = page.evaluate(
        """async ([vkey, policyText, cases, root]) => {
          const key = await V.parseVkey(vkey);
          const policy = await V.parsePolicy(policyText);
          const out = {};
          for (const [name, note] of Object.entries(cases)) {
            try {
              const cp = await V.openCheckpoint(note, key);
              await V.verifyQuorum(cp, policy);
              out[name] = cp.size === 12 && cp.rootHex === root ? 'ok' : 'wrong checkpoint';
            } catch (e) { if (!(e instanceof V.VerifyError)) throw e; out[name] = e.check; }
          }
          return out;
        }""",
        [
            log.verifier().vkey(),
            format_policy(policy),
            {k: v[0].decode("utf-8", "replace") for k, v in cases.items()},
            cp.root_hash.hex(),
        ],
    )
    assert got == {k: v[1] for k, v in cases.items()}


def test_vkeys_and_policy_parsing(page: Any) -> None:
    log = signer_from_seed(ORIGIN, b"\x09" * 32)
    vkey = log.verifier().vkey()
    name, _h, k = vkey.split("+", 2)
    wrong_hash = f"{name}+{'0' * 8}+{k}"
    cosigner = _witnesses()[0].verifier().vkey()
    got = page.evaluate(
        """async (keys) => {
          const out = [];
          for (const [k, alg] of keys) {
            try { const v = await V.parseVkey(k, alg); out.push(V.hex(v.publicKey)); }
            catch (e) { if (!(e instanceof V.VerifyError)) throw e; out.push(e.check); }
          }
          return out;
        }""",
        [[vkey, 1], [wrong_hash, 1], [cosigner, 1], [cosigner, 4], ["nonsense", 1]],
    )
    assert got == [
        log.public_key.hex(),
        "trust root",
        "trust root",
        _witnesses()[0].public_key.hex(),
        "trust root",
    ]
    ws = _witnesses()
    for threshold, present, expected in [(2, 2, True), (2, 1, False), (3, 2, False), (1, 1, True)]:
        policy = Policy(
            (PolicyLog(log.verifier()),),
            tuple(PolicyWitness(w.name, w.verifier()) for w in ws),
            (PolicyGroup("q", threshold, tuple(w.name for w in ws)),),
            "q",
        )
        ok = page.evaluate(
            "async ([t, names]) => V.policySatisfied(await V.parsePolicy(t), new Set(names))",
            [format_policy(policy), [w.name for w in ws[:present]]],
        )
        assert ok is expected


def test_jcs_matches_the_python_canonicaliser(page: Any) -> None:
    kp = keypair_from_seed(b"\x05" * 32)
    st = make_statement(ORIGIN, "vote.cast", {"ballot": "3", "choice": ["a", "b"]}, kp.key_id)
    values: list[Any] = [
        st,
        sign_envelope(st, [kp]),
        {
            "b": 1,
            "a": [True, False, None],
            "é": "ü",
            "\u20ac": "€",
            "😀": "emoji key",
            "\ufb33": "x",
        },
        {"s": 'quote " backslash \\ tab \t nl \n ctl \u0001 \u001f del \u007f ls \u2028'},
        {"n": [0, -0, 1, -1, 2**53 - 1, -(2**53 - 1), 1.5, 0.1, 1e21, 1e-7, 123456789.25]},
        {"zh": "社区活动室应开设哪些晚间课程？", "nested": {"z": {}, "a": []}},
        [],
        "plain",
    ]
    expected = [canonical_json(v).decode("utf-8") for v in values]
    got = page.evaluate("(vals) => vals.map(V.canonicalize)", values)
    assert got == expected
    # The signing bytes and their signature check the same way in the browser.
    env = sign_envelope(st, [kp])
    ok = page.evaluate(
        """async ([st, sig, pub]) => V.ed25519Verify(V.b64urldecode(pub),
             V.concat(V.utf8('civic-ledger/statement/v1\\n'), V.canonicalBytes(st)), V.b64decode(sig))""",
        [st, env["signatures"][0]["sig"], kp.key_id.removeprefix("ed25519:")],
    )
    assert ok is True
    assert signing_bytes(st).startswith(b"civic-ledger/statement/v1\n")


def test_monitor_detects_rollback_and_fork(page: Any) -> None:
    log = signer_from_seed(ORIGIN, b"\x0a" * 32)
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(10)]
    forked = [*leaves[:5], merkle.leaf_hash(b"evil"), *leaves[6:]]

    def cp(size: int, ls: list[bytes] = leaves) -> str:
        return sign_checkpoint(
            Checkpoint(ORIGIN, size, merkle.root_from_leaves(ls[:size])), log
        ).decode()

    proofs = {
        f"{a}-{b}": [h.hex() for h in merkle.consistency_proof_from_leaves(a, ls[:b])]
        for a in range(1, 11)
        for b in range(a, 11)
        for ls in [leaves]
    }
    fork_proofs = {
        f"{a}-{b}": [h.hex() for h in merkle.consistency_proof_from_leaves(a, forked[:b])]
        for a in range(1, 11)
        for b in range(a, 11)
    }
    steps = [
        ("first", cp(4), "ok"),
        ("grows", cp(7), "ok"),
        ("same", cp(7), "ok"),
        ("rollback", cp(5), "consistency"),
        ("fork same size", cp(7, forked), "consistency"),
        ("fork larger", cp(9, forked), "consistency"),
        ("grows after alarms", cp(10), "ok"),
    ]
    got = page.evaluate(
        """async ([vkey, steps, proofs, forkProofs]) => {
          const key = await V.parseVkey(vkey);
          const mem = new Map();
          const storage = { getItem: (k) => mem.get(k) ?? null, setItem: (k, v) => mem.set(k, v), removeItem: (k) => mem.delete(k) };
          const out = [];
          for (const [name, note] of steps) {
            const cp = await V.openCheckpoint(note, key);
            const table = name.startsWith('fork') ? forkProofs : proofs;
            const fetchJson = async (path) => {
              const q = new URLSearchParams(path.split('?')[1]);
              return { hashes: table[`${q.get('first')}-${q.get('second')}`] };
            };
            try {
              await V.monitor(vkey, cp, fetchJson, storage);
              out.push([name, 'ok', V.remembered(vkey, storage).size]);
            } catch (e) {
              if (!(e instanceof V.VerifyError)) throw e;
              out.push([name, e.check, V.remembered(vkey, storage).size, Boolean(e.evidence.old && e.evidence.new)]);
            }
          }
          return out;
        }""",
        [log.verifier().vkey(), [list(s) for s in steps], proofs, fork_proofs],
    )
    assert [g[:2] for g in got] == [[s[0], s[2]] for s in steps]
    # The remembered checkpoint never moves on an alarm, and alarms carry both notes.
    assert [g[2] for g in got] == [4, 7, 7, 7, 7, 7, 10]
    assert all(g[3] for g in got if g[1] != "ok")


def test_record_leaf_hash_from_exact_bytes(page: Any) -> None:
    record = canonical_json(
        {
            "index": 3,
            "prev": "00" * 32,
            "time": "2026-01-01T00:00:00Z",
            "envelope": {"statement": {"type": "x"}, "signatures": []},
        }
    )
    got = page.evaluate("async (b) => V.hex(await V.leafHash(V.b64decode(b)))", b64(record))
    assert got == merkle.leaf_hash(record).hex()
    assert json.loads(record)["index"] == 3


def test_key_files_open_in_the_browser_as_in_the_cli(page: Any) -> None:
    kp = keypair_from_seed(b"\x0b" * 32)
    files = {
        "min": (encrypt_key(kp, "pässwörd", "min").decode(), "pa\u0308sswo\u0308rd"),  # NFD input
        "interactive": (encrypt_key(kp, "correct horse", "interactive").decode(), "correct horse"),
    }
    doc = json.loads(files["min"][0])
    doc["key_id"] = keypair_from_seed(b"\x0c" * 32).key_id
    altered = json.dumps(doc)
    got = page.evaluate(
        """async ([files, altered]) => {
          const K = await import('/js/keyfile.js');
          const open = async (text, pass) => {
            try { return (await K.openKeyFile(new TextEncoder().encode(text), pass)).keyId; }
            catch (e) { if (!(e instanceof K.KeyFileError)) throw e; return e.key; }
          };
          return {
            min: await open(...files.min),
            interactive: await open(...files.interactive),
            wrong: await open(files.min[0], 'not it'),
            altered: await open(altered, files.min[1]),
            junk: await open('{"format": 1}', 'x'),
          };
        }""",
        [files, altered],
    )
    assert got == {
        "min": kp.key_id,
        "interactive": kp.key_id,
        "wrong": "key_wrong_passphrase",
        "altered": "key_altered",
        "junk": "key_not_key_file",
    }


def test_the_tweetnacl_fallback_verifies_like_webcrypto(page: Any) -> None:
    """Without WebCrypto's Ed25519 the vendored TweetNaCl gives the same verdicts."""
    log = signer_from_seed(ORIGIN, b"\x0d" * 32)
    cp = Checkpoint(ORIGIN, 3, merkle.leaf_hash(b"r"))
    good = sign_checkpoint(cp, log).decode()
    bad = good.replace(b64(cp.root_hash), b64(merkle.leaf_hash(b"s")))
    assert page.evaluate("V.ed25519Backend()") == "webcrypto"
    ctx = page.context.browser.new_context()
    try:
        p2 = ctx.new_page()
        # Make WebCrypto refuse Ed25519 before the verifier first looks for it.
        p2.add_init_script(
            """const orig = crypto.subtle.importKey.bind(crypto.subtle);
               crypto.subtle.importKey = (f, k, alg, ...rest) =>
                 (alg && (alg === 'Ed25519' || alg.name === 'Ed25519')) ? Promise.reject(new Error('no')) : orig(f, k, alg, ...rest);"""
        )
        p2.goto(page.url)
        got = p2.evaluate(
            """async ([vkey, good, bad]) => {
              const V = await import('/js/verify/index.js');
              const key = await V.parseVkey(vkey);
              const out = [await V.ed25519Backend()];
              for (const n of [good, bad]) {
                try { await V.openCheckpoint(n, key); out.push('ok'); } catch (e) { out.push(e.check); }
              }
              return out;
            }""",
            [log.verifier().vkey(), good, bad],
        )
    finally:
        ctx.close()
    assert got == ["tweetnacl", "ok", "log signature"]
