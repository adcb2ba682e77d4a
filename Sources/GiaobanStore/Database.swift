internal import CSQLite
public import Foundation

/// A SQLite database file opened for durable records: WAL journal, `synchronous=FULL` (a
/// commit is on disk when `write` returns), a busy timeout, foreign keys on, and the
/// migrations applied at open. One connection serves every caller, one at a time, so writes
/// are serialized and a caller's transaction never interleaves with another's.
public final class Database: RecordDatabase, @unchecked Sendable {
    // @unchecked: every use of `connection` happens with `lock` held.
    private let lock = NSLock()
    private let connection: Connection
    /// The file this database was opened from.
    public let path: String
    /// SQLite's dialect.
    public let dialect = SQLDialect.sqlite
    /// The file, for logs.
    public var location: String { path }
    /// The queue the async store methods run on.
    public let queue = DispatchQueue(label: "giaoban.store.sqlite")

    /// Opens (creating if needed) the database at `path`, creating its directory, configures
    /// durability and applies `migrations` that are not yet recorded.
    public init(path: String, migrations: [Migration] = Migration.all,
                busyTimeoutMilliseconds: Int32 = 5_000) throws(StoreError) {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw StoreError(.open, "cannot create the directory \(directory): \(error.localizedDescription)")
            }
        }
        try Self.restrictPermissions(path)
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = Connection.message(handle, rc)
            sqlite3_close_v2(handle)
            throw StoreError(.open, "cannot open \(path): \(message)")
        }
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        connection = Connection(handle: handle)
        do throws(StoreError) {
            try connection.execute("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
            let mode = try connection.statement("PRAGMA journal_mode = WAL").rows().first?.first
            guard mode == .text("wal") else {
                throw StoreError(.open, "\(path) cannot use the WAL journal (journal_mode is \(String(describing: mode)))")
            }
            let runner = MigrationRunner(migrations: migrations, dialect: .sqlite)
            try connection.transaction { session throws(StoreError) in try runner.apply(on: session) }
        } catch {
            // Every stored property is set, so deinit runs and closes the handle.
            throw error.reason == .statement ? StoreError(.open, "\(path): \(error.message)") : error
        }
    }

    /// Creates the database file with mode 0600 (owner only, like the token secret) and takes
    /// group and other access away from an existing one and its `-wal`/`-shm` files. SQLite
    /// creates the `-wal` and `-shm` files with the database file's mode.
    static func restrictPermissions(_ path: String) throws(StoreError) {
        guard path != ":memory:", !path.isEmpty else { return }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError(.open, "cannot create \(path): \(String(cString: strerror(errno)))") }
        close(fd)
        for file in [path, path + "-wal", path + "-shm"] {
            var info = stat()
            if stat(file, &info) == 0, info.st_mode & 0o077 != 0, chmod(file, info.st_mode & 0o700) != 0 {
                throw StoreError(.open, "cannot make \(file) private (mode 0600): \(String(cString: strerror(errno)))")
            }
        }
    }

    deinit {
        connection.finalizeStatements()
        sqlite3_close_v2(connection.handle)
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`; returns only after COMMIT succeeded
    /// (with `synchronous=FULL`, after the WAL is synced). Rolls back if `body` throws.
    public func write<T>(_ body: (any SQLSession) throws(StoreError) -> T) throws(StoreError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try connection.transaction(body)
    }

    /// Runs `body` with the connection for reads (one consistent snapshot per statement).
    public func read<T>(_ body: (any SQLSession) throws(StoreError) -> T) throws(StoreError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(connection)
    }
}

extension Connection {
    /// `BEGIN IMMEDIATE`, `body`, `COMMIT`; `ROLLBACK` when anything fails.
    func transaction<T>(_ body: (Connection) throws(StoreError) -> T) throws(StoreError) -> T {
        try execute("BEGIN IMMEDIATE")
        return try committing(body)
    }
}
