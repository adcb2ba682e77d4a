// The command-center console: sign-in, the chair's or the commune's view, tabs, the admin
// and audit views, and the event socket feeding the incident and briefing views.

import { t, translate, otherLanguageURL, formatTime } from "./i18n.js";
import { decodeToken, createSession, apiClient, isDisabledReason } from "./session.js";
import { status } from "./dom.js";
import { connectEvents } from "./events.js";
import { setupMeeting } from "./meeting.js";
import { setupIncidents } from "./incidents.js";
import { setupBriefings } from "./briefings.js";
import { setupAdmin } from "./admin.js";
import { setupAudit } from "./audit.js";
import { setupMap } from "./map.js";
import { showSignIn, leaveNotice } from "./signin.js";

const $ = (id) => document.getElementById(id);
const VIEWS = { chair: "chair", admin: "chair", observer: "chair", commune: "commune" };

function setupTabs(onShow) {
  const all = [...document.querySelectorAll('[role="tab"]')];
  function show(tab, focus) {
    for (const other of all) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    onShow(tab.id);
  }
  all.forEach((tab) => {
    tab.addEventListener("click", () => show(tab, false));
    tab.addEventListener("keydown", (event) => {
      const tabs = all.filter((x) => !x.hidden); // the admin and audit tabs only for their roles
      const index = tabs.indexOf(tab);
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) show(tabs[(index + step + tabs.length) % tabs.length], true);
      else if (event.key === "Home") show(tabs[0], true);
      else if (event.key === "End") show(tabs[tabs.length - 1], true);
    });
  });
  return (id) => show($(id), false);
}

async function start(session) {
  let claims;
  try {
    claims = decodeToken(session.token);
  } catch (error) {
    throw new Error(t("signin.bad", { reason: error.message }));
  }
  const view = VIEWS[claims.role];
  if (!view) throw new Error(t("signin.role", { role: claims.role }));
  const api = apiClient(session);
  // The server is the authority: a forged, expired or unknown token stops here.
  let communes;
  try {
    communes = (await api.get("/api/communes")).communes;
  } catch (error) {
    throw new Error(t("signin.refused", { reason: error.message }));
  }
  const names = new Map(communes.map((c) => [c.id, c.name]));
  const communeName = (id) => names.get(id) ?? id;

  document.body.dataset.view = view;
  document.body.dataset.role = claims.role;
  $("signin").hidden = true;
  $("app").hidden = false;
  $("who").textContent = t("who", { subject: view === "commune" ? `${communeName(claims.sub)} (${claims.sub})` : claims.sub,
    role: t(`role.${claims.role}`) }) +
    // A renewed session's access token expires every few minutes: only a pasted token's expiry tells something.
    (claims.exp && !session.refreshable ? ` · ${t("expires", { time: formatTime(claims.exp * 1000) })}` : "");

  const isChair = claims.role === "chair" || claims.role === "admin";
  const isCommune = view === "commune";
  const isCommand = view === "chair";
  let unseen = 0;
  const badge = $("incidents-badge");
  const isAdmin = claims.role === "admin";
  const readsAudit = isAdmin || claims.role === "observer";
  $("tab-admin").hidden = !isAdmin;
  $("tab-audit").hidden = !readsAudit;
  const admin = isAdmin ? setupAdmin({ api, communes, you: claims.sub }) : null;
  const audit = readsAudit ? setupAudit({ api }) : null;
  const showTab = setupTabs((id) => {
    if (id === "tab-incidents") { unseen = 0; badge.hidden = true; }
    if (id === "tab-admin") admin?.show();
    if (id === "tab-audit") audit?.show();
    if (id === "tab-map") map.show();
  });
  const disabled = (reason) => session.end("disabled", reason);
  const map = setupMap({ api, isCommand, you: claims.sub, communes });
  const meeting = setupMeeting({ api, claims, isChair, canPublish: claims.role !== "observer", onDisabled: disabled,
    onRoster: (subjects) => map.setRoster(subjects) });
  const incidents = setupIncidents({
    api, isCommand, isChair, isCommune, communeName,
    onNew: () => {
      if ($("tab-incidents").getAttribute("aria-selected") === "true") return;
      unseen += 1;
      badge.textContent = String(unseen);
      badge.hidden = false;
    },
  });
  const briefings = setupBriefings({ api, isCommand, isChair, isCommune, communes, communeName });
  showTab("tab-meeting");

  let socketToken = "";
  const events = connectEvents({
    url: () => { socketToken = session.token; return api.socketURL("/api/events"); },
    onMessage: (message) => { incidents.onMessage(message); briefings.onMessage(message); map.onMessage(message); },
    onState: (state) => {
      const el = $("events-state");
      el.textContent = t(`events.${state}`);
      el.dataset.state = state;
    },
    onRefused: async (reason) => {
      if (isDisabledReason(reason)) { disabled(reason); return false; }
      // An expired token on a reconnect: connect again with a renewed one.
      if (session.refreshable && /expired/.test(reason) && await session.renew(socketToken)) return true;
      status($("events-state"), reason, "error");
      return false;
    },
  });
  // The server took the session back (refresh refused, account disabled): a fresh page shows
  // the sign-in form with the reason; nothing of the signed-in views is left behind.
  session.started((kind) => {
    events.close();
    meeting.leave();
    leaveNotice(kind);
    location.reload();
  });
  $("signout").addEventListener("click", async () => {
    events.close();
    meeting.leave();
    await session.signOut();
    leaveNotice("signedOut");
    location.reload();
  });
}

function boot() {
  translate();
  document.title = t("app.title");
  const lang = $("lang-switch");
  lang.href = otherLanguageURL();
  lang.textContent = t("lang.other");
  const session = createSession();
  if (!session.stored) { showSignIn(session, start); return; }
  start(session).catch((error) => {
    session.forget();
    showSignIn(session, start, error.message);
  });
}

boot();
