internal import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG (`RAND_bytes`), for
/// tokens, secrets and identifiers an attacker must not guess.
public enum SecureRandom {
    /// `count` random bytes. Traps if OpenSSL cannot produce them (no entropy source):
    /// returning predictable bytes instead would be worse than stopping.
    public static func bytes(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        precondition(count <= Int(Int32.max), "SecureRandom.bytes: count too large")
        var bytes = [UInt8](repeating: 0, count: count)
        let ok = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        precondition(ok == 1, "RAND_bytes failed")
        return bytes
    }

    /// `count` random bytes as `2 × count` lowercase hexadecimal digits (tokens, key ids).
    public static func hex(_ count: Int) -> String { Hex.lowercase(bytes(count)) }
}

/// Lowercase hexadecimal text of bytes (digests, random tokens).
public enum Hex {
    /// `bytes` as lowercase hexadecimal digits, two per byte.
    public static func lowercase(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
