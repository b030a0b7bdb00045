// The community's page: a hash-routed single page app over this node's own API.
import { h } from "./ui.js";
import { currentLang, initialLang, languages, setLang, t } from "./i18n.js";
import { Session } from "./session.js";
import { forgetTrust, saveTrust, savedTrust, trustFromFragment } from "./trust.js";
import { getJson, stats } from "./api.js";
import * as community from "./pages/community.js";
import * as ballots from "./pages/ballots.js";
import * as budget from "./pages/budget.js";
import * as expenses from "./pages/expenses.js";
import * as accounts from "./pages/accounts.js";
import * as records from "./pages/records.js";
import * as residents from "./pages/residents.js";

const ROUTES = [
  ["community", community],
  ["ballots", ballots],
  ["budget", budget],
  ["expenses", expenses],
  ["accounts", accounts],
  ["residents", residents],
];
const HIDDEN = { records };

const main = () => document.getElementById("main");
let renderId = 0;

// The API's byte and request counts, for the cost measurement (bench/bench_web.py).
window.civicStats = stats;

function route() {
  const path = location.hash.replace(/^#\/?/, "").split("?")[0];
  const [name, ...rest] = path.split("/");
  const known = ROUTES.find(([n]) => n === name)?.[1] ?? HIDDEN[name];
  return { name: known ? name : "community", page: known ?? community, args: rest.map(decodeURIComponent) };
}

function renderNav(active) {
  const nav = document.getElementById("nav");
  nav.replaceChildren(
    ...ROUTES.map(([n]) => h("a", { href: `#/${n}`, "aria-current": n === active ? "page" : null }, t(`nav_${n}`))),
  );
  const sel = document.getElementById("lang");
  sel.replaceChildren(...languages().map((l) => h("option", { value: l, selected: l === currentLang() }, t(`lang_${l}`))));
  document.getElementById("lang-label").textContent = t("language");
  document.getElementById("skip").textContent = t("skip_to_content");
  document.getElementById("site-title").textContent = t("site_title");
  document.title = t("site_title");
}

/** The checks panel and the machine-readable verdict on <body>. */
function renderPanel(session) {
  document.body.dataset.verification = session.verdict;
  const panel = document.getElementById("checks");
  const badge = document.getElementById("verdict");
  badge.textContent = t(`verdict_${session.verdict}`);
  badge.className = `verdict verdict-${session.verdict}`;
  const items = [...session.checks].map(([name, c]) =>
    h(
      "li",
      { class: `check check-${c.status}`, "data-check": name, "data-status": c.status },
      h("span", { class: "check-icon", "aria-hidden": "true" }, { pass: "✓", fail: "✗", pending: "…", skip: "–" }[c.status]),
      h("strong", {}, t(`check_${name.replace(" ", "_")}`)),
      " ",
      h("span", { class: "check-status" }, t(`status_${c.status}`)),
      c.detail ? h("div", { class: "check-detail" }, c.status === "fail" ? c.detail : t(c.detail, c.params ?? {})) : null,
    ),
  );
  const ev = session.evidence
    ? h(
        "div",
        { class: "evidence", id: "monitor-evidence" },
        h("h3", {}, t("evidence_title")),
        h("p", {}, t("evidence_explain")),
        h("h4", {}, t("evidence_old")),
        h("pre", { "data-evidence": "old" }, session.evidence.old),
        h("h4", {}, t("evidence_new")),
        h("pre", { "data-evidence": "new" }, session.evidence.new),
        h("button", { type: "button", id: "forget-monitor", onclick: () => forgetMonitor(session) }, t("monitor_forget")),
      )
    : null;
  panel.replaceChildren(...[h("h2", { id: "checks-title" }, t("checks_title")), h("ul", { class: "checks" }, items), ev].filter(Boolean));
}

async function forgetMonitor(session) {
  if (!confirm(t("monitor_forget_confirm"))) return;
  const { forget } = await import("./verify/monitor.js");
  forget(session.trust.vkey);
  render();
}

async function trustForm(container) {
  let hint = null;
  try {
    hint = await getJson("/v1/community");
  } catch {
    /* the form works without it */
  }
  const vkey = h("input", { id: "trust-vkey", name: "vkey", required: true, autocomplete: "off", spellcheck: "false", "aria-describedby": "trust-help" });
  const genesis = h("input", { id: "trust-genesis", name: "genesis", required: true, autocomplete: "off", spellcheck: "false", pattern: "[0-9a-f]{64}" });
  const form = h(
    "form",
    {
      class: "card trust-form",
      onsubmit: (ev) => {
        ev.preventDefault();
        saveTrust(vkey.value, genesis.value);
        render();
      },
    },
    h("h2", {}, t("trust_title")),
    h("p", { id: "trust-help" }, t("trust_help")),
    h("label", { for: "trust-vkey" }, t("trust_vkey")),
    vkey,
    h("label", { for: "trust-genesis" }, t("trust_genesis")),
    genesis,
    h("div", { class: "buttons" }, h("button", { type: "submit" }, t("trust_save"))),
    hint
      ? h(
          "div",
          { class: "hint" },
          h("p", {}, t("trust_node_says")),
          h("pre", {}, `${hint.log_vkey}\n${hint.genesis_hash}`),
          h(
            "button",
            {
              type: "button",
              class: "secondary",
              onclick: () => {
                vkey.value = hint.log_vkey;
                genesis.value = hint.genesis_hash;
                vkey.focus();
              },
            },
            t("trust_copy_node"),
          ),
        )
      : null,
  );
  container.replaceChildren(form);
}

export async function render() {
  const id = ++renderId;
  const { name, page, args } = route();
  renderNav(name);
  const trust = savedTrust();
  const container = main();
  document.getElementById("trust-line").replaceChildren(
    trust ? h("span", {}, t("trust_using"), " ", h("code", {}, trust.vkey.split("+").slice(0, 2).join("+")), " ", h("button", { type: "button", class: "link", onclick: () => { forgetTrust(); render(); } }, t("trust_change"))) : "",
  );
  if (!trust) {
    document.body.dataset.verification = "pending";
    document.getElementById("checks").replaceChildren();
    document.getElementById("verdict").textContent = t("verdict_no_trust");
    await trustForm(container);
    return;
  }
  const session = new Session(trust, (s) => id === renderId && renderPanel(s));
  renderPanel(session);
  container.replaceChildren(h("p", { class: "loading" }, t("loading")));
  const off = /[?&]verify=off\b/.test(location.hash);
  const started = off ? await session.startUnverified() : await session.start();
  if (id !== renderId) return;
  if (started) {
    await session.finish(() => page.render(container, session, args));
  } else {
    container.replaceChildren(h("div", { class: "card alarm", role: "alert" }, h("h2", {}, t("page_failed_title")), h("p", {}, t("page_failed"))));
    session.abort();
  }
  if (id === renderId) renderPanel(session);
}

async function boot() {
  trustFromFragment();
  await setLang(initialLang());
  document.getElementById("lang").addEventListener("change", async (ev) => {
    await setLang(ev.target.value);
    render();
  });
  window.addEventListener("hashchange", () => {
    trustFromFragment();
    render();
  });
  await render();
}

boot();
