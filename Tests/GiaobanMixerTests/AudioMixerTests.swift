import GiaobanCodecs
import GiaobanMixer
import GiaobanWire
import Testing

@Suite("Audio mixer")
struct AudioMixerTests {
    static let tones: [Double] = [500, 900, 1300]

    @Test("10 listeners, 3 speaking: each hears the others and not itself; one encode per distinct mix")
    func mixMinus() throws {
        let mixer = try AudioMixer()
        let names = (0..<10).map { "commune-\($0)" }
        // Three speak distinct tones, seven send silence; sequence numbers wrap during the run.
        var feeds = try names.indices.map { i in
            try AudioFeed(name: names[i], frequency: i < 3 ? Self.tones[i] : nil, firstSequence: UInt16(65_500 + i * 3))
        }
        mixer.setListeners(names)
        var decoders = try names.map { _ in try OpusAudioDecoder(channels: 1) }
        var heard = [[Int16]](repeating: [], count: names.count)
        let warmUp = 25, ticks = 75
        var encodesAfterWarmUp = 0
        var tickTime = Duration.zero
        let clock = ContinuousClock()
        for tick in 0..<ticks {
            for i in feeds.indices { mixer.push(feeds[i].name, try feeds[i].next()) }
            var output: MixerOutput?
            tickTime += clock.measure { output = mixer.tick() }
            let out = try #require(output)
            #expect(out.listeners.count == names.count)
            for (i, name) in names.enumerated() {
                let mix = try #require(out.mix(for: name))
                let pcm = try decoders[i].decode(mix.payload)
                if tick >= warmUp { heard[i] += pcm }
            }
            if tick >= warmUp {
                #expect(Set(out.speakers) == Set(names[0..<3]))
                #expect(out.mixes.count == 4, "one shared mix + one mix-minus per speaking listener")
                encodesAfterWarmUp += out.mixes.count
            }
        }
        decoders.removeAll()
        let counters = mixer.counters
        #expect(encodesAfterWarmUp == 4 * (ticks - warmUp))
        #expect(counters.encodesPerSecond == 4 * 50, "the last 50 ticks encoded 4 mixes each, not 10")
        #expect(counters.decodes == names.count * (ticks - 2), "every packet decoded once after the 2-frame playout delay")
        #expect(counters.fecRecoveries == 0 && counters.plcFrames == 0 && counters.late == 0)
        print("audio mixer, 10 sources / 3 speaking / 10 listeners: \(tickTime / ticks) per tick (this build)")

        for (i, name) in names.enumerated() {
            let powers = Self.tones.map { AudioAnalysis.power(at: $0, in: heard[i]) }
            if i < 3 {
                let others = powers.indices.filter { $0 != i }.map { powers[$0] }
                #expect(others.allSatisfy { $0 > 0.005 }, "\(name) hears the other speakers: \(powers)")
                #expect(powers[i] < 0.01 * others.min()!, "\(name) does not hear itself: \(powers)")
            } else {
                #expect(powers.allSatisfy { $0 > 0.005 }, "\(name) hears all three speakers: \(powers)")
            }
        }
    }

    @Test("a lost packet is rebuilt from FEC (or concealed); the listeners' RTP numbering has no gap")
    func loss() throws {
        let mixer = try AudioMixer()
        var speaker = try AudioFeed(name: "a", frequency: 700, firstSequence: 100)
        var other = try AudioFeed(name: "b", frequency: nil, firstSequence: 9_000)
        let packets = try (0..<80).map { _ in try speaker.next() }
        // 30 alone: 31 is held when 30 is due, so its FEC rebuilds 30. 50 and 51 together:
        // 50 is concealed (nothing after it held), 51 rebuilt from 52.
        let dropped: Set<Int> = [30, 50, 51]
        let fecFrom = [31, 52].map { i in packets[i].payload.withUnsafeBytes { (try? OpusTOC($0))?.mode } }
        let expectedFEC = fecFrom.filter { $0 != .celt }.count
        mixer.setListeners(["a", "b"])
        var numbering: [String: [(UInt16, UInt32)]] = [:]
        var mixesOfA: [MixKey] = []
        for tick in 0..<80 {
            if !dropped.contains(tick) { mixer.push("a", packets[tick]) }
            mixer.push("b", try other.next())
            let out = mixer.tick()
            for p in out.listeners { numbering[p.listener, default: []].append((p.sequenceNumber, p.timestamp)) }
            if let a = out.listeners.first(where: { $0.listener == "a" }) { mixesOfA.append(out.mixes[a.mix].key) }
        }
        let c = mixer.counters
        #expect(c.fecRecoveries == expectedFEC)
        #expect(c.plcFrames == 3 - expectedFEC)
        #expect(c.decodes == 2 * 78 - 3)
        for (listener, packets) in numbering {
            #expect(packets.count == 80, "\(listener) got a packet every tick")
            for i in 1..<packets.count {
                #expect(packets[i].0 == packets[i - 1].0 &+ 1, "\(listener): sequence continues at \(i)")
                #expect(packets[i].1 == packets[i - 1].1 &+ 960, "\(listener): timestamp advances 960 at \(i)")
            }
        }
        // "a" started on the shared mix and moved to its mix-minus once seated: one stream all along.
        #expect(mixesOfA.first == .shared && mixesOfA.last == .minus("a"))
    }

    @Test("packets reordered within the playout delay are played in order; later ones count as late")
    func reorder() throws {
        let mixer = try AudioMixer()
        var feed = try AudioFeed(name: "a", frequency: 700, firstSequence: 65_530)
        mixer.setListeners(["listener"])
        var held: (sequence: UInt16, timestamp: UInt32, payload: [UInt8])?
        for tick in 0..<40 {
            let packet = try feed.next()
            switch tick {
            case 10, 20:
                held = packet  // arrives one tick late, after its successor
            case 11, 21:
                mixer.push("a", packet)
                mixer.push("a", held!)
            default:
                mixer.push("a", packet)
            }
            _ = mixer.tick()
        }
        var c = mixer.counters
        #expect(c.late == 0 && c.fecRecoveries == 0 && c.plcFrames == 0)
        #expect(c.decodes == 38)
        // A packet four ticks late is past its playout time: dropped, and its frame rebuilt.
        let late = try feed.next()
        for _ in 0..<4 {
            mixer.push("a", try feed.next())
            _ = mixer.tick()
        }
        mixer.push("a", late)
        _ = mixer.tick()
        c = mixer.counters
        #expect(c.late == 1)
        #expect(c.fecRecoveries + c.plcFrames == 1)
    }

    @Test("a source's RFC 6464 level, when given, decides its seat rather than the measured loudness")
    func clientLevel() throws {
        var settings = AudioMixer.Settings()
        settings.speakers = 1
        let mixer = try AudioMixer(settings: settings)
        // Both play a tone; "noise" comes from a sender with voice detection that says it is not
        // voice (a fan, music) after its first 200 ms, "voice" says it is. (A sender that never
        // sets the flag is judged by its level: DominantSpeakerTests.)
        var noise = try AudioFeed(name: "noise", frequency: 500, firstSequence: 1)
        var voice = try AudioFeed(name: "voice", frequency: 900, firstSequence: 1)
        mixer.setListeners(["listener"])
        var output: MixerOutput?
        for i in 0..<30 {
            let n = try noise.next(), v = try voice.next()
            n.payload.withUnsafeBytes {
                mixer.push(source: "noise", sequence: n.sequence, timestamp: n.timestamp, payload: $0,
                           level: AudioLevelExtension(level: i < 10 ? 120 : 10, voiceActivity: i < 10))
            }
            v.payload.withUnsafeBytes {
                mixer.push(source: "voice", sequence: v.sequence, timestamp: v.timestamp, payload: $0,
                           level: AudioLevelExtension(level: 40, voiceActivity: true))
            }
            output = mixer.tick()
        }
        #expect(output?.speakers == ["voice"])
        #expect(output?.dominantSpeaker == "voice")
    }

    @Test("changing the listener set keeps the numbering of those who stay")
    func listenerChange() throws {
        let mixer = try AudioMixer()
        mixer.setListeners(["a", "b"])
        let first = mixer.tick().listeners
        mixer.setListeners(["a", "c"])
        let second = mixer.tick().listeners
        #expect(first.map(\.listener) == ["a", "b"] && second.map(\.listener) == ["a", "c"])
        #expect(second[0].sequenceNumber == first[0].sequenceNumber &+ 1 && !second[0].marker)
        #expect(second[1].marker, "a new listener's stream starts")
        #expect(mixer.counters.listeners == 2 && mixer.counters.mixes == 1, "nobody speaks: one shared mix")
    }

    @Test("the mix of several loud speakers saturates instead of wrapping")
    func saturation() {
        let loud = [Int16](repeating: 30_000, count: 4)
        var sum = [Int32](repeating: 0, count: 4)
        var out = [Int16](repeating: 0, count: 4)
        sum.withUnsafeMutableBufferPointer { s in
            for _ in 0..<3 { loud.withUnsafeBufferPointer { PCMMix.accumulate($0, into: s) } }
            out.withUnsafeMutableBufferPointer { o in PCMMix.write(UnsafeBufferPointer(s), minus: nil, into: o) }
        }
        #expect(out == [32_767, 32_767, 32_767, 32_767])
        #expect(loud.withUnsafeBufferPointer { PCMMix.level(of: $0) } == 1)
        #expect([Int16](repeating: 0, count: 960).withUnsafeBufferPointer { PCMMix.level(of: $0) } == 127)
    }

    @Test("the RTP state numbers packets continuously and starts with the marker")
    func rtpState() {
        var state = MixedStreamRTPState(sequenceNumber: 65_535, timestamp: 4_294_966_000)
        let first = state.next()
        let second = state.next()
        state.skip()
        let third = state.next()
        #expect(first.marker && !second.marker && !third.marker)
        #expect(first.sequenceNumber == 65_535 && second.sequenceNumber == 0 && third.sequenceNumber == 1)
        #expect(second.timestamp == 4_294_966_960 && third.timestamp == second.timestamp &+ 1_920)
    }
}
