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
    /// Downlink connections handed to the thread so far.
    public var downlinks = 0
    /// Why the downlink connection ended, if it did.
    public var downlinkEnded: String?
    /// Offers applied to the downlink so far.
    public var downlinkOffers = 0
    /// Packets on the downlink with an SSRC no offered track has.
    public var downlinkUnknownPackets = 0
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
        /// A connected downlink and its first tracks (with whose each stream is).
        case downlink(DownlinkWatcher, [DownlinkOffer.Track], [String: String])
        /// The tracks of a later offer.
        case downlinkTracks([DownlinkOffer.Track], [String: String])
    }

    private let mailbox = Mutex<[Handoff<Command>]>([])
    private let published = Mutex(RoomMediaSnapshot())
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    private var publisher: EndpointPublisher?
    private var watchers: [String: EndpointWatcher] = [:]
    private var downlink: DownlinkWatcher?
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
            if let downlink {
                if downlink.connection.peer.state == .connected {
                    downlink.step(maxWaitMilliseconds: waited ? 0 : 5)
                    waited = true
                } else if snapshot.downlinkEnded == nil {
                    snapshot.downlinkEnded = downlink.connection.peer.failure.map { "\($0)" } ?? "connection closed"
                }
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
        downlink?.connection.close()
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
        case .downlink(let next, let tracks, let participants):
            if let old = downlink {
                old.connection.close()
                for (stream, watcher) in old.watchers { keep(watcher, of: old.participants[stream] ?? stream) }
            }
            downlink = next
            snapshot.downlinks += 1
            snapshot.downlinkEnded = nil
            applyTracks(tracks, participants)
        case .downlinkTracks(let tracks, let participants):
            applyTracks(tracks, participants)
        }
    }

    /// Applies an offer's tracks to the downlink, keeping the counts of streams it stops receiving.
    private func applyTracks(_ tracks: [DownlinkOffer.Track], _ participants: [String: String]) {
        guard let downlink else { return }
        do {
            for (participant, watcher) in try downlink.apply(tracks, participants: participants) { keep(watcher, of: participant) }
        } catch {
            snapshot.downlinkEnded = "cannot start the decoders: \(error)"
        }
    }

    /// Adds a retired watcher's counts to `participant`'s.
    private func keep(_ watcher: EndpointWatcher, of participant: String) {
        retired[participant] = Self.adding(watcher.stats, to: retired[participant] ?? WatchedCounts())
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
        if let downlink {
            for (stream, watcher) in downlink.watchers {
                let participant = downlink.participants[stream] ?? stream
                var counts = Self.adding(watcher.stats, to: retired[participant] ?? WatchedCounts())
                counts.watching = downlink.connection.peer.state == .connected
                counts.connections = max(counts.connections, 1)
                watched[participant] = counts
            }
            snapshot.downlinkOffers = downlink.offersApplied
            snapshot.downlinkUnknownPackets = downlink.packetsUnknown
        }
        snapshot.watched = watched
        let copy = snapshot
        published.withLock { $0 = copy }
    }
}
