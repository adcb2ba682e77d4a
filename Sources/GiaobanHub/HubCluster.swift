public import GiaobanStore
import Foundation
import GiaobanIncidents
import Synchronization

/// The hub's link to the other nodes sharing its PostgreSQL database (docs/postgresql.md,
/// "Hub events across nodes"). After each commit that is pushed live, the node sends
/// `NOTIFY giaoban_hub, '<kind>:<id>:<origin>'`; every node listens on a dedicated connection
/// (`PostgresListener`), reads the rows named back and pushes them to its own sockets as if
/// they had happened there. Notices from the node itself are skipped.
///
/// After a dropped listening connection is re-established, incidents and briefings committed
/// meanwhile are read back (`catchUp`) and pushed: a NOTIFY lost to the outage is recovered.
public final class HubCluster: Sendable {
    /// The PostgreSQL channel every node listens on.
    public static let channel = "giaoban_hub"
    /// How far below the highest id seen the catch-up reads, for ids committed out of order.
    static let catchUpSlack: Int64 = 64

    /// This node's tag in payloads: `server.name` and a random suffix (two nodes may share a name).
    public let origin: String
    /// The listening connection.
    public let listener: PostgresListener
    private let inbox: AsyncStream<PostgresListener.Event>.Continuation
    private let seen: Mutex<Seen>

    /// The highest incident and briefing ids pushed here, and the recent ones (to skip repeats).
    struct Seen {
        var incident: Int64
        var briefing: Int64
        var recent: Set<String> = []
        var order: [String] = []

        /// Records `key`; false when it was seen before. Keeps the latest 4096.
        mutating func insert(_ key: String) -> Bool {
            guard recent.insert(key).inserted else { return false }
            order.append(key)
            if order.count > 4_096 { recent.remove(order.removeFirst()) }
            return true
        }
    }

    init(url: String, node: String, lastIncident: Int64, lastBriefing: Int64) {
        let name = node.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
        origin = (name.isEmpty ? "node" : String(name.prefix(40))) + "." + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        seen = Mutex(Seen(incident: lastIncident, briefing: lastBriefing))
        let (events, inbox) = AsyncStream<PostgresListener.Event>.makeStream()
        self.inbox = inbox
        listener = PostgresListener(url: url, channel: Self.channel) { inbox.yield($0) }
        self.events = events
    }

    /// What the listener reported, in order; read by one task (`Hub.runCluster`).
    let events: AsyncStream<PostgresListener.Event>

    /// Stops listening.
    func stop() {
        listener.stop()
        inbox.finish()
    }

    /// Records an item pushed here; false when it was pushed before.
    func markSeen(_ notice: HubNotice) -> Bool {
        seen.withLock { s in
            switch notice {
            case .incident(let id): s.incident = max(s.incident, id); return s.insert("i\(id)")
            case .briefing(let id): s.briefing = max(s.briefing, id); return s.insert("b\(id)")
            case .receipt(let kind, let id, let step, let recipient): return s.insert("r\(kind.rawValue)/\(id)/\(step)/\(recipient)")
            case .state(let id, let from, let to): return s.insert("s\(id)/\(from)/\(to)")
            case .escalation(let id, let recipient): return s.insert("e\(id)/\(recipient)")
            }
        }
    }

    /// When the listening connection was lost (Unix ms), until it listens again.
    private let lostAt = Mutex<Int64?>(nil)

    /// Notes the first loss of the listening connection since it last listened.
    func markLost(at now: Int64) { lostAt.withLock { $0 = $0 ?? now } }

    /// The loss being recovered from, cleared.
    func takeLost() -> Int64? {
        lostAt.withLock { lost in
            defer { lost = nil }
            return lost
        }
    }

    /// Where the catch-up starts reading: below the highest ids seen by `catchUpSlack`.
    var catchUpFrom: (incident: Int64, briefing: Int64) {
        seen.withLock { (max(0, $0.incident - Self.catchUpSlack), max(0, $0.briefing - Self.catchUpSlack)) }
    }
}

extension Hub {
    /// Joins the nodes sharing PostgreSQL database `url`: starts listening on
    /// `HubCluster.channel` and pushing what other nodes commit. `node` is `server.name`.
    public func joinCluster(url: String, node: String) async throws(StoreError) {
        let (incident, briefing) = try await database.read { session throws(StoreError) in
            (try Self.integer(session.scalar("SELECT MAX(id) FROM incidents")),
             try Self.integer(session.scalar("SELECT MAX(id) FROM briefings")))
        }
        let joined = HubCluster(url: url, node: node, lastIncident: incident, lastBriefing: briefing)
        cluster.withLock { $0 = joined }
        logger.info("listening for other nodes' hub events", metadata: ["channel": "\(HubCluster.channel)", "node": "\(joined.origin)"])
        // The escalation timer runs on the node holding the cluster's advisory lock only.
        let logger = logger, origin = joined.origin
        let leader = PostgresLeaderLock(url: url, key: PostgresLeaderLock.escalationKey) { leading in
            logger.notice(leading ? "this node now runs the cluster's escalation timer" : "this node no longer runs the escalation timer",
                          metadata: ["node": "\(origin)"])
        }
        escalationLeader.withLock { current in
            current?.stop()
            current = leader
        }
        Task { await self.runCluster(joined) }
    }

    /// Stops listening to other nodes.
    public func leaveCluster() {
        cluster.withLock { c in
            c?.stop()
            c = nil
        }
        escalationLeader.withLock { l in
            l?.stop()
            l = nil
        }
    }

    private static func integer(_ value: SQLValue?) -> Int64 { if case .integer(let v) = value { v } else { 0 } }

    /// Tells the other nodes of a commit (no-op on a single node). A failed NOTIFY is logged:
    /// the others then see the item at their next catch-up, or their clients at reconnect.
    package func tellPeers(_ notice: HubNotice) async {
        guard let joined = cluster.withLock({ $0 }) else { return }
        _ = joined.markSeen(notice)
        let payload = notice.payload(origin: joined.origin)
        do throws(StoreError) {
            try await database.read { session throws(StoreError) in
                _ = try session.scalar("SELECT pg_notify(CAST(? AS TEXT), CAST(? AS TEXT))", [.text(HubCluster.channel), .text(payload)])
            }
        } catch {
            logger.warning("other nodes were not notified of a hub event", metadata: ["payload": "\(payload)", "error": "\(error)"])
        }
    }

    /// Handles the listener's reports one at a time, until `leaveCluster`.
    func runCluster(_ joined: HubCluster) async {
        for await event in joined.events {
            switch event {
            case .notification(let payload):
                guard let (notice, origin) = HubNotice.parse(payload) else {
                    logger.warning("ignored a malformed hub notice", metadata: ["payload": "\(payload.prefix(200))"])
                    continue
                }
                guard origin != joined.origin else { continue }
                await hear(notice, in: joined)
            case .listening(let reconnected):
                guard reconnected else { continue }
                logger.notice("listening for other nodes' hub events again; catching up")
                await catchUp(joined)
                // Receipts, state changes and escalations recorded since the loss (a few
                // seconds earlier, for clocks that differ between nodes).
                if let since = joined.takeLost() { await catchUpSteps(joined, since: since - Self.stepsSlackMilliseconds) }
            case .lost(let reason):
                joined.markLost(at: clock())
                logger.warning("lost the connection listening for other nodes' hub events; reconnecting", metadata: ["reason": "\(reason)"])
            }
        }
    }

    /// Pushes what another node committed to this node's sockets.
    func hear(_ notice: HubNotice, in joined: HubCluster) async {
        guard joined.markSeen(notice) else { return }
        do throws(StoreError) {
            switch notice {
            case .incident(let id):
                await push(incidentID: id, to: try await deliveries.deliveries(kind: .incident, itemID: id).map(\.recipient))
            case .briefing(let id):
                await push(briefingID: id, to: try await deliveries.deliveries(kind: .briefing, itemID: id).map(\.recipient))
            case .receipt(let kind, let id, let step, let recipient):
                guard let row = try await deliveries.deliveries(kind: kind, itemID: id).first(where: { $0.recipient == recipient }),
                      let at = step == "delivered" ? row.deliveredAt : step == "read" ? row.readAt : row.acknowledgedAt else { return }
                let by = step == "acknowledged" ? row.acknowledgedBy ?? recipient : recipient
                announce(HubMessage.Receipt(kind: kind.rawValue, id: id, recipient: recipient, step: step, by: by, at: at))
            case .state(let id, let from, let to):
                let action = from == IncidentState.new.rawValue && to == IncidentState.acknowledged.rawValue ? "acknowledged" : "state:\(to)"
                guard let event = try await incidents.events(id: id).last(where: { $0.action == action }) else { return }
                announce(HubMessage.StateChange(id: id, from: from, to: to, actor: event.actor, at: event.at))
            case .escalation(let id, let recipient):
                guard let row = try await deliveries.deliveries(kind: .incident, itemID: id).first(where: { $0.recipient == recipient }),
                      let at = row.escalatedAt else { return }
                metrics.messagesPushed.add(events.publish(HubMessage.escalation(incidentID: id, recipient: recipient, routedAt: row.createdAt,
                                                                                escalatedAt: at), to: commandCenterRecipient), ordering: .relaxed)
            }
        } catch {
            logger.error("could not read back another node's hub event; its recipients get it at reconnect",
                         metadata: ["notice": "\(notice)", "error": "\(error)"])
        }
    }

    /// How far before the listener's loss the catch-up of receipts, state changes and
    /// escalations reads: nodes' clocks differ, and a NOTIFY sent just before the loss may be lost.
    static let stepsSlackMilliseconds: Int64 = 5_000

    /// Pushes the receipts, incident state changes and escalations recorded since `since`
    /// (Unix ms) to this node's command center, those not pushed here already.
    package func catchUpSteps(_ joined: HubCluster, since: Int64) async {
        do throws(StoreError) {
            let notices = try await database.read { session throws(StoreError) -> [HubNotice] in
                var notices: [HubNotice] = []
                let rows = try session.rows("""
                    SELECT kind, item_id, recipient, delivered_at, read_at, acknowledged_at, escalated_at FROM deliveries
                    WHERE delivered_at >= ? OR read_at >= ? OR acknowledged_at >= ? OR escalated_at >= ? LIMIT 20000
                    """, Array(repeating: .integer(since), count: 4))
                for row in rows {
                    var r = RowReader(row: row)
                    guard let kind = DeliveryKind(rawValue: try r.text()) else { continue }
                    let (id, recipient) = (try r.integer(), try r.text())
                    for step in ["delivered", "read", "acknowledged"] {
                        if let at = try r.optionalInteger(), at >= since { notices.append(.receipt(kind: kind, itemID: id, step: step, recipient: recipient)) }
                    }
                    if let at = try r.optionalInteger(), at >= since, kind == .incident { notices.append(.escalation(incidentID: id, recipient: recipient)) }
                }
                // State changes: each event's "from" is the state its incident's previous event left.
                let events = try session.rows("""
                    SELECT incident_id, at, action FROM incident_events
                    WHERE (action = 'acknowledged' OR action LIKE 'state:%') AND incident_id IN
                        (SELECT incident_id FROM incident_events WHERE at >= ? AND (action = 'acknowledged' OR action LIKE 'state:%'))
                    ORDER BY incident_id, id LIMIT 20000
                    """, [.integer(since)])
                var previous: (id: Int64, state: String) = (0, IncidentState.new.rawValue)
                for row in events {
                    var r = RowReader(row: row)
                    let (id, at, action) = (try r.integer(), try r.integer(), try r.text())
                    if id != previous.id { previous = (id, IncidentState.new.rawValue) }
                    let to = action == "acknowledged" ? IncidentState.acknowledged.rawValue : String(action.dropFirst("state:".count))
                    if at >= since { notices.append(.state(incidentID: id, from: previous.state, to: to)) }
                    previous.state = to
                }
                return notices
            }
            for notice in notices { await hear(notice, in: joined) }
        } catch {
            logger.error("catch-up of receipts and state changes after reconnecting failed; the command center's tables show them",
                         metadata: ["error": "\(error)"])
        }
    }

    /// Pushes the incidents and briefings committed while the listener was away (and not
    /// pushed here yet).
    func catchUp(_ joined: HubCluster) async {
        let from = joined.catchUpFrom
        do throws(StoreError) {
            let (incidentIDs, briefingIDs) = try await database.read { session throws(StoreError) in
                let ids = { (table: String, after: Int64) throws(StoreError) -> [Int64] in
                    try session.rows("SELECT id FROM \(table) WHERE id > ? ORDER BY id LIMIT 10000", [.integer(after)])
                        .map { Self.integer($0.first) }
                }
                return (try ids("incidents", from.incident), try ids("briefings", from.briefing))
            }
            for id in incidentIDs { await hear(.incident(id), in: joined) }
            for id in briefingIDs { await hear(.briefing(id), in: joined) }
        } catch {
            logger.error("catch-up after reconnecting failed; clients get missed items at their reconnect", metadata: ["error": "\(error)"])
        }
    }

    /// Pushes a stored incident to the connected recipients (the others get it at reconnect).
    package func push(incidentID: Int64, to recipients: [String]) async {
        guard recipients.contains(where: events.isConnected), let stored = try? await incidents.get(id: incidentID) else { return }
        let text = HubMessage.encode(HubMessage.IncidentPush(incident: IncidentView(stored, cameras: cameraStates)))
        for recipient in recipients { metrics.messagesPushed.add(events.publish(text, to: recipient), ordering: .relaxed) }
    }

    /// Pushes a stored briefing to the connected recipients.
    package func push(briefingID: Int64, to recipients: [String]) async {
        guard recipients.contains(where: events.isConnected), let stored = try? await briefings.get(id: briefingID) else { return }
        let text = HubMessage.encode(HubMessage.BriefingPush(briefing: BriefingView(stored)))
        for recipient in recipients { metrics.messagesPushed.add(events.publish(text, to: recipient), ordering: .relaxed) }
    }
}
