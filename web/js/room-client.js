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
//
// Several nodes (docs/protocol.md, "Several nodes"): one node holds a meeting's room at a
// time. A node that does not hold it answers `moved` with the holder's base URL, and the
// socket is opened there. A socket lost without `leave` (and without `ended` or `replaced`)
// is opened again — on the node it was on, then on the other nodes of `joined.nodes` in
// turn, RECONNECT_PAUSE_MS apart, following `moved` — until a node seats this participant
// again or RECONNECT_DEADLINE_MS have passed. A `joined` naming another `node` than the one
// before means the media sessions died with the old node: the page publishes the same
// MediaStream again and watches again, on new peer connections. `onClose` is called only
// when the room is over for this page: left, ended, replaced, refused (1008), or given up.

import { iceServerSource, waitForIceGathering } from "./whip-client.js";

/** How long a request waits for the relay's reply (docs/protocol.md, "Matching replies"). */
const REPLY_TIMEOUT_MS = 10000;
/** How long a lost room socket is tried again, counted from the loss, before the room is given up. */
const RECONNECT_DEADLINE_MS = 30000;
/** The pause between two attempts to open a lost room socket again. */
const RECONNECT_PAUSE_MS = 300;
/** An attempt not seated after this long is abandoned for the next one. */
const CONNECT_TIMEOUT_MS = 5000;
/** `moved` answers followed in a row within one attempt; more count as a failed attempt. */
const MAX_MOVES = 3;
/** Requests bound to one node's media sessions: dropped when the room comes back on another node. */
const MEDIA_REQUESTS = new Set(["publish", "subscribe", "answer", "restart", "layer", "downlink"]);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A node's base URL without a trailing slash ("http://127.0.0.1:8080"). */
const baseOf = (url) => String(url).replace(/\/+$/, "");

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

/**
 * onReconnecting(event): the room socket was lost and is being opened again (event: the close);
 * onPublisher(pc): a publishing peer connection was made (at `publish`, and again when the room
 * came back on another node).
 */
export function joinRoom({ meeting, token, onVideo, onRoster, onMessage, onError, onGone, onClose, onReconnecting, onPublisher,
                          thumbnails = false, downlink = false, iceTransportPolicy = "all" }) {
  const origin = baseOf(location.origin);
  const watching = new Map(); // subject → RTCPeerConnection
  const pending = new Set(); // subjects whose receiving connection is being made
  const sessions = new Map(); // subject → receiving session id (from the answer)
  const layers = new Map(); // subject → simulcast layer asked for ("low" thumbnail, "high" main view)
  let outbox = []; // requests waiting for the socket to be seated
  const streams = new Map(); // a participant's stream (from the roster) → subject
  let publisher = null;
  let published = null; // the MediaStream given to publish(): published again on another node
  let publishSession = null; // from the publish answer: an ICE restart names it
  let publishRestart = null; // { resolve, reject } while an ICE restart of the publish connection waits
  let you = null;

  // The socket and the node holding the room.
  let socket = null; // the current socket (null between attempts)
  let seated = false; // `joined` received on the current socket
  let base = origin; // base URL of the node the current socket goes to
  let node = null; // the node holding the room, from the latest `joined`
  let nodes = []; // the cluster's live nodes, from the latest `joined`
  let joins = 0; // `joined` messages so far
  let generation = 0; // counts the media set-ups: one more each time the room came back on another node
  let over = false; // left, ended, replaced or refused: no reconnect
  let left = false; // leave() was called
  let closed = false; // onClose called
  let lostAt = null; // when the socket was lost (null while seated)
  let ring = []; // the nodes tried in turn after the loss
  let attempts = 0; // attempts since the loss
  let moves = 0; // `moved` followed within the current attempt
  let timer = null; // the next attempt, or the current attempt's timeout

  const fail = (e) => onError && onError(e);
  // STUN/TURN servers of GET /api/ice-servers (TURN credentials for this token's subject);
  // `iceTransportPolicy: "relay"` connects only through them.
  const iceServers = iceServerSource(token);
  const peerConnection = async () => new RTCPeerConnection({ iceServers: await iceServers(), iceTransportPolicy });
  // Errors of a media set-up that a newer one replaced (its connections were closed), or of a
  // request whose socket was lost, are expected: the set-up after the reconnect supersedes them.
  const failUnlessStale = (gen) => (e) => { if (gen === generation && !over && lostAt === null) fail(e); };

  function send(message) {
    if (over && message.type !== "leave") return;
    if (socket && seated && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    else if (!over) outbox.push(message);
  }

  /** Sends the offer of pc unless `current()` no longer holds once it is gathered. */
  async function offer(pc, message, current = () => true) {
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc);
    if (current()) send({ ...message, sdp: pc.localDescription.sdp });
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
    await offer(pc, { type: "subscribe", participant: subject, layer }, () => watching.get(subject) === pc);
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

    async function answer(message, gen) {
      if (gen !== generation) return; // an offer of the node the room left
      if (down.pc && message.session !== down.session) close(); // a new session: a new connection
      if (!down.pc) {
        const made = await connection();
        if (gen !== generation) { made.close(); return; }
        down.pc = made;
      }
      const pc = down.pc;
      down.session = message.session;
      const before = subjectsOf(down.tracks);
      // Set before the remote description: its track events read it.
      down.tracks = new Map((message.tracks || []).map((t) => [String(t.mid), t]));
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await gatheredAfterRestart(pc);
      if (gen !== generation || down.pc !== pc) return;
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
        const gen = generation;
        chain = chain.then(() => answer(message, gen)).catch(failUnlessStale(gen));
      },
      /** ICE restart: the relay replies with an offer carrying new ICE credentials. */
      restart() {
        if (!down.session) return Promise.reject(new Error("no downlink session to restart"));
        const after = down.latest;
        send({ type: "restart", session: down.session });
        return answeredAfter(after);
      },
      /** The session died with the node that held the room: the next `downlink` starts a new one. */
      reset() {
        close();
        down.session = null;
        down.latest = 0;
        down.answered = [];
        offeredSession = null;
        // Whoever waits for an offer gets the first one of the new session.
        for (const waiter of waiters) waiter.after = 0;
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

  /** Publishes `stream` on a new peer connection, replacing the previous one. */
  async function publishOn(stream) {
    const gen = generation;
    const pc = await peerConnection();
    if (gen !== generation || over) { pc.close(); return publisher; } // a newer set-up publishes
    if (publisher) publisher.close();
    publisher = pc;
    publishSession = null;
    for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    onPublisher && onPublisher(pc);
    try {
      await offer(pc, { type: "publish" }, () => publisher === pc && gen === generation);
    } catch (err) {
      if (publisher === pc && gen === generation) throw err;
    }
    return publisher;
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

  /**
   * The room came back on another node: every media session died with the old one. The old
   * peer connections are closed, what was published is published again, and watching starts
   * over (the downlink is asked for again at `joined`; per-participant watchers follow the
   * next roster).
   */
  function mediaMoved() {
    generation += 1;
    if (publishRestart) publishRestart.reject(new Error("the room moved to another node; publishing again"));
    if (publisher) publisher.close();
    publisher = null;
    publishSession = null;
    for (const subject of [...watching.keys()]) forget(subject);
    pending.clear();
    if (down) down.reset();
    if (published) publishOn(published).catch(failUnlessStale(generation));
  }

  // ------------------------------------------------------------------ the socket

  function socketURL(target) {
    // `token` may be a function returning a session's current token (renewed while in the room).
    const current = typeof token === "function" ? token() : token;
    return `${target.replace(/^http/, "ws")}/api/meetings/${meeting}/room?access_token=${encodeURIComponent(current)}`;
  }

  /** Opens the room socket on the node at `target` (a base URL: http://… or https://…). */
  function connect(target) {
    clearTimeout(timer);
    base = baseOf(target);
    seated = false;
    let ws;
    try {
      ws = new WebSocket(socketURL(base));
    } catch (err) {
      socket = null;
      lost({ code: 1006, reason: err.message });
      return;
    }
    socket = ws;
    ws.addEventListener("message", (event) => { if (ws === socket) receive(ws, event); });
    ws.addEventListener("close", (event) => { if (ws === socket) lost(event); });
    // An attempt that hangs (a node that neither answers nor refuses) gives way to the next.
    timer = setTimeout(() => { if (ws === socket && !seated) ws.close(); }, CONNECT_TIMEOUT_MS);
  }

  /** The socket closed: the room is over, or it is opened again (docs/protocol.md, "Several nodes"). */
  function lost(event) {
    socket = null;
    seated = false;
    clearTimeout(timer);
    if (over) { finish(event); return; }
    if (event.code === 1008) { over = true; finish(event); return; } // bad token, no such meeting, locked room
    if (lostAt === null) {
      lostAt = Date.now();
      attempts = 0;
      ring = [...new Set([base, ...nodes, origin])];
      onReconnecting && onReconnecting(event);
    }
    if (Date.now() - lostAt >= RECONNECT_DEADLINE_MS) {
      over = true;
      finish(event, `; no node seated this participant again within ${RECONNECT_DEADLINE_MS / 1000} s`);
      return;
    }
    const target = ring[attempts % ring.length];
    const pause = attempts === 0 ? 0 : RECONNECT_PAUSE_MS;
    attempts += 1;
    moves = 0;
    timer = setTimeout(() => connect(target), pause);
  }

  /** The room is over for this page: onClose, once. */
  function finish(event, detail = "") {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    if (left) { onClose && onClose({ code: 1000, reason: event.reason || "left" }); return; }
    if (event.code !== 1000) fail(new Error(`room closed (${event.code}): ${event.reason || "no reason"}${detail}`));
    onClose && onClose(event);
  }

  function joinedHere(message) {
    clearTimeout(timer);
    seated = true;
    joins += 1;
    lostAt = null;
    moves = 0;
    you = message.you;
    const before = node;
    node = message.node ?? null;
    if (Array.isArray(message.nodes) && message.nodes.length) nodes = message.nodes.map(baseOf);
    const moved = joins > 1 && node !== before;
    // Requests made while no socket was seated go now; those bound to the old node's media do not.
    const queued = outbox.filter((m) => !(moved && MEDIA_REQUESTS.has(m.type)));
    outbox = [];
    if (moved) mediaMoved();
    for (const m of queued) socket.send(JSON.stringify(m));
    if (down) down.watch("all").catch(failUnlessStale(generation));
  }

  async function receive(ws, event) {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    if (message.type === "moved") {
      // Another node holds the room: open it there (the server closes this socket).
      onMessage && onMessage(message);
      socket = null;
      ws.close(1000);
      moves += 1;
      if (moves > MAX_MOVES || !message.url) lost({ code: 1000, reason: "moved" });
      else connect(message.url);
      return;
    }
    if (message.type === "joined") joinedHere(message);
    onMessage && onMessage(message);
    switch (message.type) {
      case "roster": {
        onRoster && onRoster(message);
        for (const p of message.participants) if (p.stream) streams.set(p.stream, p.subject);
        if (down) break; // the relay's offers say what the downlink carries
        const publishing = new Set(message.participants.filter((p) => p.publishing).map((p) => p.subject));
        for (const subject of [...watching.keys()]) if (!publishing.has(subject)) forget(subject);
        for (const subject of [...pending]) if (!publishing.has(subject)) pending.delete(subject);
        for (const subject of publishing) {
          if (subject !== you && !watching.has(subject) && !pending.has(subject)) subscribe(subject).catch(failUnlessStale(generation));
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
        if (pc) await pc.setRemoteDescription({ type: "answer", sdp: message.sdp }).catch(failUnlessStale(generation));
        if (message.request === "publish" && publishRestart) publishRestart.resolve();
        break;
      }
      case "ended":
      case "replaced":
        over = true; // the close that follows ends the room for this page
        break;
      case "error":
        // Replies come in request order: an error while a publish restart waits is its refusal.
        if (publishRestart) publishRestart.reject(new Error(message.message));
        fail(new Error(message.message));
        break;
    }
  }

  connect(origin);

  return {
    /** The current room socket (null while opening it again). */
    get socket() { return socket; },
    /** The node holding the room (`joined.node`; null before the first `joined` or on a server without it). */
    get node() { return node; },
    /** The base URL of the node this page's socket goes to. */
    get base() { return base; },
    /** The cluster's live nodes (`joined.nodes`). */
    get nodes() { return [...nodes]; },
    /** `joined` messages so far: one more after every reconnect. */
    get joins() { return joins; },
    /** True while the socket is lost and being opened again. */
    get reconnecting() { return lostAt !== null && !over; },
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
    /** Publishes the tracks of a MediaStream on this participant's stream (again on whichever node takes the room over). */
    publish(stream) {
      published = stream;
      return publishOn(stream);
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
      const open = socket;
      for (const pc of watching.values()) pc.close();
      if (publisher) publisher.close();
      if (down && down.pc) down.pc.close();
      published = null;
      if (open && seated && open.readyState === WebSocket.OPEN) open.send(JSON.stringify({ type: "leave" }));
      over = true;
      left = true;
      outbox = [];
      clearTimeout(timer);
      if (open) open.close(1000);
      else finish({ code: 1000, reason: "left" }); // between two attempts: nothing to close
    },
  };
}
