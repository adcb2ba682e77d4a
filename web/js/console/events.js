// The hub's event socket (GET /api/events, docs/hub.md): incidents, briefings, receipts,
// state changes and escalations, live. Reconnects with a growing pause; at every connect
// the server sends again whatever this channel has not confirmed, so listeners must keep
// items by id. Every pushed incident or briefing is confirmed as delivered. Each connect
// asks url() anew, so a reconnect carries the session's current (renewed) token.

/**
 * Opens the socket and keeps it open.
 * onRefused(reason) is called on a 1008 close (the token refused, the account disabled);
 * when it resolves to true the socket is opened again after the pause (a renewed token).
 * @param {{url: () => string, onMessage: (m: object) => void, onState: (s: "connecting"|"online"|"offline") => void,
 *          onRefused: (reason: string) => Promise<boolean>}} options
 */
export function connectEvents({ url, onMessage, onState, onRefused }) {
  let socket = null;
  let pause = 1000;
  let stopped = false;
  let timer = null;

  function open() {
    onState("connecting");
    socket = new WebSocket(url());
    socket.addEventListener("open", () => { pause = 1000; });
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === "hello") onState("online");
      if (message.type === "incident") confirm("incident", message.incident.id);
      if (message.type === "briefing") confirm("briefing", message.briefing.id);
      onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (stopped) return;
      // 1008: the token is refused (expired, wrong role, account disabled); retrying with the
      // same token would not help, a renewed one may.
      if (event.code === 1008) {
        Promise.resolve(onRefused(event.reason)).then((again) => {
          if (!again || stopped) return;
          timer = setTimeout(open, pause);
          pause = Math.min(pause * 2, 15000);
        });
        return;
      }
      onState("offline");
      timer = setTimeout(open, pause);
      pause = Math.min(pause * 2, 15000);
    });
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function confirm(kind, id) { send({ type: "delivered", kind, id }); }

  open();
  return {
    send,
    close() {
      stopped = true;
      clearTimeout(timer);
      if (socket) socket.close(1000);
    },
  };
}
