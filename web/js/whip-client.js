// WHIP (RFC 9725) publishing and WHEP watching against a Giaoban relay, with fetch and
// RTCPeerConnection only. The relay is ICE-lite and puts its candidates in the answer, so
// the client waits for its own ICE gathering to finish and sends one complete offer.
//
//   import { publish, watch, collectStats } from "./js/whip-client.js";
//   const session = await publish({ endpoint: "/whip/s1", token, stream });
//   await session.stop();
//
// STUN/TURN servers come from the relay (GET /api/ice-servers, TURN credentials minted for the
// token's subject); without them a page uses host candidates only.

/** A WHIP/WHEP request answered with an error status; message is "<status>: <reason>". */
export class HttpError extends Error {
  constructor(status, reason) {
    super(`${status}: ${reason || "(no reason given)"}`);
    this.name = "HttpError";
    this.status = status;
    this.reason = reason;
  }
}

/** Resolves when ICE gathering is complete, or after timeoutMs with what was gathered. */
export function waitForIceGathering(pc, timeoutMs = 5000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", onChange);
      resolve();
    };
    const onChange = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", onChange);
  });
}

/** The Authorization header of `token`: a string, or a function returning the current token (read at each request). */
function authHeaders(token) {
  const value = typeof token === "function" ? token() : token;
  return value ? { Authorization: `Bearer ${value}` } : {};
}

/**
 * The relay's STUN/TURN servers for `token`: `{ iceServers, ttl }` from GET /api/ice-servers
 * on the server of `endpoint` (TURN entries carry a credential valid `ttl` seconds). On any
 * error none, with a console warning: host candidates only, enough on the relay's network.
 */
export async function fetchIceServers(token, endpoint = "/") {
  try {
    const url = new URL("/api/ice-servers", new URL(endpoint, document.baseURI));
    const response = await fetch(url, { headers: authHeaders(token), cache: "no-store" });
    if (!response.ok) throw await errorFrom(response);
    const body = await response.json();
    if (!Array.isArray(body.iceServers)) throw new Error("the answer has no iceServers list");
    return { iceServers: body.iceServers, ttl: Number(body.ttl) || 0 };
  } catch (err) {
    console.warn(`giaoban: GET /api/ice-servers failed (${err && err.message ? err.message : err}); no STUN/TURN servers, host candidates only`);
    return { iceServers: [], ttl: 0 };
  }
}

/**
 * A function resolving to the current `iceServers` for `token`, fetched again once half the
 * credentials' lifetime has passed (or at the next call after an error). `token` may be a
 * function returning the current token (a session that renews it).
 */
export function iceServerSource(token, endpoint = "/") {
  let servers = null;
  let until = 0;
  return () => {
    if (!servers || Date.now() >= until) {
      until = Infinity; // one request at a time
      servers = fetchIceServers(typeof token === "function" ? token() : token, endpoint).then(({ iceServers, ttl }) => {
        until = Date.now() + ttl * 500;
        return iceServers;
      });
    }
    return servers;
  };
}

async function errorFrom(response) {
  let reason = "";
  const type = response.headers.get("Content-Type") || "";
  if (type.startsWith("text/plain")) {
    try { reason = (await response.text()).trim().split("\n")[0]; } catch (_) { /* body unreadable */ }
  }
  return new HttpError(response.status, reason || response.statusText);
}

/** Creates the offer, POSTs it to endpoint and applies the answer. Returns the session. */
async function negotiate(pc, endpoint, token) {
  await pc.setLocalDescription(await pc.createOffer());
  await waitForIceGathering(pc);
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", ...authHeaders(token) },
    body: pc.localDescription.sdp,
  });
  if (response.status !== 201) throw await errorFrom(response);
  const location = response.headers.get("Location");
  if (!location) throw new HttpError(response.status, "no Location header in the answer");
  const answer = await response.text();
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  const url = new URL(location, new URL(endpoint, document.baseURI)).toString();
  let stopped = false;
  return {
    pc,
    location: url,
    answer,
    /** Ends the session: DELETE on the relay, then closes the peer connection. */
    async stop({ keepalive = false } = {}) {
      if (stopped) return;
      stopped = true;
      try {
        await fetch(url, { method: "DELETE", headers: authHeaders(token), keepalive });
      } finally {
        pc.close();
      }
    },
  };
}

/**
 * Simulcast encodings (RFC 8853), lowest first: each halves the size of the next.
 * @param {number} count 2 or 3
 */
export function simulcastEncodings(count) {
  const rids = count >= 3 ? ["l", "m", "h"] : ["l", "h"];
  const maxBitrate = { l: 150_000, m: 500_000, h: 1_500_000 };
  return rids.map((rid, i) => ({ rid, scaleResolutionDownBy: 2 ** (rids.length - 1 - i), maxBitrate: maxBitrate[rid] }));
}

/**
 * Publishes a MediaStream to a WHIP endpoint (`simulcast`: 2 or 3 video encodings;
 * `iceTransportPolicy: "relay"`: only through a TURN server of GET /api/ice-servers;
 * `codec`: "vp8", "vp9" or "h264" to offer only that video codec, else the browser's list).
 * @param {{endpoint: string, token?: string, stream: MediaStream, onState?: (s: string) => void}} options
 */
export async function publish({ endpoint, token, stream, onState, simulcast = 0, iceTransportPolicy = "all", codec = "" }) {
  const { iceServers } = await fetchIceServers(token, endpoint);
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy });
  if (onState) pc.addEventListener("connectionstatechange", () => onState(pc.connectionState));
  for (const track of stream.getTracks()) {
    const init = { direction: "sendonly", streams: [stream] };
    if (track.kind === "video" && simulcast > 1) init.sendEncodings = simulcastEncodings(simulcast);
    const transceiver = pc.addTransceiver(track, init);
    if (track.kind === "video" && codec) {
      const only = RTCRtpSender.getCapabilities("video").codecs
        .filter((c) => c.mimeType.toLowerCase() === `video/${codec.toLowerCase()}`);
      if (only.length === 0) throw new Error(`this browser cannot send ${codec}`);
      transceiver.setCodecPreferences(only);
    }
  }
  try {
    return await negotiate(pc, endpoint, token);
  } catch (err) {
    pc.close();
    throw err;
  }
}

/**
 * Watches a WHEP endpoint; onStream receives the MediaStream of the relayed tracks
 * (`iceTransportPolicy` as for `publish`). `token` may be a function returning the current
 * token (a session that renews it): the session's DELETE then carries the token of that moment.
 * @param {{endpoint: string, token?: string | (() => string), onStream: (s: MediaStream) => void, onState?: (s: string) => void}} options
 */
export async function watch({ endpoint, token, onStream, onState, iceTransportPolicy = "all" }) {
  const { iceServers } = await fetchIceServers(token, endpoint);
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy });
  if (onState) pc.addEventListener("connectionstatechange", () => onState(pc.connectionState));
  const stream = new MediaStream();
  pc.addEventListener("track", (event) => {
    stream.addTrack(event.track);
    onStream(stream);
  });
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.addTransceiver("video", { direction: "recvonly" });
  try {
    return await negotiate(pc, endpoint, token);
  } catch (err) {
    pc.close();
    throw err;
  }
}

/** The figures the tests and the console read, summed over the peer connection's streams. */
export async function collectStats(pc) {
  const out = {
    framesDecoded: 0, frameWidth: 0, frameHeight: 0, totalAudioEnergy: 0,
    packetsLost: 0, nackCount: 0, framesSent: 0, packetsSent: 0,
    state: pc ? pc.connectionState : "new",
    // The selected candidate pair's local candidate: "host", "srflx" or "relay" (through TURN,
    // then relayProtocol is how this browser reaches the TURN server: "udp", "tcp" or "tls").
    localCandidateType: null, relayProtocol: null,
    // Its transport: "udp", or "tcp" for ICE over TCP (RFC 6544) or a TCP path to TURN.
    localProtocol: null,
    // The video codec sent or received, e.g. "video/VP8" or "video/H264".
    videoCodec: null,
  };
  if (!pc) return out;
  const report = await pc.getStats();
  report.forEach((s) => {
    if (s.type !== "transport" || !s.selectedCandidatePairId) return;
    const pair = report.get(s.selectedCandidatePairId);
    const local = pair && report.get(pair.localCandidateId);
    if (local) {
      out.localCandidateType = local.candidateType || null;
      out.relayProtocol = local.relayProtocol || null;
      out.localProtocol = local.protocol || null;
    }
  });
  report.forEach((s) => {
    if ((s.type === "inbound-rtp" || s.type === "outbound-rtp") && s.kind === "video" && s.codecId && report.get(s.codecId)) {
      out.videoCodec = report.get(s.codecId).mimeType;
    }
    if (s.type === "inbound-rtp") {
      out.packetsLost += s.packetsLost || 0;
      out.nackCount += s.nackCount || 0;
      if (s.kind === "video") {
        out.framesDecoded += s.framesDecoded || 0;
        out.frameWidth = Math.max(out.frameWidth, s.frameWidth || 0);
        out.frameHeight = Math.max(out.frameHeight, s.frameHeight || 0);
      } else if (s.kind === "audio") {
        out.totalAudioEnergy += s.totalAudioEnergy || 0;
      }
    } else if (s.type === "outbound-rtp") {
      out.packetsSent += s.packetsSent || 0;
      if (s.kind === "video") {
        out.framesSent += s.framesSent || 0;
        out.frameWidth = Math.max(out.frameWidth, s.frameWidth || 0);
        out.frameHeight = Math.max(out.frameHeight, s.frameHeight || 0);
      }
    }
  });
  return out;
}

/** Query-string settings shared by the pages: stream, token, an optional endpoint and ICE policy. */
export function pageSettings(kind) {
  const params = new URLSearchParams(location.search);
  const stream = params.get("stream") || "s1";
  return {
    stream,
    token: params.get("token") || "",
    simulcast: Number(params.get("simulcast") || 0),
    // ?codec=h264 (or vp8, vp9): a publisher offers only that video codec.
    codec: params.get("codec") || "",
    // ?ice=relay: connect only through a TURN server (to check a TURN deployment).
    iceTransportPolicy: params.get("ice") === "relay" ? "relay" : "all",
    endpoint: params.get("endpoint") || `/${kind}/${encodeURIComponent(stream)}`,
  };
}

/** Shows a status line; kind "error" styles it as an error. */
export function showStatus(element, text, kind = "info") {
  element.textContent = text;
  element.dataset.kind = kind;
}
