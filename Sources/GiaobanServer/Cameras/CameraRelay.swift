import Foundation
public import GiaobanEngine
public import GiaobanHub
import GiaobanCrypto
import GiaobanICE
import GiaobanStore
import GiaobanWire
public import Logging
public import ServiceLifecycle
import Synchronization

/// Serves the directory's cameras that have an `rtsp_url` as relay streams (docs/cameras.md):
/// one `RTSPCameraSession` per camera pulls its H.264 (no transcoding) and hands each RTP packet
/// to the media thread as a local publisher of the stream `camera~<id>`, which WHEP watchers
/// (`/whep/camera/<id>`) and meeting rooms receive like any other. The camera's state goes to
/// `Hub.cameraStates` (the directory routes, /metrics). The directory is read every
/// `cameras.check_s`: cameras added, changed or removed are started, restarted or stopped.
public final class CameraRelay: Sendable {
    /// One camera being pulled.
    final class Running: Sendable {
        let url: String
        let session: RTSPCameraSession
        let injector: Mutex<H264ParameterSets?>
        let pending = Mutex<[[UInt8]]>([])
        /// The track its last DESCRIBE announced (nil before the first).
        let track = Mutex<RTSPVideoTrack?>(nil)
        /// Meeting-room streams fed with the camera too (stream → local publisher peer).
        let feeds = Mutex<[String: String]>([:])
        /// Malformed H.264 packets dropped, and when the last warning was logged.
        let malformed = Mutex<(count: Int, logged: ContinuousClock.Instant?)>((0, nil))

        /// Counts a dropped malformed packet: the camera's state names it, the log says so at
        /// most every 10 s (with the count), the stream goes on.
        func reportMalformed(_ problem: String, camera id: String, states: CameraStates, logger: Logger) {
            let now = ContinuousClock.now
            let (count, log) = malformed.withLock { m -> (Int, Bool) in
                m.count += 1
                let log = m.logged.map { now - $0 >= .seconds(10) } ?? true
                if log { m.logged = now }
                return (m.count, log)
            }
            if var entry = states.entry(id) {
                entry.reason = "\(count) malformed H.264 packets dropped; the last: \(problem)"
                states.set(id, entry)
            }
            if log {
                logger.warning("camera sends malformed H.264; packets dropped", metadata: [
                    "camera": "\(id)", "dropped": "\(count)", "problem": "\(problem)"])
            }
        }

        init(url: String, session: RTSPCameraSession) {
            self.url = url
            self.session = session
            injector = Mutex(nil)
        }
    }

    let media: MediaServer
    let hub: Hub
    let settings: GiaobanConfig.Cameras
    let logger: Logger
    private let running = Mutex<[String: Running]>([:])

    /// A relay of `hub`'s directory cameras into `media`, under `settings`.
    public init(media: MediaServer, hub: Hub, settings: GiaobanConfig.Cameras, logger: Logger) {
        self.media = media
        self.hub = hub
        self.settings = settings
        self.logger = logger
    }

    /// The relay stream of camera `id`; `~` cannot appear in a stream a client names.
    public static func stream(_ id: String) -> String { "camera~\(id)" }

    /// The local publisher's peer id of camera `id`.
    static func peerID(_ id: String) -> String { "camera-\(id)" }

    /// The cameras pulled now.
    var cameraIDs: [String] { running.withLock { Array($0.keys).sorted() } }

    /// Starts the cameras of the directory that are not pulled yet, restarts those whose URL
    /// changed, stops those no longer there (or without a URL).
    public func reconcile() async {
        let cameras: [CameraRecord]
        do { cameras = try await hub.directory.cameras() } catch {
            logger.error("cannot read the directory's cameras; the cameras keep running as they are", metadata: ["error": "\(error)"])
            return
        }
        let wanted = Dictionary(uniqueKeysWithValues: cameras.compactMap { c in c.rtspURL.map { (c.id, $0) } })
        hub.cameraStates.setStreaming(Set(wanted.keys))
        let secrets: [String: CameraSecret]
        do { secrets = try CameraSecret.load(settings.secretsFile) } catch {
            logger.error("cannot read cameras.secrets_file; cameras without credentials only", metadata: ["error": "\(error.message)"])
            return
        }
        let (stopping, starting) = running.withLock { all -> ([(String, Running)], [(String, String)]) in
            var stop: [(String, Running)] = [], start: [(String, String)] = []
            for (id, camera) in all where wanted[id] != camera.url {
                stop.append((id, camera))
                all[id] = nil
            }
            for (id, url) in wanted.sorted(by: { $0.key < $1.key }) where all[id] == nil { start.append((id, url)) }
            return (stop, start)
        }
        for (id, camera) in stopping {
            await stop(camera)
            if wanted[id] == nil {
                hub.cameraStates.set(id, nil)
                media.enqueue(.removePeer(id: Self.peerID(id), reason: "the camera left the directory"))
                logger.notice("camera stream stopped: no longer in the directory", metadata: ["camera": "\(id)"])
            }
        }
        for (id, url) in starting { start(id: id, url: url, secret: secrets[id]) }
    }

    /// Feeds camera `id` into the meeting-room stream `stream` too (`on`), as one more local
    /// publisher, or stops; false when the camera is not pulled (no `rtsp_url`).
    @discardableResult
    public func feed(camera id: String, stream: String, on: Bool) -> Bool {
        guard let camera = running.withLock({ $0[id] }) else { return false }
        let peer = Self.peerID(id) + "@" + stream
        if on {
            camera.feeds.withLock { $0[stream] = peer }
            if let track = camera.track.withLock({ $0 }) { media.enqueue(.addPeer(Self.setup(peer: peer, stream: stream, track: track))) }
        } else {
            camera.feeds.withLock { _ = $0.removeValue(forKey: stream) }
            media.enqueue(.removePeer(id: peer, reason: "the camera left the meeting"))
        }
        return true
    }

    /// Whether camera `id` is pulled (it has an `rtsp_url` in the directory).
    public func streams(camera id: String) -> Bool { running.withLock { $0[id] != nil } }

    /// Stops every camera (the server is stopping).
    public func stopAll() async {
        let all = running.withLock { all -> [String: Running] in
            defer { all = [:] }
            return all
        }
        for (id, camera) in all {
            await stop(camera)
            hub.cameraStates.set(id, nil)
        }
    }

    private func stop(_ camera: Running) async {
        await Task.detached { camera.session.stop() }.value
    }

    private func start(id: String, url: String, secret: CameraSecret?) {
        var configuration = RTSPCameraSession.Configuration(url: url, username: secret?.username, password: secret?.password,
                                                            transport: settings.transport == "udp" ? .udp : .tcpInterleaved)
        configuration.timeout = .seconds(5)
        let media = media, states = hub.cameraStates, logger = logger
        let peer = Self.peerID(id), stream = Self.stream(id)
        let slot = Mutex<Running?>(nil)
        let session = RTSPCameraSession(configuration: configuration, logger: logger, onState: { state in
            let packets = slot.withLock { $0?.session.packetsReceived } ?? 0
            switch state {
            case .connecting: states.set(id, .init(state: "connecting", packets: packets))
            case .online:
                states.set(id, .init(state: "online", packets: packets))
                logger.notice("camera online", metadata: ["camera": "\(id)"])
            case .offline(let reason):
                states.set(id, .init(state: "offline", reason: reason, packets: packets))
                logger.warning("camera offline", metadata: ["camera": "\(id)", "reason": "\(reason)"])
            }
        }, onTrack: { track in
            // A new connection: the stream's publishers are (re)declared; watchers continue without a gap.
            guard let camera = slot.withLock({ $0 }) else { return }
            camera.injector.withLock { $0 = H264ParameterSets(spropParameterSets: track.parameterSets) }
            camera.track.withLock { $0 = track }
            media.enqueue(.addPeer(Self.setup(peer: peer, stream: stream, track: track)))
            for (room, feed) in camera.feeds.withLock({ $0 }) { media.enqueue(.addPeer(Self.setup(peer: feed, stream: room, track: track))) }
        }, onPacket: { bytes in
            guard let camera = slot.withLock({ $0 }) else { return }
            let (packets, malformed, problem) = camera.injector.withLock { injector -> ([[UInt8]], Int, String?) in
                guard var current = injector else { return ([Array(bytes)], 0, nil) }
                defer { injector = current }
                let before = current.malformed
                let out = current.process(Array(bytes))
                return (out, current.malformed - before, current.lastProblem)
            }
            if malformed > 0, let problem { camera.reportMalformed(problem, camera: id, states: states, logger: logger) }
            // One hand-over to the media thread per picture (at the marker) or per 32 packets.
            let marker = bytes.count > 1 && bytes[1] & 0x80 != 0
            let batch = camera.pending.withLock { pending -> [[UInt8]]? in
                pending += packets
                guard marker || pending.count >= 32 else { return nil }
                defer { pending = [] }
                return pending
            }
            guard let batch else { return }
            let targets = [peer] + camera.feeds.withLock { Array($0.values) }
            media.post { router, now, out in
                for target in targets {
                    for packet in batch { packet.withUnsafeBytes { router.injectRTP($0, peer: target, now: now, out: out) } }
                }
            }
        })
        let camera = Running(url: url, session: session)
        slot.withLock { $0 = camera }
        running.withLock { $0[id] = camera }
        states.set(id, .init(state: "connecting"))
        logger.info("camera stream starting", metadata: ["camera": "\(id)", "url": "\(session.redactedURL)",
                                                         "transport": "\(settings.transport)", "credentials": "\(secret == nil ? "none" : "set")"])
        session.start()
    }

    /// The local publisher of a camera's stream: its H.264 track as the DESCRIBE announced it.
    static func setup(peer: String, stream: String, track: RTSPVideoTrack) -> PeerSetup {
        PeerSetup.localPublisher(id: peer, stream: stream, audio: nil,
                                 video: PeerSetup.Track(kind: .video, payloadType: track.payloadType, codec: "H264", clockRate: track.clockRate,
                                                        ssrc: 0, profileLevelID: track.profileLevelID ?? "42e01f"))
    }
}


/// A camera's credentials from `cameras.secrets_file` (never logged).
struct CameraSecret: Sendable, Decodable {
    let username: String
    let password: String

    /// The file's credentials by camera id; an empty path gives none.
    static func load(_ path: String) throws(ConfigError) -> [String: CameraSecret] {
        guard !path.isEmpty else { return [:] }
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError("cameras.secrets_file: cannot read \(path)") }
        do { return try JSONDecoder().decode([String: CameraSecret].self, from: data) } catch {
            throw ConfigError("cameras.secrets_file: \(path) is not {\"<camera id>\": {\"username\": …, \"password\": …}}")
        }
    }
}

/// Pulls the cameras while the server runs: reads the directory at start and every
/// `cameras.check_s`, stops every camera at shutdown.
public struct CameraRelayService: Service, CustomStringConvertible {
    let relay: CameraRelay
    let interval: Duration

    /// The service of `relay`, reading the directory every `interval`.
    public init(relay: CameraRelay, interval: Duration) {
        self.relay = relay
        self.interval = interval
    }

    /// The service's name in logs.
    public var description: String { "CameraRelayService" }

    /// Reconciles until graceful shutdown, then stops the cameras.
    public func run() async throws {
        let relay = relay
        await repeatUntilShutdown(every: interval) { await relay.reconcile() }
        await relay.stopAll()
    }
}
