import ArgumentParser
import Foundation
import GiaobanClient
import GiaobanCrypto
import GiaobanServer
import Logging
import GiaobanAuth

#if canImport(Glibc)
import Glibc
#endif

/// `giaoban-bench mixing-relay`: one meeting in mixed mode through the relay process, and the
/// same load on Janus AudioBridge when Janus is installed.
struct MixingRelay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mixing-relay",
        abstract: "N participants of one meeting in mixed mode through the relay (and Janus AudioBridge): CPU, encodes, loss.",
        discussion: """
            Every participant joins the meeting room over its WebSocket, sends {"type":"mode","mode":"mixed"} and \
            subscribes to "mix" with a receive-only offer; the first --speakers publish pre-encoded Opus tones \
            (20 ms packets, RFC 6464 level), the others publish nothing (or, with --silent, encoded silence). Steps add participants to the same room. \
            Per step: the server's CPU, the mixer's Opus encodes, packets in and out, the mix packets each \
            listener received against 50 per second, and the load generator's CPU. Traffic stays on 127.0.0.1. \
            Build with -c release (scripts/bench.sh mixing-relay does).
            """
    )

    @Option(help: "Participant counts, one step each (comma-separated).")
    var participants = "20,100,200"

    @Option(help: "Participants that publish a tone (the first ones).")
    var speakers = 3

    @OptionGroup var options: StepOptions

    @Flag(help: "The participants who do not speak publish encoded digital silence (both mixers then decode everyone) instead of nothing.")
    var silent = false

    @Flag(help: "Keep the relay's default composed video (640×360); by default it is made 64×64 at 1 fps, as AudioBridge sends no video.")
    var mixVideo = false

    @Option(help: "The janus binary (default: janus on PATH).")
    var janus: String?

    @Flag(help: "Skip the Janus AudioBridge run.")
    var noJanus = false

    var seconds: Double { options.seconds }
    var warmup: Double { options.warmup }

    var counts: [Int] { Broadcast.counts(participants) }

    func validate() throws {
        guard !counts.isEmpty, counts.allSatisfy({ (1...1000).contains($0) }), counts == counts.sorted() else {
            throw ValidationError("--participants: rising comma-separated counts between 1 and 1000")
        }
        guard (0...20).contains(speakers) else { throw ValidationError("--speakers 0…20") }
    }

    /// One measured step.
    struct Step: Codable {
        var server: String
        var participants: Int
        var speakers: Int
        var seconds: Double
        /// The server process's CPU, % of one core (= CPU seconds per second × 100).
        var cpuPercent: Double
        var cpuSecondsPerSecond: Double
        /// The mixer's Opus encodes per second (nil where the server does not count them).
        var encodesPerSecond: Double?
        var decodesPerSecond: Double?
        /// RTP packets the server received and sent per second: its /metrics where it has
        /// them (the relay), else the speakers' packets sent and the listeners' RTP received (Janus).
        var rtpInPerSecond: Double?
        var rtpOutPerSecond: Double?
        /// Mix (Opus) packets received by all listeners, per second, and expected (50 per listener).
        var mixReceivedPerSecond: Double
        var mixExpectedPerSecond: Double
        var lossPercent: Double
        /// Listeners that received less than 90 % of their 50 packets per second.
        var starvedListeners: Int
        /// Other RTP the listeners received (the relay's composed video), per second.
        var otherRTPPerSecond: Double
        var serverRSSKiB: Int
        /// Audio packets the generator sent per second, and 50 per publishing participant:
        /// below 95 % the generator was starved of CPU and the step is not valid.
        var generatorSentPerSecond: Double
        var generatorSentExpectedPerSecond: Double
        /// The load generator's CPU (whole bench process), % of one core.
        var generatorCPUPercent: Double
        var loadAverage: Double?
        var joinSeconds: Double

        var generatorStarved: Bool { generatorSentPerSecond < 0.95 * generatorSentExpectedPerSecond }
    }

    struct Report: Codable {
        var command: String
        var date: String
        var speakers: Int
        var silentPublishers: Int
        var mixVideo: String
        var steps: [Step]
        var relayError: String?
        var janusError: String?
        var notes: [String]
    }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        progress("mixing-relay: \(counts.map(String.init).joined(separator: ", ")) participants in mixed mode, \(speakers) publishing tones, "
            + "the others publishing \(silent ? "encoded silence" : "nothing"); warm-up \(format(warmup)) s + \(format(seconds)) s per step")
        var report = Report(command: CommandLine.arguments.joined(separator: " "), date: ISO8601DateFormatter().string(from: Date()),
                            speakers: speakers, silentPublishers: silent ? max(0, (counts.last ?? 0) - speakers) : 0,
                            mixVideo: mixVideo ? "relay default (640×360)" : "64×64 at 1 fps, 50 kbit/s", steps: [], notes: [])
        do {
            try await runRelay(&report)
        } catch {
            report.relayError = "\(error)"
            progress("relay: \(error)")
        }
        if !noJanus {
            do {
                try await runJanus(&report)
            } catch {
                report.janusError = "\(error)"
                progress("janus: \(error)")
            }
        }
        print("")
        print(Self.table(report))
        if let json = options.json { try writeJSON(report, to: json) }  // no plot: --svg is ignored
        if report.relayError != nil { throw ExitCode(1) }
    }

    // MARK: Relay

    private func runRelay(_ report: inout Report) async throws {
        let binary = RelayProcess.binary(options.relay)
        progress("relay: starting \(binary) serve")
        var environment = ["GIAOBAN_SERVER_LOG_LEVEL": "warning"]
        if !mixVideo {
            environment["GIAOBAN_MEETINGS_MIX_WIDTH"] = "64"
            environment["GIAOBAN_MEETINGS_MIX_HEIGHT"] = "64"
            environment["GIAOBAN_MEETINGS_MIX_FPS"] = "1"
            environment["GIAOBAN_MEETINGS_MIX_VIDEO_KBPS"] = "50"
        }
        let server = try RelayProcess(binary: binary, environment: environment)
        defer { server.stop() }
        let authority = TokenAuthority(secret: try server.secret())
        let now = Int64(Date().timeIntervalSince1970)
        let token: @Sendable (Role, String) -> String = { role, subject in
            authority.issue(TokenClaims(sub: subject, role: role, exp: now + 7_200, iat: now))
        }
        let baseURL = server.baseURL, speakerCount = speakers, silent = silent
        let meeting = try Self.createMeeting(server, token: token(.chair, "bench-chair"))
        progress("relay: meeting \(meeting) created")

        let load = MixLoad()
        load.start()
        defer { load.stop() }
        var clients: [RoomClient] = []
        defer { for c in clients { c.leave() } }
        let context = try DTLSContext(certificate: DTLSCertificate())
        var joined = 0
        for count in counts {
            let joinStart = nowNanoseconds()
            // A few joins at a time: each is a WebSocket, two room requests and ICE + DTLS.
            clients += try await fewAtATime(joined..<count) { index in
                try await Self.joinRelay(index: index, speaker: index < speakerCount, silent: silent, baseURL: baseURL, meeting: meeting,
                                         token: token(.commune, "p\(index)"), context: context, load: load)
            }
            joined = count
            let joinSeconds = Double(nowNanoseconds() - joinStart) / 1e9
            progress("relay: \(count) participants joined (\(format(joinSeconds)) s); warm-up \(format(warmup)) s")
            try await Task.sleep(for: .seconds(warmup))
            let step = try await measure(server: "relay", participants: count, load: load, joinSeconds: joinSeconds,
                                         cpu: { server.cpuSeconds }, rss: { server.residentKiB },
                                         metrics: { server.metrics() })
            report.steps.append(step)
            progress(Self.line(step))
        }
    }

    /// POST /api/meetings as the chair; returns the meeting's id.
    static func createMeeting(_ server: RelayProcess, token: String) throws -> Int64 {
        var client = try HTTPClient(baseURL: server.baseURL)
        client.timeout = .seconds(10)
        let body = #"{"title":"mixing bench","scheduled_at":"2026-01-01T00:00:00Z","duration_minutes":600}"#
        let response = try client.request("POST", "/api/meetings", headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                                          body: Array(body.utf8))
        guard response.status == 201, let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
              let id = (object["id"] as? NSNumber)?.int64Value else {
            throw RelayProcess.StartError(description: "POST /api/meetings answered \(response.status): \(response.text)")
        }
        return id
    }

    /// One participant: the room socket, mixed mode, a tone published if a speaker, the mix subscribed.
    private static func joinRelay(index: Int, speaker: Bool, silent: Bool, baseURL: String, meeting: Int64, token: String,
                                  context: DTLSContext, load: MixLoad) async throws -> RoomClient {
        let client = RoomClient(server: baseURL, meeting: meeting, token: token, requestTimeout: .seconds(20),
                                logger: Logger(label: "bench.room", factory: { _ in SwiftLogNoOpLogHandler() }))
        client.start()
        do {
            try await client.send(["type": "mode", "mode": "mixed"])
            if speaker || silent {
                let ssrc = 0x5E00_0000 &+ UInt32(index)
                let pending = try PendingConnection(mode: .publish(audioSSRC: ssrc, videoSSRC: ssrc &+ 0x100), context: context)
                let answer = try RelayAnswer(sdp: try await client.publish(offer: pending.sdp).sdp)
                let tone = try MixLoad.encodedSecond(frequency: 300 + 230 * Double(index), amplitude: speaker ? 0.3 : 0)
                let connection = try await pending.connectOnOwnThread(answer: answer) { Handoff($0) }
                load.add(speaker: MixLoad.Speaker(connection: connection.value, ssrc: ssrc, levelExtensionID: answer.audioLevelExtensionID,
                                                  packets: tone.packets, levels: tone.levels))
            }
            let pending = try PendingConnection(mode: .watch, context: context)
            let answer = try RelayAnswer(sdp: try await client.subscribe(participant: "mix", offer: pending.sdp).sdp)
            let connection = try await pending.connectOnOwnThread(answer: answer) { Handoff($0) }
            load.add(listener: connection.value)
            return client
        } catch {
            client.leave()
            throw error
        }
    }

    // MARK: Measuring

    /// Measures one step: counters before and after `seconds`.
    func measure(server: String, participants: Int, load: MixLoad, joinSeconds: Double,
                 cpu: () -> Double, rss: () -> Int, metrics: () -> [String: Double]) async throws -> Step {
        let m0 = metrics(), c0 = load.counts, cpu0 = cpu(), gen0 = ProcessStats.selfCPUSeconds(), t0 = nowNanoseconds()
        try await Task.sleep(for: .seconds(seconds))
        let m1 = metrics(), c1 = load.counts, cpu1 = cpu(), gen1 = ProcessStats.selfCPUSeconds(), t1 = nowNanoseconds()
        let elapsed = Double(t1 - t0) / 1e9
        func rate(_ name: String) -> Double? {
            guard let a = m0[name], let b = m1[name] else { return nil }
            return (b - a) / elapsed
        }
        // The load thread's counts are up to 100 ms old: their own timestamps give the rates.
        let counted = Double(c1.at - c0.at) / 1e9
        let listeners = min(c0.audio.count, c1.audio.count)
        let perListener = (0..<listeners).map { Double(c1.audio[$0] - c0.audio[$0]) / counted }
        let received = perListener.reduce(0, +)
        let expected = 50.0 * Double(listeners)
        let cpuRate = (cpu1 - cpu0) / elapsed
        return Step(server: server, participants: participants, speakers: min(speakers, participants), seconds: elapsed,
                    cpuPercent: cpuRate * 100, cpuSecondsPerSecond: cpuRate,
                    encodesPerSecond: rate("giaoban_mixer_encodes_total"), decodesPerSecond: rate("giaoban_mixer_decodes_total"),
                    rtpInPerSecond: rate("giaoban_rtp_received_total") ?? Double(c1.sent - c0.sent) / counted,
                    rtpOutPerSecond: rate("giaoban_rtp_mixed_total").map { $0 + (rate("giaoban_rtp_forwarded_total") ?? 0) }
                        ?? received + Double(c1.otherRTP - c0.otherRTP) / counted,
                    mixReceivedPerSecond: received, mixExpectedPerSecond: expected,
                    lossPercent: expected > 0 ? max(0, 100 * (1 - received / expected)) : 0,
                    starvedListeners: perListener.filter { $0 < 45 }.count,
                    otherRTPPerSecond: Double(c1.otherRTP - c0.otherRTP) / counted, serverRSSKiB: rss(),
                    generatorSentPerSecond: Double(c1.sent - c0.sent) / counted,
                    generatorSentExpectedPerSecond: 50.0 * Double(silent ? participants : min(speakers, participants)),
                    generatorCPUPercent: 100 * (gen1 - gen0) / elapsed, loadAverage: ProcessStats.loadAverage(),
                    joinSeconds: joinSeconds)
    }

    static func line(_ s: Step) -> String {
        "\(s.server): N=\(s.participants): CPU \(String(format: "%.1f", s.cpuPercent)) %, "
            + "encodes/s \(s.encodesPerSecond.map { String(format: "%.0f", $0) } ?? "–"), "
            + "in/out pkt/s \(s.rtpInPerSecond.map { String(format: "%.0f", $0) } ?? "–")/\(s.rtpOutPerSecond.map { String(format: "%.0f", $0) } ?? "–"), "
            + "mix \(String(format: "%.0f", s.mixReceivedPerSecond))/\(String(format: "%.0f", s.mixExpectedPerSecond)) pkt/s "
            + "(loss \(String(format: "%.2f", s.lossPercent)) %, \(s.starvedListeners) starved), generator CPU \(String(format: "%.1f", s.generatorCPUPercent)) %"
            + (s.generatorStarved ? "; NOT VALID: the generator sent \(String(format: "%.0f", s.generatorSentPerSecond)) of \(String(format: "%.0f", s.generatorSentExpectedPerSecond)) pkt/s" : "")
    }

    static func table(_ report: Report) -> String {
        var out = "| server | N | CPU % | CPU s/s | encodes/s | decodes/s | RTP in/s | RTP out/s | mix rx/s (expected) | loss % | starved | other RTP/s | RSS MiB | generator CPU % |\n"
        out += "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        func f(_ v: Double?, _ digits: Int = 0) -> String { v.map { String(format: "%.\(digits)f", $0) } ?? "–" }
        for s in report.steps {
            out += "| \(s.server) | \(s.participants) | \(f(s.cpuPercent, 1)) | \(f(s.cpuSecondsPerSecond, 3)) | \(f(s.encodesPerSecond)) | "
                + "\(f(s.decodesPerSecond)) | \(f(s.rtpInPerSecond)) | \(f(s.rtpOutPerSecond)) | \(f(s.mixReceivedPerSecond)) (\(f(s.mixExpectedPerSecond))) | "
                + "\(f(s.lossPercent, 2)) | \(s.starvedListeners) | \(f(s.otherRTPPerSecond)) | \(f(Double(s.serverRSSKiB) / 1024, 1)) | \(f(s.generatorCPUPercent, 1))"
                + (s.generatorStarved ? " (starved: not valid)" : "") + " |\n"
        }
        let relay = report.steps.filter { $0.server == "relay" }, janus = report.steps.filter { $0.server == "janus" }
        for r in relay {
            guard let j = janus.first(where: { $0.participants == r.participants }), j.cpuSecondsPerSecond > 0,
                  !r.generatorStarved, !j.generatorStarved else { continue }
            out += "\nN = \(r.participants): relay ÷ Janus CPU = \(String(format: "%.2f", r.cpuSecondsPerSecond / j.cpuSecondsPerSecond))"
        }
        if let e = report.relayError { out += "\nrelay failed: \(e)" }
        if let e = report.janusError { out += "\njanus failed: \(e)" }
        return out
    }
}

/// Runs `make` for every index of `range`, `limit` at a time (joins of room participants: a
/// WebSocket, room requests, ICE and DTLS each); returns the results as they complete.
func fewAtATime<T: Sendable>(_ range: Range<Int>, limit: Int = 8,
                             _ make: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
    try await withThrowingTaskGroup(of: T.self) { group in
        var results: [T] = []
        var next = range.lowerBound
        while next < range.upperBound && next - range.lowerBound < limit {
            let index = next
            group.addTask { try await make(index) }
            next += 1
        }
        while let result = try await group.next() {
            results.append(result)
            if next < range.upperBound {
                let index = next
                group.addTask { try await make(index) }
                next += 1
            }
        }
        return results
    }
}
