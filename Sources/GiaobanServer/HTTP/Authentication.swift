import Foundation
public import Hummingbird
import GiaobanAuth

extension TokenAuthority {
    /// The verified claims of the request's `Authorization: Bearer` token; 401 with the reason
    /// when it is missing or invalid, 403 when the role is not in `roles`.
    func authorize(_ request: Request, roles: Set<Role>? = nil, allowQueryToken: Bool = false) throws(PlainError) -> TokenClaims {
        let token: String
        if let header = request.headers[.authorization] {
            guard header.lowercased().hasPrefix("bearer ") else {
                throw PlainError(.unauthorized, "the Authorization header must be 'Bearer <token>'")
            }
            token = String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        } else if allowQueryToken, let query = request.uri.queryParameters["access_token"] {
            // RFC 6750 §2.3: browsers cannot set headers on a WebSocket handshake.
            token = String(query)
        } else {
            throw PlainError(.unauthorized, allowQueryToken ? "missing token: send Authorization: Bearer <token> or ?access_token=<token>"
                                                           : "missing Authorization: Bearer token")
        }
        let claims: TokenClaims
        let now = Int64(Date().timeIntervalSince1970)
        do { claims = token.hasPrefix(APIKeyGrants.prefix) ? try verifyKey(token, now: now) : try verify(token, now: now) } catch {
            throw PlainError(.unauthorized, error.message)
        }
        if let revocations, revocations.isRevoked(claims.sub) {
            throw PlainError(.unauthorized, "the account '\(claims.sub)' is disabled")
        }
        if let roles { try claims.require(roles) }
        return claims
    }
}

extension TokenClaims {
    /// 403 with the allowed roles unless the holder's role is one of `roles` (the same rule
    /// and message over REST and WebSocket).
    func require(_ roles: Set<Role>) throws(PlainError) {
        guard !roles.contains(role) else { return }
        let allowed = roles.map(\.rawValue).sorted().joined(separator: ", ")
        throw PlainError(.forbidden, "role '\(role.rawValue)' may not do this (allowed: \(allowed))")
    }
}
