import GiaobanICE
import GiaobanWire

/// The controlling side of ICE toward an ICE-lite relay (RFC 8445 §2.5): binding requests
/// that nominate the one candidate pair (USE-CANDIDATE, §7.1.2), retransmitted until a
/// success response authenticated with the relay's password arrives; afterwards, consent
/// freshness checks every few seconds (RFC 7675 §5.1).
///
/// A peer that is a full agent, or a lite one that still sends triggered checks (libnice,
/// so Janus, does), gets its own checks answered too (`answer(_:from:)`, RFC 8445 §7.3).
///
/// I/O-free: `request(now:)` returns the bytes to send, `handle(_:now:)` reads a response.
struct ICEConnectivityCheck {
    /// What a response meant.
    enum Outcome: Equatable {
        /// A success response to our outstanding request.
        case success
        /// An error response (e.g. 487 role conflict, RFC 8445 §7.3.1.1), with its code.
        case failure(code: Int)
        /// Not ours: unknown transaction, bad integrity or fingerprint, or not a response.
        case ignored
    }

    /// Our credentials (in our offer).
    let local: ICECredentials
    /// The relay's credentials (in its answer); its password keys every check.
    let remote: ICECredentials
    /// The ICE-CONTROLLING tie-breaker (RFC 8445 §7.1.3).
    let tieBreaker: UInt64
    private let key: HMACSHA1
    /// Our password's key: the peer's checks are authenticated with it (RFC 8445 §7.2.2).
    private let localKey: HMACSHA1
    /// The requests not yet answered (retransmissions of a check keep the first ID only
    /// when nothing else changed; RFC 8489 §6.2.1 lets a new ID be used too).
    private var outstanding: [(id: STUNTransactionID, sent: ContinuousClock.Instant)] = []
    /// When the next request is due.
    private(set) var nextRequest: ContinuousClock.Instant
    /// The current retransmission interval.
    private var interval: Duration
    /// When the last success response arrived.
    private(set) var lastSuccess: ContinuousClock.Instant?
    /// The time from the last answered request to its response: a round trip to the relay,
    /// measured on every consent check (each request has its own transaction ID, so a
    /// response is never paired with the wrong request).
    private(set) var lastRoundTrip: Duration?

    /// The PRIORITY a peer-reflexive candidate of ours would get (type preference 110,
    /// local preference 65535, component 1; RFC 8445 §7.1.1).
    static let priority: UInt32 = 1_853_824_767
    /// First retransmission interval of a check while connecting.
    static let initialInterval: Duration = .milliseconds(100)
    /// Longest retransmission interval while connecting.
    static let maximumInterval: Duration = .milliseconds(800)
    /// Interval of consent checks once connected (RFC 7675 §5.1: 4–6 s, randomized).
    static let consentInterval: ClosedRange<Int> = 4_000...6_000

    init(local: ICECredentials, remote: ICECredentials, now: ContinuousClock.Instant) {
        self.local = local
        self.remote = remote
        var rng = SystemRandomNumberGenerator()
        tieBreaker = rng.next()
        key = HMACSHA1(key: remote.pwd)
        localKey = HMACSHA1(key: local.pwd)
        nextRequest = now
        interval = Self.initialInterval
    }

    /// True when at least one success response arrived.
    var succeeded: Bool { lastSuccess != nil }

    /// A binding request due at `now` (nil when none is), scheduling the next one:
    /// backing off while connecting, every 4–6 s once a check succeeded.
    mutating func request(now: ContinuousClock.Instant) -> [UInt8]? {
        guard now >= nextRequest else { return nil }
        if succeeded {
            nextRequest = now + .milliseconds(Int.random(in: Self.consentInterval))
        } else {
            nextRequest = now + interval
            interval = min(interval * 2, Self.maximumInterval)
        }
        let id = STUNTransactionID.random()
        outstanding.append((id, now))
        if outstanding.count > 8 { outstanding.removeFirst() }
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: id, integrityKey: key, fingerprint: true)
        do {
            try builder.append(.username("\(remote.ufrag):\(local.ufrag)"))
            try builder.append(.priority(Self.priority))
            try builder.append(.iceControlling(tieBreaker))
            try builder.append(.useCandidate)
            var bytes = [UInt8](repeating: 0, count: builder.marshalSize)
            let n = try bytes.withUnsafeMutableBytes { buffer throws(WireError) in try builder.marshal(into: buffer) }
            return Array(bytes.prefix(n))
        } catch {
            return nil  // the attributes above always fit; nothing to send otherwise
        }
    }

    /// The success response to a binding request of the peer's (RFC 8445 §7.3.1.4), seen from
    /// `source`; nil when it is not one, or does not carry our ufrag, our password's
    /// integrity and a valid fingerprint. The client keeps its controlling role: a peer that
    /// claims it too is answered all the same, and its 487 to our checks fails the connection.
    func answer(_ request: STUNMessageView, from source: STUNAddress) -> [UInt8]? {
        guard request.type == .bindingRequest, request.hasFingerprint, (try? request.verifyFingerprint()) != nil,
              request.hasMessageIntegrity, (try? request.verifyMessageIntegrity(localKey)) != nil,
              let username = request.username,
              String(decoding: username.value, as: UTF8.self) == "\(local.ufrag):\(remote.ufrag)" else { return nil }
        let response = STUNMessageBuilder.bindingSuccess(transactionID: request.transactionID, mappedAddress: source, integrityKey: localKey)
        var bytes = [UInt8](repeating: 0, count: response.marshalSize)
        guard let n = try? bytes.withUnsafeMutableBytes({ buffer throws(WireError) in try response.marshal(into: buffer) }) else { return nil }
        return Array(bytes.prefix(n))
    }

    /// Reads a STUN message from the relay.
    mutating func handle(_ message: STUNMessageView, now: ContinuousClock.Instant) -> Outcome {
        guard message.type == .bindingSuccess || message.type == .bindingError,
              let index = outstanding.firstIndex(where: { $0.id == message.transactionID }) else { return .ignored }
        if message.hasFingerprint, (try? message.verifyFingerprint()) == nil { return .ignored }
        guard message.hasMessageIntegrity, (try? message.verifyMessageIntegrity(key)) != nil else { return .ignored }
        let sent = outstanding.remove(at: index).sent
        if message.type == .bindingError {
            let code = (try? message.errorCode())??.code ?? 0
            return .failure(code: Int(code))
        }
        if lastSuccess == nil {
            // Connected: the next check is a consent check.
            nextRequest = now + .milliseconds(Int.random(in: Self.consentInterval))
        }
        lastSuccess = now
        lastRoundTrip = now - sent
        return .success
    }
}
