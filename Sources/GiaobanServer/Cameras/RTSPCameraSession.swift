import Foundation
import GiaobanTransport
public import GiaobanWire
public import Logging
import Synchronization

/// Pulls the H.264 video of one RTSP camera (RFC 2326): OPTIONS, DESCRIBE (answering Digest
/// or Basic challenges), SETUP of the H.264 track over TCP interleaved or UDP, PLAY, keep-alive
/// at half the session timeout, TEARDOWN on `stop`. Each RTP packet of the track goes to
/// `onPacket`; the state goes to `onState`. After any failure it reconnects with
/// `CameraBackoff` (1 s doubling to 30 s).
///
/// Why POSIX sockets on a thread of its own rather than SwiftNIO: a camera session is one
/// long-lived TCP stream (and two UDP sockets) read in a simple request-then-stream order, and
/// every packet goes on to the media thread anyway. Blocking calls bounded by `poll` keep
/// that order as straight-line code that is easy to bound in time, and a camera that misbehaves
/// (garbage, a stall, a flood) occupies only its own thread, never an event loop the HTTP
/// control plane or other cameras share. A relay pulls tens of cameras, not thousands.
///
/// Credentials come from the caller (or the URL) and are never logged: logs and states name
/// the URL without them.
public final class RTSPCameraSession: Sendable {
    /// What the camera is doing, as reported to `onState`.
    public enum State: Sendable, Equatable {
        /// Connecting or negotiating.
        case connecting
        /// PLAY was answered; RTP is expected.
        case online
        /// The last attempt failed (the reason); a retry follows after the backoff.
        case offline(String)
    }

    /// How RTP reaches the relay.
    public enum Transport: Sendable, Equatable {
        /// Interleaved on the RTSP connection (`RTP/AVP/TCP;interleaved=0-1`).
        case tcpInterleaved
        /// Over UDP to two local ports (`RTP/AVP;client_port=a-b`).
        case udp
    }

    /// What a session needs to know.
    public struct Configuration: Sendable {
        /// The camera's `rtsp://` URL (credentials in it are used and never logged).
        public var url: String
        /// The user name and password, from the camera's secret file; these win over the URL's.
        public var username: String?
        /// See `username`.
        public var password: String?
        /// TCP interleaved (default) or UDP.
        public var transport: Transport
        /// The bound of every connect, send and wait for a response.
        public var timeout: Duration
        /// The longest time without an RTP packet while online before the session reconnects.
        public var mediaTimeout: Duration
        /// The reconnection backoff.
        public var backoff: CameraBackoff

        /// Creates a configuration.
        public init(
            url: String, username: String? = nil, password: String? = nil, transport: Transport = .tcpInterleaved,
            timeout: Duration = .seconds(5), mediaTimeout: Duration = .seconds(10), backoff: CameraBackoff = CameraBackoff()
        ) {
            self.url = url
            self.username = username
            self.password = password
            self.transport = transport
            self.timeout = timeout
            self.mediaTimeout = mediaTimeout
            self.backoff = backoff
        }
    }

    /// The configuration.
    public let configuration: Configuration
    /// The URL without credentials, for logs (nil text when the URL does not parse).
    public let redactedURL: String
    let logger: Logger
    let onState: @Sendable (State) -> Void
    let onPacket: @Sendable (UnsafeRawBufferPointer) -> Void
    let onTrack: @Sendable (RTSPVideoTrack) -> Void
    /// RTP packets of the track handed to `onPacket` since `start`, for metrics.
    public var packetsReceived: Int { packetCounter.load(ordering: .relaxed) }
    let packetCounter = Atomic<Int>(0)
    /// Set by `stop`; the thread checks it at least every 200 ms.
    let stopping = Atomic<Bool>(false)
    /// Signalled by the thread when it has ended.
    private let ended = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)

    /// Creates a session; nothing happens before `start`. `onState` and `onTrack` are called
    /// on the session's thread; `onPacket` is called there for each RTP packet of the H.264
    /// track with bytes valid only during the call (copy what is kept).
    public init(
        configuration: Configuration, logger: Logger, onState: @escaping @Sendable (State) -> Void,
        onTrack: @escaping @Sendable (RTSPVideoTrack) -> Void = { _ in },
        onPacket: @escaping @Sendable (UnsafeRawBufferPointer) -> Void
    ) {
        self.configuration = configuration
        redactedURL = (try? RTSPURL(parsing: configuration.url).string) ?? "(invalid rtsp URL)"
        self.logger = logger
        self.onState = onState
        self.onTrack = onTrack
        self.onPacket = onPacket
    }

    /// Starts the session's thread (once; later calls do nothing).
    public func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            ThreadName.set("camera")
            run()
            ended.signal()
        }
        thread.name = "camera"
        thread.start()
    }

    /// Stops the session: TEARDOWN when playing, close, and wait (at most `timeout` plus a
    /// second) for the thread to end. Returns false when it did not end in time.
    @discardableResult
    public func stop() -> Bool {
        stopping.store(true, ordering: .releasing)
        guard started.load(ordering: .acquiring) else { return true }
        let seconds = Double(configuration.timeout.components.seconds) + 1
        return ended.wait(timeout: .now() + seconds) == .success
    }

    /// True once `stop` was called.
    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// The connect-play-stream loop with backoff, until `stop`.
    private func run() {
        var backoff = configuration.backoff
        while !isStopping {
            onState(.connecting)
            var wasOnline = false
            let reason: String
            do {
                try playOnce { wasOnline = true }
                reason = "stopped"
            } catch {
                reason = error.description
            }
            if isStopping { break }
            if wasOnline { backoff.reset() }
            let wait = backoff.next()
            logger.warning("camera offline", metadata: ["url": "\(redactedURL)", "reason": "\(reason)", "retry_in": "\(wait)"])
            onState(.offline(reason))
            let until = ContinuousClock.now + wait
            while !isStopping && ContinuousClock.now < until { Thread.sleep(forTimeInterval: 0.1) }
        }
    }
}
