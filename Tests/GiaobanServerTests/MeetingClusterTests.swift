import Foundation
import GiaobanClient
import GiaobanHub
@testable import GiaobanServer
import GiaobanStore
import Logging
import Testing
import GiaobanTestSupport
import GiaobanAuth

/// Two nodes on one PostgreSQL database hold each meeting room on one node at a time
/// (docs/postgresql.md, "Meetings across nodes"): a participant who opens the room on the other
/// node is sent to the holder; when the holder stops renewing its claim, the other node takes
/// the room over with its seats, and the old holder sends its participants there.
@Suite("Meeting rooms across nodes", .postgresStarted)
struct MeetingClusterTests {
    static let lease: Duration = .seconds(2)

    /// Node A (the fixture's hub) and node B (a second hub on the same database), each with
    /// its relay and control plane, both claiming rooms; `body` gets both servers.
    static func twoNodes(proxy: Bool = false, unreachableA: Bool = false,
                         _ body: @escaping @Sendable (HubFixture, RoomServer, RoomServer) async throws -> Void) async throws {
        let fixture = try await HubFixture(.postgresql)
        defer { fixture.cleanup() }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let clock = fixture.clock
        let other = try await Hub(database: try fixture.temp.open(), tokens: HubFixture.authority, settings: fixture.hub.settings,
                                  logger: logger, clock: { clock.read() })
        try await RoomServer.run(fixture, seatGrace: .seconds(30)) { a, _ in
            try await RoomServer.run(hub: other, now: clock.read(), seatGrace: .seconds(30)) { b, _ in
                // An unreachable node A: the URL it gives the cluster has nothing listening.
                a.rooms.joinCluster(database: fixture.hub.database, node: "node-a", url: unreachableA ? "http://127.0.0.1:9" : a.baseURL,
                                    lease: lease)
                b.rooms.joinCluster(database: other.database, node: "node-b", url: b.baseURL, lease: lease)
                if proxy { b.rooms.proxyRooms(caFile: nil) }
                try await body(fixture, a, b)
                await a.rooms.leaveCluster()
                await b.rooms.leaveCluster()
            }
        }
    }

    static func client(_ server: RoomServer, meeting: Int64, _ subject: String, _ role: Role) -> GiaobanClient.RoomClient {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let client = GiaobanClient.RoomClient(server: server.baseURL, meeting: meeting, token: HubFixture.token(role, subject), logger: logger)
        client.start()
        return client
    }

    @Test("a participant opening the room on the other node is sent to the node holding it; joined lists both nodes")
    func moved() async throws {
        try await Self.twoNodes { _, a, b in
            let chair = Self.client(a, meeting: a.meeting, "officer", .chair)
            try await eventually("the chair seated on node A", within: 10) { chair.view.joins == 1 }
            let commune = Self.client(b, meeting: a.meeting, "xa-a", .commune)
            try await eventually("xa-a seated", within: 10) { commune.view.joins == 1 }
            #expect(commune.view.moves == 1, "one moved followed")
            #expect(commune.view.server == a.baseURL, "xa-a is on node A")
            #expect(commune.view.node == "node-a" && chair.view.node == "node-a")
            try await eventually("one room with both", within: 10) {
                Set(chair.view.participants.map(\.subject)) == ["officer", "xa-a"]
            }
            #expect(b.rooms.rooms.withLock { $0.isEmpty }, "node B opened no room of its own")
            try await eventually("node B counts the seats of the room node A holds", within: 10) {
                await b.rooms.hub.inRoom([a.meeting])[a.meeting] == 2
            }
            #expect(try #require(b.rooms.homes.withLock { $0 }).counters.redirected.load(ordering: .relaxed) == 1)
            #expect(MetricsText.render(b.rooms).contains("giaoban_meeting_rooms_redirected_total 1\n"))
            #expect(MetricsText.render(a.rooms).contains("giaoban_meeting_rooms_open 1\n"))
            try await eventually("both nodes listed", within: 10) {
                let listed = a.rooms.clusterNodes
                return listed.first == a.baseURL && Set(listed) == [a.baseURL, b.baseURL]
            }
            chair.leave()
            commune.leave()
        }
    }

    @Test("when the holder stops renewing, the other node takes the room with its seats, and the holder sends its participants there",
          .timeLimit(.minutes(1)))
    func takeover() async throws {
        try await Self.twoNodes { fixture, a, b in
            let meeting = a.meeting
            let chair = Self.client(a, meeting: meeting, "officer", .chair)
            let commune = Self.client(a, meeting: meeting, "xa-a", .commune)
            try await eventually("both seated on node A", within: 10) { chair.view.joins == 1 && commune.view.joins == 1 }
            try await commune.send(["type": "hand", "raised": true])
            try await chair.send(["type": "lock", "locked": true])
            try await eventually("the hand and the lock in the roster", within: 10) {
                chair.view.participant("xa-a")?.hand == true && chair.view.locked
            }
            // Node A hangs: its claim is not renewed and lapses.
            try await Task.sleep(for: .milliseconds(500)) // the latest state written
            try #require(a.rooms.homes.withLock { $0 }).suspend(true)
            try await Task.sleep(for: .milliseconds(1_200)) // a renewal in flight lands
            fixture.clock.advance(seconds: 3)
            // A third participant opens the room on node B: B takes it over with the seats.
            let late = Self.client(b, meeting: meeting, "xa-b", .commune)
            try await eventually("xa-b refused by the lock kept from node A", within: 10) { late.view.ended != nil }
            #expect(late.view.ended?.contains("locked") == true, "\(late.view.ended ?? "")")
            #expect(b.rooms.rooms.withLock { $0[meeting] != nil }, "node B holds the room")
            // Node A comes back, finds the room taken and sends its participants to node B.
            try #require(a.rooms.homes.withLock { $0 }).suspend(false)
            try await eventually("both on node B", within: 15) {
                chair.view.node == "node-b" && commune.view.node == "node-b" && chair.view.joins == 2 && commune.view.joins == 2
            }
            #expect(chair.view.server == b.baseURL && commune.view.server == b.baseURL)
            #expect(chair.view.nodeChanges == 1 && commune.view.nodeChanges == 1)
            try await eventually("their seats kept: the chair chairs, xa-a's hand is up, the room locked", within: 10) {
                let roster = commune.view
                return Set(roster.participants.map(\.subject)) == ["officer", "xa-a"] && roster.participant("officer")?.role == "chair"
                    && roster.participant("xa-a")?.hand == true && roster.locked
            }
            #expect(try #require(b.rooms.homes.withLock { $0 }).counters.takenOver.load(ordering: .relaxed) == 1)
            #expect(try #require(a.rooms.homes.withLock { $0 }).counters.lost.load(ordering: .relaxed) == 1)
            #expect(a.rooms.rooms.withLock { $0.isEmpty }, "node A let the room go")
            // Attendance was not written twice: each joined once.
            let attendance = try await fixture.hub.meetings.attendance(meetingID: meeting)
            #expect(attendance.filter { $0.participant == "xa-a" }.count == 1)
            chair.leave()
            commune.leave()
            late.leave()
        }
    }

    @Test("with proxy_rooms, a participant opening the room on the other node stays there: seated by the holder through it")
    func proxied() async throws {
        try await Self.twoNodes(proxy: true) { _, a, b in
            let chair = Self.client(a, meeting: a.meeting, "officer", .chair)
            try await eventually("the chair seated on node A", within: 10) { chair.view.joins == 1 }
            let commune = Self.client(b, meeting: a.meeting, "xa-a", .commune)
            try await eventually("xa-a seated", within: 10) { commune.view.joins == 1 }
            #expect(commune.view.moves == 0 && commune.view.server == b.baseURL, "xa-a stays on node B")
            #expect(commune.view.node.hasPrefix("node-a/node-b."), "\(commune.view.node)")
            try await eventually("one room with both, seen from both sockets", within: 10) {
                Set(chair.view.participants.map(\.subject)) == ["officer", "xa-a"]
                    && Set(commune.view.participants.map(\.subject)) == ["officer", "xa-a"]
            }
            #expect(b.rooms.rooms.withLock { $0.isEmpty }, "node B opened no room of its own")
            // The chair's controls act on the participant passed through.
            try await commune.send(["type": "hand", "raised": true])
            try await eventually("xa-a's hand in the chair's roster", within: 10) { chair.view.participant("xa-a")?.hand == true }
            commune.leave()
            try await eventually("xa-a left the holder's room", within: 10) {
                chair.view.participants.map(\.subject) == ["officer"]
            }
            chair.leave()
        }
    }

    @Test("with proxy_rooms, a holder this node cannot reach gets the participant sent there with moved")
    func proxyFallsBackToMoved() async throws {
        try await Self.twoNodes(proxy: true, unreachableA: true) { _, a, b in
            let chair = Self.client(a, meeting: a.meeting, "officer", .chair)
            try await eventually("the chair seated on node A", within: 10) { chair.view.joins == 1 }
            let commune = Self.client(b, meeting: a.meeting, "xa-a", .commune)
            // Node A's cluster URL has nothing listening: node B cannot pass the socket on and
            // sends the participant there instead of closing the socket on it.
            try await eventually("xa-a told to go to node A", within: 10) { commune.view.moves >= 1 }
            #expect(commune.view.joins == 0 && commune.view.ended == nil, "not seated anywhere, not refused")
            commune.leave()
            chair.leave()
        }
    }

    @Test("with proxy_rooms, a participant with a downlink on the passing node who asks for mixed mode is sent to the holder, its seat mixed")
    func mixedModeGoesToTheHolder() async throws {
        try await Self.twoNodes(proxy: true) { _, a, b in
            let meeting = a.meeting
            let chair = Self.client(a, meeting: meeting, "officer", .chair)
            try await eventually("the chair seated on node A", within: 10) { chair.view.joins == 1 }
            let commune = Self.client(b, meeting: meeting, "xa-a", .commune)
            try await eventually("xa-a seated through node B", within: 10) { commune.view.joins == 1 }
            #expect(commune.view.server == b.baseURL)
            try await commune.send(["type": "downlink", "participants": "all"])
            try await eventually("xa-a's downlink on node B", within: 10) {
                b.rooms.withDownlinkRoom(meeting, { $0.downlinks["xa-a"] != nil }) ?? false
            }
            try await commune.send(["type": "mode", "mode": "mixed"])
            try await eventually("xa-a seated again on node A", within: 10) {
                commune.view.joins == 2 && commune.view.server == a.baseURL && commune.view.node == "node-a"
            }
            #expect(commune.view.moves == 1 && commune.view.ended == nil)
            #expect(a.rooms.rooms.withLock { $0[meeting]?.participants["xa-a"]?.mixed } == true, "the holder keeps the seat mixed")
            commune.leave()
            chair.leave()
        }
    }
}
