import ArgumentParser
import GiaobanClient
import GiaobanCodecs
import GiaobanMixer
import GiaobanRTP

/// `giaoban-bench mixing`: the CPU of one meeting's audio mixer tick and compositor frame.
struct Mixing: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Audio mixer tick (decode every source, mix-minus, encode per distinct mix) and compositor frame.",
        discussion: "Build with -c release for meaningful numbers (scripts/bench.sh mixing does)."
    )

    @Option(help: "Audio sources sending (all decoded every tick).")
    var sources = 10

    @Option(help: "Of the sources, how many speak (tones); the rest send silence.")
    var speaking = 3

    @Option(help: "Listeners in mixed mode (the first ones are the sources).")
    var listeners = 10

    @Option(help: "Ticks (20 ms of audio each) per round.")
    var ticks = 250

    @Option(help: "Compositor frames per round.")
    var frames = 30

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    func run() throws {
        var results: [MicroResult] = []
        results.append(try audio())
        results.append(try video())
        printTable(results)
        if let json { try writeJSON(results, to: json) }
    }

    /// One tick: push one packet per source, then `tick()`.
    private func audio() throws -> MicroResult {
        let mixer = try AudioMixer()
        let names = (0..<max(sources, listeners)).map { "commune-\($0)" }
        mixer.setListeners(names.prefix(listeners))
        // A second of packets per source, replayed with running sequence numbers.
        var packets: [[[UInt8]]] = []
        for i in 0..<sources {
            let encoder = try OpusAudioEncoder()
            var tone = ToneGenerator(frequency: 300 + 170 * Double(i), amplitude: 0.3)
            packets.append(try (0..<50).map { _ in
                try encoder.encode(i < speaking ? tone.nextFrame() : [Int16](repeating: 0, count: OpusFormat.samplesPerFrame))
            })
        }
        var tick = 0
        let result = measure("audio tick: \(sources) sources, \(speaking) speaking, \(listeners) listeners", iterations: ticks, rounds: 5) { _ in
            for s in 0..<sources {
                packets[s][tick % 50].withUnsafeBytes {
                    mixer.push(source: names[s], sequence: UInt16(truncatingIfNeeded: tick), timestamp: UInt32(truncatingIfNeeded: tick * 960), payload: $0)
                }
            }
            blackHole(mixer.tick().mixes.count)
            tick += 1
        }
        let c = mixer.counters
        print("audio: \(c.ticks) ticks, \(c.decodes) decodes, \(c.encodes) encodes (\(c.mixes) mixes per tick), \(c.plcFrames) concealed")
        return result
    }

    /// One frame: push one frame of the chair (640×360) and the speaker (320×180) as RTP, then compose 640×360.
    private func video() throws -> MicroResult {
        let compositor = try VideoCompositor()
        compositor.setLayout(main: "chair", inset: "speaker")
        var feeds: [(name: String, payloads: [[[UInt8]]])] = []
        for (name, width, height) in [("chair", 640, 360), ("speaker", 320, 180)] {
            let encoder = try VPXEncoder(VPXEncoder.Settings(codec: .vp8, width: width, height: height, bitrateKbps: 800))
            var packetizer = VP8Packetizer()
            let pattern = TestPattern(width: width, height: height)
            // 60 frames starting with a keyframe: replayed, each cycle restarts decodable.
            let frames = try (0..<60).map { i in try encoder.encode(pattern.frame(i), forceKeyframe: i == 0).flatMap { packetizer.packetize($0.data) } }
            feeds.append((name, frames))
        }
        var frame = 0
        var sequences: [UInt16] = [0, 0]
        let start = ContinuousClock.now
        let result = measure("compose 640x360: chair 640x360 + inset 320x180", iterations: frames, rounds: 5) { _ in
            for (f, feed) in feeds.enumerated() {
                let payloads = feed.payloads[frame % 60]
                for (i, payload) in payloads.enumerated() {
                    payload.withUnsafeBytes {
                        compositor.push(source: feed.name, sequence: sequences[f], timestamp: UInt32(frame * 6000),
                                        marker: i == payloads.count - 1, payload: $0)
                    }
                    sequences[f] &+= 1
                }
            }
            blackHole(compositor.compose(now: start + .milliseconds(66 * frame)).payloads.count)
            frame += 1
        }
        let c = compositor.counters
        print("video: \(c.frames) frames, \(c.decodes) source frames decoded, \(c.keyframes) keyframes, \(c.codecErrors) errors")
        return result
    }
}
