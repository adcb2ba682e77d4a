import Foundation
@testable import GiaobanServer
import GiaobanCrypto
import GiaobanStore
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import HummingbirdWSTesting
import GiaobanHub
import Testing
import GiaobanAuth

/// The admin's account and API key routes, API keys as credentials and their revocation, the
/// client's address in the audit trail (docs/accounts.md, docs/audit.md).
@Suite("Accounts: admin routes, API keys, audit origin")
struct AccountAdminRoutesTests {
    /// A hub whose authority refuses disabled accounts and knows API keys, with the fixture's accounts.
    static func fixture(rateLimits: RateLimits = RateLimits()) async throws -> HubFixture {
        var tokens = HubFixture.authority
        tokens.revocations = SubjectRevocations()
        tokens.apiKeys = APIKeyGrants()
        let fixture = try await HubFixture(tokens: tokens, rateLimits: rateLimits)
        let accounts = AccountStore(database: fixture.hub.database)
        try accounts.addNow(AccountRecord(subject: "can-bo-an", displayName: "Cán bộ An", role: "chair",
                                          passwordHash: try PasswordHash.make(password: SignInRoutesTests.password).encoded), now: 0)
        try accounts.addNow(AccountRecord(subject: "cam-1", displayName: "Camera 1", role: "camera"), now: 0)
        try accounts.addNow(AccountRecord(subject: "xa-a", displayName: "Công an xã A", role: "commune", commune: "xa-a"), now: 0)
        return fixture
    }

    static let admin = HubFixture.headers(.admin, "quan-tri")

    static func body(_ object: [String: Any]) -> ByteBuffer { ByteBuffer(data: try! JSONSerialization.data(withJSONObject: object)) }

    /// Issues an API key for `subject` as the admin; returns (id, key).
    static func issue(_ client: some TestClientProtocol, _ subject: String) async throws -> (String, String) {
        try await client.execute(uri: "/api/keys", method: .post, headers: admin, body: body(["subject": subject, "label": "key of \(subject)"])) { r in
            #expect(r.status == .created)
            let json = jsonObject(String(buffer: r.body))
            return (json["id"] as? String ?? "", json["key"] as? String ?? "")
        }
    }

    @Test("an admin adds, lists and changes accounts; others are refused and recorded; a disabled account's token is refused at once")
    func accounts() async throws {
        let fixture = try await Self.fixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            let new = Self.body(["subject": "can-bo-binh", "display_name": "Cán bộ Bình", "role": "observer", "password": "mật khẩu dài đủ"])
            try await client.execute(uri: "/api/accounts", method: .post, headers: Self.admin, body: new) { r in
                #expect(r.status == .created)
                let json = jsonObject(String(buffer: r.body))
                #expect(json["subject"] as? String == "can-bo-binh" && json["has_password"] as? Bool == true && json["enabled"] as? Bool == true)
                #expect(json["password_hash"] == nil)
            }
            try await client.execute(uri: "/api/accounts", method: .post, headers: Self.admin, body: new) { #expect($0.status == .conflict) }
            for bad in [["subject": "x", "role": "king"], ["subject": "x", "role": "chair", "password": "short"], ["subject": "", "role": "chair"]] {
                try await client.execute(uri: "/api/accounts", method: .post, headers: Self.admin, body: Self.body(bad)) {
                    #expect($0.status == .badRequest, "\(bad)")
                }
            }
            try await client.execute(uri: "/api/accounts", method: .get, headers: HubFixture.headers(.chair, "can-bo-an")) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: "/api/accounts", method: .get, headers: Self.admin) { r in
                let subjects = (jsonObject(String(buffer: r.body))["accounts"] as? [[String: Any]] ?? []).compactMap { $0["subject"] as? String }
                #expect(subjects == ["cam-1", "can-bo-an", "can-bo-binh", "xa-a"])
            }
            let officer = HubFixture.headers(.chair, "can-bo-an")
            try await client.execute(uri: "/api/meetings", method: .get, headers: officer) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/accounts/can-bo-an", method: .patch, headers: Self.admin, body: Self.body(["enabled": false])) { r in
                #expect(r.status == .ok)
                #expect(jsonObject(String(buffer: r.body))["enabled"] as? Bool == false)
            }
            try await client.execute(uri: "/api/meetings", method: .get, headers: officer) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/api/accounts/can-bo-an", method: .patch, headers: Self.admin,
                                     body: Self.body(["enabled": true, "password": "một mật khẩu mới"])) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/meetings", method: .get, headers: officer) { #expect($0.status == .ok) }
            for (password, expected) in [(SignInRoutesTests.password, HTTPResponse.Status.unauthorized), ("một mật khẩu mới", .ok)] {
                try await client.execute(uri: "/api/auth/signin", method: .post, headers: SignInRoutesTests.json,
                                         body: SignInRoutesTests.signIn("can-bo-an", password)) { #expect($0.status == expected) }
            }
            try await client.execute(uri: "/api/accounts/nobody", method: .patch, headers: Self.admin, body: Self.body(["enabled": false])) {
                #expect($0.status == .notFound)
            }
        }
        let rows = try await fixture.hub.auditLog.list(AuditFilter(limit: 100)).reversed().map { "\($0.entry.action) \($0.entry.target) \($0.entry.result)" }
        #expect(rows.contains("account.add account/can-bo-binh ok"))
        #expect(rows.contains { $0.hasPrefix("account.list accounts refused") })
        #expect(rows.contains("account.disable account/can-bo-an ok") && rows.contains("account.enable account/can-bo-an ok"))
        #expect(rows.contains("account.password account/can-bo-an ok"))
    }

    @Test("an API key acts as its account, is never listed, and is refused once revoked")
    func keys() async throws {
        let fixture = try await Self.fixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            let (id, key) = try await Self.issue(client, "cam-1")
            #expect(key.hasPrefix("gbk_\(id)_") && key.count == 4 + 16 + 1 + 64)
            let bearer: HTTPFields = [.authorization: "Bearer \(key)", .contentType: "application/json"]
            try await client.execute(uri: "/api/incidents", method: .post, headers: bearer,
                                     body: HubFixture.report("KEY-1", lat: 10.805, lon: 106.805)) { #expect($0.status == .created) }
            try await client.execute(uri: "/api/audit", method: .get, headers: bearer) { #expect($0.status == .forbidden, "a camera's key reads the audit") }
            try await client.execute(uri: "/api/keys", method: .get, headers: Self.admin) { r in
                let text = String(buffer: r.body)
                #expect(text.contains(id) && !text.contains(key) && !text.contains(APIKeyGrants.digest(key)))
            }
            try await client.execute(uri: "/api/keys", method: .post, headers: Self.admin, body: Self.body(["subject": "nobody", "label": "x"])) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/api/keys/\(id)", method: .delete, headers: Self.admin) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/api/incidents", method: .post, headers: bearer,
                                     body: HubFixture.report("KEY-2", lat: 10.805, lon: 106.805)) { r in
                #expect(r.status == .unauthorized)
                #expect(String(buffer: r.body).contains("revoked"))
            }
            try await client.execute(uri: "/api/keys/\(id)", method: .delete, headers: HubFixture.headers(.chair, "can-bo-an")) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: "/api/keys/ffff", method: .delete, headers: Self.admin) { #expect($0.status == .notFound) }
            // A key of a disabled account stops working at the next read of the database.
            let (_, second) = try await Self.issue(client, "cam-1")
            try AccountStore(database: fixture.hub.database).setEnabledNow("cam-1", false, now: 1)
            await fixture.hub.refreshRevocations()
            try await client.execute(uri: "/api/incidents", method: .post, headers: [.authorization: "Bearer \(second)", .contentType: "application/json"],
                                     body: HubFixture.report("KEY-3", lat: 10.805, lon: 106.805)) { #expect($0.status == .unauthorized) }
        }
        let actions = try await fixture.hub.auditLog.list(AuditFilter(limit: 100)).map(\.entry.action)
        #expect(actions.filter { $0 == "key.issue" }.count == 2 && actions.contains("key.revoke"))
    }

    @Test("an event socket opened with an API key is closed when the key is revoked; audit rows carry the client's address")
    func keySocketAndOrigin() async throws {
        let fixture = try await Self.fixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.live) { client in
            let (id, key) = try await client.execute(uri: "/api/keys", method: .post, headers: Self.admin,
                                                     body: Self.body(["subject": "xa-a", "label": "station"])) { r -> (String, String) in
                let json = jsonObject(String(buffer: r.body))
                return (json["id"] as? String ?? "", json["key"] as? String ?? "")
            }
            let opened = ReleaseFlag()
            let socket = Task {
                try await withTimeout(30, "the revoked key's socket") {
                    try await client.ws("/api/events?access_token=\(key)") { inbound, _, _ in
                        for try await _ in inbound.messages(maxSize: 1 << 16) { opened.raised.store(true, ordering: .relaxed) }
                    }
                }
            }
            for _ in 0..<1000 where !opened.raised.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
            let helloArrived = opened.raised.load(ordering: .relaxed)
            #expect(helloArrived)
            try await client.execute(uri: "/api/keys/\(id)", method: .delete, headers: Self.admin) { #expect($0.status == .noContent) }
            let close = try await socket.value
            #expect(close?.closeCode == .policyViolation)
            #expect(close?.reason == Hub.keyRevokedReason)
        }
        let rows = try await fixture.hub.auditLog.list(AuditFilter(action: "key.revoke", limit: 10))
        #expect(rows.first?.entry.remote == "127.0.0.1")
    }

    @Test("incidents, briefings and sign-ins beyond their budget per minute get 429 with Retry-After; the budget refills")
    func rateLimits() async throws {
        var limits = RateLimits()
        limits.incidentsPerMinute = 2
        limits.signInsPerMinute = 3
        limits.briefingsPerMinute = 1
        let fixture = try await Self.fixture(rateLimits: limits)
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            let camera = HubFixture.headers(.camera, "cam-1")
            for n in 1...3 {
                try await client.execute(uri: "/api/incidents", method: .post, headers: camera,
                                         body: HubFixture.report("RL-\(n)", lat: 10.805, lon: 106.805)) { r in
                    if n < 3 { #expect(r.status == .created) } else {
                        #expect(r.status == .tooManyRequests)
                        #expect(Int(r.headers[.retryAfter] ?? "") ?? 0 >= 1)
                        #expect(String(buffer: r.body).contains("per minute"))
                    }
                }
            }
            // Another subject has its own budget.
            try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.admin, "ops"),
                                     body: HubFixture.report("RL-4", lat: 10.805, lon: 106.805)) { #expect($0.status == .created) }
            fixture.clock.advance(seconds: 30)
            try await client.execute(uri: "/api/incidents", method: .post, headers: camera,
                                     body: HubFixture.report("RL-5", lat: 10.805, lon: 106.805)) { #expect($0.status == .created) }
            for n in 1...4 {
                try await client.execute(uri: "/api/auth/signin", method: .post, headers: SignInRoutesTests.json,
                                         body: SignInRoutesTests.signIn("can-bo-an", SignInRoutesTests.password)) { r in
                    #expect(r.status == (n < 4 ? .ok : .tooManyRequests), "sign-in \(n)")
                }
            }
            let briefing = ByteBuffer(string: #"{"title": "Họp", "body": "Nội dung", "recipients": ["xa-a"]}"#)
            for n in 1...2 {
                try await client.execute(uri: "/api/briefings", method: .post, headers: HubFixture.headers(.chair, "can-bo-an"), body: briefing) { r in
                    if n == 1 { #expect(r.status != .tooManyRequests) } else { #expect(r.status == .tooManyRequests) }
                }
            }
        }
        #expect(fixture.hub.metrics.rateLimited.load(ordering: .relaxed) == 3)
    }
}

/// A revoked subject's media sessions end (docs/accounts.md): the revocation service's sweep.
@Suite("Accounts: media sessions of a revoked subject")
struct RevokedMediaTests {
    @Test("a WHIP session of a disabled account and one opened with a revoked API key end; others stay")
    func mediaEnds() async throws {
        let fixture = try await AccountAdminRoutesTests.fixture()
        defer { fixture.cleanup() }
        let offer = try SecurityMediaSessionTests.fixture("chromium-offer")
        try await RoomServer.run(fixture) { server, client in
            let (keyID, key) = try await AccountAdminRoutesTests.issue(client, "xa-a")
            func publish(_ stream: String, _ bearer: String) async throws -> String? {
                try await client.execute(uri: "/whip/\(stream)", method: .post,
                                         headers: [.authorization: "Bearer \(bearer)", .contentType: "application/sdp"],
                                         body: ByteBuffer(string: offer)) { r in
                    #expect(r.status == .created, "\(stream): \(String(buffer: r.body))")
                    return r.headers[.location].map { String($0.split(separator: "/").last ?? "") }
                }
            }
            let officer = try #require(try await publish("officer-cam", HubFixture.token(.chair, "can-bo-an")))
            let station = try #require(try await publish("station-cam", key))
            let script = try #require(try await publish("script-cam", HubFixture.token(.chair, "script")))
            await server.sessions.endRevoked()
            #expect(server.sessionsPeer(session: officer, subject: "can-bo-an") != nil, "nothing revoked yet")

            try AccountStore(database: fixture.hub.database).setEnabledNow("can-bo-an", false, now: 1)
            try await client.execute(uri: "/api/keys/\(keyID)", method: .delete, headers: AccountAdminRoutesTests.admin) {
                #expect($0.status == .noContent)
            }
            await fixture.hub.refreshRevocations()
            await server.sessions.endRevoked()
            #expect(server.sessionsPeer(session: officer, subject: "can-bo-an") == nil, "the disabled account's publisher still runs")
            #expect(server.sessionsPeer(session: station, subject: "xa-a") == nil, "the revoked key's publisher still runs")
            #expect(server.sessionsPeer(session: script, subject: "script") != nil, "a subject without an account lost its session")
        }
    }
}

/// Room joins beyond their budget, and the recording controls in the audit trail.
@Suite("Accounts: room join limit, recording audit")
struct RoomJoinLimitTests {
    @Test("a subject opening rooms faster than room_joins_per_minute is closed with 1008 and the wait; others are not")
    func roomJoins() async throws {
        var limits = RateLimits()
        limits.roomJoinsPerMinute = 1
        let fixture = try await HubFixture(rateLimits: limits)
        defer { fixture.cleanup() }
        try await RoomServer.run(fixture) { server, client in
            let first = RoomClient(subject: "xa-a")
            first.start(client, meeting: server.meeting, role: .commune)
            try await first.wait(for: "joined")
            await first.finish()
            let second = RoomClient(subject: "xa-a")
            second.start(client, meeting: server.meeting, role: .commune)
            _ = try? await second.task.withLock { $0 }?.value
            let reason = second.closeReason.withLock { $0 } ?? ""
            #expect(reason.contains("room join") && reason.contains("try again in"), "closed with '\(reason)'")
            let other = RoomClient(subject: "xa-b")
            other.start(client, meeting: server.meeting, role: .commune)
            try await other.wait(for: "joined")
            await other.finish()
        }
        #expect(fixture.hub.metrics.rateLimited.load(ordering: .relaxed) == 1)
    }

    @Test("the chair's record control is an audit action")
    func recordingAudited() {
        #expect(MeetingRooms.auditAction(.record(true), meeting: 7)?.action == "recording.start")
        #expect(MeetingRooms.auditAction(.record(false), meeting: 7)?.action == "recording.stop")
        #expect(MeetingRooms.auditAction(.record(false), meeting: 7)?.target == "meeting/7")
    }
}
