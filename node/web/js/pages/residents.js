// Residents: key file, voting and receipts (filled in below).
import { h, fill } from "../ui.js";
import { t } from "../i18n.js";

export async function render(el) {
  fill(el, h("h1", {}, t("residents_title")));
}
