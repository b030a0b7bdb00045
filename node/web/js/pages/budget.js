// Budget against actual, per line and period. Each line's budgeted amount is the proven
// funds.budget.set record's; spent and requested are sums over the proven expense records
// (request and payment) of that line.
import { barChart, h, recordLink, table, fill } from "../ui.js";
import { fmtMoney, t } from "../i18n.js";
import { getJson } from "../api.js";

export async function render(el, session) {
  const [budget, ex] = await Promise.all([getJson("/v1/funds/budget"), getJson("/v1/funds/expenses")]);
  if (!session.off) await verify(session, budget, ex);
  draw(el, budget);
}

/** Each line's figures against the proven budget.set and expense records. */
async function verify(session, budget, ex) {
  const sums = new Map(); // line key -> {spent, requested}
  const add = (key, field, n) => {
    const s = sums.get(key) ?? { spent: 0, requested: 0 };
    s[field] += n;
    sums.set(key, s);
  };
  await Promise.all(
    ex.expenses.map(async (e) => {
      const req = await session.statement(e.index);
      session.claim(req.type === "funds.expense.request" && req.body.amount === e.amount && req.body.budget_line === e.budget_line, `expense ${e.id}: amount or budget line differs from its request record`);
      if (e.status === "requested") add(e.budget_line, "requested", req.body.amount);
      if (e.payment) {
        const pay = await session.statement(e.payment.index);
        session.claim(pay.type === "funds.expense.pay" && pay.body.expense === e.id, `record ${e.payment.index} is not the payment of expense ${e.id}`);
        add(e.budget_line, "spent", pay.body.amount);
      }
    }),
  );
  for (const line of budget.lines) {
    const last = line.revisions[line.revisions.length - 1];
    const set = await session.statement(last.index);
    session.claim(set.type === "funds.budget.set" && set.body.amount === line.budgeted && `${set.body.period}/${set.body.category}` === line.key && set.body.currency === line.currency, `budget line ${line.key}: ${line.budgeted} is not the amount of its funds.budget.set record ${last.index}`);
    const s = sums.get(line.key) ?? { spent: 0, requested: 0 };
    session.claim(s.spent === line.spent, `budget line ${line.key}: spent ${line.spent}, the proven payments add up to ${s.spent}`);
    session.claim(s.requested === line.requested, `budget line ${line.key}: requested ${line.requested}, the proven open requests add up to ${s.requested}`);
  }
}

function draw(el, budget) {
  const periods = [...new Set(budget.lines.map((l) => l.period))].sort();
  fill(el, 
    h("h1", {}, t("budget_title")),
    h("p", {}, t("budget_intro")),
    periods.map((p) => {
      const lines = budget.lines.filter((l) => l.period === p);
      const max = Math.max(...lines.map((l) => Math.max(l.budgeted, l.spent + l.committed)));
      return h(
        "section",
        { class: "card", "data-period": p },
        h("h2", {}, t("budget_period", { period: p })),
        barChart(
          lines.flatMap((l) => [
            { label: `${l.category} · ${t("budgeted")}`, value: l.budgeted, text: fmtMoney(l.budgeted, l.currency), series: 0 },
            { label: `${l.category} · ${t("spent")}`, value: l.spent, text: fmtMoney(l.spent, l.currency), series: 1 },
          ]),
          { title: t("budget_chart", { period: p }), max },
        ),
        table(
          [t("budget_line"), t("budgeted"), t("requested"), t("committed"), t("spent"), t("remaining"), t("record")],
          lines.map((l) => [
            l.category,
            h("span", { "data-line": l.key, "data-field": "budgeted" }, fmtMoney(l.budgeted, l.currency)),
            h("span", { "data-line": l.key, "data-field": "requested" }, fmtMoney(l.requested, l.currency)),
            h("span", { "data-line": l.key, "data-field": "committed" }, fmtMoney(l.committed, l.currency)),
            h("span", { "data-line": l.key, "data-field": "spent" }, fmtMoney(l.spent, l.currency)),
            h("span", { "data-line": l.key, "data-field": "remaining" }, fmtMoney(l.remaining, l.currency)),
            recordLink(l.revisions[l.revisions.length - 1].index),
          ]),
          t("budget_period", { period: p }),
        ),
      );
    }),
  );
}
