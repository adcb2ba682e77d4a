import GiaobanWire
import GiaobanRTP

/// The jitter buffer of one mixed audio source, pulled once per mixer tick: packets are
/// copied into fixed slots by sequence number; playout starts `delay` ticks after the first
/// packet and then takes exactly one sequence number per tick, so packets reordered by up to
/// `delay` frames are put back in order. A missing packet comes out as `.lost` (with the
/// following packet when it is already held, for Opus FEC); when nothing at all is held
/// for `idleAfter` ticks the source has stopped (muted, DTX, gone) and the buffer goes idle
/// until the next packet, which starts playout afresh (whatever its sequence number).
///
/// The client's `JitterBuffer` releases by arrival time and may hand out several packets
/// at once; a mixer needs one frame per source per tick with the position advanced by the
/// tick, hence this separate, tick-driven buffer. Every packet is taken as one 20 ms frame.
///
/// Storage is allocated once; `insert` and `pull` do not allocate. Not thread-safe.
public struct PlayoutBuffer: ~Copyable {
    /// What `pull` gives for this tick.
    public enum Frame {
        /// The packet for this tick (payload valid until the next `insert` or `pull`).
        case packet(sequenceNumber: UInt16, payload: UnsafeRawBufferPointer)
        /// The packet for this tick is missing; `next` is the one after it when held.
        case lost(sequenceNumber: UInt16, next: UnsafeRawBufferPointer?)
        /// Not playing: before the first packet, during the start-up delay, or stopped.
        case idle
    }

    /// Counts since the start.
    public struct Counters: Sendable, Equatable {
        /// Packets taken in.
        public var inserted = 0
        /// Packets that came after their tick had passed, or twice.
        public var late = 0
        /// Packets dropped to bring the held frames back to the playout delay (a burst or a
        /// sender whose clock runs fast).
        public var skipped = 0
        /// Ticks with nothing held for the playing position while playing.
        public var underruns = 0

        /// All counts zero.
        public init() {}
    }

    /// Ticks between the first packet and the start of playout.
    public let delay: Int
    /// Consecutive ticks with nothing held after which playout stops.
    public let idleAfter: Int
    /// Number of slots.
    public let capacity: Int
    /// Largest payload a slot holds (larger packets are refused as late).
    public let slotSize: Int
    /// Counts since the start.
    public private(set) var counters = Counters()
    /// Frames held behind the one the last `pull` played (how long, in ticks, the newest
    /// packet waits before it plays: the buffer's latency beyond one tick).
    public private(set) var depth = 0

    private let storage: UnsafeMutableRawBufferPointer
    private let lengths: UnsafeMutableBufferPointer<Int>
    private let sequences: UnsafeMutableBufferPointer<Int64>
    private var unwrapper = SerialUnwrapper<SeqNum16>()
    /// The sequence number played next (unwrapped); nil when idle.
    private var position: Int64?
    /// Ticks left before playout starts; nil when no packet is waiting to start it.
    private var countdown: Int?
    private var highest: Int64 = .min
    private var emptyTicks = 0

    /// A buffer starting playout `delay` ticks after the first packet, going idle after
    /// `idleAfter` ticks with nothing held; `capacity` must exceed `delay` by a few slots.
    public init(delay: Int = 2, idleAfter: Int = 5, capacity: Int = 16, slotSize: Int = 1500) {
        precondition(delay >= 0 && capacity > delay + 1 && idleAfter > 0 && slotSize > 0)
        self.delay = delay
        self.idleAfter = idleAfter
        self.capacity = capacity
        self.slotSize = slotSize
        storage = .allocate(byteCount: capacity * slotSize, alignment: 16)
        lengths = .allocate(capacity: capacity)
        lengths.initialize(repeating: 0)
        sequences = .allocate(capacity: capacity)
        sequences.initialize(repeating: -1)
    }

    deinit {
        storage.deallocate()
        lengths.deallocate()
        sequences.deallocate()
    }

    /// True while frames are being played out.
    public var isPlaying: Bool { position != nil }

    /// Copies a packet in; returns false when it is late, a duplicate or too large.
    @discardableResult
    public mutating func insert(sequenceNumber: UInt16, payload: UnsafeRawBufferPointer) -> Bool {
        // Biased so that a packet reordered before the very first one stays positive.
        let seq = unwrapper.unwrap(sequenceNumber) + Self.bias
        guard payload.count <= slotSize else {
            counters.late += 1
            return false
        }
        if let p = position {
            guard seq >= p else {
                counters.late += 1
                return false
            }
            if seq - p >= Int64(capacity) {
                // Far ahead of what the slots can hold: drop what is held and restart there.
                counters.skipped += held(from: p)
                clearSlots()
                position = nil
                countdown = delay
                highest = .min
            }
        } else if countdown == nil {
            countdown = delay
        } else if highest != .min, highest - seq >= Int64(capacity) {
            counters.late += 1
            return false
        }
        let i = slot(seq)
        guard sequences[i] != seq else {
            counters.late += 1
            return false
        }
        if sequences[i] >= 0, position == nil {
            // Start-up overflow: the slot holds an older packet still waiting; that one goes.
            counters.skipped += 1
        }
        sequences[i] = seq
        lengths[i] = payload.count
        if payload.count > 0 {
            UnsafeMutableRawBufferPointer(rebasing: storage[i * slotSize..<i * slotSize + payload.count]).copyMemory(from: payload)
        }
        highest = max(highest, seq)
        counters.inserted += 1
        return true
    }

    /// The frame for this tick; advances the playing position by one.
    public mutating func pull() -> Frame {
        if position == nil {
            guard let c = countdown else { return .idle }
            guard c <= 0 else {
                countdown = c - 1
                return .idle
            }
            countdown = nil
            position = lowestHeld()
            guard position != nil else { return .idle }
        }
        var p = position!
        // More held than the delay asks for: drop the oldest so latency stays bounded.
        while highest - p > Int64(delay + 2) {
            if sequences[slot(p)] == p { sequences[slot(p)] = -1 }
            counters.skipped += 1
            p += 1
        }
        position = p + 1
        depth = Int(max(0, highest - p))
        let i = slot(p)
        if sequences[i] == p {
            sequences[i] = -1
            emptyTicks = 0
            return .packet(sequenceNumber: UInt16(truncatingIfNeeded: p), payload: payload(i))
        }
        let n = slot(p + 1)
        if sequences[n] == p + 1 {
            emptyTicks = 0
            return .lost(sequenceNumber: UInt16(truncatingIfNeeded: p), next: payload(n))
        }
        if p >= highest {
            counters.underruns += 1
            emptyTicks += 1
            if emptyTicks >= idleAfter {
                // Stopped: the next packet starts afresh, even one numbered below the last
                // (a sender that restarted its sequence).
                position = nil
                highest = .min
                emptyTicks = 0
                return .idle
            }
        }
        return .lost(sequenceNumber: UInt16(truncatingIfNeeded: p), next: nil)
    }

    private func payload(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[i * slotSize..<i * slotSize + lengths[i]])
    }

    private func lowestHeld() -> Int64? {
        var best: Int64?
        for i in 0..<capacity where sequences[i] >= 0 {
            if best == nil || sequences[i] < best! { best = sequences[i] }
        }
        return best
    }

    private func held(from p: Int64) -> Int {
        var n = 0
        for i in 0..<capacity where sequences[i] >= p { n += 1 }
        return n
    }

    private mutating func clearSlots() {
        for i in 0..<capacity { sequences[i] = -1 }
    }

    private static let bias: Int64 = 1 << 20

    @inline(__always)
    private func slot(_ seq: Int64) -> Int { Int(seq % Int64(capacity)) }
}
