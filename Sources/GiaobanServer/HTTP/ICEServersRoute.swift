import Foundation
public import Hummingbird
import GiaobanAuth

/// `GET /api/ice-servers`: the STUN/TURN servers of `media.ice_servers` for the caller, in the
/// shape of `RTCConfiguration.iceServers`, TURN entries with credentials minted for the token's
/// subject (`TURNCredentials`). Any valid token may ask; the answer is not cached.
struct ICEServersRoute: Sendable {
    /// One `RTCIceServer`.
    struct Entry: Encodable, Equatable {
        /// The server's URLs.
        let urls: [String]
        /// The TURN username (absent for STUN).
        let username: String?
        /// The TURN password (absent for STUN).
        let credential: String?
    }

    /// The response body.
    struct Body: Encodable, Equatable {
        /// What a page passes to `new RTCPeerConnection({ iceServers })`.
        let iceServers: [Entry]
        /// Seconds the credentials stay valid: fetch again before opening a connection after that.
        let ttl: Int
    }

    /// The configured URLs, in order.
    let urls: [ICEServerURL]
    /// The credential minter (nil: no TURN URL, or its secret is unusable, see `problem`).
    let credentials: TURNCredentials?
    /// Why TURN credentials cannot be minted (a missing or short secret file), answered as 500.
    let problem: ConfigError?
    /// `media.turn_credential_ttl_s`.
    let ttlSeconds: Int

    /// The route for `media`; the secret file is read once, here.
    init(media: GiaobanConfig.Media) {
        urls = media.iceServers
        ttlSeconds = media.turnCredentialTTLSeconds
        do { credentials = try TURNCredentials.configured(media); problem = nil } catch {
            credentials = nil
            problem = error
        }
    }

    /// The body for `subject` at `now` (Unix seconds): STUN URLs in one entry without
    /// credentials, TURN URLs in one entry with a credential for `subject`.
    func body(subject: String, now: Int64) throws(PlainError) -> Body {
        var entries: [Entry] = []
        let stun = urls.filter { !$0.needsCredentials }.map(\.description)
        let turn = urls.filter(\.needsCredentials).map(\.description)
        if !stun.isEmpty { entries.append(Entry(urls: stun, username: nil, credential: nil)) }
        if !turn.isEmpty {
            guard let credentials else {
                throw PlainError(.internalServerError, problem?.message ?? "media.turn_secret_file is not set")
            }
            let minted = credentials.mint(subject: subject, now: now)
            entries.append(Entry(urls: turn, username: minted.username, credential: minted.credential))
        }
        return Body(iceServers: entries, ttl: ttlSeconds)
    }

    /// Adds `GET /api/ice-servers` to `router`; `tokens` verifies the caller (nil: every request is 401).
    static func add<Context: RequestContext>(to router: Router<Context>, media: GiaobanConfig.Media, tokens: TokenAuthority?) {
        let route = ICEServersRoute(media: media)
        router.get("/api/ice-servers") { request, _ in
            guard let tokens else { throw PlainError(.unauthorized, "missing Authorization: Bearer token") }
            let claims = try tokens.authorize(request, roles: RelaySessions.watchingRoles)
            var response = Response.json(.ok, try route.body(subject: claims.sub, now: Int64(Date().timeIntervalSince1970)))
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }
}
