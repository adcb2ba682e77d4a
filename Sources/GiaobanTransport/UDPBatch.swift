internal import CUDPBatch
public import GiaobanWire

/// A set of preallocated datagram slots for one `recvmmsg` or `sendmmsg` call: slot i holds
/// a datagram of `lengths[i]` bytes from or to `address(i)`. Nothing is allocated per packet.
///
/// For sending, write into `slot(count)` and `commit(length:to:)`; `UDPSocket.send(_:)`
/// sends the committed slots and empties the batch. For receiving, `UDPSocket.receive`
/// fills `count` slots; read them with `datagram(_:)` and `address(_:)`.
public final class UDPBatch {
    /// Number of slots.
    public let capacity: Int
    /// Bytes per slot.
    public let slotSize: Int
    /// Slot storage: slot i starts at i × `slotSize`.
    public let storage: UnsafeMutableRawBufferPointer
    /// Length of the datagram in each slot; -1 for a received datagram that was truncated.
    public let lengths: UnsafeMutableBufferPointer<Int32>
    let addresses: UnsafeMutableBufferPointer<giaoban_addr>
    /// Slots in use: committed for sending, or filled by the last receive.
    public internal(set) var count = 0

    /// Allocates `capacity` slots of `slotSize` bytes.
    public init(capacity: Int = 64, slotSize: Int = 2048) {
        self.capacity = capacity
        self.slotSize = slotSize
        storage = .allocate(byteCount: capacity * slotSize, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        lengths = .allocate(capacity: capacity)
        lengths.initialize(repeating: 0)
        addresses = .allocate(capacity: capacity)
        addresses.initialize(repeating: giaoban_addr())
    }

    deinit {
        storage.deallocate()
        lengths.deallocate()
        addresses.deallocate()
    }

    /// True when every slot is committed.
    public var isFull: Bool { count == capacity }

    /// The whole of slot `index`, to write a datagram into.
    @inline(__always)
    public func slot(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[(index * slotSize)..<((index + 1) * slotSize)])
    }

    /// The datagram in slot `index` (empty when it was truncated).
    @inline(__always)
    public func datagram(_ index: Int) -> UnsafeMutableRawBufferPointer {
        let length = max(0, Int(lengths[index]))
        return UnsafeMutableRawBufferPointer(rebasing: storage[(index * slotSize)..<(index * slotSize + length)])
    }

    /// Commits the next slot (`slot(count)`) with `length` bytes for `destination`.
    @inline(__always)
    public func commit(length: Int, to destination: STUNAddress) {
        precondition(count < capacity, "UDPBatch is full")
        lengths[count] = Int32(length)
        addresses[count] = destination.socketAddress
        count += 1
    }

    /// The source (received) or destination (committed) address of slot `index`.
    public func address(_ index: Int) -> STUNAddress { STUNAddress(addresses[index]) }

    /// Forgets every slot.
    public func removeAll() { count = 0 }
}
