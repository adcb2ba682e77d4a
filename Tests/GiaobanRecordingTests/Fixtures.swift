import Foundation
import GiaobanCodecs
import GiaobanRecording
import Testing

/// An output kept in memory that can also show what a file would hold if the process died now.
final class SnapshotOutput: WebMOutput {
    private(set) var bytes: [UInt8] = []
    /// Calls to `write`.
    private(set) var writes = 0

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes += bytes
        writes += 1
    }

    func patch(_ bytes: [UInt8], at offset: Int) throws {
        self.bytes.replaceSubrange(offset..<offset + bytes.count, with: bytes)
    }

    /// Writes the bytes held to a new temporary file and returns its path.
    func save(_ name: String, bytes: [UInt8]? = nil) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("giaoban-\(UUID().uuidString)-\(name)").path
        try Data(bytes ?? self.bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Real media for the writer: 30 fps VP8 test pattern (a keyframe each second) and a 440 Hz
/// tone in 20 ms Opus packets, fed in timestamp order.
struct SyntheticMedia {
    let width = 320, height = 240
    let video: VPXEncoder
    let audio: OpusFixture
    let pattern: TestPattern
    var nextVideo = 0, nextAudio = 0

    init() throws {
        video = try VPXEncoder(.init(codec: .vp8, width: 320, height: 240, bitrateKbps: 300))
        audio = try OpusFixture()
        pattern = TestPattern(width: 320, height: 240)
    }

    /// A VP8 + Opus file of this media fed until `milliseconds`, not finished.
    static func record(until milliseconds: Int64) throws -> (SnapshotOutput, WebMWriter) {
        let output = SnapshotOutput()
        var media = try SyntheticMedia()
        let writer = try WebMWriter(output: output, video: .init(codec: .vp8, width: media.width, height: media.height),
                                    audio: .init())
        try media.feed(writer, until: milliseconds)
        return (output, writer)
    }

    /// Feeds `writer` everything before `milliseconds` (a frame's time is its index × 1000 / 30).
    mutating func feed(_ writer: WebMWriter, until milliseconds: Int64) throws {
        while true {
            let videoTime = Int64(nextVideo) * 1000 / 30, audioTime = Int64(nextAudio) * 20
            guard min(videoTime, audioTime) < milliseconds else { return }
            if audioTime <= videoTime {
                try writer.appendAudio(try audio.next(), timestamp: audioTime)
                nextAudio += 1
            } else {
                if nextVideo % 30 == 0 { video.requestKeyframe() }
                for frame in try video.encode(pattern.frame(nextVideo)) {
                    try writer.appendVideo(frame.data, timestamp: videoTime, keyframe: frame.isKeyframe)
                }
                nextVideo += 1
            }
        }
    }
}

/// Runs the real tools the WebM files are judged by. A missing tool is a failure that says
/// how to install it, never a silent skip.
enum MediaTool {
    static func path(_ name: String) -> String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/bin", "/usr/local/bin"]
        return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The standard output of `name arguments`; records an issue and returns nil when the
    /// tool is missing or fails.
    static func run(_ name: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        guard let executable = path(name) else {
            Issue.record("\(name) is not installed: run `scripts/setup.sh --test` (Debian packages ffmpeg and mkvtoolnix)",
                         sourceLocation: sourceLocation)
            return nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            Issue.record("cannot start \(name): \(error)", sourceLocation: sourceLocation)
            return nil
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            Issue.record("\(name) failed (\(process.terminationStatus)): \(String(decoding: errors, as: UTF8.self))",
                         sourceLocation: sourceLocation)
            return nil
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// What `ffprobe -show_streams -show_format` (with `extra` options) says of `path`, as JSON.
    static func probe(_ path: String, extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) -> Probe? {
        guard let text = run("ffprobe", ["-v", "error"] + extra + ["-show_streams", "-show_format", "-of", "json", path],
                             sourceLocation: sourceLocation) else { return nil }
        guard let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            Issue.record("ffprobe printed no JSON: \(text)", sourceLocation: sourceLocation)
            return nil
        }
        return Probe(json: json)
    }
}

/// The parts of ffprobe's report the tests look at.
struct Probe {
    let json: [String: Any]
    var streams: [[String: Any]] { json["streams"] as? [[String: Any]] ?? [] }
    var duration: Double? { ((json["format"] as? [String: Any])?["duration"] as? String).flatMap(Double.init) }
    func stream(_ type: String) -> [String: Any]? { streams.first { $0["codec_type"] as? String == type } }
}

/// 20 ms Opus packets of a 440 Hz tone.
final class OpusFixture {
    private let encoder: OpusAudioEncoder
    private var tone = ToneGenerator(frequency: 440)

    init() throws { encoder = try OpusAudioEncoder(channels: 1) }

    func next() throws -> [UInt8] { try encoder.encode(tone.nextFrame()) }
}
