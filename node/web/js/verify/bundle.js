// A ballot bundle (civic-ledger/ballot-bundle@v1, voting/ballot_records.py): the ballot's
// records [first, end) with the frontier of the tree of size `first`, proven here against
// the bundle's signed checkpoint and that checkpoint against the page's verified one.
import { b64decode, equal, fromUtf8, unhex } from "./bytes.js";
import { leafHash, nodeHash, verifyConsistency } from "./merkle.js";
import { openCheckpoint } from "./note.js";

/** MTH(D[0:end]) from the frontier (perfect subtrees of [0, first)) and the leaves after it. */
export async function rangeRoot(first, frontier, leaves) {
  const sizes = [];
  for (let rest = first, bit = 2 ** 52; bit >= 1; bit /= 2) if (rest >= bit) { sizes.push(bit); rest -= bit; }
  if (sizes.length !== frontier.length) throw new Error(`the frontier has ${frontier.length} hashes, size ${first} needs ${sizes.length}`);
  const stack = frontier.map((h, i) => ({ size: sizes[i], h }));
  for (const leaf of leaves) {
    stack.push({ size: 1, h: leaf });
    while (stack.length > 1 && stack[stack.length - 1].size === stack[stack.length - 2].size) {
      const r = stack.pop(), l = stack.pop();
      stack.push({ size: l.size * 2, h: await nodeHash(l.h, r.h) });
    }
  }
  let h = stack[stack.length - 1].h;
  for (let i = stack.length - 2; i >= 0; i--) h = await nodeHash(stack[i].h, h);
  return h;
}

/**
 * Prove a bundle: its checkpoint is signed by `logKey` and consistent with `current` (the
 * page's verified checkpoint, either way round), and its entries lead from the frontier
 * to that checkpoint's root. Returns {first, end, cp, entries (bytes), records (parsed)}.
 * Throws Error naming what failed.
 */
export async function proveBundle(bundle, logKey, current, fetchJson) {
  const bcp = await openCheckpoint(bundle.checkpoint, logKey);
  if (bcp.size < current.size) {
    const p = await fetchJson(`/v1/proofs/consistency?first=${bcp.size}&second=${current.size}`);
    await verifyConsistency(bcp.size, current.size, p.hashes.map(unhex), bcp.root, current.root);
  } else if (bcp.size === current.size && bcp.rootHex !== current.rootHex) {
    throw new Error("the bundle's checkpoint forks from the page's");
  } else if (bcp.size > current.size) {
    const p = await fetchJson(`/v1/proofs/consistency?first=${current.size}&second=${bcp.size}`);
    await verifyConsistency(current.size, bcp.size, p.hashes.map(unhex), current.root, bcp.root);
  }
  const entries = bundle.entries.map(b64decode);
  const leaves = await Promise.all(entries.map(leafHash));
  const end = bundle.first + entries.length;
  const root = await rangeRoot(bundle.first, bundle.frontier.map(unhex), leaves);
  if (end === bcp.size) {
    if (!equal(root, bcp.root)) throw new Error("the ballot's records do not lead to the checkpoint's root");
  } else {
    await verifyConsistency(end, bcp.size, (bundle.consistency[String(end)] ?? []).map(unhex), root, bcp.root);
  }
  const records = entries.map((e, i) => {
    const r = JSON.parse(fromUtf8(e));
    if (r.index !== bundle.first + i) throw new Error(`entry ${bundle.first + i} is a record with index ${r.index}`);
    return r;
  });
  return { first: bundle.first, end, cp: bcp, entries, records };
}
