// Accounts and transactions, each transaction proven; the open-data export (the same
// columns as `civic funds export`, transactions.csv and budget.csv) built from those rows.
import { barChart, h, download, recordLink, shortKey, table, fill } from "../ui.js";
import { fmtDate, fmtMoney, t } from "../i18n.js";
import { getJson } from "../api.js";

const TX_FIELDS = ["record_index", "leaf_hash", "time", "kind", "from_account", "to_account", "amount_minor", "amount", "currency", "expense", "reverses", "counterparty", "description", "documents", "signer"];
const BUDGET_FIELDS = ["period", "category", "currency", "budgeted_minor", "committed_minor", "spent_minor", "remaining_minor", "record_index", "leaf_hash"];
// The page shows (and proves) the first SHOWN transactions; the export has them all.
const SHOWN = 200;
const TYPES = { income: "funds.income", payment: "funds.expense.pay", transfer: "funds.transfer", reversal: "funds.transaction.reverse" };

function csvCell(v) {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
const csv = (header, rows) => [header, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";

function decimal(minor, currency) {
  const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  if (!digits) return String(minor);
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 10 ** digits)}.${String(abs % 10 ** digits).padStart(digits, "0")}`;
}

export async function render(el, session) {
  const [acc, txs, budget] = await Promise.all([getJson("/v1/funds/accounts"), getJson(`/v1/funds/transactions?limit=${SHOWN}`), getJson("/v1/funds/budget")]);
  for (const a of acc.accounts) {
    const st = await session.statement(a.opened_at);
    session.claim(st.type === "funds.account.open" && st.body.code === a.code, `account ${a.id}: record ${a.opened_at} does not open it`);
  }
  const balances = new Map();
  for (const tx of txs.transactions) {
    const p = await session.prove(tx.index);
    const st = p.record.envelope.statement;
    session.claim(p.leafHash === tx.leaf_hash && st.type === TYPES[tx.kind] && (st.body.amount === undefined || st.body.amount === tx.amount), `transaction ${tx.id}: kind or amount differs from its record`);
    for (const post of tx.postings) balances.set(post.account, (balances.get(post.account) ?? 0) + post.amount);
  }
  const complete = txs.next === null;
  if (complete) {
    for (const a of acc.accounts) session.claim((balances.get(a.id) ?? 0) === a.balance, `account ${a.id}: balance ${a.balance}, its proven transactions add up to ${balances.get(a.id) ?? 0}`);
  }
  for (const l of budget.lines) {
    const p = await session.prove(l.set_at);
    session.claim(p.leafHash === l.leaf_hash, `budget line ${l.key}: leaf hash differs from record ${l.set_at}`);
  }
  const exportTx = async () => {
    // Every page of the node's transactions (each row names the record that proves it).
    const all = [...txs.transactions];
    for (let next = txs.next; next !== null; ) {
      const page = await getJson(`/v1/funds/transactions?after=${next}&limit=5000`);
      all.push(...page.transactions);
      next = page.next;
    }
    download(
      "transactions.csv",
      csv(TX_FIELDS, all.map((x) => [x.index, x.leaf_hash, x.time, x.kind, x.from_account, x.to_account, x.amount, decimal(x.amount, x.currency), x.currency, x.expense ?? "", x.reverses ?? "", x.counterparty ?? "", x.description, x.documents.join(" "), x.by])),
      "text/csv",
    );
  };
  const exportBudget = () =>
    download("budget.csv", csv(BUDGET_FIELDS, budget.lines.map((b) => [b.period, b.category, b.currency, b.budgeted, b.committed, b.spent, b.remaining, b.set_at, b.leaf_hash])), "text/csv");
  const name = (id) => acc.accounts.find((a) => a.id === id)?.title ?? id;
  fill(el, 
    h("h1", {}, t("accounts_title")),
    h(
      "section",
      { class: "card" },
      h("h2", {}, t("accounts_balances")),
      complete ? null : h("p", { class: "muted" }, t("balances_unverified", { n: SHOWN })),
      barChart(acc.accounts.map((a) => ({ label: a.title, value: a.balance, text: fmtMoney(a.balance, a.currency), series: 0 })), { title: t("accounts_balances") }),
      table(
        [t("account"), t("balance"), t("record")],
        acc.accounts.map((a) => [a.title, h("span", { "data-account": a.id }, fmtMoney(a.balance, a.currency)), recordLink(a.opened_at)]),
        t("accounts_balances"),
      ),
    ),
    h(
      "section",
      { class: "card" },
      h("h2", {}, t("transactions_title", { n: txs.transactions.length })),
      h("div", { class: "buttons" }, h("button", { type: "button", id: "export-transactions", onclick: exportTx }, t("export_transactions")), h("button", { type: "button", id: "export-budget", class: "secondary", onclick: exportBudget }, t("export_budget"))),
      h("p", { class: "muted" }, t("export_note")),
      table(
        [t("record"), t("time"), t("kind"), t("from"), t("to"), t("amount"), t("description"), t("signer")],
        txs.transactions.map((x) => [recordLink(x.index), fmtDate(x.time), t(`tx_${x.kind}`), name(x.from_account), name(x.to_account), h("span", { "data-tx": x.id }, fmtMoney(x.amount, x.currency)), x.description, h("code", { title: x.by }, shortKey(x.by))]),
        t("transactions_title", { n: txs.transactions.length }),
      ),
    ),
  );
}
