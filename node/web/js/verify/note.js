// C2SP signed notes, checkpoints, cosignatures and policies: the byte rules of
// ledger/notes.py, ported (github.com/C2SP/C2SP signed-note, tlog-checkpoint,
// tlog-cosignature, tlog-policy).
import { VerifyError, b64decode, concat, equal, fromUtf8, hex, utf8 } from "./bytes.js";
import { sha256 } from "./merkle.js";
import { verify as ed25519Verify } from "./ed25519.js";

// C2SP signed-note: 0x01 Ed25519 note signature; tlog-cosignature: 0x04 timestamped Ed25519.
export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;
const SIG_PREFIX = "\u2014 "; // em dash and space
const MAX_SIGNATURES = 100;

const hasControl = (s) => /[\u0000-\u0009\u000b-\u001f]/.test(s);

/** C2SP signed-note: a key name is non-empty, without spaces, '+' or control characters. */
export const isKeyName = (n) => typeof n === "string" && n.length > 0 && !/[\s+\u0000-\u001f\u007f]/u.test(n);

/** C2SP signed-note key ID: SHA-256(name || 0x0A || type || public key)[:4]. */
export async function keyHash(name, typeAndKey) {
  return (await sha256(concat(utf8(name), new Uint8Array([10]), typeAndKey))).slice(0, 4);
}

/**
 * Parse a verifier key `<name>+<8 hex key hash>+<base64(type || 32-byte key)>` and check
 * its type and key hash. Throws VerifyError("trust root") if malformed.
 */
export async function parseVkey(text, alg = SIG_ED25519) {
  const fail = (why) => {
    throw new VerifyError("trust root", `verifier key ${String(text).slice(0, 60)}: ${why}`);
  };
  if (typeof text !== "string") fail("not a string");
  const first = text.indexOf("+");
  const second = text.indexOf("+", first + 1);
  if (first < 0 || second < 0) fail("expected <name>+<key hash>+<key>");
  const name = text.slice(0, first), hashHex = text.slice(first + 1, second), keyB64 = text.slice(second + 1);
  if (!isKeyName(name)) fail("bad key name");
  if (!/^[0-9a-f]{8}$/.test(hashHex)) fail("the key hash must be 8 lowercase hex digits");
  let raw;
  try {
    raw = b64decode(keyB64);
  } catch {
    fail("the key is not canonical base64");
  }
  if (raw.length !== 33 || raw[0] !== alg) fail(`expected signature type 0x0${alg} and a 32-byte key`);
  const expected = hex(await keyHash(name, raw));
  if (expected !== hashHex) fail(`key hash ${hashHex} does not match the key (expected ${expected})`);
  return { name, keyHash: hashHex, publicKey: raw.slice(1), alg, vkey: text };
}

/** Parse a signed note (text, blank line, signature lines); VerifyError(check) if malformed. */
export function parseNote(bytes, check = "log signature") {
  const fail = (why) => {
    throw new VerifyError(check, `malformed note: ${why}`);
  };
  let text;
  try {
    text = typeof bytes === "string" ? bytes : fromUtf8(bytes);
  } catch {
    fail("not UTF-8");
  }
  if (hasControl(text)) fail("control characters");
  const split = text.lastIndexOf("\n\n");
  if (split < 0) fail("no blank line before the signatures");
  const body = text.slice(0, split + 1);
  const block = text.slice(split + 2);
  if (!block || !block.endsWith("\n")) fail("signature lines must each end with a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) fail("too many signatures");
  const signatures = lines.map((line) => {
    if (!line.startsWith(SIG_PREFIX)) fail(`bad signature line ${line.slice(0, 40)}`);
    const rest = line.slice(SIG_PREFIX.length);
    const sp = rest.indexOf(" ");
    const name = rest.slice(0, sp);
    if (sp < 0 || !isKeyName(name)) fail("bad key name on a signature line");
    let raw;
    try {
      raw = b64decode(rest.slice(sp + 1));
    } catch {
      fail(`signature of ${name} is not canonical base64`);
    }
    if (raw.length < 5) fail(`signature of ${name} is too short`);
    return { name, keyHash: hex(raw.slice(0, 4)), sig: raw.slice(4), line };
  });
  return { text: body, signatures };
}

/** C2SP tlog-checkpoint: origin, decimal size, base64 root, optional extension lines. */
export function parseCheckpoint(text) {
  const fail = (why) => {
    throw new VerifyError("log signature", `malformed checkpoint: ${why}`);
  };
  if (!text.endsWith("\n")) fail("text must end with a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3 || !lines[0]) fail("needs origin, size and root lines");
  if (!/^(0|[1-9][0-9]{0,19})$/.test(lines[1])) fail("tree size must be decimal without leading zeros");
  const size = Number(lines[1]);
  if (!Number.isSafeInteger(size)) fail("tree size beyond 2**53 is not supported in the browser");
  let root;
  try {
    root = b64decode(lines[2]);
  } catch {
    fail("root hash is not canonical base64");
  }
  if (root.length !== 32) fail("root hash must be 32 bytes");
  return { origin: lines[0], size, root, rootHex: hex(root), extensions: lines.slice(3) };
}

/**
 * Verify a checkpoint note's log signature (C2SP signed-note) with the trusted log key and
 * parse it. Throws VerifyError("log signature").
 */
export async function openCheckpoint(noteBytes, logKey) {
  const note = parseNote(noteBytes, "log signature");
  const mine = note.signatures.filter((s) => s.name === logKey.name && s.keyHash === logKey.keyHash);
  if (!mine.length) {
    throw new VerifyError("log signature", `the checkpoint is not signed by the community's log key ${logKey.name}+${logKey.keyHash}`);
  }
  const msg = utf8(note.text);
  for (const s of mine) {
    // C2SP signed-note: a known key's failing signature rejects the note.
    if (!(await ed25519Verify(logKey.publicKey, msg, s.sig))) {
      throw new VerifyError("log signature", "the log key's signature does not verify: the checkpoint was altered or forged");
    }
  }
  const cp = parseCheckpoint(note.text);
  if (cp.origin !== logKey.name) {
    throw new VerifyError("log signature", `checkpoint origin ${cp.origin} is not the log key's name ${logKey.name}`);
  }
  return { ...cp, note, noteText: typeof noteBytes === "string" ? noteBytes : fromUtf8(noteBytes) };
}

/** C2SP tlog-cosignature: the signed message "cosignature/v1\ntime <t>\n" || note text. */
export function cosignedMessage(noteText, timestamp) {
  return utf8(`cosignature/v1\ntime ${timestamp}\n${noteText}`);
}

/**
 * The timestamp of a valid cosignature by `witness` (a parsed 0x04 vkey) on the note, or
 * null if the signature line is not a valid one by that witness.
 */
export async function verifyCosignature(noteText, sig, witness) {
  if (sig.name !== witness.name || sig.keyHash !== witness.keyHash) return null;
  // C2SP tlog-cosignature: u64 big-endian timestamp || 64-byte Ed25519 signature.
  if (sig.sig.length !== 72) return null;
  const view = new DataView(sig.sig.buffer, sig.sig.byteOffset, 8);
  const ts = view.getBigUint64(0);
  if (ts > 2n ** 63n - 1n) return null;
  const ok = await ed25519Verify(witness.publicKey, cosignedMessage(noteText, ts.toString()), sig.sig.slice(8));
  return ok ? Number(ts) : null;
}

/** Parse C2SP tlog-policy text: logs, witnesses, groups and the quorum name. */
export async function parsePolicy(text) {
  const policy = { logs: [], witnesses: [], groups: [], quorum: null };
  const names = new Set();
  const fail = (n, why) => {
    throw new VerifyError("policy", `policy line ${n}: ${why}`);
  };
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith("#")) continue;
    const [kw, ...args] = line.split(/[ \t]+/);
    if (kw === "log" && (args.length === 1 || args.length === 2)) {
      policy.logs.push({ key: await parseVkey(args[0]), url: args[1] ?? null });
    } else if (kw === "witness" && (args.length === 2 || args.length === 3)) {
      if (names.has(args[0]) || args[0] === "none") fail(i + 1, `name ${args[0]} defined twice`);
      names.add(args[0]);
      policy.witnesses.push({ name: args[0], key: await parseVkey(args[1], SIG_COSIGNATURE_V1), url: args[2] ?? null });
    } else if (kw === "group" && args.length >= 3) {
      const members = args.slice(2);
      for (const m of members) if (!names.has(m)) fail(i + 1, `member ${m} is not defined`);
      const t = args[1] === "all" ? members.length : args[1] === "any" ? 1 : /^[1-9][0-9]*$/.test(args[1]) ? Number(args[1]) : NaN;
      if (!(t >= 1 && t <= members.length)) fail(i + 1, "bad threshold");
      if (names.has(args[0])) fail(i + 1, `name ${args[0]} defined twice`);
      names.add(args[0]);
      policy.groups.push({ name: args[0], threshold: t, members });
    } else if (kw === "quorum" && args.length === 1) {
      if (policy.quorum !== null) fail(i + 1, "a second quorum line");
      if (args[0] !== "none" && !names.has(args[0])) fail(i + 1, `quorum ${args[0]} is not defined`);
      policy.quorum = args[0];
    } else {
      fail(i + 1, `cannot read ${kw}`);
    }
  }
  if (policy.quorum === null) fail(lines.length, "no quorum line");
  return policy;
}

/** The policy of a genesis body: its witnesses as one group of `quorum` (as /v1/policy serves it). */
export async function policyFromGenesis(body) {
  const witnesses = [];
  for (const w of body.witnesses ?? []) witnesses.push({ name: w.name, key: await parseVkey(w.vkey, SIG_COSIGNATURE_V1), url: w.url ?? null });
  const quorum = Number(body.quorum ?? 0);
  if (!witnesses.length || quorum === 0) return { logs: [], witnesses, groups: [], quorum: "none" };
  return { logs: [], witnesses, groups: [{ name: "quorum", threshold: quorum, members: witnesses.map((w) => w.name) }], quorum: "quorum" };
}

/** C2SP tlog-policy: whether these witnessed names satisfy the quorum. */
export function policySatisfied(policy, witnessed) {
  const groups = new Map(policy.groups.map((g) => [g.name, g]));
  const ok = (name) => {
    if (name === "none") return true;
    const g = groups.get(name);
    if (!g) return witnessed.has(name);
    return g.members.filter(ok).length >= g.threshold;
  };
  return ok(policy.quorum);
}

/** The fewest cosignatures that can satisfy the quorum (for messages). */
export function quorumNeeds(policy) {
  const groups = new Map(policy.groups.map((g) => [g.name, g]));
  const need = (name) => {
    if (name === "none") return 0;
    const g = groups.get(name);
    if (!g) return 1;
    return g.members.map(need).sort((a, b) => a - b).slice(0, g.threshold).reduce((a, b) => a + b, 0);
  };
  return need(policy.quorum);
}

/**
 * Check the witnesses' cosignatures on a verified checkpoint against a policy.
 * Returns {cosigned: [names], needed}; throws VerifyError("witness quorum") if short or if
 * a known witness's cosignature fails.
 */
export async function verifyQuorum(cp, policy) {
  const cosigned = new Set();
  for (const sig of cp.note.signatures) {
    const w = policy.witnesses.find((x) => x.key.name === sig.name && x.key.keyHash === sig.keyHash);
    if (!w) continue;
    if ((await verifyCosignature(cp.note.text, sig, w.key)) === null) {
      throw new VerifyError("witness quorum", `the cosignature by witness ${w.name} does not verify`);
    }
    cosigned.add(w.name);
  }
  const needed = quorumNeeds(policy);
  if (!policySatisfied(policy, cosigned)) {
    throw new VerifyError("witness quorum", `${cosigned.size} valid witness cosignature(s), the quorum needs ${needed}`);
  }
  return { cosigned: [...cosigned], needed };
}

export { equal };
