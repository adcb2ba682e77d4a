package import GiaobanAuth

/// Something that happened to a meeting room, fed to `RoomState.handle(_:now:)`.
package enum RoomEvent: Sendable {
    /// One socket of a participant: the subject, its token's role, and the connection's number.
    package struct Caller: Sendable, Equatable {
        /// The token's subject: the seat.
        package let subject: String
        /// The token's role (a reconnect may come with another token).
        package let role: Role
        /// The socket's number, unique in the process.
        package let connection: Int

        /// A caller: `subject` with `role` on socket `connection`.
        package init(subject: String, role: Role, connection: Int) {
            (self.subject, self.role, self.connection) = (subject, role, connection)
        }

        /// True for the chair and admins: they may use the chair's controls.
        package var isChair: Bool { role == .chair || role == .admin }
    }

    /// A socket was opened into the room.
    case join(Caller)
    /// A socket closed (or failed); whether the seat goes now depends on `leave`/`end` before.
    case socketClosed(subject: String, connection: Int)
    /// The seat grace of a dropped socket ran out.
    case graceExpired(subject: String, connection: Int)
    /// A decoded message from a participant.
    case request(Caller, RoomRequest)
    /// A message that could not be decoded or lacks a field.
    case invalid(Caller, RoomRequest.Invalid)
    /// The roster debounce ran out: time to send the roster.
    case rosterDue
    /// The active speaker moved to `subject`.
    case speakerChanged(String)
    /// The participant's publish session was opened (a chair's earlier mute applies to it).
    case published(subject: String, session: String)
    /// The participant's publish session is gone.
    case unpublished(subject: String)
    /// The participant switched between forwarded streams and the mix.
    case modeChanged(subject: String, mixed: Bool)
    /// The relay's reading of each publisher's upstream, by subject (nil: no media yet).
    case linksMeasured([String: RoomMessage.Link?])
    /// The room was taken over from a dead node: seat its participants again, each under the
    /// connection number given, waiting for their reconnect.
    case restore(RoomSnapshot, connections: [String: Int])
}
