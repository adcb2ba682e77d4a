public import ServiceLifecycle
public import GiaobanHub
import GiaobanStore
import GiaobanAuth

/// Keeps the token authority's revocations (`SubjectRevocations`) equal to the disabled
/// accounts in the database, read every `interval`: a disabled account's tokens are refused
/// on every node within that time (docs/accounts.md).
public struct AccountRevocationService: Service, CustomStringConvertible {
    let hub: Hub
    let sessions: RelaySessions?
    let interval: Duration

    /// A service refreshing `hub`'s revocations and API keys every `interval` (default 2 s) and
    /// ending the media sessions of `sessions` that a revocation took away.
    public init(hub: Hub, sessions: RelaySessions? = nil, interval: Duration = .seconds(2)) {
        self.hub = hub
        self.sessions = sessions
        self.interval = interval
    }

    public var description: String { "AccountRevocationService" }

    /// Reads the disabled accounts until graceful shutdown.
    public func run() async throws {
        let hub = hub, sessions = sessions
        await repeatUntilShutdown(every: interval) {
            await hub.refreshRevocations()
            await sessions?.endRevoked()
        }
    }
}

extension Hub {
    /// Reads the disabled accounts into the token authority's revocations and the working API
    /// keys into its grants (each only when the authority has one); a failed read keeps the last
    /// sets and is logged.
    func refreshRevocations() async {
        let accounts = accounts, keys = apiKeys
        do throws(StoreError) {
            if let revocations = tokens.revocations {
                let disabled = try await database.onQueue { () throws(StoreError) in try accounts.disabledSubjectsNow() }
                let added = revocations.replace(with: disabled)
                if !added.isEmpty { logger.notice("tokens of disabled accounts refused", metadata: ["subjects": "\(added.sorted())"]) }
            }
            if let grants = tokens.apiKeys {
                let active = try await database.onQueue { () throws(StoreError) in try keys.activeNow() }
                var table: [String: APIKeyGrants.Grant] = [:]
                for key in active {
                    guard let role = Role(rawValue: key.role) else { continue }
                    table[key.digest] = APIKeyGrants.Grant(id: key.id, subject: key.subject, role: role, commune: key.commune)
                }
                grants.replace(with: table)
            }
        } catch {
            logger.error("cannot read the disabled accounts and API keys; the last lists stay in force", metadata: ["error": "\(error)"])
        }
    }
}
