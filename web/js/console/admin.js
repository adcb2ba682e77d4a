// The admin view (role admin): the accounts (GET/POST /api/accounts, PATCH …/{subject}:
// disable, enable, set a password) and the machine API keys (GET/POST /api/keys, DELETE
// …/{id}); a new key's secret is shown once, with a copy button. docs/accounts.md.

import { t, formatTime } from "./i18n.js";
import { h, status, guarded, table, keepFocus, announce } from "./dom.js";

/** communes: for the commune choice; you: the admin's own subject (it cannot disable itself here). */
export function setupAdmin({ api, communes, you }) {
  const $ = (id) => document.getElementById(id);
  const accountStatus = $("admin-status");
  const keyStatus = $("keys-status");
  let accounts = [];
  let passwordFor = null;

  // ------------------------------------------------------------------ accounts

  function stateCell(a) {
    const parts = [h("span", { class: a.enabled ? "badge ok" : "badge danger" }, t(a.enabled ? "admin.enabled" : "admin.disabled"))];
    if (a.locked_until && a.locked_until > Date.now()) {
      parts.push(h("span", { class: "badge warn" }, t("admin.lockedUntil", { time: formatTime(a.locked_until) })));
    }
    if (!a.has_password) parts.push(h("span", { class: "badge" }, t("admin.noPassword")));
    return h("span", { class: "badges" }, parts);
  }

  function action(name, a, label, handler, extra = {}) {
    return h("button", { type: "button", class: "small", dataset: { action: name, subject: a.subject },
      "aria-label": `${label}: ${a.subject}`, onclick: () => guarded(accountStatus, handler), ...extra }, label);
  }

  function actionsCell(a) {
    const toggle = a.enabled
      ? action("disable", a, t("admin.disable"), () => setEnabled(a, false), { class: "small danger", disabled: a.subject === you })
      : action("enable", a, t("admin.enable"), () => setEnabled(a, true));
    return h("span", { class: "controls" }, toggle, action("password", a, t("admin.setPassword"), () => askPassword(a)));
  }

  function renderAccounts() {
    const rows = accounts.map((a) => [a.subject, a.display_name, t(`role.${a.role}`), a.commune ?? t("dash"), stateCell(a),
      formatTime(a.created_at), actionsCell(a)]);
    const el = table([t("admin.subject"), t("admin.name"), t("admin.role"), t("admin.commune"), t("admin.state"),
      t("admin.createdAt"), t("admin.actions")], rows);
    el.id = "accounts";
    el.querySelectorAll("tbody tr").forEach((row, i) => {
      row.dataset.subject = accounts[i].subject;
      row.classList.toggle("disabled", !accounts[i].enabled);
    });
    keepFocus($("account-table"), () => $("account-table").replaceChildren(el));
    const chosen = $("key-subject").value;
    $("key-subject").replaceChildren(...accounts.filter((a) => a.enabled)
      .map((a) => h("option", { value: a.subject }, `${a.subject} (${t(`role.${a.role}`)})`)));
    if (chosen) $("key-subject").value = chosen;
  }

  async function loadAccounts() {
    accounts = (await api.get("/api/accounts")).accounts;
    renderAccounts();
  }

  function replace(account) {
    const index = accounts.findIndex((a) => a.subject === account.subject);
    if (index >= 0) accounts[index] = account;
    else accounts = [...accounts, account].sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
    renderAccounts();
  }

  async function setEnabled(a, enabled) {
    if (!enabled && !window.confirm(t("admin.disableConfirm", { subject: a.subject }))) return;
    const account = await api.patch(`/api/accounts/${encodeURIComponent(a.subject)}`, { enabled });
    replace(account);
    const text = t("admin.changed", { subject: a.subject, state: t(enabled ? "admin.enabled" : "admin.disabled") });
    status(accountStatus, text);
    announce(text);
  }

  function askPassword(a) {
    passwordFor = a.subject;
    $("password-set-label").textContent = t("admin.passwordFor", { subject: a.subject });
    $("password-set").value = "";
    $("password-set-form").hidden = false;
    $("password-set").focus();
  }

  function closePassword() {
    const subject = passwordFor;
    passwordFor = null;
    $("password-set-form").hidden = true;
    $("password-set").value = "";
    if (subject) document.querySelector(`#accounts button[data-action="password"][data-subject="${CSS.escape(subject)}"]`)?.focus();
  }

  async function setPassword(event) {
    event.preventDefault();
    const subject = passwordFor;
    if (!subject) return;
    replace(await api.patch(`/api/accounts/${encodeURIComponent(subject)}`, { password: $("password-set").value }));
    closePassword();
    status(accountStatus, t("admin.passwordSet", { subject }));
  }

  async function addAccount(event) {
    event.preventDefault();
    const body = { subject: $("account-subject").value.trim(), display_name: $("account-name").value.trim(), role: $("account-role").value };
    if ($("account-commune").value) body.commune = $("account-commune").value;
    if ($("account-password").value) body.password = $("account-password").value;
    replace(await api.post("/api/accounts", body));
    $("account-form").reset();
    status(accountStatus, t("admin.added", { subject: body.subject }));
  }

  // ------------------------------------------------------------------ API keys

  function renderKeys(keys) {
    const rows = keys.map((k) => [k.id, k.subject, k.label, formatTime(k.created_at), k.created_by,
      k.revoked_at != null ? h("span", { class: "badge danger" }, t("admin.revokedAt", { time: formatTime(k.revoked_at) }))
        : h("span", { class: "badge ok" }, t("admin.active")),
      k.revoked_at != null ? "" : h("button", { type: "button", class: "small danger", dataset: { action: "revoke", subject: k.id },
        "aria-label": `${t("admin.revoke")}: ${k.label} (${k.id})`, onclick: () => guarded(keyStatus, () => revoke(k)) }, t("admin.revoke"))]);
    const el = table([t("admin.keyId"), t("admin.keySubject"), t("admin.keyLabel"), t("admin.createdAt"), t("admin.createdBy"),
      t("admin.state"), t("admin.actions")], rows);
    el.id = "keys";
    el.querySelectorAll("tbody tr").forEach((row, i) => { row.dataset.keyId = keys[i].id; });
    keepFocus($("key-table"), () => $("key-table").replaceChildren(el));
    $("keys-empty").hidden = keys.length > 0;
  }

  async function loadKeys() {
    renderKeys((await api.get("/api/keys")).keys);
  }

  async function createKey(event) {
    event.preventDefault();
    const answer = await api.post("/api/keys", { subject: $("key-subject").value, label: $("key-label").value.trim() });
    $("key-form").reset();
    // The secret exists only in this answer: shown once, never stored by the console.
    $("key-shown-heading").textContent = t("admin.keyShown", { id: answer.id, subject: answer.subject });
    $("key-secret").value = answer.key;
    $("key-shown").hidden = false;
    status($("keys-status"), "");
    $("key-secret").focus();
    $("key-secret").select();
    await loadKeys();
  }

  async function copyKey() {
    $("key-secret").select();
    try {
      await navigator.clipboard.writeText($("key-secret").value);
      status(keyStatus, t("admin.copied"));
    } catch {
      status(keyStatus, t("admin.copyFailed"), "warn");
    }
  }

  async function revoke(k) {
    if (!window.confirm(t("admin.revokeConfirm", { id: k.id, label: k.label }))) return;
    await api.delete(`/api/keys/${encodeURIComponent(k.id)}`);
    status(keyStatus, t("admin.revoked", { id: k.id }));
    await loadKeys();
  }

  // ------------------------------------------------------------------ wiring

  $("account-commune").replaceChildren(h("option", { value: "" }, t("dash")),
    ...communes.map((c) => h("option", { value: c.id }, `${c.name} (${c.id})`)));
  $("account-form").addEventListener("submit", (event) => guarded(accountStatus, () => addAccount(event)));
  $("password-set-form").addEventListener("submit", (event) => guarded(accountStatus, () => setPassword(event)));
  $("password-set-cancel").addEventListener("click", closePassword);
  $("key-form").addEventListener("submit", (event) => guarded(keyStatus, () => createKey(event)));
  $("key-copy").addEventListener("click", copyKey);

  return {
    /** Reads both lists again (each time the tab is shown). The secret of a new key is hidden then. */
    show() {
      $("key-shown").hidden = true;
      $("key-secret").value = "";
      guarded(accountStatus, loadAccounts);
      guarded(keyStatus, loadKeys);
    },
  };
}
