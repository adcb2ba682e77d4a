// What the console shows for a camera of the directory: its entry and, when the relay pulls it
// (`stream`, "/whep/camera/<id>", docs/cameras.md), its live view over WHEP (whip-client.js
// `watch`). The map's camera icons call openCamera(id), which plays the camera in the map's
// detail pane; the incident view puts liveView(…) of the reporting camera in its panel. Only one
// camera plays at a time: starting one ends the other's WHEP session (DELETE on its Location).

import { t } from "./i18n.js";
import { h, fill, status } from "./dom.js";
import { watch } from "../whip-client.js";

/** How often a playing camera asks the directory for its state (online, offline and why). */
const STATE_POLL_MS = 3000;

const cameras = new Map(); // id → GET /api/cameras entry: {id, name, location, road, km, stream, state, state_reason}
let pane = null;
let hubApi = null;
let current = null; // the camera playing now: {slot, stop()}

/** Tells the module the directory's cameras (GET /api/cameras), where the map shows one, and the hub client. */
export function setCameraDirectory(list, detailPane, api) {
  cameras.clear();
  updateCameras(list);
  pane = detailPane;
  hubApi = api;
}

/** Takes fresh directory entries (the map's poll of GET /api/cameras): states, streams. */
export function updateCameras(list) {
  for (const camera of list) cameras.set(camera.id, camera);
  for (const el of pane?.querySelectorAll(".camera-state[data-camera-id]") ?? []) {
    const camera = cameras.get(el.dataset.cameraId);
    if (camera) el.textContent = stateText(camera);
  }
}

/** A camera's state: "online", "offline", "connecting", or "none" when the relay does not pull it. */
export function cameraState(camera) {
  return camera?.stream ? (camera.state ?? "connecting") : "none";
}

function stateText(camera) {
  const state = cameraState(camera);
  const words = t(`camera.state.${state}`);
  return state === "offline" && camera.state_reason ? `${words} (${camera.state_reason})` : words;
}

/** The accessible name of a camera's map icon: its name and state. */
export function cameraLabel(camera) {
  return t("camera.label", { name: camera.name, state: stateText(camera) });
}

/** Shows camera `id` in the map's pane: its directory entry and state, and its live view when it has one. */
export function openCamera(id) {
  if (!pane) return;
  const camera = cameras.get(id);
  pane.dataset.showing = `camera:${id}`;
  if (!camera) { stopCamera(pane); fill(pane, h("p", { role: "status" }, t("camera.unknown", { id }))); return; }
  fill(pane,
    h("h3", {}, t("camera.heading", { name: camera.name })),
    h("dl", {},
      h("dt", {}, t("camera.id")), h("dd", {}, camera.id),
      h("dt", {}, t("camera.road")), h("dd", {}, camera.road ?? t("dash")),
      h("dt", {}, t("camera.km")), h("dd", {}, camera.km != null ? String(camera.km) : t("dash")),
      h("dt", {}, t("camera.location")), h("dd", {}, `${camera.location.lat.toFixed(5)}, ${camera.location.lon.toFixed(5)}`),
      h("dt", {}, t("camera.stateLabel")), h("dd", { class: "camera-state", dataset: { cameraId: camera.id } }, stateText(camera))),
    camera.stream ? liveView({ api: hubApi, id, stream: camera.stream, autoplay: true })
      : h("p", { class: "muted" }, t("camera.noStream")));
  if (!camera.stream) stopCamera(pane);
}

/**
 * A live-view slot for the camera of WHEP path `stream` (its id: the path's last segment unless
 * given): a *Watch live* button, or the player once pressed (autoplay: at once). The slot goes
 * back to the button when the camera is closed or another one starts.
 */
export function liveView({ api, stream, id = decodeURIComponent(stream.split("/").pop()), autoplay = false }) {
  const slot = h("div", { class: "camera-live", dataset: { cameraId: id } });
  const idle = () => fill(slot, h("button", { type: "button", class: "primary", dataset: { action: "camera-watch", subject: id },
    onclick: start }, t("camera.watch")));
  function start() {
    const hadFocus = slot.contains(document.activeElement);
    stopCamera();
    const view = player({ api, id, stream, close: () => stopCamera(slot) });
    const playing = { slot, stop: () => {
      const hadFocus = slot.contains(document.activeElement);
      idle();
      if (hadFocus) slot.querySelector("button")?.focus();
      return view.stop();
    } };
    current = playing;
    fill(slot, view.element);
    if (hadFocus) slot.querySelector("button")?.focus();
  }
  if (autoplay) start(); else idle();
  return slot;
}

/**
 * Ends the playing camera's WHEP session. With `within`, only when it plays inside that element
 * (or in an element no longer on the page, which nobody can see).
 */
export function stopCamera(within = null) {
  const playing = current;
  if (!playing || (within && !within.contains(playing.slot) && playing.slot.isConnected)) return Promise.resolve();
  current = null;
  return playing.stop();
}

/** The player of one camera: a muted video, a status line and a close button; stop() ends the session. */
function player({ api, id, stream, close }) {
  const video = h("video", { autoplay: true, muted: true, playsinline: true, class: "camera-video",
    "aria-label": t("camera.video", { id }), dataset: { cameraId: id } });
  video.muted = true; // the attribute only sets defaultMuted; autoplay needs the property
  const line = h("p", { class: "camera-status", role: "status", dataset: { cameraId: id } });
  const closeButton = h("button", { type: "button", dataset: { action: "camera-close", subject: id }, onclick: close }, t("camera.close"));
  let phase = "connecting"; // connecting | playing | lost | error
  let reason = "";
  let session = null;
  let ended = false;

  function show() {
    const camera = cameras.get(id);
    const offline = camera?.state === "offline" && phase !== "error";
    line.dataset.state = offline ? "offline" : phase;
    if (offline) status(line, t("camera.offline", { reason: camera.state_reason || t("camera.noReason") }), "warn");
    else if (phase === "error") status(line, t("camera.error", { reason }), "error");
    else status(line, t(`camera.${phase}`), phase === "lost" ? "warn" : "info");
  }

  video.addEventListener("playing", () => { if (phase !== "error") { phase = "playing"; show(); } });
  const poll = setInterval(async () => {
    try {
      cameras.set(id, await api.get(`/api/cameras/${encodeURIComponent(id)}`));
      show();
    } catch { /* the next poll asks again */ }
  }, STATE_POLL_MS);
  watch({
    endpoint: stream,
    token: () => api.token,
    onStream: (media) => { if (video.srcObject !== media) video.srcObject = media; },
    onState: (state) => {
      if (state === "failed" || state === "disconnected") phase = "lost";
      else if (state === "connected" && phase === "lost") phase = video.readyState >= 2 ? "playing" : "connecting";
      show();
    },
  }).then((answer) => {
    if (ended) answer.stop().catch(() => {});
    else session = answer;
  }, (error) => {
    phase = "error";
    reason = error.message;
    show();
  });
  show();

  return {
    element: [video, h("div", { class: "camera-bar" }, line, closeButton)],
    /** Ends the WHEP session (DELETE on its Location) and releases the video. */
    async stop() {
      if (ended) return;
      ended = true;
      clearInterval(poll);
      video.srcObject = null;
      await session?.stop().catch(() => {});
    },
  };
}
