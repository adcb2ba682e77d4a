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
        /// Simulcast layers pulled now: one connection to the parent each (1 without simulcast).
        public var layers: Int
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
    let bindAddress: String
    let media: MediaServer
    let context: DTLSContext
    let logger: Logger
    private let trunks = Mutex<[String: Trunk]>([:])

    /// A new peer id for the local publisher a trunk of `stream` feeds: one per trunk, so that a
    /// trunk winding down (its WHEP session being deleted on the parent) cannot remove the
    /// publisher of a newer trunk of the same stream.
    static func peerID(_ stream: String) -> String { "trunk-" + stream + "-" + SecureRandom.hex(4) }

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

    /// Whether `stream` may come over a trunk: WHIP streams, a meeting participant's included
    /// (from the node of the cluster that has it: `Locator` never sends those to a parent
    /// relay); not a camera's or a mix (`camera~<id>`, `m<id>~mix`: their node's own).
    static func pullable(_ stream: String) -> Bool {
        !stream.contains("~")
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
}

/// Closes idle trunks every few seconds while the server runs, and every trunk at shutdown;
/// without a parent (`trunks` nil) it only waits for the shutdown.
public struct RelayTrunksService: Service, CustomStringConvertible {
    let trunks: RelayTrunks?
    let sessions: RelaySessions
    let served: @Sendable (String) -> Bool

    /// The service of `trunks`: a stream is watched while `sessions` has a WHEP watcher of it
    /// or `served` says something else here takes it (a meeting downlink of a room another
    /// node holds).
    public init(trunks: RelayTrunks?, sessions: RelaySessions, served: @escaping @Sendable (String) -> Bool = { _ in false }) {
        self.trunks = trunks
        self.sessions = sessions
        self.served = served
    }

    /// The service's name in logs.
    public var description: String { "RelayTrunksService" }

    /// Sweeps until graceful shutdown, then stops the trunks.
    public func run() async throws {
        let (trunks, sessions, served) = (trunks, sessions, served)
        await repeatUntilShutdown(every: .seconds(2)) { trunks?.closeIdle { sessions.isWatched($0) || served($0) } }
        trunks?.stopAll()
    }
}
