// The trust root: the community's log key and genesis hash from the notice board, entered
// once (or carried in the URL fragment as #…?vkey=…&genesis=…) and remembered here.
const STORE = "civic-ledger/trust/v1";

export function savedTrust() {
  try {
    const v = JSON.parse(localStorage.getItem(STORE) ?? "null");
    return v && typeof v.vkey === "string" && typeof v.genesis === "string" ? v : null;
  } catch {
    return null;
  }
}

export function saveTrust(vkey, genesis) {
  localStorage.setItem(STORE, JSON.stringify({ vkey: vkey.trim(), genesis: genesis.trim().toLowerCase() }));
}

export function forgetTrust() {
  localStorage.removeItem(STORE);
}

/** Take vkey/genesis from the fragment's query part, remember them, and drop them from the URL. */
export function trustFromFragment() {
  const frag = location.hash.slice(1);
  const q = frag.indexOf("?");
  if (q < 0) return false;
  // Not URLSearchParams: a verifier key's base64 may hold a literal '+', which form
  // decoding would turn into a space.
  const params = new Map(
    frag
      .slice(q + 1)
      .split("&")
      .map((kv) => kv.split("="))
      .map(([k, ...v]) => [decodeURIComponent(k), decodeURIComponent(v.join("="))]),
  );
  const vkey = params.get("vkey"), genesis = params.get("genesis");
  if (!vkey || !genesis) return false;
  saveTrust(vkey, genesis);
  history.replaceState(null, "", `#${frag.slice(0, q) || "/"}`);
  return true;
}
