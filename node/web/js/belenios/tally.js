// The encrypted tally of Belenios ballots (spec §4.16, voting/secret/tally.py): per
// question and answer, the product of the counted ballots' ciphertexts (weights 1), as
// the JSON text whose hex SHA-256 a secret ballot's close record carries.
import { groupByName, sha256 } from "./group.js";
import { dumps } from "./ballot.js";

/** Hex SHA-256 of the encrypted_tally text of `ballots` (their JSON texts, in order). */
export async function encryptedTallyHash(ballots, groupName = "BELENIOS-2048") {
  const G = groupByName(groupName);
  const parsed = ballots.map((raw) => JSON.parse(raw));
  const shape = parsed[0]?.answers.map((a) => a.choices.length) ?? [];
  const rows = shape.map((width, qi) =>
    Array.from({ length: width }, (_, j) => {
      let alpha = 1n, beta = 1n;
      for (const b of parsed) {
        const c = b.answers[qi].choices[j];
        alpha = G.mul(alpha, BigInt(c.alpha));
        beta = G.mul(beta, BigInt(c.beta));
      }
      return { alpha: alpha.toString(), beta: beta.toString() };
    }),
  );
  const d = await sha256(new TextEncoder().encode(dumps(rows)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}
