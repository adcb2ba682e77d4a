/// A file attached to a briefing.
public struct Attachment: Sendable, Equatable {
    /// The file name as the chair gave it.
    public var name: String
    /// Its media type, e.g. "application/pdf".
    public var contentType: String
    /// Its bytes.
    public var data: [UInt8]

    /// Creates an attachment.
    public init(name: String, contentType: String, data: [UInt8]) {
        self.name = name
        self.contentType = contentType
        self.data = data
    }
}

/// What the chair sends: the briefing, its audience described in words the console shows
/// (e.g. `all`, `communes:a,b`, `area`), the communes it resolves to, and attachments.
public struct BriefingDraft: Sendable, Equatable {
    /// The author (the chair's token subject).
    public var author: String
    /// The title.
    public var title: String
    /// The text.
    public var body: String
    /// routine, priority or flash.
    public var priority: String
    /// How the audience was chosen, as JSON text.
    public var audience: String
    /// The commune ids the audience resolved to.
    public var recipients: [String]
    /// Attached files.
    public var attachments: [Attachment]

    /// Creates a draft.
    public init(author: String, title: String, body: String, priority: String, audience: String,
                recipients: [String], attachments: [Attachment] = []) {
        self.author = author
        self.title = title
        self.body = body
        self.priority = priority
        self.audience = audience
        self.recipients = recipients
        self.attachments = attachments
    }
}

/// A stored briefing, with its attachments described (their bytes are fetched one by one).
public struct StoredBriefing: Sendable, Equatable {
    /// An attachment's id, name, type and size.
    public struct AttachmentInfo: Sendable, Equatable, Codable {
        /// The attachment id.
        public var id: Int64
        /// The file name.
        public var name: String
        /// The media type.
        public var contentType: String
        /// The size in bytes.
        public var size: Int
    }
    /// The briefing id.
    public var id: Int64
    /// The author.
    public var author: String
    /// The title.
    public var title: String
    /// The text.
    public var body: String
    /// routine, priority or flash.
    public var priority: String
    /// How the audience was chosen (JSON text).
    public var audience: String
    /// When it was sent, milliseconds since 1970.
    public var createdAt: Int64
    /// Its attachments.
    public var attachments: [AttachmentInfo]
}

/// Briefings and their per-commune receipts (delivered, read, acknowledged).
public final class BriefingStore: Sendable {
    /// The database holding the briefings.
    public let database: any RecordDatabase

    /// A store over an open, migrated database.
    public init(database: any RecordDatabase) { self.database = database }

    /// Stores the briefing, its attachments and one receipt row per recipient in one
    /// transaction; returns the id after COMMIT.
    public func create(_ draft: BriefingDraft, now: Int64) async throws(StoreError) -> Int64 {
        try await database.write { session throws(StoreError) in
            let d = draft
            guard case .integer(let id) = try session.scalar("""
                INSERT INTO briefings (author, title, body, priority, audience, created_at) VALUES (?, ?, ?, ?, ?, ?)
                RETURNING id
                """, [.text(d.author), .text(d.title), .text(d.body), .text(d.priority), .text(d.audience), .integer(now)]) else {
                throw StoreError(.statement, "the briefing insert returned no id")
            }
            for a in d.attachments {
                try session.run("INSERT INTO briefing_attachments (briefing_id, name, content_type, data) VALUES (?, ?, ?, ?)",
                                [.integer(id), .text(a.name), .text(a.contentType), .blob(a.data)])
            }
            try Deliveries.insert(session, kind: .briefing, itemID: id, recipients: d.recipients, now: now)
            return id
        }
    }

    static let columns = "b.id, b.author, b.title, b.body, b.priority, b.audience, b.created_at"

    /// A page of briefings, newest first: all of them, or (with `recipient`) those sent to
    /// that commune. `beforeID` 0 starts at the newest; the answer's `nextBefore` continues.
    public func list(recipient: String?, limit: Int, beforeID: Int64 = 0) async throws(StoreError) -> (items: [StoredBriefing], nextBefore: Int64?) {
        let limit = max(1, limit)
        let before = beforeID > 0 ? beforeID : Int64.max
        return try await database.read { session throws(StoreError) in
            let rows: [[SQLValue]]
            if let recipient {
                rows = try session.rows("""
                    SELECT \(Self.columns) FROM briefings b JOIN deliveries d
                      ON d.kind = 'briefing' AND d.item_id = b.id AND d.recipient = ?
                    WHERE b.id < ? ORDER BY b.id DESC LIMIT ?
                    """, [.text(recipient), .integer(before), .integer(Int64(limit) + 1)])
            } else {
                rows = try session.rows("SELECT \(Self.columns) FROM briefings b WHERE b.id < ? ORDER BY b.id DESC LIMIT ?",
                                        [.integer(before), .integer(Int64(limit) + 1)])
            }
            var items: [StoredBriefing] = []
            for row in rows.prefix(limit) { items.append(try Self.decode(session, row)) }
            return (items, rows.count > limit ? items.last?.id : nil)
        }
    }

    /// One briefing, or nil.
    public func get(id: Int64) async throws(StoreError) -> StoredBriefing? {
        try await database.read { session throws(StoreError) in
            guard let row = try session.rows("SELECT \(Self.columns) FROM briefings b WHERE b.id = ?", [.integer(id)]).first else {
                return nil
            }
            return try Self.decode(session, row)
        }
    }

    /// One attachment's bytes, or nil.
    public func attachment(briefingID: Int64, attachmentID: Int64) async throws(StoreError) -> Attachment? {
        try await database.read { session throws(StoreError) in
            guard let row = try session.rows("""
                SELECT name, content_type, data FROM briefing_attachments WHERE briefing_id = ? AND id = ?
                """, [.integer(briefingID), .integer(attachmentID)]).first else { return nil }
            var c = RowReader(row: row)
            return Attachment(name: try c.text(), contentType: try c.text(), data: try c.blob())
        }
    }

    static func decode(_ session: any SQLSession, _ row: [SQLValue]) throws(StoreError) -> StoredBriefing {
        var c = RowReader(row: row)
        let id = try c.integer()
        let files = try session.rows("""
            SELECT id, name, content_type, LENGTH(data) FROM briefing_attachments WHERE briefing_id = ? ORDER BY id
            """, [.integer(id)]).map { row throws(StoreError) in
            var a = RowReader(row: row)
            return StoredBriefing.AttachmentInfo(id: try a.integer(), name: try a.text(), contentType: try a.text(),
                                                 size: Int(try a.integer()))
        }
        return StoredBriefing(id: id, author: try c.text(), title: try c.text(), body: try c.text(), priority: try c.text(),
                              audience: try c.text(), createdAt: try c.integer(), attachments: files)
    }
}
