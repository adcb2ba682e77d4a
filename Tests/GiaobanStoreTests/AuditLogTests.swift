import Foundation
@testable import GiaobanStore
import Testing
import GiaobanTestSupport

/// The audit trail on both backends: rows chain by hash, `verify` names the first edited or
/// deleted row, filters select, and appenders on two connections keep one chain.
@Suite("Audit trail", .postgresStarted)
struct AuditLogTests {
    static func entry(_ n: Int, subject: String = "officer", action: String = "room.mute") -> AuditEntry {
        AuditEntry(at: 1_000 + Int64(n), subject: subject, role: "chair", action: action, target: "meeting/1/xa-\(n)")
    }

    @Test("appends chain: ids 1, 2, 3, each prev_hash the row before's hash, the first the genesis", arguments: StoreBackend.allCases)
    func chain(_ backend: StoreBackend) async throws {
        let temp = try TemporaryStore(backend)
        defer { temp.cleanup() }
        let log = AuditLog(database: try temp.open())
        var previous = AuditRecord.genesis
        for n in 1...3 {
            let record = try await log.append(Self.entry(n))
            #expect(record.id == Int64(n))
            #expect(record.prevHash == previous)
            #expect(record.hash == AuditRecord.hash(id: record.id, entry: record.entry, prevHash: previous))
            #expect(record.hash.count == 64 && record.hash != previous)
            previous = record.hash
        }
        #expect(try log.verifyNow() == .intact(rows: 3, head: previous))
        // Reopened, the chain goes on from the stored head.
        let again = AuditLog(database: try temp.open())
        #expect(try await again.append(Self.entry(4)).prevHash == previous)
        #expect(try again.verifyNow(pageSize: 2) == .intact(rows: 4, head: try await again.list(AuditFilter(limit: 1))[0].hash))
    }

    /// A trail of five rows on `backend`, its database, and the store to remove afterwards.
    static func fiveRows(_ backend: StoreBackend) async throws -> (TemporaryStore, any RecordDatabase, AuditLog) {
        let temp = try TemporaryStore(backend)
        let database = try temp.open()
        let log = AuditLog(database: database)
        for n in 1...5 { try await log.append(Self.entry(n)) }
        return (temp, database, log)
    }

    @Test("verify names a row whose one field was changed by UPDATE", arguments: StoreBackend.allCases)
    func edited(_ backend: StoreBackend) async throws {
        let (temp, database, log) = try await Self.fiveRows(backend)
        defer { temp.cleanup() }
        try database.write { session throws(StoreError) in
            _ = try session.run("UPDATE audit_log SET result = ? WHERE id = ?", [.text("ok (edited)"), .integer(3)])
        }
        #expect(try log.verifyNow(pageSize: 2) == .broken(AuditBreak(id: 3, kind: .edited, previousID: 2, intactRows: 2)))
    }

    @Test("verify names the row after a deleted middle row", arguments: StoreBackend.allCases)
    func deleted(_ backend: StoreBackend) async throws {
        let (temp, database, log) = try await Self.fiveRows(backend)
        defer { temp.cleanup() }
        try database.write { session throws(StoreError) in _ = try session.run("DELETE FROM audit_log WHERE id = ?", [.integer(3)]) }
        let result = try log.verifyNow()
        #expect(result == .broken(AuditBreak(id: 4, kind: .deletedBefore, previousID: 2, intactRows: 2)))
        if case .broken(let found) = result { #expect(found.description.contains("row 4 does not follow row 2")) }
    }

    @Test("the same rows give the same hash; any field changed gives another")
    func canonical() {
        let base = Self.entry(1)
        let hash = AuditRecord.hash(id: 1, entry: base, prevHash: AuditRecord.genesis)
        #expect(hash == AuditRecord.hash(id: 1, entry: base, prevHash: AuditRecord.genesis))
        var variants: [AuditEntry] = []
        for change in 0..<6 {
            var e = base
            switch change {
            case 0: e.subject = "officer2"
            case 1: e.remote = ""
            case 2: e.at += 1
            case 3: e.detail = "x"
            // Moving a character from one field to the next must change the hash too.
            case 4: e.subject = "office"; e.role = "rchair"
            default: e.result = "refused: no"
            }
            variants.append(e)
        }
        for e in variants { #expect(AuditRecord.hash(id: 1, entry: e, prevHash: AuditRecord.genesis) != hash) }
        #expect(AuditRecord.hash(id: 2, entry: base, prevHash: AuditRecord.genesis) != hash)
    }

    @Test("filters: subject, action, time range, before; newest first; limit", arguments: StoreBackend.allCases)
    func filters(_ backend: StoreBackend) async throws {
        let temp = try TemporaryStore(backend)
        defer { temp.cleanup() }
        let log = AuditLog(database: try temp.open())
        for n in 1...6 {
            try await log.append(Self.entry(n, subject: n % 2 == 0 ? "admin-1" : "officer", action: n <= 3 ? "room.mute" : "meeting.end"))
        }
        #expect(try await log.list(AuditFilter()).map(\.id) == [6, 5, 4, 3, 2, 1])
        #expect(try await log.list(AuditFilter(subject: "admin-1")).map(\.id) == [6, 4, 2])
        #expect(try await log.list(AuditFilter(action: "meeting.end")).map(\.id) == [6, 5, 4])
        #expect(try await log.list(AuditFilter(since: 1_002, until: 1_005)).map(\.id) == [4, 3, 2])
        #expect(try await log.list(AuditFilter(subject: "officer", action: "room.mute")).map(\.id) == [3, 1])
        #expect(try await log.list(AuditFilter(beforeID: 5, limit: 2)).map(\.id) == [4, 3])
    }

    @Test("two connections appending at once on PostgreSQL keep one chain")
    func concurrentNodes() async throws {
        let url = try PostgresServer.shared().createDatabase()
        let first = AuditLog(database: try PostgresDatabase(url: url))
        let second = AuditLog(database: try PostgresDatabase(url: url))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for log in [first, second] {
                group.addTask { for n in 1...20 { try await log.append(Self.entry(n)) } }
            }
            try await group.waitForAll()
        }
        guard case .intact(let rows, _) = try first.verifyNow() else {
            Issue.record("the chain forked: \(try first.verifyNow())")
            return
        }
        #expect(rows == 40)
    }
}
