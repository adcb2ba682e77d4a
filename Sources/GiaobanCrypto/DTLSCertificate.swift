internal import COpenSSL

/// The relay's DTLS identity: an ECDSA P-256 key and a self-signed X.509 certificate
/// (RFC 8827 §6.5 asks for ECDSA P-256 support), with its SHA-256 fingerprint for SDP.
///
/// Generated at start, or loaded from PEM files so the fingerprint stays stable across
/// restarts. The OpenSSL objects are owned here and freed in `deinit`.
public final class DTLSCertificate: @unchecked Sendable {
    // Immutable after init; OpenSSL allows concurrent read-only use of X509 and EVP_PKEY.
    let certificate: OpaquePointer
    let privateKey: OpaquePointer
    /// The SHA-256 fingerprint of the DER certificate (RFC 8122 §5).
    public let fingerprint: CertificateFingerprint

    /// Generates a new key pair and a certificate valid from a day ago for `validDays`.
    public init(commonName: String = "giaoban", validDays: Int = 30) throws(DTLSError) {
        guard let key = giaoban_evp_ec_gen_p256() else { throw DTLSError(.keyGeneration, "EC P-256 key generation failed") }
        guard let x509 = X509_new() else {
            EVP_PKEY_free(key)
            throw DTLSError(.keyGeneration, "X509_new failed")
        }
        var serial: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &serial) { RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 8) }
        let ok = X509_set_version(x509, 2) == 1
            && ASN1_INTEGER_set_uint64(X509_get_serialNumber(x509), serial >> 1) == 1
            && X509_gmtime_adj(X509_getm_notBefore(x509), -86_400) != nil
            && X509_gmtime_adj(X509_getm_notAfter(x509), Int(validDays) * 86_400) != nil
            && X509_set_pubkey(x509, key) == 1
            && X509_NAME_add_entry_by_txt(X509_get_subject_name(x509), "CN", MBSTRING_ASC, commonName, -1, -1, 0) == 1
            && X509_set_issuer_name(x509, X509_get_subject_name(x509)) == 1
            && X509_sign(x509, key, EVP_sha256()) > 0
        guard ok else {
            X509_free(x509)
            EVP_PKEY_free(key)
            throw DTLSError(.keyGeneration, "building the self-signed certificate failed")
        }
        certificate = x509
        privateKey = key
        fingerprint = try Self.sha256(x509)
    }

    /// Loads a certificate and its private key from PEM text.
    public init(certificatePEM: String, privateKeyPEM: String) throws(DTLSError) {
        guard let x509 = Self.readPEM(certificatePEM, { PEM_read_bio_X509($0, nil, nil, nil) }) else {
            throw DTLSError(.badPEM, "no certificate in the certificate PEM")
        }
        guard let key = Self.readPEM(privateKeyPEM, { PEM_read_bio_PrivateKey($0, nil, nil, nil) }) else {
            X509_free(x509)
            throw DTLSError(.badPEM, "no private key in the key PEM")
        }
        guard X509_check_private_key(x509, key) == 1 else {
            X509_free(x509)
            EVP_PKEY_free(key)
            throw DTLSError(.keyMismatch, "the private key does not match the certificate")
        }
        certificate = x509
        privateKey = key
        fingerprint = try Self.sha256(x509)
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(privateKey)
    }

    /// The certificate as PEM text.
    public var certificatePEM: String { Self.writePEM { PEM_write_bio_X509($0, certificate) } }
    /// The private key as unencrypted PKCS #8 PEM text (store it with file mode 0600).
    public var privateKeyPEM: String { Self.writePEM { PEM_write_bio_PrivateKey($0, privateKey, nil, nil, 0, nil, nil) } }

    /// The SHA-256 fingerprint of a DER-encoded X.509 certificate object.
    static func sha256(_ x509: OpaquePointer) throws(DTLSError) -> CertificateFingerprint {
        var md = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        guard X509_digest(x509, EVP_sha256(), &md, &len) == 1 else { throw DTLSError(.openssl, "X509_digest failed") }
        return CertificateFingerprint(algorithm: "sha-256", digest: Array(md.prefix(Int(len))))
    }

    private static func readPEM(_ text: String, _ read: (OpaquePointer) -> OpaquePointer?) -> OpaquePointer? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { p -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(p.baseAddress, Int32(p.count)) else { return nil }
            defer { BIO_free(bio) }
            return read(bio)
        }
    }

    private static func writePEM(_ write: (OpaquePointer) -> Int32) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { return "" }
        var data: UnsafeMutablePointer<CChar>? = nil
        let n = giaoban_bio_get_mem_data(bio, &data)
        guard n > 0, let data else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: Int(n)), as: UTF8.self)
    }
}
