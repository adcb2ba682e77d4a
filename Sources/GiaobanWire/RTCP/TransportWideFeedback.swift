/// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01
/// §3.1): RTPFB (PT 205) with FMT 15.
///
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |V=2|P|  FMT=15 |    PT=205     |           length              |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                     SSRC of packet sender                     |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                      SSRC of media source                     |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |      base sequence number     |      packet status count      |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                 reference time                | fb pkt. count |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |          packet chunk         |         packet chunk          |
///     .                              ...                              .
///     |         packet chunk          |  recv delta   |  recv delta   |
///     .                              ...                              .
///     |           recv delta          |  recv delta   | zero padding  |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Packet chunks (§3.1.2–3.1.4) give one status per sequence number from the base on:
/// a run-length chunk `0|SS|run length (13)` repeats one two-bit symbol; a status vector
/// chunk `1|0|14 one-bit symbols` or `1|1|7 two-bit symbols` lists them. Symbols: 0 not
/// received, 1 received with a one-byte delta (0…63.75 ms), 2 received with a two-byte signed
/// delta, 3 reserved. Receive deltas (§3.1.5) follow in the order of the received packets, in
/// 250 µs units, the first relative to the reference time (signed 24 bits, 64 ms units).
///
/// A view over the caller's bytes, valid while that buffer lives; `init` walks every chunk
/// once and checks that all deltas are present, so iteration afterwards cannot fail.
public struct TransportWideFeedback: Sequence {
    /// FMT of transport-wide feedback.
    public static let format: UInt8 = 15
    /// Bytes before the first packet chunk.
    public static let fixedSize = 20
    /// Unit of a receive delta, in microseconds.
    public static let deltaUnitMicroseconds: Int64 = 250
    /// Unit of the reference time, in microseconds.
    public static let referenceTimeUnitMicroseconds: Int64 = 64_000

    /// The status of one sequence number.
    public enum Status: UInt8, Sendable {
        /// Not received (symbol 00).
        case notReceived = 0
        /// Received, one-byte delta (symbol 01).
        case smallDelta = 1
        /// Received, two-byte signed delta (symbol 10).
        case largeDelta = 2
    }

    /// One reported packet.
    public struct PacketResult: Sendable, Equatable {
        /// Transport-wide sequence number.
        public var sequenceNumber: UInt16
        /// Received or not, and the width of its delta.
        public var status: Status
        /// Receive delta in microseconds from the previous received packet (the first from
        /// the reference time); nil when not received.
        public var deltaMicroseconds: Int64?
        /// Arrival time in microseconds, reference time plus the deltas so far; nil when not received.
        public var arrivalMicroseconds: Int64?

        /// Creates a result.
        @inlinable
        public init(sequenceNumber: UInt16, status: Status, deltaMicroseconds: Int64?, arrivalMicroseconds: Int64?) {
            self.sequenceNumber = sequenceNumber
            self.status = status
            self.deltaMicroseconds = deltaMicroseconds
            self.arrivalMicroseconds = arrivalMicroseconds
        }
    }

    /// The packet, header and padding included.
    public let bytes: UnsafeRawBufferPointer
    /// Offset of the first receive delta (just after the last packet chunk).
    public let deltasOffset: Int

    /// Parses one transport-wide feedback packet spanning exactly `bytes`. Throws `.badValue`
    /// for a zero status count or a reserved symbol, `.badLength` when chunks or deltas
    /// overrun the packet or more than three bytes follow the deltas.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let (packet, fciLength) = try RTCPFeedback.expect(
            bytes, .transportFeedback, format: TransportWideFeedback.format, "RTCP TWCC")
        guard fciLength >= 8 else { throw WireError(.badLength, "RTCP TWCC") }
        let end = packet.contentEnd
        let statusCount = Int(bytes.u16(at: 14))
        guard statusCount > 0 else { throw WireError(.badValue, "RTCP TWCC") }
        var offset = TransportWideFeedback.fixedSize
        var covered = 0
        var deltaBytes = 0
        while covered < statusCount {
            guard offset + 2 <= end else { throw WireError(.badLength, "RTCP TWCC") }
            let chunk = bytes.u16(at: offset)
            offset += 2
            let remaining = statusCount - covered
            if chunk & 0x8000 == 0 {
                let symbol = Int((chunk >> 13) & 3)
                guard symbol != 3 else { throw WireError(.badValue, "RTCP TWCC") }
                let run = Swift.min(Int(chunk & 0x1FFF), remaining)
                deltaBytes += run * symbol
                covered += run
            } else if chunk & 0x4000 == 0 {
                let n = Swift.min(14, remaining)
                // The first n of the 14 one-bit symbols count; each set bit is a one-byte delta.
                deltaBytes += ((chunk & 0x3FFF) >> (14 - n)).nonzeroBitCount
                covered += n
            } else {
                let n = Swift.min(7, remaining)
                for i in 0..<n {
                    let symbol = Int((chunk >> (12 - 2 * i)) & 3)
                    guard symbol != 3 else { throw WireError(.badValue, "RTCP TWCC") }
                    deltaBytes += symbol
                }
                covered += n
            }
        }
        guard offset + deltaBytes <= end, end - (offset + deltaBytes) < 4 else {
            throw WireError(.badLength, "RTCP TWCC")
        }
        self.bytes = bytes
        self.deltasOffset = offset
    }

    /// SSRC of the packet sender.
    @inlinable public var senderSSRC: UInt32 { bytes.u32(at: 4) }
    /// SSRC of the media source (libwebrtc sets the first media SSRC; not meaningful here).
    @inlinable public var mediaSSRC: UInt32 { bytes.u32(at: 8) }
    /// Transport-wide sequence number of the first packet reported.
    @inlinable public var baseSequenceNumber: UInt16 { bytes.u16(at: 12) }
    /// Number of sequence numbers reported, from the base on.
    @inlinable public var packetStatusCount: Int { Int(bytes.u16(at: 14)) }
    /// Reference time in 64 ms units, a signed 24-bit value.
    @inlinable public var referenceTime: Int32 { Int32(bitPattern: bytes.u24(at: 16) << 8) >> 8 }
    /// Reference time in microseconds.
    @inlinable public var referenceTimeMicroseconds: Int64 {
        Int64(referenceTime) * TransportWideFeedback.referenceTimeUnitMicroseconds
    }
    /// Feedback packet count, incremented per feedback packet sent (to detect lost feedback).
    @inlinable public var feedbackPacketCount: UInt8 { bytes[19] }
    /// Same as `packetStatusCount`.
    @inlinable public var underestimatedCount: Int { packetStatusCount }

    /// Iterates every reported sequence number in order; does not allocate.
    @inlinable public func makeIterator() -> Iterator { Iterator(self) }

    /// Iterator over the results of a validated feedback packet.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let bytes: UnsafeRawBufferPointer
        @usableFromInline let chunksEnd: Int
        @usableFromInline var chunkOffset: Int
        @usableFromInline var deltaOffset: Int
        @usableFromInline var remaining: Int
        @usableFromInline var sequenceNumber: UInt16
        @usableFromInline var time: Int64
        @usableFromInline var chunk: UInt16 = 0
        @usableFromInline var chunkLeft = 0
        @usableFromInline var chunkIndex = 0

        @inlinable init(_ feedback: TransportWideFeedback) {
            bytes = feedback.bytes
            chunksEnd = feedback.deltasOffset
            chunkOffset = TransportWideFeedback.fixedSize
            deltaOffset = feedback.deltasOffset
            remaining = feedback.packetStatusCount
            sequenceNumber = feedback.baseSequenceNumber
            time = feedback.referenceTimeMicroseconds
        }

        /// The next result, or nil after `packetStatusCount` results.
        @inlinable
        public mutating func next() -> PacketResult? {
            guard remaining > 0 else { return nil }
            while chunkLeft == 0 {
                guard chunkOffset + 2 <= chunksEnd else { return nil }
                chunk = bytes.u16(at: chunkOffset)
                chunkOffset += 2
                chunkIndex = 0
                chunkLeft = chunk & 0x8000 == 0 ? Int(chunk & 0x1FFF) : (chunk & 0x4000 == 0 ? 14 : 7)
            }
            let symbol: UInt16
            if chunk & 0x8000 == 0 {
                symbol = (chunk >> 13) & 3
            } else if chunk & 0x4000 == 0 {
                symbol = (chunk >> (13 - chunkIndex)) & 1
            } else {
                symbol = (chunk >> (12 - 2 * chunkIndex)) & 3
            }
            chunkIndex += 1
            chunkLeft -= 1
            remaining -= 1
            let seq = sequenceNumber
            sequenceNumber &+= 1
            let ticks: Int64
            let status: Status
            switch symbol {
            case 1:
                guard deltaOffset + 1 <= bytes.count else { return nil }
                ticks = Int64(bytes[deltaOffset])
                deltaOffset += 1
                status = .smallDelta
            case 2:
                guard deltaOffset + 2 <= bytes.count else { return nil }
                ticks = Int64(Int16(bitPattern: bytes.u16(at: deltaOffset)))
                deltaOffset += 2
                status = .largeDelta
            default:
                return PacketResult(sequenceNumber: seq, status: .notReceived, deltaMicroseconds: nil, arrivalMicroseconds: nil)
            }
            let delta = ticks * TransportWideFeedback.deltaUnitMicroseconds
            time += delta
            return PacketResult(sequenceNumber: seq, status: status, deltaMicroseconds: delta, arrivalMicroseconds: time)
        }
    }
}
