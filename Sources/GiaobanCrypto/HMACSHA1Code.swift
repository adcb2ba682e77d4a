internal import COpenSSL

/// HMAC with SHA-1 (RFC 2104, RFC 2202) in one call through OpenSSL, e.g. for TURN REST
/// credentials (coturn's `use-auth-secret`). Named apart from GiaobanWire's pre-keyed
/// `HMACSHA1`, which serves STUN MESSAGE-INTEGRITY per packet.
public enum HMACSHA1Code {
    /// The 20-byte authentication code of `message` under `key` (any key length).
    public static func authenticationCode(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var code = [UInt8](repeating: 0, count: 20)
        var length: UInt32 = 0
        // One dummy byte keeps the pointers non-nil for empty inputs.
        let keyBytes = key.isEmpty ? [0] : key, messageBytes = message.isEmpty ? [0] : message
        let result = keyBytes.withUnsafeBufferPointer { k in
            messageBytes.withUnsafeBufferPointer { m in
                code.withUnsafeMutableBufferPointer { out in
                    HMAC(EVP_sha1(), k.baseAddress, Int32(key.count), m.baseAddress, message.count,
                         out.baseAddress, &length)
                }
            }
        }
        // HMAC only fails on allocation failure inside OpenSSL, which is not recoverable.
        precondition(result != nil && length == 20, "OpenSSL HMAC-SHA1 failed")
        return code
    }
}
