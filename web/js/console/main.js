// The command-center console: sign-in, the chair's or the commune's view, tabs, and the
// event socket feeding the incident and briefing views.

import { t, translate, otherLanguageURL, formatTime } from "./i18n.js";
import { decodeToken, storedToken, storeToken, forgetToken, apiClient } from "./session.js";
import { status } from "./dom.js";
import { connectEvents } from "./events.js";
import { setupMeeting } from "./meeting.js";
import { setupIncidents } from "./incidents.js";
import { setupBriefings } from "./briefings.js";

const $ = (id) => document.getElementById(id);
const VIEWS = { chair: "chair", admin: "chair", observer: "chair", commune: "commune" };

function setupTabs(onShow) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  function show(tab, focus) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    onShow(tab.id);
  }
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => show(tab, false));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) show(tabs[(index + step + tabs.length) % tabs.length], true);
      else if (event.key === "Home") show(tabs[0], true);
      else if (event.key === "End") show(tabs[tabs.length - 1], true);
    });
  });
  return (id) => show($(id), false);
}

async function start(token) {
  let claims;
  try {
    claims = decodeToken(token);
  } catch (error) {
    throw new Error(t("signin.bad", { reason: error.message }));
  }
  const view = VIEWS[claims.role];
  if (!view) throw new Error(t("signin.role", { role: claims.role }));
  const api = apiClient(token);
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
    role: t(`role.${claims.role}`) }) + (claims.exp ? ` · ${t("expires", { time: formatTime(claims.exp * 1000) })}` : "");

  const isChair = claims.role === "chair" || claims.role === "admin";
  const isCommune = view === "commune";
  const isCommand = view === "chair";
  let unseen = 0;
  const badge = $("incidents-badge");
  const showTab = setupTabs((id) => {
    if (id === "tab-incidents") { unseen = 0; badge.hidden = true; }
  });
  setupMeeting({ api, claims, isChair, canPublish: claims.role !== "observer" });
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

  const events = connectEvents({
    url: api.socketURL("/api/events"),
    onMessage: (message) => { incidents.onMessage(message); briefings.onMessage(message); },
    onState: (state) => {
      const el = $("events-state");
      el.textContent = t(`events.${state}`);
      el.dataset.state = state;
    },
    onRefused: (reason) => status($("events-state"), reason, "error"),
  });
  $("signout").addEventListener("click", () => {
    events.close();
    forgetToken();
    location.reload();
  });
}

function boot() {
  translate();
  document.title = t("app.title");
  const lang = $("lang-switch");
  lang.href = otherLanguageURL();
  lang.textContent = t("lang.other");
  const form = $("signin-form");
  const error = $("signin-error");
  async function attempt(token) {
    try {
      await start(token);
      storeToken(token);
    } catch (e) {
      forgetToken();
      $("signin").hidden = false;
      status(error, e.message, "error");
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt($("token").value.trim());
  });
  const saved = storedToken();
  if (saved) attempt(saved);
  else $("signin").hidden = false;
}

boot();
