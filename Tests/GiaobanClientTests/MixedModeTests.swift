import GiaobanClient
import GiaobanCodecs
import GiaobanCrypto
import Foundation
import GiaobanEngine
import GiaobanMixer
@testable import GiaobanServer
import Testing

@Suite("Mixed mode through the relay: one mix-minus Opus stream per listener")
struct MixedModeTests {
    /// Ten endpoints in mixed mode on a real `MediaServer`: three publish distinct tones
    /// (440, 1000 and 1700 Hz) and listen, seven only listen. Every endpoint receives the
    /// meeting's mix on its own receiving session (ICE, DTLS-SRTP, Opus decoded by libopus),
    /// built exactly as the room builds it (`MeetingMix`: the router copies each publisher's
    /// audio to the mixer, the mixer's clock thread posts the packets back to the media thread).
    @Test("three speakers with distinct tones: each hears the other two and not itself; listeners hear all three; the composed video shows the chair's pattern")
    func mixMinus() async throws {
        let relay = try RelayFixture()
        var video = VideoCompositor.Settings()
        (video.width, video.height, video.framesPerSecond, video.bitrateKbps) = (320, 180, 10, 300)
        let mix = try MeetingMix(meeting: 1, speakers: 3, video: video, media: relay.media)
        let mixStream = mix.stream
        let compositor = mix.compositor
        await relay.media.send(.startMix(stream: mixStream, tracks: MeetingMix.tracks, keyframeRequested: { compositor.requestKeyframe() },
                                         sources: [], audio: mix.mixer, video: compositor))
        // s0 is the chair (large), s1 the active speaker (small).
        compositor.setLayout(main: "m1-s0", inset: "m1-s1")
        let tones = [440.0, 1000.0, 1700.0]
        let context = try DTLSContext(certificate: DTLSCertificate())

        var publishers: [EndpointPublisher] = []
        for (i, tone) in tones.enumerated() {
            let source = "m1-s\(i)"
            await relay.media.send(.addSinks(streams: [source], audio: mix.mixer, video: compositor))
            let (connection, answer) = try await relay.join(.publish(audioSSRC: UInt32(0xA0 + i), videoSSRC: UInt32(0xB0 + i)),
                                                            stream: source, id: "pub\(i)", context: context)
            var settings = EndpointPublisher.Settings(audioSSRC: UInt32(0xA0 + i), videoSSRC: UInt32(0xB0 + i))
            (settings.width, settings.height, settings.framesPerSecond, settings.bitrateKbps) = i == 0 ? (320, 240, 10, 300) : (64, 48, 5, 50)
            settings.toneFrequency = tone
            settings.audioPayloadType = try #require(answer.audio?.payloadType)
            settings.videoPayloadType = try #require(answer.video?.payloadType)
            publishers.append(try EndpointPublisher(connection: connection, settings: settings))
        }
        var listeners: [(name: String, watcher: EndpointWatcher)] = []
        let recording = FileManager.default.temporaryDirectory.appendingPathComponent("giaoban-mix-\(UInt32.random(in: 0...UInt32.max)).ivf").path
        defer { try? FileManager.default.removeItem(atPath: recording) }
        for i in 0..<10 {
            let name = i < tones.count ? "m1-s\(i)" : "m1-l\(i)"
            let (connection, answer) = try await relay.join(.watch, stream: mixStream, id: "mix\(i)", context: context)
            #expect(answer.audio?.codec.lowercased() == "opus" && answer.video?.codec == "VP8", "the mix and the composed video")
            let watcher = try EndpointWatcher(connection: connection, answer: answer)
            if i == 9 { watcher.videoOutput = try FileOutput(path: recording) }
            listeners.append((name, watcher))
            mix.peers.map.withLock { $0[name] = "mix\(i)" }
        }
        mix.mixer.setListeners(listeners.map(\.name))
        mix.start()
        defer {
            mix.stop()
            for p in publishers { p.connection.close() }
            for l in listeners { l.watcher.connection.close() }
        }

        try await offPool {
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                for p in publishers { try p.step(maxWaitMilliseconds: 0) }
                for l in listeners { l.watcher.step(maxWaitMilliseconds: 1) }
            }
        }

        for (i, listener) in listeners.enumerated() {
            // The last three seconds: speakers seated, playout settled.
            let samples = Array(listener.watcher.audioSamples.suffix(3 * 48_000))
            #expect(samples.count >= 2 * 48_000, "\(listener.name) received the mix: \(listener.watcher.stats)")
            let powers = tones.map { AudioAnalysis.power(at: $0, in: samples) }
            print("mixed mode: \(listener.name) powers at 440/1000/1700 Hz: \(powers.map { String(format: "%.2e", $0) })")
            if i < tones.count {
                let others = powers.indices.filter { $0 != i }.map { powers[$0] }
                #expect(others.allSatisfy { $0 > 1e-4 }, "\(listener.name) hears the other speakers: \(powers)")
                #expect(powers[i] < 0.02 * (others.min() ?? 0), "\(listener.name) does not hear itself: \(powers)")
            } else {
                #expect(powers.allSatisfy { $0 > 1e-4 }, "\(listener.name) hears all three: \(powers)")
                let spread = (powers.max() ?? 0) / max(powers.min() ?? 1, 1e-12)
                #expect(spread < 10, "the three tones at comparable levels: \(powers)")
            }
            #expect(listener.watcher.stats.audioConcealed < 25, "few gaps: \(listener.watcher.stats)")
            // The mix carries its level (RFC 6464 form): loud, since someone else is always speaking.
            let s = listener.watcher.stats
            #expect(s.audioLevels > 100 && (s.lastAudioLevel ?? 127) < 60, "the mix's level: \(s)")
        }
        // Encoded once per distinct mix: three mix-minus and one shared, not ten.
        let counters = mix.mixer.counters
        #expect(counters.ticks > 150)
        #expect(counters.encodes <= counters.ticks * 4, "\(counters)")
        #expect(counters.encodes >= counters.ticks * 3, "\(counters)")
        // The composed video: the configured size, everyone decodes it, the chair's bars in the main region.
        for listener in listeners {
            let s = listener.watcher.stats
            #expect(s.framesDecoded >= 20 && s.decodeErrors == 0, "\(listener.name) decodes the composed video: \(s)")
            #expect(s.width == 320 && s.height == 180, "\(s)")
        }
        try listeners[9].watcher.finishRecordings()
        let frames = try IVFReader(path: recording).frames
        let decoder = try VPXDecoder(codec: .vp8)
        var last: I420Frame?
        for frame in frames { if let picture = try decoder.decode(frame) { last = picture } }
        let picture = try #require(last)
        #expect(Self.showsColourBars(picture), "the chair's test pattern is recognisable in the composed picture")
        #expect(compositor.counters.encodes >= 30, "\(compositor.counters)")

        let sent = await relay.media.ask(.counters).rtpMixed
        #expect(sent >= 10 * 150, "every listener got its packets: \(sent)")
        await relay.media.shutdown()
    }

    /// True when a row through the picture's upper middle (the main region, above the inset)
    /// is mostly the test pattern's bar lumas (BT.601 bars 235, 210, … 16) with at least six
    /// different bars — a scaled, re-encoded copy of the chair's picture, not noise or black.
    static func showsColourBars(_ picture: I420Frame) -> Bool {
        let bars: [Int] = [235, 210, 170, 145, 106, 81, 41, 16]
        let y = picture.height / 4
        var matched = 0
        var seen = Set<Int>()
        for x in 0..<picture.width {
            let luma = Int(picture.data[y * picture.width + x])
            if let bar = bars.firstIndex(where: { abs($0 - luma) <= 14 }) {
                matched += 1
                seen.insert(bar)
            }
        }
        print("composed picture: \(matched) of \(picture.width) pixels on bar lumas, \(seen.count) bars")
        return matched * 10 >= picture.width * 7 && seen.count >= 6
    }
}
