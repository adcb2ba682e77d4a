@testable import GiaobanServer
@testable import GiaobanStore
import Testing
import GiaobanTestSupport

@Suite("Storage configuration", .postgresStarted)
struct StorageConfigTests {
    @Test("postgresql from the environment opens the server's database; logs and --check-config hide the password")
    func postgresqlFromEnvironment() throws {
        let url = try PostgresServer.shared().createDatabase()
        let config = try GiaobanConfig.load(path: nil, environment: [
            "GIAOBAN_STORAGE_BACKEND": "postgresql", "GIAOBAN_STORAGE_POSTGRESQL_URL": url,
        ])
        let database = try config.storage.openDatabase()
        #expect(database.dialect == .postgresql && database.location == url)
        var secret = config
        secret.storage.postgresqlURL = "postgresql://giaoban:s3cret@db1/giaoban"
        #expect(secret.storage.location == "postgresql://giaoban:***@db1/giaoban")
        #expect(!"\(secret)".contains("s3cret") && "\(secret)".contains("giaoban:***@db1"))
    }

    @Test("a backend that needs a URL without one, or an unknown backend, is refused with the key", arguments: [
        (["GIAOBAN_STORAGE_BACKEND": "postgresql"], "storage.postgresql_url"),
        (["GIAOBAN_STORAGE_BACKEND": "mysql"], "storage.backend 'mysql' is not one of sqlite, postgresql"),
    ])
    func refused(_ environment: [String: String], _ words: String) {
        #expect {
            _ = try GiaobanConfig.load(path: nil, environment: environment)
        } throws: { error in
            "\(error)".contains(words)
        }
    }
}
