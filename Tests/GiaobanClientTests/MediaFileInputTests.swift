import Foundation
import GiaobanClient
import GiaobanCodecs
import Testing

/// A fresh path in the temporary directory.
private func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("giaoban-\(UUID().uuidString)-\(name)").path
}

private func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let file = try FileOutput(path: path)
    try file.write(bytes)
    file.close()
}

@Suite("Endpoint file inputs: Y4M, IVF, WAV, Ogg Opus")
struct MediaFileInputTests {
    @Test("Y4M: the header's size and rate are read, frames come back as written, then loop")
    func y4m() throws {
        let pattern = TestPattern(width: 64, height: 48)
        let frames = [pattern.frame(0), pattern.frame(7)]
        var bytes = Array("YUV4MPEG2 W64 H48 F15:1 Ip A1:1 C420jpeg\n".utf8)
        for frame in frames { bytes += Array("FRAME\n".utf8) + frame.data }
        let path = temporaryPath("in.y4m")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writeFile(path, bytes)
        let reader = try Y4MReader(path: path)
        #expect(reader.width == 64 && reader.height == 48 && reader.framesPerSecond == 15)
        #expect(try reader.nextFrame() == frames[0])
        #expect(try reader.nextFrame() == frames[1])
        #expect(try reader.nextFrame() == frames[0], "looped")
    }

    @Test("Y4M other than 4:2:0 and WAV other than 48 kHz 16-bit are refused with the fix in the message")
    func refused() throws {
        let y4m = temporaryPath("444.y4m"), wav = temporaryPath("44k.wav")
        defer {
            try? FileManager.default.removeItem(atPath: y4m)
            try? FileManager.default.removeItem(atPath: wav)
        }
        try writeFile(y4m, Array("YUV4MPEG2 W64 H48 F30:1 C444\nFRAME\n".utf8))
        #expect { try Y4MReader(path: y4m) } throws: { ($0 as? ClientError)?.message.contains("only 4:2:0") == true }
        let output = MemoryOutput()
        let writer = try WAVWriter(output: output, channels: 1, sampleRate: 44_100)
        try [Int16](repeating: 1, count: 2000).withUnsafeBufferPointer { try writer.append($0) }
        try writer.finish()
        try writeFile(wav, output.bytes)
        #expect { try WAVReader(path: wav) } throws: { ($0 as? ClientError)?.message.contains("only 48 kHz") == true }
        #expect { try IVFReader(path: wav) } throws: { ($0 as? ClientError)?.message.contains("not an IVF") == true }
    }

    @Test("WAV: stereo 48 kHz samples stream to disk and read back 20 ms at a time, looping")
    func wav() throws {
        let path = temporaryPath("st.wav")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let samples = (0..<3000).map { Int16(truncatingIfNeeded: $0 * 7) }
        let writer = try WAVWriter(output: try FileOutput(path: path), channels: 2)
        try samples.withUnsafeBufferPointer { try writer.append($0) }
        try writer.finish()
        var reader = try WAVReader(path: path)
        #expect(reader.channels == 2 && reader.samples == samples)
        #expect(reader.nextFrame() == Array(samples[0..<1920]))
        #expect(reader.nextFrame() == Array(samples[1920..<3000] + samples[0..<840]), "looped")
    }

    @Test("IVF and Ogg Opus files are sent as they are, looped: the watcher decodes the file's pictures and hears its tone")
    func preEncodedThroughTheRelay() async throws {
        let ivfPath = temporaryPath("in.ivf"), oggPath = temporaryPath("in.ogg")
        defer {
            try? FileManager.default.removeItem(atPath: ivfPath)
            try? FileManager.default.removeItem(atPath: oggPath)
        }
        // 10 pictures of 160×120 (one keyframe first) and 1 s of a 1000 Hz tone.
        let encoder = try VPXEncoder(.init(codec: .vp8, width: 160, height: 120, bitrateKbps: 200, framesPerSecond: 15))
        let ivf = try IVFWriter(output: try FileOutput(path: ivfPath), width: 160, height: 120)
        let pattern = TestPattern(width: 160, height: 120)
        for i in 0..<10 { for frame in try encoder.encode(pattern.frame(i)) { try ivf.append(frame.data, timestamp: UInt64(i * 6000)) } }
        try ivf.finish()
        let opus = try OpusAudioEncoder(channels: 1, application: .audio)
        var tone = ToneGenerator(frequency: 1000)
        let ogg = try OggOpusRecorder(output: try FileOutput(path: oggPath))
        for _ in 0..<50 { try opus.encode(tone.nextFrame()).withUnsafeBytes { try ogg.append($0, samples: 960) } }
        try ogg.finish()

        let ivfReader = try IVFReader(path: ivfPath)
        #expect(ivfReader.frames.count == 10 && ivfReader.width == 160)
        let oggReader = try OggOpusReader(path: oggPath)
        #expect(oggReader.packets.count == 50 && oggReader.channels == 1)

        let relay = try RelayFixture()
        let (publisher, watcher) = try await relay.publisherAndWatcher(stream: "f", video: .ivf(ivfReader), audio: .oggOpus(oggReader))
        try await exchange(publisher, watcher, for: .seconds(3))
        let s = watcher.stats
        #expect(s.framesDecoded > 10, "more pictures than the file holds: it looped. \(s)")
        #expect(s.width == 160 && s.height == 120)
        #expect(s.decodeErrors == 0)
        #expect(s.audioFrames >= 100)
        let dominant = try #require(AudioAnalysis.dominant(of: [440, 1000, 2000], in: Array(watcher.audioSamples.dropFirst(4800))))
        #expect(dominant.frequency == 1000)
        publisher.connection.close()
        watcher.connection.close()
        await relay.media.shutdown()
    }
}
