/// A reception report block of an SR or RR (RFC 3550 §6.4.1), 24 bytes:
///
///     +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
///     |                 SSRC_1 (SSRC of first source)                 |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     | fraction lost |       cumulative number of packets lost       |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |           extended highest sequence number received           |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                      interarrival jitter                      |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                         last SR (LSR)                         |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                   delay since last SR (DLSR)                  |
///     +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
///
/// Fixed-size, so a plain value serves both to read (decoded in place, no allocation) and
/// to write.
public struct ReceptionReportBlock: Sendable, Equatable {
    /// Size of a block in bytes.
    public static let size = 24
    /// Largest cumulative loss the signed 24-bit field holds.
    public static let maxCumulativeLost: Int32 = 0x7F_FFFF
    /// Smallest (most negative) cumulative loss the signed 24-bit field holds.
    public static let minCumulativeLost: Int32 = -0x80_0000

    /// SSRC of the source this block reports on.
    public var ssrc: UInt32
    /// Fraction of packets lost since the last report, in 1/256 units.
    public var fractionLost: UInt8
    /// Cumulative packets lost (expected minus received; negative with duplicates), signed 24-bit.
    public var cumulativeLost: Int32
    /// Extended highest sequence number received: cycles << 16 | highest sequence number.
    public var extendedHighestSequence: UInt32
    /// Interarrival jitter in RTP timestamp units.
    public var jitter: UInt32
    /// LSR: middle 32 bits of the NTP timestamp of the last SR received, or 0.
    public var lastSenderReport: UInt32
    /// DLSR: delay since that SR, in 1/65536 seconds, or 0.
    public var delaySinceLastSenderReport: UInt32

    /// Creates a block from its fields.
    @inlinable
    public init(
        ssrc: UInt32, fractionLost: UInt8 = 0, cumulativeLost: Int32 = 0,
        extendedHighestSequence: UInt32 = 0, jitter: UInt32 = 0,
        lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0
    ) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequence = extendedHighestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }

    /// Decodes the block in the first 24 bytes of `bytes`.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= ReceptionReportBlock.size else {
            throw WireError(.truncated, "RTCP report block")
        }
        self.init(unchecked: bytes, at: 0)
    }

    /// Decodes the block at `offset`; the caller has checked that 24 bytes are there.
    @inlinable
    init(unchecked bytes: UnsafeRawBufferPointer, at offset: Int) {
        ssrc = bytes.u32(at: offset)
        fractionLost = bytes[offset + 4]
        // Sign-extend the 24-bit two's-complement count.
        cumulativeLost = Int32(bitPattern: bytes.u24(at: offset + 5) << 8) >> 8
        extendedHighestSequence = bytes.u32(at: offset + 8)
        jitter = bytes.u32(at: offset + 12)
        lastSenderReport = bytes.u32(at: offset + 16)
        delaySinceLastSenderReport = bytes.u32(at: offset + 20)
    }

    /// Bytes `marshal` writes: always 24.
    @inlinable public var marshalSize: Int { ReceptionReportBlock.size }

    /// Writes the block; a cumulative loss outside 24 bits is clamped (RFC 3550 §A.3).
    @inlinable
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard out.count >= ReceptionReportBlock.size else {
            throw WireError(.bufferTooSmall, "RTCP report block")
        }
        let lost = min(max(cumulativeLost, ReceptionReportBlock.minCumulativeLost), ReceptionReportBlock.maxCumulativeLost)
        out.setU32(ssrc, at: 0)
        out[4] = fractionLost
        out.setU24(UInt32(bitPattern: lost), at: 5)
        out.setU32(extendedHighestSequence, at: 8)
        out.setU32(jitter, at: 12)
        out.setU32(lastSenderReport, at: 16)
        out.setU32(delaySinceLastSenderReport, at: 20)
        return ReceptionReportBlock.size
    }
}

/// The report blocks of an SR or RR, decoded one at a time from the packet's bytes.
public struct ReceptionReportBlocks: Sequence {
    /// The blocks' bytes, 24 per block.
    public let bytes: UnsafeRawBufferPointer

    /// Creates a list over `bytes`, whose count is a multiple of 24 (already checked).
    @inlinable init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Number of blocks.
    @inlinable public var count: Int { bytes.count / ReceptionReportBlock.size }
    /// Same as `count`.
    @inlinable public var underestimatedCount: Int { count }

    /// The block at `index` (0 ..< count).
    @inlinable public subscript(index: Int) -> ReceptionReportBlock {
        ReceptionReportBlock(unchecked: bytes, at: index * ReceptionReportBlock.size)
    }

    /// Iterates the blocks in order.
    @inlinable public func makeIterator() -> Iterator { Iterator(bytes: bytes, offset: 0) }

    /// Iterator over `ReceptionReportBlocks`.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let bytes: UnsafeRawBufferPointer
        @usableFromInline var offset: Int

        @inlinable init(bytes: UnsafeRawBufferPointer, offset: Int) {
            self.bytes = bytes
            self.offset = offset
        }

        /// The next block, or nil at the end.
        @inlinable public mutating func next() -> ReceptionReportBlock? {
            guard offset + ReceptionReportBlock.size <= bytes.count else { return nil }
            defer { offset += ReceptionReportBlock.size }
            return ReceptionReportBlock(unchecked: bytes, at: offset)
        }
    }
}
