// Expenses: workflow state, requester, approvals (with record links), payment, and the
// documents, whose SHA-256 is checked when they are downloaded.
import { h, download, recordLink, shortKey, table, fill } from "../ui.js";
import { fmtDate, fmtMoney, t } from "../i18n.js";
import { getBytes, getJson } from "../api.js";
import { hex, sha256 } from "../verify/index.js";

async function fetchDocument(hash, status) {
  status.textContent = t("doc_checking");
  try {
    const bytes = await getBytes(`/v1/documents/${hash}`);
    const got = hex(await sha256(bytes));
    if (got !== hash) {
      status.textContent = t("doc_bad_hash", { got });
      status.className = "doc-status bad";
      status.dataset.doc = "bad";
      return;
    }
    status.textContent = t("doc_ok");
    status.className = "doc-status good";
    status.dataset.doc = "ok";
    download(hash.slice(0, 16), bytes);
  } catch (e) {
    status.textContent = t("doc_unavailable", { why: e.status ?? e.message });
    status.className = "doc-status bad";
    status.dataset.doc = "unavailable";
  }
}

export async function render(el, session) {
  const [ex, docs] = await Promise.all([getJson("/v1/funds/expenses"), getJson("/v1/funds/documents")]);
  const docInfo = new Map(docs.documents.map((d) => [d.sha256, d]));
  for (const e of ex.expenses) {
    const req = await session.statement(e.index);
    session.claim(req.type === "funds.expense.request" && req.body.amount === e.amount && req.body.currency === e.currency && req.signer === e.requester && req.body.purpose === e.purpose, `expense ${e.id}: the figures differ from its request record ${e.index}`);
    session.claim(JSON.stringify(req.body.documents ?? []) === JSON.stringify(e.documents), `expense ${e.id}: documents differ from its request record`);
    for (const a of e.approvals) {
      const st = await session.statement(a.index);
      const signers = (await session.prove(a.index)).record.envelope.signatures.map((s) => s.key);
      session.claim(st.type === "funds.expense.approve" && st.body.expense === e.id && signers.includes(a.by), `record ${a.index} is not an approval of expense ${e.id} by ${a.by}`);
    }
    if (e.payment) {
      const pay = await session.statement(e.payment.index);
      session.claim(pay.type === "funds.expense.pay" && pay.body.expense === e.id && pay.body.amount === e.amount, `record ${e.payment.index} is not the payment of expense ${e.id}`);
    }
    for (const d of e.documents) {
      const info = docInfo.get(d);
      if (info) {
        const pub = await session.statement(info.published_at);
        session.claim(pub.type === "funds.document.publish" && pub.body.sha256 === d, `record ${info.published_at} does not publish document ${d}`);
      }
    }
  }
  fill(el, 
    h("h1", {}, t("expenses_title")),
    h(
      "ul",
      { class: "cards" },
      ex.expenses.map((e) =>
        h(
          "li",
          { class: "card expense", "data-expense": e.id },
          h("h2", {}, e.purpose),
          h("p", {}, h("span", { class: `status status-${e.status}` }, t(`expense_status_${e.status}`)), " · ", h("strong", { "data-figure": "amount" }, fmtMoney(e.amount, e.currency)), " · ", e.budget_line, " · ", recordLink(e.index)),
          h(
            "dl",
            { class: "facts" },
            h("dt", {}, t("expense_requester")),
            h("dd", {}, h("code", { title: e.requester }, shortKey(e.requester))),
            h("dt", {}, t("expense_payee")),
            h("dd", {}, e.payee ?? t("expense_private_payee", { label: e.payee_label ?? "" })),
            h("dt", {}, t("expense_time")),
            h("dd", {}, fmtDate(e.time)),
            h("dt", {}, t("expense_approvals", { have: e.approvals.length, need: e.approvals_needed })),
            h("dd", {}, e.approvals.length ? h("ul", {}, e.approvals.map((a) => h("li", {}, h("code", { title: a.by }, shortKey(a.by)), " ", recordLink(a.index)))) : t("none")),
            h("dt", {}, t("expense_payment")),
            h("dd", {}, e.payment ? [t("expense_paid_from", { account: e.payment.account }), " ", recordLink(e.payment.index)] : t("none")),
          ),
          e.documents.length
            ? h(
                "div",
                {},
                h("h3", {}, t("documents")),
                h(
                  "ul",
                  { class: "docs" },
                  e.documents.map((d) => {
                    const info = docInfo.get(d);
                    const status = h("span", { class: "doc-status", role: "status" });
                    const btn = h("button", { type: "button", class: "secondary", "data-download": d, onclick: () => fetchDocument(d, status) }, t("doc_download", { title: info?.title ?? d.slice(0, 12) }));
                    return h("li", {}, btn, " ", info && !info.public ? h("span", { class: "muted" }, t("doc_private")) : null, " ", status);
                  }),
                ),
              )
            : null,
        ),
      ),
    ),
  );
}
