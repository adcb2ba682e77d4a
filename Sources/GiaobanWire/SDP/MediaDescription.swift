/// One media section (RFC 8866 §5.14): the `m=` line and the `i=`, `c=`, `b=`, `k=` and
/// `a=` lines that follow it up to the next `m=`.
///
/// Attributes keep their order and text; the typed accessors of `SDPAttributed` read and
/// write them (`mid`, `rtpMaps`, `candidates`, …).
public struct MediaDescription: Sendable, Hashable, SDPAttributed {
    /// The media type: `audio`, `video`, `application`, …
    public var media: String
    /// The transport port; 9 (discard) in JSEP offers, 0 for a rejected section.
    public var port: UInt16
    /// The `/<number of ports>` suffix, when present.
    public var portCount: UInt16?
    /// The transport protocol, e.g. `UDP/TLS/RTP/SAVPF` or `UDP/DTLS/SCTP`.
    public var proto: String
    /// The media formats in preference order: RTP payload types as decimal text, or other
    /// tokens such as `webrtc-datachannel`.
    public var formats: [String]
    /// The `i=` media title.
    public var information: String?
    /// The `c=` lines.
    public var connections: [SDPConnection]
    /// The `b=` lines.
    public var bandwidths: [SDPBandwidth]
    /// The obsolete `k=` line, verbatim.
    public var encryptionKey: String?
    /// The `a=` lines in order.
    public var attributes: [SDPAttribute]

    /// Creates a media section.
    public init(
        media: String, port: UInt16 = 9, portCount: UInt16? = nil, proto: String = "UDP/TLS/RTP/SAVPF",
        formats: [String] = [], information: String? = nil, connections: [SDPConnection] = [],
        bandwidths: [SDPBandwidth] = [], encryptionKey: String? = nil, attributes: [SDPAttribute] = []
    ) {
        self.media = media
        self.port = port
        self.portCount = portCount
        self.proto = proto
        self.formats = formats
        self.information = information
        self.connections = connections
        self.bandwidths = bandwidths
        self.encryptionKey = encryptionKey
        self.attributes = attributes
    }

    /// Parses the text after `m=`: `<media> <port>[/<count>] <proto> <fmt> [<fmt>…]`.
    public init(parsingMediaLine value: Substring) throws(WireError) {
        let f = SDPText.fields(value)
        guard f.count >= 4 else { throw SDPText.error }
        if let parts = SDPText.cut(f[1], at: 0x2F) {
            port = try SDPText.number(parts.before)
            portCount = try SDPText.number(parts.after)
        } else {
            port = try SDPText.number(f[1])
            portCount = nil
        }
        media = try SDPText.token(f[0])
        guard SDPText.split(f[2], on: 0x2F).allSatisfy(SDPText.isToken) else {
            throw SDPText.error
        }
        proto = String(f[2])
        var formats: [String] = []
        formats.reserveCapacity(f.count - 3)
        for format in f[3...] { formats.append(try SDPText.token(format)) }
        self.formats = formats
        information = nil
        connections = []
        bandwidths = []
        encryptionKey = nil
        attributes = []
    }

    /// The text after `m=`.
    public var mediaLine: String {
        var line = media + " " + String(port)
        if let portCount { line += "/" + String(portCount) }
        line += " " + proto
        for format in formats { line += " " + format }
        return line
    }

    /// The formats that are RTP payload types (0–127), in order.
    public var payloadTypes: [UInt8] {
        formats.compactMap { try? SDPText.payloadType($0[...]) }
    }

    /// True when the port is 0: the section is rejected or stopped (RFC 8829 §5.2.2).
    public var isRejected: Bool { port == 0 }
}
