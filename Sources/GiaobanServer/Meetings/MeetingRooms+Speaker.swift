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

    /// What runs beside an open room: the link readings every `linksInterval`. (Its stream
    /// group is created and kept current by the room's `syncGroup` actions, `publish(_:of:actions:)`.)
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
    }

    /// Ends what `startRoom` started; called inside the rooms lock as the last participant
    /// leaves, so that a room opened again right after gets its group back in order.
    func stopRoom(_ id: Int64, _ room: Room) {
        room.linksTask?.cancel()
        sessions.media.enqueue(.removeGroup(id: Self.group(meeting: id)))
    }

    /// The group's rules: the speaker tick, K loudest, last-N, and the streams last-N never
    /// holds back (every chair and admin, the spotlight).
    func groupSettings(alwaysForwarded: Set<String>) -> StreamGroup.Settings {
        var settings = StreamGroup.Settings()
        settings.interval = speakerTick
        settings.loudestAudio = loudestAudio
        settings.lastN = lastN
        settings.alwaysForwarded = alwaysForwarded
        return settings
    }

    /// A media-plane event for the rooms: a group's new speaker becomes its room's speaker,
    /// everyone is told, the mix's layout follows. Runs on the media thread: quick, no waiting.
    func mediaEvent(_ event: MediaEvent) {
        guard case .speakerChanged(let group, let stream) = event, let id = Self.meeting(group: group) else { return }
        let room = rooms.withLock { all in
            all[id].flatMap { room in room.participants.keys.first { Self.stream(meeting: id, subject: $0) == stream }.map { (room.actor, $0) } }
        }
        guard let (actor, subject) = room else { return }
        // The room's actor takes it from here (the roster's speaker, `speaker`, the layout).
        Task { await actor.post(.speakerChanged(subject)) }
    }
}
