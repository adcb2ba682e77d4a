import ArgumentParser
import Foundation
import GiaobanAuth
import GiaobanClient
import GiaobanCrypto
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `giaoban-bench recording`: what recording a meeting costs the forwarding. The same meeting
/// runs twice through a fresh relay, once with `meetings.record = "off"` and once with
/// `"always"`: P participants publish VP8-shaped video and Opus-sized audio over the room
/// socket, W participants watch every publisher. Per run: packets forwarded per second, the CPU
/// of the forwarding threads (the media thread and the egress lanes, from /proc) per forwarded
/// packet, the whole process's CPU per packet (recorder and minutes mix included), and the
/// recorded files. Traffic stays on 127.0.0.1.
struct RecordingBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recording",
        abstract: "One meeting with recording off and then on: forwarding CPU per packet, process CPU, files written."
    )

    @Option(help: "Participants that publish video and audio.")
    var publishers = 3

    @Option(help: "Participants that watch every publisher.")
    var watchers = 10

    @Option(help: "Each publisher's video bit rate in kbit/s (640×360, 30 fps).")
    var videoKbps = 800

    @Option(help: "Pairs of runs (off, then always), alternated so that drift in the machine hits both modes alike.")
    var repeats = 5

    @OptionGroup var options: StepOptions

    func validate() throws {
        guard (1...20).contains(publishers), (1...100).contains(watchers) else { throw ValidationError("--publishers 1…20, --watchers 1…100") }
        guard (50...5_000).contains(videoKbps) else { throw ValidationError("--video-kbps 50…5000") }
        guard (1...20).contains(repeats) else { throw ValidationError("--repeats 1…20") }
    }

    struct Run: Codable {
        var record: String
        var forwardedPerSecond: Double
        var forwardingMicrosPerPacket: Double
        var processMicrosPerPacket: Double
        var processCPUPercent: Double
        var recordedFiles: Int
        var recordedBytes: Int
        var lossPercent: Double
    }

    struct Report: Codable {
        var command: String
        var date: String
        var publishers: Int
        var watchers: Int
        var videoKbps: Int
        var runs: [Run]
        /// Each pair's on / off forwarding CPU per packet, in run order.
        var pairRatios: [Double]
        /// The median of the on runs over the median of the off runs.
        var forwardingRatio: Double?
        var notes: [String]
    }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        progress("recording: \(publishers) publishers (\(videoKbps) kbit/s 640×360 + audio) watched by \(watchers) participants each; "
                 + "warm-up \(format(options.warmup)) s + \(format(options.seconds)) s, recording off then always")
        var report = Report(command: CommandLine.arguments.joined(separator: " "), date: ISO8601DateFormatter().string(from: Date()),
                            publishers: publishers, watchers: watchers, videoKbps: videoKbps, runs: [], pairRatios: [], notes: [])
        for pair in 1...repeats {
            var costs: [Double] = []
            for mode in ["off", "always"] {
                progress("pair \(pair)/\(repeats)")
                let run = try await measure(record: mode)
                progress(Self.line(run))
                report.runs.append(run)
                costs.append(run.forwardingMicrosPerPacket)
            }
            if costs[0] > 0 { report.pairRatios.append(costs[1] / costs[0]) }
        }
        let off = median(report.runs.filter { $0.record == "off" }.map(\.forwardingMicrosPerPacket))
        let on = median(report.runs.filter { $0.record == "always" }.map(\.forwardingMicrosPerPacket))
        if off > 0 { report.forwardingRatio = on / off }
        report.notes.append("forwarding = the relay's giaoban-media and giaoban-egressN threads (time on CPU in ns from "
                            + "/proc/<pid>/task/<tid>/schedstat); process = every thread (utime + stime), the recorder and the minutes' mix included; "
                            + "ratio = median of the on runs / median of the off runs")
        print("")
        print(Self.table(report))
        if let json = options.json { try writeJSON(report, to: json) }
    }

    static func line(_ run: Run) -> String {
        "record=\(run.record): \(Int(run.forwardedPerSecond)) pkt/s forwarded, forwarding \(format(run.forwardingMicrosPerPacket)) µs/pkt, "
            + "process \(format(run.processMicrosPerPacket)) µs/pkt (\(format(run.processCPUPercent)) %), "
            + "\(run.recordedFiles) files \(run.recordedBytes / 1024) KiB, loss \(format(run.lossPercent)) %"
    }

    static func table(_ report: Report) -> String {
        var lines = ["| meetings.record | forwarded pkt/s | forwarding µs/pkt | process µs/pkt | process CPU % | files | KiB | loss % |",
                     "|---|---|---|---|---|---|---|---|"]
        for r in report.runs {
            lines.append("| \(r.record) | \(Int(r.forwardedPerSecond)) | \(format(r.forwardingMicrosPerPacket)) | \(format(r.processMicrosPerPacket)) | "
                         + "\(format(r.processCPUPercent)) | \(r.recordedFiles) | \(r.recordedBytes / 1024) | \(format(r.lossPercent)) |")
        }
        if !report.pairRatios.isEmpty {
            lines.append("\neach pair's forwarding CPU per packet, on / off: " + report.pairRatios.map { String(format: "%.2f", $0) }.joined(separator: ", "))
        }
        if let ratio = report.forwardingRatio { lines.append("forwarding CPU per packet, recording on / off (medians): " + String(format: "%.2f", ratio)) }
        return lines.joined(separator: "\n")
    }

    /// One run through a fresh relay with `meetings.record = record`.
    private func measure(record: String) async throws -> Run {
        var template = Array("/tmp/giaoban-recbench-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw RelayProcess.StartError(description: "mkdtemp failed") }
        let recordings = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: recordings) }
        let server = try RelayProcess(binary: RelayProcess.binary(options.relay), environment: [
            "GIAOBAN_SERVER_LOG_LEVEL": "warning", "GIAOBAN_MEETINGS_RECORD": record, "GIAOBAN_STORAGE_RECORDINGS_DIR": recordings,
        ])
        defer { server.stop() }
        let authority = TokenAuthority(secret: try server.secret())
        let now = Int64(Date().timeIntervalSince1970)
        let token: (Role, String) -> String = { authority.issue(TokenClaims(sub: $1, role: $0, exp: now + 7_200, iat: now)) }
        let meeting = try MixingRelay.createMeeting(server, token: token(.chair, "p0"))
        let logger = Logger(label: "bench.room", factory: { _ in SwiftLogNoOpLogHandler() })
        let context = try DTLSContext(certificate: DTLSCertificate())
        var profile = MediaProfile()
        profile.videoBitrate = videoKbps * 1000
        (profile.width, profile.height) = (640, 360)
        let paced = PacedPublisher(connections: [], profile: profile)
        let receiver = ReceiveLoop()
        var clients: [RoomClient] = []
        defer {
            paced.stop()
            receiver.stop()
            for client in clients { client.leave() }
        }
        for index in 0..<publishers {
            let client = RoomClient(server: server.baseURL, meeting: meeting, token: token(index == 0 ? .chair : .commune, "p\(index)"),
                                    requestTimeout: .seconds(20), logger: logger)
            client.start()
            clients.append(client)
            let pending = try PendingConnection(mode: .publish(audioSSRC: PacedPublisher.audioSSRC, videoSSRC: PacedPublisher.videoSSRC),
                                                context: context)
            let answer = try RelayAnswer(sdp: try await client.publish(offer: pending.sdp).sdp)
            paced.add(try await pending.connectOnOwnThread(answer: answer) { Handoff($0) }.value)
        }
        paced.start()
        for index in 0..<watchers {
            let client = RoomClient(server: server.baseURL, meeting: meeting, token: token(.commune, "w\(index)"),
                                    requestTimeout: .seconds(20), logger: logger)
            client.start()
            clients.append(client)
            for publisher in 0..<publishers {
                let pending = try PendingConnection(mode: .watch, context: context)
                let answer = try RelayAnswer(sdp: try await client.subscribe(participant: "p\(publisher)", offer: pending.sdp).sdp)
                receiver.add(try await pending.connectOnOwnThread(answer: answer) { Handoff($0) }.value)
            }
        }
        receiver.start()
        progress("record=\(record): \(publishers) publishing, \(watchers) × \(publishers) watching; warm-up")
        try await Task.sleep(for: .seconds(options.warmup))
        let pid = server.process.processIdentifier
        let forwarding = { ProcessStats.threadsCPUSeconds(pid: pid, named: Self.forwardingThreads) ?? 0 }
        let m0 = server.metrics(), f0 = forwarding(), c0 = server.cpuSeconds, t0 = nowNanoseconds()
        try await Task.sleep(for: .seconds(options.seconds))
        let m1 = server.metrics(), f1 = forwarding(), c1 = server.cpuSeconds, t1 = nowNanoseconds()
        let elapsed = Double(t1 - t0) / 1e9
        let forwarded = (m1["giaoban_rtp_forwarded_total"] ?? 0) - (m0["giaoban_rtp_forwarded_total"] ?? 0)
        let received = (m1["giaoban_rtp_received_total"] ?? 0) - (m0["giaoban_rtp_received_total"] ?? 0)
        let expected = Double(publishers) * (profile.videoPacketsPerSecond + profile.audioPacketsPerSecond) * elapsed
        var files = 0, bytes = 0
        if let walker = FileManager.default.enumerator(atPath: recordings) {
            for case let name as String in walker where name.hasSuffix(".webm") {
                files += 1
                bytes += ((try? FileManager.default.attributesOfItem(atPath: recordings + "/" + name))?[.size] as? Int) ?? 0
            }
        }
        return Run(record: record, forwardedPerSecond: forwarded / elapsed,
                   forwardingMicrosPerPacket: forwarded > 0 ? (f1 - f0) * 1e6 / forwarded : 0,
                   processMicrosPerPacket: forwarded > 0 ? (c1 - c0) * 1e6 / forwarded : 0,
                   processCPUPercent: (c1 - c0) / elapsed * 100, recordedFiles: files, recordedBytes: bytes,
                   lossPercent: expected > 0 ? max(0, 100 * (1 - received / expected)) : 0)
    }

    /// The forwarding threads' names: the media thread and the egress lanes (the mixer's
    /// threads are giaoban-audio-mixer and giaoban-compositor, the recorder's recorder-N).
    static let forwardingThreads = ["giaoban-media", "giaoban-egress"]

    private func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
