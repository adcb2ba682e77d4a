import Synchronization

/// What a subject may do how often (`security.*_per_minute`, docs/security.md): each kind of
/// request has a budget per minute, refilled evenly (a token bucket holding one minute's worth).
public struct RateLimits: Sendable, Equatable {
    /// The kinds of request that are limited.
    public enum Kind: String, Sendable, CaseIterable {
        /// `POST /api/incidents` (JSON and CAP).
        case incident
        /// `POST /api/briefings`.
        case briefing
        /// `POST /api/auth/signin`, by the subject named in the body.
        case signIn = "sign-in"
        /// Opening a meeting room's WebSocket.
        case roomJoin = "room join"
    }

    /// Incidents one subject may post per minute.
    public var incidentsPerMinute = 120
    /// Briefings one subject may send per minute.
    public var briefingsPerMinute = 20
    /// Sign-in attempts per minute for one subject.
    public var signInsPerMinute = 10
    /// Room joins per minute of one subject.
    public var roomJoinsPerMinute = 30

    /// The defaults.
    public init() {}

    /// The budget per minute of `kind`.
    public func perMinute(_ kind: Kind) -> Int {
        switch kind {
        case .incident: incidentsPerMinute
        case .briefing: briefingsPerMinute
        case .signIn: signInsPerMinute
        case .roomJoin: roomJoinsPerMinute
        }
    }
}

/// Token buckets per (kind, subject): `take` spends one request or says how long to wait.
/// Buckets that have refilled are forgotten, so the table holds only recently busy subjects.
public final class SubjectRateLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var at: Int64
    }

    let limits: RateLimits
    private let buckets = Mutex<[String: Bucket]>([:])

    /// A limiter with `limits`.
    public init(limits: RateLimits) { self.limits = limits }

    /// Spends one request of `kind` for `subject` at `now` (milliseconds): nil when allowed,
    /// else the seconds to wait before the next one is (at least 1).
    public func take(_ kind: RateLimits.Kind, subject: String, now: Int64) -> Int? {
        let capacity = Double(max(limits.perMinute(kind), 1))
        let perMillisecond = capacity / 60_000
        let key = kind.rawValue + "\u{0}" + subject
        return buckets.withLock { table -> Int? in
            var bucket = table[key] ?? Bucket(tokens: capacity, at: now)
            bucket.tokens = min(capacity, bucket.tokens + Double(max(0, now - bucket.at)) * perMillisecond)
            bucket.at = now
            if table.count > 10_000 { table = table.filter { now - $0.value.at < 60_000 } }
            guard bucket.tokens >= 1 else {
                table[key] = bucket
                return max(1, Int(((1 - bucket.tokens) / perMillisecond / 1_000).rounded(.up)))
            }
            bucket.tokens -= 1
            table[key] = bucket
            return nil
        }
    }
}
