// The Belenios election of a civic-ledger secret ballot, rebuilt from the log's records
// exactly as voting/secret_rules.py fixes it when the last trustee.voutput lands:
// name and description from the ballot.open record, the question from its kind and
// options (question_of), the uuid and group from its `secret` setup, and the public key
// y = Π A_i0, the first coefficient commitment of each trustee's polynomial (§4.6.4).
// Pure: the caller proves the records and hands their statements over.
import { groupByName } from "./group.js";
import { b64Hash, dumps } from "./ballot.js";

// voting/secret_rules.py _text: English, else the first language tag in code-point order.
function text(texts) {
  if (!texts || !Object.keys(texts).length) return "";
  return texts.en || texts[Object.keys(texts).sort()[0]];
}

/** question_of + question_for_kind: the homomorphic question of a secret ballot. */
export function questionOf(openBody) {
  const kind = openBody.kind;
  const title = text(openBody.title);
  if (kind === "yes_no") return { answers: ["yes", "no"], blank: true, min: 1, max: 1, question: title };
  const ids = (openBody.options ?? []).map((o) => o.id);
  if (kind === "single") return { answers: ids, blank: true, min: 1, max: 1, question: title };
  if (kind === "approval") return { answers: ids, blank: false, min: 0, max: ids.length, question: title };
  throw new Error(`a ${kind} ballot cannot be secret`);
}

function questionJson(q) {
  // belenios-tool's field order: answers, blank (only when true), min, max, question.
  const out = { answers: q.answers };
  if (q.blank) out.blank = true;
  return Object.assign(out, { min: q.min, max: q.max, question: q.question });
}

function num(text, what) {
  if (typeof text !== "string" || !/^(0|[1-9][0-9]*)$/.test(text)) throw new Error(`${what} must be a base-10 number in a string`);
  return BigInt(text);
}

/** A_i0 of a trustee.polynomial body's polynomial text (its signed coefexps message). */
export function firstCommitment(polynomialText) {
  const poly = JSON.parse(polynomialText);
  const values = JSON.parse(poly.coefexps.message).coefexps;
  if (!Array.isArray(values) || !values.length) throw new Error("a polynomial without coefficient commitments");
  return num(values[0], "a coefficient commitment");
}

/**
 * The election: {raw, fingerprint, uuid, group, publicKey, questions}. `openBody` is the
 * ballot.open statement's body (mode "secret"); `polynomials` the trustees'
 * trustee.polynomial texts, one per trustee.
 */
export async function electionFromRecords(openBody, polynomials) {
  const setup = openBody.secret;
  if (openBody.mode !== "secret" || !setup) throw new Error("not a secret ballot");
  const group = groupByName(setup.group);
  if (polynomials.length !== setup.trustees.length) throw new Error(`${polynomials.length} polynomials for ${setup.trustees.length} trustees`);
  const factors = polynomials.map(firstCommitment);
  if (!factors.every((a) => group.isElement(a))) throw new Error("a coefficient commitment is not a group element");
  const publicKey = group.prod(factors);
  const questions = [questionOf(openBody)];
  const raw = dumps({
    version: 1,
    description: text(openBody.text),
    name: text(openBody.title),
    group: group.name,
    public_key: publicKey.toString(),
    questions: questions.map(questionJson),
    uuid: setup.uuid,
  });
  return { raw, fingerprint: await b64Hash(raw), uuid: setup.uuid, group, publicKey, questions };
}

/** Parse an election text (spec §4.10) into what buildBallot needs; checks the key. */
export async function parseElection(raw) {
  const e = JSON.parse(raw);
  if (e.version !== 1) throw new Error(`unsupported election version ${e.version}`);
  const group = groupByName(e.group);
  const publicKey = num(e.public_key, "election.public_key");
  if (!group.isElement(publicKey)) throw new Error("the election public key is not a group element");
  const questions = e.questions.map((q) => ({ answers: q.answers, blank: q.blank === true, min: q.min, max: q.max, question: q.question }));
  return { raw, fingerprint: await b64Hash(raw), uuid: e.uuid, group, publicKey, questions };
}

/** vote_choices: a civic-ledger choice (an option id, a list, or "abstain") as 0/1 lists. */
export function voteChoices(openBody, choice) {
  const q = questionOf(openBody);
  const bits = (selected) => {
    const unknown = selected.filter((s) => !q.answers.includes(s));
    if (unknown.length || new Set(selected).size !== selected.length) throw new Error(`choose distinct answers among ${q.answers.join(", ")}`);
    return q.answers.map((a) => (selected.includes(a) ? 1 : 0));
  };
  if (openBody.kind === "approval") {
    if (!Array.isArray(choice)) throw new Error("an approval vote's choice is a list of option ids");
    return [bits(choice)];
  }
  if (typeof choice !== "string") throw new Error(`a ${openBody.kind} vote's choice is one option id`);
  if (choice === "abstain" || choice === "blank") return [[1, ...q.answers.map(() => 0)]];
  return [[0, ...bits([choice])]];
}
