// Ballots: the list, and one ballot with its text, options, result chart, turnout against
// quorum and the frozen electorate. Titles, texts and options come from the proven
// ballot.open record; results from the proven ballot.close record, or (while open) from
// the proven vote records, recounted here.
import { barChart, h, recordLink, shortKey, table, fill } from "../ui.js";
import { fmtDate, fmtNumber, fmtMoney, fmtPercent, pick, t } from "../i18n.js";
import { getJson } from "../api.js";
import { canonicalBytes, hex, sha256 } from "../verify/index.js";
import { b64Hash, encryptedTallyHash } from "../belenios/index.js";

export async function render(el, session, args) {
  if (args[0] !== undefined && args[0] !== "") return renderOne(el, session, args[0]);
  const list = (await getJson("/v1/ballots")).ballots;
  const opened = await Promise.all(list.map((b) => session.statement(Number(b.id))));
  list.forEach((b, i) => {
    const st = opened[i];
    session.claim(st.type === "ballot.open" && JSON.stringify(st.body.title) === JSON.stringify(b.title), `ballot ${b.id}: the title is not the one in its ballot.open record`);
  });
  fill(el, 
    h("h1", {}, t("ballots_title")),
    h(
      "ul",
      { class: "cards" },
      list.map((b, i) =>
        h(
          "li",
          { class: "card ballot", "data-ballot": b.id },
          h("h2", {}, h("a", { href: `#/ballots/${b.id}`, "data-figure": "title" }, pick(opened[i].body.title))),
          h("p", {}, h("span", { class: `status status-${b.status}` }, t(`ballot_status_${b.status}`)), " · ", t(`ballot_kind_${b.kind}`), " · ", t("ballot_closes", { when: fmtDate(b.closes) })),
          h("p", { "data-figure": "turnout" }, t("ballot_turnout_line", { turnout: fmtNumber(b.turnout), size: fmtNumber(b.electorate_size) })),
        ),
      ),
    ),
  );
}

function optionIds(kind, body) {
  if (kind === "yes_no") return ["yes", "no", "abstain"];
  return (body.options ?? []).map((o) => o.id);
}

/** Each resident's last vote (highest record index) among proven vote records, counted. */
function recount(kind, ids, votes) {
  const last = new Map();
  for (const v of votes) {
    const cur = last.get(v.signer);
    if (!cur || v.index > cur.index) last.set(v.signer, v);
  }
  const counts = Object.fromEntries(ids.map((id) => [id, 0]));
  for (const v of last.values()) {
    for (const c of Array.isArray(v.choice) ? v.choice : [v.choice]) if (c in counts) counts[c] += 1;
  }
  return { counts, turnout: last.size };
}

async function renderOne(el, session, id) {
  const [doc, res] = await Promise.all([getJson(`/v1/ballots/${encodeURIComponent(id)}`), getJson(`/v1/ballots/${encodeURIComponent(id)}/result`)]);
  const open = await session.statement(Number(doc.id));
  session.claim(open.type === "ballot.open", `record ${doc.id} is not a ballot.open`);
  const body = open.body;
  const kind = body.kind;
  const ids = optionIds(kind, body);
  // The votes: every vote record the node lists is proven, then counted here.
  const votes = [];
  for (let offset = 0; ; offset += 100) {
    const page = await getJson(`/v1/ballots/${encodeURIComponent(id)}/votes?offset=${offset}&limit=100`);
    votes.push(...page.votes);
    if (votes.length >= page.total || !page.votes.length) break;
  }
  const proven = await Promise.all(votes.map((v) => session.statement(v.index)));
  const secret = body.mode === "secret";
  const events = [];
  for (const [i, st] of proven.entries()) {
    session.claim(st.type === "vote.cast" && st.body.ballot === doc.id && st.signer === votes[i].signer, `record ${votes[i].index} is not a vote on ballot ${doc.id} by ${votes[i].signer}`);
    // A secret vote: the tracker the node lists is the hash of the proven ballot text.
    if (secret) session.claim(typeof st.body.belenios === "string" && (await b64Hash(st.body.belenios)) === votes[i].tracker, `record ${votes[i].index}: the tracker ${votes[i].tracker} is not its ballot's`);
    events.push({ index: votes[i].index, signer: st.signer, choice: st.body.choice, belenios: st.body.belenios });
  }
  const mine = recount(kind, ids, events);
  let result = res.provisional;
  let final = false;
  if (secret) {
    result = await secretResult(session, doc, res, events);
    final = result !== null;
  } else if (doc.status === "closed") {
    const close = await session.statement(doc.closed_at);
    session.claim(close.type === "ballot.close" && close.body.ballot === doc.id, `record ${doc.closed_at} is not the close of ballot ${doc.id}`);
    session.claim(JSON.stringify(canon(close.body.result)) === JSON.stringify(canon(res.result)), `ballot ${doc.id}: the published result is not the one in its close record`);
    result = close.body.result;
    final = true;
    // The frozen electorate: its key list hashes to the close record's electorate_hash.
    const el2 = await getJson(`/v1/ballots/${encodeURIComponent(id)}/electorate`);
    const eh = hex(await sha256(canonicalBytes([...el2.keys].sort())));
    session.claim(eh === close.body.electorate_hash && el2.keys.length === result.electorate_size, `ballot ${doc.id}: the electorate list does not hash to the close record's electorate_hash`);
  }
  if (result && !secret) {
    for (const o of ids) session.claim((result.counts[o] ?? 0) === mine.counts[o], `ballot ${doc.id}: ${o} has ${result.counts[o]} votes in the result, the proven vote records give ${mine.counts[o]}`);
    session.claim(result.turnout === mine.turnout, `ballot ${doc.id}: turnout ${result.turnout} in the result, ${mine.turnout} voters in the proven records`);
  }
  const label = (oid) => {
    if (kind === "yes_no") return t(`choice_${oid}`);
    return pick(body.options.find((o) => o.id === oid)?.label) || oid;
  };
  const counts = result?.counts ?? mine.counts;
  const electorate = result?.electorate_size ?? doc.electorate_size;
  const turnout = result?.turnout ?? mine.turnout;
  const q = body.quorum ?? {};
  const quorumText = q.votes !== undefined ? t("quorum_votes", { n: fmtNumber(q.votes) }) : q.percent !== undefined ? t("quorum_percent", { p: q.percent }) : t("quorum_none");
  fill(el, 
    h("p", {}, h("a", { href: "#/ballots" }, t("back_to_ballots"))),
    h("h1", { "data-figure": "title" }, pick(body.title)),
    h("p", {}, h("span", { class: `status status-${doc.status}` }, t(`ballot_status_${doc.status}`)), " · ", t(`ballot_kind_${kind}`), " · ", t("ballot_opened_at"), " ", recordLink(doc.id), doc.closed_at !== null ? [" · ", t("ballot_closed_at"), " ", recordLink(doc.closed_at)] : null),
    body.text ? h("p", { class: "ballot-text", "data-figure": "text" }, pick(body.text)) : null,
    h(
      "section",
      { class: "card" },
      h("h2", {}, final ? t("result_final") : t("result_live")),
      // A secret ballot has no running tally: only the trustees' decryption gives one.
      secret && !final ? h("p", { "data-figure": "secret-pending" }, t("result_secret_pending")) : null,
      barChart(
        ids.map((o) => ({ label: label(o), value: counts[o] ?? 0, text: fmtNumber(counts[o] ?? 0), series: result?.chosen?.includes(o) ? 1 : 0 })),
        { title: final ? t("result_final") : t("result_live") },
      ),
      table(
        [t("option"), t("votes"), ...(kind === "budget" ? [t("cost")] : [])],
        ids.map((o) => [label(o), h("span", { "data-count": o }, fmtNumber(counts[o] ?? 0)), ...(kind === "budget" ? [fmtMoney(body.options.find((x) => x.id === o).cost.amount, body.options.find((x) => x.id === o).cost.currency)] : [])]),
        t("result_table"),
      ),
      result ? h("p", { "data-figure": "passed" }, result.passed ? t("ballot_passed") : t("ballot_not_passed"), result.chosen?.length ? ` — ${t("chosen")}: ${result.chosen.map(label).join(", ")}` : "") : null,
    ),
    h(
      "section",
      { class: "card" },
      h("h2", {}, t("turnout_title")),
      barChart(
        [
          { label: t("turnout"), value: turnout, text: `${fmtNumber(turnout)} (${fmtPercent(electorate ? turnout / electorate : 0)})`, series: 1 },
          { label: t("quorum"), value: q.votes ?? Math.ceil(((q.percent ?? 0) * electorate) / 100), text: quorumText, series: 2 },
        ],
        { title: t("turnout_title"), max: Math.max(turnout, q.votes ?? 0, 1) },
      ),
      h("p", { "data-figure": "turnout" }, t("turnout_line", { turnout: fmtNumber(turnout), size: fmtNumber(electorate) })),
      h("p", { "data-figure": "electorate" }, t("electorate_frozen", { n: fmtNumber(electorate) })),
      h("p", {}, result?.quorum_met ? t("quorum_met") : t("quorum_not_met")),
    ),
    h(
      "section",
      { class: "card" },
      h("h2", {}, t("votes_title", { n: fmtNumber(events.length) })),
      table(
        [t("record"), t("voter"), t("choice"), t("time")],
        votes.map((v) => [recordLink(v.index), h("code", { title: v.signer }, shortKey(v.signer)), secret ? h("code", { "data-tracker": v.tracker, title: t("tracker") }, v.tracker) : (Array.isArray(v.choice) ? v.choice : [v.choice]).map(label).join(", "), fmtDate(v.time)]),
        t("votes_title", { n: events.length }),
      ),
    ),
  );
}

/**
 * A secret ballot's result (null until the trustees' result is recorded). Once closed for
 * votes, the close record's encrypted tally must be the product of the proven counted
 * ballots (recomputed here) and the electorate must hash to its electorate_hash; the
 * result is the one in the proven ballot.result record, counting as many ballots.
 */
async function secretResult(session, doc, res, events) {
  if (doc.closed_at === null) return null;
  const close = await session.statement(doc.closed_at);
  session.claim(close.type === "ballot.close" && close.body.ballot === doc.id, `record ${doc.closed_at} is not the close of ballot ${doc.id}`);
  const counted = [...events].sort((a, b) => a.index - b.index).map((e) => e.belenios);
  session.claim((await encryptedTallyHash(counted)) === close.body.encrypted_tally, `ballot ${doc.id}: the encrypted tally in its close record is not the product of the ${counted.length} counted ballots`);
  const el2 = await getJson(`/v1/ballots/${encodeURIComponent(doc.id)}/electorate`);
  const eh = hex(await sha256(canonicalBytes([...el2.keys].sort())));
  session.claim(eh === close.body.electorate_hash, `ballot ${doc.id}: the electorate list does not hash to the close record's electorate_hash`);
  if (doc.status !== "closed" || doc.result_at === undefined || doc.result_at === null) return null;
  const rec = await session.statement(doc.result_at);
  session.claim(rec.type === "ballot.result" && rec.body.ballot === doc.id, `record ${doc.result_at} is not the result of ballot ${doc.id}`);
  session.claim(JSON.stringify(canon(rec.body.result)) === JSON.stringify(canon(res.result)), `ballot ${doc.id}: the published result is not the one in its result record`);
  session.claim(rec.body.result.turnout === counted.length && rec.body.result.electorate_size === el2.keys.length, `ballot ${doc.id}: the result counts ${rec.body.result.turnout} ballots, the log ${counted.length}`);
  return rec.body.result;
}

/** Key order does not matter when comparing JSON values. */
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
  return v;
}
