import Synchronization

/// Live push to connected WebSocket clients, by channel: a commune's id, or
/// `commandCenterRecipient` for every chair, admin and observer connection. Publishing never
/// waits: each connection has its own buffered mailbox that its socket task drains.
///
/// A mailbox never drops a queued message to make room for a newer one (an incident must not
/// give way to a flood of receipts): when a message finds it full, the mailbox is finished
/// and marked overflowed; its socket is then closed, and the client reconnects and gets
/// everything unconfirmed again from the database.
public final class HubEvents: Sendable {
    private let channels = Mutex<[String: [Int: AsyncStream<String>.Continuation]]>([:])
    private let overflowed = Mutex<Set<Int>>([])
    private let nextID = Atomic<Int>(1)

    /// Creates an empty broker.
    public init() {}

    /// A new connection on `channel`: its id (for `unsubscribe`) and its mailbox. Up to
    /// `buffer` messages wait for a slow client; one more overflows the mailbox (`didOverflow`).
    public func subscribe(channel: String, buffer: Int = 1024) -> (id: Int, messages: AsyncStream<String>) {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingOldest(buffer))
        channels.withLock { $0[channel, default: [:]][id] = continuation }
        return (id, stream)
    }

    /// Removes a connection and finishes its mailbox.
    public func unsubscribe(channel: String, id: Int) {
        let continuation = remove(channel: channel, id: id)
        continuation?.finish()
        overflowed.withLock { _ = $0.remove(id) }
    }

    private func remove(channel: String, id: Int) -> AsyncStream<String>.Continuation? {
        channels.withLock { all -> AsyncStream<String>.Continuation? in
            let c = all[channel]?.removeValue(forKey: id)
            if all[channel]?.isEmpty == true { all.removeValue(forKey: channel) }
            return c
        }
    }

    /// Whether connection `id`'s mailbox overflowed (and was finished).
    public func didOverflow(_ id: Int) -> Bool { overflowed.withLock { $0.contains(id) } }

    /// Queues `text` for every connection on `channel`; returns how many took it. A full
    /// mailbox is finished and marked overflowed instead.
    @discardableResult
    public func publish(_ text: String, to channel: String) -> Int {
        let targets = channels.withLock { Array(($0[channel] ?? [:])) }
        var queued = 0
        for (id, target) in targets {
            switch target.yield(text) {
            case .enqueued: queued += 1
            case .dropped:
                overflowed.withLock { _ = $0.insert(id) }
                remove(channel: channel, id: id)?.finish()
            case .terminated: break
            @unknown default: break
            }
        }
        return queued
    }

    /// Whether anyone is connected on `channel`.
    public func isConnected(_ channel: String) -> Bool { channels.withLock { !($0[channel]?.isEmpty ?? true) } }

    /// Open connections, all channels together.
    public var connectionCount: Int { channels.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
