import Foundation
@testable import GiaobanServer
import Hummingbird
import HummingbirdTesting
import Testing
import GiaobanAuth

/// Who may publish, watch and end media sessions (docs/security.md): stream ownership, room
/// streams only through the room, a cap per subject, the injective participant-stream names.
@Suite("Security: media sessions")
struct SecurityMediaSessionTests {
    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../GiaobanWireTests/Fixtures/sdp/\(name).sdp"), encoding: .utf8)
    }

    static func sdpHeaders(_ role: Role, _ subject: String) -> HTTPFields {
        [.authorization: "Bearer \(HubFixture.token(role, subject))", .contentType: "application/sdp"]
    }

    /// POSTs a real browser's offer; returns the status, the body and the Location.
    static func post(_ client: some TestClientProtocol, _ path: String, _ role: Role, _ subject: String,
                     offer: String) async throws -> (HTTPResponse.Status, String, String?) {
        try await client.execute(uri: path, method: .post, headers: sdpHeaders(role, subject), body: ByteBuffer(string: offer)) { r in
            (r.status, String(buffer: r.body), r.headers[.location])
        }
    }

    @Test("a participant's stream in a locked room: no raw WHIP takeover, no raw WHEP watching, for any role")
    func roomStreams() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let offer = try Self.fixture("chromium-offer"), recvonly = try Self.fixture("chromium-recvonly-offer")
        try await RoomServer.run(fixture) { server, client in
            let chair = RoomClient(subject: "officer")
            chair.start(client, meeting: server.meeting, role: .chair)
            try await chair.wait(for: "joined")
            let publish = try JSONSerialization.data(withJSONObject: ["type": "publish", "sdp": offer])
            chair.send.yield(String(decoding: publish, as: UTF8.self))
            let answer = try await chair.wait(for: "answer")
            let session = try #require(answer["session"] as? String)
            chair.send.yield(#"{"type": "lock", "locked": true}"#)
            try await chair.wait(for: "roster", "locked") { $0["locked"] as? Bool == true }
            let stream = MeetingRooms.stream(meeting: server.meeting, subject: "officer")

            let (takeover, reason, _) = try await Self.post(client, "/whip/\(stream)", .commune, "xa-outside", offer: offer)
            #expect(takeover == .forbidden, "a commune outside the room replaced the chair's media: \(takeover) \(reason)")
            #expect(reason.contains("room"))
            for (role, subject) in [(Role.camera, "cam-1"), (.observer, "watcher"), (.admin, "root"), (.commune, "xa-outside")] {
                let (status, body, _) = try await Self.post(client, "/whep/\(stream)", role, subject, offer: recvonly)
                #expect(status == .forbidden, "\(role) watched the locked room's stream unseen: \(status) \(body)")
            }
            // Another node of the cluster (a token with the nodes' own claim) may watch it, to
            // serve participants seated through it; it may still not publish on it.
            let now = Int64(Date().timeIntervalSince1970)
            var node = TokenClaims(sub: "relay-node2", role: .observer, exp: now + 600, iat: now - 10)
            node.relay = true
            let nodeHeaders: HTTPFields = [.authorization: "Bearer \(HubFixture.authority.issue(node))", .contentType: "application/sdp"]
            let (pulled, pulledBody) = try await client.execute(uri: "/whep/\(stream)", method: .post, headers: nodeHeaders,
                                                                body: ByteBuffer(string: recvonly)) { r in (r.status, String(buffer: r.body)) }
            #expect(pulled == .created, "a node could not pull a meeting stream: \(pulled) \(pulledBody)")
            node.relay = false
            let plainHeaders: HTTPFields = [.authorization: "Bearer \(HubFixture.authority.issue(node))", .contentType: "application/sdp"]
            let (plain, _) = try await client.execute(uri: "/whep/\(stream)", method: .post, headers: plainHeaders,
                                                      body: ByteBuffer(string: recvonly)) { r in (r.status, String(buffer: r.body)) }
            #expect(plain == .forbidden, "the same subject without the nodes' claim watched the room: \(plain)")
            node.relay = true
            let (published, _) = try await client.execute(uri: "/whip/\(stream)", method: .post,
                                                          headers: [.authorization: "Bearer \(HubFixture.authority.issue(node))",
                                                                    .contentType: "application/sdp"],
                                                          body: ByteBuffer(string: offer)) { r in (r.status, String(buffer: r.body)) }
            #expect(published == .forbidden, "a node's token published on a participant's stream: \(published)")
            // The chair's publisher is the same session as before.
            #expect(server.sessionsPeer(session: session, subject: "officer") == "whip-\(session)")
            await chair.finish()
        }
        let attendance = try await fixture.hub.meetings.attendance(meetingID: 1)
        #expect(Set(attendance.map(\.participant)) == ["officer"], "only the seated chair is in the roll call")
    }

    @Test("the legacy media room meeting-<id>: never a camera; while locked only the chair and the seated")
    func legacyMediaRoom() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let offer = try Self.fixture("chromium-offer"), recvonly = try Self.fixture("chromium-recvonly-offer")
        try await RoomServer.run(fixture) { server, client in
            let path = "meeting-\(server.meeting)"
            let (published, body, _) = try await Self.post(client, "/whip/\(path)", .commune, "xa-a", offer: offer)
            #expect(published == .created, "\(body)")
            let (camera, reason, _) = try await Self.post(client, "/whep/\(path)", .camera, "cam-1", offer: recvonly)
            #expect(camera == .forbidden && reason.contains("camera"), "\(camera) \(reason)")
            let chair = RoomClient(subject: "officer")
            chair.start(client, meeting: server.meeting, role: .chair)
            try await chair.wait(for: "joined")
            chair.send.yield(#"{"type": "lock", "locked": true}"#)
            try await chair.wait(for: "roster", "locked") { $0["locked"] as? Bool == true }
            let (outsider, why, _) = try await Self.post(client, "/whep/\(path)", .observer, "watcher", offer: recvonly)
            #expect(outsider == .forbidden && why.contains("locked"), "\(outsider) \(why)")
            let (officer, text, _) = try await Self.post(client, "/whep/\(path)", .chair, "officer", offer: recvonly)
            #expect(officer == .created, "\(text)")
            await chair.finish()
        }
    }

    @Test("a free-named stream belongs to its publisher: 409 for another subject, its own may replace it")
    func ownership() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let offer = try Self.fixture("chromium-offer")
        try await RoomServer.run(fixture) { _, client in
            let (first, body, location) = try await Self.post(client, "/whip/s1", .commune, "xa-a", offer: offer)
            #expect(first == .created, "\(body)")
            let (other, reason, _) = try await Self.post(client, "/whip/s1", .commune, "xa-b", offer: offer)
            #expect(other == .conflict, "another subject replaced the publisher of s1: \(other) \(reason)")
            let (admin, _, _) = try await Self.post(client, "/whip/s1", .admin, "root", offer: offer)
            #expect(admin == .conflict)
            let (again, text, _) = try await Self.post(client, "/whip/s1", .commune, "xa-a", offer: offer)
            #expect(again == .created, "\(text)")
            _ = location
        }
    }

    @Test("DELETE of a session: only its owner or an admin")
    func deletion() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let offer = try Self.fixture("chromium-offer")
        try await RoomServer.run(fixture) { _, client in
            var locations: [String] = []
            for stream in ["d1", "d2"] {
                let (status, body, location) = try await Self.post(client, "/whip/\(stream)", .commune, "xa-a", offer: offer)
                #expect(status == .created, "\(body)")
                locations.append(try #require(location))
            }
            let other = try await client.execute(uri: locations[0], method: .delete, headers: HubFixture.headers(.commune, "xa-b")) { $0.status }
            #expect(other == .forbidden, "another commune ended xa-a's session: \(other)")
            let owner = try await client.execute(uri: locations[0], method: .delete, headers: HubFixture.headers(.commune, "xa-a")) { $0.status }
            #expect(owner == .ok)
            let admin = try await client.execute(uri: locations[1], method: .delete, headers: HubFixture.headers(.admin, "root")) { $0.status }
            #expect(admin == .ok)
        }
    }

    @Test("a subject holds at most max_media_sessions_per_subject sessions: then 429, and a freed slot is usable again")
    func sessionCap() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let offer = try Self.fixture("chromium-offer")
        try await RoomServer.run(fixture, maxSessionsPerSubject: 3) { _, client in
            var locations: [String] = []
            for i in 0..<3 {
                let (status, body, location) = try await Self.post(client, "/whip/cap\(i)", .commune, "xa-a", offer: offer)
                #expect(status == .created, "\(body)")
                locations.append(location ?? "")
            }
            let (over, reason, _) = try await Self.post(client, "/whip/cap3", .commune, "xa-a", offer: offer)
            #expect(over == .tooManyRequests, "a fourth session: \(over) \(reason)")
            #expect(reason.contains("max_media_sessions_per_subject"))
            let (others, _, _) = try await Self.post(client, "/whip/cap3", .commune, "xa-b", offer: offer)
            #expect(others == .created, "the cap is per subject")
            _ = try await client.execute(uri: locations[0], method: .delete, headers: HubFixture.headers(.commune, "xa-a")) { $0.status }
            let (freed, text, _) = try await Self.post(client, "/whip/cap4", .commune, "xa-a", offer: offer)
            #expect(freed == .created, "after one ended: \(text)")
            // Another node of the cluster pulls a session per stream: the cap is not its.
            let recvonly = try Self.fixture("chromium-recvonly-offer")
            let now = Int64(Date().timeIntervalSince1970)
            var node = TokenClaims(sub: "relay-node2", role: .observer, exp: now + 600, iat: now - 10)
            node.relay = true
            for stream in ["cap1", "cap2", "cap3", "cap4"] {
                let status = try await client.execute(uri: "/whep/\(stream)", method: .post,
                                                      headers: [.authorization: "Bearer \(HubFixture.authority.issue(node))",
                                                                .contentType: "application/sdp"],
                                                      body: ByteBuffer(string: recvonly)) { $0.status }
                #expect(status == .created, "a node's session on \(stream): \(status)")
            }
            let (watcher, why, _) = try await Self.post(client, "/whep/cap1", .observer, "watcher", offer: recvonly)
            #expect(watcher == .created, "\(why)")
            for stream in ["cap2", "cap3", "cap4"] {
                let (status, _, _) = try await Self.post(client, "/whep/\(stream)", .observer, "watcher", offer: recvonly)
                #expect(status == (stream == "cap4" ? .tooManyRequests : .created), "a person's fourth session: \(status)")
            }
        }
    }

    @Test("participant streams: plain subjects keep their name, others a digest; no two subjects share one",
          arguments: [("a.b", "a_b"), ("a_b", "a-b"), (String(repeating: "x", count: 48) + "1", String(repeating: "x", count: 48) + "2"),
                      ("Xã An Phú", "X_ An Ph_"), ("_0123456789abcdef0123456789abcdef", "a b")])
    func streamNames(_ pair: (String, String)) {
        let (a, b) = (MeetingRooms.stream(meeting: 7, subject: pair.0), MeetingRooms.stream(meeting: 7, subject: pair.1))
        #expect(a != b, "'\(pair.0)' and '\(pair.1)' share the stream \(a)")
        for name in [a, b] {
            #expect(RelaySessions.validStream(name), "\(name) is not a valid stream name")
            #expect(RelaySessions.roomMeeting(name) == 7)
        }
        #expect(MeetingRooms.stream(meeting: 7, subject: "xa-an-phu") == "m7-xa-an-phu")
    }
}

extension RoomServer {
    /// The media peer of WHIP session `session` held by `subject`, if it is still open.
    func sessionsPeer(session: String, subject: String) -> String? {
        sessions.peerID(session: session, kind: "whip", subject: subject)
    }
}

/// WHEP's `?layer=<rank>`: what a child relay's trunk asks for, one simulcast layer per
/// connection (docs/cascade.md).
@Suite("WHEP: one simulcast layer by rank")
struct WHEPLayerTests {
    @Test("a rank out of range is a 400, a layer the publisher does not send a 404; the answer lists each layer's bit rate")
    func layerQuery() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let plain = try SecurityMediaSessionTests.fixture("chromium-offer")
        let simulcast = try SecurityMediaSessionTests.fixture("chromium-simulcast-offer")
        let recvonly = try SecurityMediaSessionTests.fixture("chromium-recvonly-offer")
        try await RoomServer.run(fixture) { _, client in
            for (stream, offer) in [("one-layer", plain), ("three-layers", simulcast)] {
                let (status, body, _) = try await SecurityMediaSessionTests.post(client, "/whip/\(stream)", .chair, "officer-\(stream)", offer: offer)
                #expect(status == .created, "\(body)")
            }
            for query in ["3", "-1", "high", ""] {
                let (status, body, _) = try await SecurityMediaSessionTests.post(client, "/whep/three-layers?layer=\(query)", .observer, "relay-a",
                                                                                 offer: recvonly)
                #expect(status == .badRequest && body.contains("layer must be"), "layer=\(query): \(status) \(body)")
            }
            let (missing, reason, _) = try await SecurityMediaSessionTests.post(client, "/whep/one-layer?layer=1", .observer, "relay-a",
                                                                                offer: recvonly)
            #expect(missing == .notFound && reason.contains("has 1 video layer: no layer 1"), "\(missing) \(reason)")
            let headers = [("one-layer", 1), ("three-layers", 3)]
            for (stream, count) in headers {
                let layers = try await client.execute(uri: "/whep/\(stream)?layer=0", method: .post,
                                                      headers: SecurityMediaSessionTests.sdpHeaders(.observer, "relay-\(stream)"),
                                                      body: ByteBuffer(string: recvonly)) { response -> String? in
                    #expect(response.status == .created, "\(String(buffer: response.body))")
                    return response.headers.first { $0.name.canonicalName == "x-giaoban-layers" }?.value
                }
                let values = try #require(layers, "no X-Giaoban-Layers on \(stream)").split(separator: ",")
                #expect(values.count == count && values.allSatisfy { Int($0) != nil }, "\(stream): \(values)")
            }
        }
    }
}
