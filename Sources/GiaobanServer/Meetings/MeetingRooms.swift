import Foundation
import GiaobanEngine
public import GiaobanMixer
import GiaobanStore
import GiaobanWire
import Hummingbird
import HummingbirdWebSocket
public import Logging
import Synchronization

/// Meeting rooms over WebSocket: `GET /api/meetings/{id}/room` (docs/protocol.md). One
/// socket per participant carries the roster, chair controls, raised hands, the active
/// speaker, and the SDP of the participant's media sessions.
///
/// Media: a participant publishes on its own stream (`publish`, the client offers) and
/// receives what it watches on one connection down (`downlink`, the relay offers and
/// renegotiates; MeetingRooms+Downlink.swift), or per watched stream (`subscribe`, the client
/// offers).
public final class MeetingRooms: Sendable {
    struct Participant: Sendable {
        var role: Role
        var connection: Int
        var audioMuted = false
        var mutedByChair = false
        var hand = false
        var publishing: String?
        var joinedAt: Int64
        /// `forwarded` (each stream as sent) or `mixed` (one mix-minus audio stream).
        var mixed = false
        /// The publishing link as the relay sees it, refreshed every 2 s.
        var link: RoomMessage.Link?
        /// The socket closed without `leave`: the seat waits `seatGrace` for a reconnect.
        var disconnected = false
    }

    struct Room: Sendable {
        var participants: [String: Participant] = [:]
        var locked = false
        var spotlight: String?
        var speaker: String?
        var detector = DominantSpeaker()
        var speakerTask: Task<Void, Never>?
        /// The audio mix, while someone is in mixed mode.
        var mix: MeetingMix?
        /// Subjects who held the floor, most recent first (last-N video).
        var recentSpeakers: [String] = []
        /// Speaker ticks since the links were last read.
        var ticksSinceLinks = 0
        /// Each participant's one connection down, by subject.
        var downlinks: [String: Downlink] = [:]
    }

    let hub: Hub
    let sessions: RelaySessions
    let logger: Logger
    let rooms = Mutex<[Int64: Room]>([:])
    private let nextConnection = Atomic<Int>(1)
    /// How often the active speaker is re-evaluated.
    let speakerTick: Duration
    /// How many of the loudest participants' audio is forwarded (0: everyone's).
    let loudestAudio: Int
    /// Mixed mode's composed video.
    let mixVideo: VideoCompositor.Settings
    /// Only the video of the last this-many speakers (plus the chair and the spotlight) is
    /// forwarded (0: everyone's).
    let lastN: Int
    /// How long a seat whose socket dropped (closed without `leave`) is kept for a reconnect.
    let seatGrace: Duration
    /// Connections that sent `leave`: their close gives the seat up at once.
    private let leaving = Mutex<Set<Int>>([])

    /// Rooms over `hub`'s meetings and `sessions`' media plane.
    public init(hub: Hub, sessions: RelaySessions, logger: Logger, speakerTick: Duration = .milliseconds(200),
                loudestAudio: Int = 3, mixVideo: VideoCompositor.Settings = .init(), lastN: Int = 0,
                seatGrace: Duration = .seconds(15)) {
        self.mixVideo = mixVideo
        self.lastN = lastN
        self.hub = hub
        self.sessions = sessions
        self.logger = logger
        self.speakerTick = speakerTick
        self.loudestAudio = loudestAudio
        self.seatGrace = seatGrace
    }

    static let roles: Set<Role> = [.chair, .admin, .commune, .observer]

    /// The media stream a participant publishes on.
    static func stream(meeting: Int64, subject: String) -> String {
        let safe = String(subject.unicodeScalars.map { c -> Character in
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "-" || c == "_" ? Character(c) : "_"
        }.prefix(48))
        return "m\(meeting)-\(safe)"
    }

    static func channel(_ meeting: Int64) -> String { "room-\(meeting)" }
    static func channel(_ meeting: Int64, _ subject: String) -> String { "room-\(meeting)/\(subject)" }

    func addRoutes(to router: Router<BasicWebSocketRequestContext>) {
        hub.addSocket("/api/meetings/:id/room", to: router, roles: Self.roles, what: "the meeting room") { claims, inbound, outbound, context in
            let path = context.request.uri.path.split(separator: "/")
            guard path.count == 4, let id = Int64(path[2]), id > 0,
                  (try? await self.hub.meetings.get(id: id)) ?? nil != nil else {
                try await Hub.refuse(outbound, inbound, reason: "no such meeting")
                return
            }
            try await self.serve(meeting: id, claims: claims, inbound: inbound, outbound: outbound)
        }
    }

    func serve(meeting id: Int64, claims: TokenClaims, inbound: WebSocketInboundStream,
               outbound: WebSocketOutboundWriter) async throws {
        let connection = nextConnection.wrappingAdd(1, ordering: .relaxed).oldValue
        let isChair = claims.role == .chair || claims.role == .admin
        let now = hub.clock()
        // Join, or take over the seat of an earlier connection of the same subject.
        let outcome = rooms.withLock { all -> (admitted: Bool, replaced: Bool) in
            var room = all[id] ?? Room()
            if room.locked, !isChair, room.participants[claims.sub] == nil { return (false, false) }
            let replaced = room.participants[claims.sub] != nil
            var seat = room.participants[claims.sub] ?? Participant(role: claims.role, connection: connection, joinedAt: now)
            seat.connection = connection
            seat.disconnected = false
            room.participants[claims.sub] = seat
            all[id] = room
            return (true, replaced)
        }
        guard outcome.admitted else {
            try await Hub.refuse(outbound, inbound, reason: "the room is locked by the chair")
            return
        }
        if outcome.replaced {
            hub.events.publish(HubMessage.encode(RoomMessage.Notice(type: "replaced", message: "you joined again from another connection")),
                               to: Self.channel(id, claims.sub))
        } else {
            _ = try? await hub.meetings.join(meetingID: id, participant: claims.sub, role: claims.role.rawValue, now: now)
        }
        let (roomSub, roomMailbox) = hub.events.subscribe(channel: Self.channel(id))
        let (ownSub, ownMailbox) = hub.events.subscribe(channel: Self.channel(id, claims.sub))
        startSpeakerTask(id)
        logger.info("joined meeting room", metadata: ["meeting": "\(id)", "subject": "\(claims.sub)", "rejoin": "\(outcome.replaced)"])
        try await outbound.write(.text(HubMessage.encode(RoomMessage.Joined(meeting: id, you: claims.sub, role: claims.role.rawValue,
                                                                            stream: Self.stream(meeting: id, subject: claims.sub)))))
        broadcastRoster(id)
        defer {
            hub.events.unsubscribe(channel: Self.channel(id), id: roomSub)
            hub.events.unsubscribe(channel: Self.channel(id, claims.sub), id: ownSub)
        }
        var failure: (any Error)?
        do {
            try await relay(roomMailbox, ownMailbox, inbound, outbound, meeting: id, claims: claims, connection: connection)
        } catch {
            failure = error
        }
        if leaving.withLock({ $0.remove(connection) != nil }) {
            await leave(meeting: id, subject: claims.sub, connection: connection)
        } else {
            await hold(meeting: id, subject: claims.sub, connection: connection)
        }
        if let failure { throw failure }
    }

    /// Carries one socket: room and own messages out, requests in, until either side ends.
    func relay(_ roomMailbox: AsyncStream<String>, _ ownMailbox: AsyncStream<String>, _ inbound: WebSocketInboundStream,
               _ outbound: WebSocketOutboundWriter, meeting id: Int64, claims: TokenClaims, connection: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { for await text in roomMailbox { try await outbound.write(.text(text)) } }
            group.addTask {
                for await text in ownMailbox {
                    try await outbound.write(.text(text))
                    if text.contains(#""type":"ended""#) { self.leaving.withLock { _ = $0.insert(connection) } }
                    if text.contains(#""type":"replaced""#) || text.contains(#""type":"ended""#) {
                        try await outbound.close(.normalClosure, reason: "replaced or ended")
                        return
                    }
                }
            }
            group.addTask {
                for try await message in inbound.messages(maxSize: 262_144) {
                    guard case .text(let text) = message else {
                        try await outbound.write(.text(HubMessage.error("send JSON text messages, not binary")))
                        continue
                    }
                    if let reply = await self.handle(text, meeting: id, claims: claims, connection: connection) {
                        try await outbound.write(.text(reply))
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// A socket closed without `leave` (a network drop): the seat, its published stream, hand
    /// and mute wait `seatGrace` for the same subject to connect again, then are given up.
    func hold(meeting id: Int64, subject: String, connection: Int) async {
        let held = rooms.withLock { all -> Bool in
            guard all[id]?.participants[subject]?.connection == connection else { return false }
            all[id]?.participants[subject]?.disconnected = true
            return true
        }
        guard held else { return }
        logger.info("room connection dropped; seat kept", metadata: ["meeting": "\(id)", "subject": "\(subject)", "for": "\(seatGrace)"])
        let grace = seatGrace
        Task { [weak self] in
            try? await Task.sleep(for: grace)
            await self?.leave(meeting: id, subject: subject, connection: connection, onlyIfDisconnected: true)
        }
    }

    /// Removes the participant if this connection still holds its seat (and, with
    /// `onlyIfDisconnected`, nobody reconnected to it).
    func leave(meeting id: Int64, subject: String, connection: Int, onlyIfDisconnected: Bool = false) async {
        let own = Self.stream(meeting: id, subject: subject)
        var downlink: Downlink?
        let left = rooms.withLock { all -> (left: Bool, publishing: String?, mix: MeetingMix?, listeners: [String], last: Bool) in
            guard var room = all[id], let seat = room.participants[subject], seat.connection == connection,
                  seat.disconnected || !onlyIfDisconnected else {
                return (false, nil, nil, [], false)
            }
            room.participants.removeValue(forKey: subject)
            downlink = room.downlinks.removeValue(forKey: subject)
            room.detector.remove(own)
            if room.spotlight == subject { room.spotlight = nil }
            let listeners = room.participants.filter { $0.value.mixed }.map { Self.stream(meeting: id, subject: $0.key) }
            if room.participants.isEmpty {
                room.speakerTask?.cancel()
                all.removeValue(forKey: id)
            } else {
                all[id] = room
            }
            return (true, seat.publishing, room.mix, listeners, room.participants.isEmpty)
        }
        guard left.left else { return }
        if let session = left.publishing {
            _ = await sessions.close(kind: "whip", stream: own, id: session)
        }
        if let peer = downlink?.peerID {
            await sessions.media.perform { router, _, out in router.removePeer(id: peer, reason: "left the meeting", out: out) }
        }
        if let mix = left.mix {
            mix.peers.map.withLock { $0[own] = nil }
            mix.mixer.setListeners(left.listeners)
            mix.mixer.removeSource(own)
            if left.last { await stopMix(mix, meeting: id) }
        }
        _ = try? await hub.meetings.leave(meetingID: id, participant: subject, now: hub.clock())
        logger.info("left meeting room", metadata: ["meeting": "\(id)", "subject": "\(subject)"])
        broadcastRoster(id)
        await renegotiateDownlinks(id)
    }

    /// Stops a meeting's mix: its clock, the copies of audio, the local stream.
    func stopMix(_ mix: MeetingMix, meeting id: Int64) async {
        mix.stop()
        let prefix = "m\(id)-", stream = mix.stream
        await sessions.media.perform { router, _, _ in
            for activity in router.audioActivity() where activity.stream.hasPrefix(prefix) {
                router.setAudioSink(stream: activity.stream, nil)
                router.setVideoSink(stream: activity.stream, nil)
            }
            router.setLocalStream(stream, tracks: nil)
        }
        logger.info("meeting mix stopped", metadata: ["meeting": "\(id)"])
    }

    /// `mode`: `mixed` gives the participant one mix-minus audio stream of the meeting's loudest
    /// speakers (then `subscribe` to `"mix"`); `forwarded` returns to per-participant streams.
    func setMode(_ message: RoomMessage.Request, meeting id: Int64, claims: TokenClaims) async -> String? {
        guard let mode = message.mode, mode == "mixed" || mode == "forwarded" else {
            return HubMessage.error(#"mode needs "mode": "mixed" or "forwarded""#)
        }
        let mixed = mode == "mixed"
        var created: MeetingMix?
        if mixed, rooms.withLock({ $0[id]?.mix == nil }) {
            do {
                created = try MeetingMix(meeting: id, speakers: loudestAudio > 0 ? loudestAudio : 3, video: mixVideo, media: sessions.media)
            } catch {
                return HubMessage.error("cannot start the meeting's mixer: \(error)")
            }
        }
        let state = rooms.withLock { all -> (mix: MeetingMix?, listeners: [String], publishing: [String], isNew: Bool) in
            guard var room = all[id], room.participants[claims.sub] != nil else { return (nil, [], [], false) }
            room.participants[claims.sub]?.mixed = mixed
            var isNew = false
            if room.mix == nil, let created {
                room.mix = created
                isNew = true
            }
            all[id] = room
            let listeners = room.participants.filter { $0.value.mixed }.map { Self.stream(meeting: id, subject: $0.key) }
            let publishing = room.participants.filter { $0.value.publishing != nil }.map { Self.stream(meeting: id, subject: $0.key) }
            return (room.mix, listeners, publishing, isNew)
        }
        if let mix = state.mix {
            mix.mixer.setListeners(state.listeners)
            if !mixed { mix.peers.map.withLock { $0[Self.stream(meeting: id, subject: claims.sub)] = nil } }
            if state.isNew {
                let stream = mix.stream, publishing = state.publishing
                let compositor = mix.compositor
                await sessions.media.perform { router, _, _ in
                    router.setLocalStream(stream, tracks: MeetingMix.tracks) { compositor.requestKeyframe() }
                    for source in publishing {
                        router.setAudioSink(stream: source, mix.mixer)
                        router.setVideoSink(stream: source, compositor)
                    }
                }
                mix.start()
                logger.info("meeting mix started", metadata: ["meeting": "\(id)", "speakers": "\(max(1, loudestAudio))"])
            }
        }
        broadcastRoster(id)
        return HubMessage.encode(RoomMessage.Mode(mode: mode))
    }

    /// Handles one message; returns the reply to this client, if any.
    func handle(_ text: String, meeting id: Int64, claims: TokenClaims, connection: Int) async -> String? {
        let message: RoomMessage.Request
        do { message = try JSONDecoder().decode(RoomMessage.Request.self, from: Data(text.utf8)) } catch {
            return HubMessage.error(#"expected a JSON object with a "type" (docs/protocol.md)"#)
        }
        let isChair = claims.role == .chair || claims.role == .admin
        func chairOnly() -> String? {
            isChair ? nil : HubMessage.error("only the chair may \(message.type)")
        }
        switch message.type {
        case "ping":
            return #"{"type":"pong"}"#
        case "leave":
            leaving.withLock { _ = $0.insert(connection) }
            return #"{"type":"bye"}"#
        case "mute":
            guard let muted = message.audio else { return HubMessage.error(#"mute needs "audio": true or false"#) }
            update(id) { $0.participants[claims.sub]?.audioMuted = muted }
        case "hand":
            guard let raised = message.raised else { return HubMessage.error(#"hand needs "raised": true or false"#) }
            update(id) { $0.participants[claims.sub]?.hand = raised }
        case "mute_participant", "spotlight", "lock", "end":
            if let refusal = chairOnly() { return refusal }
            return await chairControl(message, meeting: id, chair: claims.sub)
        case "publish" where message.session != nil:
            return await restartPublish(message, meeting: id, claims: claims)
        case "publish", "subscribe":
            return await negotiate(message, meeting: id, claims: claims)
        case "layer" where message.participant != nil && message.session == nil:
            return await capDownlinkLayer(message, meeting: id, claims: claims)
        case "layer":
            return await chooseLayer(message, claims: claims)
        case "downlink":
            return await requestDownlink(message, meeting: id, claims: claims)
        case "answer":
            return await answerDownlink(message, meeting: id, claims: claims)
        case "restart":
            return await restartDownlink(message, meeting: id, claims: claims)
        case "mode":
            return await setMode(message, meeting: id, claims: claims)
        default:
            return HubMessage.error("unknown message type '\(message.type.prefix(40))' (docs/protocol.md lists them)")
        }
        return nil
    }

    func chairControl(_ message: RoomMessage.Request, meeting id: Int64, chair: String) async -> String? {
        switch message.type {
        case "mute_participant":
            guard let target = message.participant, let muted = message.muted else {
                return HubMessage.error(#"mute_participant needs "participant" and "muted""#)
            }
            guard update(id, { room -> Bool in
                guard room.participants[target] != nil else { return false }
                room.participants[target]?.mutedByChair = muted
                return true
            }) else { return HubMessage.error("'\(target.prefix(64))' is not in the room") }
            let stream = Self.stream(meeting: id, subject: target)
            _ = await sessions.media.perform { router, _, _ in router.setAudioMuted(stream: stream, muted) }
            hub.events.publish(HubMessage.encode(RoomMessage.MutedByChair(muted: muted, by: chair)), to: Self.channel(id, target))
            logger.notice("participant muted by the chair", metadata: ["meeting": "\(id)", "participant": "\(target)", "muted": "\(muted)"])
        case "spotlight":
            if let target = message.participant {
                guard update(id, { room -> Bool in
                    guard room.participants[target] != nil else { return false }
                    room.spotlight = target
                    return true
                }) else { return HubMessage.error("'\(target.prefix(64))' is not in the room") }
            } else {
                update(id) { $0.spotlight = nil }
            }
        case "lock":
            guard let locked = message.locked else { return HubMessage.error(#"lock needs "locked": true or false"#) }
            update(id) { $0.locked = locked }
        default: // end
            hub.events.publish(HubMessage.encode(RoomMessage.Notice(type: "ended", message: "the chair ended the meeting")),
                               to: Self.channel(id))
            let subjects = rooms.withLock { Array(($0[id]?.participants ?? [:]).keys) }
            for subject in subjects {
                hub.events.publish(HubMessage.encode(RoomMessage.Notice(type: "ended", message: "the chair ended the meeting")),
                                   to: Self.channel(id, subject))
            }
            logger.notice("meeting ended by the chair", metadata: ["meeting": "\(id)", "chair": "\(chair)"])
        }
        return nil
    }

    /// The rank of a `layer` field (nil when absent), or an error reply.
    static func layerRank(_ message: RoomMessage.Request) -> Result<Int?, RoomError> {
        guard let name = message.layer else { return .success(nil) }
        guard let rank = RoomMessage.layers.firstIndex(of: name) else {
            return .failure(RoomError(#"layer: one of "low", "medium", "high""#))
        }
        return .success(rank)
    }

    /// `layer`: caps the simulcast layer of one of the sender's receiving sessions (a thumbnail
    /// or the main view); the relay still goes lower when the link needs it.
    func chooseLayer(_ message: RoomMessage.Request, claims: TokenClaims) async -> String? {
        guard let session = message.session, message.layer != nil else { return HubMessage.error(#"layer needs "session" and "layer""#) }
        let rank: Int?
        switch Self.layerRank(message) {
        case .success(let value): rank = value
        case .failure(let error): return HubMessage.error(error.message)
        }
        guard let peer = sessions.peerID(session: session, kind: "whep", subject: claims.sub) else {
            return HubMessage.error("no receiving session '\(session.prefix(64))' of yours")
        }
        _ = await sessions.media.perform { router, _, _ in router.setMaxLayer(peer: peer, rank: rank) }
        return nil
    }

    /// `publish`: the participant's own stream; `subscribe`: another participant's stream.
    func negotiate(_ message: RoomMessage.Request, meeting id: Int64, claims: TokenClaims) async -> String? {
        let publishing = message.type == "publish"
        if publishing, claims.role == .observer { return HubMessage.error("an observer does not publish") }
        guard let sdp = message.sdp else { return HubMessage.error("\(message.type) needs \"sdp\": the offer") }
        let layer: Int?
        switch Self.layerRank(message) {
        case .success(let value): layer = value
        case .failure(let error): return HubMessage.error(error.message)
        }
        let target = publishing ? claims.sub : (message.participant ?? "")
        let toMix = !publishing && target == "mix"
        if toMix {
            guard rooms.withLock({ $0[id]?.participants[claims.sub]?.mixed == true }) else {
                return HubMessage.error(#"subscribe to "mix" needs mixed mode first: {"type": "mode", "mode": "mixed"}"#)
            }
        } else {
            guard publishing || rooms.withLock({ $0[id]?.participants[target] != nil }) else {
                return HubMessage.error("'\(target.prefix(64))' is not in the room")
            }
        }
        let offer: SessionDescription
        do { offer = try SessionDescription(parsing: sdp) } catch {
            return HubMessage.error("malformed SDP offer: \(error)")
        }
        let stream = toMix ? MeetingMix.stream(meeting: id) : Self.stream(meeting: id, subject: target)
        do throws(PlainError) {
            let (session, answer) = try await sessions.open(kind: publishing ? "whip" : "whep", stream: stream, offer: offer, claims: claims)
            if publishing {
                let mutedByChair = update(id) { room -> Bool in
                    room.participants[claims.sub]?.publishing = session
                    return room.participants[claims.sub]?.mutedByChair ?? false
                }
                Task { await self.renegotiateDownlinks(id) }
                if mutedByChair { _ = await sessions.media.perform { router, _, _ in router.setAudioMuted(stream: stream, true) } }
                if let mix = rooms.withLock({ $0[id]?.mix }) {
                    _ = await sessions.media.perform { router, _, _ in
                        router.setAudioSink(stream: stream, mix.mixer)
                        router.setVideoSink(stream: stream, mix.compositor)
                    }
                }
            } else if toMix, let peer = sessions.peerID(session: session, kind: "whep", subject: claims.sub),
                      let mix = rooms.withLock({ $0[id]?.mix }) {
                mix.peers.map.withLock { $0[Self.stream(meeting: id, subject: claims.sub)] = peer }
            } else if let layer, let peer = sessions.peerID(session: session, kind: "whep", subject: claims.sub) {
                _ = await sessions.media.perform { router, _, _ in router.setMaxLayer(peer: peer, rank: layer) }
            }
            return HubMessage.encode(RoomMessage.Answer(type: "answer", request: message.type, participant: target,
                                                        stream: stream, session: session, sdp: answer.serialize()))
        } catch {
            return HubMessage.error("\(message.type): \(error.message)")
        }
    }

    /// The counters of every meeting's audio mixer running now (for /metrics).
    func mixerCounters() -> [AudioMixerCounters] {
        rooms.withLock { all in all.values.compactMap { $0.mix?.mixer.counters } }
    }

    /// Changes a room and sends everyone the new roster; returns what `change` returns.
    @discardableResult
    func update<T>(_ id: Int64, _ change: (inout Room) -> T) -> T {
        let result = rooms.withLock { all -> T in
            var room = all[id] ?? Room()
            let result = change(&room)
            all[id] = room
            return result
        }
        broadcastRoster(id)
        return result
    }

    func roster(_ id: Int64) -> RoomMessage.Roster? {
        rooms.withLock { all -> RoomMessage.Roster? in
            guard let room = all[id] else { return nil }
            var people: [RoomMessage.Roster.Entry] = []
            for (subject, p) in room.participants {
                people.append(RoomMessage.Roster.Entry(subject: subject, role: p.role.rawValue, audio_muted: p.audioMuted,
                                                       muted_by_chair: p.mutedByChair, hand: p.hand, publishing: p.publishing != nil,
                                                       stream: Self.stream(meeting: id, subject: subject), joined_at: p.joinedAt,
                                                       mode: p.mixed ? "mixed" : "forwarded", link: Nullable(p.link)))
            }
            people.sort { (a: RoomMessage.Roster.Entry, b: RoomMessage.Roster.Entry) -> Bool in
                a.joined_at != b.joined_at ? a.joined_at < b.joined_at : a.subject < b.subject
            }
            return RoomMessage.Roster(participants: people, locked: room.locked, spotlight: Nullable(room.spotlight), speaker: Nullable(room.speaker))
        }
    }

    func broadcastRoster(_ id: Int64) {
        refreshLayout(id)
        guard let roster = roster(id) else { return }
        hub.events.publish(HubMessage.encode(roster), to: Self.channel(id))
    }

    /// The composed video's layout: the spotlight (else the chair) large, the active speaker small.
    func refreshLayout(_ id: Int64) {
        let layout = rooms.withLock { all -> (mix: MeetingMix, main: String?, inset: String?)? in
            guard let room = all[id], let mix = room.mix else { return nil }
            let chair = room.participants.filter { $0.value.role == .chair || $0.value.role == .admin }
                .min { $0.value.joinedAt < $1.value.joinedAt }?.key
            let main = room.spotlight ?? chair
            return (mix, main.map { Self.stream(meeting: id, subject: $0) }, room.speaker.map { Self.stream(meeting: id, subject: $0) })
        }
        guard let layout else { return }
        layout.mix.compositor.setLayout(main: layout.main, inset: layout.inset)
    }

    /// Re-evaluates the room's active speaker on a steady tick from the relay's audio levels.
    func startSpeakerTask(_ id: Int64) {
        rooms.withLock { all in
            guard all[id]?.speakerTask == nil else { return }
            all[id]?.speakerTask = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: self?.speakerTick ?? .milliseconds(200))
                    await self?.tickSpeaker(id)
                }
            }
        }
    }

    func tickSpeaker(_ id: Int64) async {
        let prefix = "m\(id)-"
        let activity = await sessions.media.perform { router, _, _ in router.audioActivity() }
        var levels: [String: (level: UInt8, voice: Bool)] = [:]
        for a in activity where a.stream.hasPrefix(prefix) && !a.muted { if let level = a.level { levels[a.stream] = (level, a.voice) } }
        let (changed, loudest) = rooms.withLock { all -> (String?, [String]) in
            guard var room = all[id] else { return (nil, []) }
            defer { all[id] = room }
            let floor = room.detector.update(levels: levels)
            let loudest = room.detector.loudest(loudestAudio)
            guard let stream = floor,
                  let subject = room.participants.keys.first(where: { Self.stream(meeting: id, subject: $0) == stream }) else {
                return (nil, loudest)
            }
            room.speaker = subject
            room.recentSpeakers.removeAll { $0 == subject }
            room.recentSpeakers.insert(subject, at: 0)
            if room.recentSpeakers.count > 64 { room.recentSpeakers.removeLast() }
            return (subject, loudest)
        }
        if lastN > 0 { await applyLastN(id) }
        await refreshLinks(id)
        if loudestAudio > 0 {
            let gates = Self.audioGates(streams: activity.map(\.stream).filter { $0.hasPrefix(prefix) }, loudest: loudest,
                                        current: Dictionary(activity.map { ($0.stream, $0.gated) }, uniquingKeysWith: { a, _ in a }))
            if !gates.isEmpty {
                _ = await sessions.media.perform { router, _, _ in
                    for (stream, gated) in gates { router.setAudioGated(stream: stream, gated) }
                }
            }
        }
        if let changed {
            refreshLayout(id)
            hub.events.publish(HubMessage.encode(RoomMessage.Speaker(participant: changed)), to: Self.channel(id))
        }
    }
}

extension MeetingRooms {
    /// Every 2 s, reads each publishing participant's upstream loss and jitter from the relay;
    /// the roster goes out again when one changed noticeably (2 % loss, 10 ms jitter).
    func refreshLinks(_ id: Int64) async {
        let due = rooms.withLock { all -> Bool in
            guard var room = all[id] else { return false }
            room.ticksSinceLinks += 1
            let due = speakerTick * room.ticksSinceLinks >= .seconds(2)
            if due { room.ticksSinceLinks = 0 }
            all[id] = room
            return due
        }
        guard due else { return }
        // The catch-all for downlinks: a publisher that vanished without leaving (a timeout).
        await renegotiateDownlinks(id)
        let prefix = "m\(id)-"
        let quality = await sessions.media.perform { router, _, _ in router.upstreamQuality() }.filter { $0.stream.hasPrefix(prefix) }
        let byStream = Dictionary(quality.map { ($0.stream, $0) }, uniquingKeysWith: { a, _ in a })
        let changed = rooms.withLock { all -> Bool in
            guard var room = all[id] else { return false }
            var changed = false
            for (subject, seat) in room.participants {
                let q = byStream[Self.stream(meeting: id, subject: subject)]
                let link = q.map { RoomMessage.Link(loss: ($0.loss * 1000).rounded() / 1000, jitter_ms: ($0.jitterMilliseconds * 10).rounded() / 10) }
                if Self.differs(seat.link, link) { changed = true }
                room.participants[subject]?.link = link
            }
            all[id] = room
            return changed
        }
        if changed { broadcastRoster(id) }
    }

    /// True when two link readings differ enough to tell everyone.
    static func differs(_ a: RoomMessage.Link?, _ b: RoomMessage.Link?) -> Bool {
        switch (a, b) {
        case (nil, nil): return false
        case (let a?, let b?): return abs(a.loss - b.loss) >= 0.02 || abs(a.jitter_ms - b.jitter_ms) >= 10
        default: return true
        }
    }

    /// Holds back the video of every publishing participant who is not among the room's
    /// last-N speakers, the chair or the spotlight; lets the others through.
    func applyLastN(_ id: Int64) async {
        let plan = rooms.withLock { all -> (publishing: [(subject: String, joinedAt: Int64)], recent: [String], always: Set<String>)? in
            guard let room = all[id] else { return nil }
            let publishing = room.participants.filter { $0.value.publishing != nil }.map { ($0.key, $0.value.joinedAt) }
            var always = Set(room.participants.filter { $0.value.role == .chair || $0.value.role == .admin }.keys)
            if let spotlight = room.spotlight { always.insert(spotlight) }
            return (publishing, room.recentSpeakers, always)
        }
        guard let plan else { return }
        let prefix = "m\(id)-"
        let current = Set(await sessions.media.perform { router, _, _ in router.videoGatedStreams() }.filter { $0.hasPrefix(prefix) })
        let gates = Self.videoGates(publishing: plan.publishing, recent: plan.recent, always: plan.always, lastN: lastN)
        var changes: [(String, Bool)] = []
        for (subject, gated) in gates {
            let stream = Self.stream(meeting: id, subject: subject)
            if current.contains(stream) != gated { changes.append((stream, gated)) }
        }
        guard !changes.isEmpty else { return }
        let apply = changes
        await sessions.media.perform { router, now, out in
            for (stream, gated) in apply { router.setVideoGated(stream: stream, gated, now: now, out: out) }
        }
    }

    /// Last-N: which publishing participants' video is held back. The N most recent speakers
    /// are let through — topped up in joining order while fewer than N have spoken — and so
    /// are `always` (the chair, the spotlight).
    static func videoGates(publishing: [(subject: String, joinedAt: Int64)], recent: [String], always: Set<String>,
                           lastN: Int) -> [String: Bool] {
        let present = Set(publishing.map(\.subject))
        var open = Array(recent.filter { present.contains($0) && !always.contains($0) }.prefix(lastN))
        for candidate in publishing.sorted(by: { ($0.joinedAt, $0.subject) < ($1.joinedAt, $1.subject) })
        where open.count < lastN && !always.contains(candidate.subject) && !open.contains(candidate.subject) {
            open.append(candidate.subject)
        }
        let through = Set(open).union(always)
        return Dictionary(uniqueKeysWithValues: publishing.map { ($0.subject, !through.contains($0.subject)) })
    }

    /// The gate changes that forward only the `loudest` streams' audio: every other stream of
    /// the room is held back. Returns only streams whose gate must change.
    static func audioGates(streams: [String], loudest: [String], current: [String: Bool]) -> [String: Bool] {
        var changes: [String: Bool] = [:]
        let open = Set(loudest)
        for stream in streams {
            let gated = !open.contains(stream)
            if current[stream] != gated { changes[stream] = gated }
        }
        return changes
    }
}

/// The room protocol's messages (docs/protocol.md).
enum RoomMessage {
    struct Request: Decodable {
        var type: String
        var audio: Bool?
        var raised: Bool?
        var participant: String?
        var muted: Bool?
        var locked: Bool?
        var sdp: String?
        /// `subscribe` and `layer`: the highest simulcast layer wanted (`low`, `medium`, `high`).
        var layer: String?
        /// `layer`: the receiving session to change.
        var session: String?
        /// `mode`: `mixed` or `forwarded`.
        var mode: String?
        /// `downlink`: whom to watch, `"all"` or a list of subjects.
        var participants: WatchList?
        /// `answer`: the revision of the offer answered.
        var revision: Int?
    }

    /// `"all"` or a list of subjects; anything else is kept as `invalid` (an error reply, not
    /// a failed decoding of the whole message).
    enum WatchList: Decodable {
        case all
        case subjects([String])
        case invalid

        init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            if let text = try? value.decode(String.self) {
                self = text == "all" ? .all : .invalid
            } else if let list = try? value.decode([String].self) {
                self = .subjects(list)
            } else {
                self = .invalid
            }
        }
    }

    struct Mode: Encodable {
        let type = "mode"
        let mode: String
    }

    /// A participant's upstream as the relay sees it.
    struct Link: Encodable, Sendable, Equatable {
        /// Fraction of packets lost in the last second (0–1).
        let loss: Double
        /// Interarrival jitter in ms.
        let jitter_ms: Double
    }

    /// Simulcast layer names and their rank (0 = lowest).
    static let layers = ["low", "medium", "high"]

    struct Joined: Encodable {
        let type = "joined"
        let meeting: Int64
        let you: String
        let role: String
        let stream: String
    }

    struct Roster: Encodable {
        struct Entry: Encodable {
            let subject: String
            let role: String
            let audio_muted: Bool
            let muted_by_chair: Bool
            let hand: Bool
            let publishing: Bool
            let stream: String
            let joined_at: Int64
            /// `forwarded` or `mixed`.
            let mode: String
            /// The publishing link's loss and jitter as the relay sees them, null before any.
            let link: Nullable<Link>
        }
        let type = "roster"
        let participants: [Entry]
        let locked: Bool
        let spotlight: Nullable<String>
        let speaker: Nullable<String>
    }

    struct MutedByChair: Encodable {
        let type = "muted"
        let muted: Bool
        let by: String
    }

    struct Speaker: Encodable {
        let type = "speaker"
        let participant: String
    }

    struct Notice: Encodable {
        let type: String
        let message: String
    }

    struct Answer: Encodable {
        let type: String
        let request: String
        let participant: String
        let stream: String
        let session: String
        let sdp: String
    }
}

/// A room request that cannot be carried out: its reason goes back as an `error` message.
struct RoomError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
