// The signed-in session: the tokens (sessionStorage only), what the access token's payload
// says, and authorised requests to the hub. The payload is decoded only to show who is signed
// in; the server checks the signature and decides what the token may do.
//
// A password sign-in (docs/accounts.md) gives a short-lived access token and a refresh token:
// the session trades the refresh token for new ones (rotated at each use) at 70 % of the
// access token's lifetime, and once more when a request is answered 401, so the console stays
// signed in without a visible interruption. A pasted token (`giaoban token`) has no refresh
// token: it works until it expires.

const KEYS = { access: "giaoban.token", refresh: "giaoban.refresh", refreshAt: "giaoban.refresh_at" };
/** The share of the access token's lifetime after which it is renewed. */
const RENEW_AT = 0.7;
/** The pause before a refresh is tried again after a network error or a 5xx/429 answer. */
const RETRY_MS = 3000;
/** How long a refused refresh waits to learn whether the account was disabled (revocation: 2 s, sockets: 3 s). */
const SETTLE_MS = 4000;
/** The 401 reason (and close reason) of a disabled account (docs/accounts.md). */
const DISABLED = / is disabled$/;

/** A request the server answered with an error status; message is the server's reason. */
export class ApiError extends Error {
  constructor(status, reason) {
    super(reason || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
  }
}

/** The claims of a JWT (RFC 7519 §7.2, payload only, unverified). Throws on malformed input. */
export function decodeToken(token) {
  const parts = token.trim().split(".");
  if (parts.length !== 3) throw new Error("a JWT has three parts separated by dots");
  const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(parts[1].length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const claims = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  if (typeof claims.sub !== "string" || typeof claims.role !== "string") throw new Error("a token's payload has sub and role");
  return claims;
}

/** Whether a 401 reason or a WebSocket close reason says the account is disabled. */
export function isDisabledReason(reason) { return DISABLED.test(reason || ""); }

/** The first line of an error answer's text/plain body. */
async function reasonOf(response) {
  try { return (await response.text()).trim().split("\n")[0] || response.statusText; } catch { return response.statusText; }
}

async function postJSON(path, body) {
  return fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

/**
 * The session of this tab. onEnded(kind, reason) is called once when the server takes it back:
 * kind "disabled" (the account was disabled) or "expired" (the refresh token was refused).
 */
export function createSession() {
  let access = sessionStorage.getItem(KEYS.access) || "";
  let refreshToken = sessionStorage.getItem(KEYS.refresh) || "";
  let refreshAt = Number(sessionStorage.getItem(KEYS.refreshAt)) || 0;
  let timer = null;
  let inflight = null;
  let ended = false;
  let onEnded = null;
  const listeners = new Set();

  function save() {
    sessionStorage.setItem(KEYS.access, access);
    if (refreshToken) {
      sessionStorage.setItem(KEYS.refresh, refreshToken);
      sessionStorage.setItem(KEYS.refreshAt, String(refreshAt));
    } else {
      sessionStorage.removeItem(KEYS.refresh);
      sessionStorage.removeItem(KEYS.refreshAt);
    }
  }

  function forget() {
    clearTimeout(timer);
    access = "";
    refreshToken = "";
    for (const key of Object.values(KEYS)) sessionStorage.removeItem(key);
  }

  function schedule(delay = Math.max(0, refreshAt - Date.now())) {
    clearTimeout(timer);
    if (refreshToken && !ended) timer = setTimeout(() => { refresh(); }, delay);
  }

  /** Takes the answer of a sign-in or a refresh: {access_token, refresh_token, expires_in}. */
  function adopt(answer) {
    access = answer.access_token;
    refreshToken = answer.refresh_token || "";
    refreshAt = Date.now() + Math.max(1, Number(answer.expires_in) || 60) * 1000 * RENEW_AT;
    save();
    schedule();
    for (const listener of listeners) listener(access);
  }

  function end(kind, reason) {
    if (ended) return;
    if (!onEnded) { forget(); return; } // not started: the sign-in form shows the refusal itself
    ended = true;
    forget();
    onEnded(kind, reason);
  }

  /**
   * The refresh token was refused: revoked (signed out elsewhere, reused) or its account
   * disabled; the answer does not say which. A disabled account's access token is refused
   * with "… is disabled" within seconds, and its sockets are closed saying so (docs/accounts.md):
   * wait that long for either before telling the user the session simply ended.
   */
  async function settle(reason) {
    const deadline = Date.now() + SETTLE_MS;
    let disabled = false;
    while (!ended && !disabled && Date.now() < deadline) {
      try {
        const probe = await fetch("/api/communes", { headers: { Authorization: `Bearer ${access}` } });
        disabled = probe.status === 401 && isDisabledReason(await reasonOf(probe));
      } catch { /* the server is unreachable: keep waiting */ }
      if (!disabled) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    end(disabled ? "disabled" : "expired", reason);
  }

  /** Trades the refresh token for new tokens; one exchange at a time (a token used twice kills its family). */
  function refresh() {
    if (!refreshToken || ended) return Promise.resolve(false);
    inflight ??= (async () => {
      let response;
      try {
        response = await postJSON("/api/auth/refresh", { refresh_token: refreshToken });
      } catch {
        schedule(RETRY_MS);
        return false;
      }
      if (response.ok) {
        adopt(await response.json());
        return true;
      }
      const reason = await reasonOf(response);
      if (response.status === 401 || response.status === 400) {
        refreshToken = "";
        save();
        settle(reason);
      } else {
        schedule(RETRY_MS);
      }
      return false;
    })().finally(() => { inflight = null; });
    return inflight;
  }

  return {
    /** The current access token. */
    get token() { return access; },
    /** Whether this session can renew its access token (a password sign-in). */
    get refreshable() { return refreshToken !== ""; },
    /** Whether a token is stored (a reload keeps the session). */
    get stored() { return access !== ""; },
    adopt,
    /** A pasted token: used as it is, never refreshed. */
    usePasted(token) {
      access = token.trim();
      refreshToken = "";
      save();
    },
    /** Called by the console once it runs: from then on a refusal ends the session. */
    started(callback) {
      onEnded = callback;
      if (refreshToken) schedule();
    },
    /** Calls listener(token) after each renewal. */
    onToken(listener) { listeners.add(listener); },
    /**
     * After a 401 with usedToken: true when a newer token is there to retry with (renewed
     * meanwhile, or now); false when the session cannot be renewed.
     */
    async renew(usedToken) {
      if (access && access !== usedToken) return true;
      return refresh();
    },
    refresh,
    end,
    /** Signs out: the server revokes the refresh token (best effort); the tab forgets both. */
    async signOut() {
      const token = refreshToken;
      ended = true;
      forget();
      if (token) await postJSON("/api/auth/signout", { refresh_token: token }).catch(() => {});
    },
    forget,
  };
}

/** A password sign-in: the server's answer, or an ApiError with its reason (401, 429). */
export async function signIn(subject, password) {
  const response = await postJSON("/api/auth/signin", { subject, password });
  if (!response.ok) {
    const retry = response.headers.get("Retry-After");
    throw Object.assign(new ApiError(response.status, await reasonOf(response)), { retryAfter: retry ? Number(retry) : null });
  }
  return response.json();
}

/** The hub client of a session: every request carries its current token and is retried once after a renewal. */
export function apiClient(session) {
  async function request(method, path, body, headers = {}) {
    for (let attempt = 0; ; attempt += 1) {
      const token = session.token;
      const sent = { Authorization: `Bearer ${token}`, ...headers };
      if (body !== undefined) sent["Content-Type"] = "application/json";
      const response = await fetch(path, { method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body) });
      if (response.ok) return response;
      const reason = await reasonOf(response);
      if (response.status === 401) {
        if (isDisabledReason(reason)) session.end("disabled", reason);
        else if (attempt === 0 && session.refreshable && await session.renew(token)) continue;
      }
      throw new ApiError(response.status, reason);
    }
  }
  const decoded = async (response) => {
    if (response.status === 204) return null;
    const type = response.headers.get("Content-Type") || "";
    return type.includes("json") ? response.json() : response.text();
  };
  return {
    /** The current access token (room sockets read it at each join). */
    get token() { return session.token; },
    get: async (path) => (await request("GET", path)).json(),
    post: async (path, body = {}) => decoded(await request("POST", path, body)),
    patch: async (path, body = {}) => decoded(await request("PATCH", path, body)),
    delete: async (path) => decoded(await request("DELETE", path)),
    blob: async (path, headers) => (await request("GET", path, undefined, headers)).blob(),
    /** Every item of a list paged by `after` (oldest first), up to `max` items. */
    async all(path, field, max = 2000) {
      const items = [];
      let after = null;
      do {
        const page = await this.get(`${path}?limit=500${after == null ? "" : `&after=${after}`}`);
        items.push(...page[field]);
        after = page.next_after;
      } while (after != null && items.length < max);
      return items;
    },
    /** A WebSocket URL on this server with the current token as access_token (RFC 6750 §2.3). */
    socketURL(path) {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      return `${scheme}//${location.host}${path}?access_token=${encodeURIComponent(session.token)}`;
    },
  };
}
