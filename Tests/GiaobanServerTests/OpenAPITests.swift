import Foundation
import GiaobanCrypto
@testable import GiaobanServer
import GiaobanStore
import Hummingbird
import Logging
import Testing
import GiaobanTestSupport
import GiaobanAuth
import GiaobanHub

/// docs/openapi.yaml documents exactly the routes the server serves.
@Suite("OpenAPI document")
struct OpenAPITests {
    /// "METHOD /path" with every path parameter written `{}`.
    static func canonical(_ method: String, _ path: String) -> String {
        let segments = path.split(separator: "/").map { s -> String in
            s.hasPrefix(":") || s.hasPrefix("{") ? "{}" : String(s)
        }
        return method.uppercased() + " /" + segments.joined(separator: "/")
    }

    /// The operations under `paths:` in the YAML (`  /path:` lines and their `    method:`
    /// lines), each with the roles of its `      x-roles: [...]` line (empty when it has none).
    static func operations() throws -> [String: [String]] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/openapi.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        var result: [String: [String]] = [:], inPaths = false, path: String?, operation: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            if inPaths, let first = line.first, !first.isWhitespace { break }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
                operation = nil
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast()
                operation = nil
                if ["get", "put", "post", "delete", "patch", "head", "options"].contains(String(method)) {
                    let key = canonical(String(method), path)
                    operation = key
                    result[key] = []
                }
            } else if let operation, line.hasPrefix("      x-roles:") {
                let list = line.dropFirst("      x-roles:".count).trimmingCharacters(in: CharacterSet(charactersIn: " []"))
                result[operation] = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
        }
        return result
    }

    /// The documented operations, as `canonical` writes them.
    static func documented() throws -> Set<String> { Set(try operations().keys) }

    @Test("every route is documented and every documented route exists")
    func routesMatch() async throws {
        let temp = TemporaryDatabase()
        defer { temp.cleanup() }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let authority = TokenAuthority(secret: Array("openapi-test-secret-0123456789ab".utf8))
        let hub = try await Hub(database: try Database(path: temp.path), tokens: authority, settings: .init(), logger: logger)
        let media = try MediaServer(address: "127.0.0.1", port: 0, announcedAddress: "", certificate: try DTLSCertificate(), logger: logger)
        let sessions = RelaySessions(media: media, tokens: authority, maxBodyBytes: 4096, logger: logger)
        let router = ControlPlane.router(config: GiaobanConfig(), services: .init(sessions: sessions, webRoot: nil, hub: hub,
                                                                                                 rooms: MeetingRooms(hub: hub, sessions: sessions, logger: logger)))
        let served = Set(router.routes.map { Self.canonical($0.method.rawValue, "\($0.path)") })
        await media.shutdown()
        let documented = try Self.documented()
        #expect(served.count > 30, "the router lists its routes")
        #expect(served.subtracting(documented).sorted() == [], "served but not in docs/openapi.yaml")
        #expect(documented.subtracting(served).sorted() == [], "in docs/openapi.yaml but not served")
    }
}
