import Foundation
@testable import GiaobanServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import GiaobanAuth

/// Operator routes need a token, every response says nosniff, active attachments are
/// downloads, and token times are checked (docs/security.md).
@Suite("SecurityHTTPTests")
struct SecurityHTTPTests {
    let authority = TokenAuthority(secret: Array("0123456789abcdef0123456789abcdef".utf8), maxLifetime: 86_400)

    func token(_ role: Role, lifetime: Int64 = 600) -> String {
        let now = Int64(Date().timeIntervalSince1970)
        return authority.issue(TokenClaims(sub: "s-\(role.rawValue)", role: role, exp: now + lifetime, iat: now))
    }

    func application(metricsTokenFile: String = "") -> some ApplicationProtocol {
        var config = GiaobanConfig()
        config.security.metricsTokenFile = metricsTokenFile
        return ControlPlane.application(config: config, services: .init(sessions: nil, webRoot: nil, tokens: authority),
                                        logger: Logger(label: "test"))
    }

    @Test("/metrics needs an admin or observer token (or the metrics token); /version any token; /healthz none")
    func operatorRoutes() async throws {
        try await application().test(.router) { client in
            for (token, status) in [(nil, HTTPResponse.Status.unauthorized), ("garbage", .unauthorized),
                                    (self.token(.commune), .forbidden), (self.token(.chair), .forbidden), (self.token(.camera), .forbidden),
                                    (self.token(.observer), .ok), (self.token(.admin), .ok)] {
                let headers: HTTPFields = token.map { [.authorization: "Bearer \($0)"] } ?? [:]
                try await client.execute(uri: "/metrics", method: .get, headers: headers) { response in
                    #expect(response.status == status, "\(token?.prefix(12) ?? "none")")
                }
            }
            try await client.execute(uri: "/version", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/version", method: .get, headers: [.authorization: "Bearer \(self.token(.camera))"]) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body).contains("\"version\""))
            }
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test("the static metrics token opens /metrics only, compared in full")
    func metricsTokenFile() async throws {
        let path = NSTemporaryDirectory() + "giaoban-metrics-\(UUID().uuidString)"
        let secret = "scraper-token-0123456789"
        try Data((secret + "\n").utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await application(metricsTokenFile: path).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(secret)"]) {
                #expect($0.status == .ok)
            }
            for wrong in [String(secret.dropLast()), secret + "x", "Scraper-token-0123456789"] {
                try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(wrong)"]) {
                    #expect($0.status == .unauthorized)
                }
            }
            try await client.execute(uri: "/version", method: .get, headers: [.authorization: "Bearer \(secret)"]) {
                #expect($0.status == .unauthorized, "the scraper token is not a token for anything else")
            }
        }
        var config = GiaobanConfig()
        config.security.metricsTokenFile = path + "-missing"
        #expect(throws: ConfigError.self) { try ControlPlane.checkSecurityFiles(config: config) }
    }

    @Test("every response carries X-Content-Type-Options: nosniff, errors included")
    func noSniff() async throws {
        let nosniff = HTTPField.Name("X-Content-Type-Options")!
        try await application().test(.router) { client in
            for uri in ["/healthz", "/version", "/metrics", "/no-such-route"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.headers[nosniff] == "nosniff", "\(uri) → \(response.status)")
                }
            }
        }
    }

    @Test("active media types are served as application/octet-stream downloads; passive ones as declared",
          arguments: [("text/html", false), ("TEXT/HTML; charset=utf-8", false), ("image/svg+xml", false),
                      ("application/javascript", false), ("text/javascript", false), ("application/xml", false),
                      ("text/xml", false), ("application/xhtml+xml", false), ("text/plain, text/html", false),
                      ("image/png", true), ("image/jpeg", true), ("application/pdf", true), ("text/csv; charset=utf-8", true)])
    func activeTypes(type: String, passive: Bool) {
        let named = Response.bytes(Array("<script>alert(1)</script>".utf8), contentType: type, filename: "x.html")
        let unnamed = Response.bytes(Array("<svg onload=alert(1)>".utf8), contentType: type)
        if passive {
            #expect(named.headers[.contentType] == type)
            #expect(unnamed.headers[.contentDisposition] == nil)
        } else {
            #expect(named.headers[.contentType] == "application/octet-stream")
            #expect(named.headers[.contentDisposition] == "attachment; filename=\"x.html\"")
            #expect(unnamed.headers[.contentType] == "application/octet-stream")
            #expect(unnamed.headers[.contentDisposition] == "attachment")
        }
    }

    @Test("iat in the future, nbf not reached and lifetimes over the maximum are refused")
    func tokenTimes() throws {
        let now: Int64 = 1_000_000
        func verify(exp: Int64, iat: Int64, nbf: Int64? = nil) throws(TokenError) -> TokenClaims {
            try authority.verify(authority.issue(TokenClaims(sub: "c1", role: .commune, exp: exp, iat: iat, nbf: nbf)), now: now)
        }
        #expect(try verify(exp: now + 600, iat: now).sub == "c1")
        #expect(try verify(exp: now + 600, iat: now - 10, nbf: now).sub == "c1", "nbf reached")
        #expect(try verify(exp: now + 86_000, iat: now - 400).sub == "c1", "lifetime exactly the maximum")

        let future = try #require(#expect(throws: TokenError.self) { try verify(exp: now + 600, iat: now + 1) })
        #expect(future.message.contains("issued in the future"))
        let early = try #require(#expect(throws: TokenError.self) { try verify(exp: now + 600, iat: now - 10, nbf: now + 5) })
        #expect(early.message.contains("not valid before"))
        let long = try #require(#expect(throws: TokenError.self) { try verify(exp: now + 86_001, iat: now - 400) })
        #expect(long.message.contains("security.max_token_lifetime_s"))
    }

    @Test("extreme claim values are refused without trapping", arguments: [
        (Int64.max, Int64.min), (Int64.max, 0), (Int64.max, 1_000_000), (Int64.min, Int64.max),
    ] as [(Int64, Int64)])
    func extremeTimes(exp: Int64, iat: Int64) {
        var lenient = authority
        lenient.leeway = Int64.max
        for verifier in [authority, lenient] {
            let token = verifier.issue(TokenClaims(sub: "c1", role: .commune, exp: exp, iat: iat, nbf: Int64.max))
            #expect(throws: TokenError.self) { try verifier.verify(token, now: 1_000_000) }
        }
    }
}
