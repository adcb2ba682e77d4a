public import GiaobanWire

/// A client's TURN allocation over UDP (RFC 8656), sans I/O: the requests to send to
/// `server` come out of `takeOutgoing`, the server's responses go into `receive`, timers run
/// in `handleTimers`. The steps: Allocate (a 401 brings REALM and NONCE, then the request is
/// sent again with the long-term credential, RFC 8489 §9.2), CreatePermission for `peer`,
/// ChannelBind `channel` to `peer`; then `ready`, and packets to and from the peer travel as
/// ChannelData (§12.4). The allocation is refreshed a minute before its lifetime ends (§8),
/// the channel binding (which refreshes the permission too) every four minutes (§12). A 438
/// (Stale Nonce) takes the new NONCE and sends the request again.
///
/// Not thread-safe; used by the connection that carries packets through it.
public final class TURNAllocation {
    /// Where the allocation is.
    public enum State: Sendable, Equatable {
        /// Allocate sent (unauthenticated, then with the credential).
        case allocating
        /// Allocated; CreatePermission and ChannelBind under way.
        case binding
        /// The channel is bound: packets to and from the peer can flow.
        case ready
        /// The server refused or did not answer; `failure` says why.
        case failed
    }

    /// The TURN server.
    public let server: STUNAddress
    /// The peer packets are relayed to and from (the relay's UDP candidate).
    public let peer: STUNAddress
    /// The channel bound to `peer`.
    public let channel: UInt16
    /// The state.
    public private(set) var state: State = .allocating
    /// Why the allocation failed.
    public private(set) var failure: String?
    /// The relayed transport address the server allocated (what the peer sees as our address).
    public private(set) var relayedAddress: STUNAddress?
    /// Our address as the server saw it.
    public private(set) var mappedAddress: STUNAddress?
    /// The allocation's lifetime from the last Allocate or Refresh response.
    public private(set) var lifetime: Duration = .seconds(600)
    /// Refreshes answered (allocation and channel).
    public private(set) var refreshes = 0

    private let credential: STUNLongTermCredential
    private var realm: String?
    private var nonce: String?
    private var integrityKey: HMACSHA1?
    private var outbox: [[UInt8]] = []
    private var transaction: Transaction?
    private var queued: [STUNMethod] = []
    private var refreshAllocationAt: ContinuousClock.Instant?
    private var refreshChannelAt: ContinuousClock.Instant?
    private let scratch: UnsafeMutableRawBufferPointer

    private struct Transaction {
        var method: STUNMethod
        var id: STUNTransactionID
        var bytes: [UInt8]
        var nextSend: ContinuousClock.Instant
        var interval: Duration
        var sends: Int
        var staleRetries = 0
    }

    /// Requests are sent at most this many times, 500 ms apart and doubling (RFC 8489 §6.2.1: Rc 7).
    static let maxSends = 7
    /// How often the channel binding is refreshed (bindings last 10 minutes, permissions 5).
    static let channelRefresh: Duration = .seconds(240)
    /// The lifetime asked for in Refresh (RFC 8656 §8: the default is 600 s).
    static let requestedLifetime: UInt32 = 600

    /// An allocation on `server` with `credential`, relaying to and from `peer` on `channel`.
    public init(server: STUNAddress, credential: STUNLongTermCredential, peer: STUNAddress, channel: UInt16 = 0x4000) {
        self.server = server
        self.credential = credential
        self.peer = peer
        self.channel = channel
        scratch = .allocate(byteCount: ChannelData.headerByteCount + 65_535, alignment: 16)
    }

    deinit { scratch.deallocate() }

    /// Sends the first Allocate.
    public func start(now: ContinuousClock.Instant) {
        send(.allocate, now: now)
    }

    /// The requests to send to `server`, in order; empties the outbox.
    public func takeOutgoing() -> [[UInt8]] {
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    /// When `handleTimers` should next run.
    public var nextDeadline: ContinuousClock.Instant? {
        guard state != .failed else { return nil }
        return [transaction?.nextSend, refreshAllocationAt, refreshChannelAt].compactMap { $0 }.min()
    }

    /// Retransmits an unanswered request, gives up after `maxSends`, and starts refreshes
    /// when due.
    public func handleTimers(now: ContinuousClock.Instant) {
        guard state != .failed else { return }
        if var t = transaction, now >= t.nextSend {
            guard t.sends < Self.maxSends else {
                return fail("no answer from the TURN server \(server) to \(Self.name(t.method))")
            }
            outbox.append(t.bytes)
            t.sends += 1
            t.interval = t.interval * 2
            t.nextSend = now + t.interval
            transaction = t
        }
        if let due = refreshAllocationAt, now >= due {
            refreshAllocationAt = nil
            enqueue(.refresh, now: now)
        }
        if let due = refreshChannelAt, now >= due {
            refreshChannelAt = nil
            enqueue(.channelBind, now: now)
        }
    }

    /// Handles a STUN message from `server`; returns false when it was not a response to
    /// the request in flight (ignored).
    @discardableResult
    public func receive(_ message: STUNMessageView, now: ContinuousClock.Instant) -> Bool {
        guard let t = transaction, message.transactionID == t.id, message.type.method == t.method,
              message.type.messageClass == .successResponse || message.type.messageClass == .errorResponse else { return false }
        if message.type.messageClass == .errorResponse {
            let code = (try? message.attribute(.errorCode)?.errorCode())?.code ?? 0
            let isChallenge = code == 401 && integrityKey == nil
            if code == 438 || isChallenge, t.staleRetries < 3,
               let realm = message.attribute(.realm).map({ String(decoding: $0.value, as: UTF8.self) }),
               let nonce = message.attribute(.nonce).map({ String(decoding: $0.value, as: UTF8.self) }) {
                // RFC 8489 §9.2.5: retry with the (new) REALM and NONCE.
                self.realm = realm
                self.nonce = nonce
                integrityKey = credential.integrityKey(realm: realm)
                let retries = t.staleRetries + 1
                transaction = nil
                send(t.method, now: now)
                transaction?.staleRetries = retries
                return true
            }
            let reason = (try? message.attribute(.errorCode)?.errorCode()).map { String(decoding: $0.reason, as: UTF8.self) } ?? ""
            fail("the TURN server answered \(Self.name(t.method)) with \(code) \(reason)"
                 + (code == 401 ? " (wrong username or password, or expired TURN credentials)" : ""))
            return true
        }
        if let integrityKey {
            // RFC 8489 §9.2.4: a response to an authenticated request must carry a valid MESSAGE-INTEGRITY.
            guard message.hasMessageIntegrity, (try? message.verifyMessageIntegrity(integrityKey)) != nil else {
                return false  // a forged or damaged response: wait for the real one
            }
        }
        transaction = nil
        switch t.method {
        case .allocate:
            relayedAddress = try? message.attribute(.xorRelayedAddress)?.xorMappedAddress(transactionID: message.transactionID)
            mappedAddress = try? message.attribute(.xorMappedAddress)?.xorMappedAddress(transactionID: message.transactionID)
            readLifetime(message, now: now)
            guard relayedAddress != nil else {
                fail("the TURN server's Allocate response has no XOR-RELAYED-ADDRESS")
                return true
            }
            state = .binding
            enqueue(.createPermission, now: now)
            enqueue(.channelBind, now: now)
        case .refresh:
            readLifetime(message, now: now)
            refreshes += 1
        case .channelBind:
            if state == .ready { refreshes += 1 }
            state = .ready
            refreshChannelAt = now + Self.channelRefresh
        default:
            break
        }
        sendQueued(now: now)
        return true
    }

    /// Wraps `packet` for the peer as ChannelData (RFC 8656 §12.4) and hands the message to
    /// `send`; returns what `send` returned (false before the channel is bound).
    @inline(__always)
    public func wrap(_ packet: UnsafeRawBufferPointer, _ send: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        guard state == .ready, packet.count <= 65_535, let source = packet.baseAddress else { return false }
        let length = ChannelData.writeHeader(channel: channel, length: packet.count, into: scratch)
        (scratch.baseAddress! + ChannelData.headerByteCount).copyMemory(from: source, byteCount: packet.count)
        return send(UnsafeRawBufferPointer(rebasing: scratch[0..<length]))
    }

    /// What a datagram from `server` carries for the peer: the data of ChannelData on our
    /// channel, or of a Data indication from `peer` (§11.4), as a slice of `datagram`; nil for
    /// anything else (a STUN response is handled here and also gives nil).
    @inline(__always)
    public func unwrap(_ datagram: UnsafeMutableRawBufferPointer, now: ContinuousClock.Instant) -> UnsafeMutableRawBufferPointer? {
        let bytes = UnsafeRawBufferPointer(datagram)
        if ChannelData.isChannelData(bytes) {
            guard let (number, range) = ChannelData.parse(bytes), number == channel else { return nil }
            return UnsafeMutableRawBufferPointer(rebasing: datagram[range])
        }
        guard STUNMessageView.isSTUN(bytes), let message = try? STUNMessageView(bytes) else { return nil }
        if message.type == STUNMessageType(method: .data, messageClass: .indication) {
            guard let from = try? message.attribute(.xorPeerAddress)?.xorMappedAddress(transactionID: message.transactionID),
                  from == peer, let data = message.attribute(.data) else { return nil }
            let start = data.value.baseAddress.map { $0 - bytes.baseAddress! } ?? 0
            return UnsafeMutableRawBufferPointer(rebasing: datagram[start..<(start + data.value.count)])
        }
        receive(message, now: now)
        return nil
    }

    // MARK: Requests

    private func enqueue(_ method: STUNMethod, now: ContinuousClock.Instant) {
        queued.append(method)
        sendQueued(now: now)
    }

    private func sendQueued(now: ContinuousClock.Instant) {
        guard transaction == nil, !queued.isEmpty, state != .failed else { return }
        send(queued.removeFirst(), now: now)
    }

    private func send(_ method: STUNMethod, now: ContinuousClock.Instant) {
        let id = STUNTransactionID.random()
        var builder = STUNMessageBuilder(type: .request(method), transactionID: id, integrityKey: integrityKey, fingerprint: true)
        do throws(WireError) {
            switch method {
            case .allocate:
                try builder.append(.requestedTransportUDP)
            case .refresh:
                try builder.append(.lifetime(Self.requestedLifetime))
            case .createPermission:
                try builder.append(.xorPeerAddress(peer, transactionID: id))
            case .channelBind:
                try builder.append(.channelNumber(channel))
                try builder.append(.xorPeerAddress(peer, transactionID: id))
            default:
                break
            }
            if let realm, let nonce {
                try builder.append(.username(credential.username))
                try builder.append(.realm(realm))
                try builder.append(.nonce(nonce))
            }
            let length = try builder.marshal(into: scratch)
            let bytes = Array(UnsafeRawBufferPointer(rebasing: scratch[0..<length]))
            outbox.append(bytes)
            transaction = Transaction(method: method, id: id, bytes: bytes, nextSend: now + .milliseconds(500),
                                      interval: .milliseconds(500), sends: 1)
        } catch {
            fail("cannot build the TURN \(Self.name(method)) request: \(error)")
        }
    }

    private func readLifetime(_ message: STUNMessageView, now: ContinuousClock.Instant) {
        if let seconds = try? message.attribute(.lifetime)?.uint32() { lifetime = .seconds(Int(seconds)) }
        // A minute before it ends (half of it when shorter than two minutes).
        refreshAllocationAt = now + (lifetime > .seconds(120) ? lifetime - .seconds(60) : lifetime / 2)
    }

    private func fail(_ message: String) {
        state = .failed
        failure = message
        transaction = nil
        queued.removeAll()
    }

    static func name(_ method: STUNMethod) -> String {
        switch method {
        case .allocate: "Allocate"
        case .refresh: "Refresh"
        case .createPermission: "CreatePermission"
        case .channelBind: "ChannelBind"
        default: "method \(method.rawValue)"
        }
    }
}
