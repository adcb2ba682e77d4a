import Foundation

/// One numbered schema change. Versions only grow; a migration that shipped is never edited,
/// a change to it is a new migration.
public struct Migration: Sendable, Equatable {
    /// The version this migration brings the schema to (1, 2, 3, …).
    public let version: Int64
    /// A short name, recorded with the version.
    public let name: String
    /// The SQL, one or more statements.
    public let sql: String

    /// Creates a migration.
    public init(version: Int64, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Every migration of Giaoban's schema, in order.
    public static let all: [Migration] = [
        Migration(version: 1, name: "incidents", sql: """
            CREATE TABLE incidents (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                source      TEXT    NOT NULL,
                identifier  TEXT    NOT NULL,
                format      TEXT    NOT NULL,
                sender      TEXT,
                type        TEXT    NOT NULL,
                severity    TEXT    NOT NULL,
                urgency     TEXT    NOT NULL,
                certainty   TEXT    NOT NULL,
                latitude    REAL    NOT NULL,
                longitude   REAL    NOT NULL,
                occurred_at TEXT    NOT NULL,
                text        TEXT    NOT NULL,
                road        TEXT,
                km          REAL,
                received_at INTEGER NOT NULL,
                UNIQUE (source, identifier)
            );
            """),
        Migration(version: 2, name: "hub", sql: """
            CREATE TABLE communes (
                id         TEXT    PRIMARY KEY,
                name       TEXT    NOT NULL,
                area       TEXT    NOT NULL,
                updated_at INTEGER NOT NULL
            );
            CREATE TABLE cameras (
                id         TEXT    PRIMARY KEY,
                name       TEXT    NOT NULL,
                latitude   REAL    NOT NULL,
                longitude  REAL    NOT NULL,
                road       TEXT,
                km         REAL,
                updated_at INTEGER NOT NULL
            );
            ALTER TABLE incidents ADD COLUMN state TEXT NOT NULL DEFAULT 'new';
            CREATE TABLE incident_snapshots (
                incident_id  INTEGER PRIMARY KEY REFERENCES incidents (id),
                content_type TEXT    NOT NULL,
                data         BLOB    NOT NULL
            );
            CREATE TABLE incident_events (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                incident_id INTEGER NOT NULL REFERENCES incidents (id),
                at          INTEGER NOT NULL,
                actor       TEXT    NOT NULL,
                action      TEXT    NOT NULL,
                detail      TEXT
            );
            CREATE INDEX incident_events_incident ON incident_events (incident_id, id);
            CREATE TABLE briefings (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                author     TEXT    NOT NULL,
                title      TEXT    NOT NULL,
                body       TEXT    NOT NULL,
                priority   TEXT    NOT NULL,
                audience   TEXT    NOT NULL,
                created_at INTEGER NOT NULL
            );
            CREATE TABLE briefing_attachments (
                id           INTEGER PRIMARY KEY AUTOINCREMENT,
                briefing_id  INTEGER NOT NULL REFERENCES briefings (id),
                name         TEXT    NOT NULL,
                content_type TEXT    NOT NULL,
                data         BLOB    NOT NULL
            );
            CREATE TABLE deliveries (
                kind            TEXT    NOT NULL,
                item_id         INTEGER NOT NULL,
                recipient       TEXT    NOT NULL,
                created_at      INTEGER NOT NULL,
                delivered_at    INTEGER,
                read_at         INTEGER,
                acknowledged_at INTEGER,
                acknowledged_by TEXT,
                escalated_at    INTEGER,
                PRIMARY KEY (kind, item_id, recipient)
            );
            CREATE INDEX deliveries_pending ON deliveries (recipient, delivered_at);
            CREATE INDEX deliveries_unacknowledged ON deliveries (acknowledged_at, escalated_at, created_at);
            CREATE TABLE meetings (
                id               INTEGER PRIMARY KEY AUTOINCREMENT,
                title            TEXT    NOT NULL,
                scheduled_at     TEXT    NOT NULL,
                duration_minutes INTEGER NOT NULL,
                created_by       TEXT    NOT NULL,
                created_at       INTEGER NOT NULL
            );
            CREATE TABLE attendance (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                meeting_id  INTEGER NOT NULL REFERENCES meetings (id),
                participant TEXT    NOT NULL,
                role        TEXT    NOT NULL,
                joined_at   INTEGER NOT NULL,
                left_at     INTEGER
            );
            CREATE INDEX attendance_meeting ON attendance (meeting_id, joined_at);
            """),
        Migration(version: 3, name: "command receipts", sql: """
            CREATE TABLE command_subjects (
                subject            TEXT    PRIMARY KEY,
                first_connected_at INTEGER NOT NULL
            );
            CREATE TABLE command_receipts (
                kind         TEXT    NOT NULL,
                item_id      INTEGER NOT NULL,
                subject      TEXT    NOT NULL,
                delivered_at INTEGER NOT NULL,
                PRIMARY KEY (kind, item_id, subject)
            );
            """),
        // Append-only: ids are given by the appender (last + 1) and each row's hash covers
        // the previous row's (AuditLog, docs/audit.md).
        Migration(version: 4, name: "audit", sql: """
            CREATE TABLE audit_log (
                id        INTEGER PRIMARY KEY,
                at        INTEGER NOT NULL,
                subject   TEXT    NOT NULL,
                role      TEXT    NOT NULL,
                remote    TEXT,
                action    TEXT    NOT NULL,
                target    TEXT    NOT NULL,
                detail    TEXT    NOT NULL,
                result    TEXT    NOT NULL,
                prev_hash TEXT    NOT NULL,
                hash      TEXT    NOT NULL
            );
            CREATE INDEX audit_log_subject ON audit_log (subject, id);
            CREATE INDEX audit_log_action ON audit_log (action, id);
            CREATE INDEX audit_log_at ON audit_log (at);
            """),
        // Accounts of people and stations; refresh tokens are kept as SHA-256 hashes, one
        // family per sign-in (AccountStore, docs/accounts.md).
        Migration(version: 5, name: "accounts", sql: """
            CREATE TABLE accounts (
                subject         TEXT    PRIMARY KEY,
                display_name    TEXT    NOT NULL,
                role            TEXT    NOT NULL,
                commune         TEXT,
                enabled         INTEGER NOT NULL,
                password_hash   TEXT,
                failed_attempts INTEGER NOT NULL DEFAULT 0,
                locked_until    INTEGER,
                created_at      INTEGER NOT NULL,
                updated_at      INTEGER NOT NULL
            );
            CREATE TABLE refresh_tokens (
                token_hash TEXT    PRIMARY KEY,
                subject    TEXT    NOT NULL REFERENCES accounts (subject),
                family     TEXT    NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                revoked_at INTEGER
            );
            CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
            """),
        // API keys of machine clients (cameras, stations): only the SHA-256 of a key is kept
        // (APIKeys, docs/accounts.md).
        Migration(version: 6, name: "api keys", sql: """
            CREATE TABLE api_keys (
                id         TEXT    PRIMARY KEY,
                key_hash   TEXT    NOT NULL UNIQUE,
                subject    TEXT    NOT NULL REFERENCES accounts (subject),
                label      TEXT    NOT NULL,
                created_at INTEGER NOT NULL,
                created_by TEXT    NOT NULL,
                revoked_at INTEGER
            );
            CREATE INDEX api_keys_subject ON api_keys (subject);
            """),
        // A camera's RTSP stream (docs/cameras.md); its credentials are in cameras.secrets_file.
        Migration(version: 7, name: "camera streams", sql: """
            ALTER TABLE cameras ADD COLUMN rtsp_url TEXT;
            """),
        // Each finished recording file, as its meeting's signed manifest lists it (docs/recording.md).
        Migration(version: 8, name: "recording files", sql: """
            CREATE TABLE recording_files (
                meeting_id  INTEGER NOT NULL,
                name        TEXT    NOT NULL,
                participant TEXT    NOT NULL,
                size        INTEGER NOT NULL,
                sha256      TEXT    NOT NULL,
                started_ms  INTEGER NOT NULL,
                ended_ms    INTEGER NOT NULL,
                PRIMARY KEY (meeting_id, name)
            );
            """),
        // Which node holds each open meeting room, and the room's seats for the node that takes it
        // over; the nodes alive (MeetingHomes, docs/postgresql.md "Meetings across nodes").
        Migration(version: 9, name: "meeting homes", sql: """
            CREATE TABLE meeting_homes (
                meeting_id INTEGER PRIMARY KEY,
                node       TEXT    NOT NULL,
                url        TEXT    NOT NULL,
                expires_at INTEGER NOT NULL,
                snapshot   TEXT    NOT NULL DEFAULT ''
            );
            CREATE INDEX meeting_homes_node ON meeting_homes (node);
            CREATE TABLE cluster_nodes (
                node    TEXT    PRIMARY KEY,
                url     TEXT    NOT NULL,
                seen_at INTEGER NOT NULL
            );
            """),
        // Which node publishes each plain WHIP stream, for the others' trunks (StreamDirectory).
        Migration(version: 10, name: "cluster streams", sql: """
            CREATE TABLE cluster_streams (
                stream  TEXT    PRIMARY KEY,
                node    TEXT    NOT NULL,
                url     TEXT    NOT NULL,
                seen_at INTEGER NOT NULL
            );
            CREATE INDEX cluster_streams_node ON cluster_streams (node);
            """),
    ]
}

/// Applies the migrations a database has not recorded yet and records each in
/// `schema_migrations (version, name, applied_at)`. The caller runs `apply` inside one
/// transaction, so a failed migration leaves the schema as it was.
public struct MigrationRunner: Sendable {
    let migrations: [Migration]
    let dialect: SQLDialect

    /// A runner for `migrations`, translated to `dialect`.
    public init(migrations: [Migration], dialect: SQLDialect) {
        self.migrations = migrations
        self.dialect = dialect
    }

    /// Applies what is missing; call inside a transaction.
    public func apply(on session: any SQLSession) throws(StoreError) {
        let versions = migrations.map(\.version)
        guard versions == versions.sorted(), Set(versions).count == versions.count, versions.allSatisfy({ $0 > 0 }) else {
            throw StoreError(.migration, "migration versions must be positive, unique and in order: \(versions)")
        }
        try session.execute(dialect.translate("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    INTEGER PRIMARY KEY,
                name       TEXT    NOT NULL,
                applied_at INTEGER NOT NULL
            )
            """))
        let current: Int64
        switch try session.scalar("SELECT MAX(version) FROM schema_migrations") {
        case .integer(let v): current = v
        default: current = 0
        }
        let known = versions.last ?? 0
        guard current <= known else {
            throw StoreError(.migration, "the database schema is at version \(current), newer than this build knows (\(known))")
        }
        for migration in migrations where migration.version > current {
            do throws(StoreError) { try session.execute(dialect.translate(migration.sql)) } catch {
                throw StoreError(.migration, "migration \(migration.version) (\(migration.name)) failed: \(error.message)")
            }
            try session.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                            [.integer(migration.version), .text(migration.name), .integer(StoreClock.nowMilliseconds())])
        }
    }
}

extension SQLDialect {
    /// Migrations are written in SQLite's DDL with the types INTEGER, REAL, TEXT and BLOB;
    /// PostgreSQL gets 64-bit integers, doubles, bytea and identity keys in their place.
    public func translate(_ ddl: String) -> String {
        guard self == .postgresql else { return ddl }
        var out = ddl.replacingOccurrences(of: "INTEGER PRIMARY KEY AUTOINCREMENT", with: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        for (from, to) in [("INTEGER", "BIGINT"), ("REAL", "DOUBLE PRECISION"), ("BLOB", "BYTEA")] {
            out = out.replacingOccurrences(of: "\\b\(from)\\b", with: to, options: .regularExpression)
        }
        return out
    }
}

/// Wall-clock time for `received_at` / `applied_at` columns.
public enum StoreClock {
    /// Milliseconds since 1970, now.
    public static func nowMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
