// The audit view (roles admin and observer): the newest rows of the audit trail
// (GET /api/audit, docs/audit.md) in a table, filtered by subject, action and time, paged
// with `before` / `next_before`, and the same selection as a CSV download.

import { t, formatTime } from "./i18n.js";
import { h, status, guarded, table } from "./dom.js";

/** Rows per page. */
const PAGE = 50;
/** The actions docs/audit.md lists, offered as suggestions in the action filter. */
const ACTIONS = ["auth.signin", "auth.refresh", "auth.signout", "account.add", "account.disable", "account.enable",
  "account.password", "account.change", "key.issue", "key.revoke", "token.issue", "meeting.create", "meeting.end",
  "meeting.lock", "meeting.unlock", "room.mute", "room.unmute", "room.spotlight", "room.ask_unmute", "room.lower_hand",
  "briefing.send", "incident.state", "incident.ack", "directory.change", "recording.download"];

export function setupAudit({ api }) {
  const $ = (id) => document.getElementById(id);
  const statusLine = $("audit-status");
  const pages = []; // the `before` of each page shown so far (null: the newest)
  let next = null; // next_before of the page shown
  let shown = false;

  /** The filter's query parameters (datetime-local fields are local time: sent as milliseconds). */
  function filters() {
    const query = new URLSearchParams();
    for (const name of ["subject", "action"]) {
      const value = $(`audit-${name}`).value.trim();
      if (value) query.set(name, value);
    }
    for (const name of ["since", "until"]) {
      const value = $(`audit-${name}`).value;
      if (value) query.set(name, String(new Date(value).getTime()));
    }
    return query;
  }

  function resultCell(result) {
    return h("span", { class: result === "ok" ? "badge ok" : "badge warn" }, result);
  }

  function render(entries) {
    const rows = entries.map((e) => [String(e.id), formatTime(e.at), e.subject, e.role, e.remote || t("dash"),
      e.action, e.target, e.detail || "", resultCell(e.result)]);
    const el = table(["#", t("audit.at"), t("audit.subject"), t("audit.role"), t("audit.remote"), t("audit.action"),
      t("audit.target"), t("audit.detail"), t("audit.result")], rows);
    el.id = "audit-rows";
    el.querySelectorAll("tbody tr").forEach((row, i) => {
      row.dataset.id = entries[i].id;
      row.dataset.action = entries[i].action;
    });
    $("audit-table").replaceChildren(entries.length ? el : h("p", { class: "muted", id: "audit-empty" }, t("audit.none")));
    $("audit-page").textContent = t("audit.page", { page: pages.length, count: entries.length });
    $("audit-newer").disabled = pages.length <= 1;
    $("audit-newest").disabled = pages.length <= 1;
    $("audit-older").disabled = next == null;
  }

  async function load(before) {
    const query = filters();
    query.set("limit", String(PAGE));
    if (before != null) query.set("before", String(before));
    const page = await api.get(`/api/audit?${query}`);
    next = page.next_before ?? null;
    render(page.entries);
  }

  async function first() {
    pages.length = 0;
    pages.push(null);
    status(statusLine, "");
    await load(null);
  }

  async function older() {
    if (next == null) return;
    pages.push(next);
    await load(next);
  }

  async function newer() {
    if (pages.length <= 1) return;
    pages.pop();
    await load(pages[pages.length - 1]);
  }

  async function download() {
    const query = filters();
    query.set("format", "csv");
    query.set("limit", "1000");
    const blob = await api.blob(`/api/audit?${query}`, { Accept: "text/csv" });
    const link = $("audit-csv-link");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    const name = `audit-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}.csv`;
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.textContent = t("audit.csvReady", { name });
    link.hidden = false;
    link.click();
  }

  $("audit-actions").replaceChildren(...ACTIONS.map((a) => h("option", { value: a })));
  $("audit-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(statusLine, first); });
  $("audit-clear").addEventListener("click", () => { $("audit-form").reset(); guarded(statusLine, first); });
  $("audit-newest").addEventListener("click", () => guarded(statusLine, first));
  $("audit-older").addEventListener("click", () => guarded(statusLine, older));
  $("audit-newer").addEventListener("click", () => guarded(statusLine, newer));
  $("audit-csv").addEventListener("click", () => guarded(statusLine, download));

  return {
    /** Reads the newest page the first time the tab is shown, the page shown again later. */
    show() {
      if (shown) guarded(statusLine, () => load(pages[pages.length - 1]));
      else guarded(statusLine, first);
      shown = true;
    },
  };
}
