// Casting a secret (Belenios) vote from the page: the election and the resident's sealed
// credential come from the ballot's records, proven here (the ballot bundle against the
// page's verified checkpoint, every signature on the records used checked), and the
// ballot is encrypted and signed in this browser. What leaves the page is the ballot text
// inside the resident's signed vote.cast: never the credential, the randomness or the choice.
// No DOM access; `fetchJson` reads this node's API.
import { envelopeSigned, proveBundle } from "./verify/index.js";
import { buildBallot, credentialSecret, electionFromRecords, normalizeCredential, openSealedCredential, voteChoices } from "./belenios/index.js";

export class SecretVoteError extends Error {}

function statementsOf(proven, bid) {
  return proven.records.map((r) => ({ index: r.index, env: r.envelope, st: r.envelope.statement })).filter(({ st }) => st.type === "ballot.open" || String(st.body?.ballot) === bid);
}

async function signed(item) {
  if (!(await envelopeSigned(item.env))) throw new SecretVoteError(`a signature on record ${item.index} does not verify`);
  return item;
}

/**
 * Build the vote.cast body for secret ballot `bid` with `choice` (an option id, a list for
 * approval, or "abstain"). `opened` is the resident's opened key file, `nacl` TweetNaCl.
 * Returns {body, tracker, encryptMs, election}. SecretVoteError with a reason otherwise.
 */
export async function prepareSecretVote({ bid, choice, opened, nacl, logKey, checkpoint, fetchJson }) {
  const bundle = await fetchJson(`/v1/ballots/${encodeURIComponent(bid)}/bundle`);
  let proven;
  try {
    proven = await proveBundle(bundle, logKey, checkpoint, fetchJson);
  } catch (e) {
    throw new SecretVoteError(`the ballot's records do not verify: ${e.detail ?? e.message}`);
  }
  const items = statementsOf(proven, String(bid));
  const open = items[0];
  if (!open || open.index !== Number(bid) || open.st.type !== "ballot.open" || open.st.body.mode !== "secret") throw new SecretVoteError(`record ${bid} is not the opening of a secret ballot`);
  await signed(open);
  const setup = open.st.body.secret;
  // The trustees' polynomials fix the election key (y = Π A_i0); the rules accept one each.
  const polys = [];
  for (const t of setup.trustees) {
    const p = items.find((x) => x.st.type === "trustee.polynomial" && x.st.signer === t);
    if (!p) throw new SecretVoteError(`ballot ${bid}'s key ceremony is not complete: no polynomial from trustee ${t}`);
    polys.push((await signed(p)).st.body.polynomial);
  }
  const election = await electionFromRecords(open.st.body, polys);
  if (bundle.ballot_doc?.election_hash !== election.fingerprint) {
    throw new SecretVoteError(`the node's election for ballot ${bid} (${bundle.ballot_doc?.election_hash}) is not the one its records fix (${election.fingerprint})`);
  }
  // The resident's credential: posted by the opener (the credential authority), sealed to this key.
  const cred = items.find((x) => x.st.type === "ballot.credentials" && x.st.signer === open.st.signer && x.st.body.credentials?.[opened.keyId]);
  if (!cred) throw new SecretVoteError(`ballot ${bid} has no credential sealed to ${opened.keyId}`);
  await signed(cred);
  const { public: pub, sealed } = cred.st.body.credentials[opened.keyId];
  let secret;
  try {
    const privateCredential = normalizeCredential(openSealedCredential(nacl, opened.secretKey, sealed));
    secret = await credentialSecret(election.group, election.uuid, privateCredential);
  } catch (e) {
    throw new SecretVoteError(e.message);
  }
  if (election.group.gPow(secret).toString() !== pub) throw new SecretVoteError(`the credential sealed to you does not match its public credential in record ${cred.index}`);
  const t0 = performance.now();
  const ballot = await buildBallot(election, secret, voteChoices(open.st.body, choice));
  const encryptMs = performance.now() - t0;
  return { body: { ballot: String(bid), belenios: ballot.raw }, tracker: ballot.tracker, encryptMs, election: election.fingerprint };
}
