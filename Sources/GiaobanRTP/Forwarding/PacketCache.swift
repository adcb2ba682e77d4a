/// A cache of recently forwarded RTP packets of one stream, indexed by sequence number, to
/// answer NACKs (RFC 4585 §6.2.1) with retransmissions.
///
/// Packets are laid end to end in one preallocated byte ring of `byteCapacity` bytes, so what
/// is kept is bounded by bytes — about the last second or more of the stream, whatever its
/// bitrate — rather than by a count of full-size slots (a 400 kbit/s stream kept 1,024 slots of
/// 1,500 bytes, 1.5 MB, for 30 s of history nobody asks for). An index of `capacity` entries
/// (a power of two) finds a packet by sequence number. A packet is forgotten when the ring
/// comes round to its bytes or when the sequence number `capacity` later takes its index
/// entry. `store` and `copy` never allocate. Owned by the one worker that forwards the
/// stream; not thread-safe.
public final class PacketCache {
    /// Index entries: at most this many packets are kept (a power of two).
    public let capacity: Int
    /// Largest packet stored; longer packets are not cached.
    public let slotSize: Int
    /// Bytes of packet data kept.
    public let byteCapacity: Int
    private let storage: UnsafeMutableRawBufferPointer
    private let offsets: UnsafeMutableBufferPointer<Int32>
    private let lengths: UnsafeMutableBufferPointer<Int32>
    private let sequences: UnsafeMutableBufferPointer<UInt16>
    /// Per index entry: the serial of the packet stored there (see `serial(of:)`).
    private let serials: UnsafeMutableBufferPointer<UInt64>
    /// The serial the next stored packet gets; starts at a random value so that serials of
    /// different caches (a subscriber's layers) do not name the same packet.
    private var nextSerial: UInt64
    /// Packets in the ring in the order written (index entry, offset, length), oldest at `oldest`.
    private let written: UnsafeMutableBufferPointer<(entry: Int32, offset: Int32, length: Int32)>
    private var oldest = 0
    private var count = 0
    /// Where the next packet goes.
    private var head = 0

    /// Creates a cache of `capacity` index entries (rounded up to a power of two) for packets
    /// of at most `slotSize` bytes, keeping `byteCapacity` bytes of them (at least one packet;
    /// by default room for `capacity` full packets).
    public init(capacity: Int = 512, slotSize: Int = 1500, byteCapacity: Int? = nil) {
        var c = 1
        while c < max(1, capacity) { c <<= 1 }
        self.capacity = c
        self.slotSize = slotSize
        let bytes = max(slotSize, byteCapacity ?? c * slotSize)
        self.byteCapacity = bytes
        storage = .allocate(byteCount: bytes, alignment: 16)
        offsets = .allocate(capacity: c)
        offsets.initialize(repeating: 0)
        lengths = .allocate(capacity: c)
        lengths.initialize(repeating: 0)
        sequences = .allocate(capacity: c)
        sequences.initialize(repeating: 0)
        serials = .allocate(capacity: c)
        serials.initialize(repeating: 0)
        var rng = SystemRandomNumberGenerator()
        nextSerial = rng.next()
        // Twice the index: tiny packets beyond that only make the oldest go a little early.
        written = .allocate(capacity: 2 * c)
    }

    deinit {
        storage.deallocate()
        offsets.deallocate()
        lengths.deallocate()
        sequences.deallocate()
        serials.deallocate()
        written.deallocate()
    }

    /// Stores a copy of `packet` (a plain RTP packet) under `sequence`; returns false when
    /// the packet is larger than `slotSize`.
    @discardableResult
    public func store(_ packet: UnsafeRawBufferPointer, sequence: UInt16) -> Bool {
        guard packet.count <= slotSize, let src = packet.baseAddress else { return false }
        if head + packet.count > byteCapacity {
            // Wrap: what lies between here and the end is the oldest; it goes first.
            while count > 0 && Int(written[oldest].offset) >= head { forgetOldest() }
            head = 0
        }
        let end = head + packet.count
        while count > 0 {
            let record = written[oldest]
            let start = Int(record.offset)
            guard start < end && start + Int(record.length) > head else { break }
            forgetOldest()
        }
        if count == written.count { forgetOldest() }
        let entry = Int(sequence) & (capacity - 1)
        (storage.baseAddress! + head).copyMemory(from: src, byteCount: packet.count)
        offsets[entry] = Int32(head)
        lengths[entry] = Int32(packet.count)
        sequences[entry] = sequence
        serials[entry] = nextSerial
        nextSerial &+= 1
        written[(oldest + count) % written.count] = (Int32(entry), Int32(head), Int32(packet.count))
        count += 1
        head = end
        return true
    }

    /// Drops the oldest packet written; its index entry is cleared if it still names it.
    private func forgetOldest() {
        let record = written[oldest]
        let entry = Int(record.entry)
        if offsets[entry] == record.offset && lengths[entry] == record.length { lengths[entry] = 0 }
        oldest = (oldest + 1) % written.count
        count -= 1
    }

    /// Copies the packet stored under `sequence` into `out`; returns its length, or nil when
    /// it is not (or no longer) cached, or `out` is too small.
    public func copy(sequence: UInt16, into out: UnsafeMutableRawBufferPointer) -> Int? {
        let entry = Int(sequence) & (capacity - 1)
        let length = Int(lengths[entry])
        guard length > 0, sequences[entry] == sequence, length <= out.count, let dst = out.baseAddress else { return nil }
        dst.copyMemory(from: storage.baseAddress! + Int(offsets[entry]), byteCount: length)
        return length
    }

    /// A number naming the packet cached under `sequence` (nil when none is): each stored
    /// packet gets the next one, so a later packet under the same sequence number has
    /// another. What retransmission limits are kept by.
    public func serial(of sequence: UInt16) -> UInt64? {
        let entry = Int(sequence) & (capacity - 1)
        guard lengths[entry] > 0, sequences[entry] == sequence else { return nil }
        return serials[entry]
    }

    /// True when a packet with `sequence` is cached.
    public func contains(_ sequence: UInt16) -> Bool {
        let entry = Int(sequence) & (capacity - 1)
        return lengths[entry] > 0 && sequences[entry] == sequence
    }
}
