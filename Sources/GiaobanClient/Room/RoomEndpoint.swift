public import GiaobanCodecs
public import GiaobanCrypto
import Synchronization

/// A commune endpoint in a meeting room: the room socket (`RoomClient`), our published
/// stream and the streams we watch, negotiated over the room socket and carried by one media
/// thread (`RoomMediaLoop`). It publishes once seated (again if a reconnect lost the seat or
/// the connection died), and keeps the watched set equal to what `WatchPolicy` asks for in
/// the current roster: when the speaker changes, the old speaker's connection is closed and
/// the new one's opened.
public final class RoomEndpoint: Sendable {
    /// What to send and whom to watch.
    public struct Settings: Sendable {
        /// Publish our stream (an observer does not).
        public var publish = true
        /// Whom to watch.
        public var watch = WatchPolicy()
        /// Test pattern size (even), frame rate and video bitrate.
        public var width = 320, height = 240, framesPerSecond = 15, bitrateKbps = 300
        /// The video codec sent.
        public var codec: VPXCodec = .vp8
        /// The tone's frequency in Hz and its level in dBov (nil: the generator's default).
        public var toneFrequency = 440.0, toneLevel: Double?
        /// Simulcast rids (`ClientOffer.simulcastRIDs(count:)`), empty for one encoding.
        public var simulcastRIDs: [String] = []
        /// Noise on the test pattern (`EndpointPublisher.Settings.grain`).
        public var grain = 0
        /// The address our media sockets bind.
        public var host = "127.0.0.1"
        /// The path media takes to the relay: UDP, or ICE-TCP (RFC 6544) to its passive candidate.
        public var transport: ClientConnection.Transport = .udp
        /// A TURN server to relay media through (over UDP), nil for a direct path.
        public var turn: TURNServer?
        /// How long ICE and DTLS may take per connection.
        public var connectTimeout: Duration = .seconds(10)
        /// Receive everything watched on one connection the relay offers (`downlink`, the
        /// default) instead of one connection per watched participant (`subscribe`).
        public var downlink = true

        /// The defaults: publish, watch the chair and the active speaker.
        public init() {}
    }

    /// Everything the endpoint knows, for status lines and summaries.
    public struct Status: Sendable, Equatable {
        /// The room as last seen.
        public var room: RoomView
        /// The media as the media thread last published it.
        public var media: RoomMediaSnapshot
        /// Participants watched now.
        public var watching: Set<String>
        /// Failed publish or subscribe attempts, and the last reason.
        public var failures: Int
        /// The last failure.
        public var lastFailure: String?
    }

    struct State {
        var watching: Set<String> = []
        var connectionsOpened: [String: Int] = [:]
        var publishesPosted = 0
        var failures = 0
        var lastFailure: String?
        /// When a failed publish ("") or watch (the participant) may be tried again.
        var retryAt: [String: ContinuousClock.Instant] = [:]
        var task: Task<Void, Never>?
        var stopping = false
        /// Downlink mode: whom the relay was last asked for ("all" or the sorted list), nil before.
        var downlinkRequest: String?
        /// The downlink session, its socket and ICE credentials, and whether it is connected.
        var downlinkSession: String?
        var downlinkPending: Handoff<PendingConnection>?
        var downlinkConnected = false
        /// A connection of the session is being made (off the room's task).
        var downlinkConnecting = false
        /// The tracks of the latest answered offer, for the connection being made.
        var downlinkLatest: (tracks: [DownlinkOffer.Track], participants: [String: String])?
        /// Downlink connections handed to the media thread.
        var downlinksPosted = 0
    }

    /// The room socket.
    public let room: RoomClient
    let settings: Settings
    let context: DTLSContext
    let sources: Handoff<(VideoSource, AudioSource)>
    let loop = RoomMediaLoop()
    let state = Mutex(State())

    /// An endpoint on `room` sending `video` and `audio` (the synthetic sources by default);
    /// the sources become the endpoint's: do not read them elsewhere afterwards.
    public init(room: RoomClient, settings: Settings, context: DTLSContext, video: VideoSource = .testPattern,
                audio: AudioSource = .tone) {
        self.room = room
        self.settings = settings
        self.context = context
        sources = Handoff((video, audio))
    }

    /// What the endpoint knows now.
    public var status: Status {
        let s = state.withLock { $0 }
        return Status(room: room.view, media: loop.current, watching: s.watching, failures: s.failures, lastFailure: s.lastFailure)
    }

    /// Joins the room and starts publishing and watching; returns at once.
    public func start(name: String = "giaoban-room") {
        loop.start(name: name)
        room.start()
        let task = Task { await self.orchestrate() }
        state.withLock { $0.task = task }
    }

    /// Leaves the room and closes every connection (bounded: a few seconds at most).
    public func stop() async {
        let task = state.withLock { s -> Task<Void, Never>? in
            s.stopping = true
            return s.task
        }
        room.leave()
        await task?.value
        await loop.stop()
    }

    /// Reacts to room events and, four times a second, brings publishing and watching in line.
    private func orchestrate() async {
        let (triggers, trigger) = AsyncStream<RoomEvent?>.makeStream()
        let forward = Task {
            for await event in room.events { trigger.yield(event) }
            trigger.finish()
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                trigger.yield(nil)
            }
        }
        defer {
            forward.cancel()
            ticker.cancel()
        }
        var checkSeat = false
        var nodeChanges = 0
        for await event in triggers {
            if state.withLock({ $0.stopping }) || room.view.ended != nil { break }
            switch event {
            case .joined(let rejoin):
                checkSeat = rejoin
                if room.view.nodeChanges > nodeChanges {
                    nodeChanges = room.view.nodeChanges
                    lostNode()
                }
            case .roster where checkSeat:
                checkSeat = false
                if settings.publish, room.view.me?.publishing == false { await publish() }
            case .ended:
                return
            case .offer(let offer):
                await answer(offer)
            default:
                break
            }
            guard room.view.joins > 0 else { continue }
            await reconcile()
        }
    }

    /// The room is on another node now (the old one died): our sessions there are gone. The
    /// downlink and the watched participants are asked for again; publishing follows the roster
    /// (our restored seat does not publish).
    private func lostNode() {
        let watched = state.withLock { s -> Set<String> in
            s.downlinkRequest = nil
            s.downlinkSession = nil
            s.downlinkPending = nil
            s.downlinkConnected = false
            s.retryAt = [:]
            defer { s.watching = [] }
            return s.watching
        }
        for participant in watched { loop.post(.unwatch(participant)) }
    }

    /// Publishes when not yet, or again when our connection died; watches what the policy wants.
    private func reconcile() async {
        let media = loop.current
        let (posted, watching, opened) = state.withLock { ($0.publishesPosted, $0.watching, $0.connectionsOpened) }
        if settings.publish, room.view.role != "observer", mayTry("") {
            if posted == 0 || (media.publishers == posted && media.publisherEnded != nil) { await publish() }
        }
        if settings.downlink {
            await reconcileDownlink(media)
            return
        }
        let wanted = settings.watch.participants(in: room.view)
        for participant in watching {
            let counts = media.watched[participant]
            let ended = counts.map { $0.connections == opened[participant] && !$0.watching } ?? false
            if !wanted.contains(participant) || ended {
                loop.post(.unwatch(participant))
                state.withLock { _ = $0.watching.remove(participant) }
            }
        }
        for participant in wanted.sorted() where mayTry(participant)
            && !state.withLock({ $0.watching.contains(participant) || $0.stopping }) {
            await watch(participant)
        }
    }

    private func publish() async {
        let audioSSRC = UInt32.random(in: 1...UInt32.max), videoSSRC = UInt32.random(in: 1...UInt32.max)
        let settings = self.settings, context = self.context, sources = self.sources
        do throws(ClientError) {
            let pending = try PendingConnection(mode: .publish(audioSSRC: audioSSRC, videoSSRC: videoSSRC), context: context,
                                                host: settings.host, videoCodec: settings.codec == .vp9 ? "VP9" : "VP8",
                                                simulcastRIDs: settings.simulcastRIDs, transport: settings.transport, turn: settings.turn)
            let answer = try RelayAnswer(sdp: try await room.publish(offer: pending.sdp).sdp)
            let publisher = try await pending.connectOnOwnThread(answer: answer, timeout: settings.connectTimeout) {
                connection throws(CodecError) in
                var publisherSettings = EndpointPublisher.Settings(audioSSRC: audioSSRC, videoSSRC: videoSSRC)
                publisherSettings.width = settings.width
                publisherSettings.height = settings.height
                publisherSettings.framesPerSecond = settings.framesPerSecond
                publisherSettings.bitrateKbps = settings.bitrateKbps
                publisherSettings.codec = settings.codec
                publisherSettings.toneFrequency = settings.toneFrequency
                publisherSettings.toneLevel = settings.toneLevel
                publisherSettings.simulcastRIDs = settings.simulcastRIDs
                publisherSettings.grain = settings.grain
                publisherSettings.accept(answer)
                return try EndpointPublisher(connection: connection, settings: publisherSettings,
                                             video: sources.value.0, audio: sources.value.1)
            }
            loop.post(.publish(publisher))
            state.withLock { $0.publishesPosted += 1 }
        } catch {
            failed("", "publish: \(error)")
        }
    }

    private func watch(_ participant: String) async {
        let settings = self.settings, context = self.context
        do throws(ClientError) {
            let pending = try PendingConnection(mode: .watch, context: context, host: settings.host, transport: settings.transport, turn: settings.turn)
            let answer = try RelayAnswer(sdp: try await room.subscribe(participant: participant, offer: pending.sdp).sdp)
            let watcher = try await pending.connectOnOwnThread(answer: answer, timeout: settings.connectTimeout) {
                connection throws(CodecError) in try EndpointWatcher(connection: connection, answer: answer)
            }
            loop.post(.watch(participant, watcher))
            state.withLock {
                $0.watching.insert(participant)
                $0.connectionsOpened[participant, default: 0] += 1
            }
        } catch {
            failed(participant, "watch \(participant): \(error)")
        }
    }

    /// Downlink mode: tells the relay whom we watch whenever that changes (and again when the
    /// connection died, which starts a new session); the relay's offers come as events.
    private func reconcileDownlink(_ media: RoomMediaSnapshot) async {
        let wanted: [String]? = settings.watch.everyone ? nil : settings.watch.participants(in: room.view).sorted()
        let key = wanted?.joined(separator: ",") ?? "all"
        let asked = state.withLock { s -> String? in
            if s.downlinkConnected && media.downlinks == s.downlinksPosted && media.downlinkEnded != nil {
                // The connection died: ask again; the relay starts a new session.
                s.downlinkRequest = nil
                s.downlinkSession = nil
                s.downlinkPending = nil
                s.downlinkConnected = false
            }
            return s.downlinkRequest
        }
        guard asked != key, mayTry("downlink") else { return }
        do throws(ClientError) {
            try await room.downlink(participants: wanted)
            state.withLock { $0.downlinkRequest = key }
        } catch {
            failed("downlink", "downlink: \(error)")
        }
    }

    /// Answers a downlink offer; the first answer of a session connects.
    private func answer(_ offer: RoomOffer) async {
        guard settings.downlink else { return }
        let parsed: DownlinkOffer
        do throws(ClientError) { parsed = try DownlinkOffer(sdp: offer.sdp) } catch {
            failed("downlink", "offer: \(error)")
            return
        }
        let settings = self.settings, context = self.context
        let current = state.withLock { s in s.downlinkSession == offer.session ? s.downlinkPending : nil }
        let pending: Handoff<PendingConnection>
        if let current {
            pending = current
        } else {
            // A new session: its socket and ICE credentials last as long as it does.
            do throws(ClientError) {
                pending = Handoff(try PendingConnection(mode: .watch, context: context, host: settings.host, transport: settings.transport, turn: settings.turn))
            } catch {
                failed("downlink", "downlink socket: \(error)")
                return
            }
            state.withLock { s in
                s.downlinkSession = offer.session
                s.downlinkPending = pending
                s.downlinkConnected = false
                s.downlinkConnecting = false
                s.downlinkLatest = nil
            }
        }
        let sdp = parsed.answer(ice: pending.value.ice, fingerprint: context.fingerprint, host: settings.host,
                                port: pending.value.socket.port)
        do throws(ClientError) {
            try await room.answerDownlink(session: offer.session, revision: offer.revision, sdp: sdp)
        } catch {
            // Refused: ask again (a second later), which brings a fresh offer.
            failed("downlink", "answer: \(error)")
            state.withLock { $0.downlinkRequest = nil }
            return
        }
        let participants = Dictionary(offer.tracks.map { ($0.stream, $0.participant) }, uniquingKeysWith: { a, _ in a })
        let tracks = parsed.tracks
        // The offer's tracks go to the connection, or wait for the one being made. Posted under
        // the lock, so that the media thread gets the connection before any later tracks.
        let connect = state.withLock { s -> Bool in
            s.watching = Set(offer.tracks.map(\.participant))
            guard s.downlinkSession == offer.session else { return false }
            if s.downlinkConnected {
                loop.post(.downlinkTracks(tracks, participants))
                return false
            }
            s.downlinkLatest = (tracks, participants)
            guard !s.downlinkConnecting else { return false }
            s.downlinkConnecting = true
            return true
        }
        guard connect else { return }
        // Connected off the room's task, so that the offers that follow are answered meanwhile:
        // the relay ignores the answer to an offer it has replaced (a watch list that changed,
        // a forced offer) and makes the connection's peer on the answer to its latest offer; a
        // connection waiting on the first answer alone would see no check answered.
        let session = offer.session, relay = parsed.relay, timeout = settings.connectTimeout
        Task { await self.connectDownlink(pending, relay: relay, session: session, timeout: timeout) }
    }

    /// Makes the downlink session's connection and hands it to the media thread with the
    /// latest answered offer's tracks; on failure the session is dropped and asked for again.
    private func connectDownlink(_ pending: Handoff<PendingConnection>, relay: RelayAnswer, session: String,
                                 timeout: Duration) async {
        do throws(ClientError) {
            let downlink = try await pending.value.connectOnOwnThread(answer: relay, timeout: timeout) {
                connection throws(CodecError) in DownlinkWatcher(connection: connection)
            }
            let handed = Handoff(downlink)
            let posted = state.withLock { s -> Bool in
                guard s.downlinkSession == session, !s.stopping, let latest = s.downlinkLatest else { return false }
                loop.post(.downlink(handed.value, latest.tracks, latest.participants))
                s.downlinkConnecting = false
                s.downlinkConnected = true
                s.downlinksPosted += 1
                return true
            }
            if !posted { handed.value.connection.close() }
        } catch {
            failed("downlink", "downlink connection: \(error)")
            state.withLock { s in
                guard s.downlinkSession == session else { return }
                s.downlinkRequest = nil
                s.downlinkSession = nil
                s.downlinkPending = nil
                s.downlinkConnecting = false
                s.downlinkLatest = nil
            }
        }
    }

    /// Counts a failure of publishing ("") or watching `what`; it is tried again in a second.
    private func failed(_ what: String, _ reason: String) {
        state.withLock {
            $0.failures += 1
            $0.lastFailure = reason
            $0.retryAt[what] = .now + .seconds(1)
        }
    }

    private func mayTry(_ what: String) -> Bool {
        state.withLock { s in s.retryAt[what].map { ContinuousClock.now >= $0 } ?? true }
    }
}
