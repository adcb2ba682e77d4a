import Foundation

/// The room protocol's messages (docs/protocol.md).
enum RoomMessage {
    /// `"all"` or a list of subjects; anything else is kept as `invalid` (an error reply, not
    /// a failed decoding of the whole message).
    enum WatchList: Decodable {
        case all
        case subjects([String])
        case invalid

        init(from decoder: any Decoder) throws {
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

    struct Mode: Encodable {
        let type = "mode"
        let mode: String
    }

    /// A participant's upstream as the relay sees it.
    struct Link: Encodable, Sendable, Equatable {
        /// Fraction of packets lost in the last second (0–1).
        let loss: Double
        /// Interarrival jitter in ms.
        let jitter_ms: Double
    }

    /// Simulcast layer names and their rank (0 = lowest).
    static let layers = ["low", "medium", "high"]

    struct Joined: Encodable {
        let type = "joined"
        let meeting: Int64
        let you: String
        let role: String
        let stream: String
    }

    struct Roster: Encodable {
        struct Entry: Encodable {
            let subject: String
            let role: String
            let audio_muted: Bool
            let muted_by_chair: Bool
            let hand: Bool
            let publishing: Bool
            let stream: String
            let joined_at: Int64
            /// `forwarded` or `mixed`.
            let mode: String
            /// The publishing link's loss and jitter as the relay sees them, null before any.
            let link: Nullable<Link>
        }
        let type = "roster"
        let participants: [Entry]
        let locked: Bool
        let spotlight: Nullable<String>
        let speaker: Nullable<String>
    }

    struct MutedByChair: Encodable {
        let type = "muted"
        let muted: Bool
        let by: String
    }

    /// To one participant: the chair asks them to turn their microphone on.
    struct UnmuteRequested: Encodable {
        let type = "unmute_requested"
        let by: String
    }

    struct Speaker: Encodable {
        let type = "speaker"
        let participant: String
    }

    struct Notice: Encodable {
        let type: String
        let message: String
    }

    struct Answer: Encodable {
        let type: String
        let request: String
        let participant: String
        let stream: String
        let session: String
        let sdp: String
    }
}

/// A room request that cannot be carried out: its reason goes back as an `error` message.
struct RoomError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
