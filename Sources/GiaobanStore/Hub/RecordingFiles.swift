/// One finished recording file as the database keeps it: what its meeting's signed manifest
/// lists (docs/recording.md, "Integrity").
public struct RecordingFileRecord: Sendable, Equatable {
    /// The meeting.
    public var meeting: Int64
    /// The file's name in the meeting's directory.
    public var name: String
    /// The participant recorded.
    public var participant: String
    /// Its size in bytes.
    public var size: Int64
    /// Its SHA-256, hex.
    public var sha256: String
    /// Unix ms of its first and last packet.
    public var startedMs: Int64
    /// See `startedMs`.
    public var endedMs: Int64

    /// Creates a record.
    public init(meeting: Int64, name: String, participant: String, size: Int64, sha256: String, startedMs: Int64, endedMs: Int64) {
        self.meeting = meeting
        self.name = name
        self.participant = participant
        self.size = size
        self.sha256 = sha256
        self.startedMs = startedMs
        self.endedMs = endedMs
    }
}

/// The finished recording files (migration 8). Methods ending in `Now` run on the caller's thread.
public final class RecordingFiles: Sendable {
    /// The database holding them.
    public let database: any RecordDatabase

    /// The files of an open, migrated database.
    public init(database: any RecordDatabase) { self.database = database }

    /// Stores `file` (a file finished again under the same name replaces its row).
    public func addNow(_ file: RecordingFileRecord) throws(StoreError) {
        try database.write { session throws(StoreError) in
            try session.run("""
                INSERT INTO recording_files (meeting_id, name, participant, size, sha256, started_ms, ended_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (meeting_id, name) DO UPDATE SET participant = excluded.participant, size = excluded.size,
                  sha256 = excluded.sha256, started_ms = excluded.started_ms, ended_ms = excluded.ended_ms
                """, [.integer(file.meeting), .text(file.name), .text(file.participant), .integer(file.size), .text(file.sha256),
                      .integer(file.startedMs), .integer(file.endedMs)])
        }
    }

    /// The files of `meeting`, by name.
    public func listNow(meeting: Int64) throws(StoreError) -> [RecordingFileRecord] {
        let rows = try database.read { session throws(StoreError) in
            try session.rows("SELECT meeting_id, name, participant, size, sha256, started_ms, ended_ms FROM recording_files WHERE meeting_id = ? ORDER BY name",
                             [.integer(meeting)])
        }
        return try rows.map { row throws(StoreError) in
            var c = RowReader(row: row)
            return RecordingFileRecord(meeting: try c.integer(), name: try c.text(), participant: try c.text(), size: try c.integer(),
                                       sha256: try c.text(), startedMs: try c.integer(), endedMs: try c.integer())
        }
    }
}
