import Foundation
@testable import GiaobanServer
import GiaobanStore
import Hummingbird
import HummingbirdTesting
import Testing
import GiaobanAuth
import GiaobanHub

/// `GET /api/communes/presence`: the communes holding an event socket, the routing radius, and
/// who may ask.
@Suite("Hub: commune presence for the console's map")
struct HubPresenceRouteTests {
    static func presence(_ client: some TestClientProtocol, _ role: Role = .chair, _ subject: String = "officer")
        async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(uri: "/api/communes/presence", method: .get, headers: HubFixture.headers(role, subject, json: false)) { r in
            (r.status, jsonObject(String(buffer: r.body)))
        }
    }

    @Test("lists the communes with an open event channel, sorted, without the command channel")
    func connectedCommunes() async throws {
        let fixture = try await HubFixture(radius: 750)
        defer { fixture.cleanup() }
        let events = fixture.hub.events
        try await fixture.application().test(.router) { client in
            var (status, answer) = try await Self.presence(client)
            #expect(status == .ok)
            #expect(answer["connected"] as? [String] == [])
            #expect(answer["routing_radius_m"] as? Double == 750)

            let d = events.subscribe(channel: "xa-d")
            let b1 = events.subscribe(channel: "xa-b")
            let b2 = events.subscribe(channel: "xa-b")
            let command = events.subscribe(channel: commandCenterRecipient)
            let stranger = events.subscribe(channel: "xa-not-in-directory")
            (status, answer) = try await Self.presence(client, .observer, "watcher")
            #expect(status == .ok)
            #expect(answer["connected"] as? [String] == ["xa-b", "xa-d"])

            // A commune stays connected while one of its sockets is open.
            events.unsubscribe(channel: "xa-b", id: b1.id)
            events.unsubscribe(channel: "xa-d", id: d.id)
            (_, answer) = try await Self.presence(client, .admin, "admin-1")
            #expect(answer["connected"] as? [String] == ["xa-b"])
            events.unsubscribe(channel: "xa-b", id: b2.id)
            events.unsubscribe(channel: commandCenterRecipient, id: command.id)
            events.unsubscribe(channel: "xa-not-in-directory", id: stranger.id)
            (_, answer) = try await Self.presence(client)
            #expect(answer["connected"] as? [String] == [])
        }
    }

    @Test("communes and cameras may not ask; no token is 401", arguments: [(Role.commune, "xa-a"), (Role.camera, "cam-1")])
    func refused(role: Role, subject: String) async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            let (status, _) = try await Self.presence(client, role, subject)
            #expect(status == .forbidden)
            try await client.execute(uri: "/api/communes/presence", method: .get) { r in #expect(r.status == .unauthorized) }
        }
    }

    @Test("the constant path wins over a commune id: /api/communes/{id} still answers")
    func communeByID() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/api/communes/xa-a", method: .get, headers: HubFixture.headers(.chair, "officer")) { r in
                #expect(r.status == .ok)
                #expect(jsonObject(String(buffer: r.body))["id"] as? String == "xa-a")
            }
        }
    }
}
