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
    /// "direct" (no relay), "kernel-floor" (bare UDP fan-out in the generator) or "relay".
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
    /// Forwarder CPU time per forwarded packet, µs: the relay process (utime+stime), or
    /// the kernel-floor thread (RUSAGE_THREAD).
    var cpuMicrosPerPacket: Double?
    /// Forwarder CPU, % of one core.
    var forwarderCPUPercent: Double?
    /// The relay's resident memory at the end of the step, KiB.
    var relayRSSKiB: Int?
    /// (relay RSS − RSS with the publisher alone) / subscribers, KiB.
    var rssPerSubscriberKiB: Double?
    /// Datagrams the relay dropped in the window (giaoban_udp_dropped_total).
    var relayDrops: Int?
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
    /// The steps in the order run.
    var steps: [BroadcastStep]
}

/// Formats the steps as an aligned table.
func broadcastTable(_ steps: [BroadcastStep]) -> String {
    let columns: [(String, Int)] = [
        ("scenario", 12), ("N", 4), ("fwd pkt/s", 10), ("p50 µs", 8), ("p90 µs", 8), ("p99 µs", 8), ("p99.9 µs", 9),
        ("max µs", 8), ("loss %", 7), ("CPU µs/pkt", 10), ("fwd CPU %", 9), ("RSS MiB", 8), ("KiB/sub", 8), ("gen CPU %", 9), ("rx CPU %", 8), ("load", 5),
    ]
    func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
        s.count >= n ? s : (left ? s + String(repeating: " ", count: n - s.count) : String(repeating: " ", count: n - s.count) + s)
    }
    func f(_ v: Double?, _ digits: Int) -> String {
        guard let v, v.isFinite else { return "-" }
        return String(format: "%.\(digits)f", v)
    }
    var lines = [columns.enumerated().map { pad($1.0, $1.1, left: $0 == 0) }.joined(separator: " ")]
    lines.append(String(repeating: "-", count: lines[0].count))
    for s in steps {
        let cells = [
            s.scenario, String(s.subscribers), f(s.forwardedPerSecond, 0), f(s.latency.p50, 0), f(s.latency.p90, 0),
            f(s.latency.p99, 0), f(s.latency.p999, 0), f(s.latency.max, 0), f(s.lossPercent, 3), f(s.cpuMicrosPerPacket, 2),
            f(s.forwarderCPUPercent, 1), f(s.relayRSSKiB.map { Double($0) / 1024 }, 1), f(s.rssPerSubscriberKiB, 0),
            f(s.generatorCPUPercent, 1), f(s.receiverCPUPercent, 1), f(s.loadAverage, 1),
        ]
        lines.append(zip(cells, columns).enumerated().map { pad($1.0, $1.1.1, left: $0 == 0) }.joined(separator: " "))
    }
    return lines.joined(separator: "\n")
}
