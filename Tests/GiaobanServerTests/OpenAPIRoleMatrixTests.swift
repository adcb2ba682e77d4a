import Foundation
@testable import GiaobanServer
import Hummingbird
import HummingbirdTesting
import Testing
import GiaobanAuth
import GiaobanHub

/// The `x-roles` of every operation in docs/openapi.yaml is what the router enforces: every
/// served route is asked once per role and once without a token. A role in `x-roles` passes the
/// token and role check (neither 401 nor a role's 403); any other role gets 403, no token 401
/// (`any`: every valid token passes; `public`: no token needed). A served route whose operation
/// has no `x-roles` fails.
///
/// A 403 for a role outside `x-roles` could also come from an object rule (an incident not
/// routed to the commune asking) and hide a missing role check. So the probe subjects pass
/// every object rule first: the incident, the briefing and the meeting with id 1 are routed to,
/// addressed to and attended by the probe commune `xa-a`, and the probe camera `cam-1` is in
/// the directory; any 403 left is the role's.
@Suite("OpenAPI: x-roles matches the router for every route and role")
struct OpenAPIRoleMatrixTests {
    /// The subject of each role's probe token.
    static let subjects: [Role: String] = [.chair: "officer", .commune: "xa-a", .camera: "cam-1", .observer: "watcher", .admin: "admin-1"]
    /// The words `x-roles` may hold besides role names.
    static let anyRole = "any", publicRoute = "public"

    /// Whether a request as `role` (nil: no token) must get through the token and role check.
    static func admits(_ roles: [String], _ role: Role?) -> Bool {
        if roles.contains(publicRoute) { return true }
        guard let role else { return false }
        return roles.contains(anyRole) || roles.contains(role.rawValue)
    }

    /// What `x-roles` lists that is not a role, or `any`/`public` with something else.
    static func problems(_ roles: [String]) -> [String] {
        let known = Set(Role.allCases.map(\.rawValue))
        var found = roles.filter { !known.contains($0) && $0 != anyRole && $0 != publicRoute }.map { "unknown role '\($0)'" }
        if roles.count > 1, roles.contains(anyRole) || roles.contains(publicRoute) { found.append("'any' and 'public' stand alone") }
        return found
    }

    /// Stores what the probe subjects' object rules ask about, through the routes themselves:
    /// incident 1 (routed to `xa-a`), briefing 1 with attachment 1 (addressed to `xa-a`) and
    /// meeting 1 (attended by `xa-a`).
    static func seed(_ hub: Hub, _ clock: ManualClock, _ client: any TestClientProtocol) async throws {
        let camera = HubFixture.headers(.camera, "cam-1")
        try await client.execute(uri: "/api/incidents", method: .post, headers: camera,
                                 body: HubFixture.report("probe-1", lat: 10.85, lon: 106.85)) { r in
            #expect(r.status == .created && jsonObject(String(buffer: r.body))["id"] as? Int == 1, "\(String(buffer: r.body))")
        }
        let briefing = #"{"title": "Probe", "body": "Probe", "audience": {"communes": ["xa-a"]}, "attachments": [{"name": "a.txt", "content_type": "text/plain", "data": "YQ=="}]}"#
        try await client.execute(uri: "/api/briefings", method: .post, headers: HubFixture.headers(.chair, "officer"),
                                 body: ByteBuffer(string: briefing)) { r in
            #expect(r.status == .created && jsonObject(String(buffer: r.body))["id"] as? Int == 1, "\(String(buffer: r.body))")
        }
        let meeting = try await hub.meetings.create(title: "probe", scheduledAt: "2026-12-06T07:30:00+07:00", durationMinutes: 30,
                                                    createdBy: "officer", now: clock.read())
        #expect(meeting == 1)
        #expect(try await hub.meetings.join(meetingID: meeting, participant: "xa-a", role: "commune", now: clock.read()))
        // The object rules let the probe commune through: a later 403 cannot be one of them.
        for uri in ["/api/incidents/1", "/api/briefings/1", "/api/briefings/1/attachments/1", "/api/meetings/1/recordings"] {
            try await client.execute(uri: uri, method: .get, headers: HubFixture.headers(.commune, "xa-a")) { r in
                #expect(r.status == .ok, "the probe commune reads \(uri): \(r.status) \(String(buffer: r.body))")
            }
        }
    }

    @Test("every operation's x-roles names known roles only")
    func knownRoles() throws {
        let operations = try OpenAPITests.operations()
        #expect(operations.count > 30)
        for (operation, roles) in operations.sorted(by: { $0.key < $1.key }) {
            #expect(Self.problems(roles) == [], "\(operation): x-roles \(roles)")
        }
    }

    @Test("every served route has x-roles, and each role and no token get the answer x-roles says")
    func matrix() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let operations = try OpenAPITests.operations()
        let (hub, clock) = (fixture.hub, fixture.clock)
        let cells = try await SecurityRoleTableTests.withControlPlane(hub: hub) { routes, client -> Int in
            try await Self.seed(hub, clock, client)
            var cells = 0
            for route in routes {
                let name = OpenAPITests.canonical(route.method.rawValue, route.path)
                guard let roles = operations[name], !roles.isEmpty else {
                    Issue.record("\(name) is served but its operation in docs/openapi.yaml has no x-roles")
                    continue
                }
                for role in [nil] + Role.allCases {
                    let subject = role.flatMap { Self.subjects[$0] } ?? ""
                    let (status, body) = try await SecurityRoleTableTests.ask(client, route, as: role, subject: subject)
                    let who = role?.rawValue ?? "no token"
                    if Self.admits(roles, role) {
                        #expect(SecurityRoleTableTests.mark(status, body) == "✓",
                                "\(name) as \(who): x-roles \(roles) lets it through, the router answered \(status.code) \(body)")
                    } else {
                        let expected: HTTPResponse.Status = role == nil ? .unauthorized : .forbidden
                        #expect(status == expected, "\(name) as \(who): x-roles \(roles) refuses it (\(expected.code)), the router answered \(status.code) \(body)")
                    }
                    cells += 1
                }
            }
            return cells
        }
        #expect(cells >= 40 * (Role.allCases.count + 1), "every route was asked as every role")
    }
}
