// Vote receipts (voting/receipts.py): a C2SP tlog-proof whose `extra` line is the vote's
// record bytes, verified with the same numbered steps as `civic vote verify`:
// 1 receipt, 2 vote, 3 receipt checkpoint, 4 inclusion, 5 consistency, 6 agreement,
// 7 ballot records, 8 last vote, 9 counted.
import { b64decode, b64encode, b64urldecode, concat, equal, fromUtf8, hex, unhex, utf8 } from "./bytes.js";
import { leafHash, verifyConsistency, verifyInclusion } from "./merkle.js";
import { proveBundle } from "./bundle.js";
import { openCheckpoint } from "./note.js";
import { canonicalBytes } from "./jcs.js";
import { verify as ed25519Verify } from "./ed25519.js";
import { encryptedTallyHash } from "../belenios/tally.js";

export const STEPS = { 1: "receipt", 2: "vote", 3: "receipt checkpoint", 4: "inclusion", 5: "consistency", 6: "agreement", 7: "ballot records", 8: "last vote", 9: "counted" };
export const DOMAIN = "civic-ledger/statement/v1\n";

/** Parse a c2sp.org/tlog-proof@v1 file: {extra, index, hashes, checkpoint}. Throws Error. */
export function parseTlogProof(bytes) {
  const text = fromUtf8(bytes);
  const split = text.indexOf("\n\n");
  if (split < 0) throw new Error("no empty line before the checkpoint");
  const lines = text.slice(0, split).split("\n");
  const checkpoint = text.slice(split + 2);
  // C2SP tlog-proof: the header line, an optional extra line, the index, the hashes.
  if (lines[0] !== "c2sp.org/tlog-proof@v1") throw new Error("not a c2sp.org/tlog-proof@v1 file");
  let i = 1, extra = null;
  if (lines[i]?.startsWith("extra ")) extra = b64decode(lines[i++].slice(6));
  const m = /^index (0|[1-9][0-9]*)$/.exec(lines[i++] ?? "");
  if (!m) throw new Error("expected an 'index <n>' line");
  const hashes = lines.slice(i).map((l) => {
    const h = b64decode(l);
    if (h.length !== 32) throw new Error("a proof hash is not 32 bytes");
    return h;
  });
  if (!checkpoint) throw new Error("no checkpoint after the empty line");
  return { extra, index: Number(m[1]), hashes, checkpoint };
}

/** Serialise a tlog-proof (the inverse of parseTlogProof). */
export function formatTlogProof({ extra, index, hashes, checkpoint }) {
  const lines = ["c2sp.org/tlog-proof@v1", ...(extra ? [`extra ${b64encode(extra)}`] : []), `index ${index}`, ...hashes.map(b64encode)];
  return concat(utf8(`${lines.join("\n")}\n\n`), utf8(checkpoint));
}

/** Whether every signature of an envelope verifies over DOMAIN || JCS(statement). */
export async function envelopeSigned(env) {
  const msg = concat(utf8(DOMAIN), canonicalBytes(env.statement));
  const keys = env.signatures.map((s) => s.key);
  if (!keys.includes(env.statement.signer)) return false;
  for (const s of env.signatures) {
    if (!s.key.startsWith("ed25519:")) return false;
    if (!(await ed25519Verify(b64urldecode(s.key.slice(8)), msg, b64decode(s.sig)))) return false;
  }
  return true;
}

async function agreement(logKey, current, fetchJson) {
  let peers;
  try {
    peers = (await fetchJson("/v1/peers")).peers ?? [];
  } catch (e) {
    return { status: "skip", detail: `this node lists no peers (${e.detail ?? e.message}): nothing to compare` };
  }
  const seen = peers.filter((p) => typeof p.checkpoint === "string" && p.checkpoint);
  if (!seen.length) return { status: "skip", detail: "this node has seen no other node's checkpoint: nothing to compare" };
  const agree = [], problems = [], unchecked = [];
  for (const p of seen) {
    let cp;
    try {
      cp = await openCheckpoint(p.checkpoint, logKey);
    } catch (e) {
      problems.push(`${p.url}: its checkpoint does not verify (${e.detail ?? e.message})`);
      continue;
    }
    const [small, big] = cp.size <= current.size ? [cp, current] : [current, cp];
    if (small.size === big.size) {
      if (small.rootHex !== big.rootHex) problems.push(`${p.url}: FORK — a checkpoint of the same size ${cp.size} with a different root`);
      else agree.push(`${p.url} (size ${cp.size})`);
      continue;
    }
    let proof;
    try {
      proof = await fetchJson(`/v1/proofs/consistency?first=${small.size}&second=${big.size}`);
    } catch {
      unchecked.push(p.url); // this node cannot prove up to a larger peer's size
      continue;
    }
    try {
      await verifyConsistency(small.size, big.size, proof.hashes.map(unhex), small.root, big.root);
      agree.push(`${p.url} (size ${cp.size})`);
    } catch (e) {
      problems.push(`${p.url}: FORK — its checkpoint of size ${cp.size} and this node's of size ${current.size} are not one tree (${e.detail ?? e.message})`);
    }
  }
  if (problems.length) return { status: "fail", detail: problems.join("; ") };
  if (!agree.length) return { status: "skip", detail: `no consistency proof for ${unchecked.join(", ")}` };
  const also = unchecked.length ? `; not compared (no proof): ${unchecked.join(", ")}` : "";
  return { status: "pass", detail: `${agree.length + 1} nodes show one log: this node (size ${current.size}) and, as its gossip fetched them, ${agree.join(", ")}${also}` };
}

function lastVotes(votes) {
  const last = new Map();
  for (const v of votes) if (!last.has(v.voter) || v.index > last.get(v.voter).index) last.set(v.voter, v);
  return last;
}

/**
 * Run the nine steps. `logKey` is the trusted parsed vkey; `current` the session's verified
 * checkpoint (quorum checked); `fetchJson` reads this node's API. Never throws for a bad
 * receipt: returns {ok, steps: [{n, name, status, detail}], vote}.
 */
export async function verifyReceipt(bytes, logKey, current, fetchJson) {
  const steps = [];
  const add = (n, status, detail) => steps.push({ n, name: STEPS[n], status, detail });
  const rest = (from, why) => {
    for (let n = from; n <= 9; n++) if (!steps.some((s) => s.n === n)) add(n, "skip", why);
  };
  const done = (vote) => ({ ok: steps.every((s) => s.status !== "fail"), steps, vote });
  // 1. receipt
  let proof;
  try {
    proof = parseTlogProof(bytes);
    if (!proof.extra) throw new Error("this tlog-proof has no extra line: a vote receipt carries its record there");
    add(1, "pass", `a c2sp.org/tlog-proof@v1 file with the ${proof.extra.length}-byte record in its extra line`);
  } catch (e) {
    add(1, "fail", e.message);
    rest(2, "step 1 failed");
    return done(null);
  }
  // 2. vote
  let rec, st;
  try {
    rec = JSON.parse(fromUtf8(proof.extra));
    if (rec.index !== proof.index) throw new Error(`the receipt's record is record ${rec.index}, its index line says ${proof.index}`);
    st = rec.envelope.statement;
    if (st.type !== "vote.cast") throw new Error(`the receipt's record is a ${st.type} statement, not a vote.cast`);
    if (!(await envelopeSigned(rec.envelope))) throw new Error("a signature on the vote does not verify");
    add(2, "pass", `record ${rec.index}: vote.cast on ballot ${st.body.ballot} signed by ${st.signer}`);
  } catch (e) {
    add(2, "fail", e.message);
    rest(3, "step 2 failed");
    return done(null);
  }
  const vote = { index: rec.index, ballot: String(st.body.ballot), signer: st.signer, choice: st.body.choice, time: rec.time };
  // 3. receipt checkpoint
  let cp0;
  try {
    cp0 = await openCheckpoint(proof.checkpoint, logKey);
    if (cp0.origin !== st.community) throw new Error(`the checkpoint is for ${cp0.origin}, the vote for ${st.community}`);
    add(3, "pass", `signed by the log key of ${cp0.origin} at size ${cp0.size}`);
  } catch (e) {
    add(3, "fail", e.detail ?? e.message);
    rest(4, "step 3 failed");
    return done(vote);
  }
  // 4. inclusion (RFC 9162 §2.1.3.2)
  try {
    await verifyInclusion(await leafHash(proof.extra), proof.index, cp0.size, proof.hashes, cp0.root);
    add(4, "pass", `record ${rec.index} is in the tree of size ${cp0.size}`);
  } catch (e) {
    add(4, "fail", e.detail ?? e.message);
  }
  // 5. consistency of this node's verified checkpoint with the receipt's (RFC 9162 §2.1.4.2)
  try {
    if (current.size < cp0.size) throw new Error(`this node is at size ${current.size}, behind your receipt's ${cp0.size}`);
    if (current.size === cp0.size) {
      if (current.rootHex !== cp0.rootHex) throw new Error(`FORK: a signed checkpoint of the same size ${cp0.size} with a different root`);
    } else {
      const p = await fetchJson(`/v1/proofs/consistency?first=${cp0.size}&second=${current.size}`);
      await verifyConsistency(cp0.size, current.size, p.hashes.map(unhex), cp0.root, current.root);
    }
    add(5, "pass", `this node: size ${current.size} extends your receipt's size ${cp0.size}`);
  } catch (e) {
    add(5, "fail", e.detail ?? e.message);
    rest(6, "step 5 failed");
    return done(vote);
  }
  // 6. agreement between nodes: the page talks to this node only (no other host), so the
  // other nodes' checkpoints are the ones this node's gossip last fetched from them. They
  // are signed by the log key, so the node can hide one but not forge one; each must be
  // the same tree as this node's (RFC 9162 §2.1.4, proofs from this node, checked here).
  try {
    const r = await agreement(logKey, current, fetchJson);
    add(6, r.status, r.detail);
  } catch (e) {
    add(6, "fail", e.detail ?? e.message);
  }
  // 7. ballot records: the ballot's whole range, proven against a verified checkpoint
  let bundle, history;
  try {
    bundle = await fetchJson(`/v1/ballots/${encodeURIComponent(vote.ballot)}/bundle?consistency_from=${cp0.size}`);
    const proven = await proveBundle(bundle, logKey, current, fetchJson);
    const { entries, records, end } = proven;
    const bcp = proven.cp;
    if (!(bundle.first <= rec.index && rec.index < end) || !equal(entries[rec.index - bundle.first], proof.extra)) {
      throw new Error(`record ${rec.index} is not among ballot ${vote.ballot}'s records [${bundle.first}, ${end})`);
    }
    history = { votes: [], close: null, cancel: null, open: records[0]?.envelope.statement };
    for (const r of records) {
      const s = r.envelope.statement;
      if (s.type === "vote.cast" && String(s.body.ballot) === vote.ballot) history.votes.push({ index: r.index, voter: s.signer, choice: s.body.choice, belenios: s.body.belenios });
      if (s.type === "ballot.close" && String(s.body.ballot) === vote.ballot) history.close = { index: r.index, body: s.body };
      if (s.type === "ballot.cancel" && String(s.body.ballot) === vote.ballot) history.cancel = { index: r.index };
    }
    const status = history.close ? "closed" : history.cancel ? "cancelled" : "open";
    add(7, "pass", `records [${bundle.first}, ${end}) of ballot ${vote.ballot} are in the checkpoint of size ${bcp.size}; ${history.votes.length} votes, ballot ${status}`);
  } catch (e) {
    add(7, "fail", e.detail ?? e.message);
    rest(8, "step 7 failed");
    return done(vote);
  }
  // 8. last vote
  const last = lastVotes(history.votes).get(vote.signer);
  if (!last) {
    add(8, "fail", `record ${rec.index} is not a vote on ballot ${vote.ballot} in its records`);
    rest(9, "step 8 failed");
    return done(vote);
  }
  if (last.index !== rec.index) add(8, "fail", `superseded: you voted again at record ${last.index}; only your last vote counts`);
  else add(8, "pass", `no later vote by ${vote.signer} on ballot ${vote.ballot}`);
  // 9. counted
  if (history.cancel) add(9, "fail", `ballot ${vote.ballot} was cancelled at record ${history.cancel.index}; no vote counts`);
  else if (!history.close) add(9, "skip", `ballot ${vote.ballot} is still open (closes ${history.open?.body?.closes}): verify again after it closes`);
  else if (history.open?.body?.mode === "secret") {
    const r = await secretCounted(history, rec.index, vote.signer, bundle.ballot_doc);
    add(9, r.ok ? "pass" : "fail", r.detail);
  } else {
    const claimed = history.close.body.result;
    const counted = lastVotes(history.votes);
    const counts = Object.fromEntries(Object.keys(claimed.counts).map((k) => [k, 0]));
    for (const v of counted.values()) for (const c of Array.isArray(v.choice) ? v.choice : [v.choice]) if (c in counts) counts[c] += 1;
    const problems = [];
    if (JSON.stringify(counts) !== JSON.stringify(Object.fromEntries(Object.keys(claimed.counts).map((k) => [k, claimed.counts[k]]))) || claimed.turnout !== counted.size) {
      problems.push(`the result in close record ${history.close.index} is not the tally of the ballot's records`);
    }
    if (counted.get(vote.signer)?.index !== rec.index) problems.push(`your vote at record ${rec.index} is not the one counted`);
    const published = bundle.ballot_doc?.result;
    if (!published || hex(await leafHash(canonicalBytes(published))) !== hex(await leafHash(canonicalBytes(claimed)))) problems.push("the node publishes a result different from its close record");
    if (problems.length) add(9, "fail", problems.join("; "));
    else add(9, "pass", `counted: the close record ${history.close.index} result (${claimed.turnout} votes, ${claimed.passed ? "passed" : "did not pass"}) is the tally of the log and includes your vote`);
  }
  return done(vote);
}

/**
 * Step 9 for a secret ballot (Belenios, voting/secret_rules.py): the close record commits
 * to the SHA-256 of the encrypted tally, the product of each resident's last ballot
 * (§4.16). That product is recomputed here from the proven records, so your ballot is
 * in what the trustees decrypted; checking their decryption proofs is `civic ballot tally`.
 */
async function secretCounted(history, index, signer, doc) {
  const counted = [...lastVotes(history.votes).values()].sort((a, b) => a.index - b.index);
  const problems = [];
  if (!counted.some((v) => v.index === index && v.voter === signer)) problems.push(`your vote at record ${index} is not the one counted`);
  let hash = null;
  try {
    hash = await encryptedTallyHash(counted.map((v) => v.belenios));
  } catch (e) {
    problems.push(`the counted ballots cannot be multiplied: ${e.message}`);
  }
  if (hash !== null && hash !== history.close.body.encrypted_tally) problems.push(`the encrypted tally in close record ${history.close.index} is not the product of the ${counted.length} counted ballots`);
  const result = doc?.result;
  if (result && result.turnout !== counted.length) problems.push(`the published result counts ${result.turnout} ballots, the log has ${counted.length}`);
  if (problems.length) return { ok: false, detail: problems.join("; ") };
  const decrypted = result ? `its decrypted result (${result.turnout} ballots) is published; the trustees' decryption proofs are checked by \`civic ballot tally\`` : "the trustees have not published its decryption yet";
  return { ok: true, detail: `counted: your encrypted ballot is one of the ${counted.length} whose product is the encrypted tally in close record ${history.close.index}; ${decrypted}` };
}
