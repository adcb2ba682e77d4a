// The meeting's recording in the meeting view: the indicator every participant sees while the
// roster says `"recording": true`, the chair's start/stop button (`record` on the room socket)
// and the chair's warning when a file's recording stopped (`recording`, docs/protocol.md).

import { t } from "./i18n.js";
import { h, status } from "./dom.js";

/**
 * send(message): sends on the room socket joined; statusLine: the meeting's status line,
 * where the server's refusals (through the room's onError) and the failures are shown.
 * Returns { roster(message), message(message), reset() } for the meeting view to call.
 */
export function setupRecording({ send, statusLine }) {
  const indicator = document.getElementById("recording-indicator");
  const button = document.getElementById("room-record");
  let recording = false;

  /** Shows the state in the indicator and on the chair's button. */
  function show(on, quiet = false) {
    const changed = on !== recording;
    recording = on;
    indicator.dataset.recording = String(on);
    indicator.title = on ? t("recording.started") : "";
    // The indicator is a live region: a screen reader hears the start (its text) and the stop
    // (a sentence hidden from sight); leaving the room says nothing.
    if (on) indicator.textContent = t("recording.on");
    else indicator.replaceChildren(...(changed && !quiet ? [h("span", { class: "visually-hidden" }, t("recording.stopped"))] : []));
    button.textContent = on ? t("recording.stop") : t("recording.start");
    button.setAttribute("aria-pressed", String(on));
  }

  button.addEventListener("click", () => send({ type: "record", on: !recording }));
  show(false, true);

  return {
    /** A `roster` message: its `recording` flag. */
    roster(message) {
      show(message.recording === true);
    },
    /** A `recording` message (to the chair): a file whose recording stopped, with the reason. */
    message(message) {
      status(statusLine, t("recording.failed", { file: message.file ?? t("dash"), error: message.error ?? t("dash") }), "warn");
    },
    /** Left the room: no indicator, without announcing a stop nobody asked for. */
    reset() {
      show(false, true);
    },
  };
}
