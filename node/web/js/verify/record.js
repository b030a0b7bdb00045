// Records: the exact bytes JCS({"index","prev","time","envelope"}) (README "Formats").
// The page never trusts a node's parsed `record` field: it hashes the `entry` bytes,
// proves them in the tree, and reads the figures from those same bytes.
import { VerifyError, b64decode, fromUtf8, hex, unhex } from "./bytes.js";
import { leafHash, verifyInclusion } from "./merkle.js";

/** Parse record bytes; VerifyError("record") if they are not a record of that index. */
export function parseRecordBytes(bytes, index) {
  let rec;
  try {
    rec = JSON.parse(fromUtf8(bytes));
  } catch {
    throw new VerifyError("inclusion", `record ${index} is not UTF-8 JSON`);
  }
  if (!rec || typeof rec !== "object" || rec.index !== index || !rec.envelope?.statement) {
    throw new VerifyError("inclusion", `the bytes served as record ${index} are not record ${index}`);
  }
  return rec;
}

/**
 * Prove one record against a verified checkpoint.
 * `fetchJson(path)` returns parsed JSON from the node. Returns {index, leafHash, record, bytes}.
 * Throws VerifyError("inclusion") if the bytes are not in the tree, VerifyError("record") if
 * the node's claimed leaf hash differs from the bytes' hash.
 */
export async function proveRecord(fetchJson, cp, index) {
  if (!(Number.isSafeInteger(index) && index >= 0 && index < cp.size)) {
    throw new VerifyError("inclusion", `record ${index} is outside the checkpoint of size ${cp.size}`);
  }
  const [doc, proof] = await Promise.all([
    fetchJson(`/v1/records/${index}`),
    fetchJson(`/v1/proofs/inclusion?index=${index}&tree_size=${cp.size}`),
  ]);
  let bytes;
  try {
    bytes = b64decode(doc.entry);
  } catch {
    throw new VerifyError("inclusion", `record ${index}: its entry is not base64`);
  }
  const leaf = await leafHash(bytes);
  if (doc.leaf_hash !== undefined && doc.leaf_hash !== hex(leaf)) {
    throw new VerifyError("inclusion", `record ${index}: the node's leaf hash is not the hash of its bytes`);
  }
  let hashes;
  try {
    hashes = proof.hashes.map(unhex);
  } catch {
    throw new VerifyError("inclusion", `record ${index}: malformed proof`);
  }
  if (proof.leaf_index !== index || proof.tree_size !== cp.size) {
    throw new VerifyError("inclusion", `record ${index}: the proof is for another leaf or tree size`);
  }
  try {
    await verifyInclusion(leaf, index, cp.size, hashes, cp.root);
  } catch (e) {
    if (e instanceof VerifyError) throw new VerifyError("inclusion", `record ${index} is not in the signed log (${e.detail})`);
    throw e;
  }
  return { index, leafHash: hex(leaf), record: parseRecordBytes(bytes, index), bytes };
}
