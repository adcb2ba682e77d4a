import Foundation
@testable import GiaobanServer
@testable import GiaobanStore
import Testing
import GiaobanTestSupport

/// The records are private to the server's user, and a slow or hung PostgreSQL fails a
/// statement instead of stalling every route (docs/security.md).
@Suite("SecurityStoreTests", .postgresStarted)
struct SecurityStoreTests {
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : nil
    }

    @Test("a new SQLite database and its -wal and -shm files are created 0600 whatever the umask")
    func sqliteFileModes() throws {
        let temp = TemporaryDatabase()
        defer { temp.cleanup() }
        let previous = umask(0o022)
        defer { umask(previous) }
        let database = try Database(path: temp.path)
        try database.write { session throws(StoreError) in try session.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)") }
        for file in [temp.path, temp.path + "-wal", temp.path + "-shm"] {
            #expect(Self.mode(file) == 0o600, "\(file): \(String(Self.mode(file) ?? 0, radix: 8))")
        }
    }

    @Test("an existing database readable by others is made 0600 when opened")
    func sqliteExistingFileTightened() throws {
        let temp = TemporaryDatabase()
        defer { temp.cleanup() }
        do { _ = try Database(path: temp.path) }
        #expect(chmod(temp.path, 0o644) == 0)
        _ = try Database(path: temp.path)
        #expect(Self.mode(temp.path) == 0o600)
    }

    @Test("PostgreSQL sessions carry security.postgresql_statement_timeout_ms (default 10 s)")
    func postgresSettings() throws {
        let url = try PostgresServer.shared().createDatabase()
        var config = GiaobanConfig()
        config.storage.backend = "postgresql"
        config.storage.postgresqlURL = url
        config.security.postgresqlStatementTimeoutMs = 1_500
        let database = try config.storage.openDatabase(statementTimeoutMilliseconds: config.security.postgresqlStatementTimeoutMs)
        #expect(try database.read { session throws(StoreError) in try session.scalar("SHOW statement_timeout") } == .text("1500ms"))
        let defaults = try PostgresDatabase(url: url)
        #expect(try defaults.read { session throws(StoreError) in try session.scalar("SHOW statement_timeout") } == .text("10s"))
    }

    @Test("a statement longer than the timeout fails with PostgreSQL's reason, and the store works afterwards")
    func postgresStatementTimeout() throws {
        let url = try PostgresServer.shared().createDatabase()
        let database = try PostgresDatabase(url: url, migrations: [], statementTimeoutMilliseconds: 100)
        let error = try #require(#expect(throws: StoreError.self) {
            try database.read { session throws(StoreError) in try session.execute("SELECT pg_sleep(30)") }
        })
        #expect(error.message.contains("statement timeout"), "\(error.message)")
        #expect(try database.read { session throws(StoreError) in try session.scalar("SELECT 1") } == .integer(1))
        let inTransaction = try #require(#expect(throws: StoreError.self) {
            try database.write { session throws(StoreError) in try session.execute("SELECT pg_sleep(30)") }
        })
        #expect(inTransaction.message.contains("statement timeout"), "\(inTransaction.message)")
        #expect(try database.write { session throws(StoreError) in try session.scalar("SELECT 2") } == .integer(2))
    }

    @Test("PostgreSQL connections probe a silent server: TCP keepalives after 30 s idle, every 10 s, 3 probes")
    func postgresKeepalives() throws {
        let database = try PostgresDatabase(url: try PostgresServer.shared().createDatabase(), migrations: [])
        let fd = database.socketDescriptor()
        #expect(fd >= 0)
        func option(_ level: Int32, _ name: Int32) -> Int32 {
            var value: Int32 = -1
            var length = socklen_t(MemoryLayout<Int32>.size)
            return getsockopt(fd, level, name, &value, &length) == 0 ? value : -1
        }
        #expect(option(SOL_SOCKET, SO_KEEPALIVE) == 1)
        #expect(option(Int32(IPPROTO_TCP), TCP_KEEPIDLE) == 30, "the kernel's default is 7,200 s")
        #expect(option(Int32(IPPROTO_TCP), TCP_KEEPINTVL) == 10)
        #expect(option(Int32(IPPROTO_TCP), TCP_KEEPCNT) == 3)
    }

    @Test("a connection the server dropped is re-established, with the same statement timeout")
    func postgresReconnect() throws {
        let server = try PostgresServer.shared()
        let url = try server.createDatabase()
        let database = try PostgresDatabase(url: url, migrations: [], statementTimeoutMilliseconds: 2_500)
        let pid = try database.read { session throws(StoreError) in try session.scalar("SELECT pg_backend_pid()") }
        guard case .integer(let backend) = pid else { Issue.record("no backend pid: \(String(describing: pid))"); return }
        try server.administer("SELECT pg_terminate_backend(\(backend))")
        let after = try database.read { session throws(StoreError) in
            [try session.scalar("SELECT pg_backend_pid()"), try session.scalar("SHOW statement_timeout")]
        }
        #expect(after[0] != pid)
        #expect(after[1] == .text("2500ms"))
    }
}
