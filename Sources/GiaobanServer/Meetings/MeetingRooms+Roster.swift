import Foundation

/// Room state changes and the roster everyone receives (docs/protocol.md, "Server → client").
extension MeetingRooms {
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

    /// Sends everyone the roster, at most once per `rosterInterval`: changes in between (a
    /// burst of joins at the start of a briefing) go out together in the next one. The whole
    /// roster to everyone on every change would cost O(N²) per N joins. The room's stream group
    /// and the mix's layout follow every change at once.
    func broadcastRoster(_ id: Int64) {
        syncGroup(id)
        refreshLayout(id)
        let schedule = rooms.withLock { all -> Bool in
            guard all[id] != nil, all[id]?.rosterScheduled == false else { return false }
            all[id]?.rosterScheduled = true
            return true
        }
        guard schedule else { return }
        let interval = rosterInterval
        Task { [weak self] in
            try? await Task.sleep(for: interval)
            guard let self else { return }
            self.rooms.withLock { $0[id]?.rosterScheduled = false }
            guard let roster = self.roster(id) else { return }
            self.hub.events.publish(HubMessage.encode(roster), to: Self.channel(id))
        }
    }
}
