public import GiaobanCrypto
public import GiaobanICE
public import GiaobanWire

/// One WebRTC connection to the relay, as an I/O-free state machine: ICE checks as the
/// controlling agent (RFC 8445) until the relay answers, then the DTLS-SRTP handshake
/// (RFC 5764), then SRTP (RFC 3711, RFC 7714). Datagrams and the time go in; datagrams to
/// send collect in an outbox the driver empties with `takeOutgoing()`.
///
/// The peer answers nothing the relay did not ask for: it sends checks, its handshake
/// flights and consent checks (RFC 7675), reads responses, DTLS records and SRTP, and
/// answers the checks of a peer that sends its own (RFC 8445 §7.3; Janus does).
///
/// Not thread-safe. Sending (`protectRTP`) and receiving (`receive`) touch separate SRTP
/// sessions, but ICE and DTLS state is shared: one thread owns the peer.
public final class ClientPeer {
    /// Where the connection is.
    public enum State: Sendable, Equatable {
        /// Sending connectivity checks; no answer yet.
        case checking
        /// ICE succeeded; DTLS flights are being exchanged.
        case handshaking
        /// SRTP keys exist: media can flow.
        case connected
        /// Something failed for good; `failure` says what.
        case failed
        /// Either side closed the DTLS association.
        case closed
    }

    /// Where the connection is.
    public private(set) var state: State
    /// Why the connection failed, once `state` is `.failed` or `.closed`.
    public private(set) var failure: ClientError?
    /// Where every datagram goes: the relay's candidate.
    public let relayAddress: STUNAddress
    /// The SRTP keys, once connected.
    public private(set) var keyingMaterial: SRTPKeyingMaterial?
    /// Datagrams dropped on receipt, by reason (diagnostics; never logged per packet).
    public internal(set) var drops = DropCounts()

    var ice: ICEConnectivityCheck?
    let dtls: DTLSTransport?
    let connectDeadline: ContinuousClock.Instant
    var srtpOut: SRTPContext?
    var srtpIn: SRTPContext?
    private var outbox: [[UInt8]] = []

    /// How long a peer may stay without a consent response once connected (RFC 7675 §5.1).
    public static let consentTimeout: Duration = .seconds(30)

    /// Creates the peer for a relay that answered `answer`; `localICE` and the certificate
    /// of `context` are the ones the offer carried. Call `start(now:)` to send the first check.
    public init(localICE: ICECredentials, context: DTLSContext, answer: RelayAnswer,
                now: ContinuousClock.Instant, connectTimeout: Duration = .seconds(10)) throws(ClientError) {
        do {
            dtls = try DTLSTransport(context: context, role: answer.dtlsRole, remoteFingerprint: answer.fingerprint)
        } catch {
            throw ClientError(.dtlsFailed, "\(error)")
        }
        ice = ICEConnectivityCheck(local: localICE, remote: answer.ice, now: now)
        relayAddress = answer.candidate
        connectDeadline = now + connectTimeout
        state = .checking
    }

    /// A peer that is connected from the start with `keys` and no ICE or DTLS: both ends
    /// of a path that bypasses the relay (baselines, tests). Mirror the keys for the other end.
    public init(keys: SRTPKeyingMaterial, relayAddress: STUNAddress) throws(ClientError) {
        self.relayAddress = relayAddress
        dtls = nil
        ice = nil
        connectDeadline = .now
        state = .checking
        try installKeys(keys)
    }

    /// Queues the first connectivity check.
    public func start(now: ContinuousClock.Instant) {
        handleTimers(now: now)
    }

    /// Returns the datagrams to send to `relayAddress`, in order, and empties the outbox.
    public func takeOutgoing() -> [[UInt8]] {
        guard !outbox.isEmpty else { return [] }
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    /// When the relay last answered a connectivity or consent check (RFC 7675): its liveness.
    public var lastCheckResponse: ContinuousClock.Instant? { ice?.lastSuccess }

    /// The round trip to the relay measured by the last answered connectivity or consent
    /// check (RFC 7675): ICE-lite answers binding requests at once, so this is the network's
    /// round trip plus the relay's turnaround. Refreshed every 4–6 s once connected.
    public var roundTripTime: Duration? { ice?.lastRoundTrip }

    /// True when datagrams wait in the outbox.
    public var hasOutgoing: Bool { !outbox.isEmpty }

    /// When `handleTimers(now:)` should next run: the next check, DTLS retransmission or
    /// consent check; nil once the peer is done.
    public var nextDeadline: ContinuousClock.Instant? {
        switch state {
        case .failed, .closed: return nil
        case .checking, .handshaking, .connected:
            let candidates = [ice?.nextRequest, dtls?.nextTimeout, state == .connected ? nil : connectDeadline]
            return candidates.compactMap { $0 }.min()
        }
    }

    /// Drives what is due at `now`: check retransmissions, DTLS retransmissions (RFC 6347
    /// §4.2.4), the connect timeout, consent checks and consent expiry.
    public func handleTimers(now: ContinuousClock.Instant) {
        switch state {
        case .failed, .closed:
            return
        case .checking, .handshaking:
            if now >= connectDeadline {
                fail(state == .checking ? .iceFailed : .dtlsFailed,
                     state == .checking ? "no answer to connectivity checks sent to \(relayAddress)" : "DTLS handshake did not finish")
                return
            }
        case .connected:
            if let last = ice?.lastSuccess, now - last > Self.consentTimeout {
                fail(.consentLost, "no consent response for \(Self.consentTimeout)")
                return
            }
        }
        if let request = ice?.request(now: now) { outbox.append(request) }
        if let dtls, let deadline = dtls.nextTimeout, now >= deadline { apply(dtls.handleTimeout(now: now)) }
    }

    /// Sends close_notify (RFC 5246 §7.2.1) when connected; the peer is closed afterwards.
    public func close() {
        if let dtls { outbox += dtls.close() }
        if state != .failed { state = .closed }
    }

    /// The path to the relay is gone (an ICE-TCP connection closed, a TURN allocation lost):
    /// the peer fails with `.closed` and `message`, as a relay's close_notify would end it.
    public func pathClosed(_ message: String) {
        fail(.closed, message)
    }

    // MARK: Control datagrams

    /// A STUN message from the relay: a response to one of our checks, or a check of its own.
    func receiveSTUN(_ bytes: UnsafeRawBufferPointer, now: ContinuousClock.Instant) {
        guard let message = try? STUNMessageView(bytes), ice != nil else { return drops.count(.stun) }
        if message.type == .bindingRequest {
            guard let response = ice!.answer(message, from: relayAddress) else { return drops.count(.stun) }
            return outbox.append(response)
        }
        switch ice!.handle(message, now: now) {
        case .ignored:
            drops.count(.stun)
        case .failure(let code):
            fail(.iceFailed, "the relay answered a check with error \(code)")
        case .success:
            guard state == .checking, let dtls else { return }
            state = .handshaking
            outbox += dtls.start(now: now)  // a server-role transport returns nothing and waits
        }
    }

    /// A DTLS record from the relay: handshake flights, alerts, close_notify.
    func receiveDTLS(_ bytes: UnsafeRawBufferPointer, now: ContinuousClock.Instant) {
        guard let dtls, state == .handshaking || state == .connected else { return drops.count(.dtls) }
        apply(dtls.receive(bytes, now: now))
    }

    private func apply(_ step: DTLSStep) {
        outbox += step.outgoing
        for event in step.events {
            switch event {
            case .connected(let keys):
                do { try installKeys(keys) } catch { fail(error.reason, error.message) }
            case .failed(let error):
                fail(.dtlsFailed, "\(error)")
            case .closed:
                state = .closed
                failure = ClientError(.closed, "the relay closed the connection")
            case .applicationData:
                break  // no data channel
            }
        }
    }

    private func installKeys(_ keys: SRTPKeyingMaterial) throws(ClientError) {
        do {
            srtpOut = try SRTPContext(profile: keys.profile, direction: .outbound, key: keys.localKey, salt: keys.localSalt)
            srtpIn = try SRTPContext(profile: keys.profile, direction: .inbound, key: keys.remoteKey, salt: keys.remoteSalt)
        } catch {
            throw ClientError(.dtlsFailed, "SRTP keys unusable: \(error)")
        }
        keyingMaterial = keys
        state = .connected
    }

    private func fail(_ reason: ClientError.Reason, _ message: String) {
        guard state != .failed else { return }
        state = .failed
        failure = ClientError(reason, message)
    }
}
