import Foundation
import GiaobanCodecs
import GiaobanRecording
import Testing

@Suite("WebM writer")
struct WebMWriterTests {
    @Test("the Segment is written with the unknown size and gets its real size at finish")
    func segmentSize() throws {
        let output = SnapshotOutput()
        let writer = try WebMWriter(output: output, video: .init(codec: .vp8, width: 320, height: 240), audio: .init())
        #expect(Array(output.bytes[0..<4]) == [0x1A, 0x45, 0xDF, 0xA3])
        let segment = try #require(find([0x18, 0x53, 0x80, 0x67], in: output.bytes))
        #expect(Array(output.bytes[segment + 4..<segment + 12]) == EBML.unknownSize)
        try writer.appendVideo([0x10, 0x02, 0x00], timestamp: 0, keyframe: true)
        try writer.finish()
        var size: [UInt8] = []
        EBML.appendSize(UInt64(output.bytes.count - segment - 12), width: 8, to: &size)
        #expect(Array(output.bytes[segment + 4..<segment + 12]) == size)
        #expect(throws: RecordingError.self) { try writer.appendVideo([0], timestamp: 40, keyframe: false) }
    }

    @Test("a Cluster reaches the output whole when the next keyframe starts another")
    func clusterPerKeyframe() throws {
        let output = SnapshotOutput()
        let writer = try WebMWriter(output: output, video: .init(codec: .vp8, width: 16, height: 16), audio: nil)
        try writer.appendVideo([1, 2, 3], timestamp: 0, keyframe: true)
        try writer.appendVideo([4, 5], timestamp: 33, keyframe: false)
        #expect(writer.clustersWritten == 0)
        try writer.appendVideo([6], timestamp: 66, keyframe: true)
        #expect(writer.clustersWritten == 1)
        // The first Cluster: ID, size, Timestamp 0, then the two SimpleBlocks (track 1, relative time, flags).
        let start = try #require(find([0x1F, 0x43, 0xB6, 0x75], in: output.bytes))
        #expect(Array(output.bytes[start...]) == [0x1F, 0x43, 0xB6, 0x75, 0x94, 0xE7, 0x81, 0x00,  // 20 bytes
                                                  0xA3, 0x87, 0x81, 0x00, 0x00, 0x80, 1, 2, 3,
                                                  0xA3, 0x86, 0x81, 0x00, 0x21, 0x00, 4, 5])
    }

    @Test("a Cluster closes after five seconds without a keyframe, or before its relative time overflows")
    func clusterLength() throws {
        let output = SnapshotOutput()
        let writer = try WebMWriter(output: output, video: nil, audio: .init())
        for i in 0..<300 { try writer.appendAudio([0xF8], timestamp: Int64(i) * 20) }  // 6 s
        #expect(writer.clustersWritten == 1)
        try writer.appendAudio([0xF8], timestamp: 60_000)  // 54 s later: past int16 and five seconds
        #expect(writer.clustersWritten == 2)
    }

    @Test("an audio packet earlier than the previous one is written at the previous one's time")
    func lateAudioIsClamped() throws {
        let writer = try WebMWriter(output: SnapshotOutput(), video: nil, audio: .init())
        try writer.appendAudio([0xF8], timestamp: 100)
        try writer.appendAudio([0xF8], timestamp: 80)
        try writer.appendAudio([0xF8], timestamp: 120)
        #expect(writer.clampedBlocks == 1)
        #expect(writer.duration == 140)
    }

    @Test("ffprobe and mkvinfo read three seconds of VP8 and Opus, with cues")
    func realTools() throws {
        let (output, writer) = try SyntheticMedia.record(until: 3000)
        try writer.finish()
        let path = try output.save("full.webm")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let probe = try #require(MediaTool.probe(path))
        let video = try #require(probe.stream("video"), "no video stream in \(probe.json)")
        let audio = try #require(probe.stream("audio"), "no audio stream in \(probe.json)")
        #expect(video["codec_name"] as? String == "vp8")
        #expect(video["width"] as? Int == 320 && video["height"] as? Int == 240)
        #expect(audio["codec_name"] as? String == "opus")
        #expect(audio["sample_rate"] as? String == "48000")
        let duration = try #require(probe.duration)
        #expect(abs(duration - 3.0) <= 0.15, "duration \(duration) s")
        let info = try #require(MediaTool.run("mkvinfo", ["--all", path]))
        #expect(info.contains("Cues"), "\(info)")
        #expect(info.components(separatedBy: "Cue point").count - 1 == 3, "one cue per keyframe: \(info)")
        #expect(info.contains("Seek head") && info.contains("Duration: 00:00:03.000"))
        #expect(info.contains("Codec ID: V_VP8") && info.contains("Codec ID: A_OPUS"))
        // Every frame decodes.
        let counted = try #require(MediaTool.probe(path, extra: ["-count_frames", "-select_streams", "v"]))
        #expect(counted.stream("video")?["nb_read_frames"] as? String == "90")
    }

    @Test("a file cut off after its last whole Cluster, as a killed process leaves it, still plays up to there")
    func killedMidway() throws {
        let (output, writer) = try SyntheticMedia.record(until: 2500)
        // Killed here, without finish: the Clusters of seconds 0 and 1 are written (and the one
        // holding only the first audio packet, written before the first keyframe); second 2 is in memory.
        #expect(writer.clustersWritten == 3)
        let path = try output.save("killed.webm")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let probe = try #require(MediaTool.probe(path, extra: ["-count_frames"]))
        #expect(probe.stream("video")?["codec_name"] as? String == "vp8")
        #expect(probe.stream("audio")?["codec_name"] as? String == "opus")
        let duration = try #require(probe.duration)
        #expect(abs(duration - 2.0) <= 0.1, "duration \(duration) s")
        #expect(probe.stream("video")?["nb_read_frames"] as? String == "60")
        // Audio up to 2000 ms inclusive: the packet at 2000 came before the keyframe that closed the Cluster.
        #expect(probe.stream("audio")?["nb_read_frames"] as? String == "101")
    }

    @Test("a VP9 track is read as VP9, every frame decoding")
    func vp9() throws {
        let output = SnapshotOutput()
        let writer = try WebMWriter(output: output, video: .init(codec: .vp9, width: 160, height: 120), audio: nil)
        let encoder = try VPXEncoder(.init(codec: .vp9, width: 160, height: 120, bitrateKbps: 200))
        let pattern = TestPattern(width: 160, height: 120)
        for i in 0..<30 {
            for frame in try encoder.encode(pattern.frame(i)) {
                try writer.appendVideo(frame.data, timestamp: Int64(i) * 1000 / 30, keyframe: frame.isKeyframe)
            }
        }
        try writer.finish()
        let path = try output.save("vp9.webm")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let probe = try #require(MediaTool.probe(path, extra: ["-count_frames"]))
        #expect(probe.stream("video")?["codec_name"] as? String == "vp9")
        #expect(probe.stream("video")?["width"] as? Int == 160 && probe.stream("video")?["height"] as? Int == 120)
        #expect(probe.stream("video")?["nb_read_frames"] as? String == "30")
    }

    @Test("an audio-only file plays, with a cue per Cluster")
    func audioOnly() throws {
        let output = SnapshotOutput()
        let writer = try WebMWriter(output: output, video: nil, audio: .init())
        let encoder = try OpusFixture()
        for i in 0..<400 { try writer.appendAudio(try encoder.next(), timestamp: Int64(i) * 20) }  // 8 s
        try writer.finish()
        let path = try output.save("audio.webm")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let probe = try #require(MediaTool.probe(path))
        #expect(probe.streams.count == 1 && probe.stream("audio")?["codec_name"] as? String == "opus")
        #expect(abs((probe.duration ?? 0) - 8.0) <= 0.4)
        let info = try #require(MediaTool.run("mkvinfo", ["--all", path]))
        #expect(info.components(separatedBy: "Cue point").count - 1 == 2)
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<$0 + needle.count]) == needle }
    }
}
