public import GiaobanIncidents
/// Durable incidents. `ingest` returns only after the row is committed, so a sender told
/// "accepted" never loses the incident, and is idempotent on `(source, identifier)`.
/// The async methods run on the database's serial queue, off the caller's executor: the
/// commit's fsync never blocks an event loop, and writes happen one at a time.
public final class IncidentStore: Sendable {
    /// The database the incidents live in.
    public let database: any RecordDatabase

    /// A store over an open database (migrated at open).
    public init(database: any RecordDatabase) { self.database = database }

    static let columns = """
        id, received_at, source, identifier, format, sender, type, severity, urgency, certainty,
        latitude, longitude, occurred_at, text, road, km, state
        """

    /// Stores `incident` unless `(source, identifier)` is already stored; returns the row id
    /// and whether this call created it. Returns after COMMIT.
    /// A new incident is routed to `recipients` (commune ids and `commandCenterRecipient`),
    /// with its optional JPEG `snapshot`, in the same transaction; a retry changes nothing.
    public func ingest(_ incident: IncidentRecord, recipients: [String] = [], snapshot: [UInt8]? = nil,
                       now: Int64 = StoreClock.nowMilliseconds()) throws(StoreError) -> (id: Int64, created: Bool) {
        try database.write { session throws(StoreError) in
            let r = incident
            let inserted = try session.rows("""
                INSERT INTO incidents (source, identifier, format, sender, type, severity, urgency, certainty,
                                       latitude, longitude, occurred_at, text, road, km, received_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (source, identifier) DO NOTHING
                RETURNING id
                """, [
                    .text(r.source), .text(r.identifier), .text(r.format), r.sender.map(SQLValue.text) ?? .null,
                    .text(r.type), .text(r.severity), .text(r.urgency), .text(r.certainty),
                    .real(r.latitude), .real(r.longitude), .text(r.time), .text(r.text),
                    r.road.map(SQLValue.text) ?? .null, r.km.map(SQLValue.real) ?? .null,
                    .integer(now),
                ])
            if case .integer(let id) = inserted.first?.first {
                if let snapshot {
                    try session.run("INSERT INTO incident_snapshots (incident_id, content_type, data) VALUES (?, ?, ?)",
                                    [.integer(id), .text("image/jpeg"), .blob(snapshot)])
                }
                try Deliveries.insert(session, kind: .incident, itemID: id, recipients: recipients, now: now)
                try IncidentEvents.append(session, incidentID: id, actor: r.source, action: "reported",
                                          detail: recipients.sorted().joined(separator: ","), now: now)
                return (id, true)
            }
            let existing = try session.scalar("SELECT id FROM incidents WHERE source = ? AND identifier = ?",
                                              [.text(r.source), .text(r.identifier)])
            guard case .integer(let id) = existing else {
                throw StoreError(.statement, "the insert of (\(r.source), \(r.identifier)) changed nothing and no row exists")
            }
            return (id, false)
        }
    }

    /// Up to `limit` incidents with ids greater than `afterID`, oldest first, and the id to
    /// pass as `afterID` for the next page (nil when this page is the last).
    public func list(limit: Int, afterID: Int64 = 0) throws(StoreError) -> (items: [StoredIncident], nextAfter: Int64?) {
        let limit = max(1, limit)
        let rows = try database.read { session throws(StoreError) in
            try session.rows("SELECT \(Self.columns) FROM incidents WHERE id > ? ORDER BY id LIMIT ?",
                             [.integer(afterID), .integer(Int64(limit) + 1)])
        }
        var items: [StoredIncident] = []
        for row in rows.prefix(limit) { items.append(try Self.decode(row)) }
        return (items, rows.count > limit ? items.last?.id : nil)
    }

    /// The incident with row id `id`, or nil.
    public func get(id: Int64) throws(StoreError) -> StoredIncident? {
        let rows = try database.read { session throws(StoreError) in
            try session.rows("SELECT \(Self.columns) FROM incidents WHERE id = ?", [.integer(id)])
        }
        guard let row = rows.first else { return nil }
        return try Self.decode(row)
    }

    /// `ingest` on the store's queue.
    public func ingest(_ incident: IncidentRecord, recipients: [String] = [], snapshot: [UInt8]? = nil,
                       now: Int64 = StoreClock.nowMilliseconds()) async throws(StoreError) -> (id: Int64, created: Bool) {
        try await database.onQueue { () throws(StoreError) in
            try self.ingest(incident, recipients: recipients, snapshot: snapshot, now: now)
        }
    }

    /// `list` on the store's queue.
    public func list(limit: Int, afterID: Int64 = 0) async throws(StoreError) -> (items: [StoredIncident], nextAfter: Int64?) {
        try await database.onQueue { () throws(StoreError) in try self.list(limit: limit, afterID: afterID) }
    }

    /// `get` on the store's queue.
    public func get(id: Int64) async throws(StoreError) -> StoredIncident? {
        try await database.onQueue { () throws(StoreError) in try self.get(id: id) }
    }

    static func decode(_ row: [SQLValue]) throws(StoreError) -> StoredIncident {
        var columns = RowReader(row: row)
        let id = try columns.integer(), receivedAt = try columns.integer()
        let record = IncidentRecord(
            source: try columns.text(), identifier: try columns.text(), format: try columns.text(),
            sender: try columns.optionalText(), type: try columns.text(), severity: try columns.text(),
            urgency: try columns.text(), certainty: try columns.text(), latitude: try columns.real(),
            longitude: try columns.real(), time: try columns.text(), text: try columns.text(),
            road: try columns.optionalText(), km: try columns.optionalReal())
        let stateText = try columns.text()
        guard let state = IncidentState(rawValue: stateText) else {
            throw StoreError(.corruptRow, "incident \(id) has the unknown state '\(stateText)'")
        }
        return StoredIncident(id: id, receivedAt: receivedAt, record: record, state: state)
    }
}

/// Reads a row's columns in order, with a `.corruptRow` error when a type is not the schema's.
package struct RowReader {
    let row: [SQLValue]
    var index = 0

    /// A reader of `row` from its first column.
    package init(row: [SQLValue]) { self.row = row }

    package mutating func next() throws(StoreError) -> SQLValue {
        guard index < row.count else { throw StoreError(.corruptRow, "row has \(row.count) columns, wanted more") }
        defer { index += 1 }
        return row[index]
    }

    package mutating func integer() throws(StoreError) -> Int64 {
        guard case .integer(let v) = try next() else { throw wrong("an integer") }
        return v
    }

    package mutating func real() throws(StoreError) -> Double {
        switch try next() {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: throw wrong("a number")
        }
    }

    package mutating func text() throws(StoreError) -> String {
        guard case .text(let v) = try next() else { throw wrong("text") }
        return v
    }

    package mutating func optionalText() throws(StoreError) -> String? {
        let value = try next()
        if case .null = value { return nil }
        guard case .text(let v) = value else { throw wrong("text or NULL") }
        return v
    }

    package mutating func optionalInteger() throws(StoreError) -> Int64? {
        switch try next() {
        case .null: return nil
        case .integer(let v): return v
        default: throw wrong("an integer or NULL")
        }
    }

    package mutating func blob() throws(StoreError) -> [UInt8] {
        guard case .blob(let v) = try next() else { throw wrong("bytes") }
        return v
    }

    package mutating func optionalReal() throws(StoreError) -> Double? {
        switch try next() {
        case .null: return nil
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: throw wrong("a number or NULL")
        }
    }

    func wrong(_ expected: String) -> StoreError {
        StoreError(.corruptRow, "column \(index - 1) is not \(expected)")
    }
}
