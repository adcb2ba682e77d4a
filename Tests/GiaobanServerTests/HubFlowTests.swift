import Foundation
@testable import GiaobanServer
import GiaobanStore
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import HummingbirdWSTesting
import Logging
import Synchronization
import Testing
import GiaobanTestSupport
import GiaobanAuth
import GiaobanHub

@Suite("Hub: delivery, acknowledgement, escalation, briefings, roll call")
struct HubFlowTests {
    /// Connects to /api/events as `role`/`subject`, reads messages until `stop` says so (or
    /// `count` messages), sending `replies(message)` back; returns the messages.
    static func session(_ client: some TestClientProtocol, _ role: Role, _ subject: String, count: Int,
                        replies: @escaping @Sendable ([String: Any]) -> String? = { _ in nil }) async throws -> [String] {
        let received = Mutex<[String]>([])
        try await withTimeout(15, "\(subject)'s session") {
            try await client.ws("/api/events?access_token=\(HubFixture.token(role, subject))") { inbound, outbound, _ in
                var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                while received.withLock({ $0.count }) < count, let message = try await iterator.next() {
                    guard case .text(let text) = message else { continue }
                    received.withLock { $0.append(text) }
                    if let reply = replies(jsonObject(text)) { try await outbound.write(.text(reply)) }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
        }
        return received.withLock { $0 }
    }

    /// Waits (bounded) until `recipient`'s confirmation of the item is written: confirmations
    /// are batched, so they land a few milliseconds after the message.
    static func confirmed(_ hub: Hub, _ kind: DeliveryKind, _ id: Int64, by recipient: String) async throws {
        for _ in 0..<250 {
            if try await hub.deliveries.deliveries(kind: kind, itemID: id).first(where: { $0.recipient == recipient })?.deliveredAt != nil { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("\(kind) \(id) was not confirmed by \(recipient) within 5 s")
    }

    static func confirm(_ message: [String: Any]) -> String? {
        guard let type = message["type"] as? String, ["incident", "briefing"].contains(type),
              let item = message[type] as? [String: Any], let id = item["id"] as? Int else { return nil }
        return #"{"type": "delivered", "kind": "\#(type)", "id": \#(id)}"#
    }

    @Test("an offline commune gets its incidents at reconnect, once confirmed never again; a connected one gets them live", arguments: StoreBackend.allCases)
    func storeAndForward(_ backend: StoreBackend) async throws {
        let fixture = try await HubFixture(backend)
        defer { fixture.cleanup() }
        try await fixture.application().test(.live) { client in
            for id in ["sf-1", "sf-2"] {
                try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.camera, "cam-1"),
                                         body: HubFixture.report(id, lat: 10.85, lon: 106.85)) { #expect($0.status == .created) }
            }
            // xa-a was offline: hello (2 pending) and both incidents, which it confirms.
            let first = try await Self.session(client, .commune, "xa-a", count: 3, replies: Self.confirm)
            #expect(jsonObject(first[0])["type"] as? String == "hello")
            #expect(jsonObject(first[0])["pending"] as? Int == 2)
            #expect(first.dropFirst().compactMap { (jsonObject($0)["incident"] as? [String: Any])?["identifier"] as? String } == ["sf-1", "sf-2"])
            try await Self.confirmed(fixture.hub, .incident, 1, by: "xa-a")
            try await Self.confirmed(fixture.hub, .incident, 2, by: "xa-a")
            let again = try await Self.session(client, .commune, "xa-a", count: 1)
            #expect(jsonObject(again[0])["pending"] as? Int == 0)
            // xa-d never connected: nothing was routed to it, so nothing is pending.
            let other = try await Self.session(client, .commune, "xa-d", count: 1)
            #expect(jsonObject(other[0])["pending"] as? Int == 0)

            // Live: while xa-b is connected, an incident routed to it arrives without reconnecting.
            let live = Task {
                try await Self.session(client, .commune, "xa-b", count: 2, replies: Self.confirm)
            }
            while !fixture.hub.events.isConnected("xa-b") { try await Task.sleep(for: .milliseconds(20)) }
            try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.camera, "cam-1"),
                                     body: HubFixture.report("live-1", lat: 10.85, lon: 106.95)) { #expect($0.status == .created) }
            let messages = try await live.value
            #expect((jsonObject(messages[1])["incident"] as? [String: Any])?["identifier"] as? String == "live-1")
            try await Self.confirmed(fixture.hub, .incident, 3, by: "xa-b")
            let rows = try await fixture.hub.deliveries.deliveries(kind: .incident, itemID: 3)
            #expect(rows.first { $0.recipient == "xa-b" }?.deliveredAt != nil)
            #expect(rows.first { $0.recipient == "command" }?.deliveredAt == nil)
        }
    }

    @Test("malformed socket messages get an error reply and the connection stays open", arguments: StoreBackend.allCases)
    func socketErrors(_ backend: StoreBackend) async throws {
        let fixture = try await HubFixture(backend)
        defer { fixture.cleanup() }
        try await fixture.application().test(.live) { client in
            let inputs = ["not json", #"{"type": "dance"}"#, #"{"type": "ack", "kind": "incident"}"#,
                          #"{"type": "ack", "kind": "incident", "id": 99}"#, #"{"type": "ping"}"#]
            let sent = Atomic<Int>(0)
            let messages = try await Self.session(client, .commune, "xa-a", count: 1 + inputs.count) { _ in
                let i = sent.add(1, ordering: .relaxed).oldValue
                return i < inputs.count ? inputs[i] : nil
            }
            let types = messages.map { jsonObject($0)["type"] as? String ?? "?" }
            #expect(types == ["hello", "error", "error", "error", "error", "pong"])
            #expect(messages[2].contains("unknown message type"))
            #expect(messages[4].contains("no incident 99"))
            try await client.execute(uri: "/api/events", method: .get) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/api/events", method: .get, headers: HubFixture.headers(.commune, "xa-a")) { r in
                #expect(r.status == .upgradeRequired)
            }
            // A camera's handshake is accepted and closed at once with the reason.
            let close = try await withTimeout(15, "a camera's handshake") {
                try await client.ws("/api/events?access_token=\(HubFixture.token(.camera, "cam-1"))") { inbound, _, _ in
                    for try await _ in inbound.messages(maxSize: 1 << 16) {}
                }
            }
            #expect(close?.closeCode == .policyViolation)
            #expect(close?.reason?.contains("role 'camera' may not") == true)
        }
    }

    @Test("unacknowledged past the timeout → escalated once to the command center (injected clock)", arguments: StoreBackend.allCases)
    func escalation(_ backend: StoreBackend) async throws {
        let fixture = try await HubFixture(backend, ackTimeoutSeconds: 300)
        defer { fixture.cleanup() }
        try await fixture.application().test(.live) { client in
            // Routed to xa-a and xa-b (near their border); xa-a acknowledges in time, xa-b never.
            try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.camera, "cam-1"),
                                     body: HubFixture.report("esc-1", lat: 10.85, lon: 106.899)) { r in
                #expect(jsonObject(String(buffer: r.body))["recipients"] as? [String] == ["command", "xa-a", "xa-b"])
            }
            fixture.clock.advance(seconds: 120)
            try await client.execute(uri: "/api/incidents/1/ack", method: .post, headers: HubFixture.headers(.commune, "xa-a")) { r in
                #expect(r.status == .ok)
                #expect(jsonObject(String(buffer: r.body))["state"] as? String == "acknowledged")
            }
            fixture.clock.advance(seconds: 179)
            #expect(try await fixture.hub.escalateOverdue().isEmpty, "299 s: not yet")
            let chair = Task { try await Self.session(client, .chair, "officer", count: 3) }
            while !fixture.hub.events.isConnected("command") { try await Task.sleep(for: .milliseconds(20)) }
            fixture.clock.advance(seconds: 2)
            let escalated = try await fixture.hub.escalateOverdue()
            #expect(escalated.map(\.recipient) == ["xa-b"])
            #expect(try await fixture.hub.escalateOverdue().isEmpty, "escalated once only")
            let messages = try await chair.value
            let escalation = messages.map(jsonObject).first { $0["type"] as? String == "escalation" }
            #expect(escalation?["recipient"] as? String == "xa-b")
            #expect(escalation?["incident_id"] as? Int == 1)
            try await client.execute(uri: "/api/incidents/1/deliveries", method: .get, headers: HubFixture.headers(.chair, "officer")) { r in
                let rows = jsonObject(String(buffer: r.body))["rows"] as? [[String: Any]] ?? []
                let b = rows.first { $0["recipient"] as? String == "xa-b" }
                let a = rows.first { $0["recipient"] as? String == "xa-a" }
                #expect(b?["escalated_at"] as? Int != nil)
                #expect(a?["escalated_at"] is NSNull)
                #expect(a?["acknowledged_by"] as? String == "xa-a")
            }
        }
    }

    @Test("states only move forward, each step with who and when", arguments: StoreBackend.allCases)
    func states(_ backend: StoreBackend) async throws {
        let fixture = try await HubFixture(backend)
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.camera, "cam-1"),
                                     body: HubFixture.report("st-1", lat: 10.85, lon: 106.85)) { #expect($0.status == .created) }
            let steps: [(Role, String, String, HTTPResponse.Status, String?)] = [
                (.commune, "xa-a", #"{"state": "dispatched", "note": "2 tổ tuần tra"}"#, .ok, "dispatched"),
                (.chair, "officer", #"{"state": "acknowledged"}"#, .conflict, nil),
                (.chair, "officer", #"{"state": "closed"}"#, .badRequest, nil),
                (.chair, "officer", #"{"state": "resolved"}"#, .ok, "resolved"),
                (.chair, "officer", #"{"state": "resolved"}"#, .ok, "resolved"),
            ]
            for (role, subject, body, status, state) in steps {
                try await client.execute(uri: "/api/incidents/1/state", method: .post, headers: HubFixture.headers(role, subject),
                                         body: ByteBuffer(string: body)) { r in
                    #expect(r.status == status, "\(body): \(String(buffer: r.body))")
                    if let state { #expect(jsonObject(String(buffer: r.body))["state"] as? String == state) }
                }
            }
            try await client.execute(uri: "/api/incidents/1/events", method: .get, headers: HubFixture.headers(.commune, "xa-a")) { r in
                let events = jsonObject(String(buffer: r.body))["events"] as? [[String: Any]] ?? []
                #expect(events.compactMap { $0["action"] as? String } == ["reported", "state:dispatched", "state:resolved"])
                #expect(events.compactMap { $0["actor"] as? String } == ["cam-1", "xa-a", "officer"])
                #expect(events[1]["detail"] as? String == "2 tổ tuần tra")
                #expect(events.allSatisfy { ($0["at"] as? Int ?? 0) > 0 })
            }
        }
    }

    @Test("a snapshot is stored with the incident; a non-JPEG or oversized one is refused", arguments: StoreBackend.allCases)
    func snapshots(_ backend: StoreBackend) async throws {
        let fixture = try await HubFixture(backend)
        defer { fixture.cleanup() }
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + Array(repeating: 0x42, count: 100) + [0xFF, 0xD9]
        let b64 = Data(jpeg).base64EncodedString()
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.camera, "cam-1"),
                                     body: HubFixture.report("snap-1", lat: 10.85, lon: 106.85, snapshot: b64)) { #expect($0.status == .created) }
            try await client.execute(uri: "/api/incidents/1/snapshot", method: .get, headers: HubFixture.headers(.commune, "xa-a")) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "image/jpeg")
                #expect(Array(r.body.readableBytesView) == jpeg)
            }
            let png = Data([0x89, 0x50, 0x4E, 0x47, 0, 0]).base64EncodedString()
            try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.camera, "cam-1"),
                                     body: HubFixture.report("snap-2", lat: 10.85, lon: 106.85, snapshot: png)) { r in
                #expect(r.status == .badRequest)
                #expect(String(buffer: r.body).contains("not a JPEG"))
            }
            let big = Data([0xFF, 0xD8, 0xFF] + Array(repeating: 0, count: 4_000)).base64EncodedString()
            try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.camera, "cam-1"),
                                     body: HubFixture.report("snap-3", lat: 10.85, lon: 106.85, snapshot: big)) { r in
                #expect(r.status == .contentTooLarge)
            }
            try await client.execute(uri: "/api/incidents?limit=10", method: .get, headers: HubFixture.headers(.chair, "officer")) { r in
                #expect((jsonObject(String(buffer: r.body))["incidents"] as? [Any])?.count == 1, "refused reports are not stored")
            }
        }
    }

    @Test("briefing receipts: delivered, read and acknowledged per commune, pushed live to the chair", arguments: StoreBackend.allCases)
    func briefingReceipts(_ backend: StoreBackend) async throws {
        let fixture = try await HubFixture(backend)
        defer { fixture.cleanup() }
        try await fixture.application().test(.live) { client in
            let attachment = Data("Kế hoạch tuần tra".utf8).base64EncodedString()
            let body = #"{"title": "Triển khai cao điểm", "body": "Tăng cường tuần tra QL1A", "priority": "flash", "audience": {"communes": ["xa-a", "xa-b"]}, "attachments": [{"name": "ke-hoach.txt", "content_type": "text/plain", "data": "\#(attachment)"}]}"#
            try await client.execute(uri: "/api/briefings", method: .post, headers: HubFixture.headers(.chair, "officer"),
                                     body: ByteBuffer(string: body)) { r in
                #expect(r.status == .created)
                #expect(jsonObject(String(buffer: r.body))["recipients"] as? [String] == ["xa-a", "xa-b"])
            }
            let chair = Task { try await Self.session(client, .chair, "officer", count: 4) }
            while !fixture.hub.events.isConnected("command") { try await Task.sleep(for: .milliseconds(20)) }
            // xa-a receives it over the socket, confirms delivery, then reads and acknowledges by REST.
            let messages = try await Self.session(client, .commune, "xa-a", count: 2, replies: Self.confirm)
            let briefing = jsonObject(messages[1])["briefing"] as? [String: Any]
            #expect(briefing?["title"] as? String == "Triển khai cao điểm")
            try await Self.confirmed(fixture.hub, .briefing, 1, by: "xa-a")
            let files = briefing?["attachments"] as? [[String: Any]] ?? []
            let url = try #require(files.first?["url"] as? String)
            try await client.execute(uri: url, method: .get, headers: HubFixture.headers(.commune, "xa-a")) { r in
                #expect(String(buffer: r.body) == "Kế hoạch tuần tra")
            }
            try await client.execute(uri: url, method: .get, headers: HubFixture.headers(.commune, "xa-c")) { r in
                #expect(r.status == .forbidden)
            }
            fixture.clock.advance(seconds: 30)
            try await client.execute(uri: "/api/briefings/1/read", method: .post, headers: HubFixture.headers(.commune, "xa-a")) { #expect($0.status == .ok) }
            fixture.clock.advance(seconds: 30)
            try await client.execute(uri: "/api/briefings/1/ack", method: .post, headers: HubFixture.headers(.commune, "xa-a")) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/briefings/1/receipts", method: .get, headers: HubFixture.headers(.chair, "officer")) { r in
                let rows = jsonObject(String(buffer: r.body))["rows"] as? [[String: Any]] ?? []
                #expect(rows.compactMap { $0["recipient"] as? String } == ["xa-a", "xa-b"])
                let a = rows[0], b = rows[1]
                let routed = a["routed_at"] as? Int ?? 0
                #expect(a["delivered_at"] as? Int == routed)
                #expect(a["read_at"] as? Int == routed + 30_000)
                #expect(a["acknowledged_at"] as? Int == routed + 60_000)
                #expect(b["delivered_at"] is NSNull && b["read_at"] is NSNull && b["acknowledged_at"] is NSNull)
            }
            let steps = try await chair.value.map(jsonObject).filter { $0["type"] as? String == "receipt" }.compactMap { $0["step"] as? String }
            #expect(steps == ["delivered", "read", "acknowledged"])
            // xa-b lists only what was addressed to it; xa-c nothing.
            try await client.execute(uri: "/api/briefings", method: .get, headers: HubFixture.headers(.commune, "xa-c")) { r in
                #expect((jsonObject(String(buffer: r.body))["briefings"] as? [Any])?.isEmpty == true)
            }
        }
    }

    @Test("briefing audiences: all, an area, near a point; bad ones refused", arguments: StoreBackend.allCases)
    func audiences(_ backend: StoreBackend) async throws {
        let fixture = try await HubFixture(backend)
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            let cases: [(String, HTTPResponse.Status, [String]?)] = [
                (#"{"all": true}"#, .created, ["xa-a", "xa-b", "xa-c", "xa-d"]),
                (#"{"area": \#(HubFixture.square(lon: 106.75, lat: 10.75, size: 0.1))}"#, .created, ["xa-a"]),
                (#"{"near": {"lat": 10.95, "lon": 106.95, "radius_m": 100}}"#, .created, ["xa-d"]),
                (#"{"communes": ["xa-zzz"]}"#, .badRequest, nil),
                (#"{"all": true, "communes": ["xa-a"]}"#, .badRequest, nil),
                (#"{"near": {"lat": 1, "lon": 1, "radius_m": 10}}"#, .unprocessableContent, nil),
            ]
            for (audience, status, recipients) in cases {
                let body = #"{"title": "T", "body": "B", "audience": \#(audience)}"#
                try await client.execute(uri: "/api/briefings", method: .post, headers: HubFixture.headers(.chair, "officer"),
                                         body: ByteBuffer(string: body)) { r in
                    #expect(r.status == status, "\(audience): \(String(buffer: r.body))")
                    if let recipients { #expect(jsonObject(String(buffer: r.body))["recipients"] as? [String] == recipients) }
                }
            }
        }
    }

    @Test("attendance of a meeting room is recorded and exported as a CSV roll call", arguments: StoreBackend.allCases)
    func rollCall(_ backend: StoreBackend) async throws {
        let fixture = try await HubFixture(backend)
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/api/meetings", method: .post, headers: HubFixture.headers(.chair, "officer"),
                                     body: ByteBuffer(string: #"{"title": "Giao ban", "scheduled_at": "2026-11-30T07:30:00+07:00", "duration_minutes": 45}"#)) { r in
                #expect(r.status == .created)
                #expect(jsonObject(String(buffer: r.body))["room"] as? String == "meeting-1")
            }
            await fixture.hub.recordPresence(stream: "meeting-1", subject: "officer", role: "chair", joined: true)
            fixture.clock.advance(seconds: 60)
            await fixture.hub.recordPresence(stream: "meeting-1", subject: "xa-a", role: "commune", joined: true)
            await fixture.hub.recordPresence(stream: "meeting-1", subject: "=cmd|evil", role: "commune", joined: true)
            await fixture.hub.recordPresence(stream: "other-stream", subject: "xa-b", role: "commune", joined: true)
            fixture.clock.advance(seconds: 90)
            await fixture.hub.recordPresence(stream: "meeting-1", subject: "xa-a", role: "commune", joined: false)
            try await client.execute(uri: "/api/meetings/1/attendance.csv", method: .get, headers: HubFixture.headers(.chair, "officer")) { r in
                #expect(r.headers[.contentType] == "text/csv; charset=utf-8")
                let lines = String(buffer: r.body).components(separatedBy: "\r\n").filter { !$0.isEmpty }
                #expect(lines.count == 4)
                #expect(lines[0] == "participant,role,joined_at,left_at,minutes")
                #expect(lines[1].hasPrefix("officer,chair,") && lines[1].hasSuffix(",,"))
                #expect(lines[2].hasPrefix("xa-a,commune,") && lines[2].hasSuffix(",1.5"))
                #expect(lines[3].hasPrefix("'=cmd|evil,commune,"), "no formula injection")
            }
            try await client.execute(uri: "/api/meetings/2/attendance.csv", method: .get, headers: HubFixture.headers(.chair, "officer")) { r in
                #expect(r.status == .notFound)
            }
        }
    }
}
