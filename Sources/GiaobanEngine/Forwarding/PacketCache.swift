/// A fixed-size cache of recently forwarded RTP packets of one stream, indexed by sequence
/// number, to answer NACKs (RFC 4585 §6.2.1) with retransmissions.
///
/// Storage is one preallocated byte block: `capacity` slots of `slotSize` bytes. `store`
/// copies a packet in, `copy` copies one out into the caller's buffer; neither allocates.
/// A slot is overwritten when the sequence number `capacity` later arrives. Owned by the one
/// worker that forwards the stream; not thread-safe.
public final class PacketCache {
    /// Number of packets kept (a power of two).
    public let capacity: Int
    /// Largest packet stored; longer packets are not cached.
    public let slotSize: Int
    private let storage: UnsafeMutableRawBufferPointer
    private let lengths: UnsafeMutableBufferPointer<Int32>
    private let sequences: UnsafeMutableBufferPointer<UInt16>

    /// Creates a cache of `capacity` slots (rounded up to a power of two) of `slotSize` bytes.
    public init(capacity: Int = 512, slotSize: Int = 1500) {
        var c = 1
        while c < max(1, capacity) { c <<= 1 }
        self.capacity = c
        self.slotSize = slotSize
        storage = .allocate(byteCount: c * slotSize, alignment: 16)
        lengths = .allocate(capacity: c)
        lengths.initialize(repeating: 0)
        sequences = .allocate(capacity: c)
        sequences.initialize(repeating: 0)
    }

    deinit {
        storage.deallocate()
        lengths.deallocate()
        sequences.deallocate()
    }

    /// Stores a copy of `packet` (a plain RTP packet) under `sequence`; returns false when
    /// the packet is larger than a slot.
    @discardableResult
    public func store(_ packet: UnsafeRawBufferPointer, sequence: UInt16) -> Bool {
        guard packet.count <= slotSize, let src = packet.baseAddress else { return false }
        let slot = Int(sequence) & (capacity - 1)
        (storage.baseAddress! + slot * slotSize).copyMemory(from: src, byteCount: packet.count)
        lengths[slot] = Int32(packet.count)
        sequences[slot] = sequence
        return true
    }

    /// Copies the packet stored under `sequence` into `out`; returns its length, or nil when
    /// it is not (or no longer) cached, or `out` is too small.
    public func copy(sequence: UInt16, into out: UnsafeMutableRawBufferPointer) -> Int? {
        let slot = Int(sequence) & (capacity - 1)
        let length = Int(lengths[slot])
        guard length > 0, sequences[slot] == sequence, length <= out.count, let dst = out.baseAddress else { return nil }
        dst.copyMemory(from: storage.baseAddress! + slot * slotSize, byteCount: length)
        return length
    }

    /// True when a packet with `sequence` is cached.
    public func contains(_ sequence: UInt16) -> Bool {
        let slot = Int(sequence) & (capacity - 1)
        return lengths[slot] > 0 && sequences[slot] == sequence
    }
}
