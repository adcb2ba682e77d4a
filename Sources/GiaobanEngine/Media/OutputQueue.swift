public import GiaobanWire

/// Datagrams waiting for the next batched send: preallocated slots, each with a length and
/// a destination. The forwarding path writes an egress packet straight into a slot (no
/// intermediate copy), and the socket loop sends all slots with one `sendmmsg`.
///
/// When the queue is full, `flush` is called to make room, so a fan-out to many subscribers
/// never drops for lack of slots.
public final class OutputQueue {
    /// Bytes per slot: the largest datagram plus SRTP's tag.
    public let slotSize: Int
    /// Number of slots.
    public let capacity: Int
    /// Slot storage: slot i starts at i * slotSize.
    public let storage: UnsafeMutableRawBufferPointer
    /// Length of each queued datagram.
    public let lengths: UnsafeMutableBufferPointer<Int32>
    /// Destination of each queued datagram.
    public let destinations: UnsafeMutableBufferPointer<STUNAddress>
    /// Number of datagrams queued.
    public private(set) var count = 0
    /// How many of them go to a TCP connection (ICE-TCP) rather than over UDP.
    public private(set) var streamed = 0
    /// Sends `count` queued datagrams; installed by the socket loop.
    public var flush: (OutputQueue) -> Void

    /// Creates a queue of `capacity` slots of `slotSize` bytes; `flush` sends them.
    public init(capacity: Int = 512, slotSize: Int = 1600, flush: @escaping (OutputQueue) -> Void = { _ in }) {
        self.capacity = capacity
        self.slotSize = slotSize
        storage = .allocate(byteCount: capacity * slotSize, alignment: 16)
        lengths = .allocate(capacity: capacity)
        lengths.initialize(repeating: 0)
        destinations = .allocate(capacity: capacity)
        destinations.initialize(repeating: STUNAddress(ipv4: 0, port: 0))
        self.flush = flush
    }

    deinit {
        storage.deallocate()
        lengths.deallocate()
        destinations.deallocate()
    }

    /// The next free slot, flushing first if the queue is full. Write into it, then `commit`.
    @inline(__always)
    public func nextSlot() -> UnsafeMutableRawBufferPointer {
        if count == capacity { flushNow() }
        return UnsafeMutableRawBufferPointer(rebasing: storage[(count * slotSize)..<((count + 1) * slotSize)])
    }

    /// Queues the slot returned by `nextSlot` with `length` bytes for `destination`.
    @inline(__always)
    public func commit(length: Int, to destination: STUNAddress) {
        lengths[count] = Int32(length)
        destinations[count] = destination
        count += 1
        if destination.connection != 0 { streamed += 1 }
    }

    /// Copies `bytes` into a slot and queues it.
    public func enqueue(_ bytes: UnsafeRawBufferPointer, to destination: STUNAddress) {
        guard bytes.count <= slotSize, let src = bytes.baseAddress else { return }
        let slot = nextSlot()
        slot.baseAddress!.copyMemory(from: src, byteCount: bytes.count)
        commit(length: bytes.count, to: destination)
    }

    /// Sends what is queued and empties the queue.
    public func flushNow() {
        guard count > 0 else { return }
        flush(self)
        count = 0
        streamed = 0
    }

    /// Empties the queue without sending (tests read the slots first).
    public func removeAll() {
        count = 0
        streamed = 0
    }

    /// The bytes of queued datagram `index` (tests and diagnostics).
    public func datagram(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[(index * slotSize)..<(index * slotSize + Int(lengths[index]))])
    }
}
