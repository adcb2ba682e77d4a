import Synchronization

/// The threading shared by the audio mixer and the video compositor: packets come in
/// through a `PacketInbox`; control changes from any thread are queued under a lock and
/// handed to the engine at the start of the next tick; the engine runs one tick at a time
/// behind its own lock; its counters are published at the end of each tick for readers on
/// any thread.
final class TickHost<Engine, Pending: Sendable, Counters: Sendable>: Sendable {
    /// Where the media thread's packets wait for the next tick.
    let inbox: PacketInbox
    private let idle: Pending
    private let pending: Mutex<Pending>
    private let published: Mutex<Counters>
    private let engine: Mutex<Engine>

    /// A host for `engine`; `idle` is the value of "no change queued".
    init(inbox: PacketInbox, engine: consuming sending Engine, idle: Pending, counters: Counters) {
        self.inbox = inbox
        self.idle = idle
        pending = Mutex(idle)
        published = Mutex(counters)
        self.engine = Mutex(engine)
    }

    /// Queues a control change for the next tick.
    func post(_ change: (inout Pending) -> Void) {
        pending.withLock { change(&$0) }
    }

    /// The counters published by the last tick.
    var counters: Counters { published.withLock { $0 } }

    /// Reads something of the engine (waits for a running tick).
    func read<R: Sendable>(_ body: (Engine) -> R) -> R {
        engine.withLock { body($0) }
    }

    /// Runs one tick: `body` gets the engine and the changes queued since the last tick;
    /// `counters` reads what to publish afterwards.
    func tick<Output: Sendable>(_ body: (Engine, Pending) -> Output, counters read: (Engine) -> Counters) -> Output {
        let changes = pending.withLock { p in
            defer { p = idle }
            return p
        }
        let (output, counters) = engine.withLock { e in (body(e, changes), read(e)) }
        published.withLock { $0 = counters }
        return output
    }
}
