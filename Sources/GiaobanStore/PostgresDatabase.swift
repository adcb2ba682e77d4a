internal import CPostgres
public import Foundation

/// A PostgreSQL database for durable records, shared by several Giaoban nodes. One libpq
/// connection serves every caller of this node, one at a time (like `Database`); `write` is
/// `BEGIN … COMMIT` and returns after COMMIT, which the server makes durable unless
/// `synchronous_commit` is off (refused at open). The migrations are applied at open in one
/// transaction that holds an advisory lock, so nodes starting together migrate once.
public final class PostgresDatabase: RecordDatabase, @unchecked Sendable {
    // @unchecked: every use of `session` (and its connection) happens with `lock` held.
    private let lock = NSLock()
    private let session: PostgresSession
    /// PostgreSQL's dialect.
    public let dialect = SQLDialect.postgresql
    /// The conninfo string or URL with any password replaced by `***`, for logs and errors.
    public let location: String
    /// The queue the async store methods run on.
    public let queue = DispatchQueue(label: "giaoban.store.postgresql")

    /// The advisory lock key the migrations run under ("giaoban" in ASCII).
    static let migrationLock: Int64 = 0x67_69_61_6f_62_61_6e

    /// Connects to `url` (a libpq conninfo string, `host=db1 dbname=giaoban user=giaoban`, or a
    /// `postgresql://user:password@host:port/dbname` URL) and applies `migrations` that are not
    /// yet recorded. Connection attempts time out after `connectTimeoutSeconds` unless the
    /// URL sets `connect_timeout`; a statement running longer than `statementTimeoutMilliseconds`
    /// fails (`statement_timeout`, 0: no limit) unless the URL sets `options`; TCP keepalives
    /// find a dead server within about a minute, and the next call reconnects.
    public init(url: String, migrations: [Migration] = Migration.all, connectTimeoutSeconds: Int = 10,
                statementTimeoutMilliseconds: Int = 10_000) throws(StoreError) {
        location = Self.redacted(url)
        // Later keywords override earlier ones, so what the URL sets wins over these defaults.
        // `options` is sent at every (re)connection, so the timeout survives `PQreset`.
        let keywords = ["connect_timeout", "application_name", "client_encoding", "options",
                        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "dbname"]
        let values = ["\(connectTimeoutSeconds)", "giaoban", "UTF8", "-c statement_timeout=\(max(0, statementTimeoutMilliseconds))",
                      "1", "30", "10", "3", url]
        let connection: OpaquePointer? = withCStrings(keywords) { k in
            withCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let connection else { throw StoreError(.open, "cannot connect to \(location): out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = PostgresSession.connectionMessage(connection)
            PQfinish(connection)
            throw StoreError(.open, "cannot connect to \(location): \(message)")
        }
        // NOTICEs ("relation … already exists, skipping") would go to stderr; they carry nothing to act on.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        session = PostgresSession(connection: connection, location: location)
        do throws(StoreError) {
            if case .text("off") = try session.scalar("SHOW synchronous_commit") {
                throw StoreError(.open, "\(location) has synchronous_commit = off, so a commit could be lost; set it to on for the database or the giaoban role")
            }
            let runner = MigrationRunner(migrations: migrations, dialect: .postgresql)
            try session.transaction { session throws(StoreError) in
                _ = try session.rows("SELECT pg_advisory_xact_lock(?)", [.integer(Self.migrationLock)])
                try runner.apply(on: session)
            }
        } catch {
            // Every stored property is set, so deinit runs and closes the connection.
            throw error.reason == .statement ? StoreError(.open, "\(location): \(error.message)") : error
        }
    }

    deinit { PQfinish(session.connection) }

    /// The connection's socket (its TCP options can be read with `getsockopt`); -1 when closed.
    func socketDescriptor() -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        return PQsocket(session.connection)
    }

    /// Runs `body` inside `BEGIN … COMMIT`; returns only after COMMIT succeeded. Rolls back if
    /// `body` throws. A connection found broken at BEGIN is re-established once first.
    public func write<T>(_ body: (any SQLSession) throws(StoreError) -> T) throws(StoreError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try session.transaction(body)
    }

    /// Runs `body` with the connection for reads (autocommit: one snapshot per statement).
    /// When the connection breaks, it is re-established and `body` run again, once.
    public func read<T>(_ body: (any SQLSession) throws(StoreError) -> T) throws(StoreError) -> T {
        lock.lock()
        defer { lock.unlock() }
        try session.reconnectIfBroken()
        do throws(StoreError) { return try body(session) } catch {
            guard PQstatus(session.connection) != CONNECTION_OK else { throw error }
            try session.reconnectIfBroken()
            return try body(session)
        }
    }

    /// `url` with its password replaced by `***`: the `user:password@` of a URL, and
    /// `password=` in a conninfo string or a URL's query.
    public static func redacted(_ url: String) -> String {
        var out = url.replacingOccurrences(of: #"(://[^:/@\s]*:)[^@/\s]*@"#, with: "$1***@", options: .regularExpression)
        out = out.replacingOccurrences(of: #"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)"#, with: "$1***",
                                       options: [.regularExpression, .caseInsensitive])
        return out
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the call.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
