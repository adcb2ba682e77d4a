/// APP: application-defined packet (RFC 3550 §6.7), PT 204, subtype in the count field:
///
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |V=2|P| subtype |   PT=APP=204  |             length            |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                           SSRC/CSRC                           |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                          name (ASCII)                         |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                   application-dependent data                ...
///
/// Passed through, not interpreted. A view over the caller's bytes, valid while that buffer lives.
public struct ApplicationDefined {
    /// Bytes before the data: header, SSRC and name.
    public static let fixedSize = 12
    /// The packet, header and padding included.
    public let bytes: UnsafeRawBufferPointer
    /// Offset just past the content (before padding).
    public let contentEnd: Int

    /// Parses one APP packet spanning exactly `bytes`.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let packet = try RTCPPacket.expect(bytes, .applicationDefined, "RTCP APP")
        guard packet.contentEnd >= ApplicationDefined.fixedSize else { throw WireError(.badLength, "RTCP APP") }
        self.bytes = bytes
        self.contentEnd = packet.contentEnd
    }

    /// The five-bit subtype.
    @inlinable public var subtype: UInt8 { bytes[0] & 0x1F }
    /// SSRC/CSRC of the sender.
    @inlinable public var ssrc: UInt32 { bytes.u32(at: 4) }
    /// The four ASCII characters of the name, as a big-endian word ("abcd" is 0x61626364).
    @inlinable public var name: UInt32 { bytes.u32(at: 8) }
    /// The application-dependent data.
    @inlinable public var data: UnsafeRawBufferPointer {
        bytes.slice(ApplicationDefined.fixedSize, contentEnd - ApplicationDefined.fixedSize)
    }
}

/// Writes an APP packet.
public struct ApplicationDefinedBuilder: RTCPPacketBuilder, Equatable {
    /// The five-bit subtype.
    public var subtype: UInt8
    /// SSRC/CSRC of the sender.
    public var ssrc: UInt32
    /// The four ASCII characters of the name, as a big-endian word.
    public var name: UInt32
    /// The data; its length must be a multiple of four.
    public var data: [UInt8]

    /// Creates an APP packet.
    public init(subtype: UInt8, ssrc: UInt32, name: UInt32, data: [UInt8]) {
        self.subtype = subtype
        self.ssrc = ssrc
        self.name = name
        self.data = data
    }

    /// Copies the fields of a parsed APP packet.
    public init(_ view: ApplicationDefined) {
        self.init(subtype: view.subtype, ssrc: view.ssrc, name: view.name, data: Array(view.data))
    }

    /// 12 bytes plus the data.
    public var marshalSize: Int { ApplicationDefined.fixedSize + data.count }

    /// Writes the packet; throws `.badLength` if the data is not a multiple of four bytes,
    /// `.badValue` if the subtype does not fit five bits.
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let size = marshalSize
        try RTCPHeader.write(into: out, count: Int(subtype), type: .applicationDefined, packetSize: size, "RTCP APP")
        out.setU32(ssrc, at: 4)
        out.setU32(name, at: 8)
        for (i, byte) in data.enumerated() { out[ApplicationDefined.fixedSize + i] = byte }
        return size
    }
}
