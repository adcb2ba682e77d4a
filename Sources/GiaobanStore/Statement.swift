internal import CSQLite

/// A value bound to a statement parameter or read from a result column.
public enum SQLValue: Sendable, Equatable {
    /// SQL NULL.
    case null
    /// A 64-bit integer.
    case integer(Int64)
    /// A double.
    case real(Double)
    /// UTF-8 text.
    case text(String)
    /// Bytes (BLOB in SQLite, BYTEA in PostgreSQL).
    case blob([UInt8])
}

/// A prepared statement on one connection. Only `Connection` creates it, and only while the
/// connection's lock is held, so it is never shared between threads.
public final class Statement {
    let handle: OpaquePointer
    let database: OpaquePointer
    let sql: String

    init(database: OpaquePointer, sql: String) throws(StoreError) {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(database, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            sqlite3_finalize(stmt)
            throw StoreError(.statement, "cannot prepare '\(sql.prefix(60))': \(Connection.message(database, rc))")
        }
        self.handle = stmt
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Binds `values` to parameters 1…n, after clearing earlier bindings.
    public func bind(_ values: [SQLValue]) throws(StoreError) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        try SQLValue.refuseNUL(values)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(handle, index)
            case .integer(let i): rc = sqlite3_bind_int64(handle, index, i)
            case .real(let d): rc = sqlite3_bind_double(handle, index, d)
            case .text(let s):
                let length = Int32(s.utf8.count)
                rc = s.withCString { giaoban_sqlite3_bind_text(handle, index, $0, length) }
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes { giaoban_sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count)) }
            }
            guard rc == SQLITE_OK else { throw failure("cannot bind parameter \(index)", rc) }
        }
    }

    /// Advances to the next row: true when a row is available, false when the statement is done.
    public func step() throws(StoreError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            sqlite3_reset(handle)
            throw failure("cannot run '\(sql.prefix(60))'", rc)
        }
    }

    /// Runs the statement to completion, ignoring rows.
    public func run(_ values: [SQLValue] = []) throws(StoreError) {
        try bind(values)
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Every row of the statement with `values` bound, each as its columns' values.
    public func rows(_ values: [SQLValue] = []) throws(StoreError) -> [[SQLValue]] {
        try bind(values)
        var out: [[SQLValue]] = []
        while try step() { out.append((0..<columnCount).map(column)) }
        sqlite3_reset(handle)
        return out
    }

    /// The number of columns of a result row.
    public var columnCount: Int { Int(sqlite3_column_count(handle)) }

    /// Column `index` (from 0) of the current row.
    public func column(_ index: Int) -> SQLValue {
        let i = Int32(index)
        switch sqlite3_column_type(handle, i) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, i))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, i))
        case SQLITE_NULL: return .null
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, i))
            guard count > 0, let bytes = sqlite3_column_blob(handle, i) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default:
            guard let text = sqlite3_column_text(handle, i) else { return .null }
            return .text(String(cString: text))
        }
    }

    func failure(_ what: String, _ rc: Int32) -> StoreError {
        StoreError(.statement, "\(what): \(Connection.message(database, rc))")
    }
}
