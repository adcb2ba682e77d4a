// The incidents view: every incident the signed-in station may see (GET /api/incidents),
// kept live from the event socket, newest first and coloured by severity; the selected
// one's snapshot, the communes notified and who acknowledged (command center), escalations
// highlighted, state changes and acknowledgement; an incident reported by a streaming camera
// (`camera_stream`) offers that camera's live view (camera.js).

import { t, formatTime } from "./i18n.js";
import { h, fill, keepFocus, announce, status, guarded } from "./dom.js";
import { applyReceipt, deliveryTable } from "./deliveries.js";
import { liveView, stopCamera } from "./camera.js";

const STATES = ["new", "acknowledged", "dispatched", "resolved"];
const SEVERITIES = ["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
/** How many of the newest open incidents get their delivery table read at load (escalations). */
const DELIVERY_SCAN = 30;

/**
 * isCommand: the command center's view (every incident, the delivery tables); isChair: may
 * change states (chair, admin); isCommune: a commune's view (acknowledge, change states).
 */
export function setupIncidents({ api, isCommand, isChair, isCommune, communeName, onNew }) {
  const $ = (id) => document.getElementById(id);
  const statusLine = $("incidents-status");
  // id → {incident, deliveries: rows | null, escalated, snapshot: url | null | undefined, ackedHere, live: camera slot | undefined}
  const items = new Map();
  let selected = null;
  let loaded = false;

  function entry(id) { return items.get(id); }

  function upsert(incident) {
    const known = items.get(incident.id);
    if (known) known.incident = incident;
    else items.set(incident.id, { incident, deliveries: null, escalated: false, snapshot: undefined, ackedHere: false });
    return !known;
  }

  // ------------------------------------------------------------------ list

  function severityClass(severity) { return `sev-${SEVERITIES.includes(severity) ? severity : "Unknown"}`; }

  function listItem({ incident: i, escalated }) {
    return h("li", { class: [severityClass(i.severity), escalated ? "escalated" : "", `state-${i.state}`].join(" "),
      dataset: { incidentId: i.id } },
    h("button", { type: "button", "aria-current": selected === i.id ? "true" : null, onclick: () => select(i.id) },
      h("span", { class: "sev-dot", "aria-hidden": "true" }),
      h("span", { class: "inc-main" },
        h("strong", {}, `#${i.id} ${i.type}`),
        h("span", { class: "inc-text" }, i.text)),
      h("span", { class: "inc-meta" },
        h("span", { class: "sev-label" }, t(`severity.${i.severity}`)),
        h("span", { class: "state-label" }, t(`state.${i.state}`)),
        escalated ? h("span", { class: "badge danger" }, t("incidents.escalated")) : null,
        h("time", {}, formatTime(i.received_at)))));
  }

  function renderList() {
    const focused = document.activeElement?.closest?.("#incident-list li")?.dataset.incidentId;
    const sorted = [...items.values()].sort((a, b) => b.incident.id - a.incident.id);
    $("incident-list").replaceChildren(...sorted.map(listItem));
    if (focused) document.querySelector(`#incident-list li[data-incident-id="${focused}"] button`)?.focus();
    $("incidents-empty").hidden = items.size > 0;
  }

  // ------------------------------------------------------------------ detail

  function nextStates(state) { return STATES.slice(STATES.indexOf(state) + 1); }

  async function changeState(id, state) {
    const answer = await api.post(`/api/incidents/${id}/state`, { state });
    entry(id).incident = { ...entry(id).incident, state: answer.state };
    render();
  }

  async function acknowledge(id) {
    const answer = await api.post(`/api/incidents/${id}/ack`);
    entry(id).incident = { ...entry(id).incident, state: answer.state };
    entry(id).ackedHere = true;
    render();
  }

  async function loadSnapshot(id) {
    const item = entry(id);
    item.snapshot = null;
    try {
      item.snapshot = URL.createObjectURL(await api.blob(`/api/incidents/${id}/snapshot`));
    } catch (error) {
      if (error.status !== 404) status(statusLine, error.message, "error");
    }
    if (selected === id) renderDetail();
  }

  async function loadDeliveries(id) {
    const item = entry(id);
    item.deliveries = (await api.get(`/api/incidents/${id}/deliveries`)).rows;
    item.escalated = item.deliveries.some((r) => r.escalated_at && !r.acknowledged_at);
  }

  function renderDetail() {
    const panel = $("incident-detail");
    const item = selected != null ? entry(selected) : null;
    if (!item) { panel.replaceChildren(h("p", { class: "muted" }, t("incidents.select"))); return; }
    const i = item.incident;
    if (item.snapshot === undefined) loadSnapshot(i.id);
    const actions = [];
    if (isCommune) {
      actions.push(h("button", { type: "button", class: "primary", dataset: { action: "ack" }, disabled: item.ackedHere,
        onclick: () => guarded(statusLine, () => acknowledge(i.id)) }, item.ackedHere ? t("incidents.acked") : t("incidents.ack")));
    }
    if (isChair || isCommune) {
      for (const state of nextStates(i.state)) {
        actions.push(h("button", { type: "button", dataset: { action: "state", state },
          onclick: () => guarded(statusLine, () => changeState(i.id, state)) }, t("incidents.toState", { state: t(`state.${state}`) })));
      }
    }
    keepFocus(panel, () => fill(panel,
      h("h3", { class: severityClass(i.severity) }, `#${i.id} ${i.type} · ${t(`severity.${i.severity}`)}`),
      h("p", { class: "inc-body" }, i.text),
      h("dl", {},
        h("dt", {}, t("incidents.time")), h("dd", {}, `${i.time} (${formatTime(i.received_at)})`),
        h("dt", {}, t("incidents.location")), h("dd", {},
          `${i.location.lat.toFixed(5)}, ${i.location.lon.toFixed(5)}${i.road ? ` · ${i.road}` : ""}${i.km != null ? ` km ${i.km}` : ""}`),
        h("dt", {}, t("incidents.source")), h("dd", {}, i.sender ? `${i.source} · ${i.sender}` : i.source),
        h("dt", {}, t("meeting.state")), h("dd", { class: "state-label" }, t(`state.${i.state}`))),
      item.escalated ? h("p", { class: "badge danger" }, t("incidents.escalated")) : null,
      h("div", { class: "actions" }, actions),
      i.camera_stream ? (item.live ??= liveView({ api, stream: i.camera_stream })) : null,
      h("figure", { class: "snapshot" },
        item.snapshot ? h("img", { src: item.snapshot, alt: `${t("incidents.snapshot")} #${i.id}` })
          : h("p", { class: "muted" }, item.snapshot === null ? t("incidents.noSnapshot") : "…"),
        h("figcaption", {}, t("incidents.snapshot"))),
      isCommand ? (item.deliveries ? deliveryTable(item.deliveries, { caption: t("incidents.recipients"), communeName, withEscalation: true }) : h("p", { class: "muted" }, "…"))
        : h("p", { class: "muted" }, t("incidents.noDeliveries"))));
  }

  function render() {
    renderList();
    renderDetail();
  }

  async function select(id) {
    if (selected !== id && selected != null && entry(selected)?.live) stopCamera(entry(selected).live);
    selected = id;
    render();
    if (isCommand) {
      await guarded(statusLine, () => loadDeliveries(id));
      if (selected === id) render();
    }
  }

  // ------------------------------------------------------------------ live

  function onMessage(message) {
    switch (message.type) {
      case "incident": {
        const fresh = upsert(message.incident);
        render();
        if (fresh && loaded) {
          const i = message.incident;
          announce(t("incidents.new", { type: i.type, text: i.text }));
          onNew();
        }
        break;
      }
      case "incident_state": {
        const item = entry(message.id);
        if (item) { item.incident = { ...item.incident, state: message.to }; render(); }
        break;
      }
      case "escalation": {
        const item = entry(message.incident_id);
        if (!item) break;
        item.escalated = true;
        const row = item.deliveries?.find((r) => r.recipient === message.recipient);
        if (row) row.escalated_at = message.escalated_at;
        render();
        announce(`${t("incidents.escalated")}: #${message.incident_id} · ${communeName(message.recipient)}`);
        break;
      }
      case "receipt": {
        if (message.kind === "incident" && applyReceipt(entry(message.id)?.deliveries, message)) render();
        break;
      }
    }
  }

  async function load() {
    for (const incident of await api.all("/api/incidents", "incidents")) upsert(incident);
    loaded = true;
    render();
    if (!isCommand) return;
    // The list does not say which incidents were escalated: read the newest open ones' tables.
    const open = [...items.values()].filter((x) => x.incident.state !== "resolved")
      .sort((a, b) => b.incident.id - a.incident.id).slice(0, DELIVERY_SCAN);
    const queue = [...open];
    await Promise.all([0, 1, 2, 3].map(async () => {
      while (queue.length) await loadDeliveries(queue.shift().incident.id).catch(() => {});
    }));
    render();
  }

  render();
  guarded(statusLine, load);
  return { onMessage };
}
