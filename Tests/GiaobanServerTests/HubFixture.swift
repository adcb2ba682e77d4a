import Foundation
@testable import GiaobanServer
import GiaobanStore
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import Synchronization
import Testing
import GiaobanTestSupport
import GiaobanAuth
import GiaobanHub

/// A clock the test steps by hand (milliseconds since 1970).
final class ManualClock: Sendable {
    let now = Atomic<Int64>(1_796_000_000_000)
    func read() -> Int64 { now.load(ordering: .relaxed) }
    func advance(seconds: Int64) { now.add(seconds * 1000, ordering: .relaxed) }
}

/// A hub over a temporary SQLite file, seeded with a 2×2 grid of communes (0.1° squares
/// from 106.8 E / 10.8 N) and one camera, with a manual clock.
struct HubFixture {
    static let authority = TokenAuthority(secret: Array("hub-test-secret-0123456789abcdef".utf8))
    let temp: TemporaryStore
    let clock = ManualClock()
    let hub: Hub

    static let communes: [(String, Double, Double)] = [
        ("xa-a", 106.8, 10.8), ("xa-b", 106.9, 10.8), ("xa-c", 106.8, 10.9), ("xa-d", 106.9, 10.9),
    ]

    static func square(lon: Double, lat: Double, size: Double = 0.1) -> String {
        let ring = [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size), (lon, lat)]
        return #"{"type": "Polygon", "coordinates": [["# + ring.map { "[\($0.0), \($0.1)]" }.joined(separator: ", ") + "]]}"
    }

    init(_ backend: StoreBackend = .sqlite, radius: Double = 1_000, ackTimeoutSeconds: Int64 = 300,
         maxBody: Int = 1_048_576, tokens: TokenAuthority = HubFixture.authority, rateLimits: RateLimits = RateLimits()) async throws {
        temp = try await TemporaryStore.make(backend)
        var settings = Hub.Settings()
        settings.routingRadiusMetres = radius
        settings.acknowledgementTimeoutMilliseconds = ackTimeoutSeconds * 1000
        settings.maxBodyBytes = maxBody
        settings.maxSnapshotBytes = 2_048
        settings.rateLimits = rateLimits
        let clock = self.clock
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        hub = try await Hub(database: try temp.open(), tokens: tokens, settings: settings,
                            logger: logger, clock: { clock.read() })
        let directory = """
            {"communes": [\(Self.communes.map { #"{"id": "\#($0.0)", "name": "Xã \#($0.0)", "area": \#(Self.square(lon: $0.1, lat: $0.2))}"# }.joined(separator: ","))],
             "cameras": [{"id": "cam-1", "name": "QL1A Km1", "location": {"lat": 10.85, "lon": 106.85}, "road": "QL1A", "km": 1}]}
            """
        let seeded = try await hub.seedDirectory(try DirectoryFile(parsing: Data(directory.utf8), source: "test"))
        #expect(seeded)
    }

    func cleanup() { temp.cleanup() }

    static func token(_ role: Role, _ sub: String, expiresIn: Int64 = 600) -> String {
        let now = Int64(Date().timeIntervalSince1970)
        return authority.issue(TokenClaims(sub: sub, role: role, exp: now + expiresIn, iat: now - 10))
    }

    static func headers(_ role: Role, _ sub: String, json: Bool = true) -> HTTPFields {
        var h: HTTPFields = [.authorization: "Bearer \(token(role, sub))"]
        if json { h[.contentType] = "application/json" }
        return h
    }

    func application() -> some ApplicationProtocol {
        var config = GiaobanConfig()
        config.http.port = 0
        return ControlPlane.application(config: config, services: .init(sessions: nil, webRoot: nil, hub: hub),
                                        logger: Logger(label: "test"))
    }

    /// A JSON incident report at (lat, lon).
    static func report(_ identifier: String, lat: Double, lon: Double, snapshot: String? = nil) -> ByteBuffer {
        ByteBuffer(string: """
            {"identifier": "\(identifier)", "type": "Tai nạn giao thông", "severity": "Severe", "urgency": "Immediate",
             "certainty": "Observed", "location": {"lat": \(lat), "lon": \(lon)}, "time": "2026-11-29T08:00:00+07:00",
             "text": "Va chạm giữa hai xe tải"\(snapshot.map { #", "snapshot": "\#($0)""# } ?? "")}
            """)
    }
}

/// The JSON object of a response or message.
func jsonObject(_ text: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
}

/// Runs `body`, failing if it takes longer than `seconds` (a hung socket fails the test, not CI).
func withTimeout<T: Sendable>(_ seconds: Double, _ what: String = "", _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimeoutError(seconds: seconds, what: what)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    let seconds: Double
    var what = ""
    var description: String { "no answer within \(seconds) s\(what.isEmpty ? "" : " (\(what))")" }
}
