import Foundation
@testable import GiaobanServer
import Logging
import Synchronization
import Testing

/// `storage.recordings_max_age_days` and `storage.recordings_max_total_mib`: which meeting
/// directories a sweep deletes, on a temporary directory with set modification times.
@Suite("Recording retention: by age and total size, oldest first, never in progress")
struct RecordingRetentionTests {
    static let day: Int64 = 86_400_000
    static let now: Int64 = 1_796_000_000_000

    typealias Meeting = RecordingRetention.Meeting

    @Test("the plan: too old first, then oldest while over the total; a meeting in progress stays and still counts")
    func plan() {
        let meetings = [Meeting(id: 4, modified: Self.now - 1 * Self.day, bytes: 400), Meeting(id: 1, modified: Self.now - 40 * Self.day, bytes: 100),
                        Meeting(id: 3, modified: Self.now - 2 * Self.day, bytes: 300), Meeting(id: 2, modified: Self.now - 3 * Self.day, bytes: 200)]
        #expect(RecordingRetention.plan(meetings, now: Self.now, maxAge: 30 * Self.day, maxTotal: 0, inProgress: []) == [1])
        #expect(RecordingRetention.plan(meetings, now: Self.now, maxAge: 0, maxTotal: 600, inProgress: []) == [1, 2, 3])
        #expect(RecordingRetention.plan(meetings, now: Self.now, maxAge: 0, maxTotal: 700, inProgress: []) == [1, 2], "700 is within 700")
        #expect(RecordingRetention.plan(meetings, now: Self.now, maxAge: 0, maxTotal: 1_000, inProgress: []) == [])
        #expect(RecordingRetention.plan(meetings, now: Self.now, maxAge: 0, maxTotal: 700, inProgress: [2]) == [1, 3])
        #expect(RecordingRetention.plan(meetings, now: Self.now, maxAge: 0, maxTotal: 100, inProgress: [4]) == [1, 2, 3],
                "over the limit with only the meeting in progress left")
        #expect(RecordingRetention.plan(meetings, now: Self.now, maxAge: 30 * Self.day, maxTotal: 0, inProgress: [1]) == [])
        #expect(RecordingRetention.plan(meetings, now: Self.now, maxAge: 0, maxTotal: 0, inProgress: []) == [])
    }

    /// `root/<id>/a.webm` of `bytes` bytes, the file and the directory last changed `daysAgo` days before `now`.
    static func meeting(_ root: String, _ id: String, bytes: Int, daysAgo: Int64) throws {
        let directory = root + "/" + id
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(count: bytes).write(to: URL(fileURLWithPath: directory + "/a.webm"))
        let date = Date(timeIntervalSince1970: Double(now - daysAgo * day) / 1000)
        for path in [directory + "/a.webm", directory] {
            try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: path)
        }
    }

    @Test("a sweep of a directory: deletes whole meeting directories by the limits, keeps the one in progress and what is not a meeting")
    func sweep() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("giaoban-retention-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let mib = 1_048_576
        try Self.meeting(root, "1", bytes: mib, daysAgo: 100)   // too old, but in progress
        try Self.meeting(root, "2", bytes: mib, daysAgo: 40)    // too old
        try Self.meeting(root, "3", bytes: mib, daysAgo: 5)     // the oldest of the rest: over 2 MiB
        try Self.meeting(root, "4", bytes: mib / 2, daysAgo: 1)
        try Self.meeting(root, "notes", bytes: 10, daysAgo: 400)
        try Self.meeting(root, "007", bytes: 10, daysAgo: 400)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let inProgress = Mutex<Set<Int64>>([1])
        let retention = RecordingRetention(directory: root, maxAgeDays: 30, maxTotalMiB: 2, clock: { Self.now },
                                           inProgress: { inProgress.withLock { $0 } }, logger: logger)
        #expect(retention.meetings().map(\.id).sorted() == [1, 2, 3, 4])
        #expect(retention.meetings().first { $0.id == 2 } == Meeting(id: 2, modified: Self.now - 40 * Self.day, bytes: Int64(mib)))
        #expect(retention.sweep() == [2, 3])
        let left = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        #expect(left == ["007", "1", "4", "notes"])
        #expect(retention.sweep() == [], "within the limits now")
        inProgress.withLock { $0 = [] }
        #expect(retention.sweep() == [1], "no longer in progress")
        let unlimited = RecordingRetention(directory: root, maxAgeDays: 0, maxTotalMiB: 0, clock: { Self.now }, inProgress: { [] }, logger: logger)
        #expect(!unlimited.limited && unlimited.sweep() == [])
    }

    @Test("the service sweeps at start, then every interval, until cancelled")
    func service() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("giaoban-retention-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.meeting(root, "1", bytes: 10, daysAgo: 40)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let sweeps = Atomic<Int>(0)
        let retention = RecordingRetention(directory: root, maxAgeDays: 30, maxTotalMiB: 0, clock: { Self.now },
                                           inProgress: { sweeps.add(1, ordering: .relaxed); return [] }, logger: logger)
        let task = Task { try await RecordingRetentionService(retention: retention, interval: .milliseconds(20)).run() }
        try await eventually("three sweeps", within: 10) { sweeps.load(ordering: .relaxed) >= 3 }
        task.cancel()
        _ = try? await task.value
        #expect(!FileManager.default.fileExists(atPath: root + "/1"), "the first sweep deleted the old meeting")
    }
}
