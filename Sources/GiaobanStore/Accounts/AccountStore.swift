/// Accounts in the database (migration 5, docs/accounts.md): created and disabled by an
/// admin, read at sign-in and by the revocation cache. Methods ending in `Now` run on the
/// caller's thread (the command line); the others on the database's queue.
public final class AccountStore: Sendable {
    /// The database holding the accounts.
    public let database: any RecordDatabase

    /// A store over an open, migrated database.
    public init(database: any RecordDatabase) { self.database = database }

    static let columns = "subject, display_name, role, commune, enabled, password_hash, failed_attempts, locked_until, created_at, updated_at"

    /// Adds `account` (its times set to `now`); false when its subject exists already.
    @discardableResult
    public func addNow(_ account: AccountRecord, now: Int64) throws(StoreError) -> Bool {
        try database.write { session throws(StoreError) in
            try session.run("""
                INSERT INTO accounts (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, 0, NULL, ?, ?) ON CONFLICT (subject) DO NOTHING
                """, [.text(account.subject), .text(account.displayName), .text(account.role), account.commune.map(SQLValue.text) ?? .null,
                      .integer(account.enabled ? 1 : 0), account.passwordHash.map(SQLValue.text) ?? .null, .integer(now), .integer(now)]) == 1
        }
    }

    /// Enables or disables the account; a disabled one also loses its refresh tokens. False
    /// when there is no such account.
    @discardableResult
    public func setEnabledNow(_ subject: String, _ enabled: Bool, now: Int64) throws(StoreError) -> Bool {
        try database.write { session throws(StoreError) in
            let changed = try session.run("UPDATE accounts SET enabled = ?, failed_attempts = 0, locked_until = NULL, updated_at = ? WHERE subject = ?",
                                          [.integer(enabled ? 1 : 0), .integer(now), .text(subject)])
            if changed == 1, !enabled {
                try session.run("UPDATE refresh_tokens SET revoked_at = ? WHERE subject = ? AND revoked_at IS NULL", [.integer(now), .text(subject)])
            }
            return changed == 1
        }
    }

    /// Changes the display name and/or the password hash of `subject` (nil: unchanged); a new
    /// password also revokes its refresh tokens and clears the lockout. False when there is no
    /// such account.
    @discardableResult
    public func updateNow(_ subject: String, displayName: String? = nil, passwordHash: String? = nil, now: Int64) throws(StoreError) -> Bool {
        try database.write { session throws(StoreError) in
            guard try Self.account(subject, in: session) != nil else { return false }
            if let displayName {
                try session.run("UPDATE accounts SET display_name = ?, updated_at = ? WHERE subject = ?", [.text(displayName), .integer(now), .text(subject)])
            }
            if let passwordHash {
                try session.run("UPDATE accounts SET password_hash = ?, failed_attempts = 0, locked_until = NULL, updated_at = ? WHERE subject = ?",
                                [.text(passwordHash), .integer(now), .text(subject)])
                try session.run("UPDATE refresh_tokens SET revoked_at = ? WHERE subject = ? AND revoked_at IS NULL", [.integer(now), .text(subject)])
            }
            return true
        }
    }

    /// The account of `subject`, or nil.
    public func accountNow(_ subject: String) throws(StoreError) -> AccountRecord? {
        try database.read { session throws(StoreError) in try Self.account(subject, in: session) }
    }

    /// Every account, by subject.
    public func listNow() throws(StoreError) -> [AccountRecord] {
        let rows = try database.read { session throws(StoreError) in try session.rows("SELECT \(Self.columns) FROM accounts ORDER BY subject", []) }
        return try rows.map { row throws(StoreError) in try Self.decode(row) }
    }

    /// The subjects whose accounts are disabled (what the revocation cache holds).
    public func disabledSubjectsNow() throws(StoreError) -> Set<String> {
        let rows = try database.read { session throws(StoreError) in try session.rows("SELECT subject FROM accounts WHERE enabled = 0", []) }
        var subjects = Set<String>()
        for row in rows { var c = RowReader(row: row); subjects.insert(try c.text()) }
        return subjects
    }

    /// Records a failed sign-in of `subject` at `now` and returns the lock it earns under
    /// `policy` (its end, or nil when not locked). Nothing happens for an unknown subject.
    @discardableResult
    public func recordFailureNow(_ subject: String, now: Int64, policy: LockoutPolicy = LockoutPolicy()) throws(StoreError) -> Int64? {
        try database.write { session throws(StoreError) in
            guard let account = try Self.account(subject, in: session) else { return nil }
            let failures = account.failedAttempts + 1
            let lock = policy.lock(afterFailures: failures)
            let until: Int64? = lock > 0 ? now + lock : nil
            try session.run("UPDATE accounts SET failed_attempts = ?, locked_until = ? WHERE subject = ?",
                            [.integer(failures), until.map(SQLValue.integer) ?? .null, .text(subject)])
            return until
        }
    }

    /// Clears the failure count after a successful sign-in.
    public func recordSuccessNow(_ subject: String) throws(StoreError) {
        try database.write { session throws(StoreError) in
            _ = try session.run("UPDATE accounts SET failed_attempts = 0, locked_until = NULL WHERE subject = ?", [.text(subject)])
        }
    }

    static func account(_ subject: String, in session: any SQLSession) throws(StoreError) -> AccountRecord? {
        guard let row = try session.rows("SELECT \(columns) FROM accounts WHERE subject = ?", [.text(subject)]).first else { return nil }
        return try decode(row)
    }

    static func decode(_ row: [SQLValue]) throws(StoreError) -> AccountRecord {
        var c = RowReader(row: row)
        return AccountRecord(subject: try c.text(), displayName: try c.text(), role: try c.text(), commune: try c.optionalText(),
                             enabled: try c.integer() != 0, passwordHash: try c.optionalText(), failedAttempts: try c.integer(),
                             lockedUntil: try c.optionalInteger(), createdAt: try c.integer(), updatedAt: try c.integer())
    }
}
