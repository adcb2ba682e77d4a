/// `a=simulcast:<send|recv> <streams>[ <recv|send> <streams>]` (RFC 8853 §5.1), e.g.
/// `a=simulcast:send q;h;f`. Streams are `;`-separated; each stream is a `,`-separated list
/// of alternative RIDs; `~` before a RID marks it paused.
public struct SDPSimulcast: SDPTypedAttribute, Hashable {
    /// The attribute name, `simulcast`.
    public static let attributeName = "simulcast"

    /// One RID in a simulcast stream's list of alternatives.
    public struct RID: Sendable, Hashable, CustomStringConvertible {
        /// The RID, matching an `a=rid` line of the section.
        public var id: String
        /// True when written with the `~` prefix: offered, but initially paused.
        public var paused: Bool

        /// Creates an entry.
        public init(_ id: String, paused: Bool = false) {
            self.id = id
            self.paused = paused
        }

        /// `[~]<rid>`.
        public var description: String { paused ? "~" + id : id }
    }

    /// The streams sent, in order; each holds one or more alternatives.
    public var send: [[RID]]
    /// The streams received, in order; each holds one or more alternatives.
    public var recv: [[RID]]

    /// Creates a simulcast description; at least one of the lists must be non-empty to write it.
    public init(send: [[RID]] = [], recv: [[RID]] = []) {
        self.send = send
        self.recv = recv
    }

    /// Creates a send-only simulcast of one RID per stream, e.g. `["q", "h", "f"]`.
    public init(sendRIDs: [String]) {
        self.init(send: sendRIDs.map { [RID($0)] })
    }

    /// Parses one or two `<dir> <list>` pairs with different directions.
    public init(attributeValue: String?) throws(WireError) {
        let f = SDPText.fields(try SDPText.required(attributeValue))
        guard f.count == 2 || f.count == 4 else { throw SDPText.error }
        var send: [[RID]]?
        var recv: [[RID]]?
        for pair in stride(from: 0, to: f.count, by: 2) {
            let list = try SDPSimulcast.parseList(f[pair + 1])
            switch f[pair] {
            case "send" where send == nil: send = list
            case "recv" where recv == nil: recv = list
            default: throw SDPText.error
            }
        }
        self.send = send ?? []
        self.recv = recv ?? []
    }

    /// `send <list>[ recv <list>]` (or `recv <list>` alone).
    public var attributeValue: String? {
        var parts: [String] = []
        if !send.isEmpty { parts.append("send " + SDPSimulcast.format(send)) }
        if !recv.isEmpty { parts.append("recv " + SDPSimulcast.format(recv)) }
        return parts.joined(separator: " ")
    }

    /// The first alternative of each sent stream, e.g. `["q", "h", "f"]`.
    public var sendRIDs: [String] { send.compactMap { $0.first?.id } }

    /// The first alternative of each received stream.
    public var recvRIDs: [String] { recv.compactMap { $0.first?.id } }

    /// Parses `sc-str-list`: streams separated by `;`, alternatives by `,`.
    static func parseList(_ text: Substring) throws(WireError) -> [[RID]] {
        var streams: [[RID]] = []
        for stream in SDPText.split(text, on: 0x3B) {
            var alternatives: [RID] = []
            for entry in SDPText.split(stream, on: 0x2C) {
                let paused = entry.utf8.first == 0x7E
                let id = paused ? entry[entry.utf8.index(after: entry.startIndex)...] : entry
                guard SDPRid.isRID(id) else { throw SDPText.error }
                alternatives.append(RID(String(id), paused: paused))
            }
            streams.append(alternatives)
        }
        return streams
    }

    /// Writes `sc-str-list`.
    static func format(_ streams: [[RID]]) -> String {
        streams.map { $0.map(\.description).joined(separator: ",") }.joined(separator: ";")
    }
}
