import GiaobanEngine
import GiaobanWire
import Testing
import GiaobanRTP

/// Feeds a `BandwidthEstimator` a synthetic link: packets of 1,200 bytes sent at `sendRate`
/// through a bottleneck of `linkRate` (a queue: each packet leaves when the previous one has
/// been serialised), one-way delay 20 ms, `lossEvery`-th packet lost; feedback every 100 ms.
struct SyntheticLink {
    var estimator = BandwidthEstimator(initial: 1_000_000)
    var now: Int64 = 1_000_000
    var queueFree: Int64 = 0
    var pending: [TransportFeedbackBuilderInput] = []

    struct TransportFeedbackBuilderInput { var sequence: UInt16; var arrival: Int64? }

    /// A deterministic pseudo-random sequence (xorshift64) for random loss.
    var random: UInt64 = 0x9E37_79B9_7F4A_7C15
    /// Packets the link lost so far.
    var lostPackets = 0

    mutating func run(seconds: Double, sendRate: Int, linkRate: Int, lossEvery: Int = 0, lossProbability: Double = 0) throws {
        let end = now + Int64(seconds * 1e6)
        let size = 1_200
        let interval = Int64(Double(size * 8) / Double(sendRate) * 1e6)
        var nextFeedback = now + 100_000
        var count = 0
        while now < end {
            let sequence = estimator.sent(size: size, at: now)
            count += 1
            let serialise = Int64(Double(size * 8) / Double(linkRate) * 1e6)
            let leaves = max(queueFree, now) + serialise
            queueFree = leaves
            random ^= random << 13
            random ^= random >> 7
            random ^= random << 17
            let lost = (lossEvery > 0 && count % lossEvery == 0)
                || Double(random % 1_000_000) / 1_000_000 < lossProbability
            if lost { lostPackets += 1 }
            pending.append(.init(sequence: sequence, arrival: lost ? nil : leaves + 20_000))
            now += interval
            if now >= nextFeedback {
                try deliverFeedback()
                nextFeedback += 100_000
            }
        }
    }

    /// Builds a real transport-wide feedback message for what has arrived and reads it back.
    mutating func deliverFeedback() throws {
        let arrived = pending.filter { ($0.arrival ?? 0) <= now }
        guard !arrived.isEmpty else { return }
        pending.removeFirst(arrived.count)
        var recorder = TransportFeedbackRecorder()
        for item in arrived {
            if let arrival = item.arrival { recorder.record(sequence: item.sequence, arrival: arrival) }
        }
        // Lost packets between the first and last arrival are reported lost by the recorder.
        guard let feedback = recorder.makeFeedback(senderSSRC: 1, mediaSSRC: 2) else { return }
        var buffer = [UInt8](repeating: 0, count: 2048)
        let length = try buffer.withUnsafeMutableBytes { try feedback.marshal(into: $0) }
        try buffer.withUnsafeBytes { bytes in
            let view = try TransportWideFeedback(UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
            estimator.read(view, now: now)
        }
    }
}

@Suite("Bandwidth estimation from transport-wide feedback (delay, loss, probing)")
struct BandwidthEstimatorTests {
    @Test("an uncongested link: usage stays normal and the estimate grows")
    func grows() throws {
        var link = SyntheticLink()
        try link.run(seconds: 5, sendRate: 500_000, linkRate: 10_000_000)
        #expect(link.estimator.usage != .overusing)
        #expect(link.estimator.estimate > 1_200_000, "about 8 %/s for 5 s: \(link.estimator.estimate)")
        #expect(link.estimator.feedbacks >= 40)
        #expect(link.estimator.receivedRate > 400_000 && link.estimator.receivedRate < 600_000, "\(link.estimator.receivedRate)")
    }

    @Test("sending 1.2 Mbit/s into a 600 kbit/s bottleneck: queues grow, over-use is seen, the estimate falls near the link rate")
    func bottleneck() throws {
        var link = SyntheticLink()
        try link.run(seconds: 3, sendRate: 1_200_000, linkRate: 600_000)
        #expect(link.estimator.lastCongestion != nil, "over-use detected")
        #expect(link.estimator.estimate < 700_000, "\(link.estimator.estimate)")
        #expect(link.estimator.estimate > 300_000, "not collapsed: \(link.estimator.estimate)")
    }

    @Test("5 % random loss (a commune's lossy line, not congestion) does not pull the estimate down")
    func randomLossHolds() throws {
        var link = SyntheticLink()
        try link.run(seconds: 30, sendRate: 500_000, linkRate: 10_000_000, lossProbability: 0.05)
        let sent = 30 * 500_000 / (1_200 * 8)
        #expect(Double(link.lostPackets) > 0.04 * Double(sent), "about 5 % was lost: \(link.lostPackets) of \(sent)")
        #expect(link.estimator.estimate >= 900_000, "held near the start (1 Mbit/s): \(link.estimator.estimate)")
    }

    @Test("a quarter of the packets lost lowers the estimate; calm afterwards, a probe lifts it")
    func lossAndProbe() throws {
        var link = SyntheticLink()
        try link.run(seconds: 3, sendRate: 500_000, linkRate: 10_000_000, lossEvery: 4)
        let lowered = link.estimator.estimate
        #expect(lowered < 600_000, "loss-based decrease: \(lowered)")
        #expect(!link.estimator.isCalm(now: link.now, quiet: 1_000_000))
        // The smoothed loss takes a few windows to fall under 2 %: calm, then growth.
        try link.run(seconds: 8, sendRate: 300_000, linkRate: 10_000_000)
        #expect(link.estimator.isCalm(now: link.now, quiet: 1_000_000), "no loss or delay growth for a second")
        #expect(link.estimator.estimate > lowered, "grows again without loss")
        link.estimator.probe(to: 2_000_000)
        #expect(link.estimator.estimate == 2_000_000)
    }
}
