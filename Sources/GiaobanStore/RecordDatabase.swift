public import Dispatch

/// The SQL a store runs inside one read or one transaction. Parameters are written `?` in
/// the SQL text (each backend rewrites them as it needs); statements use the SQL both
/// backends accept: `INSERT … ON CONFLICT … DO NOTHING`, `RETURNING`, `BIGINT`, `TEXT`,
/// `DOUBLE PRECISION`.
public protocol SQLSession {
    /// Every row `sql` returns with `values` bound.
    func rows(_ sql: String, _ values: [SQLValue]) throws(StoreError) -> [[SQLValue]]
    /// Runs `sql` with `values` bound and returns how many rows it changed.
    @discardableResult
    func run(_ sql: String, _ values: [SQLValue]) throws(StoreError) -> Int
    /// Runs statements that take no parameters and return no rows (DDL).
    func execute(_ sql: String) throws(StoreError)
}

extension SQLSession {
    /// The first column of the first row, or nil when there is no row.
    public func scalar(_ sql: String, _ values: [SQLValue] = []) throws(StoreError) -> SQLValue? {
        try rows(sql, values).first?.first
    }
}

extension SQLSession {
    /// `body`, then `COMMIT`; `ROLLBACK` when anything fails. The caller has run BEGIN.
    func committing<T>(_ body: (Self) throws(StoreError) -> T) throws(StoreError) -> T {
        do throws(StoreError) {
            let result = try body(self)
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}

/// Which SQL a database speaks where the two backends differ (DDL only).
public enum SQLDialect: String, Sendable {
    /// SQLite 3.35 or newer (RETURNING).
    case sqlite
    /// PostgreSQL 13 or newer.
    case postgresql
}

/// A database that holds Giaoban's durable records: the embedded SQLite file, or PostgreSQL
/// when several nodes share one store. `write` returns only after COMMIT is durable.
public protocol RecordDatabase: AnyObject, Sendable {
    /// The dialect migrations are translated to.
    var dialect: SQLDialect { get }
    /// Where the records live, for logs ("var/giaoban.sqlite", "postgresql://host/db").
    var location: String { get }
    /// The serial queue the async store methods run on, off the caller's executor.
    var queue: DispatchQueue { get }
    /// Runs `body` in one transaction; returns after COMMIT, rolls back when `body` throws.
    func write<T>(_ body: (any SQLSession) throws(StoreError) -> T) throws(StoreError) -> T
    /// Runs `body` for reads.
    func read<T>(_ body: (any SQLSession) throws(StoreError) -> T) throws(StoreError) -> T
}

extension RecordDatabase {
    /// The migration versions recorded in `schema_migrations`, in order.
    public func appliedMigrations() throws(StoreError) -> [Int64] {
        try read { session throws(StoreError) in
            try session.rows("SELECT version FROM schema_migrations ORDER BY version", []).compactMap { row -> Int64? in
                if case .integer(let v) = row.first { return v }
                return nil
            }
        }
    }

    /// `write` on the database's queue.
    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws(StoreError) -> T) async throws(StoreError) -> T {
        try await onQueue { () throws(StoreError) in try self.write(body) }
    }

    /// `read` on the database's queue.
    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws(StoreError) -> T) async throws(StoreError) -> T {
        try await onQueue { () throws(StoreError) in try self.read(body) }
    }

    /// Runs `work` on the database's serial queue and returns its result.
    public func onQueue<T: Sendable>(_ work: @escaping @Sendable () throws(StoreError) -> T) async throws(StoreError) -> T {
        let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: Result { () throws(StoreError) in try work() }) }
        }
        return try result.get()
    }
}
