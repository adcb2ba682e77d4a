// WHIP (RFC 9725) publishing and WHEP watching against a Giaoban relay, with fetch and
// RTCPeerConnection only. The relay is ICE-lite and puts its candidates in the answer, so
// the client waits for its own ICE gathering to finish and sends one complete offer.
//
//   import { publish, watch, collectStats } from "./js/whip-client.js";
//   const session = await publish({ endpoint: "/whip/s1", token, stream });
//   await session.stop();

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

function authHeaders(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
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
 * Publishes a MediaStream to a WHIP endpoint (`simulcast`: 2 or 3 video encodings).
 * @param {{endpoint: string, token?: string, stream: MediaStream, onState?: (s: string) => void}} options
 */
export async function publish({ endpoint, token, stream, onState, simulcast = 0 }) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  if (onState) pc.addEventListener("connectionstatechange", () => onState(pc.connectionState));
  for (const track of stream.getTracks()) {
    const init = { direction: "sendonly", streams: [stream] };
    if (track.kind === "video" && simulcast > 1) init.sendEncodings = simulcastEncodings(simulcast);
    pc.addTransceiver(track, init);
  }
  try {
    return await negotiate(pc, endpoint, token);
  } catch (err) {
    pc.close();
    throw err;
  }
}

/**
 * Watches a WHEP endpoint; onStream receives the MediaStream of the relayed tracks.
 * @param {{endpoint: string, token?: string, onStream: (s: MediaStream) => void, onState?: (s: string) => void}} options
 */
export async function watch({ endpoint, token, onStream, onState }) {
  const pc = new RTCPeerConnection({ iceServers: [] });
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
  };
  if (!pc) return out;
  const report = await pc.getStats();
  report.forEach((s) => {
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

/** Query-string settings shared by the pages: stream, token and an optional endpoint. */
export function pageSettings(kind) {
  const params = new URLSearchParams(location.search);
  const stream = params.get("stream") || "s1";
  return {
    stream,
    token: params.get("token") || "",
    simulcast: Number(params.get("simulcast") || 0),
    endpoint: params.get("endpoint") || `/${kind}/${encodeURIComponent(stream)}`,
  };
}

/** Shows a status line; kind "error" styles it as an error. */
export function showStatus(element, text, kind = "info") {
  element.textContent = text;
  element.dataset.kind = kind;
}
