/// Why a storage operation failed; `description` is one line an operator can act on.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Reason: String, Sendable, Equatable {
        /// The database file could not be opened or configured.
        case open
        /// A migration failed, or the file's schema is newer than this build knows.
        case migration
        /// SQLite rejected a statement (syntax, constraint, I/O, busy past the timeout).
        case statement
        /// A row did not hold what the schema promises.
        case corruptRow
    }

    /// The kind of failure.
    public let reason: Reason
    /// What happened, with SQLite's own message where there is one.
    public let message: String

    /// Creates an error.
    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(reason.rawValue): \(message)" }
}
