import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `giaoban-bench broadcast`: one publisher, N subscribers, through the relay and through two
/// references measured the same way in the same run.
struct Broadcast: ParsableCommand, SteppedRun {
    static let configuration = CommandConfiguration(
        abstract: "1 → N broadcast: latency, loss, CPU per forwarded packet and memory, per subscriber count.",
        discussion: """
            One publisher sends VP8-sized video (1100-byte packets, a burst per frame at 30 fps) and \
            Opus-sized audio (100 bytes every 20 ms) over SRTP; every payload carries its send time and an id. \
            Four scenarios, each measured the same way: "direct" (publisher straight to one subscriber: \
            the client stack's floor), "kernel-floor" (a bare recvmmsg/sendmmsg fan-out thread without \
            SRTP), "relay" (the giaoban binary as a separate process, WHIP publish and WHEP watch), and \
            "janus" (Janus VideoRoom, when the janus binary is installed, over its HTTP API). \
            Traffic stays on 127.0.0.1. Build with -c release (scripts/bench.sh broadcast does).
            """
    )

    @Option(help: "Subscriber counts, one step each (comma-separated).")
    var subscribers = "1,10,50,100,200"

    @OptionGroup var options: StepOptions

    @Option(help: "Video bit rate in kbit/s.")
    var videoKbps = 1500

    @Flag(help: "Skip the direct and kernel-floor references.")
    var noBaselines = false

    @Option(help: "The Janus binary (default: janus on PATH; without one the Janus reference says \"not installed\").")
    var janus: String?

    @Option(help: "Subscriber counts for Janus (default: the same as --subscribers).")
    var janusSubscribers: String?

    @Flag(help: "Skip the Janus reference even when Janus is installed.")
    var noJanus = false

    func validate() throws {
        guard !counts.isEmpty, counts.allSatisfy({ (1...2000).contains($0) }) else {
            throw ValidationError("--subscribers: comma-separated counts between 1 and 2000")
        }
        guard (100...20_000).contains(videoKbps) else { throw ValidationError("--video-kbps 100…20000") }
        guard janusCounts.allSatisfy({ (1...2000).contains($0) }) else {
            throw ValidationError("--janus-subscribers: comma-separated counts between 1 and 2000")
        }
    }

    /// The subscriber counts, in the order given.
    var counts: [Int] { Self.counts(subscribers) }

    /// The subscriber counts of the Janus reference.
    var janusCounts: [Int] { janusSubscribers.map(Self.counts) ?? counts }

    static func counts(_ list: String) -> [Int] {
        list.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// The Janus binary to run, or why there is none.
    var janusBinary: Result<String, JanusMissing> {
        if noJanus { return .failure(JanusMissing(description: "skipped (--no-janus)")) }
        if let janus { return access(janus, X_OK) == 0 ? .success(janus) : .failure(JanusMissing(description: "not executable: \(janus)")) }
        return findOnPath("janus").map { .success($0) } ?? .failure(JanusMissing(description: "not installed"))
    }

    var profile: MediaProfile {
        var p = MediaProfile()
        p.videoBitrate = videoKbps * 1000
        return p
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let janusBinary = self.janusBinary
        var janus: String
        switch janusBinary {
        case .success(let path): janus = "Janus VideoRoom (\(path))"
        case .failure(let missing): janus = missing.description
        }
        let p = profile
        print("broadcast: 1 publisher → \(counts.map(String.init).joined(separator: ", ")) subscribers; "
            + "video \(videoKbps) kbit/s (\(Int(p.videoPacketsPerSecond.rounded())) pkt/s of \(p.videoPacketBytes) B, "
            + "\(p.frameRate) fps), audio \(p.audioPayloadBytes) B every \(p.audioIntervalMs) ms; "
            + "warm-up \(format(warmup)) s + \(format(seconds)) s per step")
        print("janus: \(janus)")

        var steps: [BroadcastStep] = []
        if !noBaselines {
            if let step = try runDirect() { steps.append(step) }
            steps += try runKernelFloor()
        }
        var relayRun = ForwarderRun()
        for run in options.relayRuns {
            relayRun = runRelay(run)
            steps += relayRun.steps
            if let error = relayRun.error { print("\(StepOptions.relayName("relay", run)): \(error)") }
        }
        var janusRun: ForwarderRun?
        if case .success(let path) = janusBinary {
            let run = runJanus(binary: path)
            steps += run.steps
            if let error = run.error {
                print("janus: \(error)")
                janus += run.steps.isEmpty ? "; failed" : "; failed after N=\(run.steps.last!.subscribers)"
            }
            janusRun = run
        }
        let comparisons = BroadcastComparison.pairs(steps)

        print("")
        print(broadcastTable(steps))
        print("""

            latency: publisher send call → subscriber receive, SRTP included (same CLOCK_MONOTONIC); loss: unique ids \
            missing per subscriber; fwd pkt/s and CPU µs/pkt: relay from /metrics and its threads' time on CPU \
            (/proc/<pid>/task/*/schedstat, ns), janus from the same over the RTP packets its subscribers received, \
            kernel-floor from its thread's getrusage; RSS: forwarder VmRSS at the end of the step, KiB/sub = growth over \
            the publisher-only RSS per subscriber; gen CPU %: this process minus the kernel-floor thread, % of one core \
            (2 cores: above ~80 % the generator, not the relay, may be the limit); rx CPU %: the one receive thread \
            alone (every packet of every subscriber goes through it); load: 1-minute load average after the step; \
            seg %: the relay's forwarded packets that left inside segmented sends (UDP_SEGMENT), dg/seg: datagrams per \
            such send.
            """)
        if !comparisons.isEmpty {
            print("")
            print(comparisonTable(comparisons))
        }
        print("janus: \(janus)")

        let report = BroadcastReport(command: CommandLine.arguments.joined(separator: " "), profile: p, warmupSeconds: warmup,
                                     seconds: seconds, srtpProfile: relayRun.srtpProfile ?? "SRTP_AEAD_AES_128_GCM", janus: janus,
                                     relayIdleRSSKiB: relayRun.idleRSS, relayPublisherRSSKiB: relayRun.publisherRSS,
                                     relayPublisherOnlyCPUPercent: relayRun.publisherOnlyCPUPercent,
                                     relayError: relayRun.error, janusSRTPProfile: janusRun?.srtpProfile,
                                     janusIdleRSSKiB: janusRun?.idleRSS, janusPublisherRSSKiB: janusRun?.publisherRSS,
                                     janusPublisherOnlyCPUPercent: janusRun?.publisherOnlyCPUPercent, janusError: janusRun?.error,
                                     steps: steps, comparisons: comparisons)
        try options.write(report) { broadcastSVG(report) }
        if relayRun.error != nil { throw ExitCode(1) }
    }
}

/// Prints one progress line at once, also when stdout is a pipe.
func progress(_ line: String) {
    print(line)
    fflush(nil)
}

/// Why the Janus reference does not run.
struct JanusMissing: Error, CustomStringConvertible {
    let description: String
}

/// A number with up to one decimal, without a trailing ".0".
func format(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
}
