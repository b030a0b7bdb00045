// A Certificate-Transparency-style monitor: the newest checkpoint this browser has verified
// is kept in localStorage (per origin and per log). A later checkpoint must extend it by an
// RFC 9162 consistency proof; a smaller size is a rollback, a different root a fork.
import { VerifyError, unhex } from "./bytes.js";
import { verifyConsistency } from "./merkle.js";
import { parseCheckpoint, parseNote } from "./note.js";

const keyFor = (logVkey) => `civic-ledger/monitor/v1/${logVkey}`;

/** The remembered checkpoint {note, size, rootHex} for this log, or null. */
export function remembered(logVkey, storage = localStorage) {
  try {
    const v = JSON.parse(storage.getItem(keyFor(logVkey)) ?? "null");
    return v && typeof v.note === "string" ? v : null;
  } catch {
    return null;
  }
}

export function remember(logVkey, cp, storage = localStorage) {
  storage.setItem(keyFor(logVkey), JSON.stringify({ note: cp.noteText, size: cp.size, rootHex: cp.rootHex, seen: new Date().toISOString() }));
}

export function forget(logVkey, storage = localStorage) {
  storage.removeItem(keyFor(logVkey));
}

/**
 * Check `cp` (already verified) against the remembered checkpoint; remember it if it extends.
 * `fetchJson` fetches a consistency proof. Throws VerifyError("consistency") with
 * `evidence = {old, new}` (both notes) on a rollback or fork; then nothing is overwritten.
 * Returns a short description of what held.
 */
export async function monitor(logVkey, cp, fetchJson, storage = localStorage) {
  const old = remembered(logVkey, storage);
  const evidence = (why) => {
    const e = new VerifyError("consistency", why);
    e.evidence = { old: old.note, new: cp.noteText };
    return e;
  };
  if (old === null) {
    remember(logVkey, cp, storage);
    return { first: true, size: cp.size };
  }
  // The remembered note was verified when stored; re-read it to compare exactly.
  const prev = parseCheckpoint(parseNote(old.note).text);
  if (cp.size < prev.size) {
    throw evidence(`ROLLBACK: the node shows size ${cp.size}, this browser already saw size ${prev.size}`);
  }
  if (cp.size === prev.size) {
    if (cp.rootHex !== prev.rootHex) throw evidence(`FORK: two signed checkpoints of size ${cp.size} with different roots`);
    return { first: false, size: cp.size, from: prev.size };
  }
  let proof;
  try {
    proof = await fetchJson(`/v1/proofs/consistency?first=${prev.size}&second=${cp.size}`);
    await verifyConsistency(prev.size, cp.size, proof.hashes.map(unhex), prev.root, cp.root);
  } catch (e) {
    throw evidence(`FORK: the checkpoint of size ${cp.size} does not extend the one of size ${prev.size} this browser saw (${e.detail ?? e.message})`);
  }
  remember(logVkey, cp, storage);
  return { first: false, size: cp.size, from: prev.size };
}
