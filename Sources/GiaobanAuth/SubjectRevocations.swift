import Synchronization

/// The subjects whose tokens are refused now (disabled accounts, docs/accounts.md): a set the
/// server replaces every few seconds from the database and every request reads without waiting.
/// Shared by every copy of the `TokenAuthority` that holds it.
public final class SubjectRevocations: Sendable {
    private let subjects = Mutex<Set<String>>([])

    /// An empty set: nobody is refused.
    public init() {}

    /// Whether tokens of `subject` are refused.
    public func isRevoked(_ subject: String) -> Bool { subjects.withLock { $0.contains(subject) } }

    /// Replaces the set; returns the subjects newly revoked.
    @discardableResult
    public func replace(with revoked: Set<String>) -> Set<String> {
        subjects.withLock { current in
            let added = revoked.subtracting(current)
            current = revoked
            return added
        }
    }
}
