import Foundation
@testable import GiaobanServer
import GiaobanStore
import Hummingbird
import HummingbirdTesting
import Testing
import GiaobanAuth

/// `GET /api/audit` and the rows privileged routes write: who may read it, its filters, CSV,
/// and the chair's room controls recorded.
@Suite("Audit trail: routes and recorded actions")
struct AuditRoutesTests {
    static func entries(_ body: ByteBuffer) -> [[String: Any]] {
        jsonObject(String(buffer: body))["entries"] as? [[String: Any]] ?? []
    }

    @Test("admin and observer read it, every other role is refused; meetings and directory edits are recorded, refusals too")
    func rolesAndRows() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            let meeting = #"{"title": "Giao ban sáng", "scheduled_at": "2026-11-30T07:30:00+07:00"}"#
            try await client.execute(uri: "/api/meetings", method: .post, headers: HubFixture.headers(.chair, "officer"),
                                     body: ByteBuffer(string: meeting)) { #expect($0.status == .created) }
            fixture.clock.advance(seconds: 60)
            try await client.execute(uri: "/api/meetings", method: .post, headers: HubFixture.headers(.commune, "xa-a"),
                                     body: ByteBuffer(string: meeting)) { #expect($0.status == .forbidden) }
            fixture.clock.advance(seconds: 60)
            try await client.execute(uri: "/api/cameras/cam-1", method: .delete, headers: HubFixture.headers(.admin, "admin-1")) {
                #expect($0.status == .ok)
            }
            for role in Role.allCases {
                let expected: HTTPResponse.Status = [.admin, .observer].contains(role) ? .ok : .forbidden
                try await client.execute(uri: "/api/audit", method: .get, headers: HubFixture.headers(role, "who-\(role.rawValue)")) {
                    #expect($0.status == expected, "\(role)")
                }
            }
            try await client.execute(uri: "/api/audit", method: .get) { #expect($0.status == .unauthorized) }

            try await client.execute(uri: "/api/audit", method: .get, headers: HubFixture.headers(.observer, "watcher")) { r in
                let rows = Self.entries(r.body)
                #expect(rows.map { $0["action"] as? String } == ["directory.change", "meeting.create", "meeting.create"])
                #expect(rows.map { $0["id"] as? Int } == [3, 2, 1], "newest first")
                #expect(rows[0]["target"] as? String == "cameras/cam-1" && rows[0]["detail"] as? String == "deleted")
                #expect(rows[1]["subject"] as? String == "xa-a" && rows[1]["role"] as? String == "commune")
                #expect((rows[1]["result"] as? String)?.hasPrefix("refused: role 'commune' may not") == true)
                #expect(rows[2]["result"] as? String == "ok" && rows[2]["target"] as? String == "meeting/1")
                #expect(rows[1]["prev_hash"] as? String == rows[2]["hash"] as? String)
            }
            #expect(try fixture.hub.auditLog.verifyNow() == .intact(rows: 3, head: try await fixture.hub.auditLog.list(.init(limit: 1))[0].hash))
        }
    }

    @Test("an audit row that cannot be written does not stop the action; it is counted on /metrics")
    func failureCounted() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        try await fixture.hub.database.write { session throws(StoreError) in try session.execute("DROP TABLE audit_log") }
        try await fixture.application().test(.router) { client in
            let meeting = #"{"title": "Giao ban sáng", "scheduled_at": "2026-11-30T07:30:00+07:00"}"#
            try await client.execute(uri: "/api/meetings", method: .post, headers: HubFixture.headers(.chair, "officer"),
                                     body: ByteBuffer(string: meeting)) { #expect($0.status == .created) }
        }
        #expect(fixture.hub.metrics.auditAppendFailures.load(ordering: .relaxed) == 1)
        #expect(MetricsText.render(fixture.hub).contains("giaoban_audit_append_failures_total 1"))
    }

    @Test("filters by subject, action, time (milliseconds or RFC 3339) and limit; bad values are 400; CSV has a header")
    func filtersAndCSV() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let start = fixture.clock.read()
        for n in 0..<4 {
            try await fixture.hub.auditLog.append(AuditEntry(at: start + Int64(n) * 1_000, subject: n % 2 == 0 ? "officer" : "admin-1",
                                                             role: "chair", action: n < 2 ? "room.mute" : "meeting.end",
                                                             target: "meeting/1", detail: n == 3 ? "=cmd, \"quoted\"" : ""))
        }
        let iso = RollCall.iso(start + 1_000)
        let headers = HubFixture.headers(.admin, "admin-1")
        try await fixture.application().test(.router) { client in
            func ids(_ query: String) async throws -> [Int] {
                try await client.execute(uri: "/api/audit?\(query)", method: .get, headers: headers) { r in
                    #expect(r.status == .ok, "\(query): \(String(buffer: r.body))")
                    return Self.entries(r.body).compactMap { $0["id"] as? Int }
                }
            }
            #expect(try await ids("subject=officer") == [3, 1])
            #expect(try await ids("action=meeting.end") == [4, 3])
            #expect(try await ids("since=\(start + 1_000)&until=\(start + 3_000)") == [3, 2])
            #expect(try await ids("since=\(iso.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)") == [4, 3, 2])
            #expect(try await ids("limit=2") == [4, 3])
            #expect(try await ids("before=3") == [2, 1])
            for bad in ["limit=0", "limit=1001", "since=yesterday", "before=-1"] {
                try await client.execute(uri: "/api/audit?\(bad)", method: .get, headers: headers) { #expect($0.status == .badRequest, "\(bad)") }
            }
            try await client.execute(uri: "/api/audit?format=csv&action=meeting.end", method: .get, headers: headers) { r in
                #expect(r.headers[.contentType]?.hasPrefix("text/csv") == true)
                let lines = String(buffer: r.body).components(separatedBy: "\r\n").filter { !$0.isEmpty }
                #expect(lines.first == "id,at,time,subject,role,remote,action,target,detail,result,prev_hash,hash")
                #expect(lines.count == 3)
                #expect(lines[1].hasPrefix("4,\(start + 3_000),") && lines[1].contains(#","'=cmd, ""quoted""","#))
            }
            var accept = headers
            accept[.accept] = "text/csv"
            try await client.execute(uri: "/api/audit", method: .get, headers: accept) { r in
                #expect(String(buffer: r.body).hasPrefix("id,at,time,"))
            }
        }
    }

    @Test("the chair's entry, mute and the meeting's end are recorded with the client's address; a commune's mute attempt as refused")
    func roomControls() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let meeting = try await RoomServer.run(fixture) { server, client in
            let chair = RoomClient(subject: "officer")
            chair.start(client, meeting: server.meeting, role: .chair)
            try await chair.wait(for: "joined")
            let commune = RoomClient(subject: "xa-b")
            commune.start(client, meeting: server.meeting, role: .commune)
            try await chair.wait(for: "roster", "with two people") { MeetingRoomTests.roster($0).count == 2 }
            commune.send.yield(#"{"type": "mute_participant", "participant": "officer", "muted": true}"#)
            try await commune.wait(for: "error")
            chair.send.yield(#"{"type": "mute_participant", "participant": "xa-b", "muted": true}"#)
            try await commune.wait(for: "muted")
            chair.send.yield(#"{"type": "end"}"#)
            try await commune.wait(for: "ended")
            _ = try await withTimeout(15, "the sockets close") { try await commune.task.withLock { $0 }?.value }
            // The end's row is written once the chair's request is handled, which the ended
            // participants do not wait for: wait for it (bounded).
            try await withTimeout(15, "the end's audit row") {
                while try await fixture.hub.auditLog.list(AuditFilter(action: "meeting.end")).isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            }
        }
        // A request's row is written before its replies go out, and one socket's requests in order.
        let entries = try await fixture.hub.auditLog.list(AuditFilter()).reversed().map(\.entry)
        #expect(entries.allSatisfy { $0.remote == "127.0.0.1" }, "the room socket's rows name the client's address")
        var rows = entries.map { ($0.action, $0.subject, $0.target, $0.result) }
        #expect(rows.count == 4)
        #expect(rows.first.map { $0 == ("meeting.start", "officer", "meeting/\(meeting)", "ok") } == true, "the chair's entry starts it: \(rows)")
        rows.removeFirst()
        #expect(rows.first.map { $0.0 == "room.mute" && $0.1 == "xa-b" && $0.3.hasPrefix("refused: only the chair") } == true, "\(rows)")
        #expect(rows.dropFirst().first.map { $0 == ("room.mute", "officer", "meeting/\(meeting)/xa-b", "ok") } == true, "\(rows)")
        #expect(rows.last.map { $0 == ("meeting.end", "officer", "meeting/\(meeting)", "ok") } == true, "\(rows)")
    }
}
