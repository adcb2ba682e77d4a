// The meeting view: pick, schedule or start a meeting (REST), join its room (the room
// protocol, docs/protocol.md), publish this station's camera and microphone, watch every
// participant (the active speaker or the spotlight large, the others as thumbnails), the
// roster with each participant's state, the chair's controls and the roll call.

import { joinRoom } from "../room-client.js";
import { t } from "./i18n.js";
import { h, status, guarded, table, keepFocus } from "./dom.js";
import { isDisabledReason } from "./session.js";
import { setupRecording } from "./recording.js";

/** RFC 3339 local time with its UTC offset, without fractions (what the hub accepts). */
export function rfc3339(date) {
  const pad = (n) => String(n).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:` +
    `${pad(date.getMinutes())}:${pad(date.getSeconds())}${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
}

/** "1.0 % · ±4 ms" (loss, jitter) for a roster entry's `link` object, "—" when there is none. */
export function linkQuality(link) {
  if (!link || typeof link !== "object") return t("dash");
  const parts = [];
  if (typeof link.loss === "number") parts.push(`${(link.loss * 100).toFixed(1)} %`);
  if (typeof link.jitter_ms === "number") parts.push(`±${Math.round(link.jitter_ms)} ms`);
  if (typeof link.rtt_ms === "number") parts.push(`${Math.round(link.rtt_ms)} ms`);
  return parts.length ? parts.join(" · ") : t("dash");
}

/**
 * onDisabled(reason): the room socket was closed because the account was disabled;
 * onRoster(subjects): who is seated in the room joined, at every roster ([] after leaving).
 */
export function setupMeeting({ api, claims, isChair, canPublish, onDisabled = () => {}, onRoster = () => {} }) {
  const $ = (id) => document.getElementById(id);
  const statusLine = $("meeting-status");
  const select = $("meeting-select");
  const meetings = new Map(); // id → meeting
  const tiles = new Map(); // subject → {figure, video}
  let room = null;
  let current = null; // the meeting joined
  let roster = { participants: [], locked: false, spotlight: null, speaker: null };
  let you = claims.sub;
  let localStream = null;
  let selfMuted = false;
  let handRaised = false;
  let lastMain = null;
  const recording = setupRecording({ send: (message) => room?.send(message), statusLine });

  // ------------------------------------------------------------------ meetings list

  function addMeeting(m) {
    meetings.set(m.id, m);
    const options = [...meetings.values()].sort((a, b) => b.id - a.id)
      .map((x) => h("option", { value: x.id }, `#${x.id} · ${x.title} · ${x.scheduled_at}` +
        (x.in_room > 0 ? ` · ● ${t("meeting.inRoom", { count: x.in_room })}` : "")));
    const chosen = select.value;
    select.replaceChildren(...options);
    if (chosen) select.value = chosen;
    $("meeting-join").disabled = meetings.size === 0;
    $("meeting-empty").hidden = meetings.size > 0;
  }

  async function loadMeetings() {
    for (const m of await api.all("/api/meetings", "meetings")) addMeeting(m);
  }

  async function schedule(startNow) {
    const title = $("meeting-title").value.trim() || t("meeting.defaultTitle");
    const when = startNow || !$("meeting-when").value ? new Date() : new Date($("meeting-when").value);
    const meeting = await api.post("/api/meetings", {
      title, scheduled_at: rfc3339(when), duration_minutes: Number($("meeting-duration").value) || 60,
    });
    addMeeting(meeting);
    select.value = String(meeting.id);
    if (startNow) await join(meeting.id);
    else status(statusLine, `#${meeting.id} · ${meeting.title} · ${meeting.scheduled_at}`);
  }

  // ------------------------------------------------------------------ video tiles

  function tile(subject) {
    let entry = tiles.get(subject);
    if (!entry) {
      const video = h("video", { autoplay: true, playsinline: true });
      const figure = h("figure", { class: "tile", dataset: { subject } }, video,
        h("figcaption", {}, subject === you ? `${subject} (${t("meeting.you")})` : subject));
      entry = { figure, video };
      tiles.set(subject, entry);
      layout();
    }
    return entry;
  }

  function showStream(subject, stream, muted) {
    const { video } = tile(subject);
    video.muted = muted;
    if (video.srcObject !== stream) video.srcObject = stream;
    video.play().catch(() => {});
  }

  function removeTile(subject) {
    const entry = tiles.get(subject);
    if (!entry) return;
    entry.video.srcObject = null;
    entry.figure.remove();
    tiles.delete(subject);
    layout();
  }

  /**
   * Who is shown large: the spotlight, else the active speaker, else whoever was large
   * before, else the first other participant. This station's own picture stays a thumbnail
   * while it speaks (nobody needs to watch themselves large) unless it is the spotlight or alone.
   */
  function mainSubject() {
    const others = (s) => s && s !== you && tiles.has(s);
    if (roster.spotlight && tiles.has(roster.spotlight)) return roster.spotlight;
    for (const candidate of [roster.speaker, lastMain]) if (others(candidate)) return candidate;
    return [...tiles.keys()].find((s) => s !== you) ?? [...tiles.keys()][0] ?? null;
  }

  function layout() {
    const main = mainSubject();
    lastMain = main;
    const stage = $("stage-main");
    const thumbs = $("stage-thumbs");
    for (const [subject, { figure, video }] of tiles) {
      const place = subject === main ? stage : thumbs;
      // Thumbnails take the low simulcast layer, the main view the high one (docs/simulcast.md).
      if (subject !== you) room?.setLayer?.(subject, subject === main ? "high" : "low");
      figure.classList.toggle("speaking", subject === roster.speaker);
      if (figure.parentElement !== place) {
        place.append(figure); // a move within one task keeps the element playing
        video.play().catch(() => {});
      }
    }
    $("stage-empty").hidden = tiles.size > 0;
  }

  // ------------------------------------------------------------------ roster

  function mediaState(subject) {
    // Everyone watched arrives on the one downlink connection the relay offers.
    const down = room?.downlink;
    const pc = subject === you ? room?.publisher : (down && down.watches(subject) ? down.pc : room?.watching.get(subject));
    return pc ? pc.connectionState : null;
  }

  function stateCell(p) {
    const badges = [h("span", { class: "badge ok" }, t("meeting.present"))];
    const media = mediaState(p.subject);
    if (media) badges.push(h("span", { class: `badge media-${media}` }, t("meeting.media", { state: media })));
    if (p.audio_muted) badges.push(h("span", { class: "badge" }, t("meeting.mutedSelf")));
    if (p.muted_by_chair) badges.push(h("span", { class: "badge warn" }, t("meeting.mutedByChair")));
    if (p.hand) badges.push(h("span", { class: "badge hand" }, `✋ ${t("meeting.hand")}`));
    if (roster.speaker === p.subject) badges.push(h("span", { class: "badge speaker" }, t("meeting.speaker")));
    if (roster.spotlight === p.subject) badges.push(h("span", { class: "badge spot" }, t("meeting.spotlighted")));
    return h("span", { class: "badges" }, badges);
  }

  function control(action, subject, label, handler) {
    return h("button", { type: "button", class: "small", dataset: { action, subject },
      "aria-label": `${label}: ${subject}`, onclick: () => guarded(statusLine, handler) }, label);
  }

  function controlsCell(p) {
    if (!isChair || p.subject === you) return "";
    const spotlit = roster.spotlight === p.subject;
    return h("span", { class: "controls" },
      control("mute", p.subject, p.muted_by_chair ? t("meeting.unmute") : t("meeting.mute"),
        () => room.send({ type: "mute_participant", participant: p.subject, muted: !p.muted_by_chair })),
      control("floor", p.subject, t("meeting.floor"), () => giveFloor(p)),
      p.audio_muted ? control("ask-unmute", p.subject, t("meeting.askUnmute"),
        () => room.send({ type: "ask_unmute", participant: p.subject })) : "",
      p.hand ? control("lower-hand", p.subject, t("meeting.lowerHandOf"),
        () => room.send({ type: "lower_hand", participant: p.subject })) : "",
      control("spotlight", p.subject, spotlit ? t("meeting.unspotlight") : t("meeting.spotlight"),
        () => room.send(spotlit ? { type: "spotlight" } : { type: "spotlight", participant: p.subject })));
  }

  /** The floor: the relay's mute released, the spotlight, the hand lowered, and — the relay
   * cannot turn a microphone on — a request to unmute when the participant muted itself. */
  function giveFloor(p) {
    room.send({ type: "mute_participant", participant: p.subject, muted: false });
    room.send({ type: "spotlight", participant: p.subject });
    if (p.hand) room.send({ type: "lower_hand", participant: p.subject });
    if (p.audio_muted) room.send({ type: "ask_unmute", participant: p.subject });
  }

  function renderRoster() {
    const columns = [t("meeting.subject"), t("meeting.state"), t("meeting.link")];
    if (isChair) columns.push(t("meeting.actions"));
    const rows = roster.participants.map((p) => {
      const cells = [`${p.subject} (${t(`role.${p.role}`)})${p.subject === you ? ` · ${t("meeting.you")}` : ""}`,
        stateCell(p), linkQuality(p.link)];
      if (isChair) cells.push(controlsCell(p));
      return cells;
    });
    const rosterTable = table(columns, rows);
    rosterTable.id = "roster-table";
    rosterTable.querySelectorAll("tbody tr").forEach((row, i) => { row.dataset.subject = roster.participants[i].subject; });
    // Re-rendering replaces the buttons: keep the keyboard focus where it was.
    keepFocus($("roster"), () => $("roster").replaceChildren(rosterTable));
    $("roster-count").textContent = t("meeting.count", { count: roster.participants.length }) +
      (roster.locked ? ` · 🔒 ${t("meeting.locked")}` : "");
    $("room-lock").textContent = roster.locked ? t("meeting.unlock") : t("meeting.lock");
    $("room-lock").setAttribute("aria-pressed", String(roster.locked));
    onRoster(roster.participants.map((p) => p.subject));
    layout();
  }

  // ------------------------------------------------------------------ room

  function onMessage(message) {
    switch (message.type) {
      case "joined":
        // Also after a reconnect, possibly on another node of the cluster (docs/protocol.md).
        you = message.you;
        if (current) status(statusLine, t("meeting.joined", { title: `#${current.id} · ${current.title}` }));
        break;
      case "roster":
        roster = message;
        renderRoster();
        recording.roster(message);
        break;
      case "recording":
        recording.message(message);
        break;
      case "speaker":
        roster = { ...roster, speaker: message.participant };
        renderRoster();
        break;
      case "muted":
        status(statusLine, t(message.muted ? "meeting.mutedNotice" : "meeting.unmutedNotice", { by: message.by }),
          message.muted ? "warn" : "info");
        break;
      case "unmute_requested":
        status(statusLine, t("meeting.unmuteRequested", { by: message.by }), "warn");
        break;
      case "ended":
        status(statusLine, t("meeting.ended"), "warn");
        cleanUp();
        break;
      case "replaced":
        status(statusLine, t("meeting.replaced"), "warn");
        cleanUp();
        break;
    }
  }

  async function join(id) {
    if (room) leave();
    current = meetings.get(Number(id));
    if (!current) return;
    status(statusLine, t("events.connecting"));
    room = joinRoom({
      // The session's current token: a join after a renewal carries the new one.
      meeting: current.id, token: () => api.token, thumbnails: true, downlink: true,
      onMessage,
      onVideo: (subject, stream) => showStream(subject, stream, false),
      onGone: removeTile,
      onError: (error) => status(statusLine, error.message, "error"),
      onReconnecting: () => status(statusLine, t("meeting.reconnecting"), "warn"),
      // Made again when the room comes back on another node: its state shows in the roster.
      onPublisher: (pc) => pc.addEventListener("connectionstatechange", renderRoster),
      onClose: (event) => {
        if (event.code !== 1000) status(statusLine, t("meeting.closed", { code: event.code, reason: event.reason || "—" }), "error");
        cleanUp();
        if (event.code === 1008 && isDisabledReason(event.reason)) onDisabled(event.reason);
      },
    });
    setInRoom(true);
    if (canPublish) await publishOwn();
  }

  async function publishOwn() {
    try {
      localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
    } catch (error) {
      status(statusLine, t("meeting.cameraFailed", { reason: error.message }), "error");
      return;
    }
    setSelfMuted(false);
    showStream(you, localStream, true);
    await room.publish(localStream);
  }

  function setSelfMuted(muted) {
    selfMuted = muted;
    for (const track of localStream?.getAudioTracks() ?? []) track.enabled = !muted;
    if (room) room.send({ type: "mute", audio: muted });
    $("self-mute").textContent = muted ? t("meeting.micOff") : t("meeting.micOn");
    $("self-mute").setAttribute("aria-pressed", String(muted));
  }

  function cleanUp() {
    if (!room) return;
    const closing = room;
    room = null;
    closing.leave();
    for (const track of localStream?.getTracks() ?? []) track.stop();
    localStream = null;
    for (const subject of [...tiles.keys()]) removeTile(subject);
    roster = { participants: [], locked: false, spotlight: null, speaker: null };
    $("roster").replaceChildren();
    $("roster-count").textContent = t("meeting.notJoined");
    recording.reset();
    setInRoom(false);
    onRoster([]);
  }

  /** Enables the controls that act on the room joined. */
  function setInRoom(inRoom) {
    document.body.classList.toggle("in-meeting", inRoom);
    $("meeting-leave").disabled = !inRoom;
    for (const button of document.querySelectorAll(".room-controls .in-room")) button.disabled = !inRoom;
  }

  function leave() {
    cleanUp();
    status(statusLine, t("meeting.notJoined"));
  }

  async function downloadRollCall() {
    const id = Number(select.value);
    if (!id) return;
    const blob = await api.blob(`/api/meetings/${id}/attendance.csv`);
    const link = $("rollcall-link");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    const name = `meeting-${id}-attendance.csv`;
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.textContent = t("meeting.rollcallReady", { name });
    link.hidden = false;
    link.click();
  }

  // ------------------------------------------------------------------ wiring

  $("meeting-start").addEventListener("click", () => guarded(statusLine, () => schedule(true)));
  $("meeting-schedule").addEventListener("click", () => guarded(statusLine, () => schedule(false)));
  $("meeting-join").addEventListener("click", () => guarded(statusLine, () => join(select.value)));
  $("meeting-leave").addEventListener("click", leave);
  $("self-mute").addEventListener("click", () => setSelfMuted(!selfMuted));
  $("raise-hand").addEventListener("click", () => {
    handRaised = !handRaised;
    room?.raiseHand(handRaised);
    $("raise-hand").textContent = handRaised ? t("meeting.lowerHand") : t("meeting.raiseHand");
    $("raise-hand").setAttribute("aria-pressed", String(handRaised));
  });
  $("mute-all").addEventListener("click", () => {
    for (const p of roster.participants) {
      if (p.subject !== you && !p.muted_by_chair) room?.send({ type: "mute_participant", participant: p.subject, muted: true });
    }
  });
  $("room-lock").addEventListener("click", () => room?.send({ type: "lock", locked: !roster.locked }));
  $("room-end").addEventListener("click", () => { if (room && window.confirm(t("meeting.endConfirm"))) room.send({ type: "end" }); });
  $("rollcall").addEventListener("click", () => guarded(statusLine, downloadRollCall));
  window.addEventListener("pagehide", () => room?.leave());

  $("roster-count").textContent = t("meeting.notJoined");
  setInRoom(false);
  guarded(statusLine, loadMeetings);
  return { join, leave };
}
