import GiaobanClient
import GiaobanRecording
import Testing

@Suite("WebM recording of a watched stream")
struct WebMRecorderTests {
    @Test("audio waits for the first keyframe, and both tracks count from the first packet of either")
    func sharedOrigin() throws {
        let output = MemoryOutput()
        let recorder = WebMRecorder(output: output, videoCodec: .vp8)
        let t0 = ContinuousClock.now
        let opus: [UInt8] = [0xF8, 0xFF, 0xFE]
        // Audio RTP timestamps wrap past 2^32 on the way; 20 ms packets arriving every 20 ms.
        for i in 0..<3 {
            try opus.withUnsafeBytes { packet in
                try recorder.audio(packet, rtpTimestamp: UInt32.max - 959 &+ UInt32(i * 960), arrival: t0 + .milliseconds(20 * i))
            }
        }
        #expect(recorder.writer == nil, "the file starts with the first picture")
        try recorder.video([0x10, 0x02, 0x00], rtpTimestamp: 7, keyframe: false, width: 320, height: 240, arrival: t0 + .milliseconds(90))
        #expect(recorder.writer == nil, "a delta frame cannot start the file")
        try recorder.video([0x10, 0x02, 0x00], rtpTimestamp: 1000, keyframe: true, width: 320, height: 240, arrival: t0 + .milliseconds(100))
        let writer = try #require(recorder.writer)
        #expect(writer.video == WebMVideoTrack(codec: .vp8, width: 320, height: 240))
        // Video starts 100 ms after the origin (the first audio packet); its next frame is 3000 ticks (33 ms) on.
        try recorder.video([0x31, 0x00], rtpTimestamp: 4000, keyframe: false, width: 320, height: 240, arrival: t0 + .milliseconds(133))
        #expect(writer.duration == 100 + 33 + 33)
        try opus.withUnsafeBytes { try recorder.audio($0, rtpTimestamp: UInt32.max - 959 &+ 3 * 960, arrival: t0 + .milliseconds(60)) }
        try recorder.finish()
        #expect(writer.finished && writer.clampedBlocks == 0)
    }

    @Test("audio held for a keyframe is bounded, the oldest dropped; without pictures the file is audio only")
    func pendingAudio() throws {
        let recorder = WebMRecorder(output: MemoryOutput(), videoCodec: .vp8)
        recorder.maxPendingAudio = 2
        let opus: [UInt8] = [0xF8]
        for i in 0..<3 {
            try opus.withUnsafeBytes { try recorder.audio($0, rtpTimestamp: UInt32(i * 960), arrival: .now) }
        }
        #expect(recorder.droppedAudio == 1)
        try recorder.finish()
        let writer = try #require(recorder.writer)
        #expect(writer.video == nil && writer.audio != nil)
    }
}
