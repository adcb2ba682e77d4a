// Joins a Giaoban meeting room (docs/protocol.md) over its WebSocket and watches every
// participant who publishes: one receive-only peer connection per participant, offered by
// this page and answered by the relay on the room socket.
//
//   import { joinRoom } from "./js/room-client.js";
//   const room = await joinRoom({ meeting: 7, token, onVideo: (subject, stream) => …, onRoster: (roster) => … });

import { waitForIceGathering } from "./whip-client.js";

export function joinRoom({ meeting, token, onVideo, onRoster, onMessage, onError }) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/api/meetings/${meeting}/room?access_token=${encodeURIComponent(token)}`);
  const watching = new Map(); // subject → RTCPeerConnection
  let you = null;

  function send(message) { socket.send(JSON.stringify(message)); }

  async function subscribe(subject) {
    const pc = new RTCPeerConnection();
    watching.set(subject, pc);
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addEventListener("track", (event) => onVideo && onVideo(subject, event.streams[0] || new MediaStream([event.track])));
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc);
    send({ type: "subscribe", participant: subject, sdp: pc.localDescription.sdp });
  }

  socket.addEventListener("message", async (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    onMessage && onMessage(message);
    switch (message.type) {
      case "joined":
        you = message.you;
        break;
      case "roster":
        onRoster && onRoster(message);
        for (const p of message.participants) {
          if (p.publishing && p.subject !== you && !watching.has(p.subject)) {
            subscribe(p.subject).catch((e) => onError && onError(e));
          }
        }
        break;
      case "answer": {
        const pc = watching.get(message.participant);
        if (message.request === "subscribe" && pc) {
          await pc.setRemoteDescription({ type: "answer", sdp: message.sdp }).catch((e) => onError && onError(e));
        }
        break;
      }
      case "error":
        onError && onError(new Error(message.message));
        break;
    }
  });
  socket.addEventListener("close", (event) => {
    if (event.code !== 1000) onError && onError(new Error(`room closed (${event.code}): ${event.reason || "no reason"}`));
  });

  return {
    socket,
    watching,
    raiseHand: (raised) => send({ type: "hand", raised }),
    // "leave" gives the seat up at once; a socket that just drops keeps it for a reconnect.
    leave: () => { for (const pc of watching.values()) pc.close(); send({ type: "leave" }); socket.close(1000); },
  };
}
