// RFC 8785 JSON Canonicalization Scheme. JCS is defined on ECMAScript's own serialisation:
// strings and numbers as JSON.stringify writes them (§3.2.2), object members sorted by
// their names' UTF-16 code units (§3.2.3), which is what Array.prototype.sort compares.
import { utf8 } from "./bytes.js";

/** The canonical JSON text of a JSON value; TypeError for values JSON cannot carry. */
export function canonicalize(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    // §3.2.2.3: NaN and Infinity are not JSON; -0 serialises as 0 (Number.toString).
    if (!Number.isFinite(value)) throw new TypeError("JCS: non-finite number");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(",")}]`;
  if (typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalize(value[k])}`).join(",")}}`;
  }
  throw new TypeError(`JCS: cannot canonicalise a ${typeof value}`);
}

/** UTF-8 bytes of the canonical form (what is hashed and signed). */
export const canonicalBytes = (value) => utf8(canonicalize(value));
