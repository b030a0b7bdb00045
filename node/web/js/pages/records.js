// One record: its exact bytes (as proven), leaf hash and the checkpoint it is proven in.
import { h, fill } from "../ui.js";
import { fmtNumber, t } from "../i18n.js";

export async function render(el, session, args) {
  const index = Number(args[0]);
  const p = await session.prove(index);
  fill(el, 
    h("h1", {}, t("record_title", { index: fmtNumber(index) })),
    h("p", { class: "good", "data-proven": index }, t("record_proven", { size: fmtNumber(session.cp.size) })),
    h("dl", { class: "facts" }, h("dt", {}, t("record_type")), h("dd", {}, p.record.envelope.statement.type), h("dt", {}, t("record_leaf_hash")), h("dd", {}, h("code", { class: "wrap" }, p.leafHash)), h("dt", {}, t("time")), h("dd", {}, p.record.time)),
    h("pre", { class: "record-json", tabindex: 0 }, JSON.stringify(p.record, null, 2)),
  );
}
