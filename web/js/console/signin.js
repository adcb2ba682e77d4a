// The sign-in page: the password form (POST /api/auth/signin, docs/accounts.md), the
// pasted-token form (a `giaoban token`, for stations and scripts), and the notice saying why
// the console came back here (signed out, the session ended, the account disabled).

import { t } from "./i18n.js";
import { status } from "./dom.js";
import { signIn } from "./session.js";

const NOTICE = "giaoban.notice";
const NOTICES = ["disabled", "expired", "signedOut"];

/** Leaves a notice for the sign-in page the next load shows: kind "disabled", "expired" or "signedOut". */
export function leaveNotice(kind) {
  sessionStorage.setItem(NOTICE, kind);
}

function takeNotice() {
  const kind = sessionStorage.getItem(NOTICE);
  sessionStorage.removeItem(NOTICE);
  return NOTICES.includes(kind) ? kind : null;
}

/**
 * Shows the sign-in page and wires its forms. start(session) opens the console, throwing an
 * Error with the message to show when the server refuses. error: a refusal to show at once
 * (a stored token refused at load).
 */
export function showSignIn(session, start, error = null) {
  const $ = (id) => document.getElementById(id);
  const notice = takeNotice();
  if (notice) {
    status($("signin-notice"), t(`signin.${notice}`), notice === "signedOut" ? "info" : "error");
    document.body.dataset.signinNotice = notice;
  }
  if (error) status($("signin-error"), error, "error");
  $("signin").hidden = false;
  $("signin-subject").focus();

  function opened() {
    $("signin").hidden = true;
    delete document.body.dataset.signinNotice;
    status($("signin-notice"), "");
  }

  $("password-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector("button[type=submit]");
    const message = $("password-error");
    status(message, "");
    button.disabled = true;
    try {
      let answer;
      try {
        answer = await signIn($("signin-subject").value.trim(), $("signin-password").value);
      } catch (e) {
        throw new Error(e.status === 429 && e.retryAfter ? t("signin.locked", { seconds: e.retryAfter }) : t("signin.failed", { reason: e.message }));
      }
      $("signin-password").value = "";
      session.adopt(answer);
      await start(session);
      opened();
    } catch (e) {
      session.forget();
      status(message, e.message, "error");
    } finally {
      button.disabled = false;
    }
  });

  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    status($("signin-error"), "");
    try {
      session.usePasted($("token").value);
      await start(session);
      opened();
    } catch (e) {
      session.forget();
      status($("signin-error"), e.message, "error");
    }
  });
}
