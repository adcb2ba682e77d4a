public import GiaobanStore

extension GiaobanConfig.Storage: CustomStringConvertible, CustomDebugStringConvertible {
    /// Where the records are, for logs: the SQLite file, or the PostgreSQL URL without its password.
    public var location: String {
        backend == "postgresql" ? PostgresDatabase.redacted(postgresqlURL) : sqlitePath
    }

    /// Opens the configured backend, creating or migrating its schema; a PostgreSQL statement
    /// fails after `statementTimeoutMilliseconds` (`security.postgresql_statement_timeout_ms`).
    public func openDatabase(statementTimeoutMilliseconds: Int = 10_000)
        throws(StoreError) -> any RecordDatabase {
        backend == "postgresql" ? try PostgresDatabase(url: postgresqlURL, statementTimeoutMilliseconds: statementTimeoutMilliseconds)
                                : try Database(path: sqlitePath)
    }

    /// The settings with the PostgreSQL password redacted (`giaoban serve --check-config`).
    public var description: String {
        "Storage(backend: \(backend), sqlite_path: \(sqlitePath), postgresql_url: \(PostgresDatabase.redacted(postgresqlURL)))"
    }

    public var debugDescription: String { description }
}
