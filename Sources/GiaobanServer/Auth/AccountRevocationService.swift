public import ServiceLifecycle
public import GiaobanHub
import GiaobanStore

/// Keeps the token authority's revocations (`SubjectRevocations`) equal to the disabled
/// accounts in the database, read every `interval`: a disabled account's tokens are refused
/// on every node within that time (docs/accounts.md).
public struct AccountRevocationService: Service, CustomStringConvertible {
    let hub: Hub
    let interval: Duration

    /// A service refreshing `hub`'s revocations every `interval` (default 2 s).
    public init(hub: Hub, interval: Duration = .seconds(2)) {
        self.hub = hub
        self.interval = interval
    }

    public var description: String { "AccountRevocationService" }

    /// Reads the disabled accounts until graceful shutdown.
    public func run() async throws {
        let hub = hub
        await repeatUntilShutdown(every: interval) { await hub.refreshRevocations() }
    }
}

extension Hub {
    /// Reads the disabled accounts into the token authority's revocations (nothing when it has
    /// none); a failed read keeps the last set and is logged.
    func refreshRevocations() async {
        guard let revocations = tokens.revocations else { return }
        let accounts = AccountStore(database: database)
        do throws(StoreError) {
            let disabled = try await database.onQueue { () throws(StoreError) in try accounts.disabledSubjectsNow() }
            let added = revocations.replace(with: disabled)
            if !added.isEmpty { logger.notice("tokens of disabled accounts refused", metadata: ["subjects": "\(added.sorted())"]) }
        } catch {
            logger.error("cannot read the disabled accounts; the last list stays in force", metadata: ["error": "\(error)"])
        }
    }
}
