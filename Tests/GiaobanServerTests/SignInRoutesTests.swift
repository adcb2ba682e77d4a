import Foundation
@testable import GiaobanServer
import GiaobanCrypto
import GiaobanStore
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import HummingbirdWSTesting
import Synchronization
import GiaobanHub
import Testing
import GiaobanAuth

/// Password sign-in, refresh rotation and reuse detection, lockout, and a disabled account's
/// tokens refused at request time (docs/accounts.md).
@Suite("Accounts: sign-in, refresh, lockout, revocation")
struct SignInRoutesTests {
    static let password = "mật khẩu của An 2026"

    /// A hub whose authority refuses disabled accounts, with the chair account `can-bo-an`
    /// (commune xa-a) and the machine account `cam-1`.
    static func fixture() async throws -> HubFixture {
        var tokens = HubFixture.authority
        tokens.revocations = SubjectRevocations()
        let fixture = try await HubFixture(tokens: tokens)
        let accounts = AccountStore(database: fixture.hub.database)
        try accounts.addNow(AccountRecord(subject: "can-bo-an", displayName: "Cán bộ An", role: "chair", commune: "xa-a",
                                          passwordHash: try PasswordHash.make(password: password).encoded), now: 0)
        try accounts.addNow(AccountRecord(subject: "cam-1", displayName: "Camera 1", role: "camera"), now: 0)
        return fixture
    }

    static func signIn(_ subject: String, _ password: String) -> ByteBuffer {
        ByteBuffer(data: try! JSONSerialization.data(withJSONObject: ["subject": subject, "password": password]))
    }

    static func refresh(_ token: String) -> ByteBuffer {
        ByteBuffer(string: #"{"refresh_token": "\#(token)"}"#)
    }

    static let json: HTTPFields = [.contentType: "application/json"]

    /// The signin actions recorded, oldest first, as "result" strings.
    static func recorded(_ fixture: HubFixture, _ action: String) async throws -> [String] {
        try await fixture.hub.auditLog.list(AuditFilter(action: action, limit: 100)).reversed().map(\.entry.result)
    }

    @Test("the right password gives a 10-minute JWT with role and commune; wrong, unknown, machine or disabled get one 401")
    func signIn() async throws {
        let fixture = try await Self.fixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            let (access, refresh) = try await client.execute(uri: "/api/auth/signin", method: .post, headers: Self.json,
                                                             body: Self.signIn("can-bo-an", Self.password)) { r -> (String, String) in
                #expect(r.status == .ok)
                let body = jsonObject(String(buffer: r.body))
                #expect(body["expires_in"] as? Int == 600 && body["token_type"] as? String == "Bearer")
                return (body["access_token"] as? String ?? "", body["refresh_token"] as? String ?? "")
            }
            let claims = try HubFixture.authority.verify(access, now: Int64(Date().timeIntervalSince1970))
            #expect(claims.sub == "can-bo-an" && claims.role == .chair && claims.commune == "xa-a" && claims.exp - claims.iat == 600)
            #expect(refresh.count == 64)
            try await client.execute(uri: "/api/meetings", method: .get, headers: [.authorization: "Bearer \(access)"]) { #expect($0.status == .ok) }

            try AccountStore(database: fixture.hub.database).addNow(
                AccountRecord(subject: "can-bo-ba", displayName: "Ba", role: "chair", enabled: false,
                              passwordHash: try PasswordHash.make(password: Self.password).encoded), now: 0)
            for (subject, password) in [("can-bo-an", "sai"), ("nobody", Self.password), ("cam-1", ""), ("can-bo-ba", Self.password)] {
                try await client.execute(uri: "/api/auth/signin", method: .post, headers: Self.json, body: Self.signIn(subject, password)) {
                    #expect($0.status == .unauthorized, "\(subject)")
                    #expect(String(buffer: $0.body).contains(SignIn.refusal))
                }
            }
        }
        #expect(try await Self.recorded(fixture, "auth.signin") == [
            "ok", "refused: wrong password", "refused: unknown subject", "refused: no password", "refused: account disabled",
        ])
    }

    @Test("five failures lock for 30 s (429, Retry-After), even for the right password; the next failure locks for 60 s")
    func lockout() async throws {
        let fixture = try await Self.fixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            /// The status and Retry-After of one sign-in, as "429 30".
            func attempt(_ password: String) async throws -> String {
                try await client.execute(uri: "/api/auth/signin", method: .post, headers: Self.json, body: Self.signIn("can-bo-an", password)) {
                    "\($0.status.code) \($0.headers[.retryAfter] ?? "-")"
                }
            }
            var answers: [String] = []
            for _ in 1...6 { answers.append(try await attempt(answers.count < 5 ? "sai" : Self.password)) }
            fixture.clock.advance(seconds: 31)
            answers.append(try await attempt("sai"))
            answers.append(try await attempt(Self.password))
            fixture.clock.advance(seconds: 61)
            answers.append(try await attempt(Self.password))
            #expect(answers == ["401 -", "401 -", "401 -", "401 -", "401 -", "429 30", "401 -", "429 60", "200 -"])
        }
        let results = try await Self.recorded(fixture, "auth.signin")
        #expect(results.count == 9 && results.last == "ok")
        #expect(results.filter { $0 == "refused: locked for 30 s" || $0 == "refused: locked for 60 s" }.count == 2)
        #expect(try AccountStore(database: fixture.hub.database).accountNow("can-bo-an")?.failedAttempts == 0)
    }

    @Test("refresh rotates; the old token presented again is refused and revokes the new one; sign-out revokes")
    func rotation() async throws {
        let fixture = try await Self.fixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            func refreshToken(_ r: TestResponse) -> String { jsonObject(String(buffer: r.body))["refresh_token"] as? String ?? "" }
            let first = try await client.execute(uri: "/api/auth/signin", method: .post, headers: Self.json,
                                                 body: Self.signIn("can-bo-an", Self.password)) { refreshToken($0) }
            let second = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: Self.json, body: Self.refresh(first)) { r in
                #expect(r.status == .ok)
                #expect(jsonObject(String(buffer: r.body))["access_token"] as? String != nil)
                return refreshToken(r)
            }
            #expect(!second.isEmpty && second != first)
            try await client.execute(uri: "/api/auth/refresh", method: .post, headers: Self.json, body: Self.refresh(first)) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(uri: "/api/auth/refresh", method: .post, headers: Self.json, body: Self.refresh(second)) {
                #expect($0.status == .unauthorized, "reuse revoked the whole family")
            }
            let third = try await client.execute(uri: "/api/auth/signin", method: .post, headers: Self.json,
                                                 body: Self.signIn("can-bo-an", Self.password)) { refreshToken($0) }
            try await client.execute(uri: "/api/auth/signout", method: .post, headers: Self.json, body: Self.refresh(third)) {
                #expect($0.status == .noContent)
            }
            try await client.execute(uri: "/api/auth/refresh", method: .post, headers: Self.json, body: Self.refresh(third)) {
                #expect($0.status == .unauthorized)
            }
        }
        let refreshes = try await Self.recorded(fixture, "auth.refresh")
        #expect(refreshes.count == 4 && refreshes.first == "ok", "one rotation; two reuses and the token revoked at sign-out")
        #expect(refreshes.dropFirst().allSatisfy { $0.hasPrefix("refused: a used refresh token") })
        #expect(try await Self.recorded(fixture, "auth.signout") == ["ok"])
    }

    @Test("a disabled account's tokens get 401 once the revocations are read; tokens of subjects without an account keep working")
    func disabled() async throws {
        let fixture = try await Self.fixture()
        defer { fixture.cleanup() }
        let officer = HubFixture.headers(.chair, "can-bo-an"), script = HubFixture.headers(.chair, "script")
        let accounts = AccountStore(database: fixture.hub.database)
        try await fixture.application().test(.router) { client in
            await fixture.hub.refreshRevocations()
            try await client.execute(uri: "/api/meetings", method: .get, headers: officer) { #expect($0.status == .ok) }
            try accounts.setEnabledNow("can-bo-an", false, now: 1)
            await fixture.hub.refreshRevocations()
            try await client.execute(uri: "/api/meetings", method: .get, headers: officer) {
                #expect($0.status == .unauthorized)
                #expect(String(buffer: $0.body).contains("disabled"))
            }
            try await client.execute(uri: "/api/meetings", method: .get, headers: script) { #expect($0.status == .ok) }
            try accounts.setEnabledNow("can-bo-an", true, now: 2)
            await fixture.hub.refreshRevocations()
            try await client.execute(uri: "/api/meetings", method: .get, headers: officer) { #expect($0.status == .ok) }
        }
    }

    @Test("an open event socket of a disabled account is closed with 1008 and the reason")
    func socketClosed() async throws {
        let fixture = try await Self.fixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.live) { client in
            let opened = ReleaseFlag()
            let socket = Task {
                try await withTimeout(30, "the disabled account's socket") {
                    try await client.ws("/api/events?access_token=\(HubFixture.token(.chair, "can-bo-an"))") { inbound, _, _ in
                        for try await _ in inbound.messages(maxSize: 1 << 16) { opened.raised.store(true, ordering: .relaxed) }
                    }
                }
            }
            for _ in 0..<1000 where !opened.raised.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
            let helloArrived = opened.raised.load(ordering: .relaxed)
            #expect(helloArrived)
            try AccountStore(database: fixture.hub.database).setEnabledNow("can-bo-an", false, now: 1)
            await fixture.hub.refreshRevocations()
            let close = try await socket.value
            #expect(close?.closeCode == .policyViolation)
            #expect(close?.reason == Hub.disabledReason)
        }
    }
}
