import Foundation
@testable import GiaobanServer
import Hummingbird
import HummingbirdTesting
import Testing
import GiaobanAuth

/// `GET /api/meetings/{id}/recordings` and `…/recordings/{file}`: the list, downloads whole and
/// by byte range, file names refused before the file system, and who may read what.
@Suite("Recording access: list, download with Range, roles")
struct RecordingAccessTests {
    static let secret = Array("recording-access-secret-01234567".utf8)
    /// 1 000 bytes that differ from one offset to the next.
    static let bytes = (0..<1_000).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 256) }
    static let finished = "xa-a-1796000000000.webm"
    static let unfinished = "xa-b-1796000001000-2.webm"

    /// A meeting directory under `root` with one finished file (in a signed manifest), one left
    /// unfinished, and, beside the meeting's directory, a file no request may reach.
    static func populate(root: String, meeting: Int64) throws {
        let directory = root + "/\(meeting)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + finished))
        try Data(bytes.prefix(300)).write(to: URL(fileURLWithPath: directory + "/" + unfinished))
        try Data("outside".utf8).write(to: URL(fileURLWithPath: root + "/outside.webm"))
        let digest = try RecordingManifest.digest(path: directory + "/" + finished)
        var manifest = RecordingManifest(meeting: meeting, started_ms: 1_796_000_000_000, ended_ms: 1_796_000_060_000)
        manifest.participants = ["xa-a"]
        manifest.files = [.init(name: finished, participant: "xa-a", size: digest.size, sha256: digest.sha256,
                                started_ms: 1_796_000_000_100, ended_ms: 1_796_000_059_900)]
        try manifest.write(to: directory, secret: secret)
    }

    static func headers(_ role: Role, _ subject: String, range: String? = nil) -> HTTPFields {
        var h = HubFixture.headers(role, subject, json: false)
        if let range { h[.range] = range }
        return h
    }

    /// Runs `body` against a live server whose meeting has the files of `populate` under `root`.
    static func withRecordings(_ body: @escaping @Sendable (HubFixture, String, Int64, any TestClientProtocol) async throws -> Void) async throws {
        let fixture = try await HubFixture()
        defer { fixture.cleanup() }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("giaoban-access-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let settings = MeetingRecordingSettings(mode: "off", directory: root, secret: Self.secret)
        try await RoomServer.run(fixture, recording: settings) { server, client in
            try populate(root: root, meeting: server.meeting)
            try await body(fixture, root, server.meeting, client)
        }
    }

    @Test("the list, a whole download equal to the file, byte ranges, 416, and names that try to leave the directory")
    func listAndDownload() async throws {
        try await Self.withRecordings { fixture, root, meeting, client in
            let chair = Self.headers(.chair, "officer")
            let digest = try RecordingManifest.digest(path: root + "/\(meeting)/" + Self.finished)
            try await client.execute(uri: "/api/meetings/\(meeting)/recordings", method: .get, headers: chair) { r in
                #expect(r.status == .ok)
                let body = jsonObject(String(buffer: r.body))
                #expect(body["meeting"] as? Int == Int(meeting) && body["recording"] as? Bool == false)
                let files = body["files"] as? [[String: Any]] ?? []
                #expect(files.map { $0["name"] as? String } == [Self.finished, Self.unfinished])
                #expect(files.first?["participant"] as? String == "xa-a" && files.first?["size"] as? Int == 1_000)
                #expect(files.first?["sha256"] as? String == digest.sha256)
                #expect(files.first?["started_ms"] as? Int == 1_796_000_000_100 && files.first?["ended_ms"] as? Int == 1_796_000_059_900)
                #expect(files.last?["participant"] as? String == "xa-b" && files.last?["size"] as? Int == 300)
                #expect(files.last?["sha256"] is NSNull && files.last?["in_progress"] as? Bool == false)
            }
            let file = "/api/meetings/\(meeting)/recordings/\(Self.finished)"
            try await client.execute(uri: file, method: .get, headers: chair) { r in
                #expect(r.status == .ok)
                #expect(Array(r.body.readableBytesView) == Self.bytes)
                #expect(r.headers[.contentType] == "video/webm" && r.headers[.acceptRanges] == "bytes")
                #expect(r.headers[.contentRange] == nil)
            }
            for (range, expected, contentRange) in [("bytes=10-19", 10...19, "bytes 10-19/1000"), ("bytes=990-", 990...999, "bytes 990-999/1000"),
                                                    ("bytes=-5", 995...999, "bytes 995-999/1000"), ("bytes=0-5000", 0...999, "bytes 0-999/1000")] {
                try await client.execute(uri: file, method: .get, headers: Self.headers(.observer, "watcher", range: range)) { r in
                    #expect(r.status == .partialContent, "\(range)")
                    #expect(r.headers[.contentRange] == contentRange, "\(range)")
                    #expect(Array(r.body.readableBytesView) == Array(Self.bytes[expected]), "\(range)")
                }
            }
            for range in ["bytes=1000-", "bytes=5000-6000", "bytes=-0"] {
                try await client.execute(uri: file, method: .get, headers: Self.headers(.admin, "admin-1", range: range)) { r in
                    #expect(r.status == .rangeNotSatisfiable, "\(range)")
                    #expect(r.headers[.contentRange] == "bytes */1000", "\(range)")
                }
            }
            // Names outside the recorder's alphabet never reach the file system.
            for name in ["..%2Foutside.webm", "%2E%2E%2Foutside.webm", "manifest.json", ".webm", ".%2E", "a%00.webm", "x.webm.tmp",
                         "..%5Coutside.webm"] {
                try await client.execute(uri: "/api/meetings/\(meeting)/recordings/\(name)", method: .get, headers: chair) { r in
                    #expect(r.status == .badRequest || r.status == .notFound, "\(name)")
                    #expect(String(buffer: r.body) != "outside", "\(name)")
                }
            }
            for path in ["../outside.webm", "../../\(meeting)/outside.webm"] {
                try await client.execute(uri: "/api/meetings/\(meeting)/recordings/\(path)", method: .get, headers: chair) { r in
                    #expect(r.status != .ok && String(buffer: r.body) != "outside", "\(path)")
                }
            }
            try await client.execute(uri: "/api/meetings/\(meeting)/recordings/nobody-1.webm", method: .get, headers: chair) { r in
                #expect(r.status == .notFound)
            }
            // Downloads from the first byte are audited (the whole file, and bytes=0-5000), seeks are not.
            try await client.execute(uri: "/api/audit?action=recording.download", method: .get, headers: Self.headers(.admin, "auditor")) { r in
                let rows = jsonObject(String(buffer: r.body))["entries"] as? [[String: Any]] ?? []
                #expect(Set(rows.compactMap { $0["subject"] as? String }) == ["officer", "watcher"] && rows.count == 2, "\(rows)")
                #expect(rows.allSatisfy { $0["target"] as? String == "meeting/\(meeting)/recording/\(Self.finished)" }, "\(rows)")
            }
            try await client.execute(uri: "/api/meetings/\(meeting + 1)/recordings", method: .get, headers: chair) { r in
                #expect(r.status == .notFound)
            }
        }
    }

    @Test("chair, admin and observer read any meeting's recordings; a commune only a meeting it attended; a camera never")
    func roles() async throws {
        try await Self.withRecordings { fixture, root, meeting, client in
            #expect(try await fixture.hub.meetings.join(meetingID: meeting, participant: "xa-a", role: "commune", now: fixture.clock.read()))
            let cases: [(Role, String, HTTPResponse.Status)] = [
                (.chair, "officer", .ok), (.admin, "admin-1", .ok), (.observer, "watcher", .ok),
                (.commune, "xa-a", .ok), (.commune, "xa-b", .forbidden), (.camera, "cam-1", .forbidden),
            ]
            for uri in ["/api/meetings/\(meeting)/recordings", "/api/meetings/\(meeting)/recordings/\(Self.finished)"] {
                for (role, subject, expected) in cases {
                    try await client.execute(uri: uri, method: .get, headers: Self.headers(role, subject)) { r in
                        #expect(r.status == expected, "\(subject) \(uri)")
                        if expected == .ok, uri.hasSuffix(".webm") { #expect(Array(r.body.readableBytesView) == Self.bytes) }
                    }
                }
                try await client.execute(uri: uri, method: .get) { #expect($0.status == .unauthorized) }
            }
            // A commune that did not attend learns nothing about the files, not even whether a name exists.
            try await client.execute(uri: "/api/meetings/\(meeting)/recordings/nobody-1.webm", method: .get,
                                     headers: Self.headers(.commune, "xa-b")) { #expect($0.status == .forbidden) }
        }
    }

    @Test("Range headers resolve per RFC 9110", arguments: [
        ("bytes=0-0", 10, ByteRange.part(0...0)), ("bytes=2-", 10, .part(2...9)), ("bytes=-3", 10, .part(7...9)),
        ("bytes=-30", 10, .part(0...9)), ("bytes=5-100", 10, .part(5...9)), ("BYTES = 1-2", 10, .whole),
        ("bytes=10-", 10, .unsatisfiable), ("bytes=-0", 10, .unsatisfiable), ("bytes=0-", 0, .unsatisfiable),
        ("bytes=5-2", 10, .whole), ("bytes=0-1,3-4", 10, .whole), ("items=0-1", 10, .whole), ("bytes=a-b", 10, .whole),
        ("bytes=-", 10, .whole), ("bytes=+1-2", 10, .whole), ("bytes=99999999999999999999-", 10, .whole),
    ])
    func ranges(header: String, size: Int, expected: ByteRange) {
        #expect(ByteRange.resolve(header, size: size) == expected)
    }

    @Test("recording file names: the recorder's pass, anything else does not")
    func names() {
        #expect(RecordingListing.isFileName("xa-01-1796000000000.webm") && RecordingListing.isFileName("officer_2-1-3.webm"))
        for bad in ["", ".webm", "../a.webm", "a/b.webm", "a.WEBM", "a .webm", "manifest.json", ".manifest.json.tmp", "ä.webm",
                    String(repeating: "a", count: 129) + ".webm"] {
            #expect(!RecordingListing.isFileName(bad), "\(bad)")
        }
        #expect(RecordingListing.participant(fromName: "xa-01-1796000000000.webm") == "xa-01")
        #expect(RecordingListing.participant(fromName: "xa-01-1796000000000-2.webm") == "xa-01")
        #expect(RecordingListing.participant(fromName: "officer-1796000000000.webm") == "officer")
    }
}
