import Foundation
@testable import GiaobanServer
import GiaobanStore
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Meeting rooms: the chair asks a participant to unmute and lowers a hand")
struct MeetingRoomFloorTests {
    @Test("ask_unmute reaches only that participant; lower_hand clears the hand; both are the chair's and need someone in the room")
    func floor() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        _ = try await RoomServer.run(fixture) { server, client in
            let meeting = server.meeting
            let chair = try await MeetingDownlinkTests.seated(client, meeting: meeting, "officer", .chair)
            let a = try await MeetingDownlinkTests.seated(client, meeting: meeting, "xa-a", .commune)
            let b = try await MeetingDownlinkTests.seated(client, meeting: meeting, "xa-b", .commune)
            a.send.yield(#"{"type": "mute", "audio": true}"#)
            a.send.yield(#"{"type": "hand", "raised": true}"#)
            try await chair.wait(for: "roster", "with xa-a's hand up and muted") {
                let entry = MeetingRoomTests.entry($0, "xa-a")
                return entry?["hand"] as? Bool == true && entry?["audio_muted"] as? Bool == true
            }

            // Refusals, each with a reason.
            b.send.yield(#"{"type": "ask_unmute", "participant": "xa-a"}"#)
            try await b.wait(for: "error", "for a commune asking") { ($0["message"] as? String)?.contains("only the chair") == true }
            chair.send.yield(#"{"type": "ask_unmute"}"#)
            try await chair.wait(for: "error", "without participant") { ($0["message"] as? String)?.contains("ask_unmute needs") == true }
            chair.send.yield(#"{"type": "lower_hand", "participant": "nobody"}"#)
            try await chair.wait(for: "error", "for someone not in the room") { ($0["message"] as? String)?.contains("not in the room") == true }

            chair.send.yield(#"{"type": "ask_unmute", "participant": "xa-a"}"#)
            let asked = try await a.wait(for: "unmute_requested")
            #expect(asked["by"] as? String == "officer")
            chair.send.yield(#"{"type": "lower_hand", "participant": "xa-a"}"#)
            try await chair.wait(for: "roster", "with xa-a's hand down") { MeetingRoomTests.entry($0, "xa-a")?["hand"] as? Bool == false }
            try await b.sync()
            #expect(!b.received.withLock { $0 }.contains { $0.contains("unmute_requested") }, "only xa-a is asked")
            let entry = MeetingRoomTests.entry(try await chair.wait(for: "roster"), "xa-a")
            #expect(entry?["audio_muted"] as? Bool == true, "asking does not unmute: the participant does")

            // The meeting list shows who is in the room now.
            func inRoom() async throws -> Int? {
                try await client.execute(uri: "/api/meetings/\(meeting)", method: .get, headers: HubFixture.headers(.observer, "watcher")) {
                    (try? JSONSerialization.jsonObject(with: Data(buffer: $0.body)) as? [String: Any])?["in_room"] as? Int
                }
            }
            #expect(try await inRoom() == 3)
            for c in [a, b, chair] { await c.finish() }
            var left: Int?
            for _ in 0..<100 where left != 0 {
                left = try await inRoom()
                if left != 0 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(left == 0, "nobody in the room after everyone left")
        }
    }
}
