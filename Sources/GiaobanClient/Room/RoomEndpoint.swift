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
        /// How long ICE and DTLS may take per connection.
        public var connectTimeout: Duration = .seconds(10)

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
        for await event in triggers {
            if state.withLock({ $0.stopping }) || room.view.ended != nil { break }
            switch event {
            case .joined(let rejoin):
                checkSeat = rejoin
            case .roster where checkSeat:
                checkSeat = false
                if settings.publish, room.view.me?.publishing == false { await publish() }
            case .ended:
                return
            default:
                break
            }
            guard room.view.joins > 0 else { continue }
            await reconcile()
        }
    }

    /// Publishes when not yet, or again when our connection died; watches what the policy wants.
    private func reconcile() async {
        let media = loop.current
        let (posted, watching, opened) = state.withLock { ($0.publishesPosted, $0.watching, $0.connectionsOpened) }
        if settings.publish, room.view.role != "observer", mayTry("") {
            if posted == 0 || (media.publishers == posted && media.publisherEnded != nil) { await publish() }
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
                                                simulcastRIDs: settings.simulcastRIDs)
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
            let pending = try PendingConnection(mode: .watch, context: context, host: settings.host)
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
