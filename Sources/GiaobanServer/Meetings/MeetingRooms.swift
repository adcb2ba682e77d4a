import Foundation
import GiaobanCrypto
import GiaobanEngine
public import GiaobanMixer
import GiaobanStore
import GiaobanWire
import Hummingbird
import HummingbirdWebSocket
public import Logging
import Synchronization
import GiaobanRTP

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
        /// Reads the participants' upstream links every 2 s while the room is open.
        var linksTask: Task<Void, Never>?
        /// The audio mix, while someone is in mixed mode.
        var mix: MeetingMix?
        /// A roster broadcast is on its way (changes until then go with it).
        var rosterScheduled = false
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
    /// The shortest time between two roster broadcasts of a room.
    let rosterInterval: Duration = .milliseconds(50)
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
        hub.roomOccupancy.withLock { $0 = { [weak self] id in self?.rooms.withLock { $0[id]?.participants.count } ?? 0 } }
        sessions.setGate { [weak self] kind, stream, claims in self?.admit(kind: kind, stream: stream, claims: claims) }
        sessions.media.onEvent { [weak self] event in self?.mediaEvent(event) }
    }

    static let roles: Set<Role> = [.chair, .admin, .commune, .observer]

    /// The media stream a participant publishes on: `m<meeting>-<subject>` for a subject of up
    /// to 48 letters, digits and '-'; any other subject gets `m<meeting>-_<32 hex digits>` of
    /// its SHA-256-based digest. The two forms cannot meet ('_' never starts a plain subject),
    /// so two subjects never share a stream.
    static func stream(meeting: Int64, subject: String) -> String {
        let plain = (1...48).contains(subject.utf8.count) && subject.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
        }
        if plain { return "m\(meeting)-\(subject)" }
        let digest = HMACSHA256.authenticationCode(key: Array("giaoban room stream".utf8), message: Array(subject.utf8))
        return "m\(meeting)-_" + digest.prefix(16).map { String($0, radix: 16).leftPadded(2) }.joined()
    }

    /// Who may open a media session on a meeting's legacy media room `meeting-<id>` (WHIP/WHEP,
    /// recorded in the roll call): never a camera, and while the chair has locked the room only
    /// the chair, an admin and those already seated.
    func admit(kind: String, stream: String, claims: TokenClaims) -> PlainError? {
        guard stream.hasPrefix("meeting-"), let id = Int64(stream.dropFirst("meeting-".count)), id > 0 else { return nil }
        if !Self.roles.contains(claims.role) {
            return PlainError(.forbidden, "role '\(claims.role.rawValue)' does not take part in meetings")
        }
        if claims.role == .chair || claims.role == .admin { return nil }
        let refused = rooms.withLock { all in all[id].map { $0.locked && $0.participants[claims.sub] == nil } ?? false }
        return refused ? PlainError(.forbidden, "the room of meeting \(id) is locked by the chair") : nil
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
        startRoom(id)
        logger.info("joined meeting room", metadata: ["meeting": "\(id)", "subject": "\(claims.sub)", "rejoin": "\(outcome.replaced)"])
        try await outbound.write(.text(HubMessage.encode(RoomMessage.Joined(meeting: id, you: claims.sub, role: claims.role.rawValue,
                                                                            stream: Self.stream(meeting: id, subject: claims.sub)))))
        broadcastRoster(id)
        if outcome.replaced, rooms.withLock({ $0[id]?.downlinks[claims.sub] != nil }) {
            // An offer sent while the old socket was going away may be lost: offer again.
            await offerDownlinks(meeting: id, subjects: [claims.sub], force: true)
        }
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
            if room.spotlight == subject { room.spotlight = nil }
            let listeners = room.participants.filter { $0.value.mixed }.map { Self.stream(meeting: id, subject: $0.key) }
            if room.participants.isEmpty {
                stopRoom(id, room)
                all.removeValue(forKey: id)
            } else {
                all[id] = room
            }
            return (true, seat.publishing, room.mix, listeners, room.participants.isEmpty)
        }
        guard left.left else { return }
        if let session = left.publishing {
            _ = try? await sessions.close(kind: "whip", stream: own, id: session)
        }
        if let peer = downlink?.peerID {
            await sessions.media.send(.removePeer(id: peer, reason: "left the meeting"))
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
        case "mute_participant", "spotlight", "lock", "end", "ask_unmute", "lower_hand":
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

    /// The counters of every meeting's audio mixer running now (for /metrics).
    func mixerCounters() -> [AudioMixerCounters] {
        rooms.withLock { all in all.values.compactMap { $0.mix?.mixer.counters } }
    }
}
