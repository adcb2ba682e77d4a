/// `a=rtcp-fb:<payload type|*> <type> [<subtype>]` (RFC 4585 §4.2), e.g.
/// `a=rtcp-fb:96 nack pli`, `a=rtcp-fb:96 ccm fir` (RFC 5104 §7.1), `a=rtcp-fb:* transport-cc`.
public struct SDPRTCPFeedback: SDPTypedAttribute, Hashable {
    /// The attribute name, `rtcp-fb`.
    public static let attributeName = "rtcp-fb"
    /// The payload type the feedback applies to, nil for `*` (every payload type).
    public var payloadType: UInt8?
    /// The feedback type, e.g. `nack`, `ccm`, `goog-remb`, `transport-cc`, `trr-int`.
    public var type: String
    /// The rest of the value after the type, e.g. `pli`, `fir`, or a `trr-int` interval.
    public var subtype: String?

    /// Creates a feedback line; `payloadType` nil means `*`.
    public init(payloadType: UInt8?, type: String, subtype: String? = nil) {
        self.payloadType = payloadType
        self.type = type
        self.subtype = subtype
    }

    /// Parses `<pt|*> <type> [<parameters>]`.
    public init(attributeValue: String?) throws(WireError) {
        let (format, rest) = SDPText.head(try SDPText.required(attributeValue))
        payloadType = format.utf8.elementsEqual("*".utf8) ? nil : try SDPText.payloadType(format)
        let (kind, parameters) = SDPText.head(rest)
        type = try SDPText.token(kind)
        subtype = parameters.isEmpty ? nil : String(parameters)
    }

    /// `<pt|*> <type>[ <subtype>]`.
    public var attributeValue: String? {
        var text = (payloadType.map { String($0) } ?? "*") + " " + type
        if let subtype { text += " " + subtype }
        return text
    }

    /// True when this line applies to `pt` (its own payload type or `*`).
    public func applies(to pt: UInt8) -> Bool { payloadType == nil || payloadType == pt }
}
