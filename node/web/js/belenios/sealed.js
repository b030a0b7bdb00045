// A resident's Belenios credential sealed to their own key (voting/sealed.py): a libsodium
// sealed box to the X25519 form of their Ed25519 key. Opened here with the key file's
// secret key; the credential never leaves the page. `nacl` is the vendored TweetNaCl
// (handed in, so this module touches no DOM).
import { blake2b } from "./blake2b.js";

const SEALED_BYTES = 32 + 16 + 19;

function b64decode(text) {
  const bin = atob(text);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * crypto_box_seal_open: `sealed` is base64 of ephemeral pk (32) ‖ box; the nonce is
 * BLAKE2b-192(ephemeral pk ‖ recipient pk). `secretKey` is TweetNaCl's 64-byte Ed25519
 * secret key (seed ‖ public key). Returns the credential text; Error if it does not open.
 */
export function openSealedCredential(nacl, secretKey, sealed) {
  let raw;
  try {
    raw = b64decode(sealed);
  } catch {
    raw = new Uint8Array(0);
  }
  if (raw.length !== SEALED_BYTES) throw new Error(`a sealed credential is the base64 of ${SEALED_BYTES} bytes`);
  // crypto_sign_ed25519_sk_to_curve25519: SHA-512 of the seed, first half, clamped.
  const h = nacl.hash(secretKey.slice(0, 32));
  const curveSk = h.slice(0, 32);
  curveSk[0] &= 248;
  curveSk[31] &= 127;
  curveSk[31] |= 64;
  const curvePk = nacl.scalarMult.base(curveSk);
  const epk = raw.slice(0, 32);
  const nonce = blake2b(new Uint8Array([...epk, ...curvePk]), 24);
  const opened = nacl.box.open(raw.slice(32), nonce, epk, curveSk);
  if (!opened) throw new Error("this sealed credential does not open with your key: it was sealed to another resident");
  return new TextDecoder().decode(opened);
}
