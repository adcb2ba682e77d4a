internal import COpenSSL

/// What a TLS client trusts (RFC 8446, RFC 5246): TLS 1.2 or newer (RFC 8996 retires the
/// older versions) and servers whose certificate chains to a CA in `caFile`, or to the
/// system's default CA paths when no file is given. Sessions are made with `TLSClientSession`.
///
/// Owns an OpenSSL `SSL_CTX`, configured once in init and freed in `deinit`; OpenSSL allows
/// `SSL_new` on a shared context from several threads.
public final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer
    /// The PEM file of trusted CA certificates, or nil for the system's default CA paths.
    public let caFile: String?

    /// Loads the trust anchors; throws `.badPEM` when `caFile` holds no readable certificate.
    public init(caFile: String? = nil) throws(DTLSError) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw DTLSError(.openssl, "SSL_CTX_new failed") }
        guard giaoban_ssl_ctx_set_min_proto(ctx, TLS1_2_VERSION) == 1 else {
            SSL_CTX_free(ctx)
            throw DTLSError(.openssl, "setting TLS 1.2 as the lowest version failed")
        }
        if let caFile {
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                SSL_CTX_free(ctx)
                ERR_clear_error()
                throw DTLSError(.badPEM, "cannot read CA file \(caFile): no PEM certificate could be loaded")
            }
        } else if SSL_CTX_set_default_verify_paths(ctx) != 1 {
            SSL_CTX_free(ctx)
            throw DTLSError(.openssl, "loading the system's default CA paths failed")
        }
        // The chain is checked during the handshake, which fails on a bad certificate; the
        // name or address is set per session (TLSClientSession).
        SSL_CTX_set_verify(ctx, GIAOBAN_SSL_VERIFY_PEER, nil)
        // A write may complete in parts across polls, from a buffer that may move between calls.
        _ = SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), nil)
        context = ctx
        self.caFile = caFile
    }

    deinit {
        SSL_CTX_free(context)
    }
}
