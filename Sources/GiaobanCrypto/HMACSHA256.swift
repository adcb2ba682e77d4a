internal import COpenSSL

/// HMAC with SHA-256 (RFC 2104, RFC 4231), e.g. for JWT HS256 signatures (RFC 7518 §3.2).
public enum HMACSHA256 {
    /// The 32-byte authentication code of `message` under `key` (any key length).
    public static func authenticationCode(key: [UInt8], message: [UInt8]) -> [UInt8] {
        OneShotHMAC.code(EVP_sha256(), size: 32, key: key, message: message)
    }
}

/// One HMAC computed in one call through OpenSSL.
enum OneShotHMAC {
    /// The `size`-byte code of `message` under `key` with `digest`.
    static func code(_ digest: OpaquePointer?, size: Int, key: [UInt8], message: [UInt8]) -> [UInt8] {
        var code = [UInt8](repeating: 0, count: size)
        var length: UInt32 = 0
        // One dummy byte keeps the pointers non-nil for empty inputs.
        let keyBytes = key.isEmpty ? [0] : key, messageBytes = message.isEmpty ? [0] : message
        let result = keyBytes.withUnsafeBufferPointer { k in
            messageBytes.withUnsafeBufferPointer { m in
                code.withUnsafeMutableBufferPointer { out in
                    HMAC(digest, k.baseAddress, Int32(key.count), m.baseAddress, message.count, out.baseAddress, &length)
                }
            }
        }
        // HMAC only fails on allocation failure inside OpenSSL, which is not recoverable.
        precondition(result != nil && Int(length) == size, "OpenSSL HMAC failed")
        return code
    }
}
