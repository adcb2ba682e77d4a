/// The last `capacity` RTP packets sent, in plain text, by sequence number: what a sender
/// needs to answer a Generic NACK (RFC 4585 §6.2.1) by sending the packet again.
/// Fixed-size slots, preallocated; `store` copies in, `lookup` copies out.
public struct RTPSendCache: Sendable {
    private var slots: [[UInt8]]
    private var lengths: [Int]
    private var sequenceNumbers: [UInt16]
    private var filled: [Bool]

    /// How many packets are kept.
    public var capacity: Int { slots.count }

    /// Creates a cache of `capacity` slots of `slotSize` bytes each.
    public init(capacity: Int = 512, slotSize: Int = 1500) {
        slots = Array(repeating: [UInt8](repeating: 0, count: slotSize), count: capacity)
        lengths = Array(repeating: 0, count: capacity)
        sequenceNumbers = Array(repeating: 0, count: capacity)
        filled = Array(repeating: false, count: capacity)
    }

    /// Keeps a copy of the plain RTP packet `packet` sent with `sequenceNumber`.
    public mutating func store(_ packet: UnsafeRawBufferPointer, sequenceNumber: UInt16) {
        let i = Int(sequenceNumber) % slots.count
        guard packet.count <= slots[i].count else { return }
        slots[i].withUnsafeMutableBytes { $0.copyMemory(from: packet) }
        lengths[i] = packet.count
        sequenceNumbers[i] = sequenceNumber
        filled[i] = true
    }

    /// Copies the packet sent with `sequenceNumber` into `out` and returns its length, or
    /// nil when it is no longer (or never was) in the cache or `out` is too small.
    public func lookup(_ sequenceNumber: UInt16, into out: UnsafeMutableRawBufferPointer) -> Int? {
        let i = Int(sequenceNumber) % slots.count
        guard filled[i], sequenceNumbers[i] == sequenceNumber, out.count >= lengths[i] else { return nil }
        slots[i].withUnsafeBytes { src in out.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<lengths[i]])) }
        return lengths[i]
    }
}
