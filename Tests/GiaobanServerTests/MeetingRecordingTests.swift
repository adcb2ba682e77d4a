import Foundation
import GiaobanClient
import GiaobanCrypto
@testable import GiaobanServer
import Logging
import Testing
import GiaobanAuth
import GiaobanStore
import Synchronization

/// Server-side recording with `meetings.record = "always"`: real endpoints publish through the
/// in-process relay, and FFmpeg's `ffprobe` judges the files.
@Suite("Meeting recording: one WebM file per participant, signed manifest")
struct MeetingRecordingTests {
    @Test("a chair and two endpoints for 4 s: three WebM files and the minutes (vp8 + opus, durations within 15 %), a manifest that verifies and names a changed file",
          .timeLimit(.minutes(2)))
    func alwaysRecorded() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("giaoban-rec-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let secret = Array("recording-test-secret-0123456789".utf8)
        let settings = MeetingRecordingSettings(mode: "always", directory: root, secret: secret)
        let context = try DTLSContext(certificate: DTLSCertificate())
        let subjects = ["officer", "xa-01", "xa-02"]
        let expected = Expected()

        let meeting = try await RoomServer.run(fixture, recording: settings) { room, _ in
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            var endpoints: [String: RoomEndpoint] = [:]
            for subject in subjects {
                let client = GiaobanClient.RoomClient(server: room.baseURL, meeting: room.meeting,
                                                      token: HubFixture.token(subject == "officer" ? .chair : .commune, subject), logger: logger)
                endpoints[subject] = RoomEndpoint(room: client, settings: MeetingRoomEndpointTests.smallMedia(), context: context)
            }
            for subject in subjects { endpoints[subject]!.start(name: subject) }
            let chair = endpoints["officer"]!
            // When each one is first seen publishing (its file starts with its first keyframe, just after).
            var since: [String: ContinuousClock.Instant] = [:]
            try await eventually("all three publishing", within: 30) {
                for p in chair.status.room.participants where p.publishing && since[p.subject] == nil { since[p.subject] = .now }
                return since.count == 3
            }
            #expect(room.rooms.rooms.withLock { $0[room.meeting]?.state.roster().recording } == true, "the roster says recording")
            try await Task.sleep(for: .seconds(4))
            // The room closes every socket at once, the chair's included: no reply comes.
            try? await chair.room.send(["type": "end"])
            let end = ContinuousClock.now
            for (subject, start) in since { expected.set(subject, seconds: Double((end - start) / .milliseconds(1)) / 1000) }
            // The minutes start with the recording, at the first participant's publishing.
            expected.set(MeetingMix.minutesListener, seconds: Double((end - (since.values.min() ?? end)) / .milliseconds(1)) / 1000)
            let directory = root + "/\(room.meeting)"
            try await eventually("the manifest lists four files", within: 20) {
                ((try? RecordingManifest.read(from: directory)) ?? nil)?.files.count == 4
            }
            for e in endpoints.values { await e.stop() }
        }

        let directory = root + "/\(meeting)"
        let manifest = try #require(try RecordingManifest.read(from: directory))
        #expect(manifest.meeting == meeting)
        #expect(manifest.participants == (subjects + [MeetingMix.minutesListener]).sorted())
        #expect(Set(manifest.files.map(\.participant)) == Set(subjects + [MeetingMix.minutesListener]))
        for file in manifest.files {
            guard let probe = FFprobe.streamsAndDuration(directory + "/" + file.name) else { continue }
            #expect(probe.codecs == ["opus", "vp8"], "\(file.name): \(probe.codecs)")
            let published = try #require(expected.seconds(file.participant))
            print("recorded \(file.participant): \(probe.duration) s of \(published) s published, \(file.size) bytes")
            #expect(abs(probe.duration - published) <= 0.15 * published, "\(file.name): \(probe.duration) s, published \(published) s")
            if file.participant == MeetingMix.minutesListener {
                #expect(file.name.hasPrefix("_minutes-"), "the minutes' file name: \(file.name)")
            }
        }
        #expect(RecordingManifest.verify(directory: directory, secret: secret) == [])
        // The database keeps each finished file as the manifest lists it.
        let rows = try RecordingFiles(database: fixture.hub.database).listNow(meeting: meeting)
        #expect(rows.map(\.name) == manifest.files.map(\.name).sorted())
        #expect(RecordingManifest.compare(directory: directory, rows: rows.map { ($0.name, $0.size, $0.sha256) }) == [])
        #expect(RecordingManifest.compare(directory: directory, rows: rows.dropFirst().map { ($0.name, $0.size, $0.sha256) }).count == 1,
                "a file missing from the database is named")
        #expect(RecordingManifest.verify(directory: directory, secret: Array("another secret".utf8)).first?.contains("signature") == true)

        // One byte of one file changed: verify names that file, and only it.
        let changed = manifest.files[1].name
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: directory + "/" + changed))
        try handle.seek(toOffset: UInt64(manifest.files[1].size / 2))
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: UInt64(manifest.files[1].size / 2))
        try handle.write(contentsOf: [byte ^ 0xFF])
        try handle.close()
        let problems = RecordingManifest.verify(directory: directory, secret: secret)
        #expect(problems.count == 1 && problems.first?.hasPrefix(changed + ":") == true, "\(problems)")
    }
}

extension MeetingRecordingTests {
    @Test("meetings.record_minutes = false: the participants' files only, and no mixer started for the recording",
          .timeLimit(.minutes(2)))
    func withoutMinutes() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("giaoban-rec-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let secret = Array("recording-test-secret-0123456789".utf8)
        let settings = MeetingRecordingSettings(mode: "always", directory: root, secret: secret, minutes: false)
        let context = try DTLSContext(certificate: DTLSCertificate())
        let subjects = ["officer", "xa-01"]
        let meeting = try await RoomServer.run(fixture, recording: settings) { room, _ in
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            var endpoints: [RoomEndpoint] = []
            for subject in subjects {
                let client = GiaobanClient.RoomClient(server: room.baseURL, meeting: room.meeting,
                                                      token: HubFixture.token(subject == "officer" ? .chair : .commune, subject), logger: logger)
                let endpoint = RoomEndpoint(room: client, settings: MeetingRoomEndpointTests.smallMedia(), context: context)
                endpoint.start(name: subject)
                endpoints.append(endpoint)
            }
            try await eventually("both publishing", within: 30) {
                endpoints[0].status.room.participants.filter(\.publishing).count == 2
            }
            try await Task.sleep(for: .seconds(2))
            #expect(room.rooms.rooms.withLock { $0[room.meeting]?.mix } == nil, "no mixer runs for a recording without minutes")
            try? await endpoints[0].room.send(["type": "end"])
            try await eventually("the manifest lists two files", within: 20) {
                ((try? RecordingManifest.read(from: root + "/\(room.meeting)")) ?? nil)?.files.count == 2
            }
            for e in endpoints { await e.stop() }
        }
        let directory = root + "/\(meeting)"
        let manifest = try #require(try RecordingManifest.read(from: directory))
        #expect(manifest.participants == subjects.sorted())
        #expect(!manifest.files.contains { $0.name.hasPrefix("_minutes-") }, "\(manifest.files.map(\.name))")
        #expect(RecordingManifest.verify(directory: directory, secret: secret) == [])
    }

    @Test("meetings.record_minutes is read as a boolean, true by default; a string is refused with the key")
    func minutesSetting() throws {
        #expect(GiaobanConfig().meetings.recordMinutes)
        let off = try GiaobanConfig.load(path: nil, environment: ["GIAOBAN_MEETINGS_RECORD_MINUTES": "false"])
        #expect(!off.meetings.recordMinutes)
        #expect {
            _ = try GiaobanConfig.load(path: nil, environment: ["GIAOBAN_MEETINGS_RECORD_MINUTES": "\"no\""])
        } throws: { error in
            "\(error)".contains("meetings.record_minutes must be true or false")
        }
    }
}

/// How long each participant published, written inside the server's run and read after it.
final class Expected: Sendable {
    private let values = Mutex<[String: Double]>([:])
    func set(_ subject: String, seconds: Double) { values.withLock { $0[subject] = seconds } }
    func seconds(_ subject: String) -> Double? { values.withLock { $0[subject] } }
}

/// FFmpeg's `ffprobe` on a recording (Debian package `ffmpeg`, installed by `scripts/setup.sh --test`).
enum FFprobe {
    /// The codec names of `path`'s streams, sorted, and its duration in seconds; nil (with a
    /// recorded issue saying how to install it) when ffprobe is missing or fails.
    static func streamsAndDuration(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> (codecs: [String], duration: Double)? {
        let candidates = ["/usr/bin/ffprobe", "/usr/local/bin/ffprobe"]
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            Issue.record("ffprobe is not installed: run `scripts/setup.sh --test` (Debian package ffmpeg)", sourceLocation: sourceLocation)
            return nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-v", "error", "-show_entries", "stream=codec_name:format=duration", "-of", "json", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        guard (try? process.run()) != nil else {
            Issue.record("cannot start ffprobe", sourceLocation: sourceLocation)
            return nil
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let duration = ((json["format"] as? [String: Any])?["duration"] as? String).flatMap(Double.init) else {
            Issue.record("ffprobe cannot read \(path): \(String(decoding: data, as: UTF8.self))", sourceLocation: sourceLocation)
            return nil
        }
        let codecs = (json["streams"] as? [[String: Any]] ?? []).compactMap { $0["codec_name"] as? String }.sorted()
        return (codecs, duration)
    }
}
