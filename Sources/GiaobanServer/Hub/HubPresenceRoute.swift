import Foundation
import GiaobanStore
import Hummingbird
import GiaobanAuth
import GiaobanHub

/// `GET /api/communes/presence` (chair, admin, observer): which communes of the directory hold
/// an open event socket (`GET /api/events`) on this node now, and the routing radius, so the
/// console's province map can shade the connected communes and draw the circle an incident is
/// routed within (docs/console.md).
///
/// Answer: `{"connected": ["xa-…", …], "routing_radius_m": 1000}`, ids sorted. With PostgreSQL
/// storage each node answers for its own sockets: a commune connected to another node is not
/// listed.
extension Hub {
    func addPresenceRoute(to router: Router<some RequestContext>) {
        router.get("/api/communes/presence") { request, _ in try await self.presence(request) }
    }

    /// Who may read the presence: the command center.
    static let presenceReaders: Set<Role> = [.chair, .admin, .observer]

    func presence(_ request: Request) async throws -> Response {
        _ = try tokens.authorize(request, roles: Self.presenceReaders)
        let communes = try await stored("read the communes") { () async throws(StoreError) in try await directory.communes() }
        // A commune's event channel is its id (docs/hub.md); the command channel is not a commune.
        let connected = communes.map(\.id).filter { events.isConnected($0) }.sorted()
        return Self.rawJSON(["connected": connected, "routing_radius_m": settings.routingRadiusMetres] as [String: Any])
    }
}
