/// One participant of a meeting room as the roster describes it (docs/protocol.md).
public struct RoomParticipant: Sendable, Equatable, Decodable {
    /// The token's subject: who this is.
    public var subject: String
    /// `chair`, `admin`, `commune` or `observer`.
    public var role: String
    /// The participant muted its own microphone.
    public var audioMuted: Bool
    /// The chair holds this participant's audio back at the relay.
    public var mutedByChair: Bool
    /// A raised hand.
    public var hand: Bool
    /// The participant publishes media on `stream`.
    public var publishing: Bool
    /// The relay stream the participant publishes on.
    public var stream: String
    /// When the participant took its seat (ms since 1970, the server's clock).
    public var joinedAt: Int64

    /// A roster entry.
    public init(subject: String, role: String, audioMuted: Bool = false, mutedByChair: Bool = false, hand: Bool = false,
                publishing: Bool = false, stream: String = "", joinedAt: Int64 = 0) {
        self.subject = subject
        self.role = role
        self.audioMuted = audioMuted
        self.mutedByChair = mutedByChair
        self.hand = hand
        self.publishing = publishing
        self.stream = stream
        self.joinedAt = joinedAt
    }

    enum CodingKeys: String, CodingKey {
        case subject, role, hand, publishing, stream
        case audioMuted = "audio_muted", mutedByChair = "muted_by_chair", joinedAt = "joined_at"
    }
}

/// What a room client knows of its room: who we are, the last roster, the speaker, and
/// counts of what happened since it started.
public struct RoomView: Sendable, Equatable {
    /// The meeting, once joined.
    public var meeting: Int64 = 0
    /// Our subject, once joined.
    public var you = ""
    /// Our role, once joined.
    public var role = ""
    /// The stream we publish on.
    public var stream = ""
    /// The last roster, in join order.
    public var participants: [RoomParticipant] = []
    /// Nobody new may join.
    public var locked = false
    /// Everyone's main view, chosen by the chair.
    public var spotlight: String?
    /// The active speaker.
    public var speaker: String?
    /// The chair holds our audio back.
    public var mutedByChair = false
    /// `joined` messages received: 1, plus one per reconnect.
    public var joins = 0
    /// `speaker` messages received.
    public var speakerChanges = 0
    /// `muted` messages received (the chair muted or released us).
    public var mutedEvents = 0
    /// `unmute_requested` messages received (the chair asked us to turn the microphone on).
    public var unmuteRequests = 0
    /// Rosters received.
    public var rosterUpdates = 0
    /// Errors the server sent that answered no request of ours.
    public var errors = 0
    /// Why the room ended for us (ended by the chair, replaced, refused), nil while in it.
    public var ended: String?
    /// The node holding the room, as the last `joined` said; when it changes (another node
    /// took the room over, or the node restarted) our media sessions are gone with the old one.
    public var node = ""
    /// `joined` messages from a node other than the one before.
    public var nodeChanges = 0
    /// `moved` messages followed (the room was held by another node).
    public var moves = 0
    /// The base URL of the node we are connected to (or connecting to).
    public var server = ""

    /// Nothing known yet.
    public init() {}

    /// Our own roster entry.
    public var me: RoomParticipant? { participants.first { $0.subject == you } }

    /// The roster entry of `subject`.
    public func participant(_ subject: String) -> RoomParticipant? { participants.first { $0.subject == subject } }
}

/// What a room client reports as it happens.
public enum RoomEvent: Sendable, Equatable {
    /// The server seated us; `rejoin` after a reconnect.
    case joined(rejoin: Bool)
    /// A new roster.
    case roster
    /// The active speaker changed.
    case speaker(String)
    /// The chair muted (true) or released (false) our audio.
    case muted(Bool, by: String)
    /// The socket was lost; the client reconnects unless `RoomView.ended` is set.
    case disconnected(String)
    /// The room is over for us (ended by the chair, replaced by another connection of ours,
    /// refused, or too many failed reconnects): the reason.
    case ended(String)
    /// An error from the server that answered no request of ours.
    case error(String)
    /// The relay offers (or offers again) our downlink: answer it.
    case offer(RoomOffer)
    /// The chair asks us to turn our microphone on.
    case unmuteRequested(by: String)
}

/// A downlink offer from the relay (docs/protocol.md, "One connection down").
public struct RoomOffer: Sendable, Equatable {
    /// One sending m-line: whose stream, which kind.
    public struct Track: Sendable, Equatable, Decodable {
        public var mid: String
        public var participant: String
        public var stream: String
        public var kind: String
    }
    /// The downlink session.
    public var session: String
    /// The offer's revision (answers name it).
    public var revision: Int
    /// The SDP offer.
    public var sdp: String
    /// The sending m-lines.
    public var tracks: [Track]
}

/// The relay's answer to a `publish` or `subscribe` sent over the room socket.
public struct RoomAnswer: Sendable, Equatable {
    /// Whose stream it is.
    public var participant: String
    /// The relay stream.
    public var stream: String
    /// The relay's session id.
    public var session: String
    /// The SDP answer.
    public var sdp: String
}

/// Every message the server sends, decoded loosely (fields by message type, docs/protocol.md).
struct RoomServerMessage: Decodable {
    var type: String
    var meeting: Int64?
    var you: String?
    var role: String?
    var stream: String?
    var participants: [RoomParticipant]?
    var locked: Bool?
    var spotlight: String?
    var speaker: String?
    var request: String?
    var participant: String?
    var session: String?
    var sdp: String?
    var muted: Bool?
    var by: String?
    var message: String?
    var revision: Int?
    var tracks: [RoomOffer.Track]?
    var node: String?
    var nodes: [String]?
    var url: String?
}
