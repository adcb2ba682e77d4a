/// A session description (RFC 8866 §5): the session-level lines and the media sections.
///
/// Parse with `init(parsing:)` from a `String` or from raw bytes (validated as UTF-8);
/// write with `serialize()`. Attributes keep their order and text, so serializing a parsed
/// description gives back the input with CRLF line endings when the input's lines are in
/// RFC order. Known WebRTC attributes are checked while parsing, so the typed accessors
/// (`SDPAttributed`) see every one of them on a parsed description.
///
/// This is a value type built of `String`s and arrays: SDP is exchanged once per session,
/// never on the packet path.
public struct SessionDescription: Sendable, Hashable, SDPAttributed, CustomStringConvertible {
    /// The `v=` protocol version; always 0 (RFC 8866 §5.1).
    public var version: Int
    /// The `o=` line.
    public var origin: SDPOrigin
    /// The `s=` session name; JSEP uses `-`.
    public var sessionName: String
    /// The `i=` session information.
    public var information: String?
    /// The `u=` URI.
    public var uri: String?
    /// The `e=` email addresses.
    public var emails: [String]
    /// The `p=` phone numbers.
    public var phones: [String]
    /// The session-level `c=` line.
    public var connection: SDPConnection?
    /// The session-level `b=` lines.
    public var bandwidths: [SDPBandwidth]
    /// The `t=` lines with their `r=` lines.
    public var timings: [SDPTiming]
    /// The `z=` time-zone adjustments, verbatim.
    public var timeZones: String?
    /// The obsolete session-level `k=` line, verbatim.
    public var encryptionKey: String?
    /// The session-level `a=` lines in order.
    public var attributes: [SDPAttribute]
    /// The media sections in order.
    public var media: [MediaDescription]

    /// Creates a description with JSEP's fixed lines (`v=0`, `s=-`, `t=0 0`).
    public init(
        origin: SDPOrigin, sessionName: String = "-", timings: [SDPTiming] = [SDPTiming()],
        attributes: [SDPAttribute] = [], media: [MediaDescription] = []
    ) {
        version = 0
        self.origin = origin
        self.sessionName = sessionName
        information = nil
        uri = nil
        emails = []
        phones = []
        connection = nil
        bandwidths = []
        self.timings = timings
        timeZones = nil
        encryptionKey = nil
        self.attributes = attributes
        self.media = media
    }

    /// The media section whose `a=mid` is `mid`.
    public func media(mid: String) -> MediaDescription? {
        media.first { $0.mid == mid }
    }

    /// The canonical text, as `serialize()`.
    public var description: String { serialize() }
}
