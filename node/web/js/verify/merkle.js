// RFC 9162 Merkle tree hashing and proof verification (SHA-256 through WebCrypto).
// Sizes and indexes are Numbers (exact below 2**53); bit operations are done with
// arithmetic because JavaScript's bitwise operators truncate to 32 bits.
import { VerifyError, concat, equal } from "./bytes.js";

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** RFC 9162 §2.1.1: leaf hash SHA-256(0x00 || data). */
export const leafHash = (data) => sha256(concat(new Uint8Array([0]), data));

/** RFC 9162 §2.1.1: interior node SHA-256(0x01 || left || right). */
export const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

const lsb = (n) => n % 2 === 1;
const half = (n) => Math.floor(n / 2);

function checkHashes(list, what) {
  for (const h of list) {
    if (!(h instanceof Uint8Array) || h.length !== 32) throw new VerifyError("inclusion", `${what}: hashes must be 32 bytes`);
  }
}

/** The root an RFC 9162 §2.1.3.2 inclusion proof leads to; VerifyError("inclusion") if malformed. */
export async function rootFromInclusion(leaf, index, size, proof) {
  const what = `inclusion proof for leaf ${index} in tree of size ${size}`;
  checkHashes([leaf, ...proof], what);
  // Step 1: leaf_index must be below tree_size.
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) {
    throw new VerifyError("inclusion", `${what}: index out of range`);
  }
  // Step 2: fn = leaf_index, sn = tree_size - 1, r = hash.
  let fn = index, sn = size - 1, r = leaf;
  // Step 3: for each p in inclusion_path.
  for (const p of proof) {
    if (sn === 0) throw new VerifyError("inclusion", `${what}: proof is too long`);
    if (lsb(fn) || fn === sn) {
      r = await nodeHash(p, r);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Step 4: sn must be 0.
  if (sn !== 0) throw new VerifyError("inclusion", `${what}: proof is too short`);
  return r;
}

/** RFC 9162 §2.1.3.2: throws VerifyError("inclusion") unless the proof leads to `root`. */
export async function verifyInclusion(leaf, index, size, proof, root) {
  const r = await rootFromInclusion(leaf, index, size, proof);
  // Step 5: compare r with the root hash.
  if (!equal(r, root)) {
    throw new VerifyError("inclusion", `leaf ${index} is not in the tree of size ${size}: the computed root does not match`);
  }
}

/** RFC 9162 §2.1.4.2: throws VerifyError("consistency") unless the proof links the two roots. */
export async function verifyConsistency(size1, size2, proof, root1, root2) {
  const what = `consistency proof from size ${size1} to size ${size2}`;
  const fail = (why) => {
    throw new VerifyError("consistency", `${what}: ${why}`);
  };
  if (!(Number.isSafeInteger(size1) && Number.isSafeInteger(size2)) || size1 > size2) fail("the first size is larger than the second");
  if (size1 === 0) fail("a proof from the empty tree proves nothing");
  if (size1 === size2) {
    if (proof.length) fail("sizes are equal but the proof is not empty");
    if (!equal(root1, root2)) fail("sizes are equal but the roots differ");
    return;
  }
  for (const h of [root1, root2, ...proof]) if (!(h instanceof Uint8Array) || h.length !== 32) fail("hashes must be 32 bytes");
  // Step 1: an empty path fails.
  if (!proof.length) fail("proof is empty");
  // Step 2: if first is an exact power of 2, prepend first_hash.
  const path = [...proof];
  if (Number.isInteger(Math.log2(size1))) path.unshift(root1);
  // Step 3.
  let fn = size1 - 1, sn = size2 - 1;
  // Step 4: while LSB(fn), shift both.
  while (lsb(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // Step 5.
  let fr = path[0], sr = path[0];
  // Step 6.
  for (const c of path.slice(1)) {
    if (sn === 0) fail("proof is too long");
    if (lsb(fn) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Step 7: fr == first_hash, sr == second_hash, sn == 0.
  if (sn !== 0) fail("proof is too short");
  if (!equal(fr, root1)) fail("it does not lead to the first root: the old tree is not a prefix (fork)");
  if (!equal(sr, root2)) fail("it does not lead to the second root");
}
