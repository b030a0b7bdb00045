// Tiny DOM helpers: elements are built with textContent only (no HTML from data), and
// bar charts are SVG with a text alternative.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * A horizontal bar chart. `rows`: [{label, value, text, series?}]; `text` is the formatted
 * value, `series` (0-2) picks the colour, `max` scales the bars. An <svg role="img"> whose
 * label is `title`; the figures are also in the page's tables.
 */
export function barChart(rows, { title, max } = {}) {
  const top = Math.max(1, max ?? Math.max(0, ...rows.map((r) => r.value)));
  const W = 440, rowH = 34, labelW = 170, valueW = 100;
  const svg = s("svg", { viewBox: `0 0 ${W} ${rows.length * rowH + 8}`, role: "img", class: "chart" });
  svg.setAttribute("aria-label", title ?? "");
  if (title) svg.append(s("title", {}, title));
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    const label = r.label.length > 20 ? `${r.label.slice(0, 19)}…` : r.label;
    svg.append(s("text", { x: 0, y: y + 20, class: "chart-label" }, label));
    const w = Math.max(r.value > 0 ? 2 : 0, ((W - labelW - valueW) * r.value) / top);
    svg.append(s("rect", { x: labelW, y: y + 5, width: w, height: 20, rx: 3, class: `bar bar-${r.series ?? 0}` }));
    svg.append(s("text", { x: labelW + w + 6, y: y + 20, class: "chart-value" }, r.text));
  });
  return svg;
}

/** A <table> from headers and rows (cells: strings or nodes). */
export function table(headers, rows, caption) {
  return h(
    "div",
    { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption ?? "" },
    h("table", {}, caption ? h("caption", {}, caption) : null, h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))), h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))),
  );
}

export function shortKey(k) {
  return typeof k === "string" && k.length > 20 ? `${k.slice(0, 14)}…${k.slice(-6)}` : String(k ?? "");
}

/** A link to the record page, labelled with its index. */
export function recordLink(index, label) {
  return h("a", { href: `#/records/${index}`, class: "record-link", "data-record": index }, label ?? `#${index}`);
}

export function download(name, bytes, type = "application/octet-stream") {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Replace an element's children, skipping null/false (conditional parts). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}
