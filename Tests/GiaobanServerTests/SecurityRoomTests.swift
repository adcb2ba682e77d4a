import Foundation
@testable import GiaobanServer
import Hummingbird
import HummingbirdTesting
import Testing

/// What one participant's messages can make the room keep: a downlink's layer caps name
/// seated participants only, and go when they leave.
@Suite("Security: room state bounded by the room")
struct SecurityRoomTests {
    @Test("layer naming somebody not in the room is refused and stored nowhere; caps of one who leaves are dropped")
    func layerCapsBoundedBySeats() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        try await RoomServer.run(fixture) { server, client in
            let (rooms, meeting) = (server.rooms, server.meeting)
            func caps() -> [String: Int] { rooms.rooms.withLock { $0[meeting]?.downlinks["officer"]?.caps ?? [:] } }
            let chair = try await MeetingDownlinkTests.seated(client, meeting: meeting, "officer", .chair)
            let commune = try await MeetingDownlinkTests.seated(client, meeting: meeting, "xa-b", .commune)
            try await chair.wait(for: "roster", "with two people") { MeetingRoomTests.roster($0).count == 2 }
            chair.send.yield(#"{"type": "downlink", "participants": "all"}"#)
            try await chair.wait(for: "offer")

            // A flood of caps for people who are not there: each refused, none kept.
            for i in 0..<200 { chair.send.yield(#"{"type": "layer", "participant": "ghost-\#(i)", "layer": "low"}"#) }
            try await chair.sync()
            let refusals = chair.received.withLock { $0 }.filter { $0.contains("is not in the room") }
            #expect(refusals.count == 200)
            #expect(refusals.first?.contains("'ghost-0' is not in the room") == true)
            #expect(caps().isEmpty)

            // A seated participant's cap is kept, and goes when that participant leaves.
            chair.send.yield(#"{"type": "layer", "participant": "xa-b", "layer": "low"}"#)
            try await chair.sync()
            #expect(caps() == [MeetingRooms.stream(meeting: meeting, subject: "xa-b"): 0])
            await commune.finish()
            try await chair.wait(for: "roster", "with the chair alone") { MeetingRoomTests.roster($0) == ["officer"] }
            for _ in 0..<500 where !caps().isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            #expect(caps().isEmpty, "the cap of a participant who left is dropped")
            await chair.finish()
        }
    }
}
