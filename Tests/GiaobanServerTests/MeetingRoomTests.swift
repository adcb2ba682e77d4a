import Foundation
@testable import GiaobanServer
import GiaobanStore
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import HummingbirdWSTesting
import Synchronization
import Testing
import GiaobanAuth
import GiaobanRooms

/// One participant's room socket, driven by the test: what it received, and what to send.
final class RoomClient: Sendable {
    let subject: String
    let received = Mutex<[String]>([])
    let closeReason = Mutex<String?>(nil)
    let outbox: AsyncStream<String>
    let send: AsyncStream<String>.Continuation
    let task = Mutex<Task<Void, any Error>?>(nil)

    init(subject: String) {
        self.subject = subject
        (outbox, send) = AsyncStream<String>.makeStream()
    }

    func start(_ client: some TestClientProtocol & Sendable, meeting: Int64, role: Role) {
        let url = "/api/meetings/\(meeting)/room?access_token=\(HubFixture.token(role, subject))"
        task.withLock {
            $0 = Task {
                let frame = try await client.ws(url) { inbound, outbound, _ in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await message in inbound.messages(maxSize: 1 << 20) {
                                if case .text(let text) = message { self.received.withLock { $0.append(text) } }
                            }
                        }
                        group.addTask {
                            for await text in self.outbox { try await outbound.write(.text(text)) }
                            try await outbound.close(.normalClosure, reason: nil)
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                }
                self.closeReason.withLock { $0 = frame?.reason }
            }
        }
    }

    /// The last message of `type`, once one satisfies `condition` (bounded wait: 15 s, room for
    /// the whole suite running in parallel on two cores).
    @discardableResult
    func wait(for type: String, _ what: String = "", where condition: @escaping ([String: Any]) -> Bool = { _ in true }) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            let messages = received.withLock { $0 }.map(jsonObject)
            if let found = messages.last(where: { $0["type"] as? String == type && condition($0) }) { return found }
            try await Task.sleep(for: .milliseconds(10))
        }
        // Each message's type; an offer with its revision and tracks, an error with its text.
        let types = received.withLock { $0 }.map(jsonObject).map { message -> String in
            let kind = message["type"] as? String ?? "?"
            switch kind {
            case "offer":
                let tracks = (message["tracks"] as? [[String: Any]] ?? []).map { "\($0["participant"] ?? "?")/\($0["kind"] ?? "?")" }
                return "offer#\(message["revision"] ?? "?")\(tracks)"
            case "error": return "error(\(message["message"] ?? ""))"
            default: return kind
            }
        }
        Issue.record("\(subject) got no '\(type)' message \(what) within 15 s; got \(types)")
        throw TimeoutError(seconds: 15)
    }

    /// Leaves the room (the seat is given up at once) and closes the socket.
    func finish() async {
        send.yield(#"{"type": "leave"}"#)
        send.finish()
        _ = try? await task.withLock { $0 }?.value
    }
}

@Suite("Meeting rooms: roster, chair controls, reconnect")
struct MeetingRoomTests {
    static func roster(_ message: [String: Any]) -> [String] {
        (message["participants"] as? [[String: Any]] ?? []).compactMap { $0["subject"] as? String }
    }

    static func entry(_ message: [String: Any], _ subject: String) -> [String: Any]? {
        (message["participants"] as? [[String: Any]] ?? []).first { $0["subject"] as? String == subject }
    }

    @Test("join, hands, chair mute, spotlight, lock, a forced reconnect, leave and end")
    func roomLifecycle() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let meeting = try await RoomServer.run(fixture) { server, client in
            let (media, meeting) = (server.media, server.meeting)
            let chair = RoomClient(subject: "officer")
            chair.start(client, meeting: meeting, role: .chair)
            try await chair.wait(for: "joined")
            let communes = ["xa-a", "xa-b", "xa-c"].map(RoomClient.init)
            for c in communes { c.start(client, meeting: meeting, role: .commune) }
            try await chair.wait(for: "roster", "with four people") { Self.roster($0).count == 4 }

            // A commune raises its hand; it may not use chair controls.
            communes[0].send.yield(#"{"type": "hand", "raised": true}"#)
            try await chair.wait(for: "roster", "with xa-a's hand up") { Self.entry($0, "xa-a")?["hand"] as? Bool == true }
            communes[0].send.yield(#"{"type": "mute_participant", "participant": "xa-b", "muted": true}"#)
            let refusal = try await communes[0].wait(for: "error")
            #expect((refusal["message"] as? String)?.contains("only the chair") == true)
            communes[0].send.yield(#"{"type": "fly"}"#)
            try await communes[0].wait(for: "error", "for an unknown type") { ($0["message"] as? String)?.contains("unknown message type") == true }

            // The chair mutes xa-b: xa-b is told, everyone's roster shows it.
            chair.send.yield(#"{"type": "mute_participant", "participant": "xa-b", "muted": true}"#)
            let muted = try await communes[1].wait(for: "muted")
            #expect(muted["by"] as? String == "officer" && muted["muted"] as? Bool == true)
            try await communes[2].wait(for: "roster", "with xa-b muted") { Self.entry($0, "xa-b")?["muted_by_chair"] as? Bool == true }
            chair.send.yield(#"{"type": "spotlight", "participant": "xa-c"}"#)
            try await communes[0].wait(for: "roster", "with the spotlight") { $0["spotlight"] as? String == "xa-c" }

            // Locked: a new commune is turned away with the reason; the chair still gets in.
            chair.send.yield(#"{"type": "lock", "locked": true}"#)
            try await chair.wait(for: "roster", "locked") { $0["locked"] as? Bool == true }
            let late = RoomClient(subject: "xa-d")
            late.start(client, meeting: meeting, role: .commune)
            _ = try await late.task.withLock { $0 }?.value
            #expect(late.closeReason.withLock { $0 }?.contains("locked") == true)

            // xa-c connects again (a forced reconnect): the old socket is told and closed, the
            // seat (and the spotlight) stay, the roster still has four people.
            let again = RoomClient(subject: "xa-c")
            again.start(client, meeting: meeting, role: .commune)
            try await communes[2].wait(for: "replaced")
            try await again.wait(for: "joined")
            try await chair.wait(for: "roster", "after the reconnect") { Self.roster($0).count == 4 && $0["spotlight"] as? String == "xa-c" }

            // xa-a leaves.
            await communes[0].finish()
            try await chair.wait(for: "roster", "without xa-a") { Self.roster($0) == ["officer", "xa-b", "xa-c"] }

            // Publishing: a malformed offer is an error; a real browser's offer gets an answer.
            communes[1].send.yield(#"{"type": "publish", "sdp": "v=0 nonsense"}"#)
            try await communes[1].wait(for: "error", "for bad SDP") { ($0["message"] as? String)?.contains("malformed SDP") == true }
            let offer = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../GiaobanWireTests/Fixtures/sdp/chromium-offer.sdp"), encoding: .utf8)
            let request = try JSONSerialization.data(withJSONObject: ["type": "publish", "sdp": offer])
            communes[1].send.yield(String(decoding: request, as: UTF8.self))
            let answer = try await communes[1].wait(for: "answer")
            #expect((answer["sdp"] as? String)?.contains("a=ice-lite") == true)
            #expect(answer["stream"] as? String == MeetingRooms.stream(meeting: meeting, subject: "xa-b"))
            try await chair.wait(for: "roster", "with xa-b publishing") { Self.entry($0, "xa-b")?["publishing"] as? Bool == true }
            // xa-b was muted by the chair before publishing: the relay holds its audio back.
            let stream = MeetingRooms.stream(meeting: meeting, subject: "xa-b")
            let activity = await media.ask(.audioActivity)
            #expect(activity.first { $0.stream == stream }?.muted == true)
            // The room is a stream group on the media thread, its members the publishers' streams.
            let group = await media.ask(.group(MeetingRooms.group(meeting: meeting)))
            #expect(group?.members == [stream])

            // The chair watches xa-b as a thumbnail, then as the main view.
            let recvonly = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../GiaobanWireTests/Fixtures/sdp/chromium-recvonly-offer.sdp"), encoding: .utf8)
            func subscribe(_ layer: String) throws -> String {
                let body = ["type": "subscribe", "participant": "xa-b", "sdp": recvonly, "layer": layer]
                return String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            }
            chair.send.yield(try subscribe("tiny"))
            try await chair.wait(for: "error", "for an unknown layer") { ($0["message"] as? String)?.contains("layer: one of") == true }
            chair.send.yield(try subscribe("low"))
            let watching = try await chair.wait(for: "answer") { $0["request"] as? String == "subscribe" }
            let session = try #require(watching["session"] as? String)
            func maxRank() async -> Int?? {
                await media.ask(.subscriberVideo(peer: "whep-\(session)")).map(\.maxRank)
            }
            let thumbnail = await maxRank()
            #expect(thumbnail == .some(0), "a thumbnail: the lowest layer; got \(String(describing: thumbnail)) for \(watching)")
            chair.send.yield(#"{"type": "layer", "session": "\#(session)", "layer": "high"}"#)
            chair.send.yield(#"{"type": "ping"}"#)
            try await chair.wait(for: "pong")
            let main = await maxRank()
            #expect(main == .some(2), "the main view: up to the highest layer; got \(String(describing: main))")
            // Mixed mode: one mix-minus audio stream instead of each participant's.
            func subscribeMix() throws -> String {
                let body = ["type": "subscribe", "participant": "mix", "sdp": recvonly]
                return String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            }
            chair.send.yield(try subscribeMix())
            try await chair.wait(for: "error", "before mixed mode") { ($0["message"] as? String)?.contains("needs mixed mode") == true }
            chair.send.yield(#"{"type": "mode", "mode": "loud"}"#)
            try await chair.wait(for: "error", "for an unknown mode") { ($0["message"] as? String)?.contains("mode needs") == true }
            chair.send.yield(#"{"type": "mode", "mode": "mixed"}"#)
            try await chair.wait(for: "mode") { $0["mode"] as? String == "mixed" }
            try await chair.wait(for: "roster", "with the chair mixed") { Self.entry($0, "officer")?["mode"] as? String == "mixed" }
            chair.send.yield(try subscribeMix())
            let mixAnswer = try await chair.wait(for: "answer") { $0["participant"] as? String == "mix" }
            #expect((mixAnswer["sdp"] as? String)?.contains("opus") == true)
            #expect(mixAnswer["stream"] as? String == "m\(meeting)~mix")
            communes[1].send.yield(#"{"type": "layer", "session": "\#(session)", "layer": "low"}"#)
            try await communes[1].wait(for: "error", "for someone else's session") {
                ($0["message"] as? String)?.contains("no receiving session") == true
            }

            // The chair ends the meeting: everyone is told and disconnected.
            chair.send.yield(#"{"type": "end"}"#)
            try await communes[1].wait(for: "ended")
            try await again.wait(for: "ended")
            for c in [chair, communes[1], communes[2], again] { await c.finish() }
        }
        let attendance = try await fixture.hub.meetings.attendance(meetingID: meeting)
        #expect(Set(attendance.map(\.participant)) == ["officer", "xa-a", "xa-b", "xa-c"])
        #expect(attendance.allSatisfy { $0.leftAt != nil }, "everyone's presence is closed")
        #expect(!attendance.contains { $0.participant == "xa-d" }, "the locked-out commune never joined")
    }
}

@Suite("Meeting rooms: link quality in the roster")
struct MeetingRoomLinkTests {
    @Test("the roster goes out again only when a link changes noticeably")
    func differs() {
        let clean = RoomMessage.Link(loss: 0, jitter_ms: 2)
        #expect(!RoomMessage.Link.differs(nil, nil))
        #expect(RoomMessage.Link.differs(nil, clean) && RoomMessage.Link.differs(clean, nil))
        #expect(!RoomMessage.Link.differs(clean, RoomMessage.Link(loss: 0.01, jitter_ms: 8)))
        #expect(RoomMessage.Link.differs(clean, RoomMessage.Link(loss: 0.05, jitter_ms: 2)))
        #expect(RoomMessage.Link.differs(clean, RoomMessage.Link(loss: 0, jitter_ms: 30)))
    }
}
