internal import COpenSSL

/// MD5 (RFC 1321) through OpenSSL's EVP one-shot digest, only where a protocol requires it:
/// HTTP Digest authentication of RTSP cameras (RFC 2617). Not for anything else.
public enum MD5Digest {
    /// The 16-byte digest of `message`.
    public static func hash(_ message: [UInt8]) -> [UInt8] {
        OneShotDigest.hash(EVP_md5(), size: 16, message: message)
    }

    /// The digest of `message` as 32 lowercase hexadecimal digits.
    public static func hex(_ message: [UInt8]) -> String {
        Hex.lowercase(hash(message))
    }
}

/// The one-shot EVP digest shared by `MD5Digest` and `SHA256Digest`.
enum OneShotDigest {
    /// The `size`-byte digest of `message` with `digest`.
    static func hash(_ digest: OpaquePointer?, size: Int, message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        var length: UInt32 = 0
        // One dummy byte keeps the pointer non-nil for an empty message.
        let bytes = message.isEmpty ? [0] : message
        let result = bytes.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(m.baseAddress, message.count, o.baseAddress, &length, digest, nil)
            }
        }
        // EVP_Digest only fails on allocation failure inside OpenSSL, which is not recoverable.
        precondition(result == 1 && Int(length) == size, "OpenSSL digest failed")
        return out
    }
}
