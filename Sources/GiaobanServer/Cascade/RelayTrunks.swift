import Foundation
import GiaobanClient
import GiaobanCrypto
public import GiaobanEngine
import GiaobanRTP
import GiaobanTransport
import GiaobanWire
public import Logging
public import ServiceLifecycle
import Synchronization

/// This relay as a child of a parent relay (`[cascade]`, docs/cascade.md). A WHEP watcher of a
/// stream nobody publishes here makes the relay pull that stream from its parent once: a
/// trunk is a WHEP session of this relay on the parent (DTLS-SRTP like any watcher's,
/// authorized by this relay's key there), whose packets enter the local router as a local
/// publisher of the same stream name, so every local watcher is served from the one copy.
/// Keyframe requests of local watchers go up the trunk as PLI; packets lost on the trunk are
/// asked for again with Generic NACK (the parent answers from its cache). A trunk that breaks
/// (2 s without a packet, or the connection failed) is re-established (0.5 s, then backoff
/// 1 → 10 s) and asks for a keyframe at once, its local watchers kept; one nobody here
/// has watched for `cascade.idle_s` is closed.
public final class RelayTrunks: Sendable {
    /// A trunk's state, for `/metrics` and logs.
    public struct State: Sendable, Equatable {
        /// "connecting", "connected" or "retrying".
        public var state: String
        /// RTP packets received from the parent.
        public var packets: Int
        /// NACKed sequence numbers, keyframe requests sent up, reconnections.
        public var nacked: Int, keyframeRequests: Int, reconnects: Int
        /// The bit rate last asked of the parent (REMB), nil while the watchers here take whatever comes.
        public var estimate: Int?
    }

    /// Where a stream is pulled from: a relay's base URL, the bearer shown there, its CA.
    public struct Source: Sendable, Equatable {
        /// The base URL (`https://province.example:8443`).
        public var url: String
        /// The bearer this relay shows there (an API key or a token).
        public var bearer: String
        /// PEM CA certificates for an https URL (nil: the system's).
        public var caFile: String?

        /// A source.
        public init(url: String, bearer: String, caFile: String?) {
            (self.url, self.bearer, self.caFile) = (url, bearer, caFile)
        }
    }

    /// Finds where `stream` can be pulled from: the parent relay, or the node of the cluster
    /// that has its publisher; nil when nowhere.
    public typealias Locator = @Sendable (_ stream: String) async -> Source?

    private let locate: Locator
    private let idle: Duration
    private let bindAddress: String
    private let media: MediaServer
    private let context: DTLSContext
    private let logger: Logger
    private let trunks = Mutex<[String: Trunk]>([:])

    /// The peer id of the local publisher a trunk feeds.
    static func peerID(_ stream: String) -> String { "trunk-" + stream }

    /// Trunks from wherever `locate` says a stream is, from a media socket on `bindAddress`,
    /// closed after `idle` without a watcher here, fed into `media`.
    public init(locate: @escaping Locator, idle: Duration, bindAddress: String, media: MediaServer, logger: Logger) throws(ConfigError) {
        do {
            context = try DTLSContext(certificate: DTLSCertificate())
        } catch {
            throw ConfigError("cascade: cannot create the trunks' DTLS certificate: \(error)")
        }
        self.locate = locate
        self.idle = idle
        self.bindAddress = bindAddress
        self.media = media
        self.logger = logger
    }

    /// The key in `path`: one word (the parent's `gbk_…` API key, or a token it issued).
    public static func readKey(_ path: String) throws(ConfigError) -> String {
        let text: String
        do { text = try readTextFile(path) } catch {
            throw ConfigError("cascade.key_file: cannot read \(path): \(error)")
        }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !key.isEmpty, !key.contains(where: \.isWhitespace) else {
            throw ConfigError("cascade.key_file: \(path) must hold one key (the parent's gbk_… API key), nothing else")
        }
        return key
    }

    /// Whether `stream` may come from the parent: plain WHIP streams only (a meeting's streams
    /// and the cameras' are the meeting's and the camera's node's).
    static func pullable(_ stream: String) -> Bool {
        RelaySessions.roomMeeting(stream) == nil && !stream.contains("~")  // camera~<id>, m<id>~mix
    }

    /// Makes sure `stream` is coming from the parent: starts its trunk if there is none and
    /// waits (at most `timeout`) until the parent answered and the local publisher is declared.
    /// False when the parent has no such stream or cannot be reached in time.
    public func pull(_ stream: String, timeout: Duration = .seconds(10)) async -> Bool {
        guard Self.pullable(stream) else { return false }
        var trunk = trunks.withLock { all in all[stream].flatMap { $0.isStopped ? nil : $0 } }
        if trunk == nil {
            guard let source = await locate(stream) else { return false }
            trunk = trunks.withLock { all -> Trunk in
                if let running = all[stream], !running.isStopped { return running }
                let trunk = Trunk(stream: stream, source: source, owner: self)
                all[stream] = trunk
                trunk.start()
                return trunk
            }
        }
        guard let trunk else { return false }
        trunk.watched()
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            switch trunk.readiness {
            case .ready: return true
            case .refused:
                trunks.withLock { all in if all[stream] === trunk { all[stream] = nil } }
                trunk.stop()
                return false
            case .waiting: try? await Task.sleep(for: .milliseconds(20))
            }
        }
        return trunk.readiness == .ready
    }

    /// Where `stream` is now, asked from a trunk's own thread (which it blocks, at most 5 s).
    func locateNow(_ stream: String) -> Source? {
        let found = Mutex<Source?>(nil)
        let done = DispatchSemaphore(value: 0)
        let locate = self.locate
        Task {
            let source = await locate(stream)
            found.withLock { $0 = source }
            done.signal()
        }
        return done.wait(timeout: .now() + 5) == .success ? found.withLock { $0 } : nil
    }

    /// Closes trunks whose streams nobody here has watched for `cascade.idle_s`; `watched`
    /// tells whether a stream has local watchers now.
    public func closeIdle(watched: (String) -> Bool) {
        let now = ContinuousClock.now
        let closing = trunks.withLock { all -> [Trunk] in
            var closing: [Trunk] = []
            for (stream, trunk) in all {
                if watched(stream) { trunk.watched(); continue }
                if now - trunk.lastWatched >= idle {
                    closing.append(trunk)
                    all[stream] = nil
                }
            }
            return closing
        }
        for trunk in closing {
            trunk.stop()
            logger.notice("trunk closed: nobody here watches the stream", metadata: ["stream": "\(trunk.stream)", "from": "\(trunk.source.url)"])
        }
    }

    /// Every trunk's state by stream.
    public var states: [String: State] { trunks.withLock { $0.mapValues(\.state) } }

    /// Stops every trunk (the server is stopping).
    public func stopAll() {
        let all = trunks.withLock { all -> [Trunk] in
            defer { all = [:] }
            return Array(all.values)
        }
        for trunk in all { trunk.stop() }
    }

    /// One stream pulled from the parent, on its own thread.
    final class Trunk: Sendable {
        enum Readiness: Equatable { case waiting, ready, refused }

        let stream: String
        /// Where the stream comes from now (looked up again before each reconnection: the
        /// publisher may have moved to another node, and a signed bearer is renewed).
        private let current: Mutex<Source>
        var source: Source { current.withLock { $0 } }
        private unowned let owner: RelayTrunks
        private let control = Mutex(Control())

        private struct Control {
            var stopped = false
            var readiness = Readiness.waiting
            var lastWatched = ContinuousClock.now
            var keyframeWanted = false
            var state = State(state: "connecting", packets: 0, nacked: 0, keyframeRequests: 0, reconnects: 0)
        }

        init(stream: String, source: Source, owner: RelayTrunks) {
            self.stream = stream
            current = Mutex(source)
            self.owner = owner
        }

        var isStopped: Bool { control.withLock { $0.stopped } }
        var readiness: Readiness { control.withLock { $0.readiness } }
        var lastWatched: ContinuousClock.Instant { control.withLock { $0.lastWatched } }
        var state: State { control.withLock { $0.state } }
        func watched() { control.withLock { $0.lastWatched = .now } }
        func stop() { control.withLock { $0.stopped = true } }
        /// A local watcher needs a keyframe: the trunk's thread sends a PLI up.
        func wantKeyframe() { control.withLock { $0.keyframeWanted = true } }

        func start() {
            let thread = Thread { [self] in
                ThreadName.set("trunk")
                run()
            }
            thread.name = "trunk"
            thread.start()
        }

        /// Connects, relays, and reconnects until stopped.
        private func run() {
            let peer = RelayTrunks.peerID(stream)
            var backoff = Duration.seconds(1)
            var everConnected = false
            var attempts = 0
            while !isStopped {
                attempts += 1
                if attempts > 1, let found = owner.locateNow(stream) { current.withLock { $0 = found } }
                let source = self.source
                do throws(ClientError) {
                    let whip = try WHIPClient(baseURL: source.url, token: source.bearer, caFile: source.caFile)
                    let (connection, session) = try ClientConnection.join(whip, stream: stream, mode: .watch, context: owner.context,
                                                                          host: owner.bindAddress)
                    defer {
                        connection.close()
                        try? whip.end(session)
                    }
                    owner.media.enqueue(.addPeer(Self.setup(peer: peer, stream: stream, answer: session.answer)))
                    owner.media.enqueue(.setUpstream(stream: stream, keyframeRequested: { [weak self] in self?.wantKeyframe() }))
                    control.withLock { c in
                        c.readiness = .ready
                        c.state.state = "connected"
                        if everConnected { c.state.reconnects += 1 }
                        c.keyframeWanted = true  // a fresh trunk (or one back after a break) starts at a keyframe
                    }
                    owner.logger.notice(everConnected ? "trunk re-established" : "trunk connected", metadata: [
                        "stream": "\(stream)", "from": "\(source.url)", "path": "\(connection.pathDescription)"])
                    everConnected = true
                    backoff = .seconds(1)
                    relay(connection, answer: session.answer, peer: peer)
                    control.withLock { $0.state.state = "retrying" }
                    backoff = .milliseconds(500)  // first retry soon after a break
                    if !isStopped {
                        owner.logger.warning("trunk broken: reconnecting", metadata: [
                            "stream": "\(stream)", "reason": "\(connection.peer.failure.map { "\($0)" } ?? "the parent stopped sending")"])
                    }
                } catch {
                    // The parent's 404: nobody publishes the stream there (WHIPClient: "POST …: 404 …").
                    let refused = error.reason == .rejected && error.message.contains(": 404 ")
                    control.withLock { c in
                        if !everConnected && refused { c.readiness = .refused }
                        c.state.state = "retrying"
                    }
                    if !everConnected && refused {
                        owner.logger.info("the parent has no such stream", metadata: ["stream": "\(stream)", "from": "\(source.url)"])
                        break
                    }
                    owner.logger.warning("trunk cannot connect", metadata: [
                        "stream": "\(stream)", "from": "\(source.url)", "error": "\(error)", "retry_in": "\(backoff)"])
                }
                let until = ContinuousClock.now + backoff
                while !isStopped && ContinuousClock.now < until { Thread.sleep(forTimeInterval: 0.05) }
                backoff = min(max(backoff * 2, .seconds(1)), .seconds(10))
            }
            owner.media.enqueue(.removePeer(id: peer, reason: "the trunk from the parent closed"))
            control.withLock { $0.stopped = true }
        }

        /// Hands the parent's packets to the local publisher until the connection fails, the
        /// parent goes quiet for 2 s (a live stream never does), or the trunk is stopped.
        private func relay(_ connection: ClientConnection, answer: RelayAnswer, peer: String) {
            var nacks = NACKScheduler()
            var lastPLI: ContinuousClock.Instant?
            var lastPacket = ContinuousClock.now
            var batch: [[UInt8]] = []
            var reports: [[UInt8]] = []
            var scratch = [UInt8](repeating: 0, count: 1500)
            let senderSSRC = UInt32.random(in: 1...UInt32.max)
            let videoSSRC = answer.video?.ssrc ?? 0
            let media = owner.media
            var nextEstimate = ContinuousClock.now + .milliseconds(500)
            let needed = Mutex<Int?>(nil)
            /// Builds an RTCP message and sends it up to the parent; whether it went.
            func sendUp(_ build: (UnsafeMutableRawBufferPointer) throws(WireError) -> Int) -> Bool {
                scratch.withUnsafeMutableBytes { connection.sendRTCP(scratch: $0, build) } > 0
            }
            while !isStopped && connection.peer.state == .connected {
                let now = ContinuousClock.now
                connection.poll(timeoutMilliseconds: 20) { incoming, datagram in
                    if case .rtcp(let length) = incoming {
                        // The parent's sender reports: the child's watchers get the same NTP↔RTP pairs.
                        reports.append(Array(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(datagram)[0..<length])))
                        return
                    }
                    guard case .rtp(let length) = incoming else { return }
                    let bytes = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(datagram)[0..<length])
                    batch.append(Array(bytes))
                    if videoSSRC != 0, let packet = try? RTPPacketView(bytes), packet.ssrc == videoSSRC {
                        _ = nacks.received(packet.sequenceNumber, now: now)
                    }
                }
                connection.handleTimers()
                if !batch.isEmpty {
                    lastPacket = now
                    let (packets, compounds) = (batch, reports)
                    batch.removeAll(keepingCapacity: true)
                    reports.removeAll(keepingCapacity: true)
                    control.withLock { $0.state.packets += packets.count }
                    media.post { router, now, out in
                        for packet in packets { packet.withUnsafeBytes { router.injectRTP($0, peer: peer, now: now, out: out) } }
                        for compound in compounds { compound.withUnsafeBytes { router.injectRTCP($0, peer: peer, now: now, out: out) } }
                    }
                } else if now - lastPacket > .seconds(2) {
                    return
                }
                var lost: [UInt16] = []
                let givenUp = nacks.due(now: now, roundTrip: connection.peer.roundTripTime) { lost.append($0) }
                if !lost.isEmpty {
                    let nack = GenericNACKBuilder(senderSSRC: senderSSRC, mediaSSRC: videoSSRC, lost: lost)
                    if sendUp({ out throws(WireError) in try nack.marshal(into: out) }) { control.withLock { $0.state.nacked += lost.count } }
                }
                // Simulcast is pulled only as far as a watcher here needs: the parent gets a REMB
                // of the highest estimate among the local watchers (none while one has none).
                if videoSSRC != 0, now >= nextEstimate {
                    nextEstimate = now + .milliseconds(500)
                    let stream = stream
                    media.post { router, _, _ in needed.withLock { $0 = router.watchersBitrate(stream: stream) } }
                    let cap = needed.withLock { $0 }
                    let asked = control.withLock { $0.state.estimate }
                    // Once no cap is wanted any more, one REMB far above any layer lifts the last one.
                    if cap != nil || asked != nil {
                        let remb = ReceiverEstimatedMaxBitrateBuilder(senderSSRC: senderSSRC, bitrate: UInt64(cap ?? 1_000_000_000),
                                                                      ssrcs: [videoSSRC])
                        if sendUp({ out throws(WireError) in try remb.marshal(into: out) }) { control.withLock { $0.state.estimate = cap } }
                    }
                }
                let wanted = control.withLock { c -> Bool in
                    defer { c.keyframeWanted = false }
                    return c.keyframeWanted || givenUp > 0
                }
                if wanted, videoSSRC != 0, lastPLI.map({ now - $0 >= .milliseconds(300) }) ?? true {
                    lastPLI = now
                    let pli = PictureLossIndication(senderSSRC: senderSSRC, mediaSSRC: videoSSRC)
                    if sendUp({ out throws(WireError) in try pli.marshal(into: out) }) { control.withLock { $0.state.keyframeRequests += 1 } }
                } else if wanted {
                    control.withLock { $0.keyframeWanted = true }  // asked again once the interval has passed
                }
            }
        }

        /// The local publisher a trunk feeds: the tracks the parent's answer announced.
        static func setup(peer: String, stream: String, answer: RelayAnswer) -> PeerSetup {
            var setup = PeerSetup.localPublisher(
                id: peer, stream: stream,
                audio: answer.audio.map { PeerSetup.Track(kind: .audio, payloadType: $0.payloadType, codec: $0.codec, clockRate: 48_000, ssrc: 0) },
                video: answer.video.map {
                    PeerSetup.Track(kind: .video, payloadType: $0.payloadType, codec: $0.codec.uppercased(), clockRate: 90_000, ssrc: 0)
                })
            setup.audioLevelExtensionID = answer.audioLevelExtensionID
            return setup
        }
    }
}

/// Closes idle trunks every few seconds while the server runs, and every trunk at shutdown;
/// without a parent (`trunks` nil) it only waits for the shutdown.
public struct RelayTrunksService: Service, CustomStringConvertible {
    let trunks: RelayTrunks?
    let sessions: RelaySessions

    /// The service of `trunks`, asking `sessions` which streams have watchers.
    public init(trunks: RelayTrunks?, sessions: RelaySessions) {
        self.trunks = trunks
        self.sessions = sessions
    }

    /// The service's name in logs.
    public var description: String { "RelayTrunksService" }

    /// Sweeps until graceful shutdown, then stops the trunks.
    public func run() async throws {
        let (trunks, sessions) = (trunks, sessions)
        await repeatUntilShutdown(every: .seconds(2)) { trunks?.closeIdle(watched: sessions.isWatched) }
        trunks?.stopAll()
    }
}
