package import GiaobanAuth

/// What `RoomState.handle(_:now:)` asks its owner to do: messages to sockets, the store, the
/// media plane, timers. The state machine does none of it itself.
package enum RoomAction: Sendable, Equatable {
    /// Send to one connection (a reply, `joined`).
    case reply(connection: Int, RoomOutbound)
    /// Send to the participant's socket, whichever connection holds the seat.
    case send(subject: String, RoomOutbound)
    /// Send to everyone in the room.
    case broadcast(RoomOutbound)
    /// Send `roster` after `after` (the roster debounce); then feed `rosterDue`.
    case scheduleRoster(after: Duration)
    /// Refuse a socket at the handshake: close with 1008 and the reason.
    case refuse(connection: Int, reason: String)
    /// Send the close's notice on the connection, then close it.
    case close(subject: String, connection: Int, RoomCloseReason)
    /// Feed `graceExpired` for this seat after `after`.
    case startGrace(subject: String, connection: Int, after: Duration)
    /// Attendance: a participant took a seat (not a reconnect).
    case recordJoin(subject: String, role: Role, at: Int64)
    /// Attendance: a participant gave its seat up.
    case recordLeave(subject: String, at: Int64)
    /// The room got its first participant: start the speaker tick.
    case opened
    /// The room's last participant left: stop its tick and mix, forget the room.
    case dissolved
    /// End the participant's publish session on the relay.
    case closePublisher(stream: String, session: String)
    /// Forget the participant's media in the room: its downlink peer, speaker levels, mix source.
    case forgetMedia(subject: String)
    /// Hold back (or release) a stream's audio at the relay.
    case setAudioMuted(stream: String, muted: Bool)
    /// Offer again to every downlink whose tracks changed.
    case renegotiateDownlinks
    /// Offer again to this participant's downlink, if it has one (its socket was replaced).
    case reofferDownlink(subject: String)
    /// The room's stream group: its members (publishers' streams, in joining order) and the
    /// streams last-N never holds back.
    case syncGroup(members: [String], alwaysForwarded: Set<String>)
    /// The composed video's layout: `main` large, `inset` small (streams).
    case setLayout(main: String?, inset: String?)
    /// A media request (publish, subscribe, layer, downlink, answer, restart, mode), carried out
    /// outside the state machine; its reply goes to the caller's connection.
    case media(RoomEvent.Caller, RoomRequest)
    /// Start (true) or stop the meeting's recording.
    case setRecording(Bool)
    /// Feed a directory camera's live stream into the room as `stream` (true), or stop (false).
    case feedCamera(camera: String, stream: String, on: Bool)
    /// A line for the log.
    case log(RoomLogEntry)
}

/// A log line the room asks for, with its metadata.
package struct RoomLogEntry: Sendable, Equatable {
    /// `notice` for the chair's actions, `info` otherwise.
    package let notice: Bool
    /// The line.
    package let message: String
    /// Its metadata.
    package let metadata: [String: String]
}
