public import GiaobanWire
import Synchronization

/// One packet copied in by `PacketInbox.push`: its RTP fields and where its payload lies in
/// the batch's byte arena.
struct InboxPacket: Sendable {
    var source: String
    var sequence: UInt16
    var timestamp: UInt32
    var marker: Bool
    var level: AudioLevelExtension?
    var offset: Int
    var length: Int
}

/// What the consuming thread takes out of the inbox in one swap.
struct InboxBatch: Sendable {
    var packets: [InboxPacket] = []
    var bytes: [UInt8] = []
    /// Packets refused since the last swap because the batch was full.
    var dropped = 0

    init(packetCapacity: Int, byteCapacity: Int) {
        packets.reserveCapacity(packetCapacity)
        bytes.reserveCapacity(byteCapacity)
    }

    /// The payload of `packet` (valid while the batch is not mutated).
    func withPayload<R>(_ packet: InboxPacket, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeBytes { all in body(UnsafeRawBufferPointer(rebasing: all[packet.offset..<packet.offset + packet.length])) }
    }

    mutating func clear() {
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
final class PacketInbox: Sendable {
    private let batch: Mutex<InboxBatch>
    /// The most payload bytes one batch holds.
    let maxBytes: Int

    init(maxBytes: Int, packetCapacity: Int) {
        self.maxBytes = maxBytes
        batch = Mutex(InboxBatch(packetCapacity: packetCapacity, byteCapacity: maxBytes))
    }

    /// Copies one packet in; returns false (and counts it) when the batch is full.
    @discardableResult
    func push(source: String, sequence: UInt16, timestamp: UInt32, marker: Bool, level: AudioLevelExtension?,
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
    func swap(_ spare: inout InboxBatch) {
        batch.withLock { b in Swift.swap(&b, &spare) }
    }
}
