internal import CPostgres
import Foundation
public import Synchronization

/// One leader among the nodes sharing a PostgreSQL database, for work that should run once for
/// the cluster (the escalation timer): a session-level advisory lock (`pg_try_advisory_lock`)
/// held on a dedicated connection of its own thread. Every node tries to take it every
/// `retry`; the one that holds it is the leader while its connection lives (checked every
/// `retry` with a query). When the leader dies its connection closes, PostgreSQL releases the
/// lock, and another node takes it at its next try: a few seconds at most (a leader that only
/// lost its connection waits three tries before competing again). The lock only saves
/// work: whatever it guards must stay correct with two leaders for an instant (a leader whose
/// connection broke finds out at its next check).
public final class PostgresLeaderLock: Sendable {
    /// The advisory lock's key.
    public let key: Int64
    private let url: String
    private let retry: Duration
    private let leading = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let pid = Atomic<Int32>(0)
    private let changed: @Sendable (Bool) -> Void

    /// The key of the escalation timer's lock ("giaoesca" in ASCII).
    public static let escalationKey: Int64 = 0x6769_616f_6573_6361

    /// Starts trying to lead under `key` over a new connection to `url`; `changed` is told (on
    /// the lock's thread) each time this node becomes or stops being the leader.
    public init(url: String, key: Int64, retry: Duration = .seconds(1), changed: @escaping @Sendable (Bool) -> Void = { _ in }) {
        self.url = url
        self.key = key
        self.retry = retry
        self.changed = changed
        let thread = Thread { [self] in run() }
        thread.name = "giaoban.leader"
        thread.start()
    }

    /// Whether this node holds the lock now.
    public var isLeader: Bool { leading.load(ordering: .acquiring) }

    /// The server process id of the lock's connection (0 while not connected), for
    /// `pg_terminate_backend` in tests.
    public var backendPID: Int32 { pid.load(ordering: .relaxed) }

    /// Gives the lead up (the connection closes) and stops trying, within about `retry`.
    public func stop() { stopped.store(true, ordering: .relaxed) }

    private func set(_ leader: Bool) {
        if leading.exchange(leader, ordering: .acquiringAndReleasing) != leader { changed(leader) }
    }

    private func run() {
        let seconds = Double(retry.components.seconds) + Double(retry.components.attoseconds) * 1e-18
        while !stopped.load(ordering: .relaxed) {
            guard let connection = connect() else {
                Thread.sleep(forTimeInterval: seconds)
                continue
            }
            pid.store(PQbackendPID(connection), ordering: .relaxed)
            // Try for the lock; once held, check the connection at the same pace.
            while !stopped.load(ordering: .relaxed) {
                let query = isLeader ? "SELECT true" : "SELECT pg_try_advisory_lock(\(key))"
                guard let answer = Self.boolean(connection, query) else { break }
                set(answer)
                Thread.sleep(forTimeInterval: seconds)
            }
            let lost = isLeader
            set(false)
            pid.store(0, ordering: .relaxed)
            PQfinish(connection)
            if lost && !stopped.load(ordering: .relaxed) {
                // A leader whose connection broke steps back for a few tries, so that a node
                // still connected takes the lead rather than racing it for the freed lock.
                Thread.sleep(forTimeInterval: 3 * seconds)
            }
        }
        set(false)
    }

    private func connect() -> OpaquePointer? {
        let keywords = ["connect_timeout", "application_name", "client_encoding", "keepalives", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "dbname"]
        let values = ["10", "giaoban-leader", "UTF8", "1", "10", "5", "2", url]
        guard let connection = withCStrings(keywords, { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }) else {
            return nil
        }
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        guard PQstatus(connection) == CONNECTION_OK else {
            PQfinish(connection)
            return nil
        }
        return connection
    }

    /// The one boolean `query` returns; nil when the connection failed.
    private static func boolean(_ connection: OpaquePointer, _ query: String) -> Bool? {
        guard let result = PQexec(connection, query) else { return nil }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK, PQntuples(result) == 1, PQstatus(connection) == CONNECTION_OK else { return nil }
        return String(cString: PQgetvalue(result, 0, 0)) == "t"
    }
}
