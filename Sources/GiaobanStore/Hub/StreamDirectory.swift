/// Which node of a cluster publishes each plain WHIP stream (migration 10; docs/postgresql.md,
/// "Streams across nodes"), so that another node with a watcher of it pulls it from there over
/// one trunk. Each node writes its own streams every second (`sync`); a row whose node has
/// not written for a while is ignored by `locate`.
public final class StreamDirectory: Sendable {
    /// The database shared by the nodes.
    public let database: any RecordDatabase

    /// The directory of an open, migrated database.
    public init(database: any RecordDatabase) { self.database = database }

    /// Records that `node` (base URL `url`) publishes exactly `streams` at `now`.
    public func sync(node: String, url: String, streams: [String], now: Int64) async throws(StoreError) {
        try await database.write { session throws(StoreError) in
            let held = Set(try session.rows("SELECT stream FROM cluster_streams WHERE node = ?", [.text(node)]).map { row throws(StoreError) in
                var reader = RowReader(row: row)
                return try reader.text()
            })
            for stream in held.subtracting(streams) {
                try session.run("DELETE FROM cluster_streams WHERE stream = ? AND node = ?", [.text(stream), .text(node)])
            }
            for stream in streams {
                try session.run("""
                    INSERT INTO cluster_streams (stream, node, url, seen_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (stream) DO UPDATE SET node = excluded.node, url = excluded.url, seen_at = excluded.seen_at
                    """, [.text(stream), .text(node), .text(url), .integer(now)])
            }
        }
    }

    /// The base URL of the node other than `node` that published `stream` at `since` or later.
    public func locate(_ stream: String, except node: String, since: Int64) async throws(StoreError) -> String? {
        let rows = try await database.read { session throws(StoreError) in
            try session.rows("SELECT url FROM cluster_streams WHERE stream = ? AND node <> ? AND seen_at >= ?",
                             [.text(stream), .text(node), .integer(since)])
        }
        guard let row = rows.first else { return nil }
        var reader = RowReader(row: row)
        return try reader.text()
    }

    /// Takes a stopping node's streams out.
    public func leave(node: String) async throws(StoreError) {
        try await database.write { session throws(StoreError) in
            try session.run("DELETE FROM cluster_streams WHERE node = ?", [.text(node)])
        }
    }
}
