import Foundation
import GiaobanCrypto
import GiaobanEngine
public import GiaobanMixer
public import GiaobanStore
import GiaobanWire
import Hummingbird
import HummingbirdWebSocket
public import Logging
import Synchronization
import GiaobanRTP
import GiaobanAuth
public import GiaobanHub
import GiaobanRooms

/// Meeting rooms over WebSocket: `GET /api/meetings/{id}/room` (docs/protocol.md). One
/// socket per participant carries the roster, chair controls, raised hands, the active
/// speaker, and the SDP of the participant's media sessions.
///
/// Media: a participant publishes on its own stream (`publish`, the client offers) and
/// receives what it watches on one connection down (`downlink`, the relay offers and
/// renegotiates; MeetingRooms+Downlink.swift), or per watched stream (`subscribe`, the client
/// offers).
///
/// State: each open room's seats, roster and chair controls are a `RoomState` owned by the
/// room's `RoomActor` (docs/architecture.md, "A meeting room's state"); this class keeps the
/// registry of rooms and what stays beside the state machine: media negotiation, downlinks,
/// the mix, link readings.
public final class MeetingRooms: Sendable {
    /// A participant's seat (the room's state machine owns it).
    typealias Participant = RoomState.Seat

    /// An open room in the registry: its actor, the copy of its state the actor writes after
    /// every event (read by the media side), and the media side's own state.
    struct Room: Sendable {
        /// The room's owner: seats, roster, chair controls, grace and roster timers.
        let actor: RoomActor
        /// The actor's state as of its latest event; only the actor writes it.
        var state: RoomState
        /// Reads the participants' upstream links every 2 s while the room is open.
        var linksTask: Task<Void, Never>?
        /// The audio mix, while someone is in mixed mode.
        var mix: MeetingMix?
        /// The recorder, while the meeting is being recorded.
        var recorder: MeetingRecorder?
        /// Each participant's one connection down, by subject.
        var downlinks: [String: Downlink] = [:]

        var participants: [String: Participant] { state.seats }
        var locked: Bool { state.locked }
        var spotlight: String? { state.spotlight }
        var speaker: String? { state.speaker }
    }

    let hub: Hub
    let sessions: RelaySessions
    let logger: Logger
    let rooms = Mutex<[Int64: Room]>([:])
    let nextConnection = Atomic<Int>(1)
    /// This node's claims on rooms when nodes share PostgreSQL (MeetingRooms+Homes.swift); nil on one node.
    let homes = Mutex<RoomHomes?>(nil)
    /// The id `joined` gives on one node: a restart changes it (the media sessions died with the process).
    let localNode = "local." + String(UInt32.random(in: 0...UInt32.max), radix: 16)
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
    /// Server-side recording of meetings (`meetings.record`, docs/recording.md).
    let recording: MeetingRecordingSettings
    /// Recording files that stopped because they could not be created or written (/metrics).
    let recordingWriteFailures = Atomic<Int>(0)
    /// The shortest time between two roster broadcasts of a room.
    let rosterInterval: Duration = .milliseconds(50)
    /// The relay's cameras, which the chair may put into a room (nil: none).
    let cameras = Mutex<CameraRelay?>(nil)
    /// Rooms other nodes hold whose participants this node serves (MeetingRooms+Proxy.swift).
    let proxied = Mutex<[Int64: ProxiedRoom]>([:])
    /// `cluster.proxy_rooms`: set, a participant of a room another node holds stays here.
    let proxySettings = Mutex<ProxySettings?>(nil)

    /// Lets chairs put the cameras of `relay` into rooms.
    public func attach(cameras relay: CameraRelay) { cameras.withLock { $0 = relay } }

    /// Rooms over `hub`'s meetings and `sessions`' media plane.
    public init(hub: Hub, sessions: RelaySessions, logger: Logger, speakerTick: Duration = .milliseconds(200),
                loudestAudio: Int = 3, mixVideo: VideoCompositor.Settings = .init(), lastN: Int = 0,
                seatGrace: Duration = .seconds(15), recording: MeetingRecordingSettings = .off) {
        self.recording = recording
        self.mixVideo = mixVideo
        self.lastN = lastN
        self.hub = hub
        self.sessions = sessions
        self.logger = logger
        self.speakerTick = speakerTick
        self.loudestAudio = loudestAudio
        self.seatGrace = seatGrace
        hub.roomOccupancy.withLock { $0 = { [weak self] id in self?.rooms.withLock { $0[id]?.state.seats.count } ?? 0 } }
        sessions.setGate { [weak self] kind, stream, claims in self?.admit(kind: kind, stream: stream, claims: claims) }
        sessions.media.onEvent { [weak self] event in self?.mediaEvent(event) }
    }

    static let roles: Set<Role> = [.chair, .admin, .commune, .observer]

    /// The media stream a participant publishes on (see `RoomStreams.name`).
    static func stream(meeting: Int64, subject: String) -> String { RoomStreams.name(meeting: meeting, subject: subject) }

    /// Who may open a media session on a meeting's legacy media room `meeting-<id>` (WHIP/WHEP,
    /// recorded in the roll call): never a camera, and while the chair has locked the room only
    /// the chair, an admin and those already seated.
    func admit(kind: String, stream: String, claims: TokenClaims) -> PlainError? {
        guard stream.hasPrefix("meeting-"), let id = Int64(stream.dropFirst("meeting-".count)), id > 0 else { return nil }
        if !Self.roles.contains(claims.role) {
            return PlainError(.forbidden, "role '\(claims.role.rawValue)' does not take part in meetings")
        }
        if claims.role == .chair || claims.role == .admin { return nil }
        let refused = rooms.withLock { all in all[id].map { !$0.state.admits(claims.sub, role: claims.role) } ?? false }
        return refused ? PlainError(.forbidden, "the room of meeting \(id) is locked by the chair") : nil
    }

    static func channel(_ meeting: Int64) -> String { "room-\(meeting)" }
    static func channel(_ meeting: Int64, _ subject: String) -> String { "room-\(meeting)/\(subject)" }

    func addRoutes(to router: Router<GiaobanRequestContext>) {
        addRecordingRoutes(to: router)
        hub.addSocket("/api/meetings/:id/room", to: router, roles: Self.roles, what: "the meeting room") { claims, inbound, outbound, context in
            let path = context.request.uri.path.split(separator: "/")
            guard path.count == 4, let id = Int64(path[2]), id > 0,
                  (try? await self.hub.meetings.get(id: id)) ?? nil != nil else {
                try await Hub.refuse(outbound, inbound, reason: "no such meeting")
                return
            }
            do throws(PlainError) { try self.hub.limit(.roomJoin, subject: claims.sub) } catch {
                try await Hub.refuse(outbound, inbound, reason: error.message)
                return
            }
            // On a cluster the room is held by one node: claim it, or send the participant there.
            let home: MeetingHome?
            do throws(StoreError) { home = try await self.home(of: id) } catch {
                self.logger.error("could not find which node holds a meeting room", metadata: ["meeting": "\(id)", "error": "\(error)"])
                try await Hub.refuse(outbound, inbound, reason: "the meeting room is unavailable (the database did not answer); try again")
                return
            }
            if let home {
                if let proxy = self.proxySettings.withLock({ $0 }) {
                    try await self.proxy(meeting: id, claims: claims, to: home, settings: proxy, inbound: inbound, outbound: outbound)
                } else {
                    try await Self.sendOn(outbound, inbound, meeting: id, to: home)
                }
                return
            }
            try await self.serve(meeting: id, claims: claims, inbound: inbound, outbound: outbound)
        }
    }

    func serve(meeting id: Int64, claims: TokenClaims, inbound: WebSocketInboundStream,
               outbound: WebSocketOutboundWriter) async throws {
        let caller = RoomEvent.Caller(subject: claims.sub, role: claims.role,
                                      connection: nextConnection.wrappingAdd(1, ordering: .relaxed).oldValue)
        // Subscribed before entering, so that nothing sent on entering (a new offer to a
        // reconnected downlink) is missed; written only after `joined`.
        let (roomSub, roomMailbox) = hub.events.subscribe(channel: Self.channel(id))
        let (ownSub, ownMailbox) = hub.events.subscribe(channel: Self.channel(id, claims.sub))
        defer {
            hub.events.unsubscribe(channel: Self.channel(id), id: roomSub)
            hub.events.unsubscribe(channel: Self.channel(id, claims.sub), id: ownSub)
        }
        let (outbox, continuation) = AsyncStream<RoomOutbound>.makeStream()
        // A chair or admin entering a room where none is seated starts the meeting (audit trail).
        let chairing = claims.role == .chair || claims.role == .admin
        let starts = chairing && !rooms.withLock { all in
            all[id]?.state.seats.values.contains { $0.role == .chair || $0.role == .admin } ?? false
        }
        // Join, or take over the seat of an earlier connection of the same subject.
        var entered: (room: RoomActor, replies: [RoomOutbound])?
        while entered == nil {
            let room = room(id)
            switch await room.enter(caller, outbox: continuation) {
            case .admitted(let replies): entered = (room, replies)
            case .refused(let reason):
                try await Hub.refuse(outbound, inbound, reason: reason)
                return
            case .retry: continue
            }
        }
        guard let (room, replies) = entered else { return }
        if starts { await hub.audit(claims, "meeting.start", target: "meeting/\(id)") }
        var failure: (any Error)?
        do {
            for reply in replies { try await outbound.write(.text(placed(reply).text)) }
            try await relay(roomMailbox, ownMailbox, outbox, inbound, outbound, room: room, meeting: id, claims: claims, caller: caller)
        } catch {
            failure = error
        }
        // After `leave` or `ended` the seat goes now; otherwise it waits `seatGrace`.
        await room.closed(subject: claims.sub, connection: caller.connection)
        if let failure { throw failure }
    }

    /// `joined` with the node holding the room and the nodes to reconnect to.
    func placed(_ reply: RoomOutbound) -> RoomOutbound {
        guard case .joined(var joined) = reply else { return reply }
        joined.node = nodeID
        joined.nodes = clusterNodes
        return .joined(joined)
    }

    /// Carries one socket: room, own and outbox messages out, requests in, until either side
    /// ends. The outbox's `replaced` or `ended` closes the socket.
    func relay(_ roomMailbox: AsyncStream<String>, _ ownMailbox: AsyncStream<String>, _ outbox: AsyncStream<RoomOutbound>,
               _ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter, room: RoomActor, meeting id: Int64,
               claims: TokenClaims, caller: RoomEvent.Caller) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { for await text in roomMailbox { try await outbound.write(.text(text)) } }
            group.addTask { for await text in ownMailbox { try await outbound.write(.text(text)) } }
            group.addTask {
                for await message in outbox {
                    try await outbound.write(.text(message.text))
                    if let reason = message.closes {
                        try await outbound.close(.normalClosure, reason: reason.closeReason)
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
                    for reply in await self.handle(text, room: room, meeting: id, claims: claims, caller: caller) {
                        try await outbound.write(.text(reply))
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Handles one message: the room's state machine first, then, for a media request, the
    /// negotiation beside it. Returns the replies to this client, in order.
    func handle(_ text: String, room: RoomActor, meeting id: Int64, claims: TokenClaims, caller: RoomEvent.Caller) async -> [String] {
        let event: RoomEvent
        let parsed = RoomRequest.parse(text)
        switch parsed {
        case .success(.camera(let camera, true)) where caller.isChair && !(cameras.withLock { $0 }?.streams(camera: camera) ?? false):
            return [HubMessage.error("camera '\(camera.prefix(64))' has no live stream: give it an rtsp_url in the directory (docs/cameras.md)")]
        case .success(let request): event = .request(caller, request)
        case .failure(let invalid): event = .invalid(caller, invalid)
        }
        let (replies, media) = await room.request(event, from: caller.connection)
        if case .success(let request) = parsed { await audit(request, replies: replies, meeting: id, claims: claims) }
        var texts = replies.map(\.text)
        if let media, let reply = await self.media(media, meeting: id, claims: claims) { texts.append(reply) }
        return texts
    }

    /// A media request (SDP, downlinks, layers, the mix), carried out beside the room's state
    /// machine; returns the reply, if any.
    func media(_ request: RoomRequest, meeting id: Int64, claims: TokenClaims) async -> String? {
        switch request {
        case .publish(let sdp, _):
            return await negotiate(publishing: true, target: claims.sub, sdp: sdp, layer: nil, meeting: id, claims: claims)
        case .subscribe(let participant, let sdp, let layer):
            return await negotiate(publishing: false, target: participant, sdp: sdp, layer: layer, meeting: id, claims: claims)
        case .restartPublish(let session, let sdp):
            return await restartPublish(session: session, sdp: sdp, meeting: id, claims: claims)
        case .sessionLayer(let session, let layer):
            return await chooseLayer(session: session, layer: layer, claims: claims)
        case .downlinkLayer(let participant, let layer):
            return await capDownlinkLayer(participant: participant, layer: layer, meeting: id, claims: claims)
        case .downlink(let watch):
            return await requestDownlink(watch: watch, meeting: id, claims: claims)
        case .answer(let session, let revision, let sdp):
            return await answerDownlink(session: session, revision: revision, sdp: sdp, meeting: id, claims: claims)
        case .restart(let session):
            return await restartDownlink(session: session, meeting: id, claims: claims)
        case .mode(let mixed):
            return await setMode(mixed: mixed, meeting: id, claims: claims)
        case .ping, .leave, .mute, .hand, .muteParticipant, .spotlight, .lock, .end, .askUnmute, .lowerHand, .record, .camera:
            return nil
        }
    }

    /// The counters of every meeting's audio mixer running now (for /metrics).
    func mixerCounters() -> [AudioMixerCounters] {
        rooms.withLock { all in all.values.compactMap { $0.mix?.mixer.counters } }
    }
}
