/// An RTCP packet type, the PT field (RFC 3550 §12.1, RFC 4585 §6.1, RFC 3611 §2).
///
/// A struct rather than an enum so that types this layer does not know pass through intact.
public struct RTCPPacketType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 8-bit PT value.
    public var rawValue: UInt8

    /// Creates a packet type from its PT value.
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// SR, sender report (RFC 3550 §6.4.1).
    public static let senderReport = RTCPPacketType(rawValue: 200)
    /// RR, receiver report (RFC 3550 §6.4.2).
    public static let receiverReport = RTCPPacketType(rawValue: 201)
    /// SDES, source description (RFC 3550 §6.5).
    public static let sourceDescription = RTCPPacketType(rawValue: 202)
    /// BYE, goodbye (RFC 3550 §6.6).
    public static let goodbye = RTCPPacketType(rawValue: 203)
    /// APP, application-defined (RFC 3550 §6.7).
    public static let applicationDefined = RTCPPacketType(rawValue: 204)
    /// RTPFB, transport-layer feedback (RFC 4585 §6.1).
    public static let transportFeedback = RTCPPacketType(rawValue: 205)
    /// PSFB, payload-specific feedback (RFC 4585 §6.1).
    public static let payloadFeedback = RTCPPacketType(rawValue: 206)
    /// XR, extended reports (RFC 3611 §2); not parsed here, passed through.
    public static let extendedReport = RTCPPacketType(rawValue: 207)

    /// The RFC's short name ("SR", "RTPFB", …) or the number.
    public var description: String {
        switch rawValue {
        case 200: "SR"
        case 201: "RR"
        case 202: "SDES"
        case 203: "BYE"
        case 204: "APP"
        case 205: "RTPFB"
        case 206: "PSFB"
        case 207: "XR"
        default: "PT\(rawValue)"
        }
    }
}

/// The four-byte header that starts every RTCP packet (RFC 3550 §6.4.1):
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |V=2|P|  count  |      PT       |             length            |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// `count` is the report count (SR, RR), source count (SDES, BYE), subtype (APP) or
/// feedback message type FMT (RFC 4585 §6.1); `length` is the packet's size in 32-bit words
/// minus one, header and padding included.
public struct RTCPHeader: Sendable, Equatable {
    /// Size of the header in bytes.
    public static let size = 4
    /// The only RTP/RTCP version (RFC 3550 §6.4.1).
    public static let version: UInt8 = 2
    /// Largest packet the 16-bit length field can describe, in bytes.
    public static let maxPacketSize = 65536 * 4

    /// P: the packet ends with padding whose last byte counts the padding bytes.
    public var padding: Bool
    /// The five-bit count / subtype / FMT field.
    public var count: UInt8
    /// PT, the packet type.
    public var packetType: RTCPPacketType
    /// The length field: size in 32-bit words minus one.
    public var length: UInt16

    /// The packet's size in bytes, header and padding included.
    @inlinable public var packetSize: Int { (Int(length) + 1) * 4 }

    /// Creates a header from its fields.
    @inlinable
    public init(padding: Bool = false, count: UInt8, packetType: RTCPPacketType, length: UInt16) {
        self.padding = padding
        self.count = count
        self.packetType = packetType
        self.length = length
    }

    /// Reads the header in the first four bytes; checks the version only, not the length.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= RTCPHeader.size else { throw WireError(.truncated, "RTCP header") }
        guard bytes[0] >> 6 == RTCPHeader.version else { throw WireError(.badVersion, "RTCP header") }
        self.init(unchecked: bytes)
    }

    /// Reads a header already known to be present and of version 2.
    @inlinable
    init(unchecked bytes: UnsafeRawBufferPointer) {
        let first = bytes[0]
        padding = first & 0x20 != 0
        count = first & 0x1F
        packetType = RTCPPacketType(rawValue: bytes[1])
        length = bytes.u16(at: 2)
    }

    /// Bytes `marshal` writes: always four.
    @inlinable public var marshalSize: Int { RTCPHeader.size }

    /// Writes the header; throws `.badValue` if `count` does not fit in five bits.
    @inlinable
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard out.count >= RTCPHeader.size else { throw WireError(.bufferTooSmall, "RTCP header") }
        guard count <= 31 else { throw WireError(.badValue, "RTCP header") }
        out[0] = RTCPHeader.version << 6 | (padding ? 0x20 : 0) | count
        out[1] = packetType.rawValue
        out.setU16(length, at: 2)
        return RTCPHeader.size
    }

    /// Writes the header of an unpadded packet of `packetSize` bytes after checking that the
    /// packet fits `out` and the length field, and that `count` fits five bits.
    @inlinable
    static func write(
        into out: UnsafeMutableRawBufferPointer, count: Int, type: RTCPPacketType,
        packetSize: Int, _ context: StaticString
    ) throws(WireError) {
        guard out.count >= packetSize else { throw WireError(.bufferTooSmall, context) }
        guard packetSize >= RTCPHeader.size, packetSize % 4 == 0, packetSize <= RTCPHeader.maxPacketSize
        else { throw WireError(.badLength, context) }
        guard count >= 0, count <= 31 else { throw WireError(.badValue, context) }
        out[0] = RTCPHeader.version << 6 | UInt8(truncatingIfNeeded: count)
        out[1] = type.rawValue
        out.setU16(UInt16(truncatingIfNeeded: packetSize / 4 - 1), at: 2)
    }
}
