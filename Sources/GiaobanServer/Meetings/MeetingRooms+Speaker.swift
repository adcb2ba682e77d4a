import GiaobanEngine

/// The active speaker (docs/protocol.md, "Active speaker"; docs/architecture.md, "The path of
/// the active speaker"): each room is a stream group on the media thread, which decides the
/// speaker from the members' levels and applies the K loudest audio and last-N video gates
/// itself. The room keeps the group's members and rules current and follows its
/// `speakerChanged` events: the roster's speaker, the `speaker` message, the mix's layout.
extension MeetingRooms {
    /// The name of meeting `id`'s stream group in the media plane.
    static func group(meeting id: Int64) -> String { "m\(id)" }

    /// The meeting whose stream group is `group`; nil for any other group.
    static func meeting(group: String) -> Int64? {
        guard group.hasPrefix("m"), let id = Int64(group.dropFirst()), id > 0 else { return nil }
        return id
    }

    /// How often each room's upstream links are read (`refreshLinks`).
    static let linksInterval: Duration = .seconds(2)

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

    /// What runs beside an open room: its stream group (created here, kept current by
    /// `syncGroup`) and the link readings every `linksInterval`.
    func startRoom(_ id: Int64) {
        rooms.withLock { all in
            guard all[id] != nil, all[id]?.linksTask == nil else { return }
            all[id]?.linksTask = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.linksInterval)
                    await self?.refreshLinks(id)
                }
            }
        }
        syncGroup(id)
    }

    /// Ends what `startRoom` started; called inside the rooms lock as the last participant
    /// leaves, so that a room opened again right after gets its group back in order.
    func stopRoom(_ id: Int64, _ room: Room) {
        room.linksTask?.cancel()
        sessions.media.enqueue(.removeGroup(id: Self.group(meeting: id)))
    }

    /// Tells the media plane the room's group as the room is now: its rules (the chair and the
    /// spotlight always forwarded) and its members, the publishing participants' streams in
    /// joining order. Queued inside the rooms lock, so the media thread sees the changes in
    /// the order they were made; what did not change changes nothing there.
    func syncGroup(_ id: Int64) {
        rooms.withLock { all in
            guard let room = all[id], !room.participants.isEmpty else { return }
            let group = Self.group(meeting: id)
            sessions.media.enqueue(.setGroup(id: group, settings: groupSettings(room, meeting: id)))
            sessions.media.enqueue(.setGroupMembers(id: group, streams: Self.groupMembers(room, meeting: id)))
        }
    }

    /// The group's rules for `room`: the speaker tick, K loudest, last-N, and the streams
    /// last-N never holds back (every chair and admin, the spotlight).
    func groupSettings(_ room: Room, meeting id: Int64) -> StreamGroup.Settings {
        var settings = StreamGroup.Settings()
        settings.interval = speakerTick
        settings.loudestAudio = loudestAudio
        settings.lastN = lastN
        var always = Set(room.participants.filter { $0.value.role == .chair || $0.value.role == .admin }.keys)
        if let spotlight = room.spotlight { always.insert(spotlight) }
        settings.alwaysForwarded = Set(always.map { Self.stream(meeting: id, subject: $0) })
        return settings
    }

    /// The group's members: the streams of the participants who publish, in joining order.
    static func groupMembers(_ room: Room, meeting id: Int64) -> [String] {
        room.participants.filter { $0.value.publishing != nil }
            .sorted { ($0.value.joinedAt, $0.key) < ($1.value.joinedAt, $1.key) }
            .map { stream(meeting: id, subject: $0.key) }
    }

    /// A media-plane event for the rooms: a group's new speaker becomes its room's speaker,
    /// everyone is told, the mix's layout follows. Runs on the media thread: quick, no waiting.
    func mediaEvent(_ event: MediaEvent) {
        guard case .speakerChanged(let group, let stream) = event, let id = Self.meeting(group: group) else { return }
        let subject = rooms.withLock { all -> String? in
            guard let subject = all[id]?.participants.keys.first(where: { Self.stream(meeting: id, subject: $0) == stream }) else {
                return nil
            }
            all[id]?.speaker = subject
            return subject
        }
        guard let subject else { return }
        refreshLayout(id)
        hub.events.publish(HubMessage.encode(RoomMessage.Speaker(participant: subject)), to: Self.channel(id))
    }
}
