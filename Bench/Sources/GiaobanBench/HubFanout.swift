import ArgumentParser
import Foundation
import GiaobanClient
import GiaobanTestSupport
import GiaobanServer
import HummingbirdWSClient
import Logging
import Synchronization
import GiaobanAuth

/// `giaoban-bench hub`: the operations hub under load. N communes hold the event WebSocket
/// open; each incident a camera posts is routed to all of them; the time from the POST to
/// each commune's receipt is measured on one clock. Then durable ingest: concurrent cameras
/// post incidents as fast as the server commits them.
struct HubFanout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "Incident fan-out to WebSocket subscribers, and durable ingest throughput."
    )

    @Option(help: "Path of the release giaoban binary.")
    var relay = ".build-release/release/giaoban"

    @Option(help: "Connected communes, each on its own WebSocket.")
    var subscribers = 1_000

    @Option(help: "Incidents posted one after another for the fan-out measurement.")
    var incidents = 20

    @Option(help: "Incidents posted for the ingest measurement.")
    var ingest = 2_000

    @Option(help: "Cameras posting at once during the ingest measurement.")
    var cameras = 8

    @Flag(help: "Communes confirm each incident (`delivered`), as real endpoints do.")
    var confirm = false

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    @Option(help: "Nodes sharing one PostgreSQL database (started for the run): the communes' sockets spread over them in turn, the incidents posted on the first (1: one node on SQLite).")
    var nodes = 1

    func validate() throws {
        guard (1...8).contains(nodes) else { throw ValidationError("--nodes 1…8") }
    }

    struct Result: Codable {
        var subscribers: Int
        var nodes: Int
        var incidents: Int
        var confirmations: Bool
        /// POST → receipt at each subscriber, µs.
        var delivery: LatencySummary
        /// POST → 201 (commit of the incident and its N delivery rows), µs.
        var ingestAnswer: LatencySummary
        var missing: Int
        var ingestPosted: Int
        var ingestSeconds: Double
        var ingestPerSecond: Double
        /// POST → 201 under concurrent ingest, µs.
        var ingestLatency: LatencySummary
        var relayCPUSeconds: Double
        var relayRSSKiB: Int
        var relayRSSPerSubscriberKiB: Double
        var generatorCPUSeconds: Double
    }

    func run() async throws {
        let directory = try Self.directoryFile(communes: subscribers, cameras: cameras)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var environment = ["GIAOBAN_HUB_DIRECTORY_FILE": directory, "GIAOBAN_HUB_ROUTING_RADIUS_M": "0", "GIAOBAN_SERVER_LOG_LEVEL": "warning"]
        if nodes > 1 {
            progress("hub: starting a PostgreSQL server for \(nodes) nodes (fsync off: the fan-out, not the disk, is measured)")
            let postgres = try await PostgresServer.start()
            environment["GIAOBAN_STORAGE_BACKEND"] = "postgresql"
            environment["GIAOBAN_STORAGE_POSTGRESQL_URL"] = try postgres.createDatabase()
        }
        progress("hub: starting \(relay) with \(subscribers) communes around one point" + (nodes > 1 ? ", \(nodes) nodes" : ""))
        let server = try RelayProcess(binary: relay, environment: environment)
        defer { server.stop() }
        // The other nodes share the first one's database and token secret.
        var others: [RelayProcess] = []
        defer { for node in others { node.stop() } }
        for _ in 1..<nodes {
            others.append(try RelayProcess(binary: relay, environment: environment.merging(
                ["GIAOBAN_AUTH_SECRET_FILE": server.directory + "/token.secret"]) { _, new in new }))
        }
        let wsBases = ([server] + others).map { $0.baseURL.replacingOccurrences(of: "http://", with: "ws://") }
        let authority = TokenAuthority(secret: try server.secret())
        let now = Int64(Date().timeIntervalSince1970)
        let token: @Sendable (Role, String) -> String = { role, subject in
            authority.issue(TokenClaims(sub: subject, role: role, exp: now + 3_600, iat: now))
        }
        let board = ReceiptBoard()
        let generatorStart = ProcessStats.selfCPUSeconds()

        // N communes connect and wait for pushes.
        progress("hub: connecting \(subscribers) WebSockets")
        let rssBefore = server.residentKiB
        var logger = Logger(label: "bench-ws")
        logger.logLevel = .critical
        let confirm = self.confirm
        let (subscribers, incidents, ingest, cameras) = (self.subscribers, self.incidents, self.ingest, self.cameras)
        let sockets = Task { [logger] in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<subscribers {
                    let url = "\(wsBases[i % wsBases.count])/api/events?access_token=\(token(.commune, Self.communeID(i)))"
                    group.addTask {
                        _ = try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
                            for try await message in inbound.messages(maxSize: 1 << 20) {
                                guard case .text(let text) = message else { continue }
                                let at = nowNanoseconds()
                                if text.hasPrefix(#"{"subject""#) || text.contains(#""type":"hello""#) {
                                    board.connected()
                                    continue
                                }
                                guard let id = Self.incidentID(in: text) else { continue }
                                board.received(id, at: at)
                                if confirm { try await outbound.write(.text(#"{"type":"delivered","kind":"incident","id":\#(id)}"#)) }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        defer { sockets.cancel() }
        try board.waitConnected(subscribers, timeout: 60)
        let rssConnected = server.residentKiB
        progress("hub: \(subscribers) connected; relay RSS \(rssConnected) KiB (+\(rssConnected - rssBefore) KiB)")

        // Fan-out: one incident at a time, each to every commune. The measuring loops block,
        // so they run on a thread of their own, not on the pool the socket tasks use.
        let http = try HTTPClient(baseURL: server.baseURL)
        let camera = token(.camera, "cam-bench")
        let cpuStart = server.cpuSeconds
        let fanout = try await onThread { () throws -> (delivery: [UInt32], answers: [UInt32], missing: Int) in
            var delivery: [UInt32] = [], answers: [UInt32] = [], missing = 0
            for k in 0..<incidents {
                let sent = nowNanoseconds()
                let response = try http.request("POST", "/api/incidents", headers: Self.headers(camera),
                                                body: Self.report("fanout-\(k)", lat: 10.85, lon: 106.85))
                let answered = nowNanoseconds()
                guard response.status == 201, let id = Self.number("id", in: response.text) else {
                    throw ValidationError("the incident was not accepted: \(response.status) \(response.text)")
                }
                answers.append(UInt32(clamping: answered - sent))
                let times = board.wait(for: id, count: subscribers, timeout: 10)
                missing += subscribers - times.count
                delivery += times.map { UInt32(clamping: $0 > sent ? $0 - sent : 0) }
                if k % 5 == 4 || k == incidents - 1 {
                    progress("hub: incident \(k + 1)/\(incidents): p50 \(format(LatencySummary(nanoseconds: delivery).p50 / 1000)) ms so far")
                }
            }
            return (delivery, answers, missing)
        }
        let fanoutCPU = server.cpuSeconds - cpuStart

        // Durable ingest: cameras post concurrently, each on its own thread; each answer waits
        // for its COMMIT.
        progress("hub: ingest of \(ingest) incidents from \(cameras) cameras")
        let latencies = Mutex<[UInt32]>([])
        let failures = Atomic<Int>(0)
        let perCamera = (ingest + cameras - 1) / cameras
        let ingestStart = nowNanoseconds()
        try await onThread {
            DispatchQueue.concurrentPerform(iterations: cameras) { c in
                let key = token(.camera, "cam-ingest-\(c)")
                for i in 0..<perCamera where c * perCamera + i < ingest {
                    let t0 = nowNanoseconds()
                    // Far from every commune: routed to the command center only.
                    let ok = (try? http.request("POST", "/api/incidents", headers: Self.headers(key),
                                                body: Self.report("ingest-\(c)-\(i)", lat: 11.9, lon: 107.9)))?.status == 201
                    if !ok { failures.add(1, ordering: .relaxed) }
                    let t1 = nowNanoseconds()
                    latencies.withLock { $0.append(UInt32(clamping: t1 - t0)) }
                }
            }
        }
        let (delivery, answers, missing) = fanout
        let ingestSeconds = Double(nowNanoseconds() - ingestStart) / 1e9
        let rss = server.residentKiB
        let result = Result(
            subscribers: subscribers, nodes: nodes, incidents: incidents, confirmations: confirm,
            delivery: LatencySummary(nanoseconds: delivery), ingestAnswer: LatencySummary(nanoseconds: answers), missing: missing,
            ingestPosted: ingest - failures.load(ordering: .relaxed), ingestSeconds: ingestSeconds,
            ingestPerSecond: Double(ingest - failures.load(ordering: .relaxed)) / ingestSeconds,
            ingestLatency: LatencySummary(nanoseconds: latencies.withLock { $0 }),
            relayCPUSeconds: fanoutCPU, relayRSSKiB: rss,
            relayRSSPerSubscriberKiB: Double(rssConnected - rssBefore) / Double(max(1, subscribers)),
            generatorCPUSeconds: ProcessStats.selfCPUSeconds() - generatorStart)
        Self.print(result)
        if let json { try writeJSON(result, to: json) }
    }

    static func print(_ r: Result) {
        func ms(_ v: Double) -> String { format(v / 1000) }
        Swift.print("""

            hub fan-out: \(r.subscribers) WebSocket subscribers on \(r.nodes) node\(r.nodes == 1 ? "" : "s"), \(r.incidents) incidents\(r.confirmations ? ", each confirmed" : "")
              POST → receipt (ms)   p50 \(ms(r.delivery.p50))  p90 \(ms(r.delivery.p90))  p99 \(ms(r.delivery.p99))  max \(ms(r.delivery.max))  (\(r.delivery.samples) receipts, \(r.missing) missing)
              POST → 201 (ms)       p50 \(ms(r.ingestAnswer.p50))  p99 \(ms(r.ingestAnswer.p99))  (commit of the incident and \(r.subscribers + 1) delivery rows)
              relay CPU             \(format(r.relayCPUSeconds * 1000 / Double(max(1, r.incidents)))) ms per incident fanned out; RSS \(r.relayRSSKiB) KiB, \(format(r.relayRSSPerSubscriberKiB)) KiB per subscriber
            durable ingest: \(r.ingestPosted) incidents in \(format(r.ingestSeconds)) s = \(format(r.ingestPerSecond)) incidents/s
              POST → 201 (ms)       p50 \(ms(r.ingestLatency.p50))  p99 \(ms(r.ingestLatency.p99))  max \(ms(r.ingestLatency.max))
            generator CPU \(format(r.generatorCPUSeconds)) s

            """)
    }

    static func communeID(_ i: Int) -> String { "bench-xa-\(i)" }

    /// A directory of `communes` overlapping squares around (10.85 N, 106.85 E), and the
    /// cameras that post (the hub takes incidents only from cameras in its directory).
    static func directoryFile(communes: Int, cameras: Int) throws -> String {
        var items: [String] = []
        for i in 0..<communes {
            let d = 0.001 * Double(i % 10)
            let (w, s, e, n) = (106.8 + d, 10.8 + d, 106.9 + d, 10.9 - d)
            items.append(#"{"id": "\#(communeID(i))", "name": "Xã \#(i)", "area": {"type": "Polygon", "coordinates": [[[\#(w), \#(s)], [\#(e), \#(s)], [\#(e), \#(n)], [\#(w), \#(n)], [\#(w), \#(s)]]]}}"#)
        }
        var cameraItems = [#"{"id": "cam-bench", "name": "Bench camera", "location": {"lat": 10.85, "lon": 106.85}}"#]
        for c in 0..<cameras {
            cameraItems.append(#"{"id": "cam-ingest-\#(c)", "name": "Ingest camera \#(c)", "location": {"lat": 11.9, "lon": 107.9}}"#)
        }
        let path = NSTemporaryDirectory() + "giaoban-hub-bench-\(getpid()).json"
        try Data(#"{"communes": [\#(items.joined(separator: ",\n"))], "cameras": [\#(cameraItems.joined(separator: ",\n"))]}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        return path
    }

    static func headers(_ token: String) -> [(String, String)] {
        [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")]
    }

    static func report(_ identifier: String, lat: Double, lon: Double) -> [UInt8] {
        Array(#"{"identifier": "\#(identifier)", "type": "Tai nạn giao thông", "severity": "Severe", "urgency": "Immediate", "certainty": "Observed", "location": {"lat": \#(lat), "lon": \#(lon)}, "time": "2026-11-29T08:00:00+07:00", "text": "bench"}"#.utf8)
    }

    /// The integer after `"key":` in a JSON text.
    static func number(_ key: String, in text: String) -> Int? {
        guard let range = text.range(of: "\"\(key)\":") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    /// The incident id of an `incident` push (`{"incident":{…"id":N…},"type":"incident"}`).
    static func incidentID(in text: String) -> Int? {
        guard text.hasSuffix(#""type":"incident"}"#) else { return nil }
        return number("id", in: text)
    }
}

/// Receipts by incident id, and the count of connected sockets, shared by the socket tasks.
final class ReceiptBoard: Sendable {
    private let state = Mutex<(connected: Int, receipts: [Int: [UInt64]])>((0, [:]))

    func connected() { state.withLock { $0.connected += 1 } }

    func received(_ id: Int, at time: UInt64) { state.withLock { $0.receipts[id, default: []].append(time) } }

    func waitConnected(_ count: Int, timeout: Double) throws {
        let deadline = nowNanoseconds() + UInt64(timeout * 1e9)
        while state.withLock({ $0.connected }) < count {
            guard nowNanoseconds() < deadline else {
                throw ValidationError("only \(state.withLock { $0.connected }) of \(count) WebSockets connected within \(Int(timeout)) s")
            }
            sleep(seconds: 0.05)
        }
    }

    /// The receipt times of incident `id`, once `count` arrived or `timeout` passed.
    func wait(for id: Int, count: Int, timeout: Double) -> [UInt64] {
        let deadline = nowNanoseconds() + UInt64(timeout * 1e9)
        while state.withLock({ $0.receipts[id]?.count ?? 0 }) < count, nowNanoseconds() < deadline { sleep(seconds: 0.001) }
        return state.withLock { $0.receipts[id] ?? [] }
    }
}

/// Runs blocking `body` on a Dispatch thread (not the Swift concurrency pool) and returns its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
