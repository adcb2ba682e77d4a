import Foundation
@testable import GiaobanServer
import GiaobanStore
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Meeting rooms: a dropped socket's seat waits the grace, then is given up")
struct MeetingRoomGraceTests {
    @Test("a socket closed without leave keeps the seat until the grace runs out; then the roster and attendance show it gone")
    func graceRunsOut() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        _ = try await RoomServer.run(fixture, seatGrace: .milliseconds(300)) { server, client in
            let meeting = server.meeting
            let chair = try await MeetingDownlinkTests.seated(client, meeting: meeting, "officer", .chair)
            let a = try await MeetingDownlinkTests.seated(client, meeting: meeting, "xa-a", .commune)
            a.send.yield(#"{"type": "hand", "raised": true}"#)
            try await chair.wait(for: "roster", "with xa-a's hand up") { MeetingRoomTests.entry($0, "xa-a")?["hand"] as? Bool == true }
            // The network drops: the socket closes without `leave`.
            let before = chair.received.withLock { $0.count }
            a.send.finish()
            _ = try? await a.task.withLock { $0 }?.value
            var gone = false
            for _ in 0..<500 where !gone {
                gone = chair.received.withLock { $0.dropFirst(before) }.map(jsonObject).contains {
                    $0["type"] as? String == "roster" && MeetingRoomTests.entry($0, "xa-a") == nil && MeetingRoomTests.entry($0, "officer") != nil
                }
                if !gone { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(gone, "a roster without xa-a once the grace ran out")
            let attendance = try await fixture.hub.meetings.attendance(meetingID: meeting)
            #expect(attendance.first { $0.participant == "xa-a" }?.leftAt != nil, "the grace's end closes the presence")
            #expect(attendance.first { $0.participant == "officer" }?.leftAt == nil)
            await chair.finish()
        }
    }
}
