import Logging
import GiaobanRooms

/// One meeting room's owner: it holds the room's `RoomState`, feeds it events one at a time
/// and carries out the actions it returns — messages to the sockets, attendance, the media
/// plane, the roster and seat-grace timers. After every event it writes a copy of the state
/// into the registry (`MeetingRooms.Room.state`), where the media side (downlinks, the mix,
/// the stream group) reads it.
actor RoomActor {
    /// The meeting.
    let id: Int64
    /// The registry and the media side; weak, so that a timer outliving the server is harmless.
    private weak let rooms: MeetingRooms?
    private var state: RoomState
    /// Each open socket's messages from the room that are not replies (`muted`, the close).
    private var outboxes: [Int: AsyncStream<RoomOutbound>.Continuation] = [:]
    /// The last participant left and the room was taken out of the registry: a socket that
    /// still finds this actor must ask the registry again.
    private var dissolved = false
    /// Another node holds the room now (`moveAway`).
    private var movedAway = false
    /// The room's state as last written for the other nodes of a cluster.
    private var saved: RoomSnapshot?

    /// What became of a socket that asked to enter.
    enum Entry: Sendable {
        /// Seated: the replies to write first (`joined`).
        case admitted([RoomOutbound])
        /// Refused at the handshake, with the reason.
        case refused(String)
        /// The room closed meanwhile: ask the registry for the room again.
        case retry
    }

    /// An empty room of meeting `id` under `rooms`' settings.
    init(id: Int64, rooms: MeetingRooms) {
        self.id = id
        self.rooms = rooms
        state = RoomState(meeting: id, seatGrace: rooms.seatGrace, rosterInterval: rooms.rosterInterval,
                          recordMode: rooms.recording.roomMode)
    }

    /// A socket asks to enter; `outbox` then carries the room's messages to it.
    func enter(_ caller: RoomEvent.Caller, outbox: AsyncStream<RoomOutbound>.Continuation) async -> Entry {
        guard !dissolved else { return .retry }
        let (replies, rest) = await handle(.join(caller), from: caller.connection, register: outbox)
        if case .refuse(_, let reason)? = rest.first { return .refused(reason) }
        return .admitted(replies)
    }

    /// A request from a seated socket: returns the replies to write, and the media request
    /// (publish, subscribe, downlink …) the socket's task carries out itself, if it is one.
    func request(_ event: RoomEvent, from connection: Int) async -> (replies: [RoomOutbound], media: RoomRequest?) {
        let (replies, rest) = await handle(event, from: connection)
        for case .media(_, let request) in rest { return (replies, request) }
        return (replies, nil)
    }

    /// A socket closed: its outbox ends, and the seat goes now or after the grace.
    func closed(subject: String, connection: Int) async {
        outboxes.removeValue(forKey: connection)?.finish()
        await post(.socketClosed(subject: subject, connection: connection))
    }

    /// Another node took the room over: every socket gets `message` (`moved`, which closes it),
    /// and from now on nothing is done for this room here (no attendance, no timers): its
    /// participants are in the room on the other node.
    func moveAway(_ message: RoomOutbound) {
        movedAway = true
        dissolved = true
        for outbox in outboxes.values { outbox.yield(message) }
    }

    /// Any other event: timers, the media plane's news (`published`, `speakerChanged` …).
    func post(_ event: RoomEvent) async {
        _ = await handle(event, from: nil)
    }

    /// Feeds `event`, writes the state's copy, carries out the actions. Replies to `connection`
    /// are returned, as are `refuse` and `media`; everything else is done here. Actions that
    /// need no waiting run first, in order, so that the registry's copy and the media plane's
    /// group see the changes in the order they were made.
    private func handle(_ event: RoomEvent, from connection: Int?,
                        register outbox: AsyncStream<RoomOutbound>.Continuation? = nil) async -> ([RoomOutbound], [RoomAction]) {
        guard let rooms, !movedAway else { return ([], []) }
        let actions = state.handle(event, now: rooms.hub.clock())
        let released = rooms.publish(state, of: self, actions: actions)
        if released.dissolved {
            dissolved = true
            let (rooms, id) = (rooms, id)
            Task { await rooms.releaseHome(id) }
        } else if rooms.homes.withLock({ $0 != nil }) {
            let snapshot = state.snapshot
            if snapshot != saved {
                saved = snapshot
                rooms.saveSnapshot(id, snapshot)
            }
        }
        if let outbox, let connection, state.seats.values.contains(where: { $0.connection == connection }) {
            outboxes[connection] = outbox
        }
        var replies: [RoomOutbound] = []
        var returned: [RoomAction] = []
        var later: [RoomAction] = []
        for action in actions {
            switch action {
            case .reply(let to, let message) where to == connection: replies.append(message)
            case .reply(let to, let message): outboxes[to]?.yield(message)
            case .send(let subject, let message):
                if let to = state.seats[subject]?.connection { outboxes[to]?.yield(message) }
            case .broadcast(let message): rooms.hub.events.publish(message.text, to: MeetingRooms.channel(id))
            case .close(_, let to, let reason): outboxes[to]?.yield(reason == .ended ? .ended : .replaced)
            case .scheduleRoster(let after):
                Task { [weak self] in
                    try? await Task.sleep(for: after)
                    await self?.post(.rosterDue)
                }
            case .startGrace(let subject, let connection, let after):
                Task { [weak self] in
                    try? await Task.sleep(for: after)
                    await self?.post(.graceExpired(subject: subject, connection: connection))
                }
            case .opened: rooms.startRoom(id)
            case .setLayout(let main, let inset): rooms.setLayout(id, main: main, inset: inset)
            case .syncGroup, .dissolved: break // done with the state's copy
            case .renegotiateDownlinks:
                let (rooms, id) = (rooms, id)
                Task { await rooms.renegotiateDownlinks(id) }
            case .log(let entry):
                rooms.logger.log(level: entry.notice ? .notice : .info, "\(entry.message)",
                                 metadata: entry.metadata.mapValues { .string($0) })
            case .refuse, .media: returned.append(action)
            case .feedCamera(let camera, let stream, let on):
                rooms.cameras.withLock { $0 }?.feed(camera: camera, stream: stream, on: on)
                if on { later.append(action) }
            case .recordJoin, .setRecording, .recordLeave, .closePublisher, .forgetMedia, .setAudioMuted, .reofferDownlink:
                later.append(action)
            }
        }
        for action in later {
            switch action {
            case .recordJoin(let subject, let role, let at):
                _ = try? await rooms.hub.meetings.join(meetingID: id, participant: subject, role: role.rawValue, now: at)
            case .recordLeave(let subject, let at):
                _ = try? await rooms.hub.meetings.leave(meetingID: id, participant: subject, now: at)
            case .closePublisher(let stream, let session): _ = try? await rooms.sessions.close(kind: "whip", stream: stream, id: session)
            case .setAudioMuted(let stream, let muted): await rooms.sessions.media.send(.setAudioMuted(stream: stream, muted: muted))
            case .reofferDownlink(let subject): await rooms.reofferDownlink(meeting: id, subject: subject)
            case .forgetMedia: await rooms.release(released, meeting: id)
            case .setRecording(let on): await rooms.setRecording(id, on: on)
            case .feedCamera(let camera, _, _):
                // The camera publishes in the room: downlinks, the mix and the recorder take it as any publisher.
                await rooms.cameraPublished(meeting: id, subject: camera)
            default: break
            }
        }
        return (replies, returned)
    }
}
