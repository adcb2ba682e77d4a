import Foundation
package import GiaobanAuth

/// One message a participant sends on the room socket (docs/protocol.md, "Client → server"),
/// decoded from the JSON object's `type` with the fields that type needs.
///
/// A message that cannot be carried out as sent decodes to a `RoomRequest.Invalid` error whose
/// `message` is the reply's text; `reply(role:)` puts the role checks first, as the room does:
/// a commune sending `lock` without `locked` hears that only the chair may lock.
package enum RoomRequest: Decodable, Sendable, Equatable {
    /// The most subjects a `downlink` may name.
    static package let maxWatched = 64

    case ping
    case leave
    /// The sender's own microphone state, for the roster.
    case mute(audio: Bool)
    case hand(raised: Bool)
    /// Chair: hold back (or release) a participant's audio at the relay.
    case muteParticipant(String, muted: Bool)
    /// Chair: everyone's main view; nil clears it.
    case spotlight(String?)
    case lock(Bool)
    case end
    case askUnmute(String)
    case lowerHand(String)
    /// Publish the sender's own stream; `layer` is validated but has no effect.
    case publish(sdp: String, layer: Int?)
    /// An ICE restart of the sender's publish connection.
    case restartPublish(session: String, sdp: String)
    /// A receive-only connection for one participant's stream (or `"mix"`).
    case subscribe(participant: String, sdp: String, layer: Int?)
    /// The simulcast cap of one of the sender's receiving sessions.
    case sessionLayer(session: String, layer: Int)
    /// The simulcast cap of one participant's video on the sender's downlink.
    case downlinkLayer(participant: String, layer: Int)
    /// Whom the downlink watches: nil for everyone who publishes.
    case downlink(watch: [String]?)
    case answer(session: String, revision: Int, sdp: String)
    case restart(session: String)
    case mode(mixed: Bool)
    /// Chair: start (true) or stop the meeting's recording (`meetings.record = "on_request"`).
    case record(Bool)
    /// Chair: put a directory camera's live stream into the room as a participant that only
    /// publishes (true), or take it out.
    case camera(String, on: Bool)

    /// The message types only the chair (or an admin) may send.
    static package let chairOnly: Set<String> = ["mute_participant", "spotlight", "lock", "end", "ask_unmute", "lower_hand", "record", "camera"]

    /// The message's `type` as sent.
    package var type: String {
        switch self {
        case .ping: "ping"
        case .leave: "leave"
        case .mute: "mute"
        case .hand: "hand"
        case .muteParticipant: "mute_participant"
        case .spotlight: "spotlight"
        case .lock: "lock"
        case .end: "end"
        case .askUnmute: "ask_unmute"
        case .lowerHand: "lower_hand"
        case .publish, .restartPublish: "publish"
        case .subscribe: "subscribe"
        case .sessionLayer, .downlinkLayer: "layer"
        case .downlink: "downlink"
        case .answer: "answer"
        case .restart: "restart"
        case .mode: "mode"
        case .record: "record"
        case .camera: "camera"
        }
    }

    /// A message the room cannot carry out as sent: its type (nil when there is none) and the reply.
    package struct Invalid: Error, Equatable {
        /// The `type` as sent, when the message had one.
        package let type: String?
        /// The error reply's text.
        package let message: String
        /// True for `publish` without `session` (an observer's is refused before its fields are read).
        package var newPublish = false

        /// The reply for a sender of `role`: the role checks come before the fields.
        package func reply(role: Role) -> String {
            if let type, Self.isChair(role) == false, RoomRequest.chairOnly.contains(type) { return "only the chair may \(type)" }
            if newPublish, role == .observer { return "an observer does not publish" }
            return message
        }

        static package func isChair(_ role: Role) -> Bool { role == .chair || role == .admin }
    }

    /// Decodes one socket message.
    static package func parse(_ text: String) -> Result<RoomRequest, Invalid> {
        let fields: Fields
        do { fields = try JSONDecoder().decode(Fields.self, from: Data(text.utf8)) } catch {
            return .failure(Invalid(type: nil, message: #"expected a JSON object with a "type" (docs/protocol.md)"#))
        }
        return Result { try RoomRequest(fields) }.mapError { $0 as? Invalid ?? Invalid(type: fields.type, message: "\($0)") }
    }

    /// The rank of a `layer` name (0 = lowest).
    static package func layerRank(_ name: String?, type: String) throws(Invalid) -> Int? {
        guard let name else { return nil }
        guard let rank = RoomMessage.layers.firstIndex(of: name) else {
            throw Invalid(type: type, message: #"layer: one of "low", "medium", "high""#, newPublish: type == "publish")
        }
        return rank
    }

    /// Every field any message may carry; which ones a type needs is `init(_:)`'s business.
    package struct Fields: Decodable {
        package var type: String
        package var audio: Bool?
        package var raised: Bool?
        package var participant: String?
        package var muted: Bool?
        package var locked: Bool?
        package var sdp: String?
        package var layer: String?
        package var session: String?
        package var mode: String?
        package var participants: RoomMessage.WatchList?
        package var revision: Int?
        package var on: Bool?
        package var camera: String?
    }

    /// Decodes a message; a message that cannot be carried out throws `Invalid`.
    package init(from decoder: any Decoder) throws {
        try self.init(Fields(from: decoder))
    }

    private init(_ f: Fields) throws(Invalid) {
        func invalid(_ message: String) -> Invalid { Invalid(type: f.type, message: message) }
        switch f.type {
        case "ping": self = .ping
        case "leave": self = .leave
        case "mute":
            guard let audio = f.audio else { throw invalid(#"mute needs "audio": true or false"#) }
            self = .mute(audio: audio)
        case "hand":
            guard let raised = f.raised else { throw invalid(#"hand needs "raised": true or false"#) }
            self = .hand(raised: raised)
        case "mute_participant":
            guard let target = f.participant, let muted = f.muted else { throw invalid(#"mute_participant needs "participant" and "muted""#) }
            self = .muteParticipant(target, muted: muted)
        case "spotlight": self = .spotlight(f.participant)
        case "lock":
            guard let locked = f.locked else { throw invalid(#"lock needs "locked": true or false"#) }
            self = .lock(locked)
        case "end": self = .end
        case "ask_unmute":
            guard let target = f.participant else { throw invalid(#"ask_unmute needs "participant""#) }
            self = .askUnmute(target)
        case "lower_hand":
            guard let target = f.participant else { throw invalid(#"lower_hand needs "participant""#) }
            self = .lowerHand(target)
        case "publish" where f.session != nil:
            guard let session = f.session, let sdp = f.sdp else { throw invalid(#"publish needs "sdp": the offer"#) }
            self = .restartPublish(session: session, sdp: sdp)
        case "publish":
            guard let sdp = f.sdp else { throw Invalid(type: f.type, message: #"publish needs "sdp": the offer"#, newPublish: true) }
            self = .publish(sdp: sdp, layer: try Self.layerRank(f.layer, type: f.type))
        case "subscribe":
            guard let sdp = f.sdp else { throw invalid(#"subscribe needs "sdp": the offer"#) }
            self = .subscribe(participant: f.participant ?? "", sdp: sdp, layer: try Self.layerRank(f.layer, type: f.type))
        case "layer" where f.participant != nil && f.session == nil:
            guard let participant = f.participant, f.layer != nil else {
                throw invalid(#"layer needs "participant" (or "session") and "layer""#)
            }
            self = .downlinkLayer(participant: participant, layer: try Self.layerRank(f.layer, type: f.type) ?? 0)
        case "layer":
            guard let session = f.session, f.layer != nil else { throw invalid(#"layer needs "session" and "layer""#) }
            self = .sessionLayer(session: session, layer: try Self.layerRank(f.layer, type: f.type) ?? 0)
        case "downlink":
            switch f.participants {
            case .all?: self = .downlink(watch: nil)
            case .subjects(let list)? where list.count <= RoomRequest.maxWatched: self = .downlink(watch: list)
            default: throw invalid(#"downlink needs "participants": "all" or a list of at most 64 subjects"#)
            }
        case "answer":
            guard let session = f.session, let revision = f.revision, let sdp = f.sdp else {
                throw invalid(#"answer needs "session", "revision" and "sdp""#)
            }
            self = .answer(session: session, revision: revision, sdp: sdp)
        case "restart":
            guard let session = f.session else { throw invalid(#"restart needs "session""#) }
            self = .restart(session: session)
        case "mode":
            guard let mode = f.mode, mode == "mixed" || mode == "forwarded" else {
                throw invalid(#"mode needs "mode": "mixed" or "forwarded""#)
            }
            self = .mode(mixed: mode == "mixed")
        case "record":
            guard let on = f.on else { throw invalid(#"record needs "on": true or false"#) }
            self = .record(on)
        case "camera":
            guard let camera = f.camera, (1...64).contains(camera.count) else { throw invalid(#"camera needs "camera": a directory camera's id"#) }
            guard let on = f.on else { throw invalid(#"camera needs "on": true or false"#) }
            self = .camera(camera, on: on)
        default:
            throw invalid("unknown message type '\(f.type.prefix(40))' (docs/protocol.md lists them)")
        }
    }
}
