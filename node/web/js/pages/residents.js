// Residents: open your key file (in this browser only), see the ballots you may vote in,
// cast a vote signed here, download its receipt, and verify a receipt file.
import { download, fill, h, recordLink, shortKey } from "../ui.js";
import { fmtDate, pick, t } from "../i18n.js";
import { getJson, postJson } from "../api.js";
import { KeyFileError, openKeyFile, sign } from "../keyfile.js";
import * as V from "../verify/index.js";
import { prepareSecretVote } from "../secretvote.js";

let opened = null; // {keyId, publicKey, secretKey} — kept in memory only, never stored

function created() {
  // RFC 3339 UTC without fractions, as ledger/records.format_time writes whole seconds.
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function castVote(session, body) {
  const st = { v: 1, community: session.cp.origin, type: "vote.cast", body, signer: opened.keyId, nonce: V.b64encode(crypto.getRandomValues(new Uint8Array(16))), created: created() };
  const sig = await sign(opened, V.concat(V.utf8(V.DOMAIN), V.canonicalBytes(st)));
  const out = await postJson("/v1/statements", { statement: st, signatures: [{ key: opened.keyId, sig: V.b64encode(sig) }] });
  // The receipt: the 201's checkpoint verbatim, its inclusion proof, and the record bytes,
  // checked here before they are handed out (as build_receipt does).
  const cp = await V.openCheckpoint(out.checkpoint, session.logKey);
  const doc = await getJson(`/v1/records/${out.index}`);
  const bytes = V.b64decode(doc.entry);
  const hashes = out.inclusion_proof.hashes.map(V.unhex);
  await V.verifyInclusion(await V.leafHash(bytes), out.index, cp.size, hashes, cp.root);
  const rec = V.parseRecordBytes(bytes, out.index);
  if (V.canonicalize(rec.envelope.statement) !== V.canonicalize(st)) throw new Error("the node recorded another statement");
  return { index: out.index, receipt: V.formatTlogProof({ extra: bytes, index: out.index, hashes, checkpoint: out.checkpoint }) };
}

function keySection(el, session) {
  const file = h("input", { type: "file", id: "key-file", accept: ".key,application/json" });
  const pass = h("input", { type: "password", id: "passphrase", autocomplete: "current-password" });
  const status = h("p", { role: "status", id: "key-status" });
  const form = h(
    "form",
    {
      class: "card resident",
      onsubmit: async (ev) => {
        ev.preventDefault();
        if (!file.files[0]) return;
        status.textContent = t("key_opening");
        try {
          opened = await openKeyFile(new Uint8Array(await file.files[0].arrayBuffer()), pass.value);
          pass.value = "";
          status.textContent = t("key_opened", { key: opened.keyId });
          status.className = "good";
          await ballotsSection(el.querySelector("#my-ballots"), session);
        } catch (e) {
          status.textContent = e instanceof KeyFileError ? t(e.key, e.params) : e.message;
          status.className = "bad";
        }
      },
    },
    h("h2", {}, t("key_title")),
    h("p", {}, t("key_help")),
    h("label", { for: "key-file" }, t("key_file")),
    file,
    // A hidden user name for password managers (the key file names the key).
    h("input", { type: "text", autocomplete: "username", hidden: true, "aria-hidden": "true", tabindex: -1, value: "civic-ledger key" }),
    h("label", { for: "passphrase" }, t("key_passphrase")),
    pass,
    h("div", { class: "buttons" }, h("button", { type: "submit", id: "open-key" }, t("key_open"))),
    status,
  );
  return form;
}

async function ballotsSection(box, session) {
  if (!opened) return;
  fill(box, h("p", {}, t("loading")));
  const list = (await getJson("/v1/ballots?status=open")).ballots.filter((b) => b.status === "open");
  const mine = [];
  for (const b of list) {
    const el = await getJson(`/v1/ballots/${encodeURIComponent(b.id)}/electorate`);
    if (el.keys.includes(opened.keyId)) mine.push(b);
  }
  const cards = [];
  for (const b of mine) {
    const open = await session.statement(Number(b.id));
    const body = open.body;
    const multi = b.kind === "approval" || b.kind === "budget";
    const ids = b.kind === "yes_no" ? ["yes", "no", "abstain"] : body.options.map((o) => o.id);
    const label = (id) => (b.kind === "yes_no" ? t(`choice_${id}`) : pick(body.options.find((o) => o.id === id).label));
    const status = h("p", { role: "status", class: "vote-status" });
    const form = h(
      "form",
      {
        class: "card",
        "data-vote-ballot": b.id,
        onsubmit: async (ev) => {
          ev.preventDefault();
          const picked = [...form.querySelectorAll("input:checked")].map((i) => i.value);
          if (!picked.length) return;
          const choice = multi ? picked : picked[0];
          status.className = "vote-status";
          delete status.dataset.failed;
          try {
            let vote = { ballot: b.id, choice };
            let secret = null;
            if (body.mode === "secret") {
              // Encrypted and signed here; only the ballot text goes to the node.
              status.textContent = t("vote_encrypting");
              secret = await prepareSecretVote({ bid: b.id, choice, opened, nacl: await V.loadNacl(), logKey: session.logKey, checkpoint: session.cp, fetchJson: getJson });
              vote = secret.body;
              form.dataset.encryptMs = secret.encryptMs.toFixed(1);
            }
            status.textContent = t("vote_sending");
            const r = await castVote(session, vote);
            status.replaceChildren(
              t("vote_recorded"), " ", recordLink(r.index), " ",
              h("button", { type: "button", class: "secondary", id: `receipt-${b.id}`, onclick: () => download(`ballot-${b.id}-record-${r.index}.tlog-proof`, r.receipt, "text/plain") }, t("vote_receipt")),
              secret ? h("p", { class: "tracker" }, t("vote_tracker"), " ", h("code", { "data-tracker": secret.tracker }, secret.tracker)) : null,
            );
            status.className = "vote-status good";
            status.dataset.recorded = r.index;
          } catch (e) {
            status.textContent = t("vote_failed", { why: e.detail ?? e.message });
            status.className = "vote-status bad";
            status.dataset.failed = "true";
          }
        },
      },
      h("h3", {}, pick(body.title)),
      h("p", { class: "muted" }, t("ballot_closes", { when: fmtDate(body.closes) })),
      body.mode === "secret" ? h("p", { class: "secret-note", "data-secret": "true" }, t("vote_secret_notice")) : null,
      h("fieldset", {}, h("legend", {}, multi ? t("vote_pick_many") : t("vote_pick_one")), ids.map((id) => h("label", {}, h("input", { type: multi ? "checkbox" : "radio", name: `choice-${b.id}`, value: id }), label(id)))),
      h("div", { class: "buttons" }, h("button", { type: "submit" }, t("vote_cast"))),
      status,
    );
    cards.push(form);
  }
  fill(box, h("h2", {}, t("my_ballots", { key: shortKey(opened.keyId) })), cards.length ? cards : h("p", {}, t("my_ballots_none")));
}

function receiptSection(session) {
  const out = h("div", { id: "receipt-result" });
  const check = async (file) => {
    fill(out, h("p", {}, t("receipt_checking")));
    const r = await V.verifyReceipt(new Uint8Array(await file.arrayBuffer()), session.logKey, session.cp, getJson);
    out.dataset.ok = r.ok ? "true" : "false";
    fill(
      out,
      h("p", { class: r.ok ? "good" : "bad", role: "status" }, r.ok ? t("receipt_ok") : t("receipt_bad")),
      h("ol", { class: "steps" }, r.steps.map((s) => h("li", { class: `step-${s.status}`, value: s.n, "data-step": s.n, "data-status": s.status }, h("strong", {}, t(`step_${s.n}`)), ` — ${t(`status_${s.status}`)}: `, s.detail))),
    );
  };
  const input = h("input", { type: "file", id: "receipt-file", accept: ".tlog-proof,text/plain", onchange: (ev) => ev.target.files[0] && check(ev.target.files[0]) });
  const zone = h(
    "div",
    {
      class: "dropzone",
      ondragover: (ev) => {
        ev.preventDefault();
        zone.classList.add("over");
      },
      ondragleave: () => zone.classList.remove("over"),
      ondrop: (ev) => {
        ev.preventDefault();
        zone.classList.remove("over");
        if (ev.dataTransfer.files[0]) check(ev.dataTransfer.files[0]);
      },
    },
    h("p", {}, t("receipt_drop")),
    h("label", { for: "receipt-file" }, t("receipt_choose")),
    " ",
    input,
  );
  return h("section", { class: "card resident" }, h("h2", {}, t("receipt_title")), h("p", {}, t("receipt_help")), zone, out);
}

export async function render(el, session) {
  fill(el, h("h1", {}, t("residents_title")), h("p", {}, t("residents_intro")), keySection(el, session), h("section", { id: "my-ballots" }), receiptSection(session));
  if (opened) await ballotsSection(el.querySelector("#my-ballots"), session);
}
