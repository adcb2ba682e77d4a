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

    @Option(help: "Write the received video to this IVF file.")
    var recordVideo: String?

    @Option(help: "Write the decoded audio to this WAV file (16-bit mono 48 kHz).")
    var recordAudio: String?

    @Option(help: "Comma-separated tone frequencies (Hz) to pick the dominant one from.")
    var candidates = "300,440,1000,2000,3000"

    @Option(help: "Drop every n-th received video packet (0: none) to test recovery.")
    var dropEvery = 0

    func run() throws {
        let frequencies = candidates.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        let whip: WHIPClient, connection: ClientConnection, session: WHIPSession
        do { (whip, connection, session) = try options.join(.watch) } catch let failure as EndpointFailure {
            throw fail(failure)
        }
        defer {
            connection.close()
            try? whip.end(session)
        }
        let watcher: EndpointWatcher
        do { watcher = try EndpointWatcher(connection: connection, answer: session.answer) } catch {
            throw fail(EndpointFailure("cannot start the decoders: \(error)"))
        }
        watcher.recordsVideo = recordVideo != nil
        watcher.keepsAllAudio = recordAudio != nil
        watcher.dropEveryVideoPacket = max(0, dropEvery)
        options.status("watching '\(options.stream)' from \(options.url)")
        let start = ContinuousClock.now
        var previous = EndpointWatcher.Stats()
        watcher.run(until: start + .milliseconds(Int(options.duration * 1000))) { s in
            let lost = (s.videoLost - previous.videoLost) + (s.audioLost - previous.audioLost)
            let packets = s.packetsReceived - previous.packetsReceived
            let lossPercent = packets + lost > 0 ? Double(lost) * 100 / Double(packets + lost) : 0
            options.status("in \(kbps(s.bytesReceived - previous.bytesReceived, over: 1)) kbit/s,"
                           + " loss \(String(format: "%.1f", lossPercent))%, \(s.framesDecoded - previous.framesDecoded) frames/s,"
                           + " \(s.width)x\(s.height), keyframes requested \(s.keyframesRequested)")
            previous = s
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var written: [String] = []
        do {
            if let recordVideo, let ivf = watcher.ivf {
                try Data(ivf.bytes).write(to: URL(fileURLWithPath: recordVideo))
                written.append(recordVideo)
            }
            if let recordAudio {
                try Data(WAVWriter.file(watcher.audioSamples)).write(to: URL(fileURLWithPath: recordAudio))
                written.append(recordAudio)
            }
        } catch {
            throw fail(EndpointFailure("cannot write the recording: \(error.localizedDescription)"))
        }
        let s = watcher.stats
        let dominant = AudioAnalysis.dominant(of: frequencies, in: Array(watcher.audioSamples.dropFirst(4800)))
        let ended = connection.peer.state == .connected ? nil : connection.peer.failure.map { "\($0)" } ?? "connection closed"
        options.summary([
            ("stream", options.stream), ("seconds", (seconds * 10).rounded() / 10),
            ("framesDecoded", s.framesDecoded), ("keyframesDecoded", s.keyframesDecoded),
            ("framesIncomplete", s.framesIncomplete), ("width", s.width), ("height", s.height),
            ("packetsReceived", s.packetsReceived), ("bytesReceived", s.bytesReceived),
            ("averageKbps", kbps(s.bytesReceived, over: seconds)), ("videoLost", s.videoLost), ("audioLost", s.audioLost),
            ("audioFrames", s.audioFrames), ("audioConcealed", s.audioConcealed),
            ("audioDominantHz", dominant?.frequency ?? 0), ("audioDominantShare", ((dominant?.share ?? 0) * 1000).rounded() / 1000),
            ("keyframesRequested", s.keyframesRequested), ("recorded", written.joined(separator: ",")),
            ("ended", ended ?? "duration reached"),
        ])
        if let ended { throw fail(EndpointFailure("the connection ended early: \(ended)")) }
        if s.framesDecoded == 0 && s.audioFrames == 0 {
            throw fail(EndpointFailure("no media arrived from stream '\(options.stream)'; is the publisher still sending?"))
        }
    }
}
