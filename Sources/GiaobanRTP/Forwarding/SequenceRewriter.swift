public import GiaobanWire

/// Maps one or more incoming RTP streams onto one outgoing stream for one subscriber:
/// its own SSRC, a sequence number space without gaps, and continuous timestamps
/// (RFC 3550 §5.1; RFC 7667 §3.7 for what a media-switching middlebox must rewrite).
///
/// A subscriber's outgoing stream stays the same while the source behind it changes
/// (a simulcast layer switch, a new active speaker): `switchSource` re-bases the offsets
/// so the decoder sees the next sequence number and a plausible timestamp. Packets the
/// relay drops on purpose (a temporal layer the subscriber does not take) are `skip`ped
/// so no gap appears. Pure value type; no allocation.
public struct SequenceRewriter: Sendable {
    /// The SSRC the subscriber sees.
    public let outputSSRC: UInt32
    @usableFromInline var seqOffset: UInt16 = 0
    @usableFromInline var tsOffset: UInt32 = 0
    /// The highest input sequence number seen from the current source (unwrapped).
    @usableFromInline var highestInput: Int64 = -1
    /// The first input sequence number of the current source (unwrapped); older ones are refused.
    @usableFromInline var firstInput: Int64 = 0
    @usableFromInline var unwrapper = SerialUnwrapper<SeqNum16>()
    @usableFromInline var started = false
    /// A new source begins with the next packet (see `expectNewSource`).
    @usableFromInline var pendingGap: UInt32?
    @usableFromInline var lastSequence: UInt16 = 0
    @usableFromInline var lastTimestamp: UInt32 = 0
    /// The sequence number of the newest packet sent (re-basing on a switch continues from it).
    public var lastOutputSequence: UInt16 { lastSequence }
    /// The timestamp of the newest packet sent.
    public var lastOutputTimestamp: UInt32 { lastTimestamp }

    /// Creates a rewriter for an outgoing stream with `outputSSRC`; the first output sequence
    /// number is `initialSequence` (random in production, RFC 3550 §5.1).
    public init(outputSSRC: UInt32, initialSequence: UInt16 = 0, initialTimestamp: UInt32 = 0) {
        self.outputSSRC = outputSSRC
        lastSequence = initialSequence &- 1
        lastTimestamp = initialTimestamp
    }

    /// Starts following a new source whose next packet has `sequence`/`timestamp`, so that it
    /// continues the output right after the last packet sent, `timestampGap` ticks later
    /// (e.g. one frame interval: 3000 at 90 kHz and 30 fps).
    @inlinable
    public mutating func switchSource(sequence: UInt16, timestamp: UInt32, timestampGap: UInt32) {
        seqOffset = (lastSequence &+ 1) &- sequence
        tsOffset = started ? (lastTimestamp &+ timestampGap) &- timestamp : lastTimestamp &- timestamp
        unwrapper = SerialUnwrapper()
        highestInput = unwrapper.unwrap(sequence &- 1)
        firstInput = highestInput + 1
        started = true
    }

    /// The output sequence number and timestamp for an input packet of the current source,
    /// or nil for a packet from before the current source started (its number is taken).
    @inlinable
    public mutating func rewrite(sequence: UInt16, timestamp: UInt32) -> (sequence: UInt16, timestamp: UInt32)? {
        if !started || pendingGap != nil {
            switchSource(sequence: sequence, timestamp: timestamp, timestampGap: pendingGap ?? 0)
            pendingGap = nil
        }
        let unwrapped = unwrapper.unwrap(sequence)
        if unwrapped < firstInput { return nil }
        let outSeq = sequence &+ seqOffset
        let outTs = timestamp &+ tsOffset
        if unwrapped > highestInput {
            highestInput = unwrapped
            lastSequence = outSeq
            lastTimestamp = outTs
        }
        return (outSeq, outTs)
    }

    /// Announces that the next packet comes from a new source (e.g. a publisher replaced by
    /// another): it will continue the output `timestampGap` ticks after the last packet sent.
    @inlinable
    public mutating func expectNewSource(timestampGap: UInt32) { pendingGap = timestampGap }

    /// Drops the newest input packet `sequence` on purpose: later packets move down by one so
    /// the subscriber sees no gap. Only the newest packet can be skipped; an older one returns false
    /// (it would renumber packets already sent).
    @inlinable
    public mutating func skip(sequence: UInt16) -> Bool {
        if !started { switchSource(sequence: sequence, timestamp: 0, timestampGap: 0) }
        let unwrapped = unwrapper.unwrap(sequence)
        guard unwrapped > highestInput else { return false }
        highestInput = unwrapped
        seqOffset = seqOffset &- 1
        return true
    }

    /// The input sequence number that produced output `sequence` from the current source
    /// (to find a NACKed packet in the ingress cache).
    @inlinable
    public func inputSequence(forOutput sequence: UInt16) -> UInt16 { sequence &- seqOffset }

    /// The output timestamp for input timestamp `timestamp` of the current source (to carry a
    /// publisher's sender-report timing over to the subscriber).
    @inlinable
    public func outputTimestamp(forInput timestamp: UInt32) -> UInt32 { timestamp &+ tsOffset }
}
