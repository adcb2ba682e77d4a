import GiaobanClient
import GiaobanCodecs
import GiaobanCrypto
import GiaobanEngine
@testable import GiaobanServer
import Testing

@Suite("Mixed mode through the relay: one mix-minus Opus stream per listener")
struct MixedModeTests {
    /// Ten endpoints in mixed mode on a real `MediaServer`: three publish distinct tones
    /// (440, 1000 and 1700 Hz) and listen, seven only listen. Every endpoint receives the
    /// meeting's mix on its own receiving session (ICE, DTLS-SRTP, Opus decoded by libopus),
    /// built exactly as the room builds it (`MeetingMix`: the router copies each publisher's
    /// audio to the mixer, the mixer's clock thread posts the packets back to the media thread).
    @Test("three speakers with distinct tones: each hears the other two and not itself; listeners hear all three")
    func mixMinus() async throws {
        let relay = try RelayFixture()
        let mix = try MeetingMix(meeting: 1, speakers: 3, media: relay.media)
        let mixStream = mix.stream
        await relay.media.perform { router, _, _ in router.setLocalStream(mixStream, tracks: MeetingMix.tracks) }
        let tones = [440.0, 1000.0, 1700.0]
        let context = try DTLSContext(certificate: DTLSCertificate())

        var publishers: [EndpointPublisher] = []
        for (i, tone) in tones.enumerated() {
            let source = "m1-s\(i)"
            await relay.media.perform { router, _, _ in router.setAudioSink(stream: source, mix.mixer) }
            let (connection, answer) = try await relay.join(.publish(audioSSRC: UInt32(0xA0 + i), videoSSRC: UInt32(0xB0 + i)),
                                                            stream: source, id: "pub\(i)", context: context)
            var settings = EndpointPublisher.Settings(audioSSRC: UInt32(0xA0 + i), videoSSRC: UInt32(0xB0 + i))
            (settings.width, settings.height, settings.framesPerSecond, settings.bitrateKbps) = (64, 48, 2, 50)
            settings.toneFrequency = tone
            settings.audioPayloadType = try #require(answer.audio?.payloadType)
            settings.videoPayloadType = try #require(answer.video?.payloadType)
            publishers.append(try EndpointPublisher(connection: connection, settings: settings))
        }
        var listeners: [(name: String, watcher: EndpointWatcher)] = []
        for i in 0..<10 {
            let name = i < tones.count ? "m1-s\(i)" : "m1-l\(i)"
            let (connection, answer) = try await relay.join(.watch, stream: mixStream, id: "mix\(i)", context: context)
            #expect(answer.audio != nil && answer.video == nil, "the mix is audio only")
            listeners.append((name, try EndpointWatcher(connection: connection, answer: answer)))
            mix.peers.map.withLock { $0[name] = "mix\(i)" }
        }
        mix.mixer.setListeners(listeners.map(\.name))
        mix.clock.start()
        defer {
            mix.clock.stop()
            for p in publishers { p.connection.close() }
            for l in listeners { l.watcher.connection.close() }
        }

        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            for p in publishers { try p.step(maxWaitMilliseconds: 0) }
            for l in listeners { l.watcher.step(maxWaitMilliseconds: 1) }
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
        }
        // Encoded once per distinct mix: three mix-minus and one shared, not ten.
        let counters = mix.mixer.counters
        #expect(counters.ticks > 150)
        #expect(counters.encodes <= counters.ticks * 4, "\(counters)")
        #expect(counters.encodes >= counters.ticks * 3, "\(counters)")
        let sent = await relay.media.perform { router, _, _ in router.counters.rtpMixed }
        #expect(sent >= 10 * 150, "every listener got its packets: \(sent)")
        await relay.media.shutdown()
    }
}
