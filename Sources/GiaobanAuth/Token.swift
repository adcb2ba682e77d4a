import Foundation
public import GiaobanCrypto

/// Who may do what (the operations hub extends these checks to every route).
public enum Role: String, Sendable, CaseIterable, Codable {
    /// The command center officer who chairs briefings.
    case chair
    /// A commune police station.
    case commune
    /// A traffic camera (reports incidents only).
    case camera
    /// Read-only access.
    case observer
    /// Operator of the server.
    case admin
}

/// The claims Giaoban puts in a token (RFC 7519 §4.1: sub, exp, iat, optional nbf; plus `role`).
public struct TokenClaims: Sendable, Equatable, Codable {
    /// The subject: a commune id, camera id or officer.
    public var sub: String
    /// The role.
    public var role: Role
    /// Expiry, seconds since 1970.
    public var exp: Int64
    /// Issued at, seconds since 1970.
    public var iat: Int64
    /// Not before, seconds since 1970 (RFC 7519 §4.1.5); absent: from `iat`.
    public var nbf: Int64?
    /// The commune of the account the token was issued to at sign-in (docs/accounts.md); absent otherwise.
    public var commune: String?
    /// The API key these claims came from (never in a JWT); nil for a token.
    public var keyID: String?
    /// Set only in the tokens the nodes of a cluster sign for each other (they share the secret):
    /// a node pulling a meeting participant's stream for the participants it serves. No request
    /// of a person can obtain it: nothing that issues tokens over the API sets it.
    public var relay: Bool?

    enum CodingKeys: String, CodingKey { case sub, role, exp, iat, nbf, commune, relay }

    /// Creates claims.
    public init(sub: String, role: Role, exp: Int64, iat: Int64, nbf: Int64? = nil, commune: String? = nil) {
        self.sub = sub
        self.role = role
        self.exp = exp
        self.iat = iat
        self.nbf = nbf
        self.commune = commune
    }
}

/// Why a token was refused; `message` goes into the 401 body.
public struct TokenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong with the token, in words an operator can act on.
    public let message: String
    /// An error with `message`.
    package init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Issues and verifies JWTs signed with HMAC-SHA256 (RFC 7519, RFC 7515 §A.1).
public struct TokenAuthority: Sendable {
    let secret: [UInt8]
    /// Allowed clock difference when checking `exp`; 0 because the server that checks a
    /// token is the one that issued it (same clock).
    public var leeway: Int64 = 0
    /// The longest lifetime (`exp - iat`, seconds) a token may have (`security.max_token_lifetime_s`).
    public var maxLifetime: Int64
    /// Subjects whose tokens are refused whatever their signature (disabled accounts); nil: none.
    public var revocations: SubjectRevocations?
    /// The API keys that work now; nil: keys are refused.
    public var apiKeys: APIKeyGrants?

    /// The default of `security.max_token_lifetime_s`: 366 days.
    public static let defaultMaxLifetime: Int64 = 31_622_400

    /// An authority with a shared secret (at least 32 bytes recommended) that refuses tokens
    /// living longer than `maxLifetime` seconds.
    public init(secret: [UInt8], maxLifetime: Int64 = TokenAuthority.defaultMaxLifetime) {
        self.secret = secret
        self.maxLifetime = maxLifetime
    }

    /// Signs claims into a compact JWT.
    public func issue(_ claims: TokenClaims) -> String {
        let header = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let payload = Base64URL.encode(Array((try? encoder.encode(claims)) ?? Data()))
        let signingInput = header + "." + payload
        return signingInput + "." + Base64URL.encode(signature(of: signingInput))
    }

    /// The HS256 signature of a JWS signing input (RFC 7515 §5.1).
    package func signature(of signingInput: String) -> [UInt8] {
        HMACSHA256.authenticationCode(key: secret, message: Array(signingInput.utf8))
    }

    /// Verifies a compact JWT at time `now` (seconds since 1970) and returns its claims.
    public func verify(_ token: String, now: Int64) throws(TokenError) -> TokenClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw TokenError("malformed token: expected three dot-separated parts") }
        guard let headerBytes = Base64URL.decode(parts[0]),
              let header = try? JSONDecoder().decode([String: String].self, from: Data(headerBytes)) else {
            throw TokenError("malformed token: the header is not base64url JSON")
        }
        guard header["alg"] == "HS256" else { throw TokenError("unsupported token algorithm '\(header["alg"] ?? "none")' (HS256 expected)") }
        guard let given = Base64URL.decode(parts[2]) else { throw TokenError("malformed token: bad signature encoding") }
        guard Self.constantTimeEqual(given, signature(of: parts[0] + "." + parts[1])) else {
            throw TokenError("invalid token signature")
        }
        guard let payload = Base64URL.decode(parts[1]) else { throw TokenError("malformed token: bad payload encoding") }
        let claims: TokenClaims
        do { claims = try JSONDecoder().decode(TokenClaims.self, from: Data(payload)) } catch {
            throw TokenError("malformed token claims: sub, role (\(Role.allCases.map(\.rawValue).joined(separator: "/"))), exp and iat are required")
        }
        try checkTimes(claims, now: now)
        return claims
    }

    /// RFC 7519 §4.1.4–4.1.6: expired, not yet valid, issued in the future, or living longer
    /// than `maxLifetime` is refused. Arithmetic saturates: any Int64 in a claim is safe.
    func checkTimes(_ claims: TokenClaims, now: Int64) throws(TokenError) {
        let earliest = now.subtractingReportingOverflow(leeway)
        let latest = now.addingReportingOverflow(leeway)
        guard earliest.overflow || claims.exp >= earliest.partialValue else { throw TokenError("token expired") }
        guard latest.overflow || claims.iat <= latest.partialValue else {
            throw TokenError("token issued in the future (iat \(claims.iat) is after now, \(now)): check the issuer's clock")
        }
        if let nbf = claims.nbf, !latest.overflow, nbf > latest.partialValue {
            throw TokenError("token not valid before \(nbf) (nbf); now is \(now)")
        }
        let lifetime = claims.exp.subtractingReportingOverflow(claims.iat)
        guard !lifetime.overflow, lifetime.partialValue <= maxLifetime else {
            throw TokenError("token lifetime (exp - iat) exceeds \(maxLifetime) s (security.max_token_lifetime_s)")
        }
    }

    /// Compares two byte strings in time independent of where they differ.
    package static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// Reads the secret from `path`, creating it (32 random bytes, hex, mode 0600) if missing.
    public static func loadOrCreateSecret(at path: String) throws -> (secret: [UInt8], created: Bool) {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) {
            let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            guard text.count >= 16 else { throw TokenError("the secret in \(path) is shorter than 16 characters") }
            return (Array(text.utf8), false)
        }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let hex = SecureRandom.bytes(32).map { String(format: "%02x", $0) }.joined()
        guard fm.createFile(atPath: path, contents: Data((hex + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw TokenError("cannot create the token secret file \(path)")
        }
        return (Array(hex.utf8), true)
    }
}

/// base64url without padding (RFC 4648 §5), as JWS uses.
package enum Base64URL {
    /// `bytes` as base64url without padding.
    package static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The bytes of base64url `text` (no padding), or nil when it is not base64url.
    package static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard !s.contains("=") else { return nil }
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map(Array.init)
    }
}
