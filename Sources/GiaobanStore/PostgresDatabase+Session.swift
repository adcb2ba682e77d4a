internal import CPostgres
import Foundation

/// The SQL session over one libpq connection. Reachable only through `PostgresDatabase.read` /
/// `write`, which hold the database's lock around every use.
///
/// Parameters: each `?` outside quotes and comments becomes `$1…$n`. Integers are sent as
/// `int8`, reals as `float8` (shortest text that round-trips), blobs as binary `bytea`; text
/// and NULL are sent untyped, so PostgreSQL takes the type from where they are used (a TEXT
/// column, a comparison). A parameter with no such context (`? IS NULL` alone, `SELECT ?`)
/// fails with "could not determine data type": write `CAST(? AS TEXT)` there.
/// Results: int2/int4/int8 and whole `numeric` values are integers, float4/float8 and other
/// `numeric` values reals, `bool` 1 or 0, `bytea` blobs, NULL null, anything else text.
final class PostgresSession: SQLSession {
    let connection: OpaquePointer
    /// The redacted conninfo or URL, for errors.
    let location: String

    init(connection: OpaquePointer, location: String) {
        self.connection = connection
        self.location = location
    }

    /// Every row `sql` returns with `values` bound.
    func rows(_ sql: String, _ values: [SQLValue]) throws(StoreError) -> [[SQLValue]] {
        let result = try execute(sql, values)
        defer { PQclear(result) }
        let columns = PQnfields(result)
        let types = (0..<columns).map { PQftype(result, $0) }
        return (0..<PQntuples(result)).map { row in
            (0..<columns).map { column in Self.value(result, row, column, type: types[Int(column)]) }
        }
    }

    /// Runs `sql` with `values` bound; the number of rows it changed (PQcmdTuples).
    @discardableResult
    func run(_ sql: String, _ values: [SQLValue]) throws(StoreError) -> Int {
        let result = try execute(sql, values)
        defer { PQclear(result) }
        return Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    /// Runs one or more statements without parameters (DDL), in one round trip.
    func execute(_ sql: String) throws(StoreError) {
        PQclear(try check(PQexec(connection, sql), sql))
    }

    /// `BEGIN`, `body`, `COMMIT`; `ROLLBACK` when anything fails. A connection that is broken
    /// before BEGIN, or breaks at BEGIN, is re-established once and BEGIN retried.
    func transaction<T>(_ body: (PostgresSession) throws(StoreError) -> T) throws(StoreError) -> T {
        try reconnectIfBroken()
        do throws(StoreError) { try execute("BEGIN") } catch {
            guard PQstatus(connection) != CONNECTION_OK else { throw error }
            try reconnectIfBroken()
            try execute("BEGIN")
        }
        return try committing(body)
    }

    /// Re-establishes the connection (same parameters) when libpq reports it broken.
    func reconnectIfBroken() throws(StoreError) {
        guard PQstatus(connection) != CONNECTION_OK else { return }
        PQreset(connection)
        guard PQstatus(connection) == CONNECTION_OK else {
            throw StoreError(.open, "lost the connection to \(location) and could not reconnect: \(Self.connectionMessage(connection))")
        }
    }

    /// Sends `sql` with `values` as parameters ($1…$n) and returns the successful result.
    private func execute(_ sql: String, _ values: [SQLValue]) throws(StoreError) -> OpaquePointer {
        let (text, count) = Self.numberedParameters(sql)
        guard count == values.count else {
            throw StoreError(.statement, "'\(sql.prefix(60))' has \(count) parameters, given \(values.count)")
        }
        try SQLValue.refuseNUL(values)
        var types: [Oid] = [], lengths: [Int32] = [], formats: [Int32] = []
        var buffers: [UnsafeMutablePointer<CChar>?] = []
        defer { buffers.forEach { $0?.deallocate() } }
        for value in values {
            let bytes: [UInt8]?
            switch value {
            case .null: bytes = nil; types.append(0)
            case .integer(let i): bytes = Array(String(i).utf8); types.append(Self.int8)
            case .real(let d): bytes = Array("\(d)".utf8); types.append(Self.float8)
            case .text(let s): bytes = Array(s.utf8); types.append(0)
            case .blob(let b): bytes = b; types.append(Self.bytea)
            }
            if case .blob = value { formats.append(1) } else { formats.append(0) }
            lengths.append(Int32(bytes?.count ?? 0))
            // Text parameters are read up to a NUL, so every buffer gets one after its bytes.
            buffers.append(bytes.map { bytes in
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
                bytes.withUnsafeBytes { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                buffer[bytes.count] = 0
                return buffer
            })
        }
        let pointers = buffers.map { UnsafePointer($0) }
        let result = PQexecParams(connection, text, Int32(values.count), types, pointers, lengths, formats, 0)
        return try check(result, sql)
    }

    /// `result` when it reports success; otherwise clears it and throws PostgreSQL's message.
    private func check(_ result: OpaquePointer?, _ sql: String) throws(StoreError) -> OpaquePointer {
        guard let result else {
            throw StoreError(.statement, "cannot run '\(sql.prefix(60))': \(Self.connectionMessage(connection))")
        }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY else {
            let message = Self.resultMessage(result) ?? Self.connectionMessage(connection)
            PQclear(result)
            throw StoreError(.statement, "cannot run '\(sql.prefix(60))': \(message)")
        }
        return result
    }

    /// The server's primary message and SQLSTATE for a failed result, on one line.
    static func resultMessage(_ result: OpaquePointer) -> String? {
        guard let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))) else { return nil }
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { " (SQLSTATE \(String(cString: $0)))" } ?? ""
        return oneLine(String(cString: primary)) + state
    }

    /// libpq's message for the connection's last failure, on one line.
    static func connectionMessage(_ connection: OpaquePointer) -> String {
        let text = PQerrorMessage(connection).map { oneLine(String(cString: $0)) } ?? ""
        return text.isEmpty ? "no message from libpq (connection status \(PQstatus(connection).rawValue))" : text
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
    }

    /// `sql` with every `?` outside single-quoted literals, double-quoted names and comments
    /// numbered `$1…$n`, and n.
    static func numberedParameters(_ sql: String) -> (String, Int) {
        var out = "", count = 0
        var quote: Character? = nil
        var lineComment = false, blockComment = false
        var previous: Character = " "
        for c in sql {
            var appended = String(c)
            if lineComment {
                if c == "\n" { lineComment = false }
            } else if blockComment {
                if previous == "*" && c == "/" { blockComment = false; previous = " "; out.append(c); continue }
            } else if let open = quote {
                if c == open { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if previous == "-" && c == "-" {
                lineComment = true
            } else if previous == "/" && c == "*" {
                blockComment = true
            } else if c == "?" {
                count += 1
                appended = "$\(count)"
            }
            out += appended
            previous = c
        }
        return (out, count)
    }

    static let int8: Oid = 20, float8: Oid = 701, bytea: Oid = 17

    /// Column `column` of row `row` as a value, by the column's type OID (text results).
    static func value(_ result: OpaquePointer, _ row: Int32, _ column: Int32, type: Oid) -> SQLValue {
        if PQgetisnull(result, row, column) != 0 { return .null }
        let pointer = PQgetvalue(result, row, column)!
        switch type {
        case 17: // bytea, in the server's text form (hex or escape)
            var count = 0
            guard let bytes = PQunescapeBytea(UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), &count) else {
                return .null
            }
            defer { PQfreemem(bytes) }
            return .blob(Array(UnsafeBufferPointer(start: bytes, count: count)))
        default:
            let text = String(cString: pointer)
            switch type {
            case 20, 21, 23: return Int64(text).map(SQLValue.integer) ?? .text(text)
            case 700, 701: return Double(text).map(SQLValue.real) ?? .text(text)
            case 1700: return Int64(text).map(SQLValue.integer) ?? Double(text).map(SQLValue.real) ?? .text(text)
            case 16: return .integer(text == "t" ? 1 : 0)
            default: return .text(text)
            }
        }
    }
}
