// Message catalogues (i18n/en.json, i18n/zh.json): every string the page shows comes from
// them. Numbers, money and dates are formatted by Intl for the chosen locale.
const LANGS = { en: "en-GB", zh: "zh-CN" };
const STORE = "civic-ledger/lang";
let lang = "en";
let catalogue = {};

export const languages = () => Object.keys(LANGS);
export const currentLang = () => lang;
export const locale = () => LANGS[lang];

/** The language to start with: the remembered choice, else the browser's, else English. */
export function initialLang() {
  const saved = localStorage.getItem(STORE);
  if (saved && LANGS[saved]) return saved;
  const nav = (navigator.languages ?? [navigator.language]).map((l) => String(l).toLowerCase());
  return nav.some((l) => l.startsWith("zh")) ? "zh" : "en";
}

export async function setLang(next) {
  const res = await fetch(new URL(`../i18n/${next}.json`, import.meta.url), { cache: "no-cache" });
  catalogue = await res.json();
  lang = next;
  localStorage.setItem(STORE, next);
  document.documentElement.lang = next === "zh" ? "zh-Hans" : "en";
}

/** The message `key`, with {name} placeholders filled from `params`. */
export function t(key, params = {}) {
  const msg = catalogue[key];
  if (msg === undefined) return `⟦${key}⟧`;
  return msg.replace(/\{(\w+)\}/g, (_, k) => (params[k] === undefined ? `{${k}}` : String(params[k])));
}

/** A text in the chosen language from a {"en": …, "zh": …} object (a ballot title). */
export function pick(texts) {
  if (texts === null || texts === undefined) return "";
  if (typeof texts === "string") return texts;
  return texts[lang] ?? texts.en ?? Object.values(texts)[0] ?? "";
}

export function fmtNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

/** Money: an integer count of minor units and an ISO 4217 code (never a float in the data). */
export function fmtMoney(minor, currency) {
  const f = new Intl.NumberFormat(locale(), { style: "currency", currency });
  const digits = f.resolvedOptions().maximumFractionDigits;
  return f.format(minor / 10 ** digits);
}

export function fmtDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(d);
}

export function fmtPercent(x) {
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(x);
}
