import Foundation
import HummingbirdWSClient
public import Logging
import Synchronization

/// The client side of the meeting room protocol (docs/protocol.md): one WebSocket to
/// `GET /api/meetings/{id}/room` that keeps the roster, the speaker and our mute state in a
/// `RoomView`, reports changes as `RoomEvent`s, and carries our SDP offers (`publish`,
/// `subscribe`) and the chair's controls.
///
/// **Requests and replies.** The server handles one socket's messages in order and answers
/// each `publish`/`subscribe` with `answer` or `error`; other requests are answered only
/// when refused. So every other request goes out followed by a `ping`: an `error` before the
/// `pong` is that request's refusal, the `pong` alone its success. Every request waits at most
/// `requestTimeout`.
///
/// **Reconnects.** A socket lost without `ended` or `replaced` is opened again with the same
/// token (1, 2, 4… up to 5 s apart, at most `maxReconnects` failures in a row). `reconnect()`
/// opens the new socket before the old one closes, as after a network change: the server
/// moves the seat (hand, mute, spotlight, the published stream) to it and replaces the old one.
///
/// **Several nodes** (docs/postgresql.md, "Meetings across nodes"). A node that does not hold
/// the room answers `moved` with the one that does: the client goes there at once. `joined`
/// lists the cluster's nodes: a lost socket is opened again on the current node, then on the
/// others in turn (0.3 s apart; the backoff and `maxReconnects` count whole rounds), so that
/// when the room's node dies the client finds the node that took the room over.
public final class RoomClient: Sendable {
    /// The room's WebSocket URL on the node we are on now (the token rides in `access_token`).
    public var url: String { state.withLock { Self.roomURL(base: $0.base, path: path) } }
    /// `/api/meetings/{id}/room?access_token=…`.
    private let path: String
    /// The PEM file of CAs trusted for `wss://` (nil: the system's CAs).
    public let caFile: String?
    /// How long a request waits for its reply.
    public let requestTimeout: Duration
    /// Lost sockets in a row after which the client gives up.
    public let maxReconnects: Int
    /// What happens, in order; one consumer.
    public let events: AsyncStream<RoomEvent>
    private let sink: AsyncStream<RoomEvent>.Continuation
    private let logger: Logger
    private let state = Mutex(State())

    enum Reply: Sendable {
        case answer(RoomAnswer)
        case done
        case failed(String)
    }

    struct Pending {
        let id: Int
        let generation: Int
        let expectsAnswer: Bool
        let continuation: CheckedContinuation<Reply, Never>
        var refusal: String?
    }

    struct State {
        var view = RoomView()
        var generation = 0
        var outbox: AsyncStream<String>.Continuation?
        var pending: [Pending] = []
        var nextRequest = 1
        var failures = 0
        var stopped = false
        var tasks: [Int: Task<Void, Never>] = [:]
        var finished: [CheckedContinuation<Void, Never>] = []
        /// The WebSocket base (`ws://host:port`) of the node we are on, and of every node known.
        var base = ""
        var bases: [String] = []
        /// Failed connections since the last full round over `bases`.
        var attemptsInRound = 0
        /// Where the last `moved` sent us, until the socket it came on has closed.
        var movedTo: String?
        /// `moved` followed since the last `joined`.
        var movesInARow = 0
    }

    /// A client for meeting `meeting` on the control plane at `server` (`http://host:port`
    /// or `ws://host:port`; `https://` or `wss://` for TLS, the server's certificate chaining
    /// to a CA in `caFile`, or to the system's CAs without one) with `token`. Nothing is sent
    /// before `start()`.
    /// `fallbackServers` are other nodes of the same cluster to try when `server` cannot be
    /// reached (the nodes `joined` lists are added to them).
    public init(server: String, meeting: Int64, token: String, requestTimeout: Duration = .seconds(10), maxReconnects: Int = 8,
                caFile: String? = nil, fallbackServers: [String] = [], logger: Logger = Logger(label: "giaoban.room")) {
        let base = Self.socketBase(server)
        let query = token.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&+=/?"))) ?? token
        path = "/api/meetings/\(meeting)/room?access_token=\(query)"
        state.withLock { s in
            s.base = base
            s.bases = [base]
            for other in fallbackServers.map(Self.socketBase) where !s.bases.contains(other) { s.bases.append(other) }
        }
        self.caFile = caFile
        self.requestTimeout = requestTimeout
        self.maxReconnects = maxReconnects
        self.logger = logger
        (events, sink) = AsyncStream<RoomEvent>.makeStream()
    }

    /// The room as last seen.
    public var view: RoomView {
        state.withLock { s in
            var view = s.view
            view.server = Self.httpBase(s.base)
            return view
        }
    }

    /// `ws://host:port` (or `wss://`) of a base URL given as http(s) or ws(s), without a trailing slash.
    static func socketBase(_ server: String) -> String {
        var base = server
        if base.hasPrefix("http://") { base = "ws://" + base.dropFirst(7) }
        if base.hasPrefix("https://") { base = "wss://" + base.dropFirst(8) }
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    /// `http(s)://host:port` of a WebSocket base.
    static func httpBase(_ base: String) -> String {
        base.hasPrefix("wss://") ? "https://" + base.dropFirst(6) : base.hasPrefix("ws://") ? "http://" + base.dropFirst(5) : base
    }

    static func roomURL(base: String, path: String) -> String { base + path }

    /// Opens the socket (once); the client then keeps it open until `leave()` or the end.
    public func start() {
        let first = state.withLock { $0.generation == 0 && !$0.stopped }
        if first { open() }
    }

    /// Waits until the room is over for this client (left, ended, replaced, refused, given up).
    public func finished() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { s -> Bool in
                if s.stopped && s.tasks.isEmpty { return true }
                s.finished.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Opens a new socket now, before the current one closes (what a client does after a
    /// network change); the server moves our seat to it.
    public func reconnect() {
        let go = state.withLock { !$0.stopped }
        if go { open() }
    }

    /// Drops the current socket as a network failure would, without `leave` or a close
    /// handshake (for drills and tests); the client then reconnects as after any loss.
    public func dropConnection() {
        let outbox = state.withLock { $0.outbox }
        outbox?.yield(Self.dropMarker)
    }

    /// What `dropConnection()` puts in the outbox: the socket is torn down when it comes out.
    static let dropMarker = "\u{0}drop"

    struct Dropped: Error, CustomStringConvertible {
        var description: String { "the connection was dropped" }
    }

    /// Leaves the room: sends `leave` (the server gives the seat up at once, where a socket
    /// that merely closes keeps it a while for a reconnect), then closes the socket.
    public func leave() {
        let outbox = state.withLock { s -> AsyncStream<String>.Continuation? in
            s.stopped = true
            if s.view.ended == nil { s.view.ended = "left" }
            return s.outbox
        }
        outbox?.yield(#"{"type":"leave"}"#)
        outbox?.finish()
        sink.finish()
    }

    // MARK: Requests

    /// Publishes our stream: sends `offer`, returns the relay's answer.
    public func publish(offer: String) async throws(ClientError) -> RoomAnswer {
        try await answer(to: ["type": "publish", "sdp": offer], what: "publish")
    }

    /// Watches `participant`'s stream with a receive-only `offer`; returns the relay's answer.
    public func subscribe(participant: String, offer: String) async throws(ClientError) -> RoomAnswer {
        try await answer(to: ["type": "subscribe", "participant": participant, "sdp": offer], what: "subscribe to \(participant)")
    }

    /// Sends any other request (`mute`, `hand`, `mute_participant`, `spotlight`, `lock`,
    /// `end`, docs/protocol.md); throws `.rejected` with the server's reason when refused.
    public func send(_ request: [String: any Sendable]) async throws(ClientError) {
        let what = request["type"] as? String ?? "request"
        switch await exchange(request, expectsAnswer: false) {
        case .done, .answer: return
        case .failed(let reason): throw ClientError(.rejected, "\(what): \(reason)")
        }
    }

    /// Asks for our downlink (or changes whom it carries): `nil` for everyone who publishes.
    /// The relay's `offer` arrives as an event.
    public func downlink(participants: [String]?) async throws(ClientError) {
        let watch: any Sendable = participants.map { $0 as any Sendable } ?? "all"
        try await send(["type": "downlink", "participants": watch])
    }

    /// Our answer to downlink offer `revision`.
    public func answerDownlink(session: String, revision: Int, sdp: String) async throws(ClientError) {
        try await send(["type": "answer", "session": session, "revision": revision, "sdp": sdp])
    }

    /// The chair's mute of `participant` at the relay (chair and admin only).
    public func muteParticipant(_ participant: String, muted: Bool) async throws(ClientError) {
        try await send(["type": "mute_participant", "participant": participant, "muted": muted])
    }

    private func answer(to request: [String: any Sendable], what: String) async throws(ClientError) -> RoomAnswer {
        switch await exchange(request, expectsAnswer: true) {
        case .answer(let answer): return answer
        case .done: throw ClientError(.badAnswer, "\(what): no answer")
        case .failed(let reason): throw ClientError(.rejected, "\(what): \(reason)")
        }
    }

    private func exchange(_ request: [String: any Sendable], expectsAnswer: Bool) async -> Reply {
        guard let data = try? JSONSerialization.data(withJSONObject: request) else { return .failed("cannot encode the request") }
        let text = String(decoding: data, as: UTF8.self)
        let id = state.withLock { s -> Int in
            defer { s.nextRequest += 1 }
            return s.nextRequest
        }
        let timeout = requestTimeout
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.resolve(id: id, .failed("no reply within \(timeout)"))
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let sent = state.withLock { s -> Bool in
                guard let outbox = s.outbox, !s.stopped else { return false }
                s.pending.append(Pending(id: id, generation: s.generation, expectsAnswer: expectsAnswer, continuation: continuation))
                outbox.yield(text)
                if !expectsAnswer { outbox.yield(#"{"type":"ping"}"#) }
                return true
            }
            if !sent { continuation.resume(returning: .failed("not connected to the room")) }
        }
    }

    private func resolve(id: Int, _ reply: Reply) {
        let pending = state.withLock { s -> Pending? in
            guard let index = s.pending.firstIndex(where: { $0.id == id }) else { return nil }
            return s.pending.remove(at: index)
        }
        pending?.continuation.resume(returning: reply)
    }

    // MARK: Sockets

    private func open() {
        let (stream, outbox) = AsyncStream<String>.makeStream()
        state.withLock { s in
            s.generation += 1
            let generation = s.generation
            s.outbox = outbox
            s.tasks[generation] = Task { await self.run(generation: generation, outbox: stream) }
        }
    }

    /// One socket, from the handshake to its close.
    private func run(generation: Int, outbox: AsyncStream<String>) async {
        var refusal: String?
        var failure = "the server closed the connection"
        do {
            let (configuration, tls) = connectionSettings()
            let close = try await WebSocketClient.connect(url: url, configuration: configuration, tlsConfiguration: tls,
                                                          logger: logger) {
                inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await text in outbox {
                            if text == Self.dropMarker { throw Dropped() }
                            try await outbound.write(.text(text))
                        }
                        try await outbound.close(.normalClosure, reason: "leaving")
                    }
                    group.addTask {
                        for try await message in inbound.messages(maxSize: 1 << 20) {
                            if case .text(let text) = message { self.receive(text, generation: generation) }
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
            if close?.closeCode == .policyViolation { refusal = close?.reason ?? "refused" }
        } catch {
            failure = "\(error)"
        }
        ended(generation: generation, refusal: refusal, failure: failure)
    }

    private func ended(generation: Int, refusal: String?, failure: String) {
        var lost: [Pending] = []
        var events: [RoomEvent] = []
        var retryAfter: Duration?
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.tasks.removeValue(forKey: generation)
            lost = s.pending.filter { $0.generation == generation }
            s.pending.removeAll { $0.generation == generation }
            if generation == s.generation {
                s.outbox = nil
                if let refusal, !s.stopped {
                    s.view.ended = "refused: \(refusal)"
                    s.stopped = true
                    events.append(.ended(s.view.ended!))
                } else if !s.stopped, let moved = s.movedTo, s.movesInARow <= 2 * s.bases.count + 2 {
                    // The room is held by another node: go there now.
                    s.movedTo = nil
                    s.base = moved
                    if !s.bases.contains(moved) { s.bases.append(moved) }
                    retryAfter = .zero
                } else if !s.stopped {
                    s.movedTo = nil
                    // Try the other nodes in turn; a whole round without a seat counts as one failure.
                    s.attemptsInRound += 1
                    let round = s.attemptsInRound >= s.bases.count
                    if round {
                        s.attemptsInRound = 0
                        s.failures += 1
                    }
                    if let at = s.bases.firstIndex(of: s.base), s.bases.count > 1 {
                        s.base = s.bases[(at + 1) % s.bases.count]
                    }
                    if s.failures > maxReconnects {
                        s.view.ended = "gave up after \(maxReconnects) reconnects: \(failure)"
                        s.stopped = true
                        events.append(.ended(s.view.ended!))
                    } else {
                        events.append(.disconnected(failure))
                        retryAfter = round || s.bases.count == 1 ? .seconds(min(5, 1 << min(max(s.failures, 1) - 1, 3))) : .milliseconds(300)
                    }
                }
            }
            guard s.stopped && s.tasks.isEmpty else { return [] }
            defer { s.finished.removeAll() }
            return s.finished
        }
        for p in lost { p.continuation.resume(returning: .failed("the room connection was lost")) }
        for e in events { sink.yield(e) }
        if case .ended = events.last { sink.finish() }
        for w in waiters { w.resume() }
        if let retryAfter {
            logger.notice("room connection lost; reconnecting", metadata: ["after": "\(retryAfter)", "reason": "\(failure)"])
            Task { [weak self] in
                try? await Task.sleep(for: retryAfter)
                guard let self, self.state.withLock({ !$0.stopped && $0.generation == generation }) else { return }
                self.open()
            }
        }
    }

    /// One server message on socket `generation`; messages of a superseded socket are ignored.
    private func receive(_ text: String, generation: Int) {
        guard let message = try? JSONDecoder().decode(RoomServerMessage.self, from: Data(text.utf8)) else { return }
        var event: RoomEvent?
        var resolved: (Pending, Reply)?
        var finish = false
        state.withLock { s in
            guard generation == s.generation, !(s.stopped && s.view.ended != nil && s.view.ended != "left") else { return }
            let head = s.pending.firstIndex { $0.generation == generation }
            switch message.type {
            case "joined":
                s.view.meeting = message.meeting ?? s.view.meeting
                s.view.you = message.you ?? s.view.you
                s.view.role = message.role ?? s.view.role
                s.view.stream = message.stream ?? s.view.stream
                s.view.joins += 1
                s.failures = 0
                s.attemptsInRound = 0
                s.movesInARow = 0
                if let node = message.node, !node.isEmpty {
                    if !s.view.node.isEmpty && s.view.node != node { s.view.nodeChanges += 1 }
                    s.view.node = node
                }
                // The cluster's nodes, this one first: where a lost socket looks for the room.
                for other in (message.nodes ?? []).map(Self.socketBase) where !s.bases.contains(other) { s.bases.append(other) }
                event = .joined(rejoin: s.view.joins > 1)
            case "roster":
                s.view.participants = message.participants ?? []
                s.view.locked = message.locked ?? false
                s.view.spotlight = message.spotlight
                s.view.speaker = message.speaker
                s.view.rosterUpdates += 1
                if let me = s.view.me { s.view.mutedByChair = me.mutedByChair }
                event = .roster
            case "speaker":
                guard let who = message.participant else { return }
                s.view.speaker = who
                s.view.speakerChanges += 1
                event = .speaker(who)
            case "muted":
                let muted = message.muted ?? false
                s.view.mutedByChair = muted
                s.view.mutedEvents += 1
                event = .muted(muted, by: message.by ?? "")
            case "answer":
                guard let head, s.pending[head].expectsAnswer else { return }
                let answer = RoomAnswer(participant: message.participant ?? "", stream: message.stream ?? "",
                                        session: message.session ?? "", sdp: message.sdp ?? "")
                resolved = (s.pending.remove(at: head), .answer(answer))
            case "pong":
                guard let head, !s.pending[head].expectsAnswer else { return }
                let p = s.pending.remove(at: head)
                resolved = (p, p.refusal.map { .failed($0) } ?? .done)
            case "error":
                let reason = message.message ?? "error"
                if let head, s.pending[head].expectsAnswer {
                    resolved = (s.pending.remove(at: head), .failed(reason))
                } else if let head, s.pending[head].refusal == nil {
                    s.pending[head].refusal = reason
                } else {
                    s.view.errors += 1
                    event = .error(reason)
                }
            case "unmute_requested":
                s.view.unmuteRequests += 1
                event = .unmuteRequested(by: message.by ?? "")
            case "offer":
                guard let session = message.session, let revision = message.revision, let sdp = message.sdp else { return }
                event = .offer(RoomOffer(session: session, revision: revision, sdp: sdp, tracks: message.tracks ?? []))
            case "moved":
                // The room is held by another node; this socket closes next, then we go there.
                guard let target = message.url, target.hasPrefix("http://") || target.hasPrefix("https://") else { return }
                s.movedTo = Self.socketBase(target)
                s.movesInARow += 1
                s.view.moves += 1
                logger.info("the meeting room is held by another node; going there", metadata: ["url": "\(target)"])
            case "ended", "replaced":
                s.view.ended = message.type == "ended" ? (message.message ?? "the meeting ended")
                    : "replaced: " + (message.message ?? "joined again from another connection")
                s.stopped = true
                event = .ended(s.view.ended!)
                finish = true
            default:
                return
            }
        }
        if let (pending, reply) = resolved { pending.continuation.resume(returning: reply) }
        if let event { sink.yield(event) }
        if finish { sink.finish() }
    }
}
