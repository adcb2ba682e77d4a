import Foundation
@testable import GiaobanStore
import Testing
import GiaobanTestSupport

/// Accounts and refresh tokens on both backends: unique subjects, enable/disable, the
/// lockout's doubling, refresh rotation and reuse detection.
@Suite("Accounts", .postgresStarted)
struct AccountStoreTests {
    static let officer = AccountRecord(subject: "can-bo-an", displayName: "Cán bộ An", role: "chair", commune: "xa-phuoc-thai",
                                       passwordHash: "scrypt$16$1$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==")

    /// A new database on `backend` holding the officer's account, and its two stores.
    static func stores(_ backend: StoreBackend) async throws -> (TemporaryStore, AccountStore, RefreshTokens) {
        let temp = try await TemporaryStore.make(backend)
        let database = try temp.open()
        let store = AccountStore(database: database)
        try store.addNow(officer, now: 0)
        return (temp, store, RefreshTokens(database: database))
    }

    @Test("an account is stored once per subject and read back; disabling it lists it as disabled", arguments: StoreBackend.allCases)
    func addAndDisable(_ backend: StoreBackend) async throws {
        let temp = try await TemporaryStore.make(backend)
        defer { temp.cleanup() }
        let store = AccountStore(database: try temp.open())
        #expect(try store.addNow(Self.officer, now: 1_000))
        #expect(try !store.addNow(AccountRecord(subject: "can-bo-an", displayName: "other", role: "admin"), now: 2_000))
        #expect(try store.addNow(AccountRecord(subject: "cam-1", displayName: "Camera 1", role: "camera"), now: 3_000))
        var expected = Self.officer
        expected.createdAt = 1_000
        expected.updatedAt = 1_000
        #expect(try store.accountNow("can-bo-an") == expected)
        #expect(try store.accountNow("cam-1")?.passwordHash == nil)
        #expect(try store.listNow().map(\.subject) == ["cam-1", "can-bo-an"])
        #expect(try store.disabledSubjectsNow().isEmpty)
        #expect(try store.setEnabledNow("can-bo-an", false, now: 4_000))
        #expect(try !store.setEnabledNow("nobody", false, now: 4_000))
        #expect(try store.disabledSubjectsNow() == ["can-bo-an"])
        #expect(try store.accountNow("can-bo-an")?.updatedAt == 4_000)
        #expect(try store.setEnabledNow("can-bo-an", true, now: 5_000))
        #expect(try store.disabledSubjectsNow().isEmpty)
    }

    @Test("failures lock from the fifth on, 30 s doubling to 15 min; a success clears them", arguments: StoreBackend.allCases)
    func lockout(_ backend: StoreBackend) async throws {
        let temp = try await TemporaryStore.make(backend)
        defer { temp.cleanup() }
        let store = AccountStore(database: try temp.open())
        try store.addNow(Self.officer, now: 0)
        var locks: [Int64?] = []
        for _ in 1...11 { locks.append(try store.recordFailureNow("can-bo-an", now: 100_000)) }
        #expect(locks == [nil, nil, nil, nil, 130_000, 160_000, 220_000, 340_000, 580_000, 1_000_000, 1_000_000])
        #expect(try store.accountNow("can-bo-an")?.failedAttempts == 11)
        #expect(try store.recordFailureNow("nobody", now: 0) == nil)
        try store.recordSuccessNow("can-bo-an")
        let cleared = try store.accountNow("can-bo-an")
        #expect(cleared?.failedAttempts == 0 && cleared?.lockedUntil == nil)
    }

    @Test("a refresh token rotates once; presenting it again revokes its whole family", arguments: StoreBackend.allCases)
    func rotation(_ backend: StoreBackend) async throws {
        let (temp, store, tokens) = try await Self.stores(backend)
        defer { temp.cleanup() }
        let first = try tokens.issueNow(subject: "can-bo-an", now: 1_000, lifetime: 10_000)
        #expect(first.count == 64)
        guard case .rotated(let account, let second) = try tokens.rotateNow(first, now: 2_000, lifetime: 10_000) else {
            Issue.record("the first use must rotate")
            return
        }
        #expect(account.subject == "can-bo-an" && second != first)
        #expect(try tokens.rotateNow(first, now: 3_000, lifetime: 10_000) == .reused(subject: "can-bo-an"))
        // The reuse revoked the token the thief or the owner got in exchange too.
        #expect(try tokens.rotateNow(second, now: 3_000, lifetime: 10_000) == .reused(subject: "can-bo-an"))
        #expect(try tokens.rotateNow("0000", now: 3_000, lifetime: 10_000) == .refused)
        // A token of another sign-in is not touched.
        let other = try tokens.issueNow(subject: "can-bo-an", now: 3_000, lifetime: 10_000)
        #expect(try tokens.revokeNow(other, now: 4_000) == "can-bo-an")
        #expect(try tokens.revokeNow(other, now: 4_000) == nil)
    }

    @Test("an expired token, or one of a disabled account, is refused", arguments: StoreBackend.allCases)
    func refused(_ backend: StoreBackend) async throws {
        let (temp, store, tokens) = try await Self.stores(backend)
        defer { temp.cleanup() }
        let expiring = try tokens.issueNow(subject: "can-bo-an", now: 1_000, lifetime: 10_000)
        #expect(try tokens.rotateNow(expiring, now: 11_000, lifetime: 10_000) == .refused)
        let live = try tokens.issueNow(subject: "can-bo-an", now: 1_000, lifetime: 10_000)
        try store.setEnabledNow("can-bo-an", false, now: 2_000)
        // Disabling revoked it: presenting it now counts as reuse of a revoked token.
        #expect(try tokens.rotateNow(live, now: 3_000, lifetime: 10_000) == .reused(subject: "can-bo-an"))
    }
}
