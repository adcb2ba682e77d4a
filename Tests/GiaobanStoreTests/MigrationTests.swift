import Foundation
@testable import GiaobanStore
import Testing
import GiaobanTestSupport

@Suite("Store migrations", .postgresStarted)
struct MigrationTests {
    @Test("a new file gets every migration once, in WAL mode with synchronous=FULL and foreign keys")
    func freshDatabase() throws {
        let temp = TemporaryDatabase()
        defer { temp.cleanup() }
        let database = try Database(path: temp.path)
        #expect(try database.appliedMigrations() == Migration.all.map(\.version))
        let pragmas = try database.read { c throws(StoreError) in
            [try c.scalar("PRAGMA journal_mode"),
             try c.scalar("PRAGMA synchronous"),
             try c.scalar("PRAGMA foreign_keys")]
        }
        #expect(pragmas == [.text("wal"), .integer(2), .integer(1)])
    }

    @Test("reopening applies nothing twice", arguments: StoreBackend.allCases)
    func reopen(_ backend: StoreBackend) throws {
        let temp = try TemporaryStore(backend)
        defer { temp.cleanup() }
        _ = try temp.open()
        let again = try temp.open()
        #expect(try again.appliedMigrations() == Migration.all.map(\.version))
    }

    @Test("a later migration is applied to an older database; a failing one rolls back all of its batch", arguments: StoreBackend.allCases)
    func laterAndFailing(_ backend: StoreBackend) throws {
        let temp = try TemporaryStore(backend)
        defer { temp.cleanup() }
        let first = [Migration(version: 1, name: "a", sql: "CREATE TABLE a (x INTEGER)")]
        _ = try temp.open(migrations: first)
        let broken = first + [
            Migration(version: 2, name: "b", sql: "CREATE TABLE b (y INTEGER)"),
            Migration(version: 3, name: "bad", sql: "CREATE TABLE oops ("),
        ]
        #expect {
            _ = try temp.open(migrations: broken)
        } throws: { error in
            guard let error = error as? StoreError else { return false }
            return error.reason == .migration && error.message.contains("migration 3 (bad)")
        }
        let fixed = first + [Migration(version: 2, name: "b", sql: "CREATE TABLE b (y INTEGER)")]
        let database = try temp.open(migrations: fixed)
        #expect(try database.appliedMigrations() == [1, 2])
    }

    @Test("a database with a newer schema than this build is refused with the versions", arguments: StoreBackend.allCases)
    func newerSchema(_ backend: StoreBackend) throws {
        let temp = try TemporaryStore(backend)
        defer { temp.cleanup() }
        let two = [Migration(version: 1, name: "a", sql: "CREATE TABLE a (x INTEGER)"),
                   Migration(version: 2, name: "b", sql: "CREATE TABLE b (y INTEGER)")]
        _ = try temp.open(migrations: two)
        #expect(throws: StoreError(.migration, "the database schema is at version 2, newer than this build knows (1)")) {
            _ = try temp.open(migrations: Array(two.prefix(1)))
        }
    }

    @Test("migrations out of order are refused before touching the database", arguments: StoreBackend.allCases)
    func outOfOrder(_ backend: StoreBackend) throws {
        let temp = try TemporaryStore(backend)
        defer { temp.cleanup() }
        let bad = [Migration(version: 2, name: "b", sql: ""), Migration(version: 1, name: "a", sql: "")]
        #expect(throws: StoreError.self) { _ = try temp.open(migrations: bad) }
    }

    @Test("a path that cannot be a database file is an open error with the path")
    func unopenable() {
        #expect {
            _ = try Database(path: "/proc/giaoban-cannot-exist/x.sqlite")
        } throws: { error in
            (error as? StoreError)?.reason == .open && "\(error)".contains("/proc/giaoban-cannot-exist")
        }
    }
}
