import ArgumentParser
import Foundation
import GiaobanClient
import GiaobanCrypto
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `giaoban-bench cascade`: 1 → N through one relay, then the same through a parent relay and
/// 2–4 child relays (docs/cascade.md): the publisher on the parent, the subscribers spread
/// over the children, each child pulling the stream once over its trunk. Per step: latency
/// (the cascade's minus one relay's is the hop's), CPU per forwarded packet of each node, and
/// the packets the parent forwards (the trunks: one copy per child). Traffic stays on 127.0.0.1.
struct Cascade: ParsableCommand, SteppedRun {
    static let configuration = CommandConfiguration(
        abstract: "1 → N through one relay and through a parent with 2–4 child relays: latency per hop, CPU of each node, trunk packets."
    )

    @Option(help: "Subscriber counts, one step each (comma-separated).")
    var subscribers = "50,200"

    @Option(help: "Child relays under the parent (2…4).")
    var children = 2

    @Option(help: "Video bit rate in kbit/s.")
    var videoKbps = 1500

    @OptionGroup var options: StepOptions

    func validate() throws {
        guard !counts.isEmpty, counts.allSatisfy({ (1...2000).contains($0) }) else {
            throw ValidationError("--subscribers: comma-separated counts between 1 and 2000")
        }
        guard (2...4).contains(children) else { throw ValidationError("--children 2…4") }
        guard (100...20_000).contains(videoKbps) else { throw ValidationError("--video-kbps 100…20000") }
    }

    var counts: [Int] { Broadcast.counts(subscribers) }

    var profile: MediaProfile {
        var p = MediaProfile()
        p.videoBitrate = videoKbps * 1000
        return p
    }

    struct NodeFigures: Codable {
        var node: String
        var cpuMicrosPerPacket: Double?
        var forwardedPerSecond: Double
        var cpuPercent: Double
    }

    struct Step: Codable {
        var subscribers: Int
        var oneRelay: BroadcastStep?
        var cascade: BroadcastStep?
        var addedP50Micros: Double?
        var addedP99Micros: Double?
        var nodes: [NodeFigures]
    }

    struct Report: Codable {
        var command: String
        var date: String
        var children: Int
        var videoKbps: Int
        var steps: [Step]
        var errors: [String]
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let binary = RelayProcess.binary(options.relay)
        progress("cascade: 1 publisher → \(subscribers) subscribers through one relay, then through a parent and \(children) children; "
                 + "video \(videoKbps) kbit/s; warm-up \(format(warmup)) s + \(format(seconds)) s per step")
        var errors: [String] = []
        let single = runForwarder("one relay", counts: counts) { try RelayTarget(process: RelayProcess(binary: binary)) }
        if let error = single.error { errors.append("one relay: \(error)") }
        let nodes = NodeSnapshots()
        let cascade = runForwarder("cascade", counts: counts) { try CascadeTarget(binary: binary, children: children, snapshots: nodes) }
        if let error = cascade.error { errors.append("cascade: \(error)") }

        var report = Report(command: CommandLine.arguments.joined(separator: " "), date: ISO8601DateFormatter().string(from: Date()),
                            children: children, videoKbps: videoKbps, steps: [], errors: errors)
        let windows = nodes.windows()
        for (index, n) in counts.enumerated() {
            let one = single.steps.first { $0.subscribers == n }, through = cascade.steps.first { $0.subscribers == n }
            var step = Step(subscribers: n, oneRelay: one, cascade: through, nodes: [])
            if let one, let through {
                step.addedP50Micros = through.latency.p50 - one.latency.p50
                step.addedP99Micros = through.latency.p99 - one.latency.p99
            }
            if index < windows.count { step.nodes = windows[index] }
            report.steps.append(step)
        }
        print("")
        print(Self.table(report))
        for error in errors { print(error) }
        if let json = options.json { try writeJSON(report, to: json) }
        if !errors.isEmpty { throw ExitCode(1) }
    }

    static func table(_ report: Report) -> String {
        var lines = ["| subscribers | one relay p50 / p99 µs | cascade p50 / p99 µs | added by the hop p50 / p99 µs | loss % one / cascade |",
                     "|---|---|---|---|---|"]
        for s in report.steps {
            let one = s.oneRelay.map { "\(format($0.latency.p50)) / \(format($0.latency.p99))" } ?? "-"
            let cascade = s.cascade.map { "\(format($0.latency.p50)) / \(format($0.latency.p99))" } ?? "-"
            let added = s.addedP50Micros.map { "\(format($0)) / \(format(s.addedP99Micros ?? 0))" } ?? "-"
            let loss = "\(s.oneRelay.map { String(format: "%.3f", $0.lossPercent) } ?? "-") / \(s.cascade.map { String(format: "%.3f", $0.lossPercent) } ?? "-")"
            lines.append("| \(s.subscribers) | \(one) | \(cascade) | \(added) | \(loss) |")
        }
        lines.append("")
        lines.append("| subscribers | node | forwarded pkt/s | CPU µs / fwd pkt | CPU % |")
        lines.append("|---|---|---|---|---|")
        for s in report.steps {
            if let one = s.oneRelay {
                lines.append("| \(s.subscribers) | one relay | \(Int(one.forwardedPerSecond ?? 0)) | "
                             + "\(one.cpuMicrosPerPacket.map { String(format: "%.2f", $0) } ?? "-") | \(format(one.forwarderCPUPercent ?? 0)) |")
            }
            for node in s.nodes {
                lines.append("| \(s.subscribers) | \(node.node) | \(Int(node.forwardedPerSecond)) | "
                             + "\(node.cpuMicrosPerPacket.map { String(format: "%.2f", $0) } ?? "-") | \(format(node.cpuPercent)) |")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Each node's CPU seconds and forwarded packets, taken whenever the step's meter reads the
/// cascade's CPU (at the start and at the end of every measured window).
final class NodeSnapshots: Sendable {
    struct Snapshot: Sendable {
        var at: UInt64
        var nodes: [(name: String, cpu: Double, forwarded: Double)]
    }

    private let taken = Mutex<[Snapshot]>([])

    func take(_ relays: [(String, RelayProcess)]) {
        let snapshot = Snapshot(at: nowNanoseconds(), nodes: relays.map { ($0.0, $0.1.cpuSeconds, $0.1.metrics()["giaoban_rtp_forwarded_total"] ?? 0) })
        taken.withLock { $0.append(snapshot) }
    }

    /// Per window (pairs of snapshots in order), each node's figures.
    func windows() -> [[Cascade.NodeFigures]] {
        let all = taken.withLock { $0 }
        return stride(from: 0, to: all.count - 1, by: 2).map { i in
            let (a, b) = (all[i], all[i + 1])
            let seconds = Double(b.at - a.at) / 1e9
            return zip(a.nodes, b.nodes).map { before, after in
                let forwarded = after.forwarded - before.forwarded, cpu = after.cpu - before.cpu
                return Cascade.NodeFigures(node: before.name, cpuMicrosPerPacket: forwarded > 0 ? cpu / forwarded * 1e6 : nil,
                                           forwardedPerSecond: seconds > 0 ? forwarded / seconds : 0,
                                           cpuPercent: seconds > 0 ? 100 * cpu / seconds : 0)
            }
        }
    }
}

/// A parent relay with the publisher and `children` child relays (`cascade.parent` set to the
/// parent, the bench's token there as their key) with the subscribers, joined in turn.
final class CascadeTarget: ForwarderTarget {
    let parent: RelayTarget
    let children: [RelayTarget]
    private let snapshots: NodeSnapshots
    private var next = 0

    init(binary: String, children count: Int, snapshots: NodeSnapshots) throws {
        let parent = try RelayTarget(process: RelayProcess(binary: binary))
        var children: [RelayTarget] = []
        do {
            let key = parent.relay.directory + "/child.key"
            guard FileManager.default.createFile(atPath: key, contents: Data((parent.relay.token + "\n").utf8),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw RelayProcess.StartError(description: "cannot write \(key)")
            }
            for _ in 0..<count {
                children.append(try RelayTarget(process: RelayProcess(binary: binary, environment: [
                    "GIAOBAN_CASCADE_PARENT": parent.relay.baseURL, "GIAOBAN_CASCADE_KEY_FILE": key,
                ])))
            }
        } catch {
            for child in children { child.stop() }
            parent.stop()
            throw error
        }
        self.parent = parent
        self.children = children
        self.snapshots = snapshots
        progress("cascade: parent \(parent.relay.baseURL), children " + children.map(\.relay.baseURL).joined(separator: ", "))
    }

    var process: any MeasuredProcess { parent.relay }

    func joinPublisher(context: DTLSContext) throws -> ClientConnection { try parent.joinPublisher(context: context) }

    func joinSubscriber(context: DTLSContext) throws -> ClientConnection {
        defer { next += 1 }
        return try children[next % children.count].joinSubscriber(context: context)
    }

    private var relays: [(String, RelayProcess)] {
        [("parent", parent.relay)] + children.enumerated().map { ("child \($0.offset + 1)", $0.element.relay) }
    }

    func meter(receiver: ReceiveLoop) -> ForwarderMeter {
        let relays = relays, snapshots = snapshots
        return ForwarderMeter(
            cpuSeconds: {
                snapshots.take(relays)
                return relays.reduce(0) { $0 + $1.1.cpuSeconds }
            },
            // What reaches the subscribers: the children's forwarding (the parent's is the trunks).
            forwarded: { relays.dropFirst().reduce(0) { $0 + ($1.1.metrics()["giaoban_rtp_forwarded_total"] ?? .nan) } },
            drops: { relays.reduce(0) { $0 + ($1.1.metrics()["giaoban_udp_dropped_total"] ?? 0) } },
            received: { relays[0].1.metrics()["giaoban_rtp_received_total"] }, pid: parent.relay.pid)
    }

    func leave() {
        for child in children { child.leave() }
        parent.leave()
    }

    func stop() {
        for child in children { child.stop() }
        parent.stop()
    }
}
