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
}
