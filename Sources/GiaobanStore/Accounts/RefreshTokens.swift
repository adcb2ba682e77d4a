import Foundation
import GiaobanCrypto

/// What presenting a refresh token gave (`RefreshTokens.rotateNow`).
public enum RefreshOutcome: Sendable, Equatable {
    /// Valid: it is now revoked, and `token` (same family) replaces it for `account`.
    case rotated(account: AccountRecord, token: String)
    /// Unknown, expired, or its account is missing or disabled.
    case refused
    /// Already used or revoked: the whole family (every token of that sign-in) is now revoked.
    case reused(subject: String)
}

/// Refresh tokens (docs/accounts.md): 32 random bytes given to the client once, stored as
/// their SHA-256 with the account, an expiry and a family (one per sign-in). Each use revokes
/// the token and issues the next of its family; presenting a revoked one revokes the family,
/// since one of the two holders of that token is not the account's owner.
public final class RefreshTokens: Sendable {
    /// The database holding the tokens.
    public let database: any RecordDatabase

    /// Tokens in an open, migrated database.
    public init(database: any RecordDatabase) { self.database = database }

    /// The stored form of `token`.
    static func digest(_ token: String) -> String { SHA256Digest.hex(Array(token.utf8)) }

    /// A new token for `subject`, valid for `lifetime` ms from `now`, in `family` (nil: a new one).
    public func issueNow(subject: String, family: String? = nil, now: Int64, lifetime: Int64) throws(StoreError) -> String {
        try database.write { session throws(StoreError) in try Self.insert(subject: subject, family: family, now: now, lifetime: lifetime, in: session) }
    }


    static func insert(subject: String, family: String?, now: Int64, lifetime: Int64, in session: any SQLSession) throws(StoreError) -> String {
        let token = SecureRandom.hex(32)
        let family = family ?? SecureRandom.hex(16)
        try session.run("INSERT INTO refresh_tokens (token_hash, subject, family, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, NULL)",
                        [.text(digest(token)), .text(subject), .text(family), .integer(now), .integer(now + lifetime)])
        return token
    }

    /// Uses `token` at `now`: rotation, refusal, or reuse detection, in one transaction.
    public func rotateNow(_ token: String, now: Int64, lifetime: Int64) throws(StoreError) -> RefreshOutcome {
        try database.write { session throws(StoreError) in
            guard let row = try session.rows("SELECT subject, family, expires_at, revoked_at FROM refresh_tokens WHERE token_hash = ?",
                                             [.text(Self.digest(token))]).first else { return .refused }
            var c = RowReader(row: row)
            let subject = try c.text(), family = try c.text(), expires = try c.integer(), revoked = try c.optionalInteger()
            if revoked != nil {
                try session.run("UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL", [.integer(now), .text(family)])
                return .reused(subject: subject)
            }
            guard expires > now, let account = try AccountStore.account(subject, in: session), account.enabled else { return .refused }
            try session.run("UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ?", [.integer(now), .text(Self.digest(token))])
            return .rotated(account: account, token: try Self.insert(subject: subject, family: family, now: now, lifetime: lifetime, in: session))
        }
    }

    /// Revokes `token` (sign-out); its subject, or nil when it was unknown or revoked already.
    @discardableResult
    public func revokeNow(_ token: String, now: Int64) throws(StoreError) -> String? {
        try database.write { session throws(StoreError) in
            let rows = try session.rows("UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL RETURNING subject",
                                        [.integer(now), .text(Self.digest(token))])
            guard let row = rows.first else { return nil }
            var c = RowReader(row: row)
            return try c.text()
        }
    }
}
