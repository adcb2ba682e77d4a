internal import COpenSSL

extension CertificateFingerprint {
    /// The OpenSSL digest for an SDP hash function name (RFC 8122 §5 lists them; MD2 and
    /// MD5 are not accepted), or nil when the relay does not support it.
    static func digest(named algorithm: String) -> OpaquePointer? {
        switch algorithm {
        case "sha-1": EVP_sha1()
        case "sha-224": EVP_sha224()
        case "sha-256": EVP_sha256()
        case "sha-384": EVP_sha384()
        case "sha-512": EVP_sha512()
        default: nil
        }
    }

    /// Whether the DER encoding of `x509` hashes, with `digest`, to this fingerprint
    /// (RFC 8122 §5: the fingerprint covers the whole DER certificate).
    func matches(_ x509: OpaquePointer, digest: OpaquePointer) -> Bool {
        var md = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(x509, digest, &md, &length) == 1 else { return false }
        return Int(length) == self.digest.count && md.prefix(Int(length)).elementsEqual(self.digest)
    }
}
