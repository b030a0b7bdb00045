// Community: origin, committee, residents, witnesses and quorum, trust status, health, evidence.
import { h, recordLink, shortKey, table, fill } from "../ui.js";
import { fmtDate, fmtNumber, t } from "../i18n.js";
import { getJson, getJsonAnyStatus } from "../api.js";

export async function render(el, session) {
  const [info, health, evidence] = await Promise.all([getJson("/v1/community"), getJsonAnyStatus("/healthz"), getJson("/v1/evidence")]);
  const g = session.genesis;
  // Figures from the proven genesis record; the node's summary must agree with it.
  session.claim(info.origin === g.origin && info.origin === session.cp.origin, `the node's origin ${info.origin} is not the genesis origin ${g.origin}`);
  const sameCommittee = JSON.stringify([...info.committee].sort()) === JSON.stringify([...g.committee].sort());
  // The witness set in force, proven by the session (genesis, or a later witnesses.set).
  const ws = session.witnessSet ?? { witnesses: g.witnesses, quorum: g.quorum, since: 0 };
  const quorum = Number(ws.quorum);
  session.claim(info.witnesses.quorum === quorum, `the node says quorum ${info.witnesses.quorum}, its records say ${quorum}`);
  const cosigned = new Set(session.cosigned);
  fill(el, 
    h("h1", {}, t("community_title")),
    h(
      "section",
      { class: "card", "aria-labelledby": "c-origin" },
      h("h2", { id: "c-origin" }, t("community_origin")),
      h("p", { class: "big", "data-figure": "origin" }, g.origin),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t("community_log_key")),
        h("dd", {}, h("code", { class: "wrap" }, session.trust.vkey)),
        h("dt", {}, t("community_genesis")),
        h("dd", {}, h("code", { class: "wrap" }, session.trust.genesis), " ", recordLink(0, t("record_link"))),
        h("dt", {}, t("community_size")),
        h("dd", { "data-figure": "size" }, fmtNumber(session.cp.size)),
        h("dt", {}, t("community_residents")),
        h("dd", { "data-figure": "members" }, fmtNumber(info.members), " ", h("span", { class: "muted" }, t("community_residents_note"))),
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "c-committee" },
      h("h2", { id: "c-committee" }, t("community_committee")),
      h("p", { class: "muted" }, sameCommittee ? t("community_committee_genesis") : t("community_committee_changed")),
      h("ul", { class: "keys", "data-figure": "committee" }, info.committee.map((k) => h("li", {}, h("code", { title: k }, shortKey(k))))),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "c-witnesses" },
      h("h2", { id: "c-witnesses" }, t("community_witnesses")),
      h("p", { "data-figure": "quorum" }, t("community_quorum", { need: quorum, of: ws.witnesses.length })),
      h("p", { class: "muted", "data-figure": "witnesses-since", "data-since": ws.since }, ws.since ? [t("community_witnesses_set"), " ", recordLink(ws.since)] : t("community_witnesses_genesis")),
      table(
        [t("witness_name"), t("witness_url"), t("witness_cosigned")],
        ws.witnesses.map((w) => [w.name, w.url ?? "", cosigned.has(w.name) ? t("yes") : t("no")]),
        t("community_witnesses"),
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "c-health" },
      h("h2", { id: "c-health" }, t("community_health")),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t("health_role")),
        h("dd", { "data-figure": "role" }, t(`role_${health.body.role}`)),
        h("dt", {}, t("health_status")),
        h("dd", { "data-figure": "health" }, health.status === 200 ? t("health_ok") : t("health_bad")),
        h("dt", {}, t("health_size")),
        h("dd", {}, fmtNumber(health.body.size)),
        h("dt", {}, t("community_created")),
        h("dd", {}, fmtDate(info.created)),
      ),
      (health.body.reasons ?? []).length ? h("ul", { class: "alarm" }, health.body.reasons.map((r) => h("li", {}, r))) : null,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "c-evidence" },
      h("h2", { id: "c-evidence" }, t("community_evidence")),
      h("p", { "data-figure": "evidence" }, evidence.count === 0 ? t("evidence_none") : t("evidence_count", { n: evidence.count })),
      evidence.evidence.map((e) => h("pre", { class: "wrap" }, JSON.stringify(e, null, 2))),
    ),
  );
}
