import Foundation
package import GiaobanHub

/// The room protocol's messages (docs/protocol.md).
package enum RoomMessage {
    /// `"all"` or a list of subjects; anything else is kept as `invalid` (an error reply, not
    /// a failed decoding of the whole message).
    package enum WatchList: Decodable {
        case all
        case subjects([String])
        case invalid

        package init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            if let text = try? value.decode(String.self) {
                self = text == "all" ? .all : .invalid
            } else if let list = try? value.decode([String].self) {
                self = .subjects(list)
            } else {
                self = .invalid
            }
        }
    }

    package struct Mode: Encodable {
        package let type = "mode"
        package let mode: String
    }

    /// A participant's upstream as the relay sees it.
    package struct Link: Encodable, Sendable, Equatable {
        /// Fraction of packets lost in the last second (0–1).
        package let loss: Double
        /// Interarrival jitter in ms.
        package let jitter_ms: Double

        /// A reading of `loss` (0–1) and `jitter_ms`.
        package init(loss: Double, jitter_ms: Double) { (self.loss, self.jitter_ms) = (loss, jitter_ms) }
    }

    /// Simulcast layer names and their rank (0 = lowest).
    static package let layers = ["low", "medium", "high"]

    package struct Joined: Encodable {
        package let type = "joined"
        package let meeting: Int64
        package let you: String
        package let role: String
        package let stream: String
        /// The node holding the room: it changes when another node takes the room over (or the
        /// node restarted), and then the participant's media must be set up again.
        package var node = ""
        /// The base URLs of the nodes a dropped socket may reconnect to, this one first.
        package var nodes: [String] = []
    }

    package struct Roster: Encodable {
        package struct Entry: Encodable {
            package let subject: String
            package let role: String
            package let audio_muted: Bool
            package let muted_by_chair: Bool
            package let hand: Bool
            package let publishing: Bool
            package let stream: String
            package let joined_at: Int64
            /// `forwarded` or `mixed`.
            package let mode: String
            /// The publishing link's loss and jitter as the relay sees them, null before any.
            package let link: Nullable<Link>
        }
        package let type = "roster"
        package let participants: [Entry]
        package let locked: Bool
        package let spotlight: Nullable<String>
        package let speaker: Nullable<String>
        /// The meeting is being recorded.
        package let recording: Bool
    }

    package struct MutedByChair: Encodable {
        package let type = "muted"
        package let muted: Bool
        package let by: String
    }

    /// To one participant: the chair asks them to turn their microphone on.
    package struct UnmuteRequested: Encodable {
        package let type = "unmute_requested"
        package let by: String
    }

    package struct Speaker: Encodable {
        package let type = "speaker"
        package let participant: String
    }

    package struct Notice: Encodable {
        package let type: String
        package let message: String
    }

    /// The room is held by another node: open it there (`url`, that node's base URL).
    package struct Moved: Encodable {
        package let type = "moved"
        package let meeting: Int64
        package let url: String
        package let node: String
        package let message = RoomCloseReason.moved.message

        package init(meeting: Int64, url: String, node: String) {
            (self.meeting, self.url, self.node) = (meeting, url, node)
        }
    }

    package struct Answer: Encodable {
        package let type: String
        package let request: String
        package let participant: String
        package let stream: String
        package let session: String
        package let sdp: String

        /// An answer (or offer) of `type` to `request` for `participant`'s `stream`.
        package init(type: String, request: String, participant: String, stream: String, session: String, sdp: String) {
            (self.type, self.request, self.participant, self.stream, self.session, self.sdp) = (type, request, participant, stream, session, sdp)
        }
    }
}

/// A room request that cannot be carried out: its reason goes back as an `error` message.
package struct RoomError: Error {
    package let message: String
    package init(_ message: String) { self.message = message }
}

extension RoomMessage.Link {
    /// True when two link readings differ enough to tell everyone.
    package static func differs(_ a: RoomMessage.Link?, _ b: RoomMessage.Link?) -> Bool {
        switch (a, b) {
        case (nil, nil): return false
        case (let a?, let b?): return abs(a.loss - b.loss) >= 0.02 || abs(a.jitter_ms - b.jitter_ms) >= 10
        default: return true
        }
    }
}
