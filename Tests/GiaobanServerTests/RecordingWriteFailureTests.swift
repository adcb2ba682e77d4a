import Foundation
import GiaobanRecording
@testable import GiaobanServer
import Logging
import Synchronization
import Testing
import GiaobanAuth

/// A recording file whose writes fail (disk full): that file's recording stops, the failure
/// is counted for /metrics and told to the chair, and the meeting goes on.
@Suite("Recording: a write failure stops the file and tells the chair")
struct RecordingWriteFailureTests {
    @Test("writes into /dev/full (ENOSPC): the recorder reports the file once and writes nothing more")
    func diskFull() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("giaoban-full-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var settings = MeetingRecordingSettings(mode: "always", directory: root, secret: Array("write-failure-secret-0123456789a".utf8))
        settings.createFile = { path throws(RecordingError) in
            let descriptor = open("/dev/full", O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw RecordingError(.output, "cannot open /dev/full") }
            return RecordingFile(path: path, descriptor: descriptor)
        }
        let failures = Mutex<[(file: String, message: String)]>([])
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let recorder = try MeetingRecorder(meeting: 9, settings: settings, clock: { 1_796_000_000_000 }, requestKeyframe: { _ in },
                                           writeFailed: { file, message in failures.withLock { $0.append((file, message)) } },
                                           logger: logger)
        recorder.start()
        recorder.open(stream: "meeting-9/xa-a", subject: "xa-a", codec: nil)
        try await eventually("the file opened", within: 10) { recorder.openFiles.values.contains("xa-a") }
        let opus: [UInt8] = [0xFC, 0xFF, 0xFE]
        for n in 0..<50 {
            opus.withUnsafeBytes { recorder.push(source: "meeting-9/xa-a", sequence: UInt16(n), timestamp: UInt32(n * 960), payload: $0, level: nil) }
            try await Task.sleep(for: .milliseconds(5))
        }
        try await eventually("the failure reported", within: 10) { failures.withLock { !$0.isEmpty } }
        #expect(recorder.openFiles.isEmpty, "the file is no longer being recorded")
        await recorder.stop()
        let reported = failures.withLock { $0 }
        #expect(reported.count == 1, "one report for the one file")
        #expect(reported.first?.file.hasPrefix("xa-a-") == true && reported.first?.file.hasSuffix(".webm") == true)
        #expect(reported.first?.message.contains(String(cString: strerror(ENOSPC))) == true, "\(reported)")
        #expect(((try? RecordingManifest.read(from: root + "/9")) ?? nil)?.files.isEmpty ?? true, "nothing finished into the manifest")
    }

    @Test("the room: the seated chair is told, a commune is not; /metrics counts it")
    func chairTold() async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        try await RoomServer.run(fixture) { server, client in
            let chair = RoomClient(subject: "officer"), commune = RoomClient(subject: "xa-a")
            chair.start(client, meeting: server.meeting, role: .chair)
            try await chair.wait(for: "joined")
            commune.start(client, meeting: server.meeting, role: .commune)
            try await chair.wait(for: "roster", "with two people") { MeetingRoomTests.roster($0).count == 2 }
            server.rooms.recordingFailed(meeting: server.meeting, file: "xa-a-1.webm", message: "No space left on device")
            let told = try await chair.wait(for: "recording")
            #expect(told["file"] as? String == "xa-a-1.webm")
            #expect((told["error"] as? String)?.contains("No space left on device") == true)
            // The meeting goes on: the commune still gets answers, and never the failure.
            commune.send.yield(#"{"type": "ping"}"#)
            try await commune.wait(for: "pong")
            #expect(!commune.received.withLock { $0 }.map(jsonObject).contains { $0["type"] as? String == "recording" })
            #expect(server.rooms.recordingWriteFailures.load(ordering: .relaxed) == 1)
            #expect(MetricsText.render(server.rooms).contains("giaoban_recording_write_failures_total 1\n"))
            await chair.finish()
            await commune.finish()
        }
    }
}
