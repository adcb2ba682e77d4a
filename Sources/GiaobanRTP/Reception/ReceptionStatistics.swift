public import GiaobanWire

/// Reception statistics of one incoming RTP stream (RFC 3550 §6.4.1, Appendix A.3 and A.8):
/// extended highest sequence number, cumulative and interval loss, interarrival jitter.
public struct ReceptionStatistics: Sendable {
    var unwrapper = SerialUnwrapper<SeqNum16>()
    var first: Int64 = -1
    var highest: Int64 = -1
    var received: Int64 = 0
    var expectedPrior: Int64 = 0
    var receivedPrior: Int64 = 0
    var jitter: Double = 0
    var lastTransit: Double?
    /// The fraction lost (0–255) of the last report interval.
    public private(set) var lastFractionLost: UInt8 = 0

    /// Interarrival jitter in RTP clock units.
    public var jitterUnits: Double { jitter }

    /// Empty statistics.
    public init() {}

    /// Records a packet with `sequence` and RTP `timestamp` that arrived at `arrival`
    /// (in RTP clock units of the same clock).
    public mutating func record(sequence: UInt16, timestamp: UInt32, arrival: Double) {
        let s = unwrapper.unwrap(sequence)
        if first < 0 { first = s; highest = s - 1 }
        if s > highest { highest = s }
        received += 1
        let transit = arrival - Double(timestamp)
        if let last = lastTransit {
            let d = abs(transit - last)
            jitter += (d - jitter) / 16
        }
        lastTransit = transit
    }

    /// Cumulative packets lost (expected − received), clamped to the 24-bit signed range.
    public var cumulativeLost: Int32 {
        guard first >= 0 else { return 0 }
        let lost = (highest - first + 1) - received
        return Int32(max(-0x80_0000, min(0x7F_FFFF, lost)))
    }

    /// The report block for this stream; resets the interval counters (fraction lost).
    public mutating func reportBlock(ssrc: UInt32, lastSR: UInt32, delaySinceLastSR: UInt32) -> ReceptionReportBlock {
        let expected = first >= 0 ? highest - first + 1 : 0
        let expectedInterval = expected - expectedPrior
        let receivedInterval = received - receivedPrior
        expectedPrior = expected
        receivedPrior = received
        let lostInterval = expectedInterval - receivedInterval
        let fraction: UInt8 = expectedInterval <= 0 || lostInterval <= 0 ? 0 : UInt8(min(255, (lostInterval << 8) / expectedInterval))
        lastFractionLost = fraction
        return ReceptionReportBlock(ssrc: ssrc, fractionLost: fraction, cumulativeLost: cumulativeLost,
                                    extendedHighestSequence: UInt32(truncatingIfNeeded: max(0, highest)),
                                    jitter: UInt32(jitter), lastSenderReport: lastSR, delaySinceLastSenderReport: delaySinceLastSR)
    }
}
