import Foundation
@testable import GiaobanStore
import Testing
import GiaobanTestSupport

/// One node holds each meeting room at a time (MeetingHomes): claims, renewal, takeover after
/// a lapsed claim with the room's last state, and the list of nodes alive.
@Suite("Meeting room homes", .postgresStarted)
struct MeetingHomesTests {
    static let lease: Int64 = 5_000
    static let grace: Int64 = 15_000

    @Test("the first node to claim holds the room; another is sent there until the claim lapses, then takes it with its seats",
          arguments: StoreBackend.allCases)
    func takeover(_ backend: StoreBackend) async throws {
        let temp = try TemporaryStore(backend)
        let database = try temp.open()
        let a = MeetingHomes(database: database), b = MeetingHomes(database: try temp.open())
        #expect(try await a.claim(meeting: 7, node: "A", url: "http://a", now: 1_000, lease: Self.lease, restoreWithin: Self.grace)
                == MeetingHome(node: "A", url: "http://a"))
        try await a.save(meeting: 7, node: "A", snapshot: #"{"seats":[]}"#)
        // B is sent to A while A's claim holds; A renewing keeps it.
        #expect(try await b.claim(meeting: 7, node: "B", url: "http://b", now: 5_000, lease: Self.lease, restoreWithin: Self.grace)
                == MeetingHome(node: "A", url: "http://a"))
        #expect(try await a.renew(node: "A", url: "http://a", meetings: [7], now: 5_500, lease: Self.lease) == [])
        #expect(try await b.claim(meeting: 7, node: "B", url: "http://b", now: 10_000, lease: Self.lease, restoreWithin: Self.grace).node == "A")
        // A stops renewing (it died): once the claim lapsed B takes the room and A's last state.
        #expect(try await b.claim(meeting: 7, node: "B", url: "http://b", now: 10_501, lease: Self.lease, restoreWithin: Self.grace)
                == MeetingHome(node: "B", url: "http://b", snapshot: #"{"seats":[]}"#))
        // B's next claim is a renewal: no snapshot again. A, back, finds the room gone.
        #expect(try await b.claim(meeting: 7, node: "B", url: "http://b", now: 11_000, lease: Self.lease, restoreWithin: Self.grace).snapshot == "")
        #expect(try await a.renew(node: "A", url: "http://a", meetings: [7], now: 11_000, lease: Self.lease) == [7])
        // An emptied room is given up: the next claim is fresh, with no seats to restore.
        try await b.release(meeting: 7, node: "B")
        #expect(try await a.claim(meeting: 7, node: "A", url: "http://a", now: 12_000, lease: Self.lease, restoreWithin: Self.grace)
                == MeetingHome(node: "A", url: "http://a"))
    }

    @Test("seats of a claim that lapsed longer ago than the seat grace are not restored", arguments: StoreBackend.allCases)
    func staleSeats(_ backend: StoreBackend) async throws {
        let temp = try TemporaryStore(backend)
        let homes = MeetingHomes(database: try temp.open())
        _ = try await homes.claim(meeting: 3, node: "A", url: "http://a", now: 0, lease: Self.lease, restoreWithin: Self.grace)
        try await homes.save(meeting: 3, node: "A", snapshot: "old")
        let late = try await homes.claim(meeting: 3, node: "B", url: "http://b", now: Self.lease + Self.grace + 1, lease: Self.lease,
                                         restoreWithin: Self.grace)
        #expect(late == MeetingHome(node: "B", url: "http://b"))
        // A node that is not the holder cannot overwrite the room's state.
        try await homes.save(meeting: 3, node: "A", snapshot: "stray")
        _ = try await homes.claim(meeting: 3, node: "C", url: "http://c", now: 3 * (Self.lease + Self.grace), lease: Self.lease,
                                  restoreWithin: 10 * Self.grace)
        let row = try homes.database.read { session throws(StoreError) in try session.scalar("SELECT snapshot FROM meeting_homes WHERE meeting_id = 3") }
        #expect(row == .text(""))
    }

    @Test("nodes alive are listed by heartbeat, the asking node first; a node that leaves gives its rooms up", arguments: StoreBackend.allCases)
    func nodes(_ backend: StoreBackend) async throws {
        let temp = try TemporaryStore(backend)
        let homes = MeetingHomes(database: try temp.open())
        _ = try await homes.renew(node: "A", url: "http://a", meetings: [], now: 1_000, lease: Self.lease)
        _ = try await homes.renew(node: "C", url: "http://c", meetings: [], now: 1_000, lease: Self.lease)
        _ = try await homes.renew(node: "B", url: "http://b", meetings: [], now: 9_000, lease: Self.lease)
        #expect(try await homes.liveNodes(since: 0, first: "http://b") == ["http://b", "http://a", "http://c"])
        #expect(try await homes.liveNodes(since: 5_000, first: "http://b") == ["http://b"])
        _ = try await homes.claim(meeting: 1, node: "A", url: "http://a", now: 9_000, lease: Self.lease, restoreWithin: Self.grace)
        try await homes.leave(node: "A")
        #expect(try await homes.liveNodes(since: 0, first: "http://c") == ["http://c", "http://b"])
        #expect(try await homes.claim(meeting: 1, node: "B", url: "http://b", now: 9_001, lease: Self.lease, restoreWithin: Self.grace).node == "B")
    }

    @Test("the stream directory: each node's streams, found from another node while its writer is alive", arguments: StoreBackend.allCases)
    func streams(_ backend: StoreBackend) async throws {
        let temp = try TemporaryStore(backend)
        let directory = StreamDirectory(database: try temp.open())
        try await directory.sync(node: "A", url: "http://a", streams: ["toan-tinh", "huyen-1"], now: 1_000)
        #expect(try await directory.locate("toan-tinh", except: "B", since: 0) == "http://a")
        #expect(try await directory.locate("toan-tinh", except: "A", since: 0) == nil, "a node does not pull from itself")
        #expect(try await directory.locate("toan-tinh", except: "B", since: 2_000) == nil, "a node that stopped writing is not asked")
        // A stream that ended on A is gone; one published again on B is B's.
        try await directory.sync(node: "A", url: "http://a", streams: ["toan-tinh"], now: 3_000)
        #expect(try await directory.locate("huyen-1", except: "C", since: 0) == nil)
        try await directory.sync(node: "B", url: "http://b", streams: ["toan-tinh"], now: 3_500)
        #expect(try await directory.locate("toan-tinh", except: "C", since: 0) == "http://b")
        try await directory.leave(node: "B")
        #expect(try await directory.locate("toan-tinh", except: "C", since: 0) == nil)
    }

    @Test("two nodes claiming one room at the same instant on PostgreSQL: exactly one holds it, and both say the same")
    func race() async throws {
        let url = try PostgresServer.shared().createDatabase()
        for meeting in Int64(1)...20 {
            let a = MeetingHomes(database: try PostgresDatabase(url: url)), b = MeetingHomes(database: try PostgresDatabase(url: url))
            async let first = a.claim(meeting: meeting, node: "A", url: "http://a", now: 1_000, lease: Self.lease, restoreWithin: Self.grace)
            async let second = b.claim(meeting: meeting, node: "B", url: "http://b", now: 1_000, lease: Self.lease, restoreWithin: Self.grace)
            let (x, y) = try await (first, second)
            #expect(x.node == y.node, "meeting \(meeting): A sees \(x.node), B sees \(y.node)")
        }
    }
}
