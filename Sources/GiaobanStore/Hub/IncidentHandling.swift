public import GiaobanIncidents
/// The SQL of `incident_events`, run inside a caller's transaction.
enum IncidentEvents {
    static func append(_ session: any SQLSession, incidentID: Int64, actor: String, action: String,
                       detail: String?, now: Int64) throws(StoreError) {
        try session.run("INSERT INTO incident_events (incident_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
                        [.integer(incidentID), .integer(now), .text(actor), .text(action), detail.map(SQLValue.text) ?? .null])
    }
}

/// What a state change or acknowledgement did.
public enum IncidentUpdate: Sendable, Equatable {
    /// The incident moved from one state to another.
    case changed(from: IncidentState, to: IncidentState)
    /// The step was recorded; the state stays as it was.
    case recorded(IncidentState)
    /// Nothing to change (already in that state, or acknowledged before).
    case unchanged(IncidentState)
    /// The step would move the incident backwards.
    case backwards(from: IncidentState, to: IncidentState)
    /// The incident was not routed to this recipient.
    case notRecipient
    /// No such incident.
    case notFound
}

extension IncidentStore {
    /// `recipient` acknowledges incident `id` (acting subject `actor`). The first
    /// acknowledgement by anyone moves a new incident to `acknowledged`.
    public func acknowledge(id: Int64, recipient: String, actor: String,
                            now: Int64) async throws(StoreError) -> IncidentUpdate {
        try await database.write { session throws(StoreError) in
            guard let state = try Self.state(session, id) else { return .notFound }
            guard try Deliveries.isRecipient(session, kind: .incident, itemID: id, recipient: recipient) else {
                return .notRecipient
            }
            let before = try session.scalar("""
                SELECT acknowledged_at FROM deliveries WHERE kind = 'incident' AND item_id = ? AND recipient = ?
                """, [.integer(id), .text(recipient)])
            guard before == .null else { return .unchanged(state) }
            _ = try Deliveries.record(session, .acknowledged(by: actor), kind: .incident, itemID: id,
                                      recipient: recipient, now: now)
            try IncidentEvents.append(session, incidentID: id, actor: actor, action: "acknowledged", detail: recipient, now: now)
            guard state == .new else { return .recorded(state) }
            try session.run("UPDATE incidents SET state = ? WHERE id = ?", [.text(IncidentState.acknowledged.rawValue), .integer(id)])
            return .changed(from: .new, to: .acknowledged)
        }
    }

    /// Adds a line to incident `id`'s history (e.g. a flag raised at ingest).
    public func note(id: Int64, actor: String, action: String, detail: String?, now: Int64) async throws(StoreError) {
        try await database.write { session throws(StoreError) in
            try IncidentEvents.append(session, incidentID: id, actor: actor, action: action, detail: detail, now: now)
        }
    }

    /// Moves incident `id` forward to `state`, recording who and why.
    public func transition(id: Int64, to state: IncidentState, actor: String, note: String?,
                           now: Int64) async throws(StoreError) -> IncidentUpdate {
        try await database.write { session throws(StoreError) in
            guard let current = try Self.state(session, id) else { return .notFound }
            if current == state { return .unchanged(current) }
            guard current < state else { return .backwards(from: current, to: state) }
            try session.run("UPDATE incidents SET state = ? WHERE id = ?", [.text(state.rawValue), .integer(id)])
            try IncidentEvents.append(session, incidentID: id, actor: actor, action: "state:\(state.rawValue)", detail: note, now: now)
            return .changed(from: current, to: state)
        }
    }

    /// The incident's history, oldest first.
    public func events(id: Int64) async throws(StoreError) -> [IncidentEvent] {
        try await database.read { session throws(StoreError) in
            try session.rows("SELECT at, actor, action, detail FROM incident_events WHERE incident_id = ? ORDER BY id",
                             [.integer(id)]).map { row throws(StoreError) in
                var c = RowReader(row: row)
                return IncidentEvent(at: try c.integer(), actor: try c.text(), action: try c.text(), detail: try c.optionalText())
            }
        }
    }

    /// The incident's JPEG snapshot, if it came with one.
    public func snapshot(id: Int64) async throws(StoreError) -> [UInt8]? {
        try await database.read { session throws(StoreError) in
            guard case .blob(let bytes) = try session.scalar("SELECT data FROM incident_snapshots WHERE incident_id = ?",
                                                              [.integer(id)]) else { return nil }
            return bytes
        }
    }

    /// Up to `limit` incidents routed to `recipient` with ids greater than `afterID`, oldest
    /// first, and the id for the next page (nil on the last page).
    public func list(recipient: String, limit: Int, afterID: Int64 = 0) async throws(StoreError) -> (items: [StoredIncident], nextAfter: Int64?) {
        let limit = max(1, limit)
        let rows = try await database.read { session throws(StoreError) in
            try session.rows("""
                SELECT \(Self.columns.split(separator: ",").map { "i." + $0.filter { !$0.isWhitespace } }.joined(separator: ", "))
                FROM incidents i JOIN deliveries d ON d.kind = 'incident' AND d.item_id = i.id AND d.recipient = ?
                WHERE i.id > ? ORDER BY i.id LIMIT ?
                """, [.text(recipient), .integer(afterID), .integer(Int64(limit) + 1)])
        }
        var items: [StoredIncident] = []
        for row in rows.prefix(limit) { items.append(try Self.decode(row)) }
        return (items, rows.count > limit ? items.last?.id : nil)
    }

    static func state(_ session: any SQLSession, _ id: Int64) throws(StoreError) -> IncidentState? {
        guard case .text(let text) = try session.scalar("SELECT state FROM incidents WHERE id = ?", [.integer(id)]) else {
            return nil
        }
        guard let state = IncidentState(rawValue: text) else {
            throw StoreError(.corruptRow, "incident \(id) has the unknown state '\(text)'")
        }
        return state
    }
}
