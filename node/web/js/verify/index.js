// The browser verifier's public surface (used by the pages and by the vector tests).
export * from "./bytes.js";
export * from "./merkle.js";
export * from "./note.js";
export * from "./jcs.js";
export * from "./record.js";
export * from "./monitor.js";
export { backend as ed25519Backend, verify as ed25519Verify, loadNacl } from "./ed25519.js";
export { DOMAIN, STEPS as RECEIPT_STEPS, envelopeSigned, formatTlogProof, parseTlogProof, verifyReceipt } from "./receipt.js";
export { proveBundle, rangeRoot } from "./bundle.js";
