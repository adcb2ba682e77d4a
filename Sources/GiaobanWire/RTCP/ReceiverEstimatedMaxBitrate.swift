/// REMB: receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb-03 §2.2), an
/// application-layer PSFB (PT 206, FMT 15) whose media-source SSRC is zero:
///
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |  Unique identifier 'R' 'E' 'M' 'B'                            |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |  Num SSRC     | BR Exp    |  BR Mantissa                      |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |   SSRC feedback                                               |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |  ...                                                          |
///
/// The bitrate is mantissa × 2^exp bits per second. A view over the caller's bytes, valid
/// while that buffer lives.
public struct ReceiverEstimatedMaxBitrate {
    /// FMT of application-layer feedback (RFC 4585 §6.4), which REMB uses.
    public static let format: UInt8 = 15
    /// The unique identifier 'R' 'E' 'M' 'B' as a big-endian word.
    public static let identifier: UInt32 = 0x5245_4D42
    /// Largest 18-bit mantissa.
    public static let maxMantissa: UInt32 = 0x3_FFFF

    /// The packet, header and padding included.
    public let bytes: UnsafeRawBufferPointer

    /// Parses one REMB packet spanning exactly `bytes`; another application-layer identifier
    /// throws `.unsupportedType`, an SSRC list longer than the packet `.badLength`.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let (_, fciLength) = try RTCPFeedback.expect(
            bytes, .payloadFeedback, format: ReceiverEstimatedMaxBitrate.format, "RTCP REMB")
        guard fciLength >= 4 else { throw WireError(.badLength, "RTCP REMB") }
        guard bytes.u32(at: 12) == ReceiverEstimatedMaxBitrate.identifier else {
            throw WireError(.unsupportedType, "RTCP REMB")
        }
        guard fciLength >= 8, fciLength >= 8 + Int(bytes[16]) * 4 else { throw WireError(.badLength, "RTCP REMB") }
        self.bytes = bytes
    }

    /// SSRC of the packet sender.
    @inlinable public var senderSSRC: UInt32 { bytes.u32(at: 4) }
    /// The media-source field of the common header (zero per the draft).
    @inlinable public var mediaSSRC: UInt32 { bytes.u32(at: 8) }
    /// The six-bit exponent.
    @inlinable public var exponent: UInt8 { bytes[17] >> 2 }
    /// The 18-bit mantissa.
    @inlinable public var mantissa: UInt32 { bytes.u24(at: 17) & ReceiverEstimatedMaxBitrate.maxMantissa }

    /// The estimate in bits per second, mantissa × 2^exp, saturating at `UInt64.max`.
    @inlinable public var bitrate: UInt64 {
        let m = UInt64(mantissa)
        let e = Int(exponent)
        guard m != 0 else { return 0 }
        return m.leadingZeroBitCount >= e ? m << e : .max
    }

    /// The SSRCs the estimate applies to.
    @inlinable public var ssrcs: SSRCList { SSRCList(bytes.slice(20, Int(bytes[16]) * 4)) }
}

/// Writes a REMB packet.
public struct ReceiverEstimatedMaxBitrateBuilder: RTCPPacketBuilder, Equatable {
    /// SSRC of the packet sender.
    public var senderSSRC: UInt32
    /// The estimate in bits per second; written rounded down to 18 significant bits.
    public var bitrate: UInt64
    /// The SSRCs the estimate applies to, at most 255.
    public var ssrcs: [UInt32]

    /// Creates a REMB packet.
    public init(senderSSRC: UInt32, bitrate: UInt64, ssrcs: [UInt32]) {
        self.senderSSRC = senderSSRC
        self.bitrate = bitrate
        self.ssrcs = ssrcs
    }

    /// Copies the fields of a parsed REMB.
    public init(_ view: ReceiverEstimatedMaxBitrate) {
        self.init(senderSSRC: view.senderSSRC, bitrate: view.bitrate, ssrcs: Array(view.ssrcs))
    }

    /// Exponent and mantissa for `bitrate`: the smallest exponent whose mantissa fits 18
    /// bits; low bits are dropped (rounding down, so the estimate is never overstated).
    public static func encode(_ bitrate: UInt64) -> (exponent: UInt8, mantissa: UInt32) {
        let significant = 64 - bitrate.leadingZeroBitCount
        let exponent = max(0, significant - 18)
        return (UInt8(exponent), UInt32(truncatingIfNeeded: bitrate >> UInt64(exponent)))
    }

    /// 20 bytes plus four per SSRC.
    public var marshalSize: Int { 20 + ssrcs.count * 4 }

    /// Writes the packet (media SSRC zero); throws `.badValue` for more than 255 SSRCs.
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard ssrcs.count <= 255 else { throw WireError(.badValue, "RTCP REMB") }
        let size = marshalSize
        try RTCPFeedback.writeHeader(
            into: out, type: .payloadFeedback, format: ReceiverEstimatedMaxBitrate.format,
            packetSize: size, senderSSRC: senderSSRC, mediaSSRC: 0, "RTCP REMB")
        let (exponent, mantissa) = ReceiverEstimatedMaxBitrateBuilder.encode(bitrate)
        out.setU32(ReceiverEstimatedMaxBitrate.identifier, at: 12)
        out[16] = UInt8(ssrcs.count)
        out.setU24(UInt32(exponent) << 18 | mantissa, at: 17)
        var offset = 20
        for ssrc in ssrcs {
            out.setU32(ssrc, at: offset)
            offset += 4
        }
        return size
    }
}
