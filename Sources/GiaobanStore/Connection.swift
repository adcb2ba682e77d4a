internal import CSQLite

/// One open SQLite connection with a cache of prepared statements. Reachable only through
/// `Database.read` / `Database.write`, which hold the database's lock around every use.
public final class Connection: SQLSession {
    let handle: OpaquePointer
    private var statements: [String: Statement] = [:]

    init(handle: OpaquePointer) { self.handle = handle }

    /// The prepared statement for `sql`, compiled once per connection.
    public func statement(_ sql: String) throws(StoreError) -> Statement {
        if let cached = statements[sql] { return cached }
        let statement = try Statement(database: handle, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Every row of `sql` with `values` bound (the statement is prepared once and cached).
    public func rows(_ sql: String, _ values: [SQLValue]) throws(StoreError) -> [[SQLValue]] {
        try statement(sql).rows(values)
    }

    /// Runs `sql` with `values` bound; the number of rows it changed.
    @discardableResult
    public func run(_ sql: String, _ values: [SQLValue]) throws(StoreError) -> Int {
        try statement(sql).run(values)
        return changes
    }

    /// Runs one or more statements that take no parameters and return no rows (DDL, pragmas).
    public func execute(_ sql: String) throws(StoreError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        defer { sqlite3_free(error) }
        guard rc == SQLITE_OK else {
            let detail = error.map { String(cString: $0) } ?? Self.message(handle, rc)
            throw StoreError(.statement, "cannot run '\(sql.prefix(60))': \(detail)")
        }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// The rowid of the last successful INSERT.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Drops every cached statement (before closing).
    func finalizeStatements() { statements.removeAll() }

    /// SQLite's message for the connection's last error, with the result code.
    static func message(_ handle: OpaquePointer?, _ rc: Int32) -> String {
        let text = handle.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
        return "\(text) (code \(rc))"
    }
}
