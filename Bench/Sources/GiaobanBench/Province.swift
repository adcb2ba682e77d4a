import ArgumentParser
import Foundation
import GiaobanClient
import GiaobanCrypto
import GiaobanEngine
import GiaobanWire

#if canImport(Glibc)
import Glibc
#endif

/// `giaoban-bench province`: a province briefing through the relay. The chair publishes three
/// simulcast encodings and audio; every commune publishes 360p-sized video and audio and
/// watches the chair.
struct Province: ParsableCommand, SteppedRun {
    static let configuration = CommandConfiguration(
        abstract: "Province briefing: a simulcast chair watched by N communes that each publish too.",
        discussion: """
            The chair publishes VP8-shaped simulcast (rids l, m, h; RTP stream id extension on every packet, \
            per-encoding picture IDs, periodic keyframes and keyframes on PLI) and Opus-sized audio with WHIP; \
            each commune publishes one VP8-shaped encoding and audio with WHIP and watches the chair with WHEP. \
            No encoding: packets are sized and paced like the real streams and carry their send time. \
            Steps of increasing commune count; the chair → commune latency, loss, the relay's CPU per packet, \
            its memory and packet rates, and the load generator's own CPU per step. An optional first step \
            sends the chair straight to one socket (no relay): the floor of the client stack. \
            Traffic stays on 127.0.0.1. Build with -c release (scripts/bench.sh province does).
            """
    )

    @Option(help: "Commune counts, one step each (comma-separated).")
    var communes = "10,50,100,200"

    @OptionGroup var options: StepOptions

    @Option(help: "The chair's simulcast bit rates in kbit/s, low, middle, high.")
    var chairKbps = "150,500,1500"

    @Option(help: "Each commune's video bit rate in kbit/s (640×360).")
    var communeKbps = 400

    @Option(help: "Percent of the communes that watch the chair as a thumbnail: a REMB estimate caps them to the low encoding.")
    var thumbnails = 0

    @Flag(help: "Skip the direct reference (chair straight to one socket, no relay).")
    var noDirect = false

    var counts: [Int] { Broadcast.counts(communes) }
    var chairRates: [Int] { Broadcast.counts(chairKbps) }

    func validate() throws {
        guard !counts.isEmpty, counts.allSatisfy({ (1...1000).contains($0) }) else {
            throw ValidationError("--communes: comma-separated counts between 1 and 1000")
        }
        guard chairRates.count == 3, chairRates.allSatisfy({ (30...20_000).contains($0) }), chairRates == chairRates.sorted() else {
            throw ValidationError("--chair-kbps: three rising rates between 30 and 20000")
        }
        guard (50...5_000).contains(communeKbps) else { throw ValidationError("--commune-kbps 50…5000") }
        guard (0...100).contains(thumbnails) else { throw ValidationError("--thumbnails 0…100 (percent)") }
    }

    /// The chair: three simulcast encodings (320×180, 640×360, 1280×720) and audio.
    var profile: MediaProfile {
        var p = MediaProfile()
        let sizes = [("l", 320, 180), ("m", 640, 360), ("h", 1280, 720)]
        p.simulcast = zip(sizes, chairRates).map { MediaProfile.Encoding(rid: $0.0, bitrate: $1 * 1000, width: $0.1, height: $0.2) }
        return p
    }

    /// A commune: one 640×360 encoding and audio.
    var communeProfile: MediaProfile {
        var p = MediaProfile()
        p.videoBitrate = communeKbps * 1000
        p.width = 640
        p.height = 360
        return p
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let chair = profile, commune = communeProfile
        func describe(_ p: MediaProfile) -> String {
            p.encodings.map { "\($0.rid.isEmpty ? "" : "\($0.rid) ")\($0.width)×\($0.height) \($0.bitrate / 1000) kbit/s "
                + "(\(Int(p.packetsPerSecond($0).rounded())) pkt/s)" }.joined(separator: ", ")
        }
        print("province: 1 chair → \(counts.map(String.init).joined(separator: ", ")) communes; "
            + "chair \(describe(chair)) + audio; each commune \(describe(commune)) + audio, watching the chair; "
            + "\(chair.frameRate) fps, keyframe every \(chair.keyframeIntervalFrames) frames; "
            + (thumbnails > 0 ? "\(thumbnails) % of the communes watch a thumbnail (low encoding, capped by REMB); " : "")
            + "warm-up \(format(warmup)) s + \(format(seconds)) s per step")
        let direct = noDirect ? nil : try runDirect()
        let binary = RelayProcess.binary(options.relay)
        progress("province: starting \(binary) serve")
        // One relay run: the last --workers value (or the relay's default).
        let relay = options.relayRuns.last ?? StepOptions.RelayRun()
        let run = runForwarder(StepOptions.relayName("province", relay), counts: counts) {
            try ProvinceTarget(process: RelayProcess(binary: binary, environment: StepOptions.relayEnvironment(relay)),
                               chair: chair, commune: commune, thumbnailPercent: thumbnails)
        }
        if let error = run.error { print("relay: \(error)") }
        let report = ProvinceReport(command: CommandLine.arguments.joined(separator: " "), chair: chair, commune: commune,
                                    warmupSeconds: warmup, seconds: seconds, srtpProfile: run.srtpProfile, direct: direct,
                                    relayIdleRSSKiB: run.idleRSS, relayChairRSSKiB: run.publisherRSS,
                                    relayChairOnlyCPUPercent: run.publisherOnlyCPUPercent, relayError: run.error,
                                    thumbnailPercent: thumbnails,
                                    steps: run.steps.map { ProvinceStep($0, chair: chair, commune: commune, direct: direct,
                                                                        thumbnails: ProvinceTarget.thumbnails(among: $0.subscribers, percent: thumbnails)) })
        print("")
        print(provinceTable(report))
        print("")
        print(report.notes.joined(separator: "\n"))
        try options.write(report) { provinceSVG(report) }
        if run.error != nil { throw ExitCode(1) }
    }
}

/// The relay carrying a province briefing: the chair publishes simulcast on the stream
/// "chair"; each step's joins add communes, each a WHIP publisher on "commune-k" (paced by
/// one shared thread) and a WHEP watcher of "chair" (the measured subscriber). A thumbnail
/// watcher announces, once after it connected, a REMB estimate that fits the low encoding only.
final class ProvinceTarget: ForwarderTarget {
    let relay: RelayTarget
    let chair: MediaProfile
    /// The communes' publishers, one thread for all.
    let communes: PacedPublisher
    let thumbnailPercent: Int
    private var joined = 0

    init(process: RelayProcess, chair: MediaProfile, commune: MediaProfile, thumbnailPercent: Int) throws {
        relay = try RelayTarget(process: process)
        self.chair = chair
        self.thumbnailPercent = thumbnailPercent
        communes = PacedPublisher(connections: [], profile: commune, quantum: 1_000_000, serviceMilliseconds: 100)
        communes.start()
    }

    var process: any MeasuredProcess { relay.process }
    var joinNoun: String { "communes (a publisher and a watcher each)" }

    /// Whether commune `index` (0-based, in joining order) watches a thumbnail: spread evenly.
    static func isThumbnail(_ index: Int, percent: Int) -> Bool {
        (index + 1) * percent / 100 > index * percent / 100
    }

    /// How many of the first `count` communes watch a thumbnail.
    static func thumbnails(among count: Int, percent: Int) -> Int { count * percent / 100 }

    func joinPublisher(context: DTLSContext) throws -> ClientConnection {
        try relay.join(.publish(audioSSRC: PacedPublisher.audioSSRC, videoSSRC: PacedPublisher.videoSSRC), stream: "chair",
                       simulcastRIDs: chair.simulcast.map(\.rid), context: context)
    }

    func joinSubscriber(context: DTLSContext) throws -> ClientConnection {
        let index = joined
        joined += 1
        communes.add(try relay.join(.publish(audioSSRC: PacedPublisher.audioSSRC, videoSSRC: PacedPublisher.videoSSRC),
                                    stream: "commune-\(joined)", context: context))
        let (watcher, session) = try relay.joinSession(.watch, stream: "chair", context: context)
        if Self.isThumbnail(index, percent: thumbnailPercent) { capToLowEncoding(watcher, videoSSRC: session.answer.video?.ssrc ?? 0) }
        return watcher
    }

    /// Sends one REMB (draft-alvestrand-rmcat-remb) whose estimate, less the relay's audio
    /// reserve, lies halfway between the low and the middle encoding.
    private func capToLowEncoding(_ watcher: ClientConnection, videoSSRC: UInt32) {
        let rates = chair.encodings.map(\.bitrate)
        let cap = MediaRouter.Settings().audioReserve + (rates[0] + rates[min(1, rates.count - 1)]) / 2
        let remb = ReceiverEstimatedMaxBitrateBuilder(senderSSRC: 0x7E1E_0001, bitrate: UInt64(cap), ssrcs: [videoSSRC])
        var scratch = [UInt8](repeating: 0, count: 256)
        scratch.withUnsafeMutableBytes { buffer in
            _ = watcher.sendRTCP(scratch: buffer) { out throws(WireError) in try remb.marshal(into: out) }
        }
    }

    func meter(receiver: ReceiveLoop) -> ForwarderMeter {
        var meter = relay.meter(receiver: receiver)
        let percent = thumbnailPercent
        meter.encodingOf = { Self.isThumbnail($0, percent: percent) ? 0 : nil }
        return meter
    }

    func leave() {
        communes.stop()
        relay.leave()
    }

    func stop() {
        communes.stop()
        relay.stop()
    }
}
