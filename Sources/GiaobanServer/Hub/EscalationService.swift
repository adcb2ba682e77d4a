public import ServiceLifecycle
public import GiaobanHub

/// The hub's escalation timer as a service: checks overdue deliveries every interval until
/// graceful shutdown.
public struct EscalationService: Service, CustomStringConvertible {
    let hub: Hub

    /// A service running `hub`'s escalation checks.
    public init(hub: Hub) { self.hub = hub }

    public var description: String { "EscalationService" }

    /// Runs the escalation loop; graceful shutdown cancels it between checks.
    public func run() async throws {
        let hub = hub
        try? await cancelWhenGracefulShutdown { await hub.runEscalation() }
    }
}
