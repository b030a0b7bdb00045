// Ed25519 signature checks (RFC 8032): WebCrypto where the browser has it, otherwise the
// vendored TweetNaCl (node/web/vendor/tweetnacl/, loaded as a classic script, `window.nacl`).
let webcrypto = null;

async function hasWebCrypto() {
  if (webcrypto === null) {
    try {
      const k = await crypto.subtle.importKey("raw", new Uint8Array(32).fill(1), { name: "Ed25519" }, false, ["verify"]);
      webcrypto = Boolean(k);
    } catch {
      webcrypto = false;
    }
  }
  return webcrypto;
}

let naclLoading = null;
/** Load the vendored TweetNaCl once (it defines window.nacl). */
export function loadNacl() {
  if (globalThis.nacl) return Promise.resolve(globalThis.nacl);
  naclLoading ??= new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = new URL("../../vendor/tweetnacl/nacl-fast.min.js", import.meta.url).href;
    s.onload = () => resolve(globalThis.nacl);
    s.onerror = () => reject(new Error("cannot load the vendored TweetNaCl"));
    document.head.append(s);
  });
  return naclLoading;
}

/** Which implementation verifies signatures here ("webcrypto" or "tweetnacl"). */
export async function backend() {
  return (await hasWebCrypto()) ? "webcrypto" : "tweetnacl";
}

/** True if `sig` (64 bytes) is a valid Ed25519 signature of `msg` by the 32-byte `pub`. */
export async function verify(pub, msg, sig) {
  if (pub.length !== 32 || sig.length !== 64) return false;
  if (await hasWebCrypto()) {
    try {
      const key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
      return await crypto.subtle.verify({ name: "Ed25519" }, key, sig, msg);
    } catch {
      return false;
    }
  }
  const nacl = await loadNacl();
  return nacl.sign.detached.verify(msg, sig, pub);
}
