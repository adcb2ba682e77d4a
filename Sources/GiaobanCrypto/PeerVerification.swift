internal import COpenSSL

/// The identity check of DTLS-SRTP: the peer's self-signed certificate is trusted only
/// because its digest equals the `a=fingerprint` of the peer's SDP (RFC 5763 §5,
/// RFC 8122 §5), which the signalling channel authenticated. There is no chain to check.
enum PeerVerification {
    /// The `SSL_CTX_set_verify` callback. OpenSSL calls it for the peer's certificate
    /// first with preverify 0 (error 18, self-signed), then with 1; both calls get the
    /// same answer: accept if and only if the fingerprint matches. Certificates above the
    /// leaf (depth > 0) do not matter: the fingerprint binds the leaf.
    static var callback: @convention(c) (Int32, OpaquePointer?) -> Int32 {
        { _, store in
            guard let store else { return 0 }
            if X509_STORE_CTX_get_error_depth(store) > 0 { return 1 }
            guard let ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
                  let raw = giaoban_ssl_get_app_data(OpaquePointer(ssl)),
                  let certificate = X509_STORE_CTX_get_current_cert(store) else { return 0 }
            let bridge = Unmanaged<DTLSBridge>.fromOpaque(raw).takeUnretainedValue()
            if bridge.expectedFingerprint.matches(certificate, digest: bridge.digest) { return 1 }
            bridge.fingerprintRejected = true
            X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED) // alert: bad_certificate
            return 0
        }
    }

    /// After the handshake: whether the certificate the peer presented matches the SDP
    /// fingerprint (repeats the callback's check on the certificate the session kept).
    static func peerMatches(_ ssl: OpaquePointer, _ bridge: DTLSBridge) -> Bool {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return false }
        defer { X509_free(certificate) }
        return bridge.expectedFingerprint.matches(certificate, digest: bridge.digest)
    }
}
