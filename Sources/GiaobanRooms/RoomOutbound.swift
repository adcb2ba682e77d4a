import Foundation
package import GiaobanHub

/// A message the room sends a participant (docs/protocol.md, "Server → client"). The socket's
/// writer tells from the case, not the text, which ones end the connection (`closes`).
package enum RoomOutbound: Encodable, Sendable, Equatable {
    case joined(RoomMessage.Joined)
    case roster(RoomMessage.Roster)
    /// To one participant: the chair held back (or released) their audio.
    case muted(muted: Bool, by: String)
    /// To one participant: the chair asks them to turn their microphone on.
    case unmuteRequested(by: String)
    case speaker(String)
    /// The answer to `mode`.
    case mode(mixed: Bool)
    case answer(RoomMessage.Answer)
    /// Another connection of the same subject took the seat; a close follows.
    case replaced
    /// The chair ended the meeting; a close follows.
    case ended
    /// Another node holds the room now; a close follows, and the participant goes there.
    case moved(RoomMessage.Moved)
    case pong
    case bye
    case error(String)

    /// The close that follows this message, if it ends the connection.
    package var closes: RoomCloseReason? {
        switch self {
        case .replaced: .replaced
        case .ended: .ended
        case .moved: .moved
        default: nil
        }
    }

    /// The message as sent: JSON with sorted keys.
    package var text: String { HubMessage.encode(self) }

    /// Encodes as the protocol's JSON object.
    package func encode(to encoder: any Encoder) throws {
        switch self {
        case .joined(let value): try value.encode(to: encoder)
        case .roster(let value): try value.encode(to: encoder)
        case .muted(let muted, let by): try RoomMessage.MutedByChair(muted: muted, by: by).encode(to: encoder)
        case .unmuteRequested(let by): try RoomMessage.UnmuteRequested(by: by).encode(to: encoder)
        case .speaker(let subject): try RoomMessage.Speaker(participant: subject).encode(to: encoder)
        case .mode(let mixed): try RoomMessage.Mode(mode: mixed ? "mixed" : "forwarded").encode(to: encoder)
        case .answer(let value): try value.encode(to: encoder)
        case .replaced: try RoomMessage.Notice(type: "replaced", message: RoomCloseReason.replaced.message).encode(to: encoder)
        case .ended: try RoomMessage.Notice(type: "ended", message: RoomCloseReason.ended.message).encode(to: encoder)
        case .moved(let value): try value.encode(to: encoder)
        case .pong: try Bare(type: "pong").encode(to: encoder)
        case .bye: try Bare(type: "bye").encode(to: encoder)
        case .error(let message): try RoomMessage.Notice(type: "error", message: message).encode(to: encoder)
        }
    }

    /// Two messages are the same when they would be sent the same.
    static package func == (a: RoomOutbound, b: RoomOutbound) -> Bool { a.text == b.text }

    private struct Bare: Encodable {
        let type: String
    }
}

/// Why the room closes a participant's socket.
package enum RoomCloseReason: Sendable, Equatable {
    /// The same subject joined again from another connection.
    case replaced
    /// The chair ended the meeting.
    case ended
    /// Another node holds the room.
    case moved

    /// The text of the notice sent before the close.
    package var message: String {
        switch self {
        case .replaced: "you joined again from another connection"
        case .ended: "the chair ended the meeting"
        case .moved: "the meeting's room is held by another node: open it at this url"
        }
    }

    /// The WebSocket close reason.
    package var closeReason: String {
        switch self {
        case .replaced: "replaced"
        case .ended: "ended"
        case .moved: "moved"
        }
    }
}
