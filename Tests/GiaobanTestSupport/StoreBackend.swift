import Foundation
public import GiaobanStore
public import Testing

/// The storage backends a store test runs on.
public enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgresql

    /// The backend's name in test output.
    public var testDescription: String { rawValue }
}

/// A fresh, empty database on one backend that tests open (and reopen) by `open`: a file in a
/// temporary directory, or a new database on the test run's PostgreSQL server.
public struct TemporaryStore: Sendable {
    /// Where it lives.
    public let backend: StoreBackend
    private let file = TemporaryDatabase()
    private let postgresURL: String?
    /// The PostgreSQL database's URL (nil on SQLite), for a second connection to it.
    public var url: String? { postgresURL }

    /// A new empty database; throws (failing the test) when PostgreSQL cannot be started.
    public init(_ backend: StoreBackend) throws {
        self.backend = backend
        postgresURL = backend == .postgresql ? try PostgresServer.shared().createDatabase() : nil
    }

    /// A new empty database, waiting for the PostgreSQL server off the cooperative pool
    /// (`PostgresServer.start`); what tests use.
    public static func make(_ backend: StoreBackend) async throws -> TemporaryStore {
        if backend == .postgresql { _ = try await PostgresServer.start() }
        return try TemporaryStore(backend)
    }

    /// Opens the database, applying `migrations`.
    public func open(migrations: [Migration] = Migration.all) throws(StoreError) -> any RecordDatabase {
        switch backend {
        case .sqlite: try Database(path: file.path, migrations: migrations)
        case .postgresql: try PostgresDatabase(url: postgresURL!, migrations: migrations)
        }
    }

    /// Removes the file (a PostgreSQL database goes with its server at the end of the run).
    public func cleanup() { file.cleanup() }
}
