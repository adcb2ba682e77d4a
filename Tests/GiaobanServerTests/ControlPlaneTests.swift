import Foundation
@testable import GiaobanServer
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import GiaobanAuth

@Suite("HTTP control plane")
struct ControlPlaneTests {
    @Test("health and version answer; unknown routes are 404")
    func basicRoutes() async throws {
        var config = GiaobanConfig()
        config.server.name = "test-node"
        let authority = TokenAuthority(secret: Array("0123456789abcdef0123456789abcdef".utf8))
        let now = Int64(Date().timeIntervalSince1970)
        let token = authority.issue(TokenClaims(sub: "tester", role: .observer, exp: now + 600, iat: now))
        let app = ControlPlane.application(config: config, services: .init(sessions: nil, webRoot: nil, tokens: authority),
                                           logger: Logger(label: "test"))
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok\n")
            }
            try await client.execute(uri: "/version", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .ok)
                let body = String(buffer: response.body)
                #expect(body.contains("\"version\":\"\(GiaobanVersion.string)\""))
                #expect(body.contains("\"name\":\"test-node\""))
            }
            try await client.execute(uri: "/nope", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
