// The province map's drawing helpers: an equirectangular projection fitted to the directory's
// bounding box, SVG paths from GeoJSON areas (RFC 7946), and pan and zoom of an SVG by its
// viewBox (drag, wheel, keys, buttons). No tiles and nothing from the network: the directory
// is all the map knows.

const SVG = "http://www.w3.org/2000/svg";
/** Metres per degree of latitude (and of longitude at the equator), on a sphere of radius 6,371 km. */
export const METRES_PER_DEGREE = 111195;
/** The width of the map's own coordinate space; the height follows the province's shape. */
const WIDTH = 1000;
/** The margin around the province, as a share of its size. */
const MARGIN = 0.06;
/** Zoom limits, relative to the whole province. */
const MIN_ZOOM = 1, MAX_ZOOM = 40;

/** An SVG element: svg("circle", {cx: 1}, child…). */
export function svg(tag, attributes = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value == null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

/** The rings of a GeoJSON Polygon or MultiPolygon (outer rings and holes alike); [] otherwise. */
export function rings(area) {
  if (area?.type === "Polygon") return area.coordinates ?? [];
  if (area?.type === "MultiPolygon") return (area.coordinates ?? []).flat();
  return [];
}

/**
 * A projection fitted to every [lon, lat] of `points`: x grows east, y south, one unit the same
 * length both ways at the middle latitude (cos(latitude) correction). width × height is the
 * map's own space; metres(m) is a distance on the ground in those units.
 */
export function fitProjection(points) {
  let [west, south, east, north] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [lon, lat] of points) {
    west = Math.min(west, lon); east = Math.max(east, lon);
    south = Math.min(south, lat); north = Math.max(north, lat);
  }
  if (!Number.isFinite(west)) [west, south, east, north] = [106.8, 10.8, 106.9, 10.9];
  const cos = Math.cos(((south + north) / 2) * Math.PI / 180);
  const spanX = Math.max((east - west) * cos, 1e-4), spanY = Math.max(north - south, 1e-4);
  const padX = spanX * MARGIN, padY = spanY * MARGIN;
  const scale = WIDTH / (spanX + 2 * padX);
  const height = (spanY + 2 * padY) * scale;
  return {
    width: WIDTH,
    height,
    project: ([lon, lat]) => [((lon - west) * cos + padX) * scale, ((north - lat) + padY) * scale],
    metres: (m) => (m / METRES_PER_DEGREE) * scale,
  };
}

/** The SVG path data of a GeoJSON area (even–odd fill keeps holes empty). */
export function areaPath(area, project) {
  return rings(area).map((ring) => ring.map((p, i) => {
    const [x, y] = project(p);
    return `${i ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`;
  }).join("") + "Z").join("");
}

/** Where to put an area's label: the middle of its largest ring's bounding box. */
export function labelPoint(area, project) {
  let best = null, bestSize = -1;
  for (const ring of rings(area)) {
    const xy = ring.map(project);
    const xs = xy.map((p) => p[0]), ys = xy.map((p) => p[1]);
    const size = (Math.max(...xs) - Math.min(...xs)) * (Math.max(...ys) - Math.min(...ys));
    if (size > bestSize) { bestSize = size; best = [(Math.max(...xs) + Math.min(...xs)) / 2, (Math.max(...ys) + Math.min(...ys)) / 2]; }
  }
  return best ?? [0, 0];
}

/**
 * Pan and zoom of `root` (an <svg>) over a width × height space through its viewBox. Dragging
 * pans; the wheel zooms around the pointer; arrow keys pan, + and - zoom, 0 shows everything.
 * onChange(zoom) runs after every change (markers keep their size on screen with it).
 * A drag longer than a few pixels swallows the click that ends it.
 */
export function panZoom(root, width, height, onChange) {
  let view = { x: 0, y: 0, w: width, h: height };
  let drag = null;
  let dragged = false;

  function apply() {
    root.setAttribute("viewBox", `${view.x.toFixed(2)} ${view.y.toFixed(2)} ${view.w.toFixed(2)} ${view.h.toFixed(2)}`);
    root.dataset.zoom = (width / view.w).toFixed(2);
    onChange(width / view.w);
  }

  function clamp() {
    view.x = Math.min(Math.max(view.x, -view.w / 2), width - view.w / 2);
    view.y = Math.min(Math.max(view.y, -view.h / 2), height - view.h / 2);
  }

  /** Zooms by factor around (cx, cy) in map units (the middle of the view by default). */
  function zoom(factor, cx = view.x + view.w / 2, cy = view.y + view.h / 2) {
    const next = Math.min(Math.max((width / view.w) * factor, MIN_ZOOM), MAX_ZOOM);
    const w = width / next, h = height / next;
    view = { x: cx - ((cx - view.x) * w) / view.w, y: cy - ((cy - view.y) * h) / view.h, w, h };
    clamp();
    apply();
  }

  /** Pans by a share of the view (dx, dy in -1…1). */
  function pan(dx, dy) {
    view.x += dx * view.w;
    view.y += dy * view.h;
    clamp();
    apply();
  }

  function reset() { view = { x: 0, y: 0, w: width, h: height }; apply(); }

  /** A client point in map units. */
  function toMap(clientX, clientY) {
    const point = new DOMPoint(clientX, clientY).matrixTransform(root.getScreenCTM().inverse());
    return [point.x, point.y];
  }

  root.addEventListener("wheel", (event) => {
    event.preventDefault();
    zoom(event.deltaY < 0 ? 1.25 : 0.8, ...toMap(event.clientX, event.clientY));
  }, { passive: false });
  root.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    drag = { x: event.clientX, y: event.clientY, view: { ...view }, ctm: root.getScreenCTM() };
    dragged = false;
  });
  root.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (!dragged && Math.hypot(dx, dy) < 4) return;
    if (!dragged) root.setPointerCapture(event.pointerId);
    dragged = true;
    view.x = drag.view.x - dx / drag.ctm.a;
    view.y = drag.view.y - dy / drag.ctm.d;
    clamp();
    apply();
  });
  const end = () => { drag = null; };
  root.addEventListener("pointerup", end);
  root.addEventListener("pointercancel", end);
  // The click that ends a drag is not a click on what lies under the pointer.
  root.addEventListener("click", (event) => {
    if (dragged) { event.stopPropagation(); event.preventDefault(); dragged = false; }
  }, true);
  root.addEventListener("keydown", (event) => {
    const step = { ArrowLeft: [-0.15, 0], ArrowRight: [0.15, 0], ArrowUp: [0, -0.15], ArrowDown: [0, 0.15] }[event.key];
    if (step) pan(...step);
    else if (event.key === "+" || event.key === "=") zoom(1.25);
    else if (event.key === "-" || event.key === "_") zoom(0.8);
    else if (event.key === "0") reset();
    else return;
    event.preventDefault();
  });
  apply();
  return { zoom, pan, reset, get level() { return width / view.w; } };
}
