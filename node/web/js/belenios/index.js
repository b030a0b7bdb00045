// Belenios 2.0 in the browser: what a resident's page needs to cast a secret ballot.
export { BELENIOS_2048, groupByName, hashToZq, randomZq } from "./group.js";
export { b64Hash, buildBallot, dumps, validateChoices } from "./ballot.js";
export { credentialSecret, normalizeCredential } from "./credentials.js";
export { electionFromRecords, parseElection, questionOf, voteChoices } from "./election.js";
export { openSealedCredential } from "./sealed.js";
export { blake2b } from "./blake2b.js";
export { encryptedTallyHash } from "./tally.js";
