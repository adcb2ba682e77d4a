/// What a delivery row is about.
public enum DeliveryKind: String, Sendable, Codable, CaseIterable {
    /// An incident routed to a commune or the command center.
    case incident
    /// A briefing sent to a commune.
    case briefing
}

/// The recipient name of the command center in delivery rows (communes use their id).
public let commandCenterRecipient = "command"

/// One recipient's progress with one item: when it was routed, delivered (the recipient's
/// client confirmed receipt), read, acknowledged (and by whom), and escalated to the command
/// center for want of an acknowledgement. Times are milliseconds since 1970.
public struct DeliveryRecord: Sendable, Equatable, Codable {
    /// Incident or briefing.
    public var kind: DeliveryKind
    /// The incident's or briefing's id.
    public var itemID: Int64
    /// A commune id, or `commandCenterRecipient`.
    public var recipient: String
    /// When the item was routed to the recipient.
    public var createdAt: Int64
    /// When the recipient's client confirmed receipt.
    public var deliveredAt: Int64?
    /// When the recipient opened it.
    public var readAt: Int64?
    /// When the recipient acknowledged it.
    public var acknowledgedAt: Int64?
    /// Who acknowledged (the token subject).
    public var acknowledgedBy: String?
    /// When the missing acknowledgement was escalated to the command center.
    public var escalatedAt: Int64?
}

/// Names one delivery row.
public struct DeliveryKey: Sendable, Hashable {
    /// Incident or briefing.
    public var kind: DeliveryKind
    /// The item's id.
    public var itemID: Int64
    /// The recipient.
    public var recipient: String

    /// Creates a key.
    public init(kind: DeliveryKind, itemID: Int64, recipient: String) {
        self.kind = kind
        self.itemID = itemID
        self.recipient = recipient
    }
}

/// A recipient's step with an item.
public enum DeliveryStep: Sendable, Equatable {
    /// The recipient's client confirmed receipt.
    case delivered
    /// The recipient opened the item.
    case read
    /// The recipient acknowledged; `by` is the acknowledging subject.
    case acknowledged(by: String)
}

/// What recording a recipient's step did.
public enum DeliveryStepOutcome: Sendable, Equatable {
    /// The step is new: its time was written.
    case recorded
    /// The step was recorded before; nothing changed.
    case unchanged
    /// The item was not routed to that recipient.
    case notRecipient
}

/// The SQL of the `deliveries` table, run inside a caller's transaction so an item and its
/// delivery rows commit together.
enum Deliveries {
    static let columns = "kind, item_id, recipient, created_at, delivered_at, read_at, acknowledged_at, acknowledged_by, escalated_at"

    static func insert(_ session: any SQLSession, kind: DeliveryKind, itemID: Int64, recipients: [String],
                       now: Int64) throws(StoreError) {
        // Many rows per statement: one incident near a town may reach hundreds of communes.
        let all = Set(recipients).sorted()
        var start = 0
        while start < all.count {
            let chunk = all[start..<min(all.count, start + 200)]
            start += chunk.count
            var values: [SQLValue] = []
            values.reserveCapacity(chunk.count * 4)
            for recipient in chunk { values += [.text(kind.rawValue), .integer(itemID), .text(recipient), .integer(now)] }
            try session.run("""
                INSERT INTO deliveries (kind, item_id, recipient, created_at) VALUES \(Array(repeating: "(?, ?, ?, ?)", count: chunk.count).joined(separator: ", "))
                ON CONFLICT (kind, item_id, recipient) DO NOTHING
                """, values)
        }
    }

    /// Records `step` once (the first time counts; a later repeat changes nothing and says
    /// `.unchanged`). A read or an acknowledgement implies delivery.
    static func record(_ session: any SQLSession, _ step: DeliveryStep, kind: DeliveryKind, itemID: Int64,
                       recipient: String, now: Int64) throws(StoreError) -> DeliveryStepOutcome {
        let key: [SQLValue] = [.text(kind.rawValue), .integer(itemID), .text(recipient)]
        let sql: String
        var values: [SQLValue] = [.integer(now)]
        switch step {
        case .delivered:
            sql = "UPDATE deliveries SET delivered_at = ? WHERE delivered_at IS NULL"
        case .read:
            sql = "UPDATE deliveries SET read_at = ?, delivered_at = COALESCE(delivered_at, ?) WHERE read_at IS NULL"
            values = [.integer(now), .integer(now)]
        case .acknowledged(let by):
            sql = """
                UPDATE deliveries SET acknowledged_by = ?, acknowledged_at = ?, delivered_at = COALESCE(delivered_at, ?),
                read_at = COALESCE(read_at, ?) WHERE acknowledged_at IS NULL
                """
            values = [.text(by), .integer(now), .integer(now), .integer(now)]
        }
        if try session.run(sql + " AND kind = ? AND item_id = ? AND recipient = ?", values + key) == 1 { return .recorded }
        return try isRecipient(session, kind: kind, itemID: itemID, recipient: recipient) ? .unchanged : .notRecipient
    }

    static func list(_ session: any SQLSession, kind: DeliveryKind, itemID: Int64) throws(StoreError) -> [DeliveryRecord] {
        try session.rows("SELECT \(columns) FROM deliveries WHERE kind = ? AND item_id = ? ORDER BY recipient",
                         [.text(kind.rawValue), .integer(itemID)]).map(decode)
    }

    static func isRecipient(_ session: any SQLSession, kind: DeliveryKind, itemID: Int64,
                            recipient: String) throws(StoreError) -> Bool {
        try session.scalar("SELECT 1 FROM deliveries WHERE kind = ? AND item_id = ? AND recipient = ?",
                           [.text(kind.rawValue), .integer(itemID), .text(recipient)]) != nil
    }

    static func decode(_ row: [SQLValue]) throws(StoreError) -> DeliveryRecord {
        var c = RowReader(row: row)
        let kindText = try c.text()
        guard let kind = DeliveryKind(rawValue: kindText) else {
            throw StoreError(.corruptRow, "delivery kind '\(kindText)' is unknown")
        }
        return DeliveryRecord(kind: kind, itemID: try c.integer(), recipient: try c.text(), createdAt: try c.integer(),
                              deliveredAt: try c.optionalInteger(), readAt: try c.optionalInteger(),
                              acknowledgedAt: try c.optionalInteger(), acknowledgedBy: try c.optionalText(),
                              escalatedAt: try c.optionalInteger())
    }
}

/// Delivery state across incidents and briefings: what a reconnecting recipient has not yet
/// received (store and forward), receipts, and escalation of missing acknowledgements.
public final class DeliveryStore: Sendable {
    /// The database holding the deliveries.
    public let database: any RecordDatabase

    /// A store over an open, migrated database.
    public init(database: any RecordDatabase) { self.database = database }

    /// Items routed to `recipient` whose receipt it has not confirmed, oldest first.
    public func pending(recipient: String) async throws(StoreError) -> [DeliveryRecord] {
        try await database.read { session throws(StoreError) in
            try session.rows("""
                SELECT \(Deliveries.columns) FROM deliveries WHERE recipient = ? AND delivered_at IS NULL
                ORDER BY created_at, kind, item_id
                """, [.text(recipient)]).map(Deliveries.decode)
        }
    }

    /// Records a recipient's step with an item: new, a repeat, or not routed to it.
    public func record(_ step: DeliveryStep, kind: DeliveryKind, itemID: Int64, recipient: String,
                       now: Int64) async throws(StoreError) -> DeliveryStepOutcome {
        try await database.write { session throws(StoreError) in
            try Deliveries.record(session, step, kind: kind, itemID: itemID, recipient: recipient, now: now)
        }
    }

    /// Records receipt confirmations in one transaction; returns those that were new (the
    /// others were confirmed, read or acknowledged before, or not routed to that recipient).
    public func recordDelivered(_ confirmations: [DeliveryKey], now: Int64) async throws(StoreError) -> [DeliveryKey] {
        try await database.write { session throws(StoreError) in
            var fresh: [DeliveryKey] = []
            for key in confirmations {
                let changed = try session.run("""
                    UPDATE deliveries SET delivered_at = ? WHERE kind = ? AND item_id = ? AND recipient = ? AND delivered_at IS NULL
                    """, [.integer(now), .text(key.kind.rawValue), .integer(key.itemID), .text(key.recipient)])
                if changed == 1 { fresh.append(key) }
            }
            return fresh
        }
    }

    /// Every recipient's row for one item, by recipient.
    public func deliveries(kind: DeliveryKind, itemID: Int64) async throws(StoreError) -> [DeliveryRecord] {
        try await database.read { session throws(StoreError) in try Deliveries.list(session, kind: kind, itemID: itemID) }
    }

    /// Whether the item was routed to `recipient`.
    public func isRecipient(kind: DeliveryKind, itemID: Int64, recipient: String) async throws(StoreError) -> Bool {
        try await database.read { session throws(StoreError) in
            try Deliveries.isRecipient(session, kind: kind, itemID: itemID, recipient: recipient)
        }
    }

    /// Marks as escalated, and returns, every commune's incident delivery routed at or before
    /// `routedBefore` that is neither acknowledged nor escalated yet; records an
    /// `escalated` event on each incident. Durable: a restart finds what is still due.
    /// Claimed in one `UPDATE … WHERE escalated_at IS NULL RETURNING`: when several nodes run
    /// this at once on one PostgreSQL database, each delivery is escalated by exactly one of them
    /// (the later UPDATE waits for the earlier's row locks and re-checks the condition).
    public func escalateDue(routedBefore: Int64, now: Int64) async throws(StoreError) -> [DeliveryRecord] {
        try await database.write { session throws(StoreError) in
            let claimed = try session.rows("""
                UPDATE deliveries SET escalated_at = ?
                WHERE kind = 'incident' AND recipient <> ? AND acknowledged_at IS NULL AND escalated_at IS NULL
                  AND created_at <= ?
                RETURNING \(Deliveries.columns)
                """, [.integer(now), .text(commandCenterRecipient), .integer(routedBefore)]).map(Deliveries.decode)
                .sorted { ($0.createdAt, $0.itemID, $0.recipient) < ($1.createdAt, $1.itemID, $1.recipient) }
            for row in claimed {
                try IncidentEvents.append(session, incidentID: row.itemID, actor: "giaoban", action: "escalated",
                                          detail: "no acknowledgement from \(row.recipient)", now: now)
            }
            return claimed
        }
    }
}
