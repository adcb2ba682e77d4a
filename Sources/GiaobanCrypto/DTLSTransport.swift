internal import COpenSSL

/// The DTLS-SRTP handshake with one peer (RFC 5764 over DTLS 1.2, RFC 6347) as an
/// I/O-free state machine: datagrams and timeouts go in, datagrams to send and events
/// come out; time is whatever `now` the caller passes.
///
/// Feed it only datagrams that RFC 7983 §7 classifies as DTLS (first byte 20…63). The
/// peer is accepted only if its certificate matches the SDP fingerprint; on success
/// `.connected` carries the SRTP keys. Errors never trap: malformed input is dropped
/// and counted, or fails the handshake.
///
/// Not thread-safe: the worker that owns the peer owns its transport. Owns an OpenSSL
/// `SSL` (and its BIO), freed in `deinit`.
public final class DTLSTransport {
    /// This endpoint's role in the handshake.
    public let role: DTLSRole
    /// The fingerprint the peer's certificate must have (from its SDP).
    public let remoteFingerprint: CertificateFingerprint
    /// Where the handshake is.
    public internal(set) var state: DTLSState = .new
    /// Why the transport failed, once `state` is `.failed`.
    public internal(set) var failure: DTLSError?
    /// The SRTP keys, once `state` is `.connected`.
    public internal(set) var keyingMaterial: SRTPKeyingMaterial?
    /// When `handleTimeout(now:)` should next be called, or nil when no flight awaits an
    /// answer (RFC 6347 §4.2.4).
    public internal(set) var nextTimeout: ContinuousClock.Instant?
    /// Datagrams ignored: not a DTLS record header, or arriving before `start` (client)
    /// or after the transport closed or failed. Records OpenSSL itself discards (bad MAC,
    /// replays, wrong epoch; RFC 6347 §4.1.2.7) are silent and not counted.
    public internal(set) var droppedDatagrams = 0

    let context: DTLSContext
    let ssl: OpaquePointer
    let bridge: DTLSBridge
    private let readBuffer: UnsafeMutableRawBufferPointer

    /// Creates the transport for one peer; `remoteFingerprint` comes from the peer's
    /// `a=fingerprint` line. Throws `.badFingerprint` for a hash other than SHA-1/-2.
    public init(context: DTLSContext, role: DTLSRole, remoteFingerprint: CertificateFingerprint) throws(DTLSError) {
        guard let digest = CertificateFingerprint.digest(named: remoteFingerprint.algorithm) else {
            throw DTLSError(.badFingerprint, "unsupported fingerprint hash '\(remoteFingerprint.algorithm)'")
        }
        let bridge = DTLSBridge(mtu: context.mtu, expectedFingerprint: remoteFingerprint, digest: digest,
                                initialTimeout: context.initialRetransmitTimeout,
                                maxTimeout: context.maxRetransmitTimeout)
        guard let ssl = SSL_new(context.context) else { throw DTLSError(.openssl, "SSL_new failed") }
        guard let bio = DatagramBIO.make(method: context.bioMethod, bridge: bridge) else {
            SSL_free(ssl)
            throw DTLSError(.openssl, "BIO_new failed")
        }
        SSL_set_bio(ssl, bio, bio) // one reference, owned by ssl from here on
        _ = giaoban_ssl_set_app_data(ssl, Unmanaged.passUnretained(bridge).toOpaque())
        DTLS_set_timer_cb(ssl, RetransmissionTimer.callback)
        // Only together with SSL_OP_NO_QUERY_MTU (set on the context): either alone leaves
        // OpenSSL without an MTU and the first write fails with an empty error queue.
        guard giaoban_dtls_set_link_mtu(ssl, context.mtu) == 1 else {
            SSL_free(ssl)
            throw DTLSError(.openssl, "DTLS_set_link_mtu(\(context.mtu)) refused")
        }
        switch role {
        case .server: SSL_set_accept_state(ssl)
        case .client: SSL_set_connect_state(ssl)
        }
        self.role = role
        self.remoteFingerprint = remoteFingerprint
        self.context = context
        self.ssl = ssl
        self.bridge = bridge
        // Largest DTLS 1.2 plaintext record (RFC 6347 §4.1, 2^14 bytes).
        self.readBuffer = .allocate(byteCount: 16_384, alignment: 16)
    }

    deinit {
        SSL_free(ssl) // frees the BIO; runs before `bridge` is released
        readBuffer.deallocate()
    }

    /// Begins the handshake: a client returns its ClientHello flight, a server returns
    /// nothing and waits. Later calls return nothing.
    public func start(now: ContinuousClock.Instant) -> [[UInt8]] {
        guard state == .new else { return [] }
        state = .handshaking
        if role == .client {
            var events: [DTLSEvent] = []
            advanceHandshake(&events)
        }
        refreshTimer(now: now)
        return bridge.takeDatagrams()
    }

    /// Processes one datagram from the peer.
    public func receive(_ datagram: UnsafeRawBufferPointer, now: ContinuousClock.Instant) -> DTLSStep {
        guard Self.isDTLSRecord(datagram) else {
            droppedDatagrams += 1
            return DTLSStep()
        }
        switch state {
        case .new where role == .server:
            state = .handshaking
        case .handshaking, .connected:
            break
        case .new, .failed, .closed:
            droppedDatagrams += 1
            return DTLSStep()
        }
        var events: [DTLSEvent] = []
        bridge.withIncoming(datagram) {
            if state == .handshaking { advanceHandshake(&events) }
            if state == .connected { readRecords(&events) }
        }
        refreshTimer(now: now)
        return DTLSStep(outgoing: bridge.takeDatagrams(), events: events)
    }

    /// Processes one datagram from the peer.
    public func receive(_ datagram: [UInt8], now: ContinuousClock.Instant) -> DTLSStep {
        datagram.withUnsafeBytes { receive($0, now: now) }
    }

    /// Encrypts `message` as one application data record (e.g. an SCTP packet, RFC 8261)
    /// and returns the datagram to send. The record adds 37 bytes with AES-GCM; a longer
    /// message than the MTU allows still goes out, as one datagram over the MTU.
    public func send(_ message: UnsafeRawBufferPointer) throws(DTLSError) -> [[UInt8]] {
        guard state == .connected else { throw DTLSError(.notConnected, "state is \(state)") }
        guard !message.isEmpty else { return [] }
        guard message.count <= 16_384 else { throw DTLSError(.messageTooLarge, "\(message.count) bytes") }
        ERR_clear_error()
        let written = SSL_write(ssl, message.baseAddress, Int32(clamping: message.count))
        guard written == message.count else {
            throw DTLSError(.connectionFailed, "SSL_write failed (\(SSL_get_error(ssl, written)))")
        }
        return bridge.takeDatagrams()
    }

    /// Sends close_notify (RFC 5246 §7.2.1) if connected and ends the transport.
    public func close() -> [[UInt8]] {
        defer { nextTimeout = nil }
        switch state {
        case .connected:
            ERR_clear_error()
            _ = SSL_shutdown(ssl) // 0: our close_notify is out, the peer's is not awaited
            ERR_clear_error()
            state = .closed
            return bridge.takeDatagrams()
        case .new, .handshaking:
            state = .closed
            return []
        case .failed, .closed:
            return []
        }
    }

    // MARK: Handshake and records

    private func advanceHandshake(_ events: inout [DTLSEvent]) {
        ERR_clear_error() // a stale entry would make SSL_get_error misreport
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            finishHandshake(&events)
            return
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return
        default:
            let mismatch = bridge.fingerprintRejected
            fail(mismatch ? .fingerprintMismatch : .handshakeFailed,
                 mismatch ? "peer certificate does not match \(remoteFingerprint)" : "handshake failed",
                 &events)
        }
    }

    private func finishHandshake(_ events: inout [DTLSEvent]) {
        guard PeerVerification.peerMatches(ssl, bridge) else {
            fail(.fingerprintMismatch, "peer certificate does not match \(remoteFingerprint)", &events)
            return
        }
        do {
            let material = try SRTPKeyingMaterial.export(from: ssl, role: role)
            keyingMaterial = material
            state = .connected
            events.append(.connected(material))
        } catch {
            fail(error.reason, error.message, &events)
        }
    }

    /// Drains every record OpenSSL has buffered: application data, close_notify, alerts.
    private func readRecords(_ events: inout [DTLSEvent]) {
        guard let buffer = readBuffer.baseAddress else { return }
        while state == .connected {
            ERR_clear_error()
            let n = SSL_read(ssl, buffer, Int32(readBuffer.count))
            if n > 0 {
                events.append(.applicationData(Array(UnsafeRawBufferPointer(start: buffer, count: Int(n)))))
                continue
            }
            switch SSL_get_error(ssl, n) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                _ = SSL_shutdown(ssl) // answer close_notify with ours
                ERR_clear_error()
                state = .closed
                nextTimeout = nil
                events.append(.closed)
            default:
                fail(.connectionFailed, "reading a record failed", &events)
            }
        }
    }

    private func fail(_ reason: DTLSError.Reason, _ message: String, _ events: inout [DTLSEvent]) {
        let error = DTLSError(reason, message) // drains OpenSSL's error queue
        state = .failed
        failure = error
        nextTimeout = nil
        events.append(.failed(error))
    }

    /// A DTLS record header (RFC 6347 §4.1): content type 20…25 (within RFC 7983's DTLS
    /// range), version major byte 0xFE, and the 13 header bytes present.
    static func isDTLSRecord(_ datagram: UnsafeRawBufferPointer) -> Bool {
        datagram.count >= 13 && (20...25).contains(datagram[0]) && datagram[1] == 0xFE
    }
}
