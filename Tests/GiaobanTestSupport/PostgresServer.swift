import Foundation
public import GiaobanStore

/// A throwaway PostgreSQL server for the tests: a new cluster in a temporary directory,
/// listening on a free port of 127.0.0.1 (and a unix socket in the same directory), with
/// `fsync=off` since the tests never outlive the server. PostgreSQL refuses to run as root,
/// so as root its programs run as the `postgres` user of Debian's package (`runuser`).
/// One server serves the whole test run (each test takes a database of its own); a watchdog
/// stops it and removes the directory once the test process is gone.
public struct PostgresServer: Sendable {
    /// The directory holding the cluster (`data/`), the socket and the log.
    public let directory: String
    /// The TCP port on 127.0.0.1.
    public let port: Int

    /// Why the server could not be started or used.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public let description: String
    }

    /// The server of this test run, started at first use.
    public static func shared() throws -> PostgresServer { try started.get() }

    /// The server of this test run, started at first use on a thread of its own: a test that
    /// waits here (initdb and pg_ctl take seconds, longer on a busy machine) holds none of the
    /// cooperative pool's threads, as many as the machine has cores, which every other test
    /// running in parallel in the process needs.
    public static func start() async throws -> PostgresServer {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try shared() }) }.start()
        }
    }

    private static let started = Result { () throws -> PostgresServer in try PostgresServer() }

    /// A URL for database `name` as the superuser (trust authentication on 127.0.0.1).
    public func url(_ name: String) -> String { "postgresql://postgres@127.0.0.1:\(port)/\(name)" }

    /// A new empty database; its URL.
    public func createDatabase() throws -> String {
        let name = "giaoban_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try PostgresDatabase(url: url("postgres"), migrations: [])
        try admin.read { session throws(StoreError) in try session.execute("CREATE DATABASE \(name)") }
        return url(name)
    }

    /// Runs `sql` as the superuser in the maintenance database (outside any transaction).
    public func administer(_ sql: String) throws {
        let admin = try PostgresDatabase(url: url("postgres"), migrations: [])
        try admin.read { session throws(StoreError) in try session.execute(sql) }
    }

    private init() throws {
        let binaries = try Self.binaries()
        let runAs = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        directory = NSTemporaryDirectory() + "giaoban-pg-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        if getuid() == 0 {
            guard let user = getpwnam("postgres") else {
                throw Failure(description: "no 'postgres' user to run PostgreSQL as (root is refused): run scripts/setup.sh --test")
            }
            guard chown(directory, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else {
                throw Failure(description: "cannot hand \(directory) to the postgres user: errno \(errno)")
            }
        }
        port = try Self.freePort()
        let data = directory + "/data"
        try Self.run(runAs + [binaries + "/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                              "--locale=C", "--no-sync"])
        let options = "-h 127.0.0.1 -p \(port) -k \(directory) -c fsync=off -c full_page_writes=off"
        try Self.run(runAs + [binaries + "/pg_ctl", "-D", data, "-l", directory + "/server.log", "-o", options, "-w", "start"])
        // Stops the server and removes the directory when this process is gone, however it ends.
        let stop = (runAs + [binaries + "/pg_ctl", "-D", data, "-m", "immediate", "stop"]).map { "'\($0)'" }.joined(separator: " ")
        _ = try Self.spawn(["/bin/sh", "-c", "while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done; \(stop); rm -rf '\(directory)'"],
                           output: "/dev/null")
    }

    /// The bin directory of the newest PostgreSQL under /usr/lib/postgresql.
    static func binaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { FileManager.default.isExecutableFile(atPath: "\(root)/\($0)/bin/pg_ctl") }
            .sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
        guard let newest = versions.last else {
            throw Failure(description: "the PostgreSQL tests need a PostgreSQL server (no \(root)/*/bin/pg_ctl): run scripts/setup.sh --test")
        }
        return "\(root)/\(newest)/bin"
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw Failure(description: "cannot find a free port on 127.0.0.1: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs `arguments` and waits; its output is part of the error when it fails.
    static func run(_ arguments: [String]) throws {
        let log = NSTemporaryDirectory() + "giaoban-pg-run-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: log) }
        let pid = try spawn(arguments, output: log)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw Failure(description: "\(arguments.joined(separator: " ")) failed (wait status \(status)): \(text)")
        }
    }

    /// Starts `arguments` in `/` with no input and both outputs to the file `output`; its pid.
    /// posix_spawn and waitpid rather than Foundation's Process, whose waitUntilExit can miss
    /// the exit of a child when called from a test task (the test run then hangs).
    static func spawn(_ arguments: [String], output: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the test process is inherited: the server outlives the spawn, and a
        // socket it held open (another test's WebSocket, say) would never close.
        // (glibc 2.34's posix_spawn_file_actions_addclosefrom_np, not visible to Swift's Glibc.)
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let closeFrom = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(closeFrom, to: CloseFrom.self)(&actions, 3)
        }
        // The test's working directory may be closed to the postgres user.
        let argv = (["/bin/sh", "-c", "cd / && exec \"$@\"", "sh"] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
        guard rc == 0 else { throw Failure(description: "cannot start \(arguments[0]): error \(rc)") }
        return pid
    }
}
