// Joins a Giaoban meeting room (docs/protocol.md) over its WebSocket, watches every
// participant who publishes — one receive-only peer connection per participant, offered by
// this page and answered by the relay on the room socket — and, if asked, publishes this
// page's camera and microphone on the participant's own stream.
//
//   import { joinRoom } from "./js/room-client.js";
//   const room = joinRoom({ meeting: 7, token, onVideo: (subject, stream) => …, onRoster: (roster) => … });
//   room.publish(await navigator.mediaDevices.getUserMedia({ audio: true, video: true }));

import { waitForIceGathering } from "./whip-client.js";

export function joinRoom({ meeting, token, onVideo, onRoster, onMessage, onError, onGone, onClose, thumbnails = false }) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/api/meetings/${meeting}/room?access_token=${encodeURIComponent(token)}`);
  const watching = new Map(); // subject → RTCPeerConnection
  const sessions = new Map(); // subject → receiving session id (from the answer)
  const layers = new Map(); // subject → simulcast layer asked for ("low" thumbnail, "high" main view)
  const outbox = [];
  let publisher = null;
  let you = null;
  const fail = (e) => onError && onError(e);

  function send(message) {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    else if (socket.readyState === WebSocket.CONNECTING) outbox.push(message);
  }

  async function offer(pc, message) {
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc);
    send({ ...message, sdp: pc.localDescription.sdp });
  }

  async function subscribe(subject) {
    const pc = new RTCPeerConnection();
    watching.set(subject, pc);
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addEventListener("track", (event) => onVideo && onVideo(subject, event.streams[0] || new MediaStream([event.track])));
    const layer = layers.get(subject) ?? (thumbnails ? "low" : "high");
    layers.set(subject, layer);
    await offer(pc, { type: "subscribe", participant: subject, layer });
  }

  /** Asks for a subject's thumbnail ("low") or main-view ("high") simulcast layer. */
  function setLayer(subject, layer) {
    if (layers.get(subject) === layer) return;
    layers.set(subject, layer);
    const session = sessions.get(subject);
    if (session) send({ type: "layer", session, layer });
  }

  function forget(subject) {
    watching.get(subject).close();
    watching.delete(subject);
    sessions.delete(subject);
    onGone && onGone(subject);
  }

  socket.addEventListener("open", () => { for (const message of outbox.splice(0)) socket.send(JSON.stringify(message)); });
  socket.addEventListener("message", async (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    onMessage && onMessage(message);
    switch (message.type) {
      case "joined":
        you = message.you;
        break;
      case "roster": {
        onRoster && onRoster(message);
        const publishing = new Set(message.participants.filter((p) => p.publishing).map((p) => p.subject));
        for (const subject of [...watching.keys()]) if (!publishing.has(subject)) forget(subject);
        for (const subject of publishing) {
          if (subject !== you && !watching.has(subject)) subscribe(subject).catch(fail);
        }
        break;
      }
      case "answer": {
        const pc = message.request === "publish" ? publisher : watching.get(message.participant);
        if (message.request === "subscribe" && message.session) {
          sessions.set(message.participant, message.session);
          // The view may have changed while the answer was on its way.
          if (layers.get(message.participant) !== (thumbnails ? "low" : "high")) {
            send({ type: "layer", session: message.session, layer: layers.get(message.participant) });
          }
        }
        if (pc) await pc.setRemoteDescription({ type: "answer", sdp: message.sdp }).catch(fail);
        break;
      }
      case "error":
        fail(new Error(message.message));
        break;
    }
  });
  socket.addEventListener("close", (event) => {
    if (event.code !== 1000) fail(new Error(`room closed (${event.code}): ${event.reason || "no reason"}`));
    onClose && onClose(event);
  });

  return {
    socket,
    watching,
    get publisher() { return publisher; },
    send,
    /** Publishes the tracks of a MediaStream on this participant's stream. */
    async publish(stream) {
      publisher = new RTCPeerConnection();
      for (const track of stream.getTracks()) publisher.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      await offer(publisher, { type: "publish" });
      return publisher;
    },
    setLayer,
    raiseHand: (raised) => send({ type: "hand", raised }),
    // "leave" gives the seat up at once; a socket that just drops keeps it for a reconnect.
    leave: () => {
      for (const pc of watching.values()) pc.close();
      if (publisher) publisher.close();
      send({ type: "leave" });
      socket.close(1000);
    },
  };
}
