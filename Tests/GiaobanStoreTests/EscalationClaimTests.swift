import Foundation
@testable import GiaobanStore
import Testing
import GiaobanTestSupport

/// Escalation on several nodes: two stores on one PostgreSQL database escalate at the same
/// moment; every overdue delivery is escalated by exactly one of them.
@Suite("Escalation claimed once across nodes", .postgresStarted)
struct EscalationClaimTests {
    @Test("two stores racing on one PostgreSQL database: each delivery escalated once, one event each")
    func race() async throws {
        let url = try PostgresServer.shared().createDatabase()
        let first = DeliveryStore(database: try PostgresDatabase(url: url))
        let second = DeliveryStore(database: try PostgresDatabase(url: url))
        let incidents = IncidentStore(database: try PostgresDatabase(url: url))
        let communes = (1...20).map { "xa-\($0)" }
        var total = 0
        for round in 0..<10 {
            for i in 0..<5 {
                _ = try await incidents.ingest(IncidentStoreTests.incident("race-\(round)-\(i)"),
                                               recipients: communes + [commandCenterRecipient], now: 1_000)
            }
            total += 5 * communes.count
            let now = Int64(10_000 + round)
            async let a = first.escalateDue(routedBefore: 5_000, now: now)
            async let b = second.escalateDue(routedBefore: 5_000, now: now)
            let (ra, rb) = try await (a, b)
            let keys = (ra + rb).map { "\($0.itemID)/\($0.recipient)" }
            #expect(keys.count == 5 * communes.count, "round \(round): \(ra.count) + \(rb.count) escalations for \(5 * communes.count) deliveries")
            #expect(Set(keys).count == keys.count, "round \(round): a delivery escalated twice")
        }
        #expect(try await first.escalateDue(routedBefore: 5_000, now: 20_000).isEmpty)
        _ = total
    }
}
