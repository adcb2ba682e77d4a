/// BYE: goodbye (RFC 3550 §6.6), PT 203, source count SC in the header:
///
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |V=2|P|    SC   |   PT=BYE=203  |             length            |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                           SSRC/CSRC                           |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     :                              ...                              :
///     +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
///     |     length    |               reason for leaving            ... (opt)
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// The optional reason is padded with nulls to a 32-bit boundary.
/// A view over the caller's bytes, valid while that buffer lives.
public struct Goodbye {
    /// The packet, header and padding included.
    public let bytes: UnsafeRawBufferPointer
    /// Offset of the reason's length octet, or nil without a reason.
    public let reasonOffset: Int?

    /// Parses one BYE packet spanning exactly `bytes`; checks that SC sources and the reason fit.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let packet = try RTCPPacket.expect(bytes, .goodbye, "RTCP BYE")
        let sourcesEnd = RTCPHeader.size + Int(packet.header.count) * 4
        guard sourcesEnd <= packet.contentEnd else { throw WireError(.badLength, "RTCP BYE") }
        if sourcesEnd < packet.contentEnd {
            guard sourcesEnd + 1 + Int(bytes[sourcesEnd]) <= packet.contentEnd else {
                throw WireError(.badLength, "RTCP BYE")
            }
            reasonOffset = sourcesEnd
        } else {
            reasonOffset = nil
        }
        self.bytes = bytes
    }

    /// The SSRC/CSRC identifiers that are leaving.
    @inlinable public var sources: SSRCList { SSRCList(bytes.slice(RTCPHeader.size, Int(bytes[0] & 0x1F) * 4)) }

    /// The reason for leaving (UTF-8 text), if present.
    @inlinable public var reason: UnsafeRawBufferPointer? {
        guard let offset = reasonOffset else { return nil }
        return bytes.slice(offset + 1, Int(bytes[offset]))
    }
}

/// Writes a BYE packet.
public struct GoodbyeBuilder: RTCPPacketBuilder, Equatable {
    /// The identifiers leaving, at most 31.
    public var sources: [UInt32]
    /// The reason for leaving, at most 255 octets, or nil.
    public var reason: [UInt8]?

    /// Creates a BYE packet.
    public init(sources: [UInt32], reason: [UInt8]? = nil) {
        self.sources = sources
        self.reason = reason
    }

    /// Creates a BYE packet with a text reason.
    public init(sources: [UInt32], reason text: String) {
        self.init(sources: sources, reason: Array(text.utf8))
    }

    /// Copies the sources and reason of a parsed BYE packet.
    public init(_ view: Goodbye) {
        self.init(sources: Array(view.sources), reason: view.reason.map { Array($0) })
    }

    /// Header, four bytes per source, then the reason padded to 32 bits.
    public var marshalSize: Int {
        var size = RTCPHeader.size + sources.count * 4
        if let reason { size += (1 + reason.count + 3) & ~3 }
        return size
    }

    /// Writes the packet; throws `.badValue` for more than 31 sources or a reason over 255 octets.
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let size = marshalSize
        try RTCPHeader.write(into: out, count: sources.count, type: .goodbye, packetSize: size, "RTCP BYE")
        var offset = RTCPHeader.size
        for source in sources {
            out.setU32(source, at: offset)
            offset += 4
        }
        if let reason {
            guard reason.count <= 255 else { throw WireError(.badValue, "RTCP BYE") }
            out[offset] = UInt8(reason.count)
            for (i, byte) in reason.enumerated() { out[offset + 1 + i] = byte }
            offset += 1 + reason.count
            while offset < size {
                out[offset] = 0
                offset += 1
            }
        }
        return size
    }
}
