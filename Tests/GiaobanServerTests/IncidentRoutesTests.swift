import Foundation
@testable import GiaobanServer
import GiaobanStore
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import GiaobanTestSupport
import GiaobanAuth
import GiaobanHub

@Suite("Incident routes")
struct IncidentRoutesTests {
    static let authority = TokenAuthority(secret: Array("incident-routes-test-secret-0123456789".utf8))

    static func bearer(_ role: Role, _ sub: String = "cam-1") -> HTTPFields {
        let now = Int64(Date().timeIntervalSince1970)
        let token = authority.issue(TokenClaims(sub: sub, role: role, exp: now + 600, iat: now))
        return [.authorization: "Bearer \(token)", .contentType: "application/json"]
    }

    static let report = #"""
        {"identifier": "r-1", "type": "Tai nạn giao thông", "severity": "Minor", "urgency": "Past",
         "certainty": "Observed", "location": {"lat": 10.9, "lon": 107.0}, "time": "2026-11-29T08:00:00+07:00",
         "text": "Xe hỏng chiếm làn"}
        """#

    @Test("201 then 200 with the same id; listed once; roles enforced; errors are text/plain")
    func ingestAndList() async throws {
        let temp = TemporaryDatabase()
        defer { temp.cleanup() }
        var settings = Hub.Settings()
        settings.maxBodyBytes = 4096
        let hub = try await Hub(database: try Database(path: temp.path), tokens: Self.authority, settings: settings,
                                logger: Logger(label: "test"))
        // Camera tokens report only for directory cameras (docs/security.md).
        let directory = #"{"communes": [], "cameras": [{"id": "cam-1", "name": "QL51 Km3", "location": {"lat": 10.9, "lon": 107.0}, "road": "QL51", "km": 3}]}"#
        _ = try await hub.seedDirectory(try DirectoryFile(parsing: Data(directory.utf8), source: "test"))
        let app = ControlPlane.application(config: GiaobanConfig(),
                                           services: .init(sessions: nil, webRoot: nil, hub: hub),
                                           logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let body = ByteBuffer(string: Self.report)
            var firstID = ""
            try await client.execute(uri: "/api/incidents", method: .post, headers: Self.bearer(.camera), body: body) { r in
                #expect(r.status == .created)
                let text = String(buffer: r.body)
                #expect(text.hasPrefix(#"{"created":true,"id":"#))
                firstID = String(text.drop { !$0.isNumber }.prefix { $0.isNumber })
            }
            try await client.execute(uri: "/api/incidents", method: .post, headers: Self.bearer(.admin, "cam-1"),
                                     body: body) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body) == #"{"created":false,"id":\#(firstID),"recipients":["command"]}"#)
            }
            try await client.execute(uri: "/api/incidents", method: .post, headers: Self.bearer(.observer), body: body) { r in
                #expect(r.status == .forbidden)
            }
            let tooBig = ByteBuffer(string: String(repeating: " ", count: 5000))
            try await client.execute(uri: "/api/incidents", method: .post, headers: Self.bearer(.camera), body: tooBig) { r in
                #expect(r.status == .contentTooLarge)
            }
            let bad = ByteBuffer(string: Self.report.replacingOccurrences(of: "Minor", with: "Tiny"))
            try await client.execute(uri: "/api/incidents", method: .post, headers: Self.bearer(.camera), body: bad) { r in
                #expect(r.status == .badRequest)
                #expect(r.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(String(buffer: r.body).contains("severity: 'Tiny' is not one of"))
            }
            try await client.execute(uri: "/api/incidents?limit=10", method: .get, headers: Self.bearer(.observer)) { r in
                #expect(r.status == .ok)
                let text = String(buffer: r.body)
                #expect(text.components(separatedBy: #""identifier":"r-1""#).count == 2)
                #expect(text.hasSuffix(#""next_after":null}"#))
            }
            try await client.execute(uri: "/api/incidents/\(firstID)", method: .get, headers: Self.bearer(.chair)) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/api/incidents/\(firstID)", method: .get, headers: Self.bearer(.commune)) { r in
                #expect(r.status == .forbidden) // routed to no commune: the directory is empty
            }
            try await client.execute(uri: "/api/incidents", method: .get) { r in
                #expect(r.status == .unauthorized)
            }
        }
    }
}
