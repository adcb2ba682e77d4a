/// `a=ssrc:<ssrc-id> <attribute>[:<value>]` (RFC 5576 §4.1): a source-level attribute,
/// e.g. `a=ssrc:204916583 cname:TA85wn1Mmg38hfak` or `a=ssrc:204916583 msid:<stream> <track>`.
public struct SDPSSRCAttribute: SDPTypedAttribute, Hashable {
    /// The attribute name, `ssrc`.
    public static let attributeName = "ssrc"
    /// The synchronization source the attribute describes.
    public var ssrc: UInt32
    /// The source attribute name, e.g. `cname`, `msid`.
    public var name: String
    /// The text after the source attribute's colon (may contain spaces), or nil.
    public var value: String?

    /// Creates a source attribute.
    public init(ssrc: UInt32, name: String, value: String? = nil) {
        self.ssrc = ssrc
        self.name = name
        self.value = value
    }

    /// Parses `<ssrc> <attribute>[:<value>]`.
    public init(attributeValue: String?) throws(WireError) {
        let (id, rest) = SDPText.head(try SDPText.required(attributeValue))
        ssrc = try SDPText.number(id)
        if let parts = SDPText.cut(rest, at: 0x3A) {
            name = try SDPText.token(parts.before)
            value = String(parts.after)
        } else {
            name = try SDPText.token(rest)
            value = nil
        }
    }

    /// `<ssrc> <attribute>[:<value>]`.
    public var attributeValue: String? {
        var text = "\(ssrc) \(name)"
        if let value { text += ":" + value }
        return text
    }
}
