/// The common packet format of RTCP feedback messages (RFC 4585 §6.1), PT 205 (RTPFB) or
/// 206 (PSFB), feedback message type FMT in the count field:
///
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |V=2|P|   FMT   |       PT      |          length               |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                  SSRC of packet sender                        |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                  SSRC of media source                         |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     :            Feedback Control Information (FCI)                 :
///
/// A view over the caller's bytes, valid while that buffer lives. Use it to route a feedback
/// packet by `packetType` and `format`, then parse with the specific view.
public struct RTCPFeedback {
    /// Bytes before the FCI: header and the two SSRCs.
    public static let fixedSize = 12
    /// The packet, header and padding included.
    public let bytes: UnsafeRawBufferPointer
    /// Offset just past the content (before padding).
    public let contentEnd: Int

    /// Parses one RTPFB or PSFB packet spanning exactly `bytes`.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let packet = try RTCPPacket(bytes)
        guard packet.packetType == .transportFeedback || packet.packetType == .payloadFeedback else {
            throw WireError(.unsupportedType, "RTCP feedback")
        }
        guard packet.contentEnd >= RTCPFeedback.fixedSize else { throw WireError(.badLength, "RTCP feedback") }
        self.bytes = bytes
        self.contentEnd = packet.contentEnd
    }

    /// RTPFB or PSFB.
    @inlinable public var packetType: RTCPPacketType { RTCPPacketType(rawValue: bytes[1]) }
    /// FMT, the feedback message type.
    @inlinable public var format: UInt8 { bytes[0] & 0x1F }
    /// SSRC of the packet sender.
    @inlinable public var senderSSRC: UInt32 { bytes.u32(at: 4) }
    /// SSRC of the media source the feedback is about.
    @inlinable public var mediaSSRC: UInt32 { bytes.u32(at: 8) }
    /// The feedback control information.
    @inlinable public var fci: UnsafeRawBufferPointer {
        bytes.slice(RTCPFeedback.fixedSize, contentEnd - RTCPFeedback.fixedSize)
    }

    /// Parses exactly one feedback packet of `type` and `format`; returns it with its FCI length.
    @inlinable
    static func expect(
        _ bytes: UnsafeRawBufferPointer, _ type: RTCPPacketType, format: UInt8, _ context: StaticString
    ) throws(WireError) -> (packet: RTCPPacket, fciLength: Int) {
        let packet = try RTCPPacket.expect(bytes, type, context)
        guard packet.header.count == format else { throw WireError(.unsupportedType, context) }
        guard packet.contentEnd >= RTCPFeedback.fixedSize else { throw WireError(.badLength, context) }
        return (packet, packet.contentEnd - RTCPFeedback.fixedSize)
    }

    /// Writes the header and both SSRCs of an unpadded feedback packet of `packetSize` bytes.
    @inlinable
    static func writeHeader(
        into out: UnsafeMutableRawBufferPointer, type: RTCPPacketType, format: UInt8,
        packetSize: Int, senderSSRC: UInt32, mediaSSRC: UInt32, _ context: StaticString
    ) throws(WireError) {
        try RTCPHeader.write(into: out, count: Int(format), type: type, packetSize: packetSize, context)
        out.setU32(senderSSRC, at: 4)
        out.setU32(mediaSSRC, at: 8)
    }
}
