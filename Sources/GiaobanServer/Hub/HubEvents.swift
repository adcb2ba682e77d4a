import Synchronization

/// Live push to connected WebSocket clients, by channel: a commune's id, or
/// `commandCenterRecipient` for every chair, admin and observer connection. Publishing never
/// waits: each connection has its own buffered mailbox that its socket task drains.
public final class HubEvents: Sendable {
    private let channels = Mutex<[String: [Int: AsyncStream<String>.Continuation]]>([:])
    private let nextID = Atomic<Int>(1)

    /// Creates an empty broker.
    public init() {}

    /// A new connection on `channel`: its id (for `unsubscribe`) and its mailbox. Up to
    /// `buffer` messages wait for a slow client; beyond that the oldest are dropped, and the
    /// client recovers them at its next reconnect (everything unconfirmed is re-sent).
    public func subscribe(channel: String, buffer: Int = 1024) -> (id: Int, messages: AsyncStream<String>) {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        channels.withLock { $0[channel, default: [:]][id] = continuation }
        return (id, stream)
    }

    /// Removes a connection and finishes its mailbox.
    public func unsubscribe(channel: String, id: Int) {
        let continuation = channels.withLock { all -> AsyncStream<String>.Continuation? in
            let c = all[channel]?.removeValue(forKey: id)
            if all[channel]?.isEmpty == true { all.removeValue(forKey: channel) }
            return c
        }
        continuation?.finish()
    }

    /// Queues `text` for every connection on `channel`; returns how many there were.
    @discardableResult
    public func publish(_ text: String, to channel: String) -> Int {
        let targets = channels.withLock { Array(($0[channel] ?? [:]).values) }
        for target in targets { target.yield(text) }
        return targets.count
    }

    /// Whether anyone is connected on `channel`.
    public func isConnected(_ channel: String) -> Bool { channels.withLock { !($0[channel]?.isEmpty ?? true) } }

    /// Open connections, all channels together.
    public var connectionCount: Int { channels.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
