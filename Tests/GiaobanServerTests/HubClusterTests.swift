import Foundation
@testable import GiaobanServer
import GiaobanStore
import GiaobanHub
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import GiaobanTestSupport

/// Two nodes (two hubs) on one PostgreSQL database: what one commits reaches the other's
/// sockets live over LISTEN/NOTIFY, and a listener that lost its connection catches up.
@Suite("Hub events across nodes", .postgresStarted)
struct HubClusterTests {
    /// Node A (the fixture, seeded) and node B, a second hub over the same database, both listening.
    static func nodes() async throws -> (a: HubFixture, b: Hub) {
        let a = try await HubFixture(.postgresql)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let clock = a.clock
        let b = try await Hub(database: try a.temp.open(), tokens: HubFixture.authority, settings: a.hub.settings,
                              logger: logger, clock: { clock.read() })
        let url = try #require(a.temp.url)
        try await a.hub.joinCluster(url: url, node: "node")
        try await b.joinCluster(url: url, node: "node")
        try await listening(a.hub, connections: 1)
        try await listening(b, connections: 1)
        return (a, b)
    }

    static func listener(_ hub: Hub) throws -> PostgresListener { try #require(hub.cluster.withLock { $0 }).listener }

    /// Waits until `hub`'s listener has put LISTEN in place `connections` times.
    static func listening(_ hub: Hub, connections: Int) async throws {
        let listener = try listener(hub)
        try await withTimeout(10, "LISTEN in place") {
            while listener.connections.load(ordering: .relaxed) < connections { try await Task.sleep(for: .milliseconds(10)) }
        }
    }

    /// The first message on `mailbox` of `type`.
    static func next(_ mailbox: AsyncStream<String>, type: String) async throws -> [String: Any] {
        let text = try await withTimeout(10, "a '\(type)' push") { () async -> String? in
            for await text in mailbox where jsonObject(text)["type"] as? String == type { return text }
            return nil
        }
        return jsonObject(try #require(text))
    }

    /// Posts an incident inside xa-a on node A's HTTP routes; its id.
    static func post(_ identifier: String, on a: HubFixture) async throws -> Int64 {
        let id = Mutex<Int64>(0)
        try await a.application().test(.router) { client in
            try await client.execute(uri: "/api/incidents", method: .post, headers: HubFixture.headers(.camera, "cam-1"),
                                     body: HubFixture.report(identifier, lat: 10.85, lon: 106.85)) { response in
                #expect(response.status == .created)
                id.withLock { $0 = Int64(jsonObject(String(buffer: response.body))["id"] as? Int ?? 0) }
            }
        }
        return id.withLock { $0 }
    }

    @Test("an incident posted on node A reaches a commune on node B; B's acknowledgement reaches A's command center")
    func liveAcrossNodes() async throws {
        let (a, b) = try await Self.nodes()
        defer { a.hub.leaveCluster(); b.leaveCluster(); a.cleanup() }
        #expect(try Self.listener(a.hub).channel == HubCluster.channel)
        #expect(a.hub.cluster.withLock { $0?.origin } != b.cluster.withLock { $0?.origin }, "two nodes named alike get distinct tags")
        let commune = b.events.subscribe(channel: "xa-a")
        let command = a.hub.events.subscribe(channel: commandCenterRecipient)

        let id = try await Self.post("node-a-1", on: a)
        let pushed = try await Self.next(commune.messages, type: "incident")
        #expect((pushed["incident"] as? [String: Any])?["identifier"] as? String == "node-a-1")
        #expect((pushed["incident"] as? [String: Any])?["id"] as? Int == Int(id))

        _ = try await b.acknowledge(incidentID: id, recipient: "xa-a", actor: "xa-a")
        let receipt = try await Self.next(command.messages, type: "receipt")
        #expect(receipt["recipient"] as? String == "xa-a")
        #expect(receipt["step"] as? String == "acknowledged")
        #expect(receipt["by"] as? String == "xa-a")
        let state = try await Self.next(command.messages, type: "incident_state")
        #expect(state["to"] as? String == "acknowledged")
        #expect(state["actor"] as? String == "xa-a")
    }

    @Test("a listener whose connection is killed reconnects and catches up an incident posted meanwhile")
    func catchUpAfterReconnect() async throws {
        let (a, b) = try await Self.nodes()
        defer { a.hub.leaveCluster(); b.leaveCluster(); a.cleanup() }
        let commune = b.events.subscribe(channel: "xa-a")
        let listener = try Self.listener(b)
        listener.holdReconnect.store(true, ordering: .relaxed)
        try PostgresServer.shared().administer("SELECT pg_terminate_backend(\(listener.backendPID))")
        try await withTimeout(10, "the listener sees its connection lost") {
            while listener.losses.load(ordering: .relaxed) < 1 { try await Task.sleep(for: .milliseconds(10)) }
        }
        // Node A's NOTIFY goes out while node B is not listening: only the catch-up can bring it.
        _ = try await Self.post("while-down", on: a)
        listener.holdReconnect.store(false, ordering: .relaxed)
        try await Self.listening(b, connections: 2)
        let pushed = try await Self.next(commune.messages, type: "incident")
        #expect((pushed["incident"] as? [String: Any])?["identifier"] as? String == "while-down")
    }

    @Test("a listener whose connection is killed catches up the receipts and state changes recorded meanwhile, once each")
    func catchUpStepsAfterReconnect() async throws {
        let (a, b) = try await Self.nodes()
        defer { a.hub.leaveCluster(); b.leaveCluster(); a.cleanup() }
        let command = b.events.subscribe(channel: commandCenterRecipient)
        let id = try await Self.post("steps-while-down", on: a)
        _ = try await Self.next(command.messages, type: "incident")
        let listener = try Self.listener(b)
        listener.holdReconnect.store(true, ordering: .relaxed)
        try PostgresServer.shared().administer("SELECT pg_terminate_backend(\(listener.backendPID))")
        try await withTimeout(10, "the listener sees its connection lost") {
            while listener.losses.load(ordering: .relaxed) < 1 { try await Task.sleep(for: .milliseconds(10)) }
        }
        // xa-a acknowledges on node A while node B is not listening: only the catch-up can tell B's command center.
        _ = try await a.hub.acknowledge(incidentID: id, recipient: "xa-a", actor: "xa-a")
        listener.holdReconnect.store(false, ordering: .relaxed)
        try await Self.listening(b, connections: 2)
        // Acknowledging also records delivered and read when they were missing: each comes once.
        var steps: [String] = []
        while !steps.contains("acknowledged") {
            let receipt = try await Self.next(command.messages, type: "receipt")
            #expect(receipt["recipient"] as? String == "xa-a" && receipt["id"] as? Int == Int(id))
            steps.append(receipt["step"] as? String ?? "?")
        }
        #expect(Set(steps).count == steps.count, "\(steps)")
        let state = try await Self.next(command.messages, type: "incident_state")
        #expect(state["from"] as? String == "new" && state["to"] as? String == "acknowledged", "\(state)")
        // A second catch-up over the same window pushes nothing again.
        let joined = try #require(b.cluster.withLock { $0 })
        await b.catchUpSteps(joined, since: 0)
        let again = try? await withTimeout(1, "a repeated push") { () async -> String? in
            for await text in command.messages where ["receipt", "incident_state"].contains(jsonObject(text)["type"] as? String) { return text }
            return nil
        }
        #expect(again == nil, "pushed twice: \(again ?? "")")
    }

    @Test("notice payloads: ids only, origin third, the recipient last even with a colon", arguments: [
        HubNotice.incident(7), .briefing(3), .receipt(kind: .briefing, itemID: 3, step: "read", recipient: "xa:a"),
        .state(incidentID: 7, from: "new", to: "acknowledged"), .escalation(incidentID: 7, recipient: "xa-b"),
    ])
    func payloads(_ notice: HubNotice) throws {
        let payload = notice.payload(origin: "node-1.ab12")
        let parsed = try #require(HubNotice.parse(payload))
        #expect(parsed.notice == notice)
        #expect(parsed.origin == "node-1.ab12")
        #expect(payload.split(separator: ":")[2] == "node-1.ab12")
    }

    @Test("malformed payloads are refused", arguments: ["", "incident", "incident:x:n", "incident:1:", "dance:1:n",
                                                         "receipt:1:n:incident:sung:xa-a", "state:1:n:new"])
    func malformed(_ payload: String) {
        #expect(HubNotice.parse(payload) == nil)
    }
}
