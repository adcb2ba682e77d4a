// Joins a Giaoban meeting room (docs/protocol.md) over its WebSocket, watches every
// participant who publishes and, if asked, publishes this page's camera and microphone on the
// participant's own stream.
//
// Watching takes one of two shapes:
// - by default, one receive-only peer connection per participant, offered by this page and
//   answered by the relay on the room socket (`subscribe`);
// - with `downlink: true`, one peer connection for everything watched, offered by the relay
//   and renegotiated as publishers come and go ("One connection down" in docs/protocol.md).
//
//   import { joinRoom } from "./js/room-client.js";
//   const room = joinRoom({ meeting: 7, token, onVideo: (subject, stream) => …, onRoster: (roster) => … });
//   room.publish(await navigator.mediaDevices.getUserMedia({ audio: true, video: true }));
//   await room.restartIce(); // after a network change: new ICE credentials, same DTLS session

import { iceServerSource, waitForIceGathering } from "./whip-client.js";

/** How long a request waits for the relay's reply (docs/protocol.md, "Matching replies"). */
const REPLY_TIMEOUT_MS = 10000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits for ICE gathering after a description with new ICE credentials. Right after an ICE
 * restart the gathering state may still read "complete" from the old credentials, so this
 * also waits for a candidate of the new ones to appear in the local description.
 */
async function gatheredAfterRestart(pc, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  await waitForIceGathering(pc, timeoutMs);
  while (!/^a=candidate:/m.test(pc.localDescription?.sdp || "") && Date.now() < deadline) await sleep(50);
  await waitForIceGathering(pc, Math.max(0, deadline - Date.now()));
}

/** Resolves with a promise's value, or rejects with `what` after ms. */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(what)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function joinRoom({ meeting, token, onVideo, onRoster, onMessage, onError, onGone, onClose, thumbnails = false, downlink = false,
                          iceTransportPolicy = "all" }) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  // `token` may be a function returning a session's current token (renewed while in the room).
  const current = typeof token === "function" ? token() : token;
  const socket = new WebSocket(`${scheme}//${location.host}/api/meetings/${meeting}/room?access_token=${encodeURIComponent(current)}`);
  const watching = new Map(); // subject → RTCPeerConnection
  const pending = new Set(); // subjects whose receiving connection is being made
  const sessions = new Map(); // subject → receiving session id (from the answer)
  const layers = new Map(); // subject → simulcast layer asked for ("low" thumbnail, "high" main view)
  const outbox = [];
  const streams = new Map(); // a participant's stream (from the roster) → subject
  let publisher = null;
  let publishSession = null; // from the publish answer: an ICE restart names it
  let publishRestart = null; // { resolve, reject } while an ICE restart of the publish connection waits
  let you = null;
  const fail = (e) => onError && onError(e);
  // STUN/TURN servers of GET /api/ice-servers (TURN credentials for this token's subject);
  // `iceTransportPolicy: "relay"` connects only through them.
  const iceServers = iceServerSource(token);
  const peerConnection = async () => new RTCPeerConnection({ iceServers: await iceServers(), iceTransportPolicy });

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
    pending.add(subject);
    let pc;
    try { pc = await peerConnection(); } catch (err) { pending.delete(subject); throw err; }
    // No longer publishing by the time the STUN/TURN servers arrived: nothing to watch.
    if (!pending.delete(subject)) { pc.close(); return; }
    watching.set(subject, pc);
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addEventListener("track", (event) => onVideo && onVideo(subject, event.streams[0] || new MediaStream([event.track])));
    const layer = layers.get(subject) ?? (thumbnails ? "low" : "high");
    layers.set(subject, layer);
    await offer(pc, { type: "subscribe", participant: subject, layer });
  }

  /**
   * One connection down: the relay offers, this page answers. Offers are handled strictly one
   * after another, in the order they arrive, whether asked for (`downlink`, `restart`) or not
   * (a publisher came or went).
   */
  function openDownlink() {
    const down = {
      pc: null,
      session: null,
      latest: 0, // highest revision offered so far
      answered: [], // revisions answered, in order
      tracks: new Map(), // mid → { mid, participant, stream, kind } of the latest offer
    };
    const waiters = []; // { after, resolve } resolved once a revision > after is answered
    let chain = Promise.resolve();
    let offeredSession = null; // the session of the latest offer received

    const subjectsOf = (tracks) => new Set([...tracks.values()].map((t) => t.participant));

    async function connection() {
      const pc = await peerConnection();
      pc.addEventListener("track", (event) => {
        const stream = event.streams[0] || new MediaStream([event.track]);
        const mid = event.transceiver ? event.transceiver.mid : null;
        const subject = (mid != null && down.tracks.get(mid)?.participant) || streams.get(stream.id);
        if (subject && onVideo) onVideo(subject, stream);
      });
      return pc;
    }

    function close() {
      if (down.pc) down.pc.close();
      down.pc = null;
      const gone = subjectsOf(down.tracks);
      down.tracks = new Map();
      for (const subject of gone) onGone && onGone(subject);
    }

    async function answer(message) {
      if (down.pc && message.session !== down.session) close(); // a new session: a new connection
      if (!down.pc) down.pc = await connection();
      const pc = down.pc;
      down.session = message.session;
      const before = subjectsOf(down.tracks);
      // Set before the remote description: its track events read it.
      down.tracks = new Map((message.tracks || []).map((t) => [String(t.mid), t]));
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await gatheredAfterRestart(pc);
      send({ type: "answer", session: message.session, revision: message.revision, sdp: pc.localDescription.sdp });
      down.answered.push(message.revision);
      const now = subjectsOf(down.tracks);
      for (const subject of before) if (!now.has(subject)) onGone && onGone(subject);
      for (const subject of now) {
        const layer = layers.get(subject) ?? (thumbnails ? "low" : null);
        if (!before.has(subject) && layer) send({ type: "layer", participant: subject, layer });
      }
      for (const waiter of waiters.splice(0)) {
        if (message.revision > waiter.after) waiter.resolve(message.revision);
        else waiters.push(waiter);
      }
    }

    /** Resolves with the revision answered once an offer newer than `after` is answered. */
    function answeredAfter(after) {
      return within(new Promise((resolve) => waiters.push({ after, resolve })), REPLY_TIMEOUT_MS,
        "the relay sent no new offer for the downlink");
    }

    return Object.assign(down, {
      watch(participants) {
        const after = down.latest;
        send({ type: "downlink", participants });
        return answeredAfter(after);
      },
      onOffer(message) {
        // Revisions count within a session; a new session (after the old connection closed) starts over.
        if (message.session !== offeredSession) { offeredSession = message.session; down.latest = 0; }
        down.latest = Math.max(down.latest, message.revision || 0);
        chain = chain.then(() => answer(message)).catch(fail);
      },
      /** ICE restart: the relay replies with an offer carrying new ICE credentials. */
      restart() {
        if (!down.session) return Promise.reject(new Error("no downlink session to restart"));
        const after = down.latest;
        send({ type: "restart", session: down.session });
        return answeredAfter(after);
      },
      watches: (subject) => subjectsOf(down.tracks).has(subject),
      close,
    });
  }

  const down = downlink ? openDownlink() : null;

  /** Asks for a subject's thumbnail ("low") or main-view ("high") simulcast layer. */
  function setLayer(subject, layer) {
    if (layers.get(subject) === layer) return;
    layers.set(subject, layer);
    if (down) {
      // A subject not on the downlink yet gets its layer when an offer brings it.
      if (down.watches(subject)) send({ type: "layer", participant: subject, layer });
      return;
    }
    const session = sessions.get(subject);
    if (session) send({ type: "layer", session, layer });
  }

  function forget(subject) {
    watching.get(subject).close();
    watching.delete(subject);
    sessions.delete(subject);
    onGone && onGone(subject);
  }

  /** ICE restart of the publish connection: a new offer on the same publish session. */
  async function restartPublish() {
    if (!publisher || !publishSession) return;
    publisher.restartIce();
    await publisher.setLocalDescription(await publisher.createOffer());
    await gatheredAfterRestart(publisher);
    const answered = new Promise((resolve, reject) => { publishRestart = { resolve, reject }; });
    send({ type: "publish", session: publishSession, sdp: publisher.localDescription.sdp });
    try {
      await within(answered, REPLY_TIMEOUT_MS, "the relay did not answer the publish connection's ICE restart");
    } finally {
      publishRestart = null;
    }
  }

  socket.addEventListener("open", () => { for (const message of outbox.splice(0)) socket.send(JSON.stringify(message)); });
  socket.addEventListener("message", async (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    onMessage && onMessage(message);
    switch (message.type) {
      case "joined":
        you = message.you;
        if (down) down.watch("all").catch(fail);
        break;
      case "roster": {
        onRoster && onRoster(message);
        for (const p of message.participants) if (p.stream) streams.set(p.stream, p.subject);
        if (down) break; // the relay's offers say what the downlink carries
        const publishing = new Set(message.participants.filter((p) => p.publishing).map((p) => p.subject));
        for (const subject of [...watching.keys()]) if (!publishing.has(subject)) forget(subject);
        for (const subject of [...pending]) if (!publishing.has(subject)) pending.delete(subject);
        for (const subject of publishing) {
          if (subject !== you && !watching.has(subject) && !pending.has(subject)) subscribe(subject).catch(fail);
        }
        break;
      }
      case "offer":
        if (down) down.onOffer(message);
        break;
      case "answer": {
        if (message.request === "publish" && message.session) publishSession = message.session;
        const pc = message.request === "publish" ? publisher : watching.get(message.participant);
        if (message.request === "subscribe" && message.session) {
          sessions.set(message.participant, message.session);
          // The view may have changed while the answer was on its way.
          if (layers.get(message.participant) !== (thumbnails ? "low" : "high")) {
            send({ type: "layer", session: message.session, layer: layers.get(message.participant) });
          }
        }
        if (pc) await pc.setRemoteDescription({ type: "answer", sdp: message.sdp }).catch(fail);
        if (message.request === "publish" && publishRestart) publishRestart.resolve();
        break;
      }
      case "error":
        // Replies come in request order: an error while a publish restart waits is its refusal.
        if (publishRestart) publishRestart.reject(new Error(message.message));
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
    /** The one connection down (null unless `downlink`): pc, session, revisions answered, tracks by mid. */
    downlink: down,
    get publisher() { return publisher; },
    get publishSession() { return publishSession; },
    /** The peer connections not closed: publishing, the downlink, per-participant watching. */
    peerConnections() {
      const all = [publisher, down && down.pc, ...watching.values()];
      return all.filter((pc) => pc && pc.connectionState !== "closed" && pc.signalingState !== "closed");
    },
    send,
    /** Publishes the tracks of a MediaStream on this participant's stream. */
    async publish(stream) {
      publisher = await peerConnection();
      for (const track of stream.getTracks()) publisher.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      await offer(publisher, { type: "publish" });
      return publisher;
    },
    setLayer,
    /** Downlink only: watches "all" publishers or a list of subjects; resolves once the new offer is answered. */
    watch: (participants) => (down ? down.watch(participants) : Promise.reject(new Error("not in downlink mode"))),
    /**
     * ICE restart after a network change: new ICE credentials on the downlink (the relay
     * offers again) and on the publish connection (a new offer on its session); the DTLS
     * sessions, seat and streams stay. Resolves once both are renegotiated.
     */
    restartIce: () => Promise.all([down && down.session ? down.restart() : null, restartPublish()]),
    raiseHand: (raised) => send({ type: "hand", raised }),
    // "leave" gives the seat up at once; a socket that just drops keeps it for a reconnect.
    leave: () => {
      for (const pc of watching.values()) pc.close();
      if (publisher) publisher.close();
      if (down && down.pc) down.pc.close();
      send({ type: "leave" });
      socket.close(1000);
    },
  };
}
