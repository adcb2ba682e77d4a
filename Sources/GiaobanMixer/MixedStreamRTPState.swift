/// The RTP numbering of one listener's mixed audio stream (RFC 3550 §5.1): the sequence
/// number goes up by one per packet sent and the timestamp by the samples each tick covers
/// (960 at 48 kHz per 20 ms, RFC 7587 §4.1), whichever mix the packet came from, so a
/// listener moving between the shared mix and its own mix-minus sees one continuous stream.
/// The first packet carries the marker bit (start of a talkspurt, RFC 3551 §4.1).
public struct MixedStreamRTPState: Sendable, Equatable {
    /// The sequence number of the next packet.
    public private(set) var sequenceNumber: UInt16
    /// The timestamp of the next packet.
    public private(set) var timestamp: UInt32
    private var started = false

    /// A stream whose first packet gets `sequenceNumber` and `timestamp` (random by
    /// default, as RFC 3550 §5.1 recommends).
    public init(sequenceNumber: UInt16 = .random(in: .min ... .max), timestamp: UInt32 = .random(in: .min ... .max)) {
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
    }

    /// Numbers one packet covering `samples` and advances past it.
    public mutating func next(samples: UInt32 = 960) -> (sequenceNumber: UInt16, timestamp: UInt32, marker: Bool) {
        let out = (sequenceNumber, timestamp, !started)
        started = true
        sequenceNumber &+= 1
        timestamp &+= samples
        return out
    }

    /// A tick passed without a packet for this stream: time advances, the sequence does not.
    public mutating func skip(samples: UInt32 = 960) {
        timestamp &+= samples
    }
}
