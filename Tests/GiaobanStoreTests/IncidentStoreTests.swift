import Foundation
@testable import GiaobanStore
import Testing
import GiaobanIncidents
import GiaobanTestSupport

@Suite("Incident store", .postgresStarted)
struct IncidentStoreTests {
    static func incident(_ identifier: String, source: String = "cam-ql1a-km1836") -> IncidentRecord {
        IncidentRecord(source: source, identifier: identifier, format: "json", type: "Tai nạn giao thông",
                       severity: "Severe", urgency: "Immediate", certainty: "Observed",
                       latitude: 10.953, longitude: 107.011, time: "2026-11-29T08:14:10+07:00",
                       text: "Va chạm xe tải và xe khách", road: "QL1A", km: 1836.5)
    }

    @Test("a retry with the same (source, identifier) returns the first row and stores nothing", arguments: StoreBackend.allCases)
    func idempotent(_ backend: StoreBackend) throws {
        let temp = try TemporaryStore(backend)
        defer { temp.cleanup() }
        let store = IncidentStore(database: try temp.open())
        let first = try store.ingest(Self.incident("a-1"))
        #expect(first.created && first.id > 0)
        var changed = Self.incident("a-1")
        changed.text = "sent again with other text"
        let retry = try store.ingest(changed)
        #expect(retry.id == first.id && !retry.created)
        #expect(try store.get(id: first.id)?.record == Self.incident("a-1"))
        let other = try store.ingest(Self.incident("a-1", source: "cam-ql51-km12"))
        #expect(other.created && other.id != first.id)
        #expect(try store.list(limit: 10).items.count == 2)
    }

    @Test("records round-trip, optional fields included, and survive reopening the database", arguments: StoreBackend.allCases)
    func roundTrip(_ backend: StoreBackend) throws {
        let temp = try TemporaryStore(backend)
        defer { temp.cleanup() }
        var bare = Self.incident("bare")
        bare.road = nil
        bare.km = nil
        bare.sender = "someone@example.vn"
        let id: Int64
        do {
            let store = IncidentStore(database: try temp.open())
            id = try store.ingest(bare).id
        }
        let reopened = IncidentStore(database: try temp.open())
        let stored = try #require(try reopened.get(id: id))
        #expect(stored.record == bare)
        #expect(stored.receivedAt > 1_700_000_000_000)
        #expect(try reopened.get(id: id + 1000) == nil)
    }

    @Test("pages walk every incident once, in id order, and the last page has no next_after", arguments: StoreBackend.allCases)
    func pagination(_ backend: StoreBackend) throws {
        let temp = try TemporaryStore(backend)
        defer { temp.cleanup() }
        let store = IncidentStore(database: try temp.open())
        for i in 0..<25 { _ = try store.ingest(Self.incident("p-\(i)")) }
        var seen: [Int64] = []
        var after: Int64 = 0
        var pages = 0
        while true {
            let page = try store.list(limit: 10, afterID: after)
            pages += 1
            seen += page.items.map(\.id)
            guard let next = page.nextAfter else { break }
            #expect(next == page.items.last?.id)
            after = next
        }
        #expect(pages == 3)
        #expect(seen.count == 25 && seen == seen.sorted() && Set(seen).count == 25)
        let exact = try store.list(limit: 25)
        #expect(exact.items.count == 25 && exact.nextAfter == nil)
        #expect(try store.list(limit: 10, afterID: seen.last!).items.isEmpty)
    }

    @Test("concurrent ingests of the same and of different identifiers: one row per identifier", arguments: StoreBackend.allCases)
    func concurrent(_ backend: StoreBackend) async throws {
        let temp = try TemporaryStore(backend)
        defer { temp.cleanup() }
        let store = IncidentStore(database: try temp.open())
        let results = try await withThrowingTaskGroup(of: (String, Int64, Bool).self) { group in
            for i in 0..<40 {
                group.addTask {
                    let identifier = "c-\(i % 8)"
                    let outcome = try await store.ingest(Self.incident(identifier))
                    return (identifier, outcome.id, outcome.created)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter(\.2).count == 8)
        let ids = Dictionary(grouping: results, by: \.0).mapValues { Set($0.map(\.1)) }
        #expect(ids.count == 8 && ids.values.allSatisfy { $0.count == 1 })
        #expect(try await store.list(limit: 100).items.count == 8)
    }

    @Test("text with quotes, NUL-free Unicode and SQL metacharacters is stored as given", arguments: StoreBackend.allCases)
    func awkwardText(_ backend: StoreBackend) throws {
        let temp = try TemporaryStore(backend)
        defer { temp.cleanup() }
        let store = IncidentStore(database: try temp.open())
        var record = Self.incident("x'); DROP TABLE incidents; --")
        record.text = "Đường \"QL1A\" — ùn tắc 🚧 'nặng'"
        let id = try store.ingest(record).id
        #expect(try store.get(id: id)?.record == record)
    }
}
