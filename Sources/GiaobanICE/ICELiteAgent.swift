public import GiaobanWire

/// The relay's side of ICE for one peer: an ICE-lite agent (RFC 8445 §2.5), always in the
/// controlled role, that answers connectivity checks and follows the peer's nomination, and
/// tracks consent freshness (RFC 7675).
///
/// It holds no sockets and no clock: `handle` takes a parsed binding request, the source
/// address and the time, and writes the response into the caller's buffer.
///
/// Where media goes, and who keeps it going (docs/security.md):
/// - The first authenticated check selects its source address (a peer that never nominates
///   still gets a path); after that the address changes only on an authenticated check that
///   carries USE-CANDIDATE, comes from the new address, and has a transaction ID not among the
///   last `replayWindow` checks (RFC 8445 §7.3.1.5: a nomination is a check on that pair;
///   §9: any other change of destination needs an ICE restart, i.e. new credentials).
/// - A request whose transaction ID was seen from another address is a replay: dropped,
///   unanswered. The same ID from the same address is a STUN retransmission (RFC 8489 §6.3.1):
///   answered again, but it changes nothing.
/// - Consent (RFC 7675 §5.1) is per candidate pair: only a fresh check from the selected
///   address refreshes it; checks from other addresses are answered but do not.
public final class ICELiteAgent {
    /// Our credentials (in our SDP answer).
    public let local: ICECredentials
    /// The peer's credentials (from its offer).
    public let remote: ICECredentials
    /// The address the peer nominated (USE-CANDIDATE), where media goes.
    public private(set) var selectedAddress: STUNAddress?
    /// When the last authenticated check arrived.
    public private(set) var lastCheck: ContinuousClock.Instant?
    /// The HMAC key (our password) absorbed once for all checks.
    private let key: HMACSHA1
    /// Transaction IDs of the latest authenticated checks and their sources (a ring).
    private var recentIDs: [STUNTransactionID]
    private var recentSources: [STUNAddress?]
    private var recentNext = 0

    /// How many recent transaction IDs are remembered to tell replays from new checks.
    public static let replayWindow = 64

    /// How long a peer may stay silent before consent expires (RFC 7675 §5.1: 30 s).
    public static let consentTimeout: Duration = .seconds(30)

    /// Creates the agent for one peer. An ICE restart passes the old agent's last check as
    /// `consentSince`, so consent still expires if the new credentials are never checked.
    public init(local: ICECredentials, remote: ICECredentials, consentSince: ContinuousClock.Instant? = nil) {
        self.local = local
        self.remote = remote
        lastCheck = consentSince
        key = HMACSHA1(key: local.pwd)
        recentIDs = Array(repeating: STUNTransactionID(high: 0, low: 0), count: Self.replayWindow)
        recentSources = Array(repeating: nil, count: Self.replayWindow)
    }

    /// What `handle` decided.
    public enum Outcome: Equatable, Sendable {
        /// Send the `length` response bytes back; `nominated` when this check selected the address.
        case respond(length: Int, nominated: Bool)
        /// Drop the request without answering, for `reason` (a metric label).
        case drop(reason: DropReason)
    }

    /// Why a check was dropped; stable names used as metric labels.
    public enum DropReason: String, Sendable, CaseIterable {
        /// MESSAGE-INTEGRITY missing or wrong.
        case badIntegrity = "stun_bad_integrity"
        /// FINGERPRINT missing or wrong.
        case badFingerprint = "stun_bad_fingerprint"
        /// USERNAME is not "ourUfrag:theirUfrag".
        case badUsername = "stun_bad_username"
        /// Not a binding request, or a required attribute is missing or malformed.
        case badRequest = "stun_bad_request"
        /// An authenticated check seen before from another address (a copy sent again).
        case replayed = "stun_replayed"
    }

    /// Handles a binding request from `source` received at `now`; the response (success, or
    /// 487 role conflict) is written to `out`. Nothing changes unless the request authenticates.
    public func handle(_ request: STUNMessageView, from source: STUNAddress, now: ContinuousClock.Instant,
                       into out: UnsafeMutableRawBufferPointer) -> Outcome {
        guard request.type == .bindingRequest else { return .drop(reason: .badRequest) }
        guard request.hasFingerprint, (try? request.verifyFingerprint()) != nil else { return .drop(reason: .badFingerprint) }
        guard request.hasMessageIntegrity, (try? request.verifyMessageIntegrity(key)) != nil else {
            return .drop(reason: .badIntegrity)
        }
        guard let username = request.username, Self.usernameMatches(username.value, local: local.ufrag, remote: remote.ufrag) else {
            return .drop(reason: .badUsername)
        }
        guard let priority = try? request.priority(), priority != nil else { return .drop(reason: .badRequest) }
        let seen = recentSources.indices.first { recentSources[$0] != nil && recentIDs[$0] == request.transactionID }
        if let seen, recentSources[seen] != source { return .drop(reason: .replayed) }
        let fresh = seen == nil
        // A lite agent is always controlled (RFC 8445 §6.1.3.1); a peer claiming the controlled
        // role too gets 487 and must switch (§7.3.1.1).
        if (try? request.iceControlled()) ?? nil != nil {
            let response = STUNMessageBuilder.bindingError(transactionID: request.transactionID, error: .roleConflict, integrityKey: key)
            guard let n = try? response.marshal(into: out) else { return .drop(reason: .badRequest) }
            return .respond(length: n, nominated: false)
        }
        let response = STUNMessageBuilder.bindingSuccess(transactionID: request.transactionID, mappedAddress: source, integrityKey: key)
        guard let n = try? response.marshal(into: out) else { return .drop(reason: .badRequest) }
        guard fresh else { return .respond(length: n, nominated: false) }  // a retransmission: answered, nothing changes
        recentIDs[recentNext] = request.transactionID
        recentSources[recentNext] = source
        recentNext = (recentNext + 1) % Self.replayWindow
        var nominated = false
        if selectedAddress == nil {
            // Aggressive nomination is gone from RFC 8445, but a peer that never nominates still
            // gets a working path: the first authenticated address is used until one is nominated.
            selectedAddress = source
            nominated = true
        } else if request.useCandidate && selectedAddress != source {
            selectedAddress = source
            nominated = true
        }
        if selectedAddress == source { lastCheck = now }
        return .respond(length: n, nominated: nominated)
    }

    /// True when consent has expired at `now` (no authenticated check for `consentTimeout`).
    public func consentExpired(now: ContinuousClock.Instant) -> Bool {
        guard let lastCheck else { return false }
        return now - lastCheck > Self.consentTimeout
    }

    /// The local ufrag of a USERNAME value "local:remote" (RFC 8445 §7.2.2): how the relay
    /// finds the peer a check is for.
    public static func localUfrag(ofUsername value: UnsafeRawBufferPointer) -> String? {
        guard let colon = value.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: value[0..<colon]), as: UTF8.self)
    }

    static func usernameMatches(_ value: UnsafeRawBufferPointer, local: String, remote: String) -> Bool {
        let l = local.utf8, r = remote.utf8
        guard value.count == l.count + 1 + r.count else { return false }
        var i = 0
        for b in l { if value[i] != b { return false }; i += 1 }
        if value[i] != UInt8(ascii: ":") { return false }
        i += 1
        for b in r { if value[i] != b { return false }; i += 1 }
        return true
    }
}
