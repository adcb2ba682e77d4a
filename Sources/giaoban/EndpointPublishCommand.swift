import ArgumentParser
import GiaobanClient
import GiaobanCodecs
import Foundation

/// `giaoban endpoint publish`: sends moving colour bars (VP8) and a sine tone (Opus) over WHIP.
struct EndpointPublish: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish a synthetic picture and tone to the relay with WHIP."
    )

    @OptionGroup var options: EndpointOptions

    @OptionGroup var media: PublishOptions

    func run() throws {
        let (videoSource, audioSource, described) = try media.sources()
        let size = media.size(of: videoSource)
        let audioSSRC = UInt32.random(in: 1...UInt32.max), videoSSRC = UInt32.random(in: 1...UInt32.max)
        let whip: WHIPClient, connection: ClientConnection, session: WHIPSession
        do {
            (whip, connection, session) = try options.join(.publish(audioSSRC: audioSSRC, videoSSRC: videoSSRC),
                                                           videoCodec: media.codec.uppercased(),
                                                           simulcastRIDs: ClientOffer.simulcastRIDs(count: media.simulcast))
        } catch let failure as EndpointFailure {
            throw fail(failure)
        }
        defer {
            connection.close()
            try? whip.end(session)
        }
        var settings = EndpointPublisher.Settings(audioSSRC: audioSSRC, videoSSRC: videoSSRC)
        media.apply(to: &settings)
        settings.accept(session.answer)
        let publisher: EndpointPublisher
        do { publisher = try EndpointPublisher(connection: connection, settings: settings, video: videoSource, audio: audioSource) } catch {
            throw fail(EndpointFailure("cannot start the encoders: \(error)"))
        }
        options.status("media path: \(connection.pathDescription)")
        options.status("publishing '\(options.stream)' to \(options.url): \(described), \(media.codec.uppercased()) \(media.bitrate) kbit/s \(media.fps) fps")
        let start = ContinuousClock.now
        var previous = EndpointPublisher.Stats()
        do {
            try publisher.run(until: start + .milliseconds(Int(options.duration * 1000))) { stats in
                options.status("out \(kbps(stats.bytesSent - previous.bytesSent, over: 1)) kbit/s,"
                               + " in \(kbps(stats.bytesReceived - previous.bytesReceived, over: 1)) kbit/s,"
                               + " loss \(String(format: "%.1f", stats.fractionLost * 100))%,"
                               + " jitter \(String(format: "%.1f", stats.jitterMilliseconds)) ms,"
                               + " rtt \(stats.roundTripMilliseconds.map { String(format: "%.1f", $0) } ?? "-") ms,"
                               + " \(stats.videoFrames - previous.videoFrames) fps, keyframes \(stats.keyframes),"
                               + " keyframes requested \(stats.keyframesRequested), NACKed \(stats.nacked), resent \(stats.retransmitted)")
                previous = stats
            }
        } catch {
            throw fail(EndpointFailure("encoding failed: \(error)"))
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let s = publisher.stats
        let ended = connection.peer.state == .connected ? nil : connection.peer.failure.map { "\($0)" } ?? "connection closed"
        options.summary([
            ("stream", options.stream), ("mediaPath", connection.pathDescription), ("seconds", (seconds * 10).rounded() / 10),
            ("width", size.width), ("height", size.height), ("videoFrames", s.videoFrames), ("keyframes", s.keyframes),
            ("audioFrames", s.audioFrames), ("packetsSent", s.packetsSent), ("bytesSent", s.bytesSent),
            ("averageKbps", kbps(s.bytesSent, over: seconds)), ("keyframesRequested", s.keyframesRequested),
            ("nacked", s.nacked), ("retransmitted", s.retransmitted), ("reportsSent", s.reportsSent),
            ("reportsReceived", s.reportsReceived), ("relayCumulativeLost", s.cumulativeLost),
            ("relayJitterMs", (s.jitterMilliseconds * 10).rounded() / 10),
            ("rttMs", s.roundTripMilliseconds.map { ($0 * 10).rounded() / 10 } ?? -1), ("ended", ended ?? "duration reached"),
        ])
        if let ended { throw fail(EndpointFailure("the connection ended early: \(ended)")) }
    }
}

/// What a publishing endpoint sends: the synthetic picture and tone, or files.
struct PublishOptions: ParsableArguments {
    @Option(help: "Picture width (even).")
    var width = 640

    @Option(help: "Picture height (even).")
    var height = 360

    @Option(help: "VP8 target bitrate in kbit/s.")
    var bitrate = 800

    @Option(help: "Frames per second.")
    var fps = 30

    @Option(help: "Tone frequency in Hz.")
    var tone = 440.0

    @Option(parsing: .unconditional, help: "The tone's RMS level in dBov, -127 (silence) to -3; the default is about -13.5.")
    var toneLevelDbov: Double?

    @Option(help: "Noise on the test pattern (0–100), like a camera's sensor noise, so the encoder spends its whole bitrate.")
    var grain = 0

    @Option(help: "Simulcast: send 2 or 3 VP8 encodings of the test pattern (each lower one half the size and a third of the rate); 1 sends one.")
    var simulcast = 1

    @Option(help: "Video codec: vp8 or vp9 (an --video .ivf file is sent as is: vp8 only).")
    var codec = "vp8"

    @Option(help: "Video from a file instead of the test pattern: .y4m (raw I420, encoded with VP8) or .ivf (VP8, sent as is, looped).")
    var video: String?

    @Option(help: "Audio from a file instead of the tone: .wav (16-bit PCM, 48 kHz, mono or stereo; encoded with Opus) or .ogg/.opus (Ogg Opus, sent as is, looped).")
    var audio: String?

    func validate() throws {
        guard width >= 16, height >= 16, width % 2 == 0, height % 2 == 0, width <= 4096, height <= 2304 else {
            throw ValidationError("--width and --height must be even, between 16 and 4096×2304")
        }
        guard codec == "vp8" || codec == "vp9" else { throw ValidationError("--codec must be vp8 or vp9") }
        if codec == "vp9", video?.lowercased().hasSuffix(".ivf") == true {
            throw ValidationError("an --video .ivf file is sent as is and must be VP8; use --codec vp8 or a .y4m file")
        }
        guard (1...60).contains(fps) else { throw ValidationError("--fps must be 1–60") }
        guard (0...100).contains(grain) else { throw ValidationError("--grain must be 0–100") }
        guard (1...3).contains(simulcast) else { throw ValidationError("--simulcast must be 1, 2 or 3") }
        if simulcast > 1, codec != "vp8" || video != nil {
            throw ValidationError("--simulcast sends the test pattern with VP8: drop --video and --codec vp9")
        }
        guard (50...20_000).contains(bitrate) else { throw ValidationError("--bitrate must be 50–20000 kbit/s") }
        guard tone > 20, tone < 20_000 else { throw ValidationError("--tone must be 20–20000 Hz") }
        if let toneLevelDbov, !(-127...(-3)).contains(toneLevelDbov) {
            throw ValidationError("--tone-level-dbov must be -127 (silence) to -3")
        }
        if let video, !video.lowercased().hasSuffix(".y4m"), !video.lowercased().hasSuffix(".ivf") {
            throw ValidationError("--video must be a .y4m or .ivf file (got \(video))")
        }
        if let audio, AudioRecording(path: audio) == nil {
            throw ValidationError("--audio must be a .wav, .ogg or .opus file (got \(audio))")
        }
    }

    /// Opens the media files before joining, so a bad file fails before the relay sees us.
    func sources() throws -> (VideoSource, AudioSource, String) {
        do throws(ClientError) {
            var videoSource = VideoSource.testPattern, audioSource = AudioSource.tone
            var described = ["\(width)x\(height) test pattern", "Opus tone \(tone) Hz"]
            if let video, video.lowercased().hasSuffix(".y4m") {
                let reader = try Y4MReader(path: video)
                videoSource = .y4m(reader)
                described[0] = "\(video) (\(reader.width)x\(reader.height) Y4M)"
            } else if let video {
                let reader = try IVFReader(path: video)
                videoSource = .ivf(reader)
                described[0] = "\(video) (\(reader.width)x\(reader.height) VP8, \(reader.frames.count) frames, looped)"
            }
            if let audio, AudioRecording(path: audio) == .wav {
                let reader = try WAVReader(path: audio)
                audioSource = .wav(reader)
                described[1] = "\(audio) (\(reader.channels == 2 ? "stereo" : "mono") WAV)"
            } else if let audio {
                let reader = try OggOpusReader(path: audio)
                audioSource = .oggOpus(reader)
                described[1] = "\(audio) (Ogg Opus, \(reader.packets.count) packets, looped)"
            }
            return (videoSource, audioSource, described.joined(separator: ", "))
        } catch {
            throw fail(EndpointFailure(error.message))
        }
    }


    /// Sets what these options decide in a publisher's settings.
    func apply(to settings: inout EndpointPublisher.Settings) {
        settings.width = width
        settings.height = height
        settings.bitrateKbps = bitrate
        settings.codec = codec == "vp9" ? .vp9 : .vp8
        settings.framesPerSecond = fps
        settings.toneFrequency = tone
        settings.toneLevel = toneLevelDbov
        settings.simulcastRIDs = ClientOffer.simulcastRIDs(count: simulcast)
        settings.grain = grain
    }

    /// The picture size sent: the test pattern's, or the file's.
    func size(of source: VideoSource) -> (width: Int, height: Int) {
        switch source {
        case .testPattern: (width, height)
        case .y4m(let reader): (reader.width, reader.height)
        case .ivf(let reader): (reader.width, reader.height)
        }
    }
}
