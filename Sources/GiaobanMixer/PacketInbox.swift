public import GiaobanWire
import Synchronization

/// One packet copied in by `PacketInbox.push`: its RTP fields and where its payload lies in
/// the batch's byte arena.
public struct InboxPacket: Sendable {
    /// The stream it came from.
    public var source: String
    /// Its RTP sequence number.
    public var sequence: UInt16
    /// Its RTP timestamp.
    public var timestamp: UInt32
    /// Its RTP marker bit.
    public var marker: Bool
    /// Its RFC 6464 audio level, if any.
    public var level: AudioLevelExtension?
    /// Where its payload starts in the batch's bytes.
    public var offset: Int
    /// Its payload's length.
    public var length: Int
}

/// What the consuming thread takes out of the inbox in one swap.
public struct InboxBatch: Sendable {
    /// The packets, in arrival order.
    public var packets: [InboxPacket] = []
    /// Their payloads, back to back.
    public var bytes: [UInt8] = []
    /// Packets refused since the last swap because the batch was full.
    public var dropped = 0

    /// An empty batch with room reserved.
    public init(packetCapacity: Int, byteCapacity: Int) {
        packets.reserveCapacity(packetCapacity)
        bytes.reserveCapacity(byteCapacity)
    }

    /// The payload of `packet` (valid while the batch is not mutated).
    public func withPayload<R>(_ packet: InboxPacket, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeBytes { all in body(UnsafeRawBufferPointer(rebasing: all[packet.offset..<packet.offset + packet.length])) }
    }

    /// Empties the batch, keeping its capacity.
    public mutating func clear() {
        packets.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
        dropped = 0
    }
}

/// The hand-over between the media thread, which receives packets, and the mixer or
/// compositor thread, which decodes them: `push` copies the payload into a lock-protected
/// batch (no decoding, no allocation once the batch has grown to its working size), and
/// the consumer swaps the filled batch for its empty one once per tick.
///
/// A batch holds at most `maxBytes` of payload; beyond that packets are refused and
/// counted, so a stalled consumer cannot make the media thread's memory grow.
public final class PacketInbox: Sendable {
    private let batch: Mutex<InboxBatch>
    /// The most payload bytes one batch holds.
    public let maxBytes: Int

    /// An inbox of at most `maxBytes` payload per batch.
    public init(maxBytes: Int, packetCapacity: Int) {
        self.maxBytes = maxBytes
        batch = Mutex(InboxBatch(packetCapacity: packetCapacity, byteCapacity: maxBytes))
    }

    /// Copies one packet in; returns false (and counts it) when the batch is full.
    @discardableResult
    public func push(source: String, sequence: UInt16, timestamp: UInt32, marker: Bool, level: AudioLevelExtension?,
              payload: UnsafeRawBufferPointer) -> Bool {
        batch.withLock { b in
            guard b.bytes.count + payload.count <= maxBytes else {
                b.dropped += 1
                return false
            }
            b.packets.append(InboxPacket(source: source, sequence: sequence, timestamp: timestamp, marker: marker,
                                         level: level, offset: b.bytes.count, length: payload.count))
            b.bytes.append(contentsOf: payload)
            return true
        }
    }

    /// Exchanges the filled batch for `spare` (which the caller cleared after its last use).
    public func swap(_ spare: inout InboxBatch) {
        batch.withLock { b in Swift.swap(&b, &spare) }
    }
}
