public import GiaobanWire

/// A jitter buffer for one received RTP stream: packets are copied into fixed slots by
/// sequence number, held until `targetDelay` after their arrival, and released in sequence
/// order. A missing packet is waited for while the packet after it is held; once that one
/// is due, the gap is released as lost (a retransmission answering a NACK has that long
/// to arrive). Packets that come after their place was released count as late.
///
/// Storage is allocated once; `insert` and `release` do not allocate.
/// Not thread-safe: one thread owns the buffer.
public final class JitterBuffer {
    /// Counts since the start.
    public struct Counters: Sendable, Codable, Equatable {
        /// Packets taken in.
        public var inserted = 0
        /// Packets released in order.
        public var released = 0
        /// Sequence numbers released as lost.
        public var lost = 0
        /// Packets that arrived after their place was released.
        public var late = 0
        /// Packets that arrived twice while held.
        public var duplicates = 0
        /// Packets larger than a slot, dropped.
        public var oversized = 0
        /// Jumps beyond the buffer's capacity: what was held or awaited was dropped, counted lost.
        public var resets = 0

        /// All counts zero.
        public init() {}
    }

    /// What `release` hands out, in sequence order.
    public enum Output {
        /// A packet: its RTP fields and payload (valid only during the call).
        case packet(sequenceNumber: UInt16, timestamp: UInt32, marker: Bool, payload: UnsafeRawBufferPointer)
        /// A sequence number given up as lost; `next` is the payload of the packet right
        /// after it when that one is held (Opus FEC recovers the lost frame from it).
        case lost(sequenceNumber: UInt16, next: UnsafeRawBufferPointer?)
    }

    /// How long each packet is held after its arrival.
    public var targetDelay: Duration
    /// Counts since the start.
    public private(set) var counters = Counters()
    /// Number of slots: the most packets held at once.
    public let capacity: Int
    /// Largest payload a slot holds.
    public let slotSize: Int

    private let storage: UnsafeMutableRawBufferPointer
    private var lengths: [Int]
    private var timestamps: [UInt32]
    private var markers: [Bool]
    private var arrivals: [ContinuousClock.Instant]
    private var sequences: [Int64]
    private var unwrapper = SerialUnwrapper<SeqNum16>()
    /// The next sequence number to release (unwrapped); nil before the first packet.
    private var next: Int64?
    /// The highest sequence number taken in (unwrapped).
    private var highest: Int64 = -1

    /// Creates a buffer holding each packet `targetDelay`, with `capacity` slots of
    /// `slotSize` payload bytes.
    public init(targetDelay: Duration, capacity: Int = 512, slotSize: Int = 1500) {
        precondition(capacity > 0 && slotSize > 0)
        self.targetDelay = targetDelay
        self.capacity = capacity
        self.slotSize = slotSize
        storage = .allocate(byteCount: capacity * slotSize, alignment: 16)
        lengths = Array(repeating: 0, count: capacity)
        timestamps = Array(repeating: 0, count: capacity)
        markers = Array(repeating: false, count: capacity)
        arrivals = Array(repeating: .now, count: capacity)
        sequences = Array(repeating: -1, count: capacity)
    }

    deinit { storage.deallocate() }

    /// Packets held now.
    public var count: Int {
        guard let next, highest >= next else { return 0 }
        var n = 0
        for s in next...highest where sequences[slot(s)] == s { n += 1 }
        return n
    }

    /// Takes a copy of `packet`'s payload; returns false when it is late, a duplicate or too large.
    @discardableResult
    public func insert(_ packet: RTPPacketView, now: ContinuousClock.Instant) -> Bool {
        insert(sequenceNumber: packet.sequenceNumber, timestamp: packet.timestamp, marker: packet.marker,
               payload: packet.payload, now: now)
    }

    /// Takes a copy of a packet given by its fields; returns false when it is late, a
    /// duplicate or too large.
    @discardableResult
    public func insert(sequenceNumber: UInt16, timestamp: UInt32, marker: Bool, payload: UnsafeRawBufferPointer,
                       now: ContinuousClock.Instant) -> Bool {
        guard payload.count <= slotSize else {
            counters.oversized += 1
            return false
        }
        let seq = unwrapper.unwrap(sequenceNumber)
        if next == nil { next = seq }
        guard let first = next, seq >= first else {
            counters.late += 1
            return false
        }
        if seq - first >= Int64(capacity) {
            // A jump past what the slots can hold (a long outage or a new source): start over.
            counters.resets += 1
            counters.lost += Int(max(0, highest - first + 1))
            for i in 0..<capacity { sequences[i] = -1 }
            next = seq
        }
        let i = slot(seq)
        guard sequences[i] != seq else {
            counters.duplicates += 1
            return false
        }
        sequences[i] = seq
        lengths[i] = payload.count
        timestamps[i] = timestamp
        markers[i] = marker
        arrivals[i] = now
        if payload.count > 0 {
            UnsafeMutableRawBufferPointer(rebasing: storage[i * slotSize..<i * slotSize + payload.count]).copyMemory(from: payload)
        }
        highest = max(highest, seq)
        counters.inserted += 1
        return true
    }

    /// True when the packet with `sequenceNumber` is held or was already released/given up:
    /// a NACK for it is no use.
    public func isSettled(_ sequenceNumber: UInt16) -> Bool {
        guard let next else { return false }
        let seq = unwrapper.peek(sequenceNumber)
        return seq < next || (seq <= highest && sequences[slot(seq)] == seq)
    }

    /// Hands every packet that is due at `now` to `body` in sequence order, with the gaps
    /// before them as `.lost`. A packet is due `targetDelay` after its arrival; a gap is
    /// given up when the packet after it is due.
    public func release(now: ContinuousClock.Instant, _ body: (Output) -> Void) {
        while let n = next, n <= highest {
            let i = slot(n)
            if sequences[i] == n {
                guard now - arrivals[i] >= targetDelay else { return }
                sequences[i] = -1
                next = n + 1
                counters.released += 1
                body(.packet(sequenceNumber: UInt16(truncatingIfNeeded: n), timestamp: timestamps[i], marker: markers[i],
                             payload: UnsafeRawBufferPointer(rebasing: storage[i * slotSize..<i * slotSize + lengths[i]])))
                continue
            }
            // A gap: find the packet after it; wait while that one is not due.
            var after = n + 1
            while after <= highest && sequences[slot(after)] != after { after += 1 }
            guard after <= highest, now - arrivals[slot(after)] >= targetDelay else { return }
            for lost in n..<after {
                counters.lost += 1
                let following = lost + 1 == after ? slot(after) : nil
                body(.lost(sequenceNumber: UInt16(truncatingIfNeeded: lost),
                           next: following.map { UnsafeRawBufferPointer(rebasing: storage[$0 * slotSize..<$0 * slotSize + lengths[$0]]) }))
            }
            next = after
        }
    }

    @inline(__always)
    private func slot(_ seq: Int64) -> Int { Int(seq % Int64(capacity)) }
}
