import ArgumentParser
import Foundation
import GiaobanClient
import GiaobanCrypto
import GiaobanSRTP
import GiaobanWire
import GiaobanTransport

#if canImport(Glibc)
import Glibc
#endif

/// How a step reads the forwarder it measures.
struct ForwarderMeter {
    /// CPU seconds of the forwarder so far.
    var cpuSeconds: () -> Double
    /// Packets forwarded so far.
    var forwarded: () -> Double
    /// Datagrams the forwarder dropped so far, if it counts them.
    var drops: () -> Double? = { nil }
    /// RTP packets the forwarder received from publishers so far, if it counts them.
    var received: () -> Double? = { nil }
    /// Segmented sends and the datagrams they carried so far, if the forwarder counts them.
    var segmented: () -> (sends: Double, datagrams: Double)? = { nil }
    /// The forwarder process, when it runs as one: the kernel's drops on its sockets are counted.
    var pid: Int32?
    /// The video encoding subscriber `i` receives (an index into the publisher's encodings);
    /// nil: the highest.
    var encodingOf: (Int) -> Int? = { _ in nil }
    /// CPU seconds of the forwarder spent inside this process (subtracted from the generator's).
    var insideGenerator = false
}

/// What the part of the run through one forwarder process (the relay or Janus) produced.
struct ForwarderRun {
    var steps: [BroadcastStep] = []
    var error: String?
    var idleRSS: Int?
    var publisherRSS: Int?
    var publisherOnlyCPUPercent: Double?
    var srtpProfile: String?
}

/// A forwarder running as its own process, and how the load generator's peers join it.
protocol ForwarderTarget: AnyObject {
    /// The process, measured from /proc.
    var process: any MeasuredProcess { get }
    /// Joins the publisher; returns its connected driver.
    func joinPublisher(context: DTLSContext) throws -> ClientConnection
    /// Joins one more subscriber; returns its connected driver.
    func joinSubscriber(context: DTLSContext) throws -> ClientConnection
    /// How a step reads the forwarder's CPU and forwarded packets.
    func meter(receiver: ReceiveLoop) -> ForwarderMeter
    /// Ends the signaling sessions (bounded in time); media has stopped.
    func leave()
    /// Stops the process.
    func stop()
    /// What one step adds, for progress lines ("subscribers").
    var joinNoun: String { get }
}

extension ForwarderTarget {
    var joinNoun: String { "subscribers" }
}

/// The options of a scenario measured in steps through the relay.
struct StepOptions: ParsableArguments {
    @Option(help: "Measured seconds per step.")
    var seconds = 10.0

    @Option(help: "Warm-up seconds per step (not measured).")
    var warmup = 2.0

    @Option(help: "The relay binary (default: giaoban next to this program).")
    var relay: String?

    @Option(help: "media.workers of the relay, comma-separated: one relay run per value, named \"relay w<N>\" (default: one run with the relay's default, one lane per core).")
    var workers: String?

    @Option(help: "media.udp_segmentation of the relay, comma-separated on/off: one relay run per value and --workers value, \"off\" runs named \"… noseg\" (default: the relay's default, on).")
    var segmentation: String?

    /// The relay runs to make: one per `--workers` value, or one with the relay's default (nil).
    var workerRuns: [Int?] {
        let values = workers.map { Broadcast.counts($0) } ?? []
        return values.isEmpty ? [nil] : values.map { $0 }
    }

    /// The `--segmentation` values to run (nil: the relay's default).
    var segmentationRuns: [Bool?] {
        guard let segmentation else { return [nil] }
        return segmentation.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) == "on" }
    }

    /// One relay run: its egress lanes and its segmentation (nil: the relay's default).
    struct RelayRun {
        var workers: Int?
        var segmentation: Bool?
    }

    /// Every `--workers` value with every `--segmentation` value.
    var relayRuns: [RelayRun] {
        workerRuns.flatMap { workers in segmentationRuns.map { RelayRun(workers: workers, segmentation: $0) } }
    }

    /// The relay's environment for `run` (empty: its defaults).
    static func relayEnvironment(_ run: RelayRun) -> [String: String] {
        var environment: [String: String] = [:]
        if let workers = run.workers { environment["GIAOBAN_MEDIA_WORKERS"] = String(workers) }
        if let segmentation = run.segmentation { environment["GIAOBAN_MEDIA_UDP_SEGMENTATION"] = segmentation ? "true" : "false" }
        return environment
    }

    /// The scenario name of `run`: "relay w2", "relay w2 noseg".
    static func relayName(_ base: String, _ run: RelayRun) -> String {
        (run.workers.map { "\(base) w\($0)" } ?? base) + (run.segmentation == false ? " noseg" : "")
    }

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    @Option(help: "Write latency and CPU plots as SVG to this file.")
    var svg: String?

    func validate() throws {
        guard seconds >= 1, seconds <= 600, warmup >= 0, warmup <= 60 else {
            throw ValidationError("--seconds 1…600 and --warmup 0…60")
        }
        guard workerRuns.allSatisfy({ $0.map { (1...64).contains($0) } ?? true }) else {
            throw ValidationError("--workers: comma-separated counts between 1 and 64")
        }
        if let segmentation, !segmentation.split(separator: ",").allSatisfy({ ["on", "off"].contains($0.trimmingCharacters(in: .whitespaces)) }) {
            throw ValidationError("--segmentation: comma-separated on or off, got \"\(segmentation)\"")
        }
    }

    /// Writes `report` as JSON and `svg()` as SVG where the options ask for them.
    func write<Report: Encodable>(_ report: Report, svg draw: () -> String) throws {
        if let json { try writeJSON(report, to: json) }
        if let svg {
            try draw().write(toFile: svg, atomically: true, encoding: .utf8)
            print("wrote \(svg)")
        }
    }
}

/// A scenario measured in steps of warm-up plus a window, with one publisher whose packets
/// carry probes.
protocol SteppedRun {
    /// Step timing, the relay binary and the output files.
    var options: StepOptions { get }
    /// What the measured publisher sends.
    var profile: MediaProfile { get }
}

extension SteppedRun {
    /// Warm-up seconds per step (not measured).
    var warmup: Double { options.warmup }
    /// Measured seconds per step.
    var seconds: Double { options.seconds }
}

extension Broadcast {
    /// Publisher → a bare UDP fan-out (as many sending threads as the relay's largest
    /// `--workers` value of the run, else one) → N subscriber sockets, pre-keyed SRTP end to end.
    func runKernelFloor() throws -> [BroadcastStep] {
        let keys = Broadcast.randomKeys()
        let forwarder = try KernelForwarder(threads: options.workerRuns.compactMap { $0 }.max() ?? 1)
        if forwarder.threads > 1 { progress("kernel-floor: \(forwarder.threads) sending threads, like the relay's lanes") }
        let receiver = ReceiveLoop()
        let publisher = PacedPublisher(connection: ClientConnection(socket: try UDPSocket(),
                                                                    peer: try ClientPeer(keys: keys, relayAddress: forwarder.address)),
                                       profile: profile)
        forwarder.start()
        receiver.start()
        publisher.start()
        defer {
            publisher.stop()
            forwarder.stop()
            receiver.stop()
        }
        let meter = ForwarderMeter(cpuSeconds: { Double(forwarder.cpuMicros) / 1e6 },
                                   forwarded: { Double(forwarder.forwarded.load(ordering: .relaxed)) }, insideGenerator: true)
        var destinations: [STUNAddress] = []
        var steps: [BroadcastStep] = []
        for n in counts {
            progress("kernel-floor N=\(n): adding \(max(0, n - receiver.count)) subscribers")
            while receiver.count < n {
                let socket = try UDPSocket()
                destinations.append(socket.localAddress)
                receiver.add(ClientConnection(socket: socket, peer: try ClientPeer(keys: Broadcast.mirrored(keys), relayAddress: forwarder.address)))
            }
            forwarder.setDestinations(Array(destinations.prefix(n)))
            steps.append(measure("kernel-floor", subscribers: n, publisher: publisher, receiver: receiver, meter: meter, rssBase: nil))
        }
        return steps
    }

    /// Publisher (WHIP) → the relay process (with `workers` egress lanes, nil: its default) → N subscribers (WHEP).
    func runRelay(_ run: StepOptions.RelayRun) -> ForwarderRun {
        let binary = RelayProcess.binary(options.relay)
        let name = StepOptions.relayName("relay", run)
        progress("\(name): starting \(binary) serve")
        return runForwarder(name, counts: counts) {
            try RelayTarget(process: RelayProcess(binary: binary, environment: StepOptions.relayEnvironment(run)))
        }
    }

    /// Fresh SRTP keys with the profile the relay negotiates (AES-GCM, RFC 7714).
    static func randomKeys() -> SRTPKeyingMaterial {
        var rng = SystemRandomNumberGenerator()
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        let profile = SRTPProfile.aeadAES128GCM
        return SRTPKeyingMaterial(profile: profile, localKey: bytes(profile.keyLength), localSalt: bytes(profile.saltLength),
                                  remoteKey: bytes(profile.keyLength), remoteSalt: bytes(profile.saltLength))
    }

    /// The same keys seen from the other end.
    static func mirrored(_ keys: SRTPKeyingMaterial) -> SRTPKeyingMaterial {
        SRTPKeyingMaterial(profile: keys.profile, localKey: keys.remoteKey, localSalt: keys.remoteSalt,
                           remoteKey: keys.localKey, remoteSalt: keys.localSalt)
    }
}

extension SteppedRun {
    /// Publisher → one subscriber socket, pre-keyed SRTP, no relay: the client stack's floor.
    func runDirect() throws -> BroadcastStep? {
        progress("direct: publisher → 1 subscriber, no relay")
        let keys = Broadcast.randomKeys()
        let publisherSocket = try UDPSocket(), subscriberSocket = try UDPSocket()
        let receiver = ReceiveLoop()
        receiver.add(ClientConnection(socket: subscriberSocket,
                                      peer: try ClientPeer(keys: Broadcast.mirrored(keys), relayAddress: publisherSocket.localAddress)))
        let publisher = PacedPublisher(connection: ClientConnection(socket: publisherSocket,
                                                                    peer: try ClientPeer(keys: keys, relayAddress: subscriberSocket.localAddress)),
                                       profile: profile)
        receiver.start()
        publisher.start()
        defer {
            publisher.stop()
            receiver.stop()
        }
        return measure("direct", subscribers: 1, publisher: publisher, receiver: receiver, meter: nil, rssBase: nil)
    }

    /// One publisher, then subscribers added step by step up to each of `counts`, through the
    /// forwarder `start` launches; a failure keeps the steps measured before it.
    func runForwarder(_ name: String, counts: [Int], start: () throws -> any ForwarderTarget) -> ForwarderRun {
        var result = ForwarderRun()
        let target: any ForwarderTarget
        do { target = try start() } catch {
            result.error = "\(error)"
            return result
        }
        defer { target.stop() }
        result.idleRSS = target.process.residentKiB
        let receiver = ReceiveLoop()
        var publisher: PacedPublisher?
        do {
            let context = try DTLSContext(certificate: DTLSCertificate())
            let connection = try target.joinPublisher(context: context)
            result.srtpProfile = connection.peer.srtpProfile?.rawValue
            let paced = PacedPublisher(connection: connection, profile: profile)
            publisher = paced
            paced.start()
            receiver.start()
            defer {
                paced.stop()
                receiver.stop()
                target.leave()
            }
            // The forwarder's own cost with the publisher alone (timers, reports, receiving 220 pkt/s):
            // the fixed part of its CPU, which dominates the per-packet figure at small N.
            sleep(seconds: 0.5)
            let idle0 = target.process.threadsCPUSeconds
            sleep(seconds: 2)
            result.publisherOnlyCPUPercent = 100 * (target.process.threadsCPUSeconds - idle0) / 2
            let publisherRSS = target.process.residentKiB
            result.publisherRSS = publisherRSS
            progress("\(name): publisher alone: \(format(result.publisherOnlyCPUPercent ?? 0)) % CPU, RSS \(publisherRSS / 1024) MiB")
            let meter = target.meter(receiver: receiver)
            for n in counts {
                let missing = max(0, n - receiver.count)
                progress("\(name) N=\(n): joining \(missing) \(target.joinNoun)")
                let t0 = nowNanoseconds()
                while receiver.count < n {
                    receiver.add(try target.joinSubscriber(context: context))
                }
                if missing > 0 {
                    progress("\(name) N=\(n): joined in \(format(Double(nowNanoseconds() - t0) / 1e9)) s")
                }
                result.steps.append(measure(name, subscribers: n, publisher: paced, receiver: receiver, meter: meter,
                                            rssBase: (target.process, publisherRSS)))
            }
        } catch {
            result.error = "\(error); \(name) log:\n\(target.process.logTail(lines: 20))"
        }
        withExtendedLifetime(publisher) {}
        return result
    }

    /// Warm-up, then one measurement window of `seconds`, then the figures.
    func measure(_ scenario: String, subscribers n: Int, publisher: PacedPublisher, receiver: ReceiveLoop,
                 meter: ForwarderMeter?, rssBase: (any MeasuredProcess, Int)?) -> BroadcastStep {
        progress("\(scenario) N=\(n): warm-up \(format(warmup)) s, measuring \(format(seconds)) s …")
        sleep(seconds: warmup)
        let start = nowNanoseconds() + 50_000_000
        let end = start + UInt64(seconds * 1e9)
        let bits = Int((seconds + 1) * publisher.packetsPerSecond * 1.5) + 4096
        let base = publisher.nextID.load(ordering: .relaxed)
        publisher.setWindow(start: start, end: end)
        receiver.open(ReceiveLoop.Window(start: start, end: end, baseID: base, bits: bits))

        sleep(untilNanoseconds: start)
        let cpu0 = meter?.cpuSeconds(), forwarded0 = meter?.forwarded(), drops0 = meter?.drops(), in0 = meter?.received()
        let segmented0 = meter?.segmented()
        let self0 = ProcessStats.selfCPUSeconds(), receiver0 = receiver.cpuMicros.load(ordering: .relaxed)
        let socketDrops0 = (meter?.pid.flatMap(ProcessStats.udpDrops), ProcessStats.udpDrops(pid: getpid()))
        sleep(untilNanoseconds: end)
        let cpu1 = meter?.cpuSeconds(), forwarded1 = meter?.forwarded(), drops1 = meter?.drops(), in1 = meter?.received()
        let segmented1 = meter?.segmented()
        let self1 = ProcessStats.selfCPUSeconds(), receiver1 = receiver.cpuMicros.load(ordering: .relaxed)
        let rss = rssBase.map { $0.0.residentKiB }
        sleep(seconds: 0.5)  // packets still in flight
        let figures = receiver.collect() ?? ReceiveLoop.Figures()
        let socketDrops1 = (meter?.pid.flatMap(ProcessStats.udpDrops), ProcessStats.udpDrops(pid: getpid()))

        let sent = publisher.sentInWindow.load(ordering: .relaxed)
        let received = figures.unique.prefix(n).reduce(0, +)
        // Each subscriber gets the audio and one video encoding, the highest unless told otherwise.
        let tracks = publisher.sentInWindowByTrack.map { $0.value.load(ordering: .relaxed) }
        let expected = (0..<n).reduce(0) { sum, i in
            sum + tracks[0] + tracks[1 + min(meter?.encodingOf(i) ?? tracks.count - 2, tracks.count - 2)]
        }
        var step = BroadcastStep(scenario: scenario, subscribers: n, seconds: seconds, sentPackets: sent, receivedPackets: received,
                                 duplicates: figures.duplicates,
                                 lossPercent: expected > 0 ? 100 * Double(max(0, expected - received)) / Double(expected) : 0,
                                 latency: LatencySummary(nanoseconds: figures.latencies), generatorCPUPercent: 0,
                                 publisherMaxLateMicros: publisher.maxLateMicros.load(ordering: .relaxed), clientDrops: figures.drops)
        step.loadAverage = ProcessStats.loadAverage()
        step.receiverCPUPercent = Double(receiver1 - receiver0) / 1e4 / seconds
        var forwarderCPU = 0.0
        if let cpu0, let cpu1, let forwarded0, let forwarded1 {
            forwarderCPU = cpu1 - cpu0
            let forwarded = forwarded1 - forwarded0
            step.forwardedPerSecond = forwarded / seconds
            step.cpuMicrosPerPacket = forwarded > 0 ? forwarderCPU / forwarded * 1e6 : nil
            step.forwarderCPUPercent = 100 * forwarderCPU / seconds
            if let segmented0, let segmented1, forwarded > 0 {
                let sends = segmented1.sends - segmented0.sends, datagrams = segmented1.datagrams - segmented0.datagrams
                step.segmentedPercent = 100 * datagrams / forwarded
                step.datagramsPerSegmentedSend = sends > 0 ? datagrams / sends : nil
            }
        }
        if let drops0, let drops1 { step.relayDrops = Int(drops1 - drops0) }
        if let in0, let in1 { step.receivedPerSecond = (in1 - in0) / seconds }
        if let d0 = socketDrops0.0, let d1 = socketDrops1.0 { step.forwarderSocketDrops = d1 - d0 }
        if let d0 = socketDrops0.1, let d1 = socketDrops1.1 { step.generatorSocketDrops = d1 - d0 }
        step.generatorCPUPercent = 100 * ((self1 - self0) - (meter?.insideGenerator == true ? forwarderCPU : 0)) / seconds
        if let rss, let rssBase {
            step.relayRSSKiB = rss
            step.rssPerSubscriberKiB = Double(rss - rssBase.1) / Double(n)
        }
        progress("\(scenario) N=\(n): p50 \(format(step.latency.p50)) µs, p99 \(format(step.latency.p99)) µs, "
            + "loss \(String(format: "%.3f", step.lossPercent)) %, "
            + (step.cpuMicrosPerPacket.map { "\(String(format: "%.2f", $0)) µs CPU/pkt, " } ?? "")
            + "generator CPU \(format(step.generatorCPUPercent)) %")
        return step
    }
}
