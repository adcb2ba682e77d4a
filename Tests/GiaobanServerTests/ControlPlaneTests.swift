@testable import GiaobanServer
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("HTTP control plane")
struct ControlPlaneTests {
    @Test("health and version answer; unknown routes are 404")
    func basicRoutes() async throws {
        var config = GiaobanConfig()
        config.server.name = "test-node"
        let app = ControlPlane.application(config: config, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok\n")
            }
            try await client.execute(uri: "/version", method: .get) { response in
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
