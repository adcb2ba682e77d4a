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

    @OptionGroup var options: StepOptions

    func validate() throws {
        guard (1...20).contains(publishers), (1...100).contains(watchers) else { throw ValidationError("--publishers 1…20, --watchers 1…100") }
        guard (50...5_000).contains(videoKbps) else { throw ValidationError("--video-kbps 50…5000") }
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
        var forwardingRatio: Double?
        var notes: [String]
    }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        progress("recording: \(publishers) publishers (\(videoKbps) kbit/s 640×360 + audio) watched by \(watchers) participants each; "
                 + "warm-up \(format(options.warmup)) s + \(format(options.seconds)) s, recording off then always")
        var report = Report(command: CommandLine.arguments.joined(separator: " "), date: ISO8601DateFormatter().string(from: Date()),
                            publishers: publishers, watchers: watchers, videoKbps: videoKbps, runs: [], notes: [])
        for mode in ["off", "always"] {
            let run = try await measure(record: mode)
            progress(Self.line(run))
            report.runs.append(run)
        }
        if report.runs.count == 2, report.runs[0].forwardingMicrosPerPacket > 0 {
            report.forwardingRatio = report.runs[1].forwardingMicrosPerPacket / report.runs[0].forwardingMicrosPerPacket
        }
        report.notes.append("forwarding = the relay's giaoban-media and giaoban-egressN threads (utime + stime from /proc/<pid>/task); "
                            + "process = every thread, the recorder and the minutes' mix included")
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
        if let ratio = report.forwardingRatio { lines.append("\nforwarding CPU per packet, recording on / off: \(format(ratio))") }
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
        let m0 = server.metrics(), f0 = Self.threadCPU(pid: pid, prefix: "giaoban-"), c0 = server.cpuSeconds, t0 = nowNanoseconds()
        try await Task.sleep(for: .seconds(options.seconds))
        let m1 = server.metrics(), f1 = Self.threadCPU(pid: pid, prefix: "giaoban-"), c1 = server.cpuSeconds, t1 = nowNanoseconds()
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

    /// CPU seconds (utime + stime) of `pid`'s threads whose name starts with `prefix`, from
    /// /proc/<pid>/task/<tid>/stat: the forwarding threads are named giaoban-media and giaoban-egressN.
    static func threadCPU(pid: Int32, prefix: String) -> Double {
        let tasks = "/proc/\(pid)/task"
        guard let ids = try? FileManager.default.contentsOfDirectory(atPath: tasks) else { return 0 }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var total = 0.0
        for id in ids {
            guard let stat = try? String(contentsOfFile: "\(tasks)/\(id)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            let name = stat[stat.index(after: open)..<close]
            guard name.hasPrefix(prefix) else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the name: state is field 3, utime 14 and stime 15 (proc(5)), so indices 11 and 12 here.
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            total += (user + system) / ticks
        }
        return total
    }
}
