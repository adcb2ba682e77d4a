// What the console shows for a camera of the directory. The map's camera icons call
// openCamera(id); today it shows the camera's directory entry in the map's detail pane. The
// camera's live view (WHEP stream `camera/<id>`, docs/whip-whep.md) belongs here: replace the
// body of openCamera, keep its signature.

import { t } from "./i18n.js";
import { h, fill } from "./dom.js";

const cameras = new Map(); // id → {id, name, location: {lat, lon}, road, km}
let pane = null;

/** Tells the module the directory's cameras (GET /api/cameras) and where to show a camera. */
export function setCameraDirectory(list, detailPane) {
  cameras.clear();
  for (const camera of list) cameras.set(camera.id, camera);
  pane = detailPane;
}

/** Shows camera `id`: its directory entry (name, road, km, position); later its live view. */
export function openCamera(id) {
  if (!pane) return;
  const camera = cameras.get(id);
  pane.dataset.showing = `camera:${id}`;
  if (!camera) { fill(pane, h("p", { role: "status" }, t("camera.unknown", { id }))); return; }
  fill(pane,
    h("h3", {}, t("camera.heading", { name: camera.name })),
    h("dl", {},
      h("dt", {}, t("camera.id")), h("dd", {}, camera.id),
      h("dt", {}, t("camera.road")), h("dd", {}, camera.road ?? t("dash")),
      h("dt", {}, t("camera.km")), h("dd", {}, camera.km != null ? String(camera.km) : t("dash")),
      h("dt", {}, t("camera.location")), h("dd", {}, `${camera.location.lat.toFixed(5)}, ${camera.location.lon.toFixed(5)}`)),
    h("p", { class: "muted" }, t("camera.liveLater")));
}
