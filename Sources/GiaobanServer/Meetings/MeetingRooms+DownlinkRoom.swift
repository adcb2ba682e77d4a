import GiaobanRooms

/// What a participant's downlink is built from (MeetingRooms+Downlink.swift): who is seated,
/// who publishes, the downlinks themselves and the meeting's mix. A room this node holds is one
/// (`Room`); so is a room another node holds that this node passes sockets to
/// (`ProxiedRoom`, MeetingRooms+Proxy.swift), whose seats come from the holder's roster.
protocol DownlinkRoom: Sendable {
    /// The seats, by subject, as far as a downlink needs them.
    var downlinkSeats: [String: MeetingRooms.DownlinkSeat] { get }
    /// Each participant's one connection down, by subject.
    var downlinks: [String: MeetingRooms.Downlink] { get set }
    /// The audio mix, while someone is in mixed mode.
    var mix: MeetingMix? { get }
}

extension MeetingRooms {
    /// A seat as a downlink sees it.
    struct DownlinkSeat: Sendable, Equatable {
        /// The participant's publish session (on whichever node answered it), nil when not publishing.
        var publishing: String?
        var joinedAt: Int64
        var mixed: Bool
    }

    /// Runs `body` on the downlink side of room `id`: the room held here, else the room passed
    /// to another node; nil when this node has neither.
    func withDownlinkRoom<T>(_ id: Int64, _ body: (inout any DownlinkRoom) -> T) -> T? {
        var result: T?
        let held = rooms.withLock { all -> Bool in
            guard let room = all[id] else { return false }
            var host: any DownlinkRoom = room
            result = body(&host)
            if let room = host as? Room { all[id] = room }
            return true
        }
        if held { return result }
        proxied.withLock { all in
            guard let room = all[id] else { return }
            var host: any DownlinkRoom = room
            result = body(&host)
            if let room = host as? ProxiedRoom { all[id] = room }
        }
        return result
    }
}

extension MeetingRooms.Room: DownlinkRoom {
    var downlinkSeats: [String: MeetingRooms.DownlinkSeat] {
        state.seats.mapValues { .init(publishing: $0.publishing, joinedAt: $0.joinedAt, mixed: $0.mixed) }
    }
}
