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
import GiaobanIncidents
import GiaobanTestSupport
import GiaobanAuth
import GiaobanHub

/// The operations hub's security rules over HTTP and the event WebSocket (docs/security.md):
/// socket steps follow the REST roles, delivery on the shared command channel is per subject,
/// receipts never crowd out incidents, text is limited in bytes and free of NUL, camera
/// tokens belong to directory cameras, CSV fields never start a formula, and one subject
/// holds a bounded number of sockets.
@Suite("Security: operations hub")
struct SecurityHubTests {
    /// Connects to /api/events as `role`/`subject`, sends `send` after `hello`, then a ping,
    /// and returns every message up to the `pong` (bounded).
    static func exchange(_ client: some TestClientProtocol, _ role: Role, _ subject: String,
                         send: @escaping @Sendable ([String]) -> [String]) async throws -> [String] {
        let received = Mutex<[String]>([])
        try await withTimeout(15, "\(subject)'s exchange") {
            try await client.ws("/api/events?access_token=\(HubFixture.token(role, subject))") { inbound, outbound, _ in
                var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                guard case .text(let hello)? = try await iterator.next() else { return }
                received.withLock { $0.append(hello) }
                let pending = jsonObject(hello)["pending"] as? Int ?? 0
                var early: [String] = []
                while early.count < pending, case .text(let text)? = try await iterator.next() { early.append(text) }
                received.withLock { $0 += early }
                for text in send(early) + [#"{"type": "ping"}"#] { try await outbound.write(.text(text)) }
                while let message = try await iterator.next() {
                    guard case .text(let text) = message else { continue }
                    received.withLock { $0.append(text) }
                    if jsonObject(text)["type"] as? String == "pong" { break }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
        }
        return received.withLock { $0 }
    }

    static func post(_ client: some TestClientProtocol, _ uri: String, _ role: Role, _ subject: String,
                     _ body: ByteBuffer) async throws -> (HTTPResponse.Status, String) {
        try await client.execute(uri: uri, method: .post, headers: HubFixture.headers(role, subject), body: body) {
            ($0.status, String(buffer: $0.body))
        }
    }

    static func row(_ hub: Hub, _ id: Int64, _ recipient: String) async throws -> DeliveryRecord? {
        try await hub.deliveries.deliveries(kind: .incident, itemID: id).first { $0.recipient == recipient }
    }

    @Test("item 3: an observer's ack over the event socket is refused with the REST rule and message")
    func observerCannotAcknowledgeOverTheSocket() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.live) { client in
            let (created, _) = try await Self.post(client, "/api/incidents", .camera, "cam-1", HubFixture.report("ack-obs", lat: 10.85, lon: 106.85))
            #expect(created == .created)
            let (rest, restBody) = try await Self.post(client, "/api/incidents/1/ack", .observer, "watcher", ByteBuffer())
            #expect(rest == .forbidden)
            let messages = try await Self.exchange(client, .observer, "watcher") { _ in
                [#"{"type": "ack", "kind": "incident", "id": 1}"#, #"{"type": "read", "kind": "incident", "id": 1}"#]
            }
            let errors = messages.map(jsonObject).filter { $0["type"] as? String == "error" }.compactMap { $0["message"] as? String }
            #expect(errors == [restBody, restBody].map { $0.trimmingCharacters(in: .newlines) }, "\(messages)")
            #expect(restBody.contains("role 'observer' may not do this"))
            let command = try await Self.row(fixture.hub, 1, commandCenterRecipient)
            #expect(command?.acknowledgedAt == nil && command?.readAt == nil)
            #expect(try await fixture.hub.incidents.get(id: 1)?.state == .new)
        }
    }

    @Test("item 4: an observer's delivered does not confirm for the command channel; each chair keeps its own store and forward",
          arguments: StoreBackend.allCases)
    func commandDeliveryIsPerSubject(_ backend: StoreBackend) async throws {
        let fixture = try await HubFixture(backend)
        defer { fixture.cleanup() }
        try await fixture.application().test(.live) { client in
            // Both chairs have connected before (their store and forward starts then).
            for chair in ["chair-a", "chair-b"] { _ = try await Self.exchange(client, .chair, chair) { _ in [] } }
            let (created, _) = try await Self.post(client, "/api/incidents", .camera, "cam-1", HubFixture.report("per-subject", lat: 10.85, lon: 106.85))
            #expect(created == .created)
            let confirm: @Sendable ([String]) -> [String] = { early in
                early.compactMap { HubFlowTests.confirm(jsonObject($0)) }
            }
            let observed = try await Self.exchange(client, .observer, "watcher", send: confirm)
            #expect(jsonObject(observed[0])["pending"] as? Int == 1)
            // The observer's own confirmation lands (batched): it is not sent the item again…
            for _ in 0..<250 {
                if try await fixture.hub.deliveries.pending(commandSubject: "watcher", now: fixture.clock.read()).isEmpty { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await fixture.hub.deliveries.pending(commandSubject: "watcher", now: fixture.clock.read()).isEmpty)
            // …but the command center's row is not marked, and the chair still gets it.
            #expect(try await Self.row(fixture.hub, 1, commandCenterRecipient)?.deliveredAt == nil)
            let a = try await Self.exchange(client, .chair, "chair-a", send: confirm)
            #expect(jsonObject(a[0])["pending"] as? Int == 1)
            try await HubFlowTests.confirmed(fixture.hub, .incident, 1, by: commandCenterRecipient)
            // chair-a confirmed; chair-b, offline meanwhile, still gets it; chair-a does not again.
            let b = try await Self.exchange(client, .chair, "chair-b") { _ in [] }
            #expect(jsonObject(b[0])["pending"] as? Int == 1)
            let again = try await Self.exchange(client, .chair, "chair-a") { _ in [] }
            #expect(jsonObject(again[0])["pending"] as? Int == 0)
        }
    }

    @Test("item 6: a repeated read pushes no receipt")
    func repeatedReadsPushNothing() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.live) { client in
            let briefing = ByteBuffer(string: #"{"title": "Giao ban", "body": "Nội dung", "audience": {"communes": ["xa-a"]}}"#)
            let (sent, _) = try await Self.post(client, "/api/briefings", .chair, "chair-1", briefing)
            #expect(sent == .created)
            let receipts = Mutex<[String]>([])
            let watcher = Task {
                try await withTimeout(15, "the chair's receipts") {
                    try await client.ws("/api/events?access_token=\(HubFixture.token(.chair, "chair-1"))") { inbound, outbound, _ in
                        for try await message in inbound.messages(maxSize: 1 << 20) {
                            guard case .text(let text) = message, jsonObject(text)["type"] as? String == "receipt" else { continue }
                            receipts.withLock { $0.append(jsonObject(text)["step"] as? String ?? "?") }
                            if jsonObject(text)["step"] as? String == "acknowledged" { break }
                        }
                        try await outbound.close(.normalClosure, reason: nil)
                    }
                }
            }
            for _ in 0..<250 where !fixture.hub.events.isConnected(commandCenterRecipient) { try await Task.sleep(for: .milliseconds(20)) }
            for _ in 0..<5 { #expect(try await Self.post(client, "/api/briefings/1/read", .commune, "xa-a", ByteBuffer()).0 == .ok) }
            #expect(try await Self.post(client, "/api/briefings/1/ack", .commune, "xa-a", ByteBuffer()).0 == .ok)
            try await watcher.value
            #expect(receipts.withLock { $0 } == ["read", "acknowledged"])
        }
    }

    @Test("item 6: a full mailbox keeps what it holds, and its socket is closed so the client replays from the database")
    func overflowClosesTheSocket() async throws {
        // The broker alone: the oldest messages (an incident) are never evicted by newer ones.
        let events = HubEvents()
        let (id, mailbox) = events.subscribe(channel: "xa-a", buffer: 4)
        for i in 0..<6 { events.publish(i == 0 ? "incident" : "receipt \(i)", to: "xa-a") }
        #expect(events.didOverflow(id))
        #expect(!events.isConnected("xa-a"))
        var kept: [String] = []
        for await text in mailbox { kept.append(text) }
        #expect(kept == ["incident", "receipt 1", "receipt 2", "receipt 3"])

        // Over a socket: a flood closes it with 1013 and the reason; the incident is replayed.
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.live) { client in
            let (created, _) = try await Self.post(client, "/api/incidents", .camera, "cam-1", HubFixture.report("flood", lat: 10.85, lon: 106.85))
            #expect(created == .created)
            let reader = Task {
                try await withTimeout(30, "the flooded socket") {
                    try await client.ws("/api/events?access_token=\(HubFixture.token(.commune, "xa-a"))") { inbound, _, _ in
                        for try await _ in inbound.messages(maxSize: 1 << 20) {}
                    }
                }
            }
            for _ in 0..<250 where !fixture.hub.events.isConnected("xa-a") { try await Task.sleep(for: .milliseconds(20)) }
            var published = 0
            while fixture.hub.events.isConnected("xa-a"), published < 1_000_000 {
                fixture.hub.events.publish(#"{"type": "receipt", "flood": \#(published)}"#, to: "xa-a")
                published += 1
            }
            #expect(!fixture.hub.events.isConnected("xa-a"), "the mailbox never overflowed after \(published) messages")
            let close = try await reader.value
            #expect(close?.closeCode == .unknown(1013))
            #expect(close?.reason == Hub.overflowReason)
            #expect(fixture.hub.metrics.slowSocketsClosed.load(ordering: .relaxed) == 1)
            let replay = try await Self.exchange(client, .commune, "xa-a") { _ in [] }
            #expect(jsonObject(replay[0])["pending"] as? Int == 1)
            #expect((jsonObject(replay[1])["incident"] as? [String: Any])?["identifier"] as? String == "flood")
        }
    }

    @Test("item 7: text limits count UTF-8 bytes: one Character of 600,001 bytes is refused")
    func textLimitsCountBytes() async throws {
        let fixture = try await HubFixture(maxBody: 4_194_304)
        defer { fixture.cleanup() }
        let huge = "a" + String(repeating: "\u{301}", count: 300_000)
        #expect(huge.count == 1 && huge.utf8.count == 600_001)
        try await fixture.application().test(.live) { client in
            let report = #"{"identifier": "big", "type": "x", "severity": "Severe", "urgency": "Immediate", "certainty": "Observed", "location": {"lat": 10.85, "lon": 106.85}, "time": "2026-11-29T08:00:00+07:00", "text": "\#(huge)"}"#
            let (status, body) = try await Self.post(client, "/api/incidents", .camera, "cam-1", ByteBuffer(string: report))
            #expect(status == .badRequest && body.contains("text: is 600001 bytes of UTF-8; at most 65536 bytes"), "\(status) \(body.prefix(200))")
            let briefing = #"{"title": "\#(huge)", "body": "b", "audience": {"all": true}}"#
            let (b, bBody) = try await Self.post(client, "/api/briefings", .chair, "chair-1", ByteBuffer(string: briefing))
            #expect(b == .badRequest && bBody.contains("title is 600001 bytes"), "\(b) \(bBody.prefix(200))")
            let meeting = #"{"title": "\#(huge)", "scheduled_at": "2026-11-30T07:30:00+07:00"}"#
            let (m, mBody) = try await Self.post(client, "/api/meetings", .chair, "chair-1", ByteBuffer(string: meeting))
            // The meeting body limit (16 KiB) or the title's byte limit refuses it; never stored.
            #expect(m == .badRequest || m == .contentTooLarge, "\(m) \(mBody.prefix(200))")
            // Vietnamese at the character limit still passes (3 bytes a character here).
            let title = String(repeating: "ệ", count: 256)
            let ok = #"{"title": "\#(title)", "body": "b", "audience": {"all": true}}"#
            #expect(try await Self.post(client, "/api/briefings", .chair, "chair-1", ByteBuffer(string: ok)).0 == .created)
        }
    }

    @Test("item 10: NUL in user text is refused with 400 at validation, and the store refuses rather than truncates",
          arguments: StoreBackend.allCases)
    func nulIsRefused(_ backend: StoreBackend) async throws {
        let fixture = try await HubFixture(backend)
        defer { fixture.cleanup() }
        try await fixture.application().test(.live) { client in
            for identifier in [#"nul\u0000one"#, #"nul\u0000two"#] {
                let report = #"{"identifier": "\#(identifier)", "type": "x", "severity": "Severe", "urgency": "Immediate", "certainty": "Observed", "location": {"lat": 10.85, "lon": 106.85}, "time": "2026-11-29T08:00:00+07:00", "text": "t"}"#
                let (status, body) = try await Self.post(client, "/api/incidents", .camera, "cam-1", ByteBuffer(string: report))
                #expect(status == .badRequest && body.contains("identifier: must not contain a NUL character"), "\(status) \(body)")
            }
            let briefing = #"{"title": "a\u0000b", "body": "b", "audience": {"all": true}}"#
            let (b, bBody) = try await Self.post(client, "/api/briefings", .chair, "chair-1", ByteBuffer(string: briefing))
            #expect(b == .badRequest && bBody.contains("NUL"), "\(b) \(bBody)")
        }
        // Below validation, the store refuses text with NUL instead of cutting it.
        let record = IncidentRecord(source: "cam-1", identifier: "store\u{0}a", format: "json", sender: nil, type: "x", severity: "Severe",
                                    urgency: "Immediate", certainty: "Observed", latitude: 10.85, longitude: 106.85,
                                    time: "2026-11-29T08:00:00+07:00", text: "t", road: nil, km: nil)
        await #expect(throws: StoreError.self) { _ = try await fixture.hub.incidents.ingest(record, now: 1) }
    }

    @Test("item 11: a camera token must name a directory camera; a report far from it is flagged")
    func cameraTokensBelongToDirectoryCameras() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.live) { client in
            let (ghost, reason) = try await Self.post(client, "/api/incidents", .camera, "ghost-cam", HubFixture.report("g-1", lat: 10.85, lon: 106.85))
            #expect(ghost == .forbidden && reason.contains("camera 'ghost-cam' is not in the directory"), "\(ghost) \(reason)")
            #expect(try await fixture.hub.incidents.list(limit: 10).items.isEmpty)
            // cam-1 sits at 10.85 N 106.85 E: a report there is not flagged; 0.1° east (≈ 11 km) is.
            #expect(try await Self.post(client, "/api/incidents", .camera, "cam-1", HubFixture.report("near", lat: 10.851, lon: 106.851)).0 == .created)
            #expect(try await Self.post(client, "/api/incidents", .camera, "cam-1", HubFixture.report("far", lat: 10.85, lon: 106.95)).0 == .created)
            let near = try await fixture.hub.incidents.events(id: 1).map(\.action)
            let far = try await fixture.hub.incidents.events(id: 2)
            #expect(!near.contains("location_flagged"))
            let flag = far.first { $0.action == "location_flagged" }
            #expect(flag?.detail?.contains("from camera cam-1's directory position (tolerance 2.0 km)") == true, "\(far)")
            #expect(fixture.hub.metrics.locationsFlagged.load(ordering: .relaxed) == 1)
            // An admin report is not tied to a camera.
            #expect(try await Self.post(client, "/api/incidents", .admin, "root", HubFixture.report("adm", lat: 10.85, lon: 106.95)).0 == .created)
        }
    }

    @Test("item 19: a CSV field starting with tab or carriage return is defused like = + - @", arguments: ["\t=1+1", "\r=1+1", "\r\n=cmd", "=1", "@x"])
    func csvFormulaGuard(_ value: String) {
        #expect(RollCall.field(value).hasPrefix("'") || RollCall.field(value).hasPrefix("\"'"), "\(RollCall.field(value).debugDescription)")
    }

    @Test("item 8: a subject holds at most security.max_sockets_per_subject sockets; one more is closed with 1008 and the reason")
    func socketsPerSubjectAreCapped() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let limit = fixture.hub.settings.maxSocketsPerSubject
        #expect(limit == 16)
        try await fixture.application().test(.live) { client in
            let release = ReleaseFlag()
            let holders = (0..<limit).map { _ in
                Task {
                    try await withTimeout(30, "a held socket") {
                        try await client.ws("/api/events?access_token=\(HubFixture.token(.chair, "chair-cap"))") { _, outbound, _ in
                            while !release.raised.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
                            try await outbound.close(.normalClosure, reason: nil)
                        }
                    }
                }
            }
            for _ in 0..<1000 where fixture.hub.events.connectionCount < limit { try await Task.sleep(for: .milliseconds(10)) }
            #expect(fixture.hub.events.connectionCount == limit)
            let refused = try await withTimeout(15, "the socket over the cap") {
                try await client.ws("/api/events?access_token=\(HubFixture.token(.chair, "chair-cap"))") { inbound, _, _ in
                    for try await _ in inbound.messages(maxSize: 1 << 16) {}
                }
            }
            #expect(refused?.closeCode == .policyViolation)
            #expect(refused?.reason == Hub.socketLimitReason(limit))
            #expect(fixture.hub.metrics.socketsRefused.load(ordering: .relaxed) == 1)
            // Another subject is not affected.
            #expect(jsonObject(try await Self.exchange(client, .chair, "chair-other") { _ in [] }[0])["type"] as? String == "hello")
            // Closed sockets are counted down: the subject may open one again.
            release.raised.store(true, ordering: .relaxed)
            for holder in holders { _ = try await holder.value }
            for _ in 0..<1000 where fixture.hub.socketsBySubject.withLock({ $0["chair-cap"] }) != nil { try await Task.sleep(for: .milliseconds(10)) }
            #expect(fixture.hub.socketsBySubject.withLock { $0["chair-cap"] } == nil)
            #expect(jsonObject(try await Self.exchange(client, .chair, "chair-cap") { _ in [] }[0])["type"] as? String == "hello")
        }
    }
}

/// A flag the test raises once, seen by the tasks that wait for it.
final class ReleaseFlag: Sendable {
    let raised = Atomic<Bool>(false)
}
