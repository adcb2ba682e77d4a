/// `a=extmap:<id>[/<direction>] <URI> [<extension attributes>]` (RFC 8285 §8), mapping an
/// RTP header extension URI to the ID used in packets, e.g.
/// `a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid`.
public struct SDPExtMap: SDPTypedAttribute, Hashable {
    /// The attribute name, `extmap`.
    public static let attributeName = "extmap"
    /// The local identifier: 1–14 for one-byte headers, 1–255 for two-byte headers,
    /// 4096–4351 in offers that ask the answerer to choose (RFC 8285 §5).
    public var id: UInt16
    /// The direction qualifier, when present.
    public var direction: SDPDirection?
    /// The extension URI.
    public var uri: String
    /// The extension attributes after the URI, verbatim.
    public var extensionAttributes: String?

    /// Creates an extmap.
    public init(id: UInt16, uri: String, direction: SDPDirection? = nil, extensionAttributes: String? = nil) {
        self.id = id
        self.uri = uri
        self.direction = direction
        self.extensionAttributes = extensionAttributes
    }

    /// Parses `<id>[/<direction>] <URI> [<attributes>]`; the ID must be 1–4351.
    public init(attributeValue: String?) throws(WireError) {
        let (mapping, rest) = SDPText.head(try SDPText.required(attributeValue))
        if let parts = SDPText.cut(mapping, at: 0x2F) {
            id = try SDPText.number(parts.before)
            guard let d = SDPDirection(rawValue: String(parts.after)) else { throw SDPText.error }
            direction = d
        } else {
            id = try SDPText.number(mapping)
            direction = nil
        }
        guard id >= 1, id <= 4351 else { throw SDPText.error }
        let (uri, attributes) = SDPText.head(rest)
        guard !uri.isEmpty else { throw SDPText.error }
        self.uri = String(uri)
        extensionAttributes = attributes.isEmpty ? nil : String(attributes)
    }

    /// `<id>[/<direction>] <URI>[ <attributes>]`.
    public var attributeValue: String? {
        var text = String(id)
        if let direction { text += "/" + direction.rawValue }
        text += " " + uri
        if let extensionAttributes { text += " " + extensionAttributes }
        return text
    }
}

/// Well-known header extension URIs used by WebRTC endpoints.
public enum SDPExtensionURI {
    /// RTP stream ID carrying the mid of the section (RFC 8843 §15.1).
    public static let mid = "urn:ietf:params:rtp-hdrext:sdes:mid"
    /// RTP stream ID, the `rid` of a simulcast encoding (RFC 8852 §4.3).
    public static let rtpStreamID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
    /// Repaired RTP stream ID, the `rid` an RTX stream repairs (RFC 8852 §4.4).
    public static let repairedRTPStreamID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
    /// Client-to-mixer audio level (RFC 6464).
    public static let audioLevel = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
    /// Absolute send time (webrtc.org experiment, used with REMB).
    public static let absSendTime = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    /// Transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01).
    public static let transportWideCC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
}
