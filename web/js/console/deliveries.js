// The per-recipient rows of an incident or a briefing (GET …/deliveries, …/receipts:
// routed, delivered, read, acknowledged and by whom, escalated) as a table, and the live
// `receipt` messages of the event socket applied to them.

import { t, formatTime } from "./i18n.js";
import { table } from "./dom.js";

/** Applies a `receipt` message to the rows it concerns; returns whether a row changed. */
export function applyReceipt(rows, message) {
  const row = rows?.find((r) => r.recipient === message.recipient);
  if (!row) return false;
  row[`${message.step}_at`] ??= message.at;
  if (message.step === "acknowledged") row.acknowledged_by ??= message.by;
  return true;
}

/**
 * A table of delivery rows, one per recipient (`data-recipient`); acknowledged rows are
 * marked `done`, overdue ones `escalated`. withEscalation adds the escalation column.
 */
export function deliveryTable(rows, { caption, communeName, withEscalation = false }) {
  const columns = [t("col.recipient"), t("col.delivered"), t("col.read"), t("col.acknowledged"), t("col.by")];
  if (withEscalation) columns.push(t("col.escalated"));
  const el = table(columns, rows.map((r) => {
    const cells = [r.recipient === "command" ? r.recipient : `${communeName(r.recipient)} (${r.recipient})`,
      formatTime(r.delivered_at), formatTime(r.read_at), formatTime(r.acknowledged_at), r.acknowledged_by ?? t("dash")];
    if (withEscalation) cells.push(formatTime(r.escalated_at));
    return cells;
  }), caption);
  el.querySelectorAll("tbody tr").forEach((row, i) => {
    row.dataset.recipient = rows[i].recipient;
    row.classList.toggle("done", rows[i].acknowledged_at != null);
    row.classList.toggle("escalated", rows[i].escalated_at != null && rows[i].acknowledged_at == null);
  });
  return el;
}
