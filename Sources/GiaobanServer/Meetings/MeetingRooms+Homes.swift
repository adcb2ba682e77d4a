import Foundation
import GiaobanHub
import GiaobanRooms
package import GiaobanStore
import HummingbirdWebSocket
import Logging
import Synchronization

/// This node's claims on meeting rooms among nodes sharing PostgreSQL (docs/postgresql.md,
/// "Meetings across nodes"): a room is held by one node at a time, so that everyone in a
/// meeting is in one room whichever node they open it on. A participant who opens the room on
/// another node is told where (`moved`); when the holder dies its claim lapses after
/// `cluster.room_lease_s`, the next node asked takes the room over and seats its participants
/// again from the state the holder last wrote.
final class RoomHomes: Sendable {
    /// The claims in the database.
    let store: MeetingHomes
    /// The streams this node publishes, for the other nodes' trunks.
    let directory: StreamDirectory
    /// This node's id in the claims (`HubCluster.origin`: unique per process).
    let node: String
    /// This node's base URL, where participants sent here open the room.
    let url: String
    /// How long a claim lasts after its last renewal, ms.
    let lease: Int64
    let logger: Logger
    /// The base URLs of the nodes seen alive, this one first (refreshed with each renewal).
    let nodes: Mutex<[String]>
    /// Per room, the snapshot waiting to be written and whether a writer runs.
    private let saves = Mutex<[Int64: (pending: String?, running: Bool)]>([:])
    private let renewal = Mutex<Task<Void, Never>?>(nil)
    /// What happened to the claims, for /metrics.
    final class Counters: Sendable {
        let redirected = Atomic<Int>(0)
        let takenOver = Atomic<Int>(0)
        let lost = Atomic<Int>(0)
        let renewalFailures = Atomic<Int>(0)
    }
    let counters = Counters()
    /// Renewal held back, as when the node hangs (`suspend`).
    private let suspended = Atomic<Bool>(false)

    init(store: MeetingHomes, node: String, url: String, lease: Duration, logger: Logger) {
        self.store = store
        directory = StreamDirectory(database: store.database)
        self.node = node
        self.url = url
        self.lease = lease.components.seconds * 1000
        self.logger = logger
        nodes = Mutex([url])
    }

    /// What a node finds when a participant opens a room it does not have open.
    enum Claim: Sendable {
        /// This node holds the room now; the seats of the node it took it over from, if any.
        case held(RoomSnapshot?)
        /// Another node holds it: the participant goes there.
        case elsewhere(MeetingHome)
    }

    /// Claims meeting `id`'s room for this node, or says which node holds it.
    func claim(_ id: Int64, now: Int64, seatGrace: Duration) async throws(StoreError) -> Claim {
        let home = try await store.claim(meeting: id, node: node, url: url, now: now, lease: lease,
                                         restoreWithin: seatGrace.components.seconds * 1000 + lease)
        guard home.node == node else {
            counters.redirected.add(1, ordering: .relaxed)
            return .elsewhere(home)
        }
        guard !home.snapshot.isEmpty else { return .held(nil) }
        counters.takenOver.add(1, ordering: .relaxed)
        do {
            return .held(try RoomSnapshot(json: home.snapshot))
        } catch {
            logger.warning("the meeting room's last state could not be read; its participants get new seats",
                           metadata: ["meeting": "\(id)", "error": "\(error)"])
            return .held(nil)
        }
    }

    /// Writes room `id`'s state for a node that may take it over; only the latest waiting
    /// snapshot is written, in order, off the room's actor.
    func save(_ id: Int64, _ snapshot: RoomSnapshot) {
        guard let text = snapshot.json else { return }
        let start = saves.withLock { all in
            let running = all[id]?.running ?? false
            all[id] = (text, true)
            return !running
        }
        guard start else { return }
        Task {
            while let next = saves.withLock({ all -> String? in
                guard let pending = all[id]?.pending else {
                    all[id] = nil
                    return nil
                }
                all[id]?.pending = nil
                return pending
            }) {
                do throws(StoreError) { try await store.save(meeting: id, node: node, snapshot: next) } catch {
                    logger.warning("could not write a meeting room's state for the other nodes", metadata: ["meeting": "\(id)", "error": "\(error)"])
                }
            }
        }
    }

    /// Gives room `id` up (it emptied here).
    func release(_ id: Int64) async {
        do throws(StoreError) { try await store.release(meeting: id, node: node) } catch {
            logger.warning("could not give an empty meeting room up; another node takes it when the claim lapses",
                           metadata: ["meeting": "\(id)", "error": "\(error)"])
        }
    }

    /// Renews this node's claims on the rooms `open()` lists every second (and the node's
    /// heartbeat), until `stop`; `lost` is told of rooms another node took over meanwhile.
    /// The renewal also writes the plain WHIP streams `streams()` lists into the cluster's
    /// stream directory (docs/postgresql.md, "Streams across nodes").
    func start(open: @escaping @Sendable () -> [Int64], streams: @escaping @Sendable () -> [String],
               lost: @escaping @Sendable ([Int64]) async -> Void, clock: @escaping @Sendable () -> Int64) {
        let task = Task { [self] in
            var failing = false
            while !Task.isCancelled {
                if suspended.load(ordering: .relaxed) {
                    try? await Task.sleep(for: .milliseconds(50))
                    continue
                }
                do throws(StoreError) {
                    let now = clock()
                    let gone = try await store.renew(node: node, url: url, meetings: open(), now: now, lease: lease)
                    try await directory.sync(node: node, url: url, streams: streams(), now: now)
                    let alive = try await store.liveNodes(since: now - 3 * lease, first: url)
                    nodes.withLock { $0 = alive.isEmpty ? [url] : alive }
                    if failing { logger.notice("meeting room claims renewed again") }
                    failing = false
                    if !gone.isEmpty { await lost(gone) }
                } catch {
                    counters.renewalFailures.add(1, ordering: .relaxed)
                    if !failing {
                        logger.error("could not renew this node's meeting room claims; other nodes take the rooms over when they lapse",
                                     metadata: ["error": "\(error)", "lease_ms": "\(lease)"])
                    }
                    failing = true
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        renewal.withLock { $0 = task }
    }

    /// Holds renewal back (`true`) as a hung node would, or lets it go on (for drills and tests:
    /// another node takes the rooms once the claims lapse, and this one then sends its
    /// participants there).
    func suspend(_ on: Bool) { suspended.store(on, ordering: .relaxed) }

    /// Stops renewing and gives every room up, and leaves the list of nodes alive (at shutdown).
    func stop() async {
        renewal.withLock { $0?.cancel() }
        try? await store.leave(node: node)
        try? await directory.leave(node: node)
    }
}

extension MeetingRooms {
    /// Takes part in the cluster's room claims (storage on PostgreSQL): rooms opened here are
    /// claimed for this node `node` at `url`; see `RoomHomes`.
    package func joinCluster(database: any RecordDatabase, node: String, url: String, lease: Duration) {
        let homes = RoomHomes(store: MeetingHomes(database: database), node: node, url: url, lease: lease, logger: logger)
        self.homes.withLock { $0 = homes }
        homes.start(open: { [weak self] in self?.rooms.withLock { Array($0.keys) } ?? [] },
                    streams: { [sessions] in sessions.publishedStreams },
                    lost: { [weak self] ids in await self?.lostRooms(ids) },
                    clock: hub.clock)
        logger.notice("meeting rooms are held by one node of the cluster at a time", metadata: ["node": "\(node)", "url": "\(url)"])
    }

    /// Gives this node's rooms up at shutdown so that others take them at once.
    public func leaveCluster() async {
        await homes.withLock { $0 }?.stop()
    }

    /// The id `joined` gives for this node.
    var nodeID: String { homes.withLock { $0?.node } ?? localNode }

    /// The nodes a participant may reconnect to, this one first ([] on one node).
    var clusterNodes: [String] { homes.withLock { $0?.nodes.withLock { $0 } } ?? [] }

    /// Before seating a participant in room `id`: on a cluster, makes sure this node holds the
    /// room (claiming it, and seating the participants of a node it takes it over from), or
    /// returns the node that does. Nil: seat the participant here.
    func home(of id: Int64) async throws(StoreError) -> MeetingHome? {
        guard let homes = homes.withLock({ $0 }), rooms.withLock({ $0[id] == nil }) else { return nil }
        switch try await homes.claim(id, now: hub.clock(), seatGrace: seatGrace) {
        case .elsewhere(let home): return home
        case .held(let snapshot):
            guard let snapshot else { return nil }
            let connections = Dictionary(uniqueKeysWithValues: snapshot.seats.map {
                ($0.subject, nextConnection.wrappingAdd(1, ordering: .relaxed).oldValue)
            })
            await room(id).post(.restore(snapshot, connections: connections))
            return nil
        }
    }

    /// Rooms another node took over while this one could not renew its claims: everyone in
    /// them is told where the room is now and goes there; this node lets the room go without
    /// writing attendance (its participants did not leave the meeting) and ends its media.
    func lostRooms(_ ids: [Int64]) async {
        guard let homes = homes.withLock({ $0 }) else { return }
        for id in ids {
            let holder = try? await homes.store.claim(meeting: id, node: homes.node, url: homes.url, now: hub.clock(),
                                                      lease: homes.lease, restoreWithin: 0)
            guard let holder, holder.node != homes.node,
                  let room = rooms.withLock({ $0.removeValue(forKey: id) }) else { continue }
            logger.error("another node took this meeting room over (this node's claim lapsed); participants are sent there",
                         metadata: ["meeting": "\(id)", "node": "\(holder.node)", "url": "\(holder.url)"])
            homes.counters.lost.add(1, ordering: .relaxed)
            stopRoom(id, room)
            await room.actor.moveAway(.moved(RoomMessage.Moved(meeting: id, url: holder.url, node: holder.node)))
            for (subject, seat) in room.state.seats {
                if let session = seat.publishing { _ = try? await sessions.close(kind: "whip", stream: room.state.stream(subject), id: session) }
            }
            // The rest as when a room empties: downlinks, recording and mix end here.
            await release(Released(peers: room.downlinks.values.map(\.peerID), streams: room.state.seats.keys.map(room.state.stream),
                                   mix: room.mix, recorder: room.recorder, dissolved: true), meeting: id)
        }
    }

    /// Writes room `id`'s state for the other nodes, on a cluster.
    func saveSnapshot(_ id: Int64, _ snapshot: RoomSnapshot) {
        homes.withLock { $0 }?.save(id, snapshot)
    }

    /// Gives the room up when it emptied, on a cluster — unless someone opened it here again
    /// meanwhile (then the claim is this node's again; a lost claim is put right by the next
    /// renewal, which claims a room it has open and finds unclaimed).
    func releaseHome(_ id: Int64) async {
        guard rooms.withLock({ $0[id] == nil }) else { return }
        await homes.withLock { $0 }?.release(id)
    }

    /// The `moved` message: the room is held by `home`.
    static func moved(meeting id: Int64, to home: MeetingHome) -> String {
        RoomOutbound.moved(RoomMessage.Moved(meeting: id, url: home.url, node: home.node)).text
    }

    /// Sends a participant who opened the room here to the node holding it, and closes.
    static func sendOn(_ outbound: WebSocketOutboundWriter, _ inbound: WebSocketInboundStream, meeting id: Int64, to home: MeetingHome) async throws {
        try await outbound.write(.text(moved(meeting: id, to: home)))
        try await outbound.close(.normalClosure, reason: "moved")
        for try await _ in inbound.messages(maxSize: 4_096) {}
    }
}
