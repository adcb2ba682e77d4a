/// Where a meeting's room is held now, as a node sees it when the room is opened there.
public struct MeetingHome: Sendable, Equatable {
    /// The node holding the room (its id: `HubCluster.origin`).
    public var node: String
    /// That node's base URL, where clients open the room (`cluster.public_url`).
    public var url: String
    /// The room's state as its previous holder last wrote it ("" : none); set only when this
    /// node has just taken the room over from another.
    public var snapshot: String

    /// Creates a record.
    public init(node: String, url: String, snapshot: String = "") {
        self.node = node
        self.url = url
        self.snapshot = snapshot
    }
}

/// One node holds each open meeting room at a time (migration 9; docs/postgresql.md, "Meetings
/// across nodes"). A node claims a room when a participant opens it there and nobody holds it,
/// renews its claims every second or so while the rooms stay open, and gives them up when they
/// empty. A claim not renewed for its lease (the holder died) may be taken by the next node
/// asked, which finds the room's last state in `snapshot` and seats its participants again.
/// The nodes alive are listed in `cluster_nodes` (heartbeat with the renewal).
public final class MeetingHomes: Sendable {
    /// The database shared by the nodes.
    public let database: any RecordDatabase

    /// The homes of an open, migrated database.
    public init(database: any RecordDatabase) { self.database = database }

    /// Claims meeting `id`'s room for `node` (base URL `url`) until `now + lease` ms, unless
    /// another node's claim is still valid; returns the holder after the claim. The previous
    /// holder's snapshot comes back only when `node` took the room over from another node whose
    /// claim lapsed less than `restoreWithin` ms ago (older seats are not waited for any more).
    public func claim(meeting id: Int64, node: String, url: String, now: Int64, lease: Int64,
                      restoreWithin: Int64) async throws(StoreError) -> MeetingHome {
        try await database.write { session throws(StoreError) in
            let before = try session.rows("SELECT node, snapshot, expires_at FROM meeting_homes WHERE meeting_id = ?", [.integer(id)]).first
            try session.run("""
                INSERT INTO meeting_homes (meeting_id, node, url, expires_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (meeting_id) DO UPDATE SET node = excluded.node, url = excluded.url, expires_at = excluded.expires_at,
                    snapshot = CASE WHEN meeting_homes.node = excluded.node THEN meeting_homes.snapshot ELSE '' END
                WHERE meeting_homes.node = excluded.node OR meeting_homes.expires_at < ?
                """, [.integer(id), .text(node), .text(url), .integer(now + lease), .integer(now)])
            guard let row = try session.rows("SELECT node, url FROM meeting_homes WHERE meeting_id = ?", [.integer(id)]).first else {
                throw StoreError(.statement, "the claim of meeting \(id)'s room left no row")
            }
            var reader = RowReader(row: row)
            var home = MeetingHome(node: try reader.text(), url: try reader.text())
            if home.node == node, let before {
                var previous = RowReader(row: before)
                let (holder, snapshot, expired) = (try previous.text(), try previous.text(), try previous.integer())
                if holder != node, expired >= now - restoreWithin { home.snapshot = snapshot }
            }
            return home
        }
    }

    /// Extends `node`'s claims on `meetings` to `now + lease` and records the node alive at
    /// `url`; returns those of `meetings` it no longer holds (taken over by another node after
    /// its claim lapsed, or deleted).
    public func renew(node: String, url: String, meetings: [Int64], now: Int64, lease: Int64) async throws(StoreError) -> [Int64] {
        try await database.write { session throws(StoreError) in
            try session.run("""
                INSERT INTO cluster_nodes (node, url, seen_at) VALUES (?, ?, ?)
                ON CONFLICT (node) DO UPDATE SET url = excluded.url, seen_at = excluded.seen_at
                """, [.text(node), .text(url), .integer(now)])
            guard !meetings.isEmpty else { return [] }
            try session.run("UPDATE meeting_homes SET expires_at = ? WHERE node = ?", [.integer(now + lease), .text(node)])
            let held = Set(try session.rows("SELECT meeting_id FROM meeting_homes WHERE node = ?", [.text(node)]).map { row throws(StoreError) in
                var reader = RowReader(row: row)
                return try reader.integer()
            })
            return meetings.filter { !held.contains($0) }
        }
    }

    /// Writes the room's state, while `node` holds meeting `id`'s room.
    public func save(meeting id: Int64, node: String, snapshot: String) async throws(StoreError) {
        try await database.write { session throws(StoreError) in
            try session.run("UPDATE meeting_homes SET snapshot = ? WHERE meeting_id = ? AND node = ?",
                            [.text(snapshot), .integer(id), .text(node)])
        }
    }

    /// The last state written of those of `meetings` whose room a node holds now (claim valid at `now`).
    public func heldSnapshots(meetings: [Int64], now: Int64) async throws(StoreError) -> [Int64: String] {
        guard !meetings.isEmpty else { return [:] }
        let marks = Array(repeating: "?", count: meetings.count).joined(separator: ", ")
        let rows = try await database.read { session throws(StoreError) in
            try session.rows("SELECT meeting_id, snapshot FROM meeting_homes WHERE expires_at >= ? AND meeting_id IN (\(marks))",
                             [.integer(now)] + meetings.map { .integer($0) })
        }
        var out: [Int64: String] = [:]
        for row in rows {
            var reader = RowReader(row: row)
            out[try reader.integer()] = try reader.text()
        }
        return out
    }

    /// Gives meeting `id`'s room up (it emptied on `node`): the next node asked claims it afresh.
    public func release(meeting id: Int64, node: String) async throws(StoreError) {
        try await database.write { session throws(StoreError) in
            try session.run("DELETE FROM meeting_homes WHERE meeting_id = ? AND node = ?", [.integer(id), .text(node)])
        }
    }

    /// The base URLs of the nodes seen alive since `since` (Unix ms), `first` first if among them,
    /// the others by URL.
    public func liveNodes(since: Int64, first: String) async throws(StoreError) -> [String] {
        let urls = try await database.read { session throws(StoreError) in
            try session.rows("SELECT DISTINCT url FROM cluster_nodes WHERE seen_at >= ? ORDER BY url", [.integer(since)]).map { row throws(StoreError) in
                var reader = RowReader(row: row)
                return try reader.text()
            }
        }
        return urls.contains(first) ? [first] + urls.filter { $0 != first } : urls
    }

    /// Takes a stopping node out of the list of nodes alive, and gives its rooms up.
    public func leave(node: String) async throws(StoreError) {
        try await database.write { session throws(StoreError) in
            try session.run("DELETE FROM cluster_nodes WHERE node = ?", [.text(node)])
            try session.run("DELETE FROM meeting_homes WHERE node = ?", [.text(node)])
        }
    }
}
