import Foundation
import Synchronization

/// What one watched participant's media gave so far, over every connection opened to it.
public struct WatchedCounts: Sendable, Equatable, Codable {
    /// Video frames decoded into pictures.
    public var framesDecoded = 0
    /// Audio RTP packets received.
    public var audioPackets = 0
    /// Audio frames decoded.
    public var audioFrames = 0
    /// RTP packets received, audio and video.
    public var packetsReceived = 0
    /// The last picture size.
    public var width = 0
    /// The last picture size.
    public var height = 0
    /// Connections opened to this participant's stream.
    public var connections = 0
    /// A connection is open now.
    public var watching = false

    /// Counts zero.
    public init() {}
}

/// The media of one room endpoint, as its thread last published it.
public struct RoomMediaSnapshot: Sendable, Equatable {
    /// The publisher's counts, once publishing.
    public var publisher: EndpointPublisher.Stats?
    /// Why publishing stopped (the connection ended, the encoder failed), if it did.
    public var publisherEnded: String?
    /// Publishers handed to the thread so far.
    public var publishers = 0
    /// Per watched participant.
    public var watched: [String: WatchedCounts] = [:]
}

/// The endpoint's media thread: it owns the publisher and the watchers and steps them in
/// turn (the publisher waits for its next frame, the watchers read what arrived), so one
/// endpoint costs one thread however many participants it watches. Others talk to it only
/// through the command mailbox and read the snapshot it refreshes every 100 ms.
final class RoomMediaLoop: @unchecked Sendable {
    // @unchecked: `publisher` and `watchers` are touched only by the loop's thread once
    // `start()` ran; everyone else goes through the Mutex-protected mailbox and snapshot.
    enum Command {
        case publish(EndpointPublisher)
        case watch(String, EndpointWatcher)
        case unwatch(String)
    }

    private let mailbox = Mutex<[Handoff<Command>]>([])
    private let published = Mutex(RoomMediaSnapshot())
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    private var publisher: EndpointPublisher?
    private var watchers: [String: EndpointWatcher] = [:]
    private var snapshot = RoomMediaSnapshot()
    private var retired: [String: WatchedCounts] = [:]

    /// The last published snapshot.
    var current: RoomMediaSnapshot { published.withLock { $0 } }

    /// Starts the thread.
    func start(name: String) {
        let thread = Thread { [self] in
            run()
            finished.store(true, ordering: .releasing)
        }
        thread.name = name
        thread.start()
    }

    /// Hands a command to the thread; it runs before the next step.
    func post(_ command: Command) {
        mailbox.withLock { $0.append(Handoff(command)) }
    }

    /// Stops the thread (closing every connection) and waits for it, at most 3 s.
    func stop() async {
        running.store(false, ordering: .relaxed)
        for _ in 0..<300 where !finished.load(ordering: .acquiring) { try? await Task.sleep(for: .milliseconds(10)) }
    }

    private func run() {
        var nextSnapshot = ContinuousClock.now
        while running.load(ordering: .relaxed) {
            for command in mailbox.withLock({ list -> [Handoff<Command>] in defer { list.removeAll() }; return list }) {
                apply(command.value)
            }
            var waited = false
            if let publisher {
                if publisher.connection.peer.state == .connected {
                    do { try publisher.step(maxWaitMilliseconds: 5) } catch { snapshot.publisherEnded = "encoding failed: \(error)" }
                    waited = true
                } else if snapshot.publisherEnded == nil {
                    snapshot.publisherEnded = publisher.connection.peer.failure.map { "\($0)" } ?? "connection closed"
                }
            }
            for watcher in watchers.values where watcher.connection.peer.state == .connected {
                watcher.step(maxWaitMilliseconds: waited ? 0 : 5)
                waited = true
            }
            if !waited { Thread.sleep(forTimeInterval: 0.005) }
            let now = ContinuousClock.now
            if now >= nextSnapshot {
                nextSnapshot = now + .milliseconds(100)
                refreshSnapshot()
            }
        }
        publisher?.connection.close()
        for watcher in watchers.values { watcher.connection.close() }
        refreshSnapshot()
    }

    private func apply(_ command: Command) {
        switch command {
        case .publish(let next):
            publisher?.connection.close()
            publisher = next
            snapshot.publisherEnded = nil
            snapshot.publishers += 1
        case .watch(let participant, let watcher):
            retire(participant)
            watchers[participant] = watcher
            retired[participant, default: WatchedCounts()].connections += 1
        case .unwatch(let participant):
            retire(participant)
        }
    }

    /// Closes the watcher of `participant`, keeping its counts.
    private func retire(_ participant: String) {
        guard let watcher = watchers.removeValue(forKey: participant) else { return }
        watcher.connection.close()
        retired[participant] = Self.adding(watcher.stats, to: retired[participant] ?? WatchedCounts())
    }

    static func adding(_ stats: EndpointWatcher.Stats, to counts: WatchedCounts) -> WatchedCounts {
        var sum = counts
        sum.framesDecoded += stats.framesDecoded
        sum.audioPackets += stats.audioPackets
        sum.audioFrames += stats.audioFrames
        sum.packetsReceived += stats.packetsReceived
        if stats.width > 0 { (sum.width, sum.height) = (stats.width, stats.height) }
        return sum
    }

    private func refreshSnapshot() {
        snapshot.publisher = publisher?.stats
        var watched = retired
        for (participant, watcher) in watchers {
            var counts = Self.adding(watcher.stats, to: retired[participant] ?? WatchedCounts())
            counts.watching = watcher.connection.peer.state == .connected
            watched[participant] = counts
        }
        snapshot.watched = watched
        let copy = snapshot
        published.withLock { $0 = copy }
    }
}
