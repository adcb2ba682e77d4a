/// One API key as the admin sees it: never the secret, which is shown once at issue.
public struct APIKeyRecord: Sendable, Equatable {
    /// The key's public id (16 hex digits), also inside the key itself.
    public var id: String
    /// The account the key acts as.
    public var subject: String
    /// What the admin called it ("camera QL1A km 1836").
    public var label: String
    /// When it was issued, milliseconds since 1970.
    public var createdAt: Int64
    /// Who issued it.
    public var createdBy: String
    /// When it was revoked, or nil while it works.
    public var revokedAt: Int64?

    /// Creates a record.
    public init(id: String, subject: String, label: String, createdAt: Int64, createdBy: String, revokedAt: Int64? = nil) {
        self.id = id
        self.subject = subject
        self.label = label
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.revokedAt = revokedAt
    }
}

/// A working key as the token check needs it: the SHA-256 of the key, its id and what its
/// account may do.
public struct ActiveAPIKey: Sendable, Equatable {
    /// SHA-256 (hex) of the whole key text.
    public var digest: String
    /// The key's id.
    public var id: String
    /// The account's subject.
    public var subject: String
    /// The account's role.
    public var role: String
    /// The account's commune, if any.
    public var commune: String?
}

/// API keys for machine clients (migration 6, docs/accounts.md): the key text is made and
/// shown by the server (`APIKeyGrants.makeKey`); only its SHA-256 is stored here with its id,
/// account and label. Methods ending in `Now` run on the caller's thread.
public final class APIKeys: Sendable {
    /// The database holding the keys.
    public let database: any RecordDatabase

    /// Keys in an open, migrated database.
    public init(database: any RecordDatabase) { self.database = database }

    /// Stores key `id` (its SHA-256 `digest`) for the account `subject`; nil when there is no
    /// such account.
    public func issueNow(id: String, digest: String, subject: String, label: String, createdBy: String,
                         now: Int64) throws(StoreError) -> APIKeyRecord? {
        try database.write { session throws(StoreError) in
            guard try AccountStore.account(subject, in: session) != nil else { return nil }
            try session.run("INSERT INTO api_keys (id, key_hash, subject, label, created_at, created_by, revoked_at) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                            [.text(id), .text(digest), .text(subject), .text(label), .integer(now), .text(createdBy)])
            return APIKeyRecord(id: id, subject: subject, label: label, createdAt: now, createdBy: createdBy)
        }
    }

    /// Revokes key `id`; false when there is no such key (revoking twice keeps the first time).
    @discardableResult
    public func revokeNow(_ id: String, now: Int64) throws(StoreError) -> Bool {
        try database.write { session throws(StoreError) in
            guard try !session.rows("SELECT id FROM api_keys WHERE id = ?", [.text(id)]).isEmpty else { return false }
            try session.run("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [.integer(now), .text(id)])
            return true
        }
    }

    /// The keys (of `subject`, or all), newest first.
    public func listNow(subject: String? = nil) throws(StoreError) -> [APIKeyRecord] {
        let filter = subject == nil ? "" : "WHERE subject = ?"
        let rows = try database.read { session throws(StoreError) in
            try session.rows("SELECT id, subject, label, created_at, created_by, revoked_at FROM api_keys \(filter) ORDER BY created_at DESC, id",
                             subject.map { [.text($0)] } ?? [])
        }
        return try rows.map { row throws(StoreError) in
            var c = RowReader(row: row)
            return APIKeyRecord(id: try c.text(), subject: try c.text(), label: try c.text(), createdAt: try c.integer(),
                                createdBy: try c.text(), revokedAt: try c.optionalInteger())
        }
    }

    /// The keys that work now: not revoked, of an enabled account.
    public func activeNow() throws(StoreError) -> [ActiveAPIKey] {
        let rows = try database.read { session throws(StoreError) in
            try session.rows("""
                SELECT k.key_hash, k.id, a.subject, a.role, a.commune FROM api_keys k JOIN accounts a ON a.subject = k.subject
                WHERE k.revoked_at IS NULL AND a.enabled = 1
                """, [])
        }
        return try rows.map { row throws(StoreError) in
            var c = RowReader(row: row)
            return ActiveAPIKey(digest: try c.text(), id: try c.text(), subject: try c.text(), role: try c.text(), commune: try c.optionalText())
        }
    }
}
