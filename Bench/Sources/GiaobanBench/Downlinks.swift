import ArgumentParser
import Foundation
import GiaobanClient
import GiaobanCrypto
import GiaobanServer
import Logging
import Synchronization
import GiaobanAuth

#if canImport(Glibc)
import Glibc
#endif

/// `giaoban-bench downlinks`: how fast the relay renegotiates a room's downlinks when a
/// publisher comes and goes.
struct Downlinks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "downlinks",
        abstract: "N participants on downlinks (one connection down each, offered by the relay): time and CPU to offer everyone a new publisher.",
        discussion: """
            A chair publishes (silent Opus); N participants join the room, each asks for its downlink \
            ({"type":"downlink","participants":"all"}), answers every offer and connects (ICE and DTLS). Then, \
            --events times per step, one more participant publishes and leaves: every downlink must be offered \
            its tracks, then offered again without them. Per step: from the publish answer to each participant's \
            offer carrying the new tracks (p50, p99, max over participants and events), the relay's CPU per \
            offer sent, and its RSS. Steps add participants to the same room. Traffic stays on 127.0.0.1. \
            Build with -c release (scripts/bench.sh downlinks does).
            """
    )

    @Option(help: "Participant counts, one step each (comma-separated).")
    var participants = "20,100,200"

    @Option(help: "Publishers that come and go per step.")
    var events = 5

    @Option(help: "The relay binary (default: giaoban next to this program).")
    var relay: String?

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    var counts: [Int] { Broadcast.counts(participants) }

    func validate() throws {
        guard !counts.isEmpty, counts.allSatisfy({ (1...1000).contains($0) }), counts == counts.sorted() else {
            throw ValidationError("--participants: rising comma-separated counts between 1 and 1000")
        }
        guard (1...50).contains(events) else { throw ValidationError("--events 1…50") }
    }

    struct Step: Codable {
        var participants: Int
        var events: Int
        /// Publish answer → offer with the new tracks at a participant, in ms.
        var offerP50Ms: Double
        var offerP99Ms: Double
        var offerMaxMs: Double
        /// Offers that never arrived within 30 s.
        var missing: Int
        /// Offers the relay sent (both the publisher's arrival and its leaving) and its CPU for them.
        var offersSent: Int
        var relayCPUSeconds: Double
        var cpuMicrosecondsPerOffer: Double
        var relayRSSKiB: Int
        var joinSeconds: Double
        var loadAverage: Double?
    }

    struct Report: Codable {
        var command: String
        var date: String
        var steps: [Step]
    }

    /// What the participants saw: when each offer carrying a given publisher arrived, per participant.
    final class Arrivals: Sendable {
        let seen = Mutex<[String: [String: UInt64]]>([:])
        let offers = Atomic<Int>(0)

        func record(_ offer: RoomOffer, participant: String) {
            let now = nowNanoseconds()
            offers.wrappingAdd(1, ordering: .relaxed)
            seen.withLock { all in
                for publisher in Set(offer.tracks.map(\.participant)) where all[publisher]?[participant] == nil {
                    all[publisher, default: [:]][participant] = now
                }
            }
        }

        func arrivals(of publisher: String) -> [UInt64] { seen.withLock { Array(($0[publisher] ?? [:]).values) } }
    }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        progress("downlinks: \(counts.map(String.init).joined(separator: ", ")) participants on downlinks watching everyone; "
            + "\(events) publishers come and go per step")
        let binary = RelayProcess.binary(relay)
        progress("downlinks: starting \(binary) serve")
        let server = try RelayProcess(binary: binary, environment: ["GIAOBAN_SERVER_LOG_LEVEL": "warning"])
        defer { server.stop() }
        let authority = TokenAuthority(secret: try server.secret())
        let now = Int64(Date().timeIntervalSince1970)
        let token: @Sendable (Role, String) -> String = { role, subject in
            authority.issue(TokenClaims(sub: subject, role: role, exp: now + 7_200, iat: now))
        }
        let baseURL = server.baseURL
        let meeting = try MixingRelay.createMeeting(server, token: token(.chair, "bench-chair"))
        let context = try DTLSContext(certificate: DTLSCertificate())
        let load = MixLoad()
        load.start()
        defer { load.stop() }
        let arrivals = Arrivals()
        var clients: [RoomClient] = []
        var tasks: [Task<Void, Never>] = []
        defer {
            for c in clients { c.leave() }
            for t in tasks { t.cancel() }
        }
        // The chair publishes silence, so there is something to watch from the start.
        let chair = try await Self.publisher(subject: "bench-chair", role: .chair, baseURL: baseURL, meeting: meeting,
                                             token: token, context: context, load: load, index: 0)
        clients.append(chair)

        var report = Report(command: CommandLine.arguments.joined(separator: " "), date: ISO8601DateFormatter().string(from: Date()), steps: [])
        var joined = 0
        for count in counts {
            let joinStart = nowNanoseconds()
            for (client, task) in try await fewAtATime(joined..<count, { index in
                try await Self.watcher(subject: "d\(index)", baseURL: baseURL, meeting: meeting, token: token(.commune, "d\(index)"),
                                       context: context, load: load, arrivals: arrivals)
            }) {
                clients.append(client)
                tasks.append(task)
            }
            joined = count
            let joinSeconds = Double(nowNanoseconds() - joinStart) / 1e9
            progress("downlinks: \(count) participants on downlinks (\(format(joinSeconds)) s); settling 2 s")
            try await Task.sleep(for: .seconds(2))

            var delays: [Double] = []
            var missing = 0
            let offers0 = arrivals.offers.load(ordering: .relaxed), cpu0 = server.cpuSeconds
            for event in 0..<events {
                let subject = "pub-\(count)-\(event)"
                let started = nowNanoseconds()
                let publisher = try await Self.publisher(subject: subject, role: .commune, baseURL: baseURL, meeting: meeting,
                                                         token: token, context: context, load: nil, index: 1000 + event)
                // Every participant's offer with the new tracks, or 30 s.
                let deadline = ContinuousClock.now + .seconds(30)
                while arrivals.arrivals(of: subject).count < count && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let seen = arrivals.arrivals(of: subject)
                missing += count - seen.count
                delays += seen.map { Double(Int64(bitPattern: $0 &- started)) / 1e6 }
                publisher.leave()
                try await Task.sleep(for: .milliseconds(500))
            }
            let offers = arrivals.offers.load(ordering: .relaxed) - offers0, cpu = server.cpuSeconds - cpu0
            delays.sort()
            func percentile(_ p: Double) -> Double { delays.isEmpty ? 0 : delays[min(delays.count - 1, Int(Double(delays.count) * p))] }
            let step = Step(participants: count, events: events, offerP50Ms: percentile(0.5), offerP99Ms: percentile(0.99),
                            offerMaxMs: delays.last ?? 0, missing: missing, offersSent: offers, relayCPUSeconds: cpu,
                            cpuMicrosecondsPerOffer: offers > 0 ? cpu * 1e6 / Double(offers) : 0, relayRSSKiB: server.residentKiB,
                            joinSeconds: joinSeconds, loadAverage: ProcessStats.loadAverage())
            report.steps.append(step)
            progress("downlinks N=\(count): offer p50 \(format(step.offerP50Ms)) ms, p99 \(format(step.offerP99Ms)) ms, max \(format(step.offerMaxMs)) ms, "
                + "missing \(missing); \(offers) offers, \(format(step.cpuMicrosecondsPerOffer)) µs relay CPU per offer")
        }
        print("")
        print("participants  events  offer p50 ms  p99 ms  max ms  missing  offers  relay µs/offer  RSS MiB  join s")
        for s in report.steps {
            print(String(format: "%12d  %6d  %12.1f  %6.1f  %6.1f  %7d  %6d  %14.0f  %7.1f  %6.1f", s.participants, s.events, s.offerP50Ms,
                         s.offerP99Ms, s.offerMaxMs, s.missing, s.offersSent, s.cpuMicrosecondsPerOffer, Double(s.relayRSSKiB) / 1024, s.joinSeconds))
        }
        print("offer: from the new publisher's publish answer to its tracks' offer at each participant (the relay offers every "
            + "downlink again; each participant answers); relay µs/offer: the relay process's CPU over the events ÷ offers the participants received.")
        if let json { try writeJSON(report, to: json) }
    }

    /// A participant that publishes silent Opus (kept going by `load`; without `load` the
    /// publish connection is made and left idle — enough for the relay to offer its tracks).
    static func publisher(subject: String, role: Role, baseURL: String, meeting: Int64, token: @Sendable (Role, String) -> String,
                          context: DTLSContext, load: MixLoad?, index: Int) async throws -> RoomClient {
        let client = RoomClient(server: baseURL, meeting: meeting, token: token(role, subject), requestTimeout: .seconds(20),
                                logger: Logger(label: "bench.room", factory: { _ in SwiftLogNoOpLogHandler() }))
        client.start()
        let ssrc = 0x5D00_0000 &+ UInt32(index)
        let pending = try PendingConnection(mode: .publish(audioSSRC: ssrc, videoSSRC: ssrc &+ 0x100), context: context)
        let answer = try RelayAnswer(sdp: try await client.publish(offer: pending.sdp).sdp)
        if let load {
            let silence = try MixLoad.encodedSecond(frequency: 300, amplitude: 0)
            let connection = try await pending.connectOnOwnThread(answer: answer) { Handoff($0) }
            load.add(speaker: MixLoad.Speaker(connection: connection.value, ssrc: ssrc, levelExtensionID: answer.audioLevelExtensionID,
                                              packets: silence.packets, levels: silence.levels))
        }
        return client
    }

    /// A participant on its downlink: asks for it, answers every offer (recording when each
    /// arrived), connects on the first.
    static func watcher(subject: String, baseURL: String, meeting: Int64, token: String, context: DTLSContext, load: MixLoad,
                        arrivals: Arrivals) async throws -> (RoomClient, Task<Void, Never>) {
        let client = RoomClient(server: baseURL, meeting: meeting, token: token, requestTimeout: .seconds(20),
                                logger: Logger(label: "bench.room", factory: { _ in SwiftLogNoOpLogHandler() }))
        client.start()
        let pending = Handoff(try PendingConnection(mode: .watch, context: context))
        let (connected, connectedSink) = AsyncStream<Bool>.makeStream()
        let task = Task {
            var isConnected = false
            for await event in client.events {
                guard case .offer(let offer) = event, let parsed = try? DownlinkOffer(sdp: offer.sdp) else { continue }
                arrivals.record(offer, participant: subject)
                let sdp = parsed.answer(ice: pending.value.ice, fingerprint: context.fingerprint, host: "127.0.0.1", port: pending.value.socket.port)
                try? await client.answerDownlink(session: offer.session, revision: offer.revision, sdp: sdp)
                if !isConnected {
                    isConnected = true
                    let connection = try? await pending.value.connectOnOwnThread(answer: parsed.relay) { Handoff($0) }
                    if let connection { load.add(listener: connection.value) }
                    connectedSink.yield(connection != nil)
                }
            }
        }
        try await client.downlink(participants: nil)
        var ok = false
        for await result in connected { ok = result; break }
        guard ok else {
            task.cancel()
            client.leave()
            throw RelayProcess.StartError(description: "\(subject): the downlink did not connect")
        }
        return (client, task)
    }
}
