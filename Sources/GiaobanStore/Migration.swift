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
    ]
}

/// Applies the migrations a database has not recorded yet, all in one transaction, and
/// records each in `schema_migrations (version, name, applied_at)`.
struct MigrationRunner {
    let migrations: [Migration]

    func apply(on connection: Connection) throws(StoreError) {
        let versions = migrations.map(\.version)
        guard versions == versions.sorted(), Set(versions).count == versions.count, versions.allSatisfy({ $0 > 0 }) else {
            throw StoreError(.migration, "migration versions must be positive, unique and in order: \(versions)")
        }
        try connection.transaction { connection throws(StoreError) in
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    INTEGER PRIMARY KEY,
                    name       TEXT    NOT NULL,
                    applied_at INTEGER NOT NULL
                )
                """)
            let current: Int64
            switch try connection.statement("SELECT MAX(version) FROM schema_migrations").rows().first?.first {
            case .integer(let v): current = v
            default: current = 0
            }
            let known = versions.last ?? 0
            guard current <= known else {
                throw StoreError(.migration, "the database schema is at version \(current), newer than this build knows (\(known))")
            }
            let record = try connection.statement("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
            for migration in migrations where migration.version > current {
                do throws(StoreError) { try connection.execute(migration.sql) } catch {
                    throw StoreError(.migration, "migration \(migration.version) (\(migration.name)) failed: \(error.message)")
                }
                try record.run([.integer(migration.version), .text(migration.name), .integer(Clock.nowMilliseconds())])
            }
        }
    }
}

/// Wall-clock time for `received_at` / `applied_at` columns.
enum Clock {
    static func nowMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
