import Foundation
@testable import GiaobanStore
import Testing
import GiaobanTestSupport

/// One leader among nodes (the escalation timer): an advisory lock on a connection of its own.
@Suite("Leader lock across nodes", .postgresStarted)
struct PostgresLeaderLockTests {
    @Test("of two nodes exactly one leads; its connection killed, the other leads within seconds; stopped, the lead passes back")
    func takeover() async throws {
        let url = try PostgresServer.shared().createDatabase()
        let key = Int64.random(in: 1...Int64.max)
        let a = PostgresLeaderLock(url: url, key: key, retry: .milliseconds(200))
        let b = PostgresLeaderLock(url: url, key: key, retry: .milliseconds(200))
        defer {
            a.stop()
            b.stop()
        }
        try await Self.within(5, "one leader") { a.isLeader || b.isLeader }
        for _ in 0..<10 {
            #expect(!(a.isLeader && b.isLeader), "two leaders at once")
            try await Task.sleep(for: .milliseconds(100))
        }
        let (leader, other) = a.isLeader ? (a, b) : (b, a)
        #expect(!other.isLeader)
        // The leader's connection dies (as when its node is killed): PostgreSQL frees the lock.
        let pid = leader.backendPID
        #expect(pid != 0)
        try PostgresServer.shared().administer("SELECT pg_terminate_backend(\(pid))")
        try await Self.within(5, "the other node to take the lead") { other.isLeader }
        try await Self.within(5, "the old leader to see it lost the lead") { !leader.isLeader || leader.backendPID != pid }
        try await Task.sleep(for: .milliseconds(600))
        #expect(!leader.isLeader, "the old leader, reconnected, does not lead while the other holds the lock")
        // The new leader stops (a graceful shutdown): the first one leads again.
        other.stop()
        try await Self.within(5, "the lead to pass back") { leader.isLeader }
    }

    /// Waits until `condition` holds, at most `seconds`.
    static func within(_ seconds: Double, _ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting for \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
