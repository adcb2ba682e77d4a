/// Which audit rows to list (`AuditLog.list`); nil filters match everything.
public struct AuditFilter: Sendable, Equatable {
    /// Only this subject's actions.
    public var subject: String?
    /// Only this action (`meeting.end`).
    public var action: String?
    /// Only rows at or after this time, milliseconds since 1970.
    public var since: Int64?
    /// Only rows before this time (exclusive), milliseconds since 1970.
    public var until: Int64?
    /// Only rows with a smaller id (the next page of a newest-first listing).
    public var beforeID: Int64?
    /// At most this many rows.
    public var limit: Int

    /// Creates a filter.
    public init(subject: String? = nil, action: String? = nil, since: Int64? = nil, until: Int64? = nil,
                beforeID: Int64? = nil, limit: Int = 100) {
        self.subject = subject
        self.action = action
        self.since = since
        self.until = until
        self.beforeID = beforeID
        self.limit = limit
    }
}

/// The audit trail (docs/audit.md): one append-only row per privileged action, each row
/// carrying the SHA-256 of the row before it, so that an edited or deleted row is found by
/// `verify`. Appends are serialized so that the chain never forks: SQLite's `BEGIN IMMEDIATE`
/// holds the one writer; on PostgreSQL the transaction takes `LOCK TABLE … IN EXCLUSIVE MODE`
/// (readers go on, other appenders on any node wait) before it reads the last row.
public final class AuditLog: Sendable {
    /// The database holding the trail.
    public let database: any RecordDatabase

    /// A trail over an open, migrated database.
    public init(database: any RecordDatabase) { self.database = database }

    static let columns = "id, at, subject, role, remote, action, target, detail, result, prev_hash, hash"

    /// Appends `entry` after the last row, in one transaction; returns the stored row.
    @discardableResult
    public func appendNow(_ entry: AuditEntry) throws(StoreError) -> AuditRecord {
        let dialect = database.dialect
        return try database.write { session throws(StoreError) in
            if dialect == .postgresql { try session.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE") }
            let last = try session.rows("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", []).first
            var id: Int64 = 1, prevHash = AuditRecord.genesis
            if let last {
                var c = RowReader(row: last)
                id = try c.integer() + 1
                prevHash = try c.text()
            }
            let record = AuditRecord(id: id, entry: entry, prevHash: prevHash,
                                     hash: AuditRecord.hash(id: id, entry: entry, prevHash: prevHash))
            try session.run("INSERT INTO audit_log (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                .integer(id), .integer(entry.at), .text(entry.subject), .text(entry.role), entry.remote.map(SQLValue.text) ?? .null,
                .text(entry.action), .text(entry.target), .text(entry.detail), .text(entry.result), .text(prevHash), .text(record.hash),
            ])
            return record
        }
    }

    /// `appendNow` on the database's queue.
    @discardableResult
    public func append(_ entry: AuditEntry) async throws(StoreError) -> AuditRecord {
        try await database.onQueue { () throws(StoreError) in try self.appendNow(entry) }
    }

    /// The rows `filter` selects, newest first.
    public func list(_ filter: AuditFilter) async throws(StoreError) -> [AuditRecord] {
        var conditions: [String] = [], values: [SQLValue] = []
        func add(_ condition: String, _ value: SQLValue?) {
            guard let value else { return }
            conditions.append(condition)
            values.append(value)
        }
        add("subject = ?", filter.subject.map(SQLValue.text))
        add("action = ?", filter.action.map(SQLValue.text))
        add("at >= ?", filter.since.map(SQLValue.integer))
        add("at < ?", filter.until.map(SQLValue.integer))
        add("id < ?", filter.beforeID.map(SQLValue.integer))
        let clause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT \(Self.columns) FROM audit_log\(clause) ORDER BY id DESC LIMIT ?"
        let bound = values + [.integer(Int64(max(1, filter.limit)))]
        let rows = try await database.read { session throws(StoreError) in try session.rows(sql, bound) }
        return try rows.map { row throws(StoreError) in try Self.decode(row) }
    }

    /// Walks the chain from the first row, `pageSize` rows per read, and reports the first
    /// row whose hash does not match its fields (edited) or which does not follow the row
    /// before it (a row deleted between them). A deleted last row leaves no trace in the chain
    /// itself: compare the `head` reported with one kept elsewhere (docs/audit.md).
    public func verifyNow(pageSize: Int = 1_000) throws(StoreError) -> AuditVerification {
        var previousID: Int64 = 0, previousHash = AuditRecord.genesis, count = 0
        while true {
            let rows = try database.read { session throws(StoreError) in
                try session.rows("SELECT \(Self.columns) FROM audit_log WHERE id > ? ORDER BY id LIMIT ?",
                                 [.integer(previousID), .integer(Int64(pageSize))])
            }
            if rows.isEmpty { return .intact(rows: count, head: previousHash) }
            for row in rows {
                let record = try Self.decode(row)
                guard record.id == previousID + 1, record.prevHash == previousHash else {
                    return .broken(AuditBreak(id: record.id, kind: .deletedBefore, previousID: previousID, intactRows: count))
                }
                guard AuditRecord.hash(id: record.id, entry: record.entry, prevHash: record.prevHash) == record.hash else {
                    return .broken(AuditBreak(id: record.id, kind: .edited, previousID: previousID, intactRows: count))
                }
                previousID = record.id
                previousHash = record.hash
                count += 1
            }
        }
    }

    static func decode(_ row: [SQLValue]) throws(StoreError) -> AuditRecord {
        var c = RowReader(row: row)
        let id = try c.integer()
        let entry = AuditEntry(at: try c.integer(), subject: try c.text(), role: try c.text(), remote: try c.optionalText(),
                               action: try c.text(), target: try c.text(), detail: try c.text(), result: try c.text())
        return AuditRecord(id: id, entry: entry, prevHash: try c.text(), hash: try c.text())
    }
}
