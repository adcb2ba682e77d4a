/// A transport address carried by MAPPED-ADDRESS and XOR-MAPPED-ADDRESS (RFC 8489 §14.1,
/// §14.2): an IPv4 or IPv6 address and a UDP/TCP port, stored inline (no heap).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |0 0 0 0 0 0 0 0|    Family     |         (X-)Port              |
/// |                 (X-)Address (32 bits or 128 bits)             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct STUNAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address family code of the attribute value (0x01 IPv4, 0x02 IPv6).
    public enum Family: UInt8, Sendable {
        /// IPv4, 4 address bytes.
        case ipv4 = 1
        /// IPv6, 16 address bytes.
        case ipv6 = 2
    }

    /// IPv4 or IPv6.
    public let family: Family
    /// The port, host order.
    public var port: UInt16
    /// The relay's TCP connection the address was seen on (ICE-TCP, RFC 6544), 0 for UDP:
    /// the same address and port over UDP and over a connection are two different paths.
    /// Not part of the attribute value.
    public var connection: UInt32 = 0
    /// IPv6: the first 8 address bytes; IPv4: 0.
    public let high: UInt64
    /// IPv6: the last 8 address bytes; IPv4: the address in the low 32 bits.
    public let low: UInt64

    /// An IPv4 address given as a 32-bit integer (192.0.2.1 is 0xC000_0201).
    @inlinable
    public init(ipv4: UInt32, port: UInt16) {
        family = .ipv4
        self.port = port
        high = 0
        low = UInt64(ipv4)
    }

    /// An IPv4 address given as four octets.
    @inlinable
    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) {
        self.init(ipv4: UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d), port: port)
    }

    /// An IPv6 address given as its first and last 8 bytes, big-endian.
    @inlinable
    public init(ipv6High: UInt64, ipv6Low: UInt64, port: UInt16) {
        family = .ipv6
        self.port = port
        high = ipv6High
        low = ipv6Low
    }

    /// The IPv4 address as an integer, or nil for IPv6.
    @inlinable
    public var ipv4: UInt32? { family == .ipv4 ? UInt32(truncatingIfNeeded: low) : nil }

    /// The bytes of the attribute value: 8 for IPv4, 20 for IPv6.
    @inlinable
    public var valueByteCount: Int { family == .ipv4 ? 8 : 20 }

    /// Decodes a MAPPED-ADDRESS value (RFC 8489 §14.1), or with `xor` an XOR-MAPPED-ADDRESS
    /// value (§14.2: port XOR the cookie's top 16 bits, address XOR cookie ‖ transaction ID).
    ///
    /// Throws `.badAttribute` for an unknown family or a length that does not match it.
    @inlinable
    public init(value: UnsafeRawBufferPointer, xor: STUNTransactionID?) throws(WireError) {
        guard value.count >= 4 else { throw WireError(.badAttribute, "STUN address") }
        let (maskHigh, maskLow) = Self.masks(xor)
        let port = value.u16(at: 2) ^ (xor == nil ? 0 : UInt16(truncatingIfNeeded: STUNMessageView.magicCookie >> 16))
        switch value[1] {
        case Family.ipv4.rawValue:
            guard value.count == 8 else { throw WireError(.badAttribute, "STUN IPv4 address") }
            self.init(ipv4: value.u32(at: 4) ^ UInt32(truncatingIfNeeded: maskHigh >> 32), port: port)
        case Family.ipv6.rawValue:
            guard value.count == 20 else { throw WireError(.badAttribute, "STUN IPv6 address") }
            self.init(ipv6High: value.u64(at: 4) ^ maskHigh, ipv6Low: value.u64(at: 12) ^ maskLow, port: port)
        default:
            throw WireError(.badAttribute, "STUN address family")
        }
    }

    /// Writes the attribute value (`valueByteCount` bytes) at `offset`, XORed when `xor` is
    /// given; the caller has checked that it fits.
    @inlinable
    public func writeValue(to out: UnsafeMutableRawBufferPointer, at offset: Int, xor: STUNTransactionID?) {
        let (maskHigh, maskLow) = Self.masks(xor)
        out.setU8(0, at: offset)
        out.setU8(family.rawValue, at: offset + 1)
        out.setU16(port ^ (xor == nil ? 0 : UInt16(truncatingIfNeeded: STUNMessageView.magicCookie >> 16)), at: offset + 2)
        switch family {
        case .ipv4:
            out.setU32(UInt32(truncatingIfNeeded: low) ^ UInt32(truncatingIfNeeded: maskHigh >> 32), at: offset + 4)
        case .ipv6:
            out.setU64(high ^ maskHigh, at: offset + 4)
            out.setU64(low ^ maskLow, at: offset + 12)
        }
    }

    /// The 128-bit XOR mask: magic cookie ‖ transaction ID, or zero without one.
    @inlinable
    static func masks(_ xor: STUNTransactionID?) -> (UInt64, UInt64) {
        guard let id = xor else { return (0, 0) }
        return (UInt64(STUNMessageView.magicCookie) << 32 | UInt64(id.high), id.low)
    }

    /// The same address seen on the relay's TCP connection `id` (0: over UDP).
    @inlinable
    public func onConnection(_ id: UInt32) -> STUNAddress {
        var copy = self
        copy.connection = id
        return copy
    }

    /// "192.0.2.1:32853" or "[2001:db8::1]:3478" (RFC 5952 text form), "tcp/7 192.0.2.1:32853"
    /// when seen on the relay's TCP connection 7.
    public var description: String {
        connection == 0 ? text : "tcp/\(connection) \(text)"
    }

    private var text: String {
        switch family {
        case .ipv4:
            let a = UInt32(truncatingIfNeeded: low)
            return "\(a >> 24).\(a >> 16 & 0xFF).\(a >> 8 & 0xFF).\(a & 0xFF):\(port)"
        case .ipv6:
            let groups = (0..<8).map { i -> UInt16 in
                UInt16(truncatingIfNeeded: (i < 4 ? high : low) >> (UInt64(3 - i % 4) * 16))
            }
            // The longest run of two or more zero groups becomes "::" (RFC 5952 §4.2).
            var bestStart = -1, bestLength = 1, runStart = -1
            for i in 0...8 {
                if i < 8 && groups[i] == 0 {
                    if runStart < 0 { runStart = i }
                } else if runStart >= 0 {
                    if i - runStart > bestLength { bestStart = runStart; bestLength = i - runStart }
                    runStart = -1
                }
            }
            var text = ""
            var i = 0
            while i < 8 {
                if i == bestStart {
                    text += "::"
                    i += bestLength
                    continue
                }
                if !text.isEmpty && !text.hasSuffix(":") { text += ":" }
                text += String(groups[i], radix: 16)
                i += 1
            }
            return "[\(text)]:\(port)"
        }
    }
}
