/// PLI: picture loss indication (RFC 4585 §6.3.1), PSFB (PT 206) with FMT 1 and no FCI:
/// the header and the two SSRCs, twelve bytes, length field 2.
///
/// Fixed-size, so a plain value serves both to read and to write.
public struct PictureLossIndication: RTCPPacketBuilder, Equatable {
    /// FMT of a PLI.
    public static let format: UInt8 = 1
    /// Size of a PLI in bytes.
    public static let size = 12

    /// SSRC of the packet sender.
    public var senderSSRC: UInt32
    /// SSRC of the media source that should send a keyframe.
    public var mediaSSRC: UInt32

    /// Creates a PLI.
    @inlinable
    public init(senderSSRC: UInt32, mediaSSRC: UInt32) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
    }

    /// Parses one PLI packet spanning exactly `bytes`; an FCI is refused (§6.3.1: length MUST be 2).
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let (_, fciLength) = try RTCPFeedback.expect(
            bytes, .payloadFeedback, format: PictureLossIndication.format, "RTCP PLI")
        guard fciLength == 0 else { throw WireError(.badLength, "RTCP PLI") }
        self.init(senderSSRC: bytes.u32(at: 4), mediaSSRC: bytes.u32(at: 8))
    }

    /// Always 12.
    @inlinable public var marshalSize: Int { PictureLossIndication.size }

    /// Writes the PLI.
    @inlinable
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        try RTCPFeedback.writeHeader(
            into: out, type: .payloadFeedback, format: PictureLossIndication.format,
            packetSize: PictureLossIndication.size, senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, "RTCP PLI")
        return PictureLossIndication.size
    }
}
