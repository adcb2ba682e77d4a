import ArgumentParser
import Foundation
import GiaobanClient
import GiaobanCodecs

/// `giaoban endpoint watch`: receives a stream over WHEP, decodes it and reports what arrived.
struct EndpointWatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch a stream with WHEP: decode VP8 and Opus, optionally record them, and report."
    )

    @OptionGroup var options: EndpointOptions

    @Option(help: "Write the received video to this IVF file (written as frames arrive).")
    var recordVideo: String?

    @Option(help: "Write the received audio to this file: .ogg/.opus keeps the Opus packets (Ogg Opus), .wav the decoded 16-bit mono 48 kHz samples.")
    var recordAudio: String?

    @Option(help: "Write the received video and audio to this WebM file: the frames and Opus packets as they came, one Cluster per keyframe, playable while it is written and after a crash (see docs/recording.md).")
    var output: String?

    @Option(help: "Comma-separated tone frequencies (Hz) to pick the dominant one from.")
    var candidates = "300,440,1000,2000,3000"

    @Option(help: "Milliseconds each video packet is held in the jitter buffer (a NACKed packet has that long to come back).")
    var videoDelay = 150

    @Option(help: "Milliseconds each audio packet is held in the jitter buffer.")
    var audioDelay = 80

    @Option(help: "NACKs per missing video packet before asking for a keyframe (0: PLI only).")
    var nackRetries = 3

    @Option(help: "Drop every n-th received video packet (0: none) to test recovery.")
    var dropEvery = 0

    @Option(help: "Tell the relay this link takes at most this many kbit/s (REMB every 250 ms): it then sends a lower simulcast layer, or pauses video when none fits (audio goes on).")
    var maxBitrate: Int?

    @Option(name: .customLong("fallback-url"),
            help: "Another relay serving the same stream (repeatable): when the current relay fails, or sends nothing for 3 s, the next is tried, in turn, until --duration. The token must be valid on each (docs/cascade.md, \"Failover\").")
    var fallbackURLs: [String] = []

    func validate() throws {
        if let maxBitrate, !(30...100_000).contains(maxBitrate) { throw ValidationError("--max-bitrate must be 30–100000 kbit/s") }
        guard (0...2000).contains(videoDelay), (0...2000).contains(audioDelay) else {
            throw ValidationError("--video-delay and --audio-delay must be 0–2000 ms")
        }
        guard (0...20).contains(nackRetries) else { throw ValidationError("--nack-retries must be 0–20") }
        if !fallbackURLs.isEmpty && (output != nil || recordVideo != nil || recordAudio != nil) {
            throw ValidationError("--fallback-url cannot be combined with --output, --record-video or --record-audio: a recording does not continue across relays yet")
        }
        if let bad = fallbackURLs.first(where: { !$0.hasPrefix("http://") && !$0.hasPrefix("https://") }) {
            throw ValidationError("--fallback-url must be an http:// or https:// base URL, not '\(bad)'")
        }
        if let recordAudio, AudioRecording(path: recordAudio) == nil {
            throw ValidationError("--record-audio must end in .wav, .ogg or .opus (got \(recordAudio))")
        }
    }

    func run() throws {
        let frequencies = candidates.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        let relays = [options.url] + fallbackURLs
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int(options.duration * 1000))
        var index = 0
        var failovers: [String] = []
        var framesAllRelays = 0
        var last: (watcher: EndpointWatcher, connection: ClientConnection, url: String)?
        var ended: String?
        while true {
            let url = relays[index % relays.count]
            let whip: WHIPClient, connection: ClientConnection, session: WHIPSession
            do { (whip, connection, session) = try options.join(.watch, url: url) } catch let failure as EndpointFailure {
                guard relays.count > 1, ContinuousClock.now < deadline else { throw fail(failure) }
                options.status("cannot watch from \(url): \(failure.description); trying \(relays[(index + 1) % relays.count])")
                index += 1
                Thread.sleep(forTimeInterval: 0.5)
                continue
            }
            defer {
                connection.close()
                try? whip.end(session)
            }
            let watcher = try watch(connection, answer: session.answer, url: url)
            ended = watcher.run(until: deadline, endAfterSilence: relays.count > 1 ? .seconds(3) : nil,
                                report: statusReporter())
            framesAllRelays += watcher.stats.framesDecoded
            last = (watcher, connection, url)
            guard let reason = ended, relays.count > 1, ContinuousClock.now < deadline else { break }
            failovers.append("\(url): \(reason)")
            options.status("the relay at \(url) failed (\(reason)); failing over to \(relays[(index + 1) % relays.count])")
            index += 1
        }
        guard let (watcher, connection, url) = last else { throw fail(EndpointFailure("no relay could be watched")) }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var written: [String] = []
        do {
            try watcher.finishRecordings()
            if let recordVideo, watcher.ivf != nil { written.append(recordVideo) }
            if let recordAudio { written.append(recordAudio) }
            if let output, watcher.webmRecorder?.writer != nil { written.append(output) }
        } catch {
            throw fail(EndpointFailure("cannot write the recording: \(error.message)"))
        }
        let s = watcher.stats
        let dominant = AudioAnalysis.dominant(of: frequencies, in: Array(watcher.audioSamples.dropFirst(4800)))
        options.summary([
            ("mediaPath", connection.pathDescription), ("relay", url), ("failovers", failovers.count),
            ("failedRelays", failovers.joined(separator: "; ")), ("framesDecodedAllRelays", framesAllRelays),
            ("stream", options.stream), ("seconds", (seconds * 10).rounded() / 10),
            ("framesDecoded", s.framesDecoded), ("keyframesDecoded", s.keyframesDecoded),
            ("framesIncomplete", s.framesIncomplete), ("decodeErrors", s.decodeErrors), ("width", s.width), ("height", s.height),
            ("sizeChanges", s.sizeChanges), ("packetsReceived", s.packetsReceived), ("bytesReceived", s.bytesReceived),
            ("averageKbps", kbps(s.bytesReceived, over: seconds)), ("videoLost", s.videoLost), ("audioLost", s.audioLost),
            ("packetsLost", s.videoLost + s.audioLost), ("packetsLate", s.packetsLate),
            ("videoMissing", s.videoMissing), ("nacksSent", s.nacksSent), ("packetsNacked", s.packetsNacked), ("nacksGivenUp", s.nacksGivenUp),
            ("retransmissionsReceived", s.retransmissionsReceived), ("packetsRecovered", s.packetsRecovered),
            ("plisSent", s.keyframesRequested), ("keyframesRequested", s.keyframesRequested), ("reportsSent", s.reportsSent),
            ("videoJitterMs", (s.videoJitterMilliseconds * 10).rounded() / 10),
            ("audioJitterMs", (s.audioJitterMilliseconds * 10).rounded() / 10),
            ("rttMs", s.roundTripMilliseconds.map { ($0 * 10).rounded() / 10 } ?? -1),
            ("audioFrames", s.audioFrames), ("audioConcealed", s.audioConcealed), ("audioRecoveredByFEC", s.audioRecoveredByFEC),
            ("audioDominantHz", dominant?.frequency ?? 0), ("audioDominantShare", ((dominant?.share ?? 0) * 1000).rounded() / 1000),
            ("recorded", written.joined(separator: ",")),
            ("ended", ended ?? "duration reached"),
        ])
        if let ended { throw fail(EndpointFailure("the connection ended early: \(ended)")) }
        if s.framesDecoded == 0 && s.audioFrames == 0 {
            throw fail(EndpointFailure("no media arrived from stream '\(options.stream)'; is the publisher still sending?"))
        }
    }

    /// A watcher of the joined `connection`, with the decoders and the recordings asked for.
    private func watch(_ connection: ClientConnection, answer: RelayAnswer, url: String) throws -> EndpointWatcher {
        let watcher: EndpointWatcher
        do {
            watcher = try EndpointWatcher(connection: connection, answer: answer,
                                          videoDelay: .milliseconds(videoDelay), audioDelay: .milliseconds(audioDelay))
        } catch {
            throw fail(EndpointFailure("cannot start the decoders: \(error)"))
        }
        watcher.maxNACKRetries = nackRetries
        watcher.dropEveryVideoPacket = max(0, dropEvery)
        watcher.bandwidthCap = maxBitrate.map { $0 * 1000 }
        do {
            if let output {
                watcher.webmRecorder = WebMRecorder(output: try FileOutput(path: output),
                                                    videoCodec: watcher.videoPayloadType == nil ? nil : watcher.videoCodec)
            }
            if let recordVideo { watcher.videoOutput = try FileOutput(path: recordVideo) }
            if let recordAudio {
                let file = try FileOutput(path: recordAudio)
                switch AudioRecording(path: recordAudio) {
                case .ogg: watcher.oggRecorder = try OggOpusRecorder(output: file)
                default: watcher.wavRecorder = try WAVWriter(output: file)
                }
            }
        } catch {
            throw fail(EndpointFailure("cannot create the recording: \(error.message); check the directory exists and is writable"))
        }
        options.status("media path: \(connection.pathDescription)")
        options.status("watching '\(options.stream)' from \(url)")
        return watcher
    }

    /// The once-a-second status line of one watcher (counted from its own start).
    private func statusReporter() -> (EndpointWatcher.Stats) -> Void {
        var previous = EndpointWatcher.Stats()
        return { s in
            let lost = (s.videoLost - previous.videoLost) + (s.audioLost - previous.audioLost)
            let packets = s.packetsReceived - previous.packetsReceived
            let lossPercent = packets + lost > 0 ? Double(lost) * 100 / Double(packets + lost) : 0
            options.status("in \(kbps(s.bytesReceived - previous.bytesReceived, over: 1)) kbit/s,"
                           + " out \(kbps(s.bytesSent - previous.bytesSent, over: 1)) kbit/s,"
                           + " loss \(String(format: "%.1f", lossPercent))% after NACK (missing \(s.videoMissing - previous.videoMissing),"
                           + " recovered \(s.packetsRecovered - previous.packetsRecovered)),"
                           + " jitter \(String(format: "%.1f", s.videoJitterMilliseconds)) ms,"
                           + " rtt \(s.roundTripMilliseconds.map { String(format: "%.1f", $0) } ?? "-") ms,"
                           + " \(s.framesDecoded - previous.framesDecoded) fps, \(s.width)x\(s.height),"
                           + " keyframes requested \(s.keyframesRequested)")
            previous = s
        }
    }
}

/// The audio recording formats `--record-audio` accepts, by file extension.
enum AudioRecording {
    /// Decoded PCM.
    case wav
    /// The received Opus packets in Ogg.
    case ogg

    init?(path: String) {
        let lower = path.lowercased()
        if lower.hasSuffix(".wav") { self = .wav } else if lower.hasSuffix(".ogg") || lower.hasSuffix(".opus") { self = .ogg } else { return nil }
    }
}
