internal import COpenSSL

/// Retransmission of DTLS flights (RFC 6347 §4.2.4), driven by the caller.
///
/// OpenSSL keeps the timer itself, on the wall clock (`gettimeofday`), and only
/// retransmits when that clock says it expired; `now` cannot override it. The transport
/// maps OpenSSL's remaining time onto the caller's clock as `nextTimeout`. With
/// `now` from the real `ContinuousClock` both agree; a `now` ahead of the wall clock
/// makes `handleTimeout` a no-op that re-arms `nextTimeout`. OpenSSL also retransmits
/// on its own when a datagram arrives after its timer expired.
extension DTLSTransport {
    /// Retransmits the current flight if its timer expired; fails the transport with
    /// `.handshakeTimeout` after OpenSSL's limit of 12 retransmissions of one flight.
    public func handleTimeout(now: ContinuousClock.Instant) -> DTLSStep {
        guard state == .handshaking || state == .connected,
              let deadline = nextTimeout, now >= deadline else { return DTLSStep() }
        var events: [DTLSEvent] = []
        ERR_clear_error()
        if giaoban_dtls_handle_timeout(ssl) < 0 {
            let error = DTLSError(.handshakeTimeout, "no answer from the peer")
            state = .failed
            failure = error
            events.append(.failed(error))
        }
        refreshTimer(now: now)
        return DTLSStep(outgoing: bridge.takeDatagrams(), events: events)
    }

    /// Re-reads OpenSSL's timer after each input; nil once no flight awaits an answer.
    func refreshTimer(now: ContinuousClock.Instant) {
        guard state == .handshaking || state == .connected else {
            nextTimeout = nil
            return
        }
        let remaining = giaoban_dtls_timeout_us(ssl)
        nextTimeout = remaining < 0 ? nil : now + .microseconds(remaining)
    }
}

/// The `DTLS_set_timer_cb` callback: the context's initial timeout for a new flight,
/// then doubling up to its maximum (RFC 6347 §4.2.4.1).
enum RetransmissionTimer {
    static var callback: @convention(c) (OpaquePointer?, UInt32) -> UInt32 {
        { ssl, previous in
            guard let ssl, let raw = giaoban_ssl_get_app_data(ssl) else { return 1_000_000 }
            let bridge = Unmanaged<DTLSBridge>.fromOpaque(raw).takeUnretainedValue()
            if previous == 0 { return bridge.initialTimeoutMicroseconds }
            let doubled = previous > UInt32.max / 2 ? UInt32.max : previous * 2
            return min(doubled, bridge.maxTimeoutMicroseconds)
        }
    }
}
