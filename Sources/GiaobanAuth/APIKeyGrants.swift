import Foundation
public import GiaobanCrypto
import Synchronization

/// The API keys that work now (docs/accounts.md), by the SHA-256 of their text: replaced every
/// few seconds from the database and at once when this node issues or revokes one, read by
/// every request without waiting. A key acts as its account: its subject, role and commune.
public final class APIKeyGrants: Sendable {
    /// What a working key may do.
    public struct Grant: Sendable, Equatable {
        /// The key's id.
        public var id: String
        /// The account's subject.
        public var subject: String
        /// The account's role.
        public var role: Role
        /// The account's commune, if any.
        public var commune: String?

        /// Creates a grant.
        public init(id: String, subject: String, role: Role, commune: String?) {
            self.id = id
            self.subject = subject
            self.role = role
            self.commune = commune
        }
    }

    /// Every key starts with this, which is how a key is told from a JWT.
    public static let prefix = "gbk_"

    private let grants = Mutex<[String: Grant]>([:])

    /// No key works yet.
    public init() {}

    /// A new key: `gbk_<id>_<secret>`, a 16-hex-digit id and 32 random bytes (64 hex digits).
    public static func makeKey() -> (id: String, key: String) {
        let id = SecureRandom.hex(8)
        return (id, prefix + id + "_" + SecureRandom.hex(32))
    }

    /// The stored form of a key: SHA-256, hex.
    public static func digest(_ key: String) -> String { SHA256Digest.hex(Array(key.utf8)) }


    /// The grant of the key whose text has `digest`, or nil.
    public func grant(digest: String) -> Grant? { grants.withLock { $0[digest] } }

    /// Whether key `id` works now.
    public func isActive(id: String) -> Bool { grants.withLock { $0.values.contains { $0.id == id } } }

    /// Replaces every grant (keyed by digest).
    public func replace(with all: [String: Grant]) { grants.withLock { $0 = all } }

    /// Adds one grant (a key this node just issued).
    public func insert(digest: String, _ grant: Grant) { grants.withLock { $0[digest] = grant } }

    /// Removes key `id` (a key this node just revoked).
    public func remove(id: String) { grants.withLock { $0 = $0.filter { $0.value.id != id } } }
}

extension TokenAuthority {
    /// The claims of API key `key` at `now` (seconds): its account's, living one minute, with
    /// `keyID` set; 401 reason when the key is unknown or revoked.
    public func verifyKey(_ key: String, now: Int64) throws(TokenError) -> TokenClaims {
        guard let apiKeys, let grant = apiKeys.grant(digest: APIKeyGrants.digest(key)) else {
            throw TokenError("unknown or revoked API key")
        }
        var claims = TokenClaims(sub: grant.subject, role: grant.role, exp: now + 60, iat: now, commune: grant.commune)
        claims.keyID = grant.id
        return claims
    }

    /// Whether `claims` are refused now: their subject is disabled, or the API key they came
    /// from was revoked (an open WebSocket checks this every second).
    public func isRevoked(_ claims: TokenClaims) -> Bool {
        if let revocations, revocations.isRevoked(claims.sub) { return true }
        if let keyID = claims.keyID { return !(apiKeys?.isActive(id: keyID) ?? false) }
        return false
    }
}
