/// An account of a person or a station (docs/accounts.md): the subject its tokens carry, the
/// role and commune they are given, and whether it may sign in at all.
public struct AccountRecord: Sendable, Equatable, Codable {
    /// The subject of the account's tokens, unique ("can-bo-nguyen-van-a", "xa-phuoc-thai").
    public var subject: String
    /// The name shown to people.
    public var displayName: String
    /// The role its tokens carry (`chair`, `commune`, `camera`, `observer`, `admin`).
    public var role: String
    /// The commune it belongs to, if any.
    public var commune: String?
    /// Disabled accounts cannot sign in, refresh, or use tokens issued before.
    public var enabled: Bool
    /// The scrypt hash of its password (`PasswordHash.encoded`); nil for machine accounts.
    public var passwordHash: String?
    /// Failed sign-ins since the last successful one.
    public var failedAttempts: Int64
    /// Sign-in is refused until this time (milliseconds since 1970); nil when not locked.
    public var lockedUntil: Int64?
    /// When it was created, milliseconds since 1970.
    public var createdAt: Int64
    /// When it last changed, milliseconds since 1970.
    public var updatedAt: Int64

    /// Creates a record.
    public init(subject: String, displayName: String, role: String, commune: String? = nil, enabled: Bool = true,
                passwordHash: String? = nil, failedAttempts: Int64 = 0, lockedUntil: Int64? = nil,
                createdAt: Int64 = 0, updatedAt: Int64 = 0) {
        self.subject = subject
        self.displayName = displayName
        self.role = role
        self.commune = commune
        self.enabled = enabled
        self.passwordHash = passwordHash
        self.failedAttempts = failedAttempts
        self.lockedUntil = lockedUntil
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The lockout rule: from the `threshold`-th failed sign-in on, each failure locks the account
/// for `base` seconds, doubling with every further failure, at most `maximum`.
public struct LockoutPolicy: Sendable, Equatable {
    /// Failures before the first lock.
    public var threshold: Int64 = 5
    /// The first lock, milliseconds.
    public var base: Int64 = 30_000
    /// The longest lock, milliseconds.
    public var maximum: Int64 = 900_000

    /// The default policy: 5 failures, then 30 s doubling up to 15 min.
    public init() {}

    /// How long the `failures`-th consecutive failure locks the account (0: not at all).
    public func lock(afterFailures failures: Int64) -> Int64 {
        guard failures >= threshold else { return 0 }
        let doublings = min(failures - threshold, 20)
        return min(base << doublings, maximum)
    }
}
