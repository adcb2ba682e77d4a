import Foundation

/// Latency percentiles of one step, in µs.
struct LatencySummary: Codable {
    var p50 = 0.0
    var p90 = 0.0
    var p99 = 0.0
    var p999 = 0.0
    var max = 0.0
    /// Packets measured.
    var samples = 0

    /// Percentiles (nearest rank) of latencies given in ns.
    init(nanoseconds values: [UInt32]) {
        guard !values.isEmpty else { return }
        let sorted = values.sorted()
        func rank(_ q: Double) -> Double {
            let index = Swift.min(sorted.count - 1, Swift.max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))
            return Double(sorted[index]) / 1000
        }
        p50 = rank(0.50)
        p90 = rank(0.90)
        p99 = rank(0.99)
        p999 = rank(0.999)
        max = Double(sorted[sorted.count - 1]) / 1000
        samples = sorted.count
    }
}

/// The figures of one step: one scenario at one subscriber count.
struct BroadcastStep: Codable {
    /// "direct" (no relay), "kernel-floor" (bare UDP fan-out in the generator), "relay" or
    /// "janus" (Janus VideoRoom).
    var scenario: String
    /// Subscribers receiving.
    var subscribers: Int
    /// Seconds measured.
    var seconds: Double
    /// Packets the publisher sent inside the window.
    var sentPackets: Int
    /// Unique packets received inside the window, summed over subscribers.
    var receivedPackets: Int
    /// Packets received twice.
    var duplicates: Int
    /// 100 × (1 − received / (sent × subscribers)).
    var lossPercent: Double
    /// Latency from the publisher's send call to the subscriber's receive, after SRTP.
    var latency: LatencySummary
    /// Packets the forwarder (relay or kernel floor) sent per second; nil for direct.
    var forwardedPerSecond: Double?
    /// RTP packets the relay received from publishers per second (its /metrics); nil elsewhere.
    var receivedPerSecond: Double?
    /// Forwarder CPU time per forwarded packet, µs: the relay or Janus process (utime+stime),
    /// or the kernel-floor thread (RUSAGE_THREAD). Janus's packets are those its subscribers
    /// received (it has no counter of its own without the admin API).
    var cpuMicrosPerPacket: Double?
    /// Forwarder CPU, % of one core.
    var forwarderCPUPercent: Double?
    /// The forwarder's (relay's or Janus's) resident memory at the end of the step, KiB.
    var relayRSSKiB: Int?
    /// (forwarder RSS − its RSS with the publisher alone) / subscribers, KiB.
    var rssPerSubscriberKiB: Double?
    /// Datagrams the relay dropped in the window (giaoban_udp_dropped_total).
    var relayDrops: Int?
    /// The share of forwarded packets the relay sent inside segmented sends (UDP_SEGMENT), %.
    var segmentedPercent: Double?
    /// Datagrams per segmented send in the window.
    var datagramsPerSegmentedSend: Double?
    /// The generator's CPU (publisher + receive + control threads), % of one core; the
    /// kernel-floor thread is not included.
    var generatorCPUPercent: Double
    /// The subscribers' receive thread alone, % of one core (±100 ms of sampling): near 100 %
    /// it, not the forwarder, sets the latency.
    var receiverCPUPercent: Double?
    /// The publisher's worst wake-up delay behind its schedule in the window, µs.
    var publisherMaxLateMicros: Int
    /// Datagrams the subscribers' client stacks dropped (SRTP failures).
    var clientDrops: Int
    /// Datagrams the kernel dropped in the window on the forwarder process's sockets and on
    /// this process's (full receive buffers: a reader that did not get a core in time).
    var forwarderSocketDrops: Int?
    var generatorSocketDrops: Int?
    /// The machine's 1-minute load average at the end of the step (other work competes for
    /// the same cores).
    var loadAverage: Double?
}

/// The whole run, as written to JSON.
struct BroadcastReport: Codable {
    /// The command line that produced it.
    var command: String
    /// The media sent.
    var profile: MediaProfile
    /// Warm-up seconds per step (not measured).
    var warmupSeconds: Double
    /// Measured seconds per step.
    var seconds: Double
    /// The SRTP profile the relay negotiated (the baselines use the same).
    var srtpProfile: String
    /// Whether a Janus baseline could be run.
    var janus: String
    /// The relay's resident memory before any peer, KiB.
    var relayIdleRSSKiB: Int?
    /// The relay's resident memory with the publisher alone, KiB.
    var relayPublisherRSSKiB: Int?
    /// The relay's CPU with the publisher alone (no subscriber), % of one core.
    var relayPublisherOnlyCPUPercent: Double?
    /// Why the relay part did not run, if it did not.
    var relayError: String?
    /// The SRTP profile Janus negotiated with the publisher.
    var janusSRTPProfile: String?
    /// Janus's resident memory before any peer, KiB.
    var janusIdleRSSKiB: Int?
    /// Janus's resident memory with the publisher alone, KiB.
    var janusPublisherRSSKiB: Int?
    /// Janus's CPU with the publisher alone (no subscriber), % of one core.
    var janusPublisherOnlyCPUPercent: Double?
    /// Why the Janus part stopped early, if it did.
    var janusError: String?
    /// The steps in the order run.
    var steps: [BroadcastStep]
    /// The relay beside Janus and the kernel floor, per subscriber count both ran.
    var comparisons: [BroadcastComparison] = []
}

/// The relay and Janus at one subscriber count, as ratios relay / Janus (below 1: the relay
/// is faster or smaller) and relay / kernel floor.
struct BroadcastComparison: Codable {
    var subscribers: Int
    /// Relay p50, p99 latency ÷ Janus's.
    var p50RelayOverJanus: Double?
    var p99RelayOverJanus: Double?
    /// Relay CPU per forwarded packet ÷ Janus's.
    var cpuRelayOverJanus: Double?
    /// Relay KiB per subscriber ÷ Janus's.
    var rssPerSubscriberRelayOverJanus: Double?
    /// Relay CPU per forwarded packet ÷ the kernel floor's.
    var cpuRelayOverKernelFloor: Double?
    /// The steps compared.
    var relay: BroadcastStep
    var janus: BroadcastStep
    var kernelFloor: BroadcastStep?

    /// One comparison per subscriber count with both a relay and a Janus step.
    static func pairs(_ steps: [BroadcastStep]) -> [BroadcastComparison] {
        func ratio(_ a: Double?, _ b: Double?) -> Double? {
            guard let a, let b, a.isFinite, b.isFinite, b > 0 else { return nil }
            return a / b
        }
        return steps.filter { $0.scenario.hasPrefix("relay") }.compactMap { relay in
            guard let janus = steps.first(where: { $0.scenario == "janus" && $0.subscribers == relay.subscribers }) else { return nil }
            let floor = steps.first { $0.scenario == "kernel-floor" && $0.subscribers == relay.subscribers }
            return BroadcastComparison(subscribers: relay.subscribers,
                                       p50RelayOverJanus: ratio(relay.latency.p50, janus.latency.p50),
                                       p99RelayOverJanus: ratio(relay.latency.p99, janus.latency.p99),
                                       cpuRelayOverJanus: ratio(relay.cpuMicrosPerPacket, janus.cpuMicrosPerPacket),
                                       rssPerSubscriberRelayOverJanus: ratio(relay.rssPerSubscriberKiB, janus.rssPerSubscriberKiB),
                                       cpuRelayOverKernelFloor: ratio(relay.cpuMicrosPerPacket, floor?.cpuMicrosPerPacket),
                                       relay: relay, janus: janus, kernelFloor: floor)
        }
    }
}

/// Formats the steps as an aligned table.
func broadcastTable(_ steps: [BroadcastStep]) -> String {
    alignedTable([
        ("scenario", 12), ("N", 4), ("fwd pkt/s", 10), ("p50 µs", 8), ("p90 µs", 8), ("p99 µs", 8), ("p99.9 µs", 9),
        ("max µs", 8), ("loss %", 7), ("CPU µs/pkt", 10), ("fwd CPU %", 9), ("RSS MiB", 8), ("KiB/sub", 8), ("gen CPU %", 9), ("rx CPU %", 8), ("load", 5),
        ("seg %", 6), ("dg/seg", 6),
    ], rows: steps.map { s in
        [
            s.scenario, String(s.subscribers), cell(s.forwardedPerSecond, 0), cell(s.latency.p50, 0), cell(s.latency.p90, 0),
            cell(s.latency.p99, 0), cell(s.latency.p999, 0), cell(s.latency.max, 0), cell(s.lossPercent, 3), cell(s.cpuMicrosPerPacket, 2),
            cell(s.forwarderCPUPercent, 1), cell(s.relayRSSKiB.map { Double($0) / 1024 }, 1), cell(s.rssPerSubscriberKiB, 0),
            cell(s.generatorCPUPercent, 1), cell(s.receiverCPUPercent, 1), cell(s.loadAverage, 1),
            cell(s.segmentedPercent, 0), cell(s.datagramsPerSegmentedSend, 1),
        ]
    })
}

/// Formats the relay-versus-Janus comparisons as an aligned table.
func comparisonTable(_ comparisons: [BroadcastComparison]) -> String {
    alignedTable([
        ("relay", 9), ("N", 4), ("relay p50", 10), ("janus p50", 10), ("÷", 5), ("relay p99", 10), ("janus p99", 10), ("÷", 5),
        ("relay µs/pkt", 12), ("janus µs/pkt", 12), ("÷", 5), ("relay KiB/sub", 13), ("janus KiB/sub", 13), ("÷", 5),
        ("relay loss %", 12), ("janus loss %", 12),
    ], rows: comparisons.map { c in
        [
            c.relay.scenario, String(c.subscribers), cell(c.relay.latency.p50, 0), cell(c.janus.latency.p50, 0), cell(c.p50RelayOverJanus, 2),
            cell(c.relay.latency.p99, 0), cell(c.janus.latency.p99, 0), cell(c.p99RelayOverJanus, 2),
            cell(c.relay.cpuMicrosPerPacket, 2), cell(c.janus.cpuMicrosPerPacket, 2), cell(c.cpuRelayOverJanus, 2),
            cell(c.relay.rssPerSubscriberKiB, 0), cell(c.janus.rssPerSubscriberKiB, 0), cell(c.rssPerSubscriberRelayOverJanus, 2),
            cell(c.relay.lossPercent, 3), cell(c.janus.lossPercent, 3),
        ]
    })
}

/// A number with `digits` decimals, or "-".
func cell(_ v: Double?, _ digits: Int) -> String {
    guard let v, v.isFinite else { return "-" }
    return String(format: "%.\(digits)f", v)
}

/// Rows under a header and a rule; the first column left-aligned, the others right-aligned.
func alignedTable(_ columns: [(String, Int)], rows: [[String]]) -> String {
    func pad(_ s: String, _ n: Int, left: Bool) -> String {
        s.count >= n ? s : (left ? s + String(repeating: " ", count: n - s.count) : String(repeating: " ", count: n - s.count) + s)
    }
    var lines = [columns.enumerated().map { pad($1.0, $1.1, left: $0 == 0) }.joined(separator: " ")]
    lines.append(String(repeating: "-", count: lines[0].count))
    for cells in rows {
        lines.append(zip(cells, columns).enumerated().map { pad($1.0, $1.1.1, left: $0 == 0) }.joined(separator: " "))
    }
    return lines.joined(separator: "\n")
}
