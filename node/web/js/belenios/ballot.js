// Belenios 2.0 ballots built in the browser (spec §4.11–4.15), the same computation as
// voting/secret/ballot.py build_ballot and voting/secret/proofs.py, so that
// voting/secret/ballot.py check_ballot (run by the sequencer and every witness) and
// belenios-tool accept them. Pure computation: no DOM, no network. Every secret (the
// credential's exponent, the ElGamal randomness, the plaintext) stays in this module's
// locals; only the ballot text leaves it.
import { hashToZq, randomZq, sha256 } from "./group.js";

/** The JSON text of a value, as belenios-tool (and encoding.py dumps) writes it. */
export const dumps = (value) => JSON.stringify(value);

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** H_JSON: unpadded standard base64 of SHA-256 (spec §4.15; the smart ballot tracker). */
export async function b64Hash(text) {
  const d = await sha256(new TextEncoder().encode(text));
  let out = "";
  for (let i = 0; i < d.length; i += 3) {
    const n = (d[i] << 16) | ((d[i + 1] ?? 0) << 8) | (d[i + 2] ?? 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    if (i + 1 < d.length) out += B64[(n >> 6) & 63];
    if (i + 2 < d.length) out += B64[n & 63];
  }
  return out;
}

const proofJson = (p) => ({ challenge: p.challenge.toString(), response: p.response.toString() });
const ctJson = (c) => ({ alpha: c.alpha.toString(), beta: c.beta.toString() });

function encrypt(G, y, m, r) {
  // Exponential ElGamal (§4.11.1): (g^r, y^r g^m), with m ∈ {0, 1}.
  const beta = G.pow(y, r);
  return { alpha: G.gPow(r), beta: m === 0 ? beta : G.mul(beta, G.gPow(BigInt(m))) };
}

function multiply(G, cts) {
  return { alpha: G.prod(cts.map((c) => c.alpha)), beta: G.prod(cts.map((c) => c.beta)) };
}

function commitPair(G, y, ct, m, proof) {
  // (g^resp · alpha^chal, y^resp · (beta / g^m)^chal), spec §4.12 step 1.
  const a = G.mul(G.gPow(proof.response), G.pow(ct.alpha, proof.challenge));
  const shifted = m === 0 ? ct.beta : G.div(ct.beta, G.gPow(BigInt(m)));
  const b = G.mul(G.pow(y, proof.response), G.pow(shifted, proof.challenge));
  return [a, b];
}

const randomProof = (G, rnd) => ({ challenge: randomZq(G, rnd), response: randomZq(G, rnd) });
const mod = (x, q) => ((x % q) + q) % q;

/** §4.12: prove ct = (g^r, y^r g^values[index]) hides one of `values`. */
async function iprove(G, y, s, ct, r, index, values, rnd) {
  const simulated = new Map();
  const commitments = [];
  const w = randomZq(G, rnd);
  values.forEach((m, j) => {
    if (j === index) commitments.push(G.gPow(w), G.pow(y, w));
    else {
      simulated.set(j, randomProof(G, rnd));
      commitments.push(...commitPair(G, y, ct, m, simulated.get(j)));
    }
  });
  const total = await hashToZq(G, `prove|${s}|${ct.alpha},${ct.beta}|`, commitments);
  let sum = 0n;
  for (const p of simulated.values()) sum += p.challenge;
  const challenge = mod(total - sum, G.q);
  const real = { challenge, response: mod(w - r * challenge, G.q) };
  return values.map((_, j) => (j === index ? real : simulated.get(j)));
}

/** §4.13.1–2: m0 = 0 ∨ mΣ = 0 as [π0, πΣ]. */
async function blankProve(G, y, s, ct0, ctSum, r0, rSum, blank, rnd) {
  const fake = randomProof(G, rnd);
  const w = randomZq(G, rnd);
  let a0, b0, aS, bS;
  if (!blank) {
    [aS, bS] = commitPair(G, y, ctSum, 0, fake);
    [a0, b0] = [G.gPow(w), G.pow(y, w)];
  } else {
    [a0, b0] = commitPair(G, y, ct0, 0, fake);
    [aS, bS] = [G.gPow(w), G.pow(y, w)];
  }
  const total = await hashToZq(G, `bproof0|${s}|`, [a0, b0, aS, bS]);
  const challenge = mod(total - fake.challenge, G.q);
  const real = { challenge, response: mod(w - (blank ? rSum : r0) * challenge, G.q) };
  return blank ? [fake, real] : [real, fake];
}

/** §4.13: overall proof with blank allowed, m0 = 1 ∨ mΣ ∈ [min…max]. */
async function overallBlankProve(G, y, s, ct0, ctSum, r0, rSum, mSum, [lo, hi], blank, rnd) {
  const values = [];
  for (let v = lo; v <= hi; v++) values.push(v);
  const trueIndex = blank ? 0 : 1 + values.indexOf(mSum);
  const w = randomZq(G, rnd);
  const proofs = new Map();
  const commitments = [];
  for (let j = 0; j <= values.length; j++) {
    if (j === trueIndex) {
      commitments.push(G.gPow(w), G.pow(y, w));
      continue;
    }
    proofs.set(j, randomProof(G, rnd));
    if (j === 0) commitments.push(...commitPair(G, y, ct0, 1, proofs.get(j)));
    else commitments.push(...commitPair(G, y, ctSum, values[j - 1], proofs.get(j)));
  }
  const total = await hashToZq(G, `bproof1|${s}|`, commitments);
  let sum = 0n;
  for (const p of proofs.values()) sum += p.challenge;
  const challenge = mod(total - sum, G.q);
  proofs.set(trueIndex, { challenge, response: mod(w - (blank ? r0 : rSum) * challenge, G.q) });
  return Array.from({ length: values.length + 1 }, (_, j) => proofs.get(j));
}

/** Check a plaintext vote against the questions (validate_choices, §4.9.1, §4.11.1). */
export function validateChoices(questions, choices) {
  if (!Array.isArray(choices) || choices.length !== questions.length) {
    throw new Error(`the vote has ${choices?.length} answers for ${questions.length} questions`);
  }
  questions.forEach((q, i) => {
    const vote = choices[i];
    const width = q.answers.length + (q.blank ? 1 : 0);
    if (!Array.isArray(vote) || vote.length !== width) throw new Error(`question ${i}: expected ${width} values`);
    if (vote.some((v) => v !== 0 && v !== 1)) throw new Error(`question ${i}: every value must be 0 or 1`);
    const picked = (q.blank ? vote.slice(1) : vote).reduce((a, b) => a + b, 0);
    if (q.blank && vote[0] === 1) {
      if (picked !== 0) throw new Error(`question ${i}: a blank vote selects no answer`);
    } else if (!(q.min <= picked && picked <= q.max)) throw new Error(`question ${i}: select between ${q.min} and ${q.max} answers`);
  });
}

async function encryptAnswer(G, y, q, vote, s0, rnd) {
  const rs = vote.map(() => randomZq(G, rnd));
  const cts = vote.map((m, j) => encrypt(G, y, m, rs[j]));
  const individual = [];
  for (let j = 0; j < vote.length; j++) individual.push(await iprove(G, y, s0, cts[j], rs[j], vote[j], [0, 1], rnd));
  // §4.11.1: S = S0 | alpha1,beta1,alpha2,beta2,…
  const s = `${s0}|${cts.map((c) => `${c.alpha},${c.beta}`).join(",")}`;
  const out = { choices: cts.map(ctJson), individual_proofs: individual.map((ps) => ps.map(proofJson)) };
  if (!q.blank) {
    const rSum = mod(rs.reduce((a, b) => a + b, 0n), G.q);
    const values = [];
    for (let v = q.min; v <= q.max; v++) values.push(v);
    const total = vote.reduce((a, b) => a + b, 0);
    out.overall_proof = (await iprove(G, y, s, multiply(G, cts), rSum, total - q.min, values, rnd)).map(proofJson);
    return out;
  }
  // §4.13: (alpha0, beta0) is the blank flag, (alphaΣ, betaΣ) the product of the rest.
  const ctSum = multiply(G, cts.slice(1));
  const rSum = mod(rs.slice(1).reduce((a, b) => a + b, 0n), G.q);
  const isBlank = vote[0] === 1;
  const mSum = vote.slice(1).reduce((a, b) => a + b, 0);
  const blank = await blankProve(G, y, s, cts[0], ctSum, rs[0], rSum, isBlank, rnd);
  const overall = await overallBlankProve(G, y, s, cts[0], ctSum, rs[0], rSum, mSum, [q.min, q.max], isBlank, rnd);
  out.overall_proof = overall.map(proofJson);
  out.blank_proof = blank.map(proofJson);
  return out;
}

/**
 * Encrypt `choices` (per question a 0/1 list, the blank flag first where allowed) for
 * `election` ({group, uuid, fingerprint, publicKey, questions}) and sign the ballot with
 * the credential's exponent `secret` (spec §4.11–4.15). Returns {raw, tracker, credential}:
 * the ballot's exact JSON text, its smart ballot tracker and the public credential g^secret.
 * `rnd(n)` gives n random bytes (crypto.getRandomValues unless a test injects one).
 */
export async function buildBallot(election, secret, choices, rnd) {
  validateChoices(election.questions, choices);
  const G = election.group, y = election.publicKey;
  const credential = G.gPow(secret);
  // §4.11: S0 = φ | g^s.
  const s0 = `${election.fingerprint}|${credential}`;
  const answers = [];
  for (let i = 0; i < choices.length; i++) answers.push(await encryptAnswer(G, y, election.questions[i], choices[i], s0, rnd));
  const unsigned = { election_uuid: election.uuid, election_hash: election.fingerprint, credential: credential.toString(), answers };
  const h = await b64Hash(dumps(unsigned));
  // §4.14: a Schnorr proof of knowledge of the secret, challenge H("sig|h|" ‖ g^w).
  const w = randomZq(G, rnd);
  const challenge = await hashToZq(G, `sig|${h}|`, [G.gPow(w)]);
  const proof = { challenge, response: mod(w - secret * challenge, G.q) };
  const raw = dumps({ ...unsigned, signature: { hash: h, proof: proofJson(proof) } });
  return { raw, tracker: await b64Hash(raw), credential };
}
