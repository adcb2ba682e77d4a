public import GiaobanWire

/// Reassembles VP8 frames from RTP packets (RFC 7741 §4), or VP9 frames (RFC 9628 §4) with
/// `format: .vp9`: packets are taken in sequence order, those of one timestamp are joined
/// (descriptors removed) until the marker bit.
/// Packets arriving out of order are held back while at most `reorderWindow` later ones
/// wait; after that the missing sequence numbers count as lost, and a frame that lost a
/// packet (or whose first packet lacks S = 1) comes out as `.incomplete`: the receiver
/// should then ask for a keyframe (PLI, RFC 4585 §6.3.1).
///
/// Pure and I/O-free: packets in, events out.
public struct VP8FrameAssembler: Sendable {
    /// What `insert` produced.
    public enum Event: Sendable, Equatable {
        /// A whole frame: the VP8 bitstream, its RTP timestamp, and whether it is a keyframe.
        case frame(data: [UInt8], timestamp: UInt32, isKeyframe: Bool)
        /// A frame that lost packets; its bytes are discarded.
        case incomplete(timestamp: UInt32)
    }

    /// Which payload descriptor the packets carry.
    public enum Format: Sendable {
        /// VP8 (RFC 7741 §4.2): a frame starts with S = 1 and partition 0; a keyframe's first
        /// byte has the P bit clear.
        case vp8
        /// VP9 (RFC 9628 §4.2): a frame starts with B = 1; a keyframe has P = 0.
        case vp9
    }

    /// Counters for diagnostics.
    public struct Counters: Sendable, Equatable {
        /// Sequence numbers given up as lost.
        public var lost = 0
        /// Packets that came after their place was given up, or twice.
        public var late = 0
        /// Packets whose VP8 descriptor did not parse.
        public var malformed = 0
        /// Frames delivered whole.
        public var frames = 0
        /// Frames reported incomplete.
        public var incomplete = 0
    }

    private struct Packet: Sendable {
        var timestamp: UInt32
        var marker: Bool
        var start: Bool
        var key: Bool
        var payload: [UInt8]
    }

    private struct Partial: Sendable {
        var timestamp: UInt32
        var data: [UInt8]
        var broken: Bool
        var key: Bool
    }

    /// How many packets may wait behind a missing one before it counts as lost.
    public let reorderWindow: Int
    /// The payload format.
    public let format: Format
    /// Counters so far.
    public private(set) var counters = Counters()
    private var unwrapper = SerialUnwrapper<SeqNum16>()
    private var next: Int64?
    private var pending: [Int64: Packet] = [:]
    private var current: Partial?
    /// Packets were lost between the last frame and the next one: a whole frame may be
    /// gone, so the next frame is only usable if it is a keyframe.
    private var lossBeforeNext = false

    /// Creates an assembler that tolerates reordering across `reorderWindow` packets.
    public init(reorderWindow: Int = 8, format: Format = .vp8) {
        self.reorderWindow = reorderWindow
        self.format = format
    }

    /// Takes one RTP packet of the VP8 stream and returns the frames it completed (usually
    /// none or one; more after a gap is given up).
    public mutating func insert(_ packet: RTPPacketView) -> [Event] {
        insert(sequenceNumber: packet.sequenceNumber, timestamp: packet.timestamp, marker: packet.marker,
               payload: packet.payload)
    }

    /// Takes one packet given by its RTP fields and payload (VP8 descriptor first).
    public mutating func insert(sequenceNumber: UInt16, timestamp: UInt32, marker: Bool,
                                payload: UnsafeRawBufferPointer) -> [Event] {
        let start: Bool, key: Bool, body: UnsafeRawBufferPointer
        switch format {
        case .vp8:
            guard let descriptor = try? VP8PayloadDescriptor(payload) else {
                counters.malformed += 1
                return []
            }
            // The P bit of the VP8 frame header is 0 for a keyframe (RFC 6386 §9.1).
            (start, body) = (descriptor.isStartOfFrame, descriptor.payload)
            key = start && body.first.map { $0 & 0x01 == 0 } == true
        case .vp9:
            guard let descriptor = try? VP9PayloadDescriptor(payload) else {
                counters.malformed += 1
                return []
            }
            (start, key, body) = (descriptor.isStartOfFrame, descriptor.isKeyFrame, descriptor.payload)
        }
        let seq = unwrapper.unwrap(sequenceNumber)
        if next == nil { next = seq }
        guard let expected = next, seq >= expected, pending[seq] == nil else {
            counters.late += 1
            return []
        }
        pending[seq] = Packet(timestamp: timestamp, marker: marker, start: start, key: key, payload: Array(body))
        var events: [Event] = []
        drain(into: &events)
        if pending.count > reorderWindow, let first = pending.keys.min(), let from = next {
            // Give up on what is missing before the oldest waiting packet.
            counters.lost += Int(first - from)
            if current != nil { current!.broken = true } else { lossBeforeNext = true }
            next = first
            drain(into: &events)
        }
        return events
    }

    /// Takes the news that the packet with `sequenceNumber` will never come (a jitter buffer
    /// gave it up): the frame it belonged to is incomplete, and the packets held behind it
    /// are used at once instead of waiting for `reorderWindow` more.
    public mutating func lose(sequenceNumber: UInt16) -> [Event] {
        let seq = unwrapper.unwrap(sequenceNumber)
        guard let expected = next else {
            next = seq + 1
            lossBeforeNext = true
            counters.lost += 1
            return []
        }
        guard seq >= expected, pending[seq] == nil else { return [] }
        var events: [Event] = []
        while let n = next, n <= seq {
            next = n + 1
            if let packet = pending.removeValue(forKey: n) {
                consume(packet, into: &events)
            } else {
                counters.lost += 1
                if current != nil { current!.broken = true } else { lossBeforeNext = true }
            }
        }
        drain(into: &events)
        return events
    }

    /// Consumes the packets that are next in sequence.
    private mutating func drain(into events: inout [Event]) {
        while let seq = next, let packet = pending.removeValue(forKey: seq) {
            next = seq + 1
            consume(packet, into: &events)
        }
    }

    private mutating func consume(_ packet: Packet, into events: inout [Event]) {
        if let partial = current, partial.timestamp != packet.timestamp {
            // The previous frame never saw its marker: its last packets were lost.
            counters.incomplete += 1
            events.append(.incomplete(timestamp: partial.timestamp))
            current = nil
        }
        if current == nil {
            current = Partial(timestamp: packet.timestamp, data: [], broken: !packet.start || (lossBeforeNext && !packet.key),
                              key: packet.key)
            lossBeforeNext = false
        }
        current!.data.append(contentsOf: packet.payload)
        guard packet.marker, let done = current else { return }
        current = nil
        if done.broken || done.data.isEmpty {
            counters.incomplete += 1
            events.append(.incomplete(timestamp: done.timestamp))
        } else {
            counters.frames += 1
            events.append(.frame(data: done.data, timestamp: done.timestamp, isKeyframe: done.key))
        }
    }
}
