/// CRC-32 with the IEEE 802.3 polynomial (reflected 0xEDB88320, initial and final value
/// 0xFFFFFFFF), as STUN FINGERPRINT uses it (RFC 8489 §14.7).
///
/// The 256-entry table is computed once, on first use; computing a checksum never allocates.
public struct CRC32: Sendable {
    /// The lookup table for byte-at-a-time processing.
    static let table: [UInt32] = (0..<256).map { (n: Int) -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 {
            c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1
        }
        return c
    }

    /// The running register (pre-inverted).
    var register: UInt32 = 0xFFFF_FFFF

    /// Starts a new checksum.
    public init() {}

    /// Feeds `bytes`.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var c = register
        Self.table.withUnsafeBufferPointer { t in
            for byte in bytes {
                c = t[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8)
            }
        }
        register = c
    }

    /// The checksum of everything fed so far.
    public var value: UInt32 { ~register }

    /// The checksum of `bytes` in one call.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }
}
