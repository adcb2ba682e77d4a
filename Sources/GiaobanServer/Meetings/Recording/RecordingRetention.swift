import Foundation
public import Logging
public import ServiceLifecycle

/// Retention of meeting recordings (`storage.recordings_max_age_days`,
/// `storage.recordings_max_total_mib`; docs/recording.md, "Storage"): a sweep deletes whole
/// meeting directories of `storage.recordings_dir`, oldest first, until none is older than the
/// age limit and all of them fit the size limit. A meeting being recorded is never deleted
/// (it still counts towards the total). A limit of 0 is no limit.
public struct RecordingRetention: Sendable {
    /// One meeting's directory as the sweep sees it.
    struct Meeting: Equatable {
        /// The meeting id (the directory's name).
        let id: Int64
        /// Unix ms of the newest change in it (its files' and its own modification times).
        let modified: Int64
        /// The bytes of its files.
        let bytes: Int64
    }

    /// `storage.recordings_dir`.
    let directory: String
    /// Directories unchanged for longer are deleted; 0: no age limit.
    let maxAgeDays: Int
    /// The directories' total is kept within this; 0: no size limit.
    let maxTotalMiB: Int
    /// Unix ms now.
    let clock: @Sendable () -> Int64
    /// The meetings being recorded now.
    let inProgress: @Sendable () -> Set<Int64>
    let logger: Logger

    /// A sweep of `directory` under the two limits, skipping `inProgress` meetings.
    public init(directory: String, maxAgeDays: Int, maxTotalMiB: Int, clock: @escaping @Sendable () -> Int64,
                inProgress: @escaping @Sendable () -> Set<Int64>, logger: Logger) {
        self.directory = directory
        self.maxAgeDays = maxAgeDays
        self.maxTotalMiB = maxTotalMiB
        self.clock = clock
        self.inProgress = inProgress
        self.logger = logger
    }

    /// Whether either limit is set (with none, there is nothing to sweep).
    public var limited: Bool { maxAgeDays > 0 || maxTotalMiB > 0 }

    /// The meetings to delete, oldest first: every one older than `maxAge` ms, then the oldest
    /// of the rest while the total exceeds `maxTotal` bytes; never one of `inProgress`.
    static func plan(_ meetings: [Meeting], now: Int64, maxAge: Int64, maxTotal: Int64, inProgress: Set<Int64>) -> [Int64] {
        var total = meetings.reduce(0) { $0 + $1.bytes }
        var doomed: [Int64] = []
        for meeting in meetings.sorted(by: { ($0.modified, $0.id) < ($1.modified, $1.id) }) where !inProgress.contains(meeting.id) {
            let tooOld = maxAge > 0 && now - meeting.modified > maxAge
            let tooMuch = maxTotal > 0 && total > maxTotal
            guard tooOld || tooMuch else { continue }
            doomed.append(meeting.id)
            total -= meeting.bytes
        }
        return doomed
    }

    /// The meeting directories under `directory` (names that are meeting ids; anything else is left alone).
    func meetings() -> [Meeting] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name -> Meeting? in
            guard let id = Int64(name), id > 0, String(id) == name else { return nil }
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return nil }
            var (modified, bytes) = (Self.milliseconds(info.st_mtim), Int64(0))
            for file in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                guard lstat(path + "/" + file, &info) == 0 else { continue }
                modified = max(modified, Self.milliseconds(info.st_mtim))
                if (info.st_mode & S_IFMT) == S_IFREG { bytes += Int64(info.st_size) }
            }
            return Meeting(id: id, modified: modified, bytes: bytes)
        }
    }

    /// Deletes what `plan` chooses, logging each; returns the ids deleted.
    @discardableResult
    public func sweep() -> [Int64] {
        guard limited else { return [] }
        let all = meetings()
        let doomed = Self.plan(all, now: clock(), maxAge: Int64(maxAgeDays) * 86_400_000,
                               maxTotal: Int64(maxTotalMiB) * 1_048_576, inProgress: inProgress())
        var deleted: [Int64] = []
        for id in doomed {
            let bytes = all.first { $0.id == id }?.bytes ?? 0
            do {
                try FileManager.default.removeItem(atPath: directory + "/\(id)")
                deleted.append(id)
                logger.notice("meeting recording deleted by retention", metadata: ["meeting": "\(id)", "bytes": "\(bytes)"])
            } catch {
                logger.error("cannot delete a meeting's recording", metadata: ["meeting": "\(id)", "error": "\(error.localizedDescription)"])
            }
        }
        return deleted
    }

    private static func milliseconds(_ time: timespec) -> Int64 { Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000 }
}

/// Runs a `RecordingRetention` sweep at start and then every `interval` until graceful shutdown.
public struct RecordingRetentionService: Service, CustomStringConvertible {
    let retention: RecordingRetention
    let interval: Duration

    /// Sweeps with `retention` every `interval` (an hour in the server).
    public init(retention: RecordingRetention, interval: Duration = .seconds(3_600)) {
        self.retention = retention
        self.interval = interval
    }

    /// The service's name in logs.
    public var description: String { "RecordingRetentionService" }

    /// The sweeps; graceful shutdown ends the wait between two.
    public func run() async throws {
        guard retention.limited else {
            // Nothing to sweep; a service that returns would end the server (ServiceGroup).
            try? await gracefulShutdown()
            return
        }
        let retention = retention
        await repeatUntilShutdown(every: interval) { retention.sweep() }
    }
}

extension MeetingRooms {
    /// The retention of `recordings_dir` under these limits; the meetings being recorded now are kept.
    public func recordingRetention(maxAgeDays: Int, maxTotalMiB: Int) -> RecordingRetention {
        RecordingRetention(directory: recording.directory, maxAgeDays: maxAgeDays, maxTotalMiB: maxTotalMiB, clock: hub.clock,
                           inProgress: { [weak self] in
                               Set(self?.rooms.withLock { Array($0.filter { $0.value.recorder != nil }.keys) } ?? [])
                           }, logger: logger)
    }
}
