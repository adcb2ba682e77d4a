import GiaobanEngine
import GiaobanRooms

/// The registry of open rooms: each room's actor, the copy of its state the actor writes, and
/// what the media side does at once when that state changes.
extension MeetingRooms {
    /// The room of meeting `id`, opened (empty) on first use.
    func room(_ id: Int64) -> RoomActor {
        rooms.withLock { all in
            if let room = all[id] { return room.actor }
            let actor = RoomActor(id: id, rooms: self)
            all[id] = Room(actor: actor, state: RoomState(meeting: id, seatGrace: seatGrace, rosterInterval: rosterInterval,
                                                                          recordMode: recording.roomMode))
            return actor
        }
    }

    /// What the media side let go of when a room's state was written: the downlink peers and
    /// mix sources of participants who left, and the whole room when it emptied.
    struct Released: Sendable {
        /// The downlink peers to remove.
        var peers: [String] = []
        /// The streams of participants who left.
        var streams: [String] = []
        /// The mix's listeners now.
        var listeners: [String] = []
        /// The room's mix, if it has one.
        var mix: MeetingMix?
        /// The room's recorder, if it is being recorded.
        var recorder: MeetingRecorder?
        /// The room emptied and is out of the registry.
        var dissolved = false
    }

    /// Writes `state` as the copy of `actor`'s room, with what must follow inside the same lock:
    /// the stream group (`syncGroup` actions, queued in the order the changes were made), the
    /// downlinks of participants who left (`forgetMedia`), and the room's removal when empty.
    func publish(_ state: RoomState, of actor: RoomActor, actions: [RoomAction]) -> Released {
        let id = state.meeting
        return rooms.withLock { all in
            guard var room = all[id], room.actor === actor else { return Released() }
            room.state = state
            var released = Released(mix: room.mix, recorder: room.recorder)
            released.listeners = state.seats.filter { $0.value.mixed }.map { state.stream($0.key) }
            for action in actions {
                switch action {
                case .forgetMedia(let subject):
                    if let downlink = room.downlinks.removeValue(forKey: subject) { released.peers.append(downlink.peerID) }
                    released.streams.append(state.stream(subject))
                case .syncGroup(let members, let always):
                    let group = Self.group(meeting: id)
                    sessions.media.enqueue(.setGroup(id: group, settings: groupSettings(alwaysForwarded: always)))
                    sessions.media.enqueue(.setGroupMembers(id: group, streams: members))
                default: break
                }
            }
            if state.seats.isEmpty {
                stopRoom(id, room)
                all.removeValue(forKey: id)
                released.dissolved = true
            } else {
                all[id] = room
            }
            return released
        }
    }

    /// The media side of participants who left: their downlink peers and their place in the
    /// mix; the mix stops with the room.
    func release(_ released: Released, meeting id: Int64) async {
        for peer in released.peers {
            await sessions.media.send(.removePeer(id: peer, reason: "left the meeting"))
        }
        if let recorder = released.recorder { await releaseRecording(recorder, streams: released.streams, dissolved: released.dissolved) }
        guard let mix = released.mix, !released.streams.isEmpty else { return }
        for stream in released.streams {
            mix.peers.map.withLock { $0[stream] = nil }
            mix.setListeners(released.listeners)
            mix.mixer.removeSource(stream)
        }
        if released.dissolved { await stopMix(mix, meeting: id) }
    }

    /// The composed video's layout, when the room has a mix: `main` large, `inset` small.
    func setLayout(_ id: Int64, main: String?, inset: String?) {
        rooms.withLock { $0[id]?.mix }?.compositor.setLayout(main: main, inset: inset)
    }

    /// Offers again to `subject`'s downlink, if it has one (its socket was replaced: an offer
    /// sent while the old socket was going away may be lost).
    func reofferDownlink(meeting id: Int64, subject: String) async {
        guard rooms.withLock({ $0[id]?.downlinks[subject] != nil }) else { return }
        await offerDownlinks(meeting: id, subjects: [subject], force: true)
    }

    /// Tells room `id`'s actor of `event` (the media side's news: published, mode, links, speaker).
    func post(_ id: Int64, _ event: RoomEvent) async {
        guard let actor = rooms.withLock({ $0[id]?.actor }) else { return }
        await actor.post(event)
    }
}
