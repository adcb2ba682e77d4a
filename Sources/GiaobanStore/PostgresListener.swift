internal import CPostgres
import Foundation
public import Synchronization

/// A dedicated libpq connection that `LISTEN`s on one channel and hands every notification's
/// payload to `deliver`, on its own thread (PQsocket + poll + PQconsumeInput + PQnotifies).
/// When the connection drops it is re-established with backoff (0.1 s doubling to 5 s); each
/// time `LISTEN` is in place again `deliver` gets `.listening(reconnected: true)`, so the owner
/// can read back what changed while nothing was heard. The store's own connection is never
/// used for this: a session waiting in `poll` would hold the database's lock.
public final class PostgresListener: Sendable {
    /// What the listener reports, in the order it happened.
    public enum Event: Sendable, Equatable {
        /// `LISTEN` is in place; `reconnected` after a drop (notifications may have been missed).
        case listening(reconnected: Bool)
        /// A notification's payload.
        case notification(String)
        /// The connection was lost or could not be made; the listener retries.
        case lost(String)
    }

    /// The channel listened on.
    public let channel: String
    private let url: String
    private let deliver: @Sendable (Event) -> Void
    private let stopped = Atomic<Bool>(false)
    private let pid = Atomic<Int32>(0)
    /// While true, a dropped connection is not re-established (tests hold it to post during an outage).
    package let holdReconnect = Atomic<Bool>(false)
    /// How many times `LISTEN` was put in place (1 after the first connection).
    package let connections = Atomic<Int>(0)
    /// How many times the connection was lost or could not be made.
    package let losses = Atomic<Int>(0)

    /// Starts listening on `channel` (an SQL identifier: letters, digits, `_`) over a new
    /// connection to `url`.
    public init(url: String, channel: String, deliver: @escaping @Sendable (Event) -> Void) {
        self.url = url
        self.channel = channel
        self.deliver = deliver
        let thread = Thread { [self] in run() }
        thread.name = "giaoban.listen.\(channel)"
        thread.start()
    }

    /// The server process id of the listening connection (0 while not connected), for
    /// `pg_terminate_backend` in tests and `pg_stat_activity` in operations.
    public var backendPID: Int32 { pid.load(ordering: .relaxed) }

    /// Stops the thread (within about 250 ms) and closes the connection.
    public func stop() { stopped.store(true, ordering: .relaxed) }

    private func run() {
        var delay = 0.1
        var reconnect = false
        while !stopped.load(ordering: .relaxed) {
            if let connection = connect() {
                delay = 0.1
                connections.add(1, ordering: .relaxed)
                deliver(.listening(reconnected: reconnect))
                let reason = listen(connection)
                pid.store(0, ordering: .relaxed)
                PQfinish(connection)
                guard let reason else { return }
                losses.add(1, ordering: .relaxed)
                deliver(.lost(reason))
            }
            reconnect = true
            Thread.sleep(forTimeInterval: delay)
            delay = min(delay * 2, 5)
            while holdReconnect.load(ordering: .relaxed), !stopped.load(ordering: .relaxed) { Thread.sleep(forTimeInterval: 0.02) }
        }
    }

    /// A connection with `LISTEN` in place, or nil (reported) when it could not be made.
    private func connect() -> OpaquePointer? {
        let keywords = ["connect_timeout", "application_name", "client_encoding", "keepalives", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "dbname"]
        let values = ["10", "giaoban-listen", "UTF8", "1", "30", "10", "3", url]
        guard let connection = withCStrings(keywords, { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }) else {
            losses.add(1, ordering: .relaxed)
            deliver(.lost("out of memory"))
            return nil
        }
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        var failure: String? = nil
        if PQstatus(connection) != CONNECTION_OK {
            failure = PostgresSession.connectionMessage(connection)
        } else if let result = PQexec(connection, "LISTEN \"\(channel)\"") {
            if PQresultStatus(result) != PGRES_COMMAND_OK {
                failure = PostgresSession.resultMessage(result) ?? PostgresSession.connectionMessage(connection)
            }
            PQclear(result)
        } else {
            failure = PostgresSession.connectionMessage(connection)
        }
        if let failure {
            PQfinish(connection)
            losses.add(1, ordering: .relaxed)
            deliver(.lost(failure))
            return nil
        }
        pid.store(PQbackendPID(connection), ordering: .relaxed)
        return connection
    }

    /// Waits for notifications until the connection breaks (its reason) or `stop` (nil).
    private func listen(_ connection: OpaquePointer) -> String? {
        var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
        while !stopped.load(ordering: .relaxed) {
            descriptor.revents = 0
            let ready = poll(&descriptor, 1, 250)
            if ready < 0, errno != EINTR { return "poll failed: errno \(errno)" }
            guard ready > 0 else { continue }
            guard PQconsumeInput(connection) == 1, PQstatus(connection) == CONNECTION_OK else {
                return PostgresSession.connectionMessage(connection)
            }
            while let notice = PQnotifies(connection) {
                let payload = String(cString: notice.pointee.extra)
                PQfreemem(notice)
                deliver(.notification(payload))
            }
        }
        return nil
    }
}
