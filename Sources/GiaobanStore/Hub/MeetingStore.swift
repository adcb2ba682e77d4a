/// A scheduled meeting (a daily briefing call).
public struct StoredMeeting: Sendable, Equatable, Codable {
    /// The meeting id; its media room is `meeting-<id>`.
    public var id: Int64
    /// The title.
    public var title: String
    /// When it starts, RFC 3339 as given.
    public var scheduledAt: String
    /// Planned length.
    public var durationMinutes: Int64
    /// Who scheduled it.
    public var createdBy: String
    /// When it was scheduled, milliseconds since 1970.
    public var createdAt: Int64

    /// Creates a record.
    public init(id: Int64, title: String, scheduledAt: String, durationMinutes: Int64, createdBy: String, createdAt: Int64) {
        self.id = id
        self.title = title
        self.scheduledAt = scheduledAt
        self.durationMinutes = durationMinutes
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}

/// One participant's presence in a meeting: joined, and left (nil while still present).
public struct AttendanceRecord: Sendable, Equatable, Codable {
    /// The participant (token subject).
    public var participant: String
    /// Their role (token role).
    public var role: String
    /// When they joined, milliseconds since 1970.
    public var joinedAt: Int64
    /// When they left.
    public var leftAt: Int64?
}

/// Meetings and their attendance (the roll call).
public final class MeetingStore: Sendable {
    /// The database holding meetings.
    public let database: any RecordDatabase

    /// A store over an open, migrated database.
    public init(database: any RecordDatabase) { self.database = database }

    static let columns = "id, title, scheduled_at, duration_minutes, created_by, created_at"

    /// Schedules a meeting; returns its id after COMMIT.
    public func create(title: String, scheduledAt: String, durationMinutes: Int64, createdBy: String,
                       now: Int64) async throws(StoreError) -> Int64 {
        try await database.write { session throws(StoreError) in
            guard case .integer(let id) = try session.scalar("""
                INSERT INTO meetings (title, scheduled_at, duration_minutes, created_by, created_at) VALUES (?, ?, ?, ?, ?)
                RETURNING id
                """, [.text(title), .text(scheduledAt), .integer(durationMinutes), .text(createdBy), .integer(now)]) else {
                throw StoreError(.statement, "the meeting insert returned no id")
            }
            return id
        }
    }

    /// A page of meetings by id, oldest first, and the id for the next page.
    public func list(limit: Int, afterID: Int64 = 0) async throws(StoreError) -> (items: [StoredMeeting], nextAfter: Int64?) {
        let limit = max(1, limit)
        let rows = try await database.read { session throws(StoreError) in
            try session.rows("SELECT \(Self.columns) FROM meetings WHERE id > ? ORDER BY id LIMIT ?",
                             [.integer(afterID), .integer(Int64(limit) + 1)])
        }
        var items: [StoredMeeting] = []
        for row in rows.prefix(limit) { items.append(try Self.decode(row)) }
        return (items, rows.count > limit ? items.last?.id : nil)
    }

    /// One meeting, or nil.
    public func get(id: Int64) async throws(StoreError) -> StoredMeeting? {
        let rows = try await database.read { session throws(StoreError) in
            try session.rows("SELECT \(Self.columns) FROM meetings WHERE id = ?", [.integer(id)])
        }
        return try rows.first.map(Self.decode)
    }

    /// Records that `participant` joined; false when there is no such meeting.
    public func join(meetingID: Int64, participant: String, role: String, now: Int64) async throws(StoreError) -> Bool {
        try await database.write { session throws(StoreError) in
            guard try session.scalar("SELECT 1 FROM meetings WHERE id = ?", [.integer(meetingID)]) != nil else { return false }
            try session.run("INSERT INTO attendance (meeting_id, participant, role, joined_at) VALUES (?, ?, ?, ?)",
                            [.integer(meetingID), .text(participant), .text(role), .integer(now)])
            return true
        }
    }

    /// Records that `participant` left (closes their open presence); false when none was open.
    public func leave(meetingID: Int64, participant: String, now: Int64) async throws(StoreError) -> Bool {
        try await database.write { session throws(StoreError) in
            try session.run("UPDATE attendance SET left_at = ? WHERE meeting_id = ? AND participant = ? AND left_at IS NULL",
                            [.integer(now), .integer(meetingID), .text(participant)]) > 0
        }
    }

    /// The meeting's attendance in order of joining.
    public func attendance(meetingID: Int64) async throws(StoreError) -> [AttendanceRecord] {
        try await database.read { session throws(StoreError) in
            try session.rows("""
                SELECT participant, role, joined_at, left_at FROM attendance WHERE meeting_id = ? ORDER BY joined_at, id
                """, [.integer(meetingID)]).map { row throws(StoreError) in
                var c = RowReader(row: row)
                return AttendanceRecord(participant: try c.text(), role: try c.text(), joinedAt: try c.integer(),
                                        leftAt: try c.optionalInteger())
            }
        }
    }

    static func decode(_ row: [SQLValue]) throws(StoreError) -> StoredMeeting {
        var c = RowReader(row: row)
        return StoredMeeting(id: try c.integer(), title: try c.text(), scheduledAt: try c.text(),
                             durationMinutes: try c.integer(), createdBy: try c.text(), createdAt: try c.integer())
    }
}
