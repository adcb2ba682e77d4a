internal import COpenSSL

/// SHA-256 (FIPS 180-4) through OpenSSL's EVP one-shot digest.
public enum SHA256Digest {
    /// The 32-byte digest of `message`.
    public static func hash(_ message: [UInt8]) -> [UInt8] {
        OneShotDigest.hash(EVP_sha256(), size: 32, message: message)
    }

    /// The digest of `message` as 64 lowercase hexadecimal digits.
    public static func hex(_ message: [UInt8]) -> String {
        Hex.lowercase(hash(message))
    }
}
