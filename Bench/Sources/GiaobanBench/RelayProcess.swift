import Foundation
import GiaobanClient
import GiaobanCrypto
import GiaobanWire
import GiaobanTransport

#if canImport(Glibc)
import Glibc
#endif

/// The relay under test, as a separate process: `giaoban serve` on free ports of 127.0.0.1,
/// in a temporary directory with its own token secret and log, stopped with SIGTERM.
final class RelayProcess: MeasuredProcess {
    /// The control plane's base URL.
    let baseURL: String
    /// The shared media UDP port.
    let mediaPort: UInt16
    /// A token for WHIP and WHEP.
    let token: String
    /// An observer token for GET /metrics.
    let metricsToken: String
    /// Where the relay writes its log.
    let logPath: String
    let process: Process
    let directory: String
    private let http: HTTPClient

    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts `binary serve` and waits up to `timeout` for GET /healthz to answer.
    init(binary: String, timeout: Double = 20, environment extra: [String: String] = [:]) throws {
        guard access(binary, X_OK) == 0 else {
            throw StartError(description: "relay binary not found or not executable: \(binary) (build it with "
                + "swift build -c release --product giaoban, or pass --relay PATH)")
        }
        var template = Array("/tmp/giaoban-broadcast-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw StartError(description: "mkdtemp failed") }
        directory = String(cString: made)
        let secret = "\(directory)/token.secret"
        logPath = "\(directory)/relay.log"
        token = try Self.run(binary, ["token", "--secret-file", secret, "--subject", "bench", "--role", "commune"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        metricsToken = try Self.run(binary, ["token", "--secret-file", secret, "--subject", "bench-metrics", "--role", "observer"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard let httpPort = freeTCPPort() else { throw StartError(description: "no free TCP port") }
        mediaPort = try { try UDPSocket(port: 0).port }()  // the socket closes here; the relay binds the port
        baseURL = "http://127.0.0.1:\(httpPort)"
        http = try HTTPClient(baseURL: baseURL)

        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GIAOBAN_") }
        environment["GIAOBAN_HTTP_ADDRESS"] = "127.0.0.1"
        environment["GIAOBAN_HTTP_PORT"] = String(httpPort)
        environment["GIAOBAN_MEDIA_ADDRESS"] = "127.0.0.1"
        environment["GIAOBAN_MEDIA_UDP_PORT"] = String(mediaPort)
        environment["GIAOBAN_AUTH_SECRET_FILE"] = secret
        environment["GIAOBAN_SERVER_LOG_LEVEL"] = "info"
        environment["GIAOBAN_HUB_DIRECTORY_FILE"] = ""  // no sample province unless a scenario brings its own
        // The load generator speaks for every simulated station with one token subject, so the
        // per-subject caps (32 media sessions, 16 sockets by default) would stop it at the 17th.
        environment["GIAOBAN_SECURITY_MAX_MEDIA_SESSIONS_PER_SUBJECT"] = "100000"
        environment["GIAOBAN_SECURITY_MAX_SOCKETS_PER_SUBJECT"] = "100000"
        // A bench drives many requests from few subjects: the per-subject rates must not throttle it.
        environment["GIAOBAN_SECURITY_INCIDENTS_PER_MINUTE"] = "1000000"
        environment["GIAOBAN_SECURITY_BRIEFINGS_PER_MINUTE"] = "1000000"
        environment["GIAOBAN_SECURITY_ROOM_JOINS_PER_MINUTE"] = "1000000"
        environment.merge(extra) { _, given in given }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve"]
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory)  // no conf/ or web/ here: built-in defaults
        process.standardOutput = log
        process.standardError = log
        try process.run()

        let deadline = nowNanoseconds() + UInt64(timeout * 1e9)
        var lastError = "no answer"
        while nowNanoseconds() < deadline {
            guard process.isRunning else {
                throw StartError(description: "the relay exited with status \(process.terminationStatus); log:\n\(logTail())")
            }
            do {
                if try get("/healthz").status == 200 { return }
            } catch {
                lastError = "\(error)"
            }
            sleep(seconds: 0.05)
        }
        stop()
        throw StartError(description: "GET /healthz did not answer within \(timeout) s (\(lastError)); log:\n\(logTail())")
    }

    /// `given`, or the giaoban binary next to this program.
    static func binary(_ given: String?) -> String {
        given ?? executablePath().map { String($0[..<($0.lastIndex(of: "/") ?? $0.startIndex)]) + "/giaoban" } ?? "giaoban"
    }

    /// The token secret the relay signs with (to issue many tokens without a process each).
    func secret() throws -> [UInt8] {
        Array(try String(contentsOfFile: "\(directory)/token.secret", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines).utf8)
    }

    /// GET `path` on the control plane.
    func get(_ path: String, headers: [(String, String)] = []) throws -> HTTPResponse {
        var client = http
        client.timeout = .seconds(5)
        return try client.request("GET", path, headers: headers)
    }

    /// The Prometheus counters of GET /metrics (an observer token), summed over labels.
    func metrics() -> [String: Double] {
        guard let text = try? get("/metrics", headers: [("Authorization", "Bearer \(metricsToken)")]).text else { return [:] }
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let value = Double(parts[1]) else { continue }
            let name = String(parts[0].prefix { $0 != "{" })
            values[name, default: 0] += value
        }
        return values
    }

    /// Runs `binary arguments` to completion (bounded to 20 s) and returns its standard output.
    static func run(_ binary: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let deadline = nowNanoseconds() + 20_000_000_000
        while process.isRunning && nowNanoseconds() < deadline { sleep(seconds: 0.01) }
        if process.isRunning {
            process.terminate()
            throw StartError(description: "\(binary) \(arguments.joined(separator: " ")) did not finish")
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw StartError(description: "\(binary) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus))")
        }
        return output
    }
}

/// The relay as the forwarder of a broadcast run: the publisher joins with WHIP, every
/// subscriber with WHEP, all on the stream "broadcast"; forwarded and received packets and
/// drops come from its /metrics.
final class RelayTarget: ForwarderTarget {
    let relay: RelayProcess
    private let whip: WHIPClient
    private var sessions: [WHIPSession] = []

    init(process: RelayProcess) throws {
        relay = process
        do { whip = try WHIPClient(baseURL: process.baseURL, token: process.token) } catch {
            process.stop()
            throw error
        }
    }

    var process: any MeasuredProcess { relay }

    func joinPublisher(context: DTLSContext) throws -> ClientConnection {
        try join(.publish(audioSSRC: PacedPublisher.audioSSRC, videoSSRC: PacedPublisher.videoSSRC), context: context)
    }

    func joinSubscriber(context: DTLSContext) throws -> ClientConnection {
        try join(.watch, context: context)
    }

    /// Joins `stream` with WHIP (publish, with simulcast when `simulcastRIDs` are given) or WHEP (watch).
    func join(_ mode: ClientOffer.Mode, stream: String = "broadcast", simulcastRIDs: [String] = [],
              context: DTLSContext) throws -> ClientConnection {
        try joinSession(mode, stream: stream, simulcastRIDs: simulcastRIDs, context: context).0
    }

    /// `join`, also returning the session (the relay's answer).
    func joinSession(_ mode: ClientOffer.Mode, stream: String, simulcastRIDs: [String] = [],
                     context: DTLSContext) throws -> (ClientConnection, WHIPSession) {
        let (connection, session) = try ClientConnection.join(whip, stream: stream, mode: mode, context: context,
                                                              simulcastRIDs: simulcastRIDs)
        sessions.append(session)
        return (connection, session)
    }

    func meter(receiver: ReceiveLoop) -> ForwarderMeter {
        ForwarderMeter(cpuSeconds: { [relay] in relay.threadsCPUSeconds },
                       forwarded: { [relay] in relay.metrics()["giaoban_rtp_forwarded_total"] ?? .nan },
                       drops: { [relay] in relay.metrics()["giaoban_udp_dropped_total"] },
                       received: { [relay] in relay.metrics()["giaoban_rtp_received_total"] },
                       segmented: { [relay] in
                           let metrics = relay.metrics()
                           guard let sends = metrics["giaoban_udp_segmented_sends_total"],
                                 let datagrams = metrics["giaoban_udp_segmented_datagrams_total"] else { return nil }
                           return (sends, datagrams)
                       }, pid: relay.pid)
    }

    func leave() {
        let deadline = nowNanoseconds() + 10_000_000_000
        for session in sessions.reversed() where nowNanoseconds() < deadline { try? whip.end(session) }
        sessions.removeAll()
    }

    func stop() { relay.stop() }
}
