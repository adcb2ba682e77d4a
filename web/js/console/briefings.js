// The briefings view. The chair composes a briefing, chooses its audience (all communes, a
// list, or the communes near a point), sends it, and follows a per-commune table of
// delivered / read / acknowledged that the event socket's receipts keep current. A commune
// sees the briefings addressed to it and marks them read and acknowledged.

import { t, formatTime } from "./i18n.js";
import { h, fill, keepFocus, status, guarded } from "./dom.js";
import { applyReceipt, deliveryTable } from "./deliveries.js";

/** isCommand: the receipts tables (chair, admin, observer); isChair: may send (chair, admin). */
export function setupBriefings({ api, isCommand, isChair, isCommune, communes, communeName }) {
  const $ = (id) => document.getElementById(id);
  const statusLine = $("briefings-status");
  const briefings = new Map(); // id → {briefing, receipts: rows | null, read, acked}
  let selected = null;

  function upsert(briefing) {
    const known = briefings.get(briefing.id);
    if (known) known.briefing = briefing;
    else briefings.set(briefing.id, { briefing, receipts: null, read: false, acked: false });
  }

  // ------------------------------------------------------------------ compose (chair)

  function audience() {
    const kind = document.querySelector('input[name="audience"]:checked').value;
    if (kind === "all") return { all: true };
    if (kind === "communes") {
      return { communes: [...document.querySelectorAll('#audience-communes input:checked')].map((box) => box.value) };
    }
    return { near: { lat: Number($("near-lat").value), lon: Number($("near-lon").value), radius_m: Number($("near-radius").value) } };
  }

  function showAudienceFields() {
    const kind = document.querySelector('input[name="audience"]:checked').value;
    $("audience-communes").hidden = kind !== "communes";
    $("audience-near").hidden = kind !== "near";
  }

  async function send(event) {
    event.preventDefault();
    const answer = await api.post("/api/briefings", {
      title: $("briefing-title").value, body: $("briefing-body").value, priority: $("briefing-priority").value,
      audience: audience(),
    });
    status(statusLine, t("briefings.sent", { id: answer.id, count: answer.recipients.length }));
    $("briefing-form").reset();
    showAudienceFields();
    upsert(await api.get(`/api/briefings/${answer.id}`));
    await select(answer.id);
  }

  // ------------------------------------------------------------------ list and receipts

  function summary(item) {
    if (!item.receipts) return "";
    const acked = item.receipts.filter((r) => r.acknowledged_at != null).length;
    return t("briefings.summary", { ack: acked, total: item.receipts.length });
  }

  function listItem(item) {
    const b = item.briefing;
    return h("li", { class: `prio-${b.priority}`, dataset: { briefingId: b.id } },
      h("button", { type: "button", "aria-current": selected === b.id ? "true" : null, onclick: () => guarded(statusLine, () => select(b.id)) },
        h("strong", {}, `#${b.id} ${b.title}`),
        h("span", { class: "inc-meta" }, h("span", { class: "badge" }, t(`priority.${b.priority}`)),
          h("time", {}, formatTime(b.created_at)), h("span", {}, summary(item)))));
  }

  function receiptsTable(item) {
    const el = deliveryTable(item.receipts, { caption: t("briefings.receipts", { title: item.briefing.title }), communeName });
    el.id = "receipts-table";
    return el;
  }

  async function attachment(file) {
    const link = h("a", { href: URL.createObjectURL(await api.blob(file.url)), download: file.name });
    link.click();
  }

  function communeActions(item) {
    const b = item.briefing;
    const step = async (name) => {
      await api.post(`/api/briefings/${b.id}/${name}`);
      item[name === "read" ? "read" : "acked"] = true;
      if (name === "ack") item.read = true;
      render();
    };
    return h("div", { class: "actions" },
      h("button", { type: "button", dataset: { action: "read" }, disabled: item.read || item.acked,
        onclick: () => guarded(statusLine, () => step("read")) }, t("briefings.markRead")),
      h("button", { type: "button", class: "primary", dataset: { action: "ack" }, disabled: item.acked,
        onclick: () => guarded(statusLine, () => step("ack")) }, item.acked ? t("briefings.acked") : t("briefings.ack")));
  }

  function renderDetail() {
    const panel = $("briefing-detail");
    const item = selected != null ? briefings.get(selected) : null;
    if (!item) { panel.replaceChildren(); return; }
    const b = item.briefing;
    keepFocus(panel, () => fill(panel,
      h("h3", {}, `#${b.id} ${b.title}`, " ", h("span", { class: "badge" }, t(`priority.${b.priority}`))),
      h("p", { class: "briefing-body" }, b.body),
      b.attachments.length ? h("ul", { class: "attachments" }, b.attachments.map((file) => h("li", {},
        h("button", { type: "button", class: "linkish", onclick: () => guarded(statusLine, () => attachment(file)) },
          `📎 ${file.name} (${file.size} B)`)))) : null,
      isCommune ? communeActions(item) : null,
      isCommand && item.receipts ? h("p", { class: "muted" }, summary(item)) : null,
      isCommand && item.receipts ? receiptsTable(item) : null));
  }

  function render() {
    const focused = document.activeElement?.closest?.("#briefing-list li")?.dataset.briefingId;
    const sorted = [...briefings.values()].sort((a, b) => b.briefing.id - a.briefing.id);
    $("briefing-list").replaceChildren(...sorted.map(listItem));
    if (focused) document.querySelector(`#briefing-list li[data-briefing-id="${focused}"] button`)?.focus();
    $("briefings-empty").hidden = briefings.size > 0;
    renderDetail();
  }

  async function select(id) {
    selected = id;
    render();
    if (isCommand) {
      briefings.get(id).receipts = (await api.get(`/api/briefings/${id}/receipts`)).rows;
      render();
    }
  }

  function onMessage(message) {
    if (message.type === "briefing") {
      upsert(message.briefing);
      render();
    } else if (message.type === "receipt" && message.kind === "briefing" && applyReceipt(briefings.get(message.id)?.receipts, message)) {
      render();
    }
  }

  async function load() {
    const page = await api.get("/api/briefings?limit=100");
    for (const b of page.briefings) upsert(b);
    render();
  }

  if (isChair) {
    $("audience-communes").replaceChildren(...communes.map((c) => h("label", { class: "check" },
      h("input", { type: "checkbox", value: c.id }), ` ${c.name}`)));
    for (const radio of document.querySelectorAll('input[name="audience"]')) radio.addEventListener("change", showAudienceFields);
    showAudienceFields();
    $("briefing-form").addEventListener("submit", (event) => guarded(statusLine, () => send(event)));
  }
  guarded(statusLine, load);
  return { onMessage };
}
