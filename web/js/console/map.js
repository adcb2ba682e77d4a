// The province map (docs/console.md): the directory's communes drawn from their GeoJSON areas,
// shaded by state — connected to the hub (GET /api/communes/presence), seated in the meeting
// this console is in (the room's roster), with an unacknowledged incident (the delivery tables
// and the live `receipt` messages) — the cameras as icons (openCamera in camera.js), and every
// open incident as a pin coloured by severity inside a circle of the routing radius. Pan and
// zoom in map-view.js; every commune, camera and pin is focusable and opens its details. Camera
// icons show whether the relay receives the camera (GET /api/cameras, asked with the presence).

import { t, formatTime } from "./i18n.js";
import { h, fill, guarded, keepFocus } from "./dom.js";
import { svg, rings, fitProjection, areaPath, labelPoint, panZoom } from "./map-view.js";
import { setCameraDirectory, updateCameras, openCamera, stopCamera, cameraState, cameraLabel } from "./camera.js";

const SEVERITIES = ["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
/** How often the command center asks who is connected, and every map the cameras' states, while the map is shown. */
const PRESENCE_POLL_MS = 3000;
/** How many of the newest open incidents get their delivery table read at load. */
const DELIVERY_SCAN = 100;
/**
 * The routing radius drawn when the server does not say it: hub.routing_radius_m's default.
 * The command center reads the configured value from GET /api/communes/presence; a commune,
 * which may not read that route, draws this one.
 */
const DEFAULT_RADIUS_M = 1000;
/** The commune states, strongest first: the fill shows the first that holds. */
const STATES = ["unacked", "inMeeting", "connected"];

/** isCommand: the command center's map (presence, delivery tables); you: the signed-in subject. */
export function setupMap({ api, isCommand, you, communes }) {
  const $ = (id) => document.getElementById(id);
  const root = $("map-svg");
  const detail = $("map-detail");
  const statusLine = $("map-status");
  const communeIDs = new Set(communes.map((c) => c.id));
  const names = new Map(communes.map((c) => [c.id, c.name]));
  const incidents = new Map(); // id → {incident, unacked: Set | null (not read yet), ackedLive: Set}
  let connected = new Set();
  let seated = new Set();
  let radius = DEFAULT_RADIUS_M;
  let projection = null;
  let layers = null;
  let shown = null; // what the detail pane shows: {kind, id}
  let zoomLevel = 1;

  // ------------------------------------------------------------------ state

  function upsert(incident) {
    const known = incidents.get(incident.id);
    if (known) known.incident = incident;
    else incidents.set(incident.id, { incident, unacked: null, ackedLive: new Set() });
    return incidents.get(incident.id);
  }

  const isOpen = (item) => item.incident.state !== "resolved";

  /** The communes yet to acknowledge an incident (a commune's map knows only its own: state "new"). */
  function unackedOf(item) {
    if (!isCommand) return item.incident.state === "new" ? new Set([you]) : new Set();
    return item.unacked ?? new Set();
  }

  /** Open incidents commune `id` has not acknowledged. */
  function openFor(id) {
    return [...incidents.values()].filter((x) => isOpen(x) && unackedOf(x).has(id)).sort((a, b) => b.incident.id - a.incident.id);
  }

  function statesOf(id) {
    return { unacked: openFor(id).length > 0, inMeeting: seated.has(id), connected: connected.has(id) };
  }

  async function loadDeliveries(id) {
    const rows = (await api.get(`/api/incidents/${id}/deliveries`)).rows;
    const item = incidents.get(id);
    if (!item) return;
    // A receipt pushed while the table was on its way is not lost.
    item.unacked = new Set(rows.filter((r) => r.recipient !== "command" && r.acknowledged_at == null && !item.ackedLive.has(r.recipient))
      .map((r) => r.recipient));
  }

  async function refreshPresence() {
    if (!isCommand) return;
    const answer = await api.get("/api/communes/presence");
    connected = new Set(answer.connected);
    if (typeof answer.routing_radius_m === "number" && answer.routing_radius_m !== radius) {
      radius = answer.routing_radius_m;
      renderIncidents();
    }
    renderCommunes();
  }

  async function refreshCameras() {
    const cameras = (await api.get("/api/cameras")).cameras;
    updateCameras(cameras);
    renderCameras(cameras);
  }

  // ------------------------------------------------------------------ drawing

  function statesText(states) {
    const on = STATES.filter((s) => states[s]).map((s) => t(`map.state.${s}`));
    return on.length ? on.join(", ") : t("map.state.none");
  }

  /** A marker (camera, pin) drawn at (x, y) at the same size on screen at any zoom. */
  function place(el, [x, y]) {
    el.dataset.x = x;
    el.dataset.y = y;
    el.setAttribute("transform", `translate(${x} ${y}) scale(${1 / zoomLevel})`);
    return el;
  }

  function onZoom(level) {
    zoomLevel = level;
    if (!layers) return;
    for (const el of root.querySelectorAll("[data-x]")) el.setAttribute("transform", `translate(${el.dataset.x} ${el.dataset.y}) scale(${1 / level})`);
    layers.labels.setAttribute("font-size", (12 / level).toFixed(2));
  }

  function focusable(kind, id, label, attributes = {}) {
    return { tabindex: "0", role: "button", "aria-label": label, dataset: { kind, id: String(id) }, ...attributes };
  }

  function draw(cameras) {
    const points = [...communes.flatMap((c) => rings(c.area).flat()), ...cameras.map((c) => [c.location.lon, c.location.lat])];
    projection = fitProjection(points);
    const { project } = projection;
    layers = {
      communes: svg("g", { class: "map-communes" }),
      labels: svg("g", { class: "map-labels", "aria-hidden": "true" }),
      radii: svg("g", { class: "map-radii", "aria-hidden": "true" }),
      cameras: svg("g", { class: "map-cameras" }),
      pins: svg("g", { class: "map-pins" }),
    };
    for (const c of communes) {
      layers.communes.append(svg("path", focusable("commune", c.id, c.name, {
        class: "map-commune", d: areaPath(c.area, project), "fill-rule": "evenodd", dataset: { kind: "commune", id: c.id, communeId: c.id } })));
      const [x, y] = labelPoint(c.area, project);
      layers.labels.append(svg("text", { x, y, "text-anchor": "middle", "dominant-baseline": "middle" }, c.name));
    }
    for (const c of cameras) {
      layers.cameras.append(place(svg("g", focusable("camera", c.id, cameraLabel(c),
        { class: "map-camera", dataset: { kind: "camera", id: c.id, cameraId: c.id } }),
      svg("title", {}, c.name),
      svg("rect", { x: -8, y: -5, width: 11, height: 10, rx: 2 }),
      svg("path", { d: "M3 -2 L9 -6 L9 6 L3 2 Z" })), project([c.location.lon, c.location.lat])));
    }
    root.replaceChildren(layers.communes, layers.labels, layers.radii, layers.cameras, layers.pins);
    const zoom = panZoom(root, projection.width, projection.height, onZoom);
    $("map-zoom-in").addEventListener("click", () => zoom.zoom(1.5));
    $("map-zoom-out").addEventListener("click", () => zoom.zoom(1 / 1.5));
    $("map-reset").addEventListener("click", () => zoom.reset());
  }

  /** Each camera icon's state: classes online / offline / connecting, data-state and its aria-label. */
  function renderCameras(cameras) {
    if (!layers) return;
    const byId = new Map(cameras.map((c) => [c.id, c]));
    for (const el of layers.cameras.children) {
      const camera = byId.get(el.dataset.cameraId);
      if (!camera) continue;
      const state = cameraState(camera);
      for (const s of ["online", "offline", "connecting"]) el.classList.toggle(s, s === state);
      el.dataset.state = state;
      el.setAttribute("aria-label", cameraLabel(camera));
    }
  }

  function renderCommunes() {
    if (!layers) return;
    for (const el of layers.communes.children) {
      const id = el.dataset.communeId;
      const states = statesOf(id);
      el.classList.toggle("connected", states.connected);
      el.classList.toggle("in-meeting", states.inMeeting);
      el.classList.toggle("unacked", states.unacked);
      el.dataset.state = STATES.find((s) => states[s]) ?? "none";
      el.dataset.connected = String(states.connected);
      el.dataset.inMeeting = String(states.inMeeting);
      el.dataset.unacked = String(states.unacked);
      el.setAttribute("aria-label", t("map.communeLabel", { name: names.get(id), states: statesText(states) }));
    }
    if (shown && shown.kind !== "camera") renderDetail();
  }

  function renderIncidents() {
    if (!layers) return;
    const open = [...incidents.values()].filter(isOpen).sort((a, b) => a.incident.id - b.incident.id);
    const severity = (i) => (SEVERITIES.includes(i.severity) ? i.severity : "Unknown");
    layers.radii.replaceChildren(...open.map(({ incident: i }) => {
      const [cx, cy] = projection.project([i.location.lon, i.location.lat]);
      return svg("circle", { class: "map-radius", cx, cy, r: projection.metres(radius), dataset: { severity: severity(i), incidentId: i.id } });
    }));
    layers.pins.replaceChildren(...open.map(({ incident: i }) => place(svg("g", focusable("incident", i.id,
      t("map.incidentLabel", { id: i.id, type: i.type, severity: t(`severity.${severity(i)}`), state: t(`state.${i.state}`) }),
      { class: "map-pin", dataset: { kind: "incident", id: String(i.id), incidentId: String(i.id), severity: severity(i) } }),
    svg("path", { d: "M0 0 C-4 -6 -9 -10 -9 -16 A9 9 0 1 1 9 -16 C9 -10 4 -6 0 0 Z" }),
    svg("circle", { cx: 0, cy: -16, r: 3.5, class: "map-pin-dot" })), projection.project([i.location.lon, i.location.lat]))));
    const focused = document.activeElement?.dataset;
    if (focused?.kind === "incident") root.querySelector(`[data-kind="incident"][data-id="${focused.id}"]`)?.focus();
  }

  function render() {
    renderIncidents();
    renderCommunes();
  }

  // ------------------------------------------------------------------ details

  function open(kind, id) {
    shown = { kind, id };
    if (kind === "camera") { openCamera(id); return; }
    stopCamera(detail);
    renderDetail();
  }

  function incidentButton(item) {
    const i = item.incident;
    return h("li", {}, h("button", { type: "button", class: "linkish", dataset: { action: "open-incident", subject: String(i.id) },
      onclick: () => open("incident", i.id) }, `#${i.id} ${i.type} · ${t(`severity.${i.severity}`)}`));
  }

  function renderDetail() {
    if (!shown) { fill(detail, h("p", { class: "muted" }, t("map.select"))); delete detail.dataset.showing; return; }
    detail.dataset.showing = `${shown.kind}:${shown.id}`;
    keepFocus(detail, () => {
      if (shown.kind === "commune") {
        const states = statesOf(shown.id);
        const list = openFor(shown.id);
        fill(detail,
          h("h3", {}, `${names.get(shown.id) ?? shown.id}`),
          h("dl", {},
            h("dt", {}, t("map.commune")), h("dd", {}, shown.id),
            h("dt", {}, t("map.states")), h("dd", { class: "map-states" }, statesText(states))),
          isCommand ? null : h("p", { class: "muted" }, t("map.commandOnly")),
          h("h4", {}, t("map.openIncidents")),
          list.length ? h("ul", { class: "map-list" }, list.map(incidentButton)) : h("p", { class: "muted" }, t("map.noOpen")));
        return;
      }
      const item = incidents.get(Number(shown.id));
      if (!item) { fill(detail, h("p", { class: "muted" }, t("map.select"))); return; }
      const i = item.incident;
      const waiting = [...unackedOf(item)].sort();
      fill(detail,
        h("h3", { class: `sev-${i.severity}` }, `#${i.id} ${i.type} · ${t(`severity.${i.severity}`)}`),
        h("p", { class: "inc-body" }, i.text),
        h("dl", {},
          h("dt", {}, t("incidents.time")), h("dd", {}, `${i.time} (${formatTime(i.received_at)})`),
          h("dt", {}, t("incidents.location")), h("dd", {}, `${i.location.lat.toFixed(5)}, ${i.location.lon.toFixed(5)}${i.road ? ` · ${i.road}` : ""}`),
          h("dt", {}, t("meeting.state")), h("dd", {}, t(`state.${i.state}`))),
        h("p", { class: "muted" }, t("map.radius", { metres: radius })),
        isCommand ? h("h4", {}, t("map.unackedBy")) : null,
        isCommand ? (waiting.length ? h("ul", { class: "map-list" }, waiting.map((c) => h("li", { dataset: { recipient: c } },
          h("button", { type: "button", class: "linkish", dataset: { action: "open-commune", subject: c }, onclick: () => open("commune", c) },
            `${names.get(c) ?? c} (${c})`)))) : h("p", { class: "muted" }, item.unacked ? t("map.allAcked") : "…")) : null);
    });
  }

  function legend() {
    const swatch = (cls) => svg("svg", { width: 18, height: 14, "aria-hidden": "true" }, svg("rect", { x: 1, y: 1, width: 16, height: 12, class: cls }));
    const entries = [["map-commune unacked", "map.state.unacked"], ["map-commune in-meeting", "map.state.inMeeting"],
      ["map-commune connected", "map.state.connected"], ["map-commune", "map.state.none"]];
    fill($("map-legend"), h("h3", {}, t("map.legend")), h("ul", {},
      entries.map(([cls, key]) => h("li", {}, swatch(cls), " ", t(key))),
      ["online", "offline", "none"].map((state) => h("li", {}, svg("svg", { width: 18, height: 14, "aria-hidden": "true", class: `map-camera ${state}` },
        svg("rect", { x: 1, y: 2, width: 10, height: 10, rx: 2 }), svg("path", { d: "M11 5 L17 1 L17 13 L11 9 Z" })),
      " ", `${t("map.camera")}: ${t(`camera.state.${state}`)}`)),
      h("li", {}, svg("svg", { width: 18, height: 14, "aria-hidden": "true" },
        svg("circle", { cx: 9, cy: 7, r: 6, class: "map-radius", dataset: { severity: "Severe" } }),
        svg("circle", { cx: 9, cy: 7, r: 3, class: "map-pin-dot", dataset: { severity: "Severe" } })), " ", t("map.incident"))));
  }

  // ------------------------------------------------------------------ wiring

  function activate(event) {
    const el = event.target.closest?.("[data-kind]");
    if (!el || !root.contains(el)) return;
    open(el.dataset.kind, el.dataset.kind === "incident" ? Number(el.dataset.id) : el.dataset.id);
  }
  root.addEventListener("click", activate);
  root.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    if (!event.target.dataset?.kind) return;
    event.preventDefault();
    activate(event);
  });

  /** A message of the event socket (docs/hub.md). */
  function onMessage(message) {
    switch (message.type) {
      case "incident": {
        const item = upsert(message.incident);
        render();
        if (isCommand && item.unacked == null) guarded(statusLine, () => loadDeliveries(message.incident.id)).then(render);
        break;
      }
      case "incident_state": {
        const item = incidents.get(message.id);
        if (item) { item.incident = { ...item.incident, state: message.to }; render(); }
        break;
      }
      case "receipt": {
        if (message.kind !== "incident" || message.step !== "acknowledged") break;
        const item = incidents.get(message.id);
        if (!item) break;
        item.ackedLive.add(message.recipient);
        item.unacked?.delete(message.recipient);
        render();
        break;
      }
    }
  }

  /** The communes seated in the room this console is in (the roster's subjects; [] after leaving). */
  function setRoster(subjects) {
    seated = new Set(subjects.filter((s) => communeIDs.has(s)));
    renderCommunes();
  }

  async function load() {
    const cameras = (await api.get("/api/cameras")).cameras;
    setCameraDirectory(cameras, detail, api);
    draw(cameras);
    renderCameras(cameras);
    legend();
    for (const incident of await api.all("/api/incidents", "incidents")) upsert(incident);
    render();
    if (!isCommand) return;
    await refreshPresence();
    const queue = [...incidents.values()].filter(isOpen).sort((a, b) => b.incident.id - a.incident.id).slice(0, DELIVERY_SCAN);
    await Promise.all([0, 1, 2, 3].map(async () => {
      while (queue.length) await loadDeliveries(queue.shift().incident.id).catch(() => {});
    }));
    render();
    root.dataset.loaded = "true";
  }

  const mapShown = () => !$("panel-map").hidden;
  setInterval(() => {
    if (!mapShown()) return;
    refreshPresence().catch(() => {});
    refreshCameras().catch(() => {});
  }, PRESENCE_POLL_MS);
  renderDetail();
  const loaded = guarded(statusLine, load).then(() => { if (!isCommand) root.dataset.loaded = "true"; });
  return {
    onMessage,
    setRoster,
    /** The map tab was opened: who is connected now. */
    show() { loaded.then(() => guarded(statusLine, () => Promise.all([refreshPresence(), refreshCameras()]))); },
  };
}
