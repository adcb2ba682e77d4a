internal import COpenSSL

/// SHA-256 (FIPS 180-4) through OpenSSL's EVP one-shot digest.
public enum SHA256Digest {
    /// The 32-byte digest of `message`.
    public static func hash(_ message: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        // One dummy byte keeps the pointer non-nil for an empty message.
        let bytes = message.isEmpty ? [0] : message
        let result = bytes.withUnsafeBufferPointer { m in
            digest.withUnsafeMutableBufferPointer { out in
                EVP_Digest(m.baseAddress, message.count, out.baseAddress, &length, EVP_sha256(), nil)
            }
        }
        // EVP_Digest only fails on allocation failure inside OpenSSL, which is not recoverable.
        precondition(result == 1 && length == 32, "OpenSSL SHA-256 failed")
        return digest
    }

    /// The digest of `message` as 64 lowercase hexadecimal digits.
    public static func hex(_ message: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in hash(message) {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
