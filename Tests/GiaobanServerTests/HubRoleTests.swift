import Foundation
@testable import GiaobanServer
import GiaobanStore
import Hummingbird
import HummingbirdTesting
import Testing
import GiaobanAuth
import GiaobanHub

/// Every role boundary of the hub's REST surface: who may, who may not, and a missing,
/// malformed or expired token.
@Suite("Hub: role boundaries")
struct HubRoleTests {
    struct Case: Sendable, CustomStringConvertible {
        let method: HTTPRequest.Method
        let path: String
        let role: Role?
        let subject: String
        let body: String?
        let expected: HTTPResponse.Status
        var description: String { "\(method) \(path) as \(role?.rawValue ?? "nobody") (\(subject)) → \(expected.code)" }
    }

    static let incident = #"{"identifier": "x", "type": "t", "severity": "Minor", "urgency": "Past", "certainty": "Observed", "location": {"lat": 10.85, "lon": 106.85}, "time": "2026-11-29T08:00:00+07:00", "text": "t"}"#
    static let briefing = #"{"title": "Giao ban", "body": "Nội dung", "audience": {"communes": ["xa-a"]}}"#
    static let meeting = #"{"title": "Giao ban sáng", "scheduled_at": "2026-11-30T07:30:00+07:00"}"#
    static let commune = #"{"name": "Xã E", "area": {"type": "Polygon", "coordinates": [[[1,1],[2,1],[2,2],[1,2],[1,1]]]}}"#

    /// Incident 1 is routed to xa-a and the command center; briefing 1 is addressed to xa-a only;
    /// meeting 1 exists.
    static let cases: [Case] = [
        // Incidents: cameras and admins report; nobody else does.
        Case(method: .post, path: "/api/incidents", role: .commune, subject: "xa-a", body: incident, expected: .forbidden),
        Case(method: .post, path: "/api/incidents", role: .chair, subject: "officer", body: incident, expected: .forbidden),
        Case(method: .post, path: "/api/incidents", role: .observer, subject: "obs", body: incident, expected: .forbidden),
        Case(method: .post, path: "/api/incidents", role: nil, subject: "", body: incident, expected: .unauthorized),
        // A camera only reports.
        Case(method: .get, path: "/api/incidents", role: .camera, subject: "cam-1", body: nil, expected: .forbidden),
        Case(method: .get, path: "/api/incidents/1", role: .camera, subject: "cam-1", body: nil, expected: .forbidden),
        Case(method: .get, path: "/api/briefings", role: .camera, subject: "cam-1", body: nil, expected: .forbidden),
        Case(method: .get, path: "/api/meetings", role: .camera, subject: "cam-1", body: nil, expected: .forbidden),
        Case(method: .get, path: "/api/communes", role: .camera, subject: "cam-1", body: nil, expected: .forbidden),
        // A commune sees what was routed to it and nothing else.
        Case(method: .get, path: "/api/incidents/1", role: .commune, subject: "xa-a", body: nil, expected: .ok),
        Case(method: .get, path: "/api/incidents/1", role: .commune, subject: "xa-d", body: nil, expected: .forbidden),
        Case(method: .post, path: "/api/incidents/1/ack", role: .commune, subject: "xa-d", body: "{}", expected: .forbidden),
        Case(method: .post, path: "/api/incidents/1/state", role: .commune, subject: "xa-d", body: #"{"state": "dispatched"}"#, expected: .forbidden),
        Case(method: .get, path: "/api/incidents/1/deliveries", role: .commune, subject: "xa-a", body: nil, expected: .forbidden),
        Case(method: .get, path: "/api/incidents/1/deliveries", role: .observer, subject: "obs", body: nil, expected: .ok),
        Case(method: .post, path: "/api/incidents/1/ack", role: .observer, subject: "obs", body: "{}", expected: .forbidden),
        Case(method: .post, path: "/api/incidents/1/state", role: .observer, subject: "obs", body: #"{"state": "dispatched"}"#, expected: .forbidden),
        // Briefings: the chair sends; a commune cannot, nor read another commune's.
        Case(method: .post, path: "/api/briefings", role: .commune, subject: "xa-a", body: briefing, expected: .forbidden),
        Case(method: .post, path: "/api/briefings", role: .observer, subject: "obs", body: briefing, expected: .forbidden),
        Case(method: .get, path: "/api/briefings/1", role: .commune, subject: "xa-b", body: nil, expected: .forbidden),
        Case(method: .get, path: "/api/briefings/1", role: .commune, subject: "xa-a", body: nil, expected: .ok),
        Case(method: .post, path: "/api/briefings/1/ack", role: .commune, subject: "xa-b", body: "{}", expected: .forbidden),
        Case(method: .post, path: "/api/briefings/1/ack", role: .chair, subject: "officer", body: "{}", expected: .forbidden),
        Case(method: .get, path: "/api/briefings/1/receipts", role: .commune, subject: "xa-a", body: nil, expected: .forbidden),
        Case(method: .get, path: "/api/briefings/1/receipts", role: .chair, subject: "officer", body: nil, expected: .ok),
        // Meetings: the chair schedules; a commune cannot chair or export the roll call.
        Case(method: .post, path: "/api/meetings", role: .commune, subject: "xa-a", body: meeting, expected: .forbidden),
        Case(method: .get, path: "/api/meetings/1", role: .commune, subject: "xa-a", body: nil, expected: .ok),
        Case(method: .get, path: "/api/meetings/1/attendance.csv", role: .commune, subject: "xa-a", body: nil, expected: .forbidden),
        Case(method: .get, path: "/api/meetings/1/attendance.csv", role: .observer, subject: "obs", body: nil, expected: .ok),
        // The directory: everyone but cameras reads; only an admin edits.
        Case(method: .put, path: "/api/communes/xa-e", role: .chair, subject: "officer", body: commune, expected: .forbidden),
        Case(method: .put, path: "/api/communes/xa-e", role: .commune, subject: "xa-a", body: commune, expected: .forbidden),
        Case(method: .delete, path: "/api/communes/xa-a", role: .commune, subject: "xa-a", body: nil, expected: .forbidden),
        Case(method: .delete, path: "/api/cameras/cam-1", role: .chair, subject: "officer", body: nil, expected: .forbidden),
        Case(method: .get, path: "/api/communes/xa-a", role: .commune, subject: "xa-b", body: nil, expected: .ok),
    ]

    @Test("each route refuses the roles it must refuse", arguments: cases)
    func boundary(_ c: Case) async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            // The objects the cases refer to.
            try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.camera, "cam-1"),
                                     body: ByteBuffer(string: Self.incident)) { #expect($0.status == .created) }
            try await client.execute(uri: "/api/briefings", method: .post, headers: HubFixture.headers(.chair, "officer"),
                                     body: ByteBuffer(string: Self.briefing)) { #expect($0.status == .created) }
            try await client.execute(uri: "/api/meetings", method: .post, headers: HubFixture.headers(.chair, "officer"),
                                     body: ByteBuffer(string: Self.meeting)) { #expect($0.status == .created) }
            var headers: HTTPFields = [.contentType: "application/json"]
            if let role = c.role { headers[.authorization] = "Bearer \(HubFixture.token(role, c.subject))" }
            try await client.execute(uri: c.path, method: c.method, headers: headers, body: c.body.map { ByteBuffer(string: $0) }) { r in
                #expect(r.status == c.expected, "\(c): \(String(buffer: r.body))")
                if r.status.code >= 400 { #expect(!String(buffer: r.body).isEmpty, "an error says why") }
            }
        }
    }

    @Test("expired, forged and malformed tokens get 401 with the reason")
    func badTokens() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let expired = HubFixture.token(.chair, "officer", expiresIn: -60)
        let forged = TokenAuthority(secret: Array("another-secret-another-secret-00".utf8))
            .issue(TokenClaims(sub: "officer", role: .admin, exp: Int64(Date().timeIntervalSince1970) + 600, iat: 0))
        try await fixture.application().test(.router) { client in
            for (token, reason) in [(expired, "expired"), (forged, "signature"), ("abc", "malformed")] {
                try await client.execute(uri: "/api/incidents", method: .get, headers: [.authorization: "Bearer \(token)"]) { r in
                    #expect(r.status == .unauthorized)
                    #expect(String(buffer: r.body).contains(reason), "\(String(buffer: r.body))")
                }
            }
            try await client.execute(uri: "/api/incidents", method: .get, headers: [.authorization: "Basic abc"]) { r in
                #expect(r.status == .unauthorized)
            }
        }
    }
}
