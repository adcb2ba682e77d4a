internal import COpenSSL

/// The DTLS-SRTP configuration every peer of the relay shares: DTLS 1.2 only
/// (RFC 6347), the relay's certificate, ECDHE-ECDSA cipher suites and the use_srtp
/// extension (RFC 5764 §4.1). One context serves both the server and the client role.
///
/// Owns an OpenSSL `SSL_CTX` and the method table of the datagram BIO; both are freed in
/// `deinit`, which runs only after the last `DTLSTransport` using the context is gone.
public final class DTLSContext: @unchecked Sendable {
    // Configured once in init and only read afterwards: OpenSSL allows SSL_new on a
    // shared SSL_CTX from several threads.
    let context: OpaquePointer
    let bioMethod: OpaquePointer
    /// The certificate presented to every peer.
    public let certificate: DTLSCertificate
    /// Largest datagram the transports write, DTLS headers included (RFC 6347 §4.1.1.1).
    public let mtu: Int
    /// The first retransmission timeout of a flight (RFC 6347 §4.2.4.1 suggests 1 s); at
    /// least 20 ms, since OpenSSL counts a timer with under 15 ms left as expired.
    public let initialRetransmitTimeout: Duration
    /// The retransmission timeout doubles per retry up to this value (RFC 6347 §4.2.4.1).
    public let maxRetransmitTimeout: Duration

    /// Cipher suites offered and accepted: ECDHE-ECDSA with AES-GCM first, CBC as fallback
    /// (RFC 8827 §6.5 requires TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256).
    static let cipherList = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:"
        + "ECDHE-ECDSA-AES256-SHA"

    /// Builds the shared configuration around `certificate`. `mtu` bounds every datagram
    /// (1200 keeps DTLS inside the usual WebRTC budget); the retransmission timeouts shape
    /// the backoff of each flight.
    public init(certificate: DTLSCertificate, mtu: Int = 1200,
                initialRetransmitTimeout: Duration = .seconds(1),
                maxRetransmitTimeout: Duration = .seconds(60)) throws(DTLSError) {
        guard mtu >= 256, mtu <= 65_507 else { throw DTLSError(.openssl, "MTU \(mtu) outside 256…65507") }
        guard let ctx = SSL_CTX_new(DTLS_method()) else { throw DTLSError(.openssl, "SSL_CTX_new failed") }
        guard let method = DatagramBIO.makeMethod() else {
            SSL_CTX_free(ctx)
            throw DTLSError(.openssl, "BIO_meth_new failed")
        }
        do {
            try Self.configure(ctx, certificate: certificate)
        } catch {
            SSL_CTX_free(ctx)
            BIO_meth_free(method)
            throw error
        }
        self.context = ctx
        self.bioMethod = method
        self.certificate = certificate
        self.mtu = mtu
        self.initialRetransmitTimeout = max(initialRetransmitTimeout, .milliseconds(20))
        self.maxRetransmitTimeout = max(maxRetransmitTimeout, self.initialRetransmitTimeout)
    }

    deinit {
        SSL_CTX_free(context)
        BIO_meth_free(bioMethod)
    }

    /// The relay's fingerprint for the `a=fingerprint` line of its SDP (RFC 8122 §5).
    public var fingerprint: CertificateFingerprint { certificate.fingerprint }

    private static func configure(_ ctx: OpaquePointer, certificate: DTLSCertificate) throws(DTLSError) {
        // DTLS 1.2 only (RFC 8827 §6.5); DTLS 1.0 is obsolete (RFC 8996).
        guard giaoban_ssl_ctx_set_min_proto(ctx, GIAOBAN_DTLS1_2_VERSION) == 1,
              giaoban_ssl_ctx_set_max_proto(ctx, GIAOBAN_DTLS1_2_VERSION) == 1 else {
            throw DTLSError(.openssl, "setting DTLS 1.2 as the only version failed")
        }
        guard SSL_CTX_use_certificate(ctx, certificate.certificate) == 1,
              SSL_CTX_use_PrivateKey(ctx, certificate.privateKey) == 1,
              SSL_CTX_check_private_key(ctx) == 1 else {
            throw DTLSError(.openssl, "installing the certificate and key failed")
        }
        guard SSL_CTX_set_cipher_list(ctx, cipherList) == 1 else {
            throw DTLSError(.openssl, "no usable cipher suite")
        }
        // The server's order picks the profile (RFC 5764 §4.1.1): GCM first.
        let profiles = SRTPProfile.allCases.map(\.rawValue).joined(separator: ":")
        guard SSL_CTX_set_tlsext_use_srtp(ctx, profiles) == 0 else { // 0 is success here
            throw DTLSError(.openssl, "enabling use_srtp failed")
        }
        // Both roles demand the peer's certificate (RFC 5763 §5); the callback accepts it
        // only when its digest equals the SDP fingerprint.
        SSL_CTX_set_verify(ctx, GIAOBAN_SSL_VERIFY_PEER | GIAOBAN_SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           PeerVerification.callback)
        // MTU comes from DTLS_set_link_mtu per session; without NO_QUERY_MTU OpenSSL would
        // ask the BIO, and after two timeouts shrink the MTU to the BIO's "fallback" (0).
        _ = giaoban_ssl_ctx_set_options(ctx, GIAOBAN_SSL_OP_NO_QUERY_MTU | GIAOBAN_SSL_OP_NO_TICKET)
        // WebRTC never resumes sessions; a server-side cache would grow by one entry per peer.
        _ = giaoban_ssl_ctx_set_session_cache_mode(ctx, GIAOBAN_SSL_SESS_CACHE_OFF)
        _ = giaoban_ssl_ctx_set_read_ahead(ctx, 1)
    }
}
