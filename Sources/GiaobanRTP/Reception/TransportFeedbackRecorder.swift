public import GiaobanWire

/// Records when packets carrying a transport-wide sequence number arrived and turns them
/// into transport-wide feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1),
/// which the sender's congestion controller reads. Pure: time comes in as microseconds.
///
/// `record` does not allocate (a buffer of reserved capacity); `makeFeedback` runs at
/// 10 Hz and may.
public struct TransportFeedbackRecorder: Sendable {
    /// Arrivals not yet reported: unwrapped sequence number and microseconds.
    var pending: [(sequence: Int64, arrival: Int64)] = []
    var unwrapper = SerialUnwrapper<SeqNum16>()
    /// The next sequence number to report (losses at the start of a window are reported too).
    var nextToReport: Int64?
    var feedbackCount: UInt8 = 0
    /// The most arrivals kept between two feedbacks; more are dropped (counted by the caller).
    public static let capacity = 2048

    /// An empty recorder.
    public init() { pending.reserveCapacity(Self.capacity) }

    /// True when arrivals wait to be reported.
    public var hasPending: Bool { !pending.isEmpty }

    /// Records that `sequence` arrived at `arrival` µs; returns false when the buffer is full.
    @discardableResult
    public mutating func record(sequence: UInt16, arrival: Int64) -> Bool {
        guard pending.count < Self.capacity else { return false }
        pending.append((unwrapper.unwrap(sequence), arrival))
        return true
    }

    /// The feedback packet for everything recorded since the last one, or nil when there is
    /// nothing to report. Duplicates are reported once; late packets already reported as lost
    /// are left out.
    public mutating func makeFeedback(senderSSRC: UInt32, mediaSSRC: UInt32) -> TransportWideFeedbackBuilder? {
        guard !pending.isEmpty else { return nil }
        pending.sort { $0.sequence < $1.sequence }
        var arrivals: [TransportWideFeedbackBuilder.Arrival] = []
        var last: Int64 = (nextToReport ?? pending[0].sequence) - 1
        if let first = nextToReport, let lowest = pending.first?.sequence, lowest > first, lowest - first < 0x1000 {
            arrivals.append(.init(UInt16(truncatingIfNeeded: first), nil))  // lost at the window's start
            last = first
        }
        for entry in pending where entry.sequence > last {
            arrivals.append(.init(UInt16(truncatingIfNeeded: entry.sequence), entry.arrival))
            last = entry.sequence
        }
        pending.removeAll(keepingCapacity: true)
        guard !arrivals.isEmpty else { return nil }
        nextToReport = last + 1
        let count = feedbackCount
        feedbackCount &+= 1
        return try? TransportWideFeedbackBuilder(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC,
                                                 feedbackPacketCount: count, arrivals: arrivals)
    }
}
