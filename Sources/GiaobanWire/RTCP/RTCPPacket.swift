/// One RTCP packet (RFC 3550 §6.4.1): its header and a view of its bytes, padding included.
///
/// A view: `bytes` points into the caller's buffer and is valid only while that buffer lives.
/// Iterating an `RTCPCompound` yields these; pass `bytes` to the view of the packet's type
/// (`SenderReport(packet.bytes)`, …). Unknown types are yielded too, so they can be skipped.
public struct RTCPPacket {
    /// The packet's header.
    public let header: RTCPHeader
    /// The whole packet: header, content and padding.
    public let bytes: UnsafeRawBufferPointer
    /// Offset just past the content, i.e. where padding (if any) begins.
    public let contentEnd: Int

    /// Parses a buffer that holds exactly one RTCP packet and checks its padding.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let header = try RTCPHeader(bytes)
        guard header.packetSize <= bytes.count else { throw WireError(.truncated, "RTCP packet") }
        guard header.packetSize == bytes.count else { throw WireError(.badLength, "RTCP packet") }
        let end = try RTCPPacket.contentEnd(of: bytes, header)
        self.init(header: header, bytes: bytes, contentEnd: end)
    }

    /// Creates a packet from parts already validated.
    @inlinable
    init(header: RTCPHeader, bytes: UnsafeRawBufferPointer, contentEnd: Int) {
        self.header = header
        self.bytes = bytes
        self.contentEnd = contentEnd
    }

    /// The packet type.
    @inlinable public var packetType: RTCPPacketType { header.packetType }

    /// The bytes after the four-byte header and before any padding.
    @inlinable public var payload: UnsafeRawBufferPointer {
        bytes.slice(RTCPHeader.size, contentEnd - RTCPHeader.size)
    }

    /// Where the content of the exactly-sized packet `bytes` ends: before the padding that the
    /// last byte counts when P is set (RFC 3550 §6.4.1); the count must be 1…(size - 4).
    @inlinable
    static func contentEnd(of bytes: UnsafeRawBufferPointer, _ header: RTCPHeader) throws(WireError) -> Int {
        guard header.padding else { return bytes.count }
        let pad = Int(bytes[bytes.count - 1])
        guard pad >= 1, pad <= bytes.count - RTCPHeader.size else { throw WireError(.badPadding, "RTCP packet") }
        return bytes.count - pad
    }

    /// Parses exactly one packet and checks its type; used by the typed views.
    @inlinable
    static func expect(
        _ bytes: UnsafeRawBufferPointer, _ type: RTCPPacketType, _ context: StaticString
    ) throws(WireError) -> RTCPPacket {
        let header = try RTCPHeader(bytes)
        guard header.packetType == type else { throw WireError(.unsupportedType, context) }
        guard header.packetSize <= bytes.count else { throw WireError(.truncated, context) }
        guard header.packetSize == bytes.count else { throw WireError(.badLength, context) }
        let end = try RTCPPacket.contentEnd(of: bytes, header)
        return RTCPPacket(header: header, bytes: bytes, contentEnd: end)
    }
}

/// A value that writes one RTCP packet into a caller's buffer, size known first.
public protocol RTCPPacketBuilder: Sendable {
    /// Bytes `marshal` will write (a multiple of four).
    var marshalSize: Int { get }
    /// Writes the packet at the start of `out`; throws `.bufferTooSmall` if `out` is shorter
    /// than `marshalSize`. Returns the bytes written.
    func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int
}

/// A list of 32-bit SSRC/CSRC identifiers read in place (BYE, REMB).
public struct SSRCList: Sequence {
    /// The identifiers' bytes, four per entry.
    public let bytes: UnsafeRawBufferPointer

    /// Creates a list over `bytes`, whose count must be a multiple of four (already checked).
    @inlinable init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Number of identifiers.
    @inlinable public var count: Int { bytes.count / 4 }
    /// Same as `count`.
    @inlinable public var underestimatedCount: Int { count }

    /// The identifier at `index` (0 ..< count).
    @inlinable public subscript(index: Int) -> UInt32 { bytes.u32(at: index * 4) }

    /// Iterates the identifiers in order.
    @inlinable public func makeIterator() -> Iterator { Iterator(bytes: bytes, offset: 0) }

    /// Iterator over an `SSRCList`.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let bytes: UnsafeRawBufferPointer
        @usableFromInline var offset: Int

        @inlinable init(bytes: UnsafeRawBufferPointer, offset: Int) {
            self.bytes = bytes
            self.offset = offset
        }

        /// The next identifier, or nil at the end.
        @inlinable public mutating func next() -> UInt32? {
            guard offset + 4 <= bytes.count else { return nil }
            defer { offset += 4 }
            return bytes.u32(at: offset)
        }
    }
}
