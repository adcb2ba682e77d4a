internal import COpenSSL

/// HMAC with SHA-1 (RFC 2104, RFC 2202) in one call through OpenSSL, e.g. for TURN REST
/// credentials (coturn's `use-auth-secret`). Named apart from GiaobanWire's pre-keyed
/// `HMACSHA1`, which serves STUN MESSAGE-INTEGRITY per packet.
public enum HMACSHA1Code {
    /// The 20-byte authentication code of `message` under `key` (any key length).
    public static func authenticationCode(key: [UInt8], message: [UInt8]) -> [UInt8] {
        OneShotHMAC.code(EVP_sha1(), size: 20, key: key, message: message)
    }
}
