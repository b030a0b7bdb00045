// Voter credentials (Belenios spec 2.0 §4.8), as voting/secret/credentials.py: 15 Base58
// characters (the last a checksum) shown as XXX-XXX-XXX-XXX-XXX; the secret exponent is
// PBKDF2-HMAC-SHA256(credential, election uuid, 1000 iterations, 32 bytes) mod q.
import { bytesToBig } from "./group.js";

export const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function checksum(body) {
  let value = 0n;
  for (const ch of body) value = value * 58n + BigInt(BASE58.indexOf(ch));
  return BASE58[Number((53n - (value % 53n)) % 53n)];
}

/** Check a private credential (format and checksum); return it as XXX-XXX-XXX-XXX-XXX. */
export function normalizeCredential(text) {
  const raw = String(text).trim().replaceAll("-", "");
  if (raw.length !== 15 || [...raw].some((c) => !BASE58.includes(c))) throw new Error("a credential is 15 Base58 characters, as XXX-XXX-XXX-XXX-XXX");
  if (checksum(raw.slice(0, 14)) !== raw[14]) throw new Error("the credential's checksum does not match");
  return raw.match(/.{3}/g).join("-");
}

/** secret(c) = PBKDF2-HMAC-SHA256(c, uuid, 1000, 32 bytes) read big-endian, mod q. */
export async function credentialSecret(group, uuid, privateCredential) {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(privateCredential), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: enc.encode(uuid), iterations: 1000 }, key, 256);
  return bytesToBig(new Uint8Array(bits)) % group.q;
}
