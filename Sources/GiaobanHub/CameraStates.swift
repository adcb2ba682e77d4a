import Synchronization

/// What each streaming camera is doing now (docs/cameras.md): written by the relay that pulls
/// its RTSP stream, read by the directory routes and /metrics. Per node.
public final class CameraStates: Sendable {
    /// One camera's state.
    public struct Entry: Sendable, Equatable {
        /// "connecting", "online" or "offline".
        public var state: String
        /// Why it is offline (credentials never in it); empty otherwise.
        public var reason: String
        /// RTP packets received from it so far.
        public var packets: Int

        /// Creates an entry.
        public init(state: String, reason: String = "", packets: Int = 0) {
            self.state = state
            self.reason = reason
            self.packets = packets
        }
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let streaming = Mutex<Set<String>>([])

    /// The WHEP path of camera `id`'s live stream, when the directory gives it an `rtsp_url`.
    public func stream(of id: String) -> String? { streaming.withLock { $0.contains(id) } ? "/whep/camera/\(id)" : nil }

    /// The cameras that have a stream now (the relay sets it from the directory).
    public func setStreaming(_ ids: Set<String>) { streaming.withLock { $0 = ids } }

    /// Nobody streams yet.
    public init() {}

    /// Camera `id`'s entry, or nil when it is not pulled.
    public func entry(_ id: String) -> Entry? { entries.withLock { $0[id] } }

    /// Every pulled camera's entry, by id.
    public var all: [String: Entry] { entries.withLock { $0 } }

    /// Sets (nil: removes) camera `id`'s entry.
    public func set(_ id: String, _ entry: Entry?) { entries.withLock { $0[id] = entry } }
}
