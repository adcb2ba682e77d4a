// Small DOM helpers shared by the console's views.

/** An element: h("button", {class: "x", onclick: f}, "text", child…). */
export function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value == null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, value);
  }
  fill(el, ...children);
  return el;
}

/** Replaces an element's children, skipping null, undefined and false (conditional parts). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c != null && c !== false));
}

/**
 * Runs render(), which replaces container's children, and gives the keyboard focus back to
 * the equivalent button (same data-action, data-subject and data-state) if it had it.
 */
export function keepFocus(container, render) {
  const focused = container.contains(document.activeElement) ? document.activeElement.dataset : null;
  render();
  if (!focused?.action) return;
  const selector = ["action", "subject", "state"].filter((k) => focused[k] != null)
    .map((k) => `[data-${k}="${CSS.escape(focused[k])}"]`).join("");
  container.querySelector(`button${selector}`)?.focus();
}

/** Writes text to the page's live region, read out by screen readers. */
export function announce(text) {
  const region = document.getElementById("announcer");
  region.textContent = "";
  // A fresh text node after clearing makes screen readers read a repeated message again.
  requestAnimationFrame(() => { region.textContent = text; });
}

/** Shows a message in a status element; kind "error" styles it as an error. */
export function status(el, text, kind = "info") {
  el.textContent = text;
  el.dataset.kind = kind;
}

/** Runs an action, showing its error (if any) in a status element. */
export async function guarded(el, action) {
  try {
    return await action();
  } catch (error) {
    status(el, error.message, "error");
    return undefined;
  }
}

/** A table with a header row of `columns` and one row per entry of `rows` (arrays of cells). */
export function table(columns, rows, caption) {
  return h("table", {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))));
}
