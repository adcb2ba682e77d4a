import Foundation
public import Hummingbird

extension TokenAuthority {
    /// The verified claims of the request's `Authorization: Bearer` token; 401 with the reason
    /// when it is missing or invalid, 403 when the role is not in `roles`.
    func authorize(_ request: Request, roles: Set<Role>? = nil) throws(PlainError) -> TokenClaims {
        guard let header = request.headers[.authorization] else {
            throw PlainError(.unauthorized, "missing Authorization: Bearer token")
        }
        guard header.lowercased().hasPrefix("bearer ") else {
            throw PlainError(.unauthorized, "the Authorization header must be 'Bearer <token>'")
        }
        let token = String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        let claims: TokenClaims
        do { claims = try verify(token, now: Int64(Date().timeIntervalSince1970)) } catch {
            throw PlainError(.unauthorized, error.message)
        }
        if let roles, !roles.contains(claims.role) {
            let allowed = roles.map(\.rawValue).sorted().joined(separator: ", ")
            throw PlainError(.forbidden, "role '\(claims.role.rawValue)' may not do this (allowed: \(allowed))")
        }
        return claims
    }
}
