// The signed-in session: the token (sessionStorage only), what its payload says, and
// authorised requests to the hub. The payload is decoded only to show who is signed in;
// the server checks the signature and decides what the token may do.

const KEY = "giaoban.token";

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
  if (typeof claims.sub !== "string" || typeof claims.role !== "string") throw new Error("the payload has no sub and role");
  return claims;
}

export function storedToken() { return sessionStorage.getItem(KEY) || ""; }
export function storeToken(token) { sessionStorage.setItem(KEY, token.trim()); }
export function forgetToken() { sessionStorage.removeItem(KEY); }

/** The hub client of one token. */
export function apiClient(token) {
  async function request(method, path, body) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!response.ok) {
      let reason = "";
      try { reason = (await response.text()).trim().split("\n")[0]; } catch { /* unreadable body */ }
      throw new ApiError(response.status, reason || response.statusText);
    }
    return response;
  }
  return {
    token,
    get: async (path) => (await request("GET", path)).json(),
    post: async (path, body = {}) => {
      const response = await request("POST", path, body);
      const type = response.headers.get("Content-Type") || "";
      return type.includes("json") ? response.json() : response.text();
    },
    blob: async (path) => (await request("GET", path)).blob(),
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
    /** A WebSocket URL on this server with the token as access_token (RFC 6750 §2.3). */
    socketURL(path) {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      return `${scheme}//${location.host}${path}?access_token=${encodeURIComponent(token)}`;
    },
  };
}
