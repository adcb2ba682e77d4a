import Foundation
@testable import GiaobanStore
import Testing
import GiaobanTestSupport

/// The SQL session both backends offer: values, parameters and errors.
@Suite("SQL sessions", .postgresStarted)
struct SQLSessionTests {
    static let table = Migration(version: 1, name: "samples", sql: """
        CREATE TABLE samples (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            i  INTEGER,
            r  REAL,
            s  TEXT,
            b  BLOB
        );
        """)

    static let samples: [[SQLValue]] = [
        [.integer(.max), .real(0.1), .text("Đường QL1A — ùn tắc 🚧 'nặng' \"x\" ?"), .blob([0, 1, 0, 255, 0])],
        [.integer(.min), .real(-2.5e300), .text(""), .blob([])],
        [.integer(0), .real(.pi), .text("Hà Nội"), .blob(Array(0...255))],
        [.integer(-1), .real(1e-300), .text("a\\b\\x00"), .blob([0])],
        [.null, .null, .null, .null],
        [.integer(1 << 53 + 1), .real(.greatestFiniteMagnitude), .text("x"), .null],
    ]

    /// A new database on `backend` with the samples table, and its store to clean up.
    static func open(_ backend: StoreBackend, migrations: [Migration] = [table]) throws -> (TemporaryStore, any RecordDatabase) {
        let temp = try TemporaryStore(backend)
        return (temp, try temp.open(migrations: migrations))
    }

    @Test("integers at the Int64 limits, doubles, UTF-8 text, blobs with zero bytes and NULLs round-trip",
          arguments: StoreBackend.allCases)
    func values(_ backend: StoreBackend) throws {
        let (temp, database) = try Self.open(backend)
        defer { temp.cleanup() }
        let ids = try database.write { session throws(StoreError) in
            try Self.samples.map { row throws(StoreError) in
                try session.scalar("INSERT INTO samples (i, r, s, b) VALUES (?, ?, ?, ?) RETURNING id", row)
            }
        }
        #expect(ids.allSatisfy { if case .integer = $0 { true } else { false } })
        let back = try database.read { session throws(StoreError) in
            try session.rows("SELECT i, r, s, b FROM samples ORDER BY id", [])
        }
        #expect(back == Self.samples)
    }

    @Test("run counts the rows changed; '?' in literals and comments is not a parameter",
          arguments: StoreBackend.allCases)
    func runAndLiterals(_ backend: StoreBackend) throws {
        let (temp, database) = try Self.open(backend)
        defer { temp.cleanup() }
        let outcomes = try database.write { session throws(StoreError) in
            for i in 1...5 { try session.run("INSERT INTO samples (i, s) VALUES (?, 'what?')", [.integer(Int64(i))]) }
            return [
                .integer(Int64(try session.run("UPDATE samples SET s = ? WHERE i > ? -- really?", [.text("it's?"), .integer(2)]))),
                .integer(Int64(try session.run("DELETE FROM samples WHERE i > ?", [.integer(99)]))),
                try session.scalar("SELECT COUNT(*) FROM samples WHERE s = 'it''s?' AND i > ?", [.integer(3)]),
                try session.scalar("SELECT SUM(i) FROM samples /* ? */ WHERE s = ?", [.text("what?")]),
            ] as [SQLValue?]
        }
        #expect(outcomes == [.integer(3), .integer(0), .integer(2), .integer(3)])
    }

    @Test("a NULL tested with IS NULL is written CAST(? AS TEXT) and works on both",
          arguments: StoreBackend.allCases)
    func castNull(_ backend: StoreBackend) throws {
        let (temp, database) = try Self.open(backend)
        defer { temp.cleanup() }
        let counts = try database.write { session throws(StoreError) in
            try session.run("INSERT INTO samples (s) VALUES (?), (?)", [.text("a"), .text("b")])
            return try [SQLValue.null, .text("a")].map { filter throws(StoreError) in
                try session.scalar("SELECT COUNT(*) FROM samples WHERE CAST(? AS TEXT) IS NULL OR s = ?", [filter, filter])
            }
        }
        #expect(counts == [.integer(2), .integer(1)])
    }

    @Test("a statement the database rejects is a statement error with its message", arguments: StoreBackend.allCases)
    func badSQL(_ backend: StoreBackend) throws {
        let (temp, database) = try Self.open(backend, migrations: [])
        defer { temp.cleanup() }
        #expect {
            try database.read { session throws(StoreError) in _ = try session.rows("SELECT * FROM missing_table", []) }
        } throws: { error in
            guard let error = error as? StoreError, error.reason == .statement else { return false }
            return error.message.contains("missing_table")
                && (backend == .sqlite || error.message.contains("does not exist (SQLSTATE 42P01)"))
        }
        // The failed write rolled back; the connection still works.
        #expect(throws: StoreError.self) {
            try database.write { session throws(StoreError) in try session.execute("CREATE TABLE t (x INTEGER); SELEC 1") }
        }
        #expect(try database.read { session throws(StoreError) in try session.scalar("SELECT 1 + 1") } == .integer(2))
    }

    @Test("two handles on one database (two nodes) ingest the same identifiers: one row each",
          arguments: StoreBackend.allCases)
    func twoNodes(_ backend: StoreBackend) async throws {
        let temp = try TemporaryStore(backend)
        defer { temp.cleanup() }
        let nodes = [IncidentStore(database: try temp.open()), IncidentStore(database: try temp.open())]
        let results = try await withThrowingTaskGroup(of: (String, Int64, Bool).self) { group in
            for i in 0..<40 {
                group.addTask {
                    let identifier = "n-\(i % 10)"
                    let outcome = try await nodes[i % 2].ingest(IncidentStoreTests.incident(identifier))
                    return (identifier, outcome.id, outcome.created)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter(\.2).count == 10)
        let ids = Dictionary(grouping: results, by: \.0).mapValues { Set($0.map(\.1)) }
        #expect(ids.count == 10 && ids.values.allSatisfy { $0.count == 1 })
    }
}

/// What only PostgreSQL has: connections, URLs, concurrent migrations, parameter typing.
@Suite("PostgreSQL database", .postgresStarted)
struct PostgresDatabaseTests {
    @Test("nodes opening a new database together apply the migrations once")
    func concurrentMigrations() async throws {
        let url = try PostgresServer.shared().createDatabase()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { _ = try PostgresDatabase(url: url) } }
            try await group.waitForAll()
        }
        let database = try PostgresDatabase(url: url)
        #expect(try database.appliedMigrations() == Migration.all.map(\.version))
        #expect(database.dialect == .postgresql && database.location == url)
    }

    @Test("a server that is not there is an open error naming it, with libpq's reason")
    func unreachable() throws {
        let port = try PostgresServer.freePort()
        #expect {
            _ = try PostgresDatabase(url: "postgresql://giaoban:s3cret@127.0.0.1:\(port)/giaoban")
        } throws: { error in
            let text = "\(error)"
            return (error as? StoreError)?.reason == .open && text.contains("cannot connect to postgresql://giaoban:***@127.0.0.1:\(port)/giaoban")
                && text.contains("refused") && !text.contains("s3cret")
        }
    }

    @Test("a database that does not exist and a malformed URL are open errors")
    func wrongDatabase() throws {
        let server = try PostgresServer.shared()
        #expect {
            _ = try PostgresDatabase(url: server.url("no_such_db"))
        } throws: { error in
            (error as? StoreError)?.reason == .open && "\(error)".contains("database \"no_such_db\" does not exist")
        }
        #expect {
            _ = try PostgresDatabase(url: "postgresql://[::1")
        } throws: { error in
            (error as? StoreError)?.reason == .open && "\(error)".contains("cannot connect to postgresql://[::1")
        }
    }

    @Test("a connection the server dropped is re-established before the next transaction")
    func reconnect() throws {
        let server = try PostgresServer.shared()
        let url = try server.createDatabase()
        let store = IncidentStore(database: try PostgresDatabase(url: url))
        _ = try store.ingest(IncidentStoreTests.incident("before"))
        let name = String(url.split(separator: "/").last!)
        try server.administer("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)'")
        #expect(try store.ingest(IncidentStoreTests.incident("after")).created)
        try server.administer("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)'")
        #expect(try store.list(limit: 10).items.map(\.record.identifier) == ["before", "after"])
    }

    @Test("synchronous_commit = off is refused at open")
    func asynchronousCommit() throws {
        let server = try PostgresServer.shared()
        let url = try server.createDatabase()
        let name = String(url.split(separator: "/").last!)
        try server.administer("ALTER DATABASE \(name) SET synchronous_commit = off")
        #expect {
            _ = try PostgresDatabase(url: url)
        } throws: { error in
            (error as? StoreError)?.reason == .open && "\(error)".contains("synchronous_commit = off")
        }
    }

    @Test("an untyped NULL with no context fails with PostgreSQL's reason (write CAST(? AS TEXT))")
    func untypedParameter() throws {
        let database = try PostgresDatabase(url: try PostgresServer.shared().createDatabase(), migrations: [])
        #expect {
            try database.read { session throws(StoreError) in _ = try session.rows("SELECT ? IS NULL", [.null]) }
        } throws: { error in
            "\(error)".contains("could not determine data type of parameter $1")
        }
        let typed = try database.read { session throws(StoreError) in
            try session.rows("SELECT ? IS NULL, ?, ? + ?", [.integer(5), .real(0.5), .integer(2), .integer(3)])
        }
        #expect(typed == [[.integer(0), .real(0.5), .integer(5)]])
    }

    @Test("? becomes $n outside literals, quoted names and comments", arguments: [
        ("SELECT ?, ?", "SELECT $1, $2", 2),
        ("SELECT 'a?''?', \"b?\" FROM t WHERE x = ?", "SELECT 'a?''?', \"b?\" FROM t WHERE x = $1", 1),
        ("SELECT ? -- why?\n, ? /* ? */ , ?", "SELECT $1 -- why?\n, $2 /* ? */ , $3", 3),
        ("SELECT 1", "SELECT 1", 0),
    ])
    func placeholders(_ sql: String, _ expected: String, _ count: Int) {
        let (text, n) = PostgresSession.numberedParameters(sql)
        #expect(text == expected && n == count)
    }

    @Test("passwords are redacted from URLs and conninfo strings", arguments: [
        ("postgresql://giaoban:s3cret@db1:5432/giaoban", "postgresql://giaoban:***@db1:5432/giaoban"),
        ("postgres://u@db1/giaoban?sslmode=require&password=s3cret", "postgres://u@db1/giaoban?sslmode=require&password=***"),
        ("host=db1 user=giaoban password='s3 cr\\'et' dbname=giaoban", "host=db1 user=giaoban password=*** dbname=giaoban"),
        ("host=db1 password = s3cret", "host=db1 password = ***"),
        ("postgresql://db1/giaoban", "postgresql://db1/giaoban"),
    ])
    func redaction(_ url: String, _ expected: String) {
        #expect(PostgresDatabase.redacted(url) == expected)
    }
}
