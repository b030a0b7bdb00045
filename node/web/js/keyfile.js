// Key files (ledger/keys.py, civic-ledger-key/v1), opened in the browser: Argon2id with
// libsodium's crypto_pwhash parameters (t = opslimit, m = memlimit bytes / 1024 KiB, p = 1,
// 32-byte output) through the vendored hash-wasm, then NaCl secretbox (XSalsa20-Poly1305:
// 24-byte nonce, then MAC and ciphertext) through the vendored TweetNaCl. The seed never
// leaves this page.
import { b64decode, b64urlencode } from "./verify/bytes.js";
import { loadNacl } from "./verify/ed25519.js";

let argonLoading = null;
function loadArgon2() {
  if (globalThis.hashwasm?.argon2id) return Promise.resolve(globalThis.hashwasm);
  argonLoading ??= new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = new URL("../vendor/hash-wasm/argon2.umd.min.js", import.meta.url).href;
    s.onload = () => resolve(globalThis.hashwasm);
    s.onerror = () => reject(new Error("cannot load the vendored hash-wasm"));
    document.head.append(s);
  });
  return argonLoading;
}

const FIELDS = ["format", "key_id", "kdf", "opslimit", "memlimit", "salt", "box"];
// libsodium's argon2id limits (OPSLIMIT_MIN..SENSITIVE, MEMLIMIT_MIN..SENSITIVE), as keys.py.
const OPS = [1, 4], MEM = [8192, 1073741824];

export class KeyFileError extends Error {
  constructor(key, params = {}) {
    super(key);
    this.key = key; // a catalogue key
    this.params = params;
  }
}

/** Decrypt key file bytes with a passphrase; returns {keyId, publicKey, secretKey}. */
export async function openKeyFile(bytes, passphrase) {
  let doc;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new KeyFileError("key_not_json");
  }
  if (!doc || doc.format !== "civic-ledger-key/v1") throw new KeyFileError("key_not_key_file");
  const keys = Object.keys(doc).sort().join(","), want = [...FIELDS].sort().join(",");
  if (keys !== want || doc.kdf !== "argon2id") throw new KeyFileError("key_not_key_file");
  if (!(Number.isInteger(doc.opslimit) && doc.opslimit >= OPS[0] && doc.opslimit <= OPS[1])) throw new KeyFileError("key_bad_limits");
  if (!(Number.isInteger(doc.memlimit) && doc.memlimit >= MEM[0] && doc.memlimit <= MEM[1])) throw new KeyFileError("key_bad_limits");
  let salt, box;
  try {
    salt = b64decode(doc.salt);
    box = b64decode(doc.box);
  } catch {
    throw new KeyFileError("key_not_key_file");
  }
  if (salt.length !== 16 || box.length !== 24 + 16 + 32) throw new KeyFileError("key_not_key_file");
  const [argon, nacl] = await Promise.all([loadArgon2(), loadNacl()]);
  const key = await argon.argon2id({
    password: new TextEncoder().encode(passphrase.normalize("NFC")),
    salt,
    parallelism: 1,
    iterations: doc.opslimit,
    memorySize: Math.floor(doc.memlimit / 1024),
    hashLength: 32,
    outputType: "binary",
  });
  const seed = nacl.secretbox.open(box.slice(24), box.slice(0, 24), key);
  if (!seed) throw new KeyFileError("key_wrong_passphrase");
  const pair = nacl.sign.keyPair.fromSeed(seed);
  const keyId = `ed25519:${b64urlencode(pair.publicKey)}`;
  if (keyId !== doc.key_id) throw new KeyFileError("key_altered");
  return { keyId, publicKey: pair.publicKey, secretKey: pair.secretKey };
}

/** Ed25519 signature of `msg` with a key opened above. */
export async function sign(key, msg) {
  const nacl = await loadNacl();
  return nacl.sign.detached(msg, key.secretKey);
}
