/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`
/// (RFC 8866 §6.6), e.g. `a=rtpmap:111 opus/48000/2`.
public struct SDPRTPMap: SDPTypedAttribute, Hashable {
    /// The attribute name, `rtpmap`.
    public static let attributeName = "rtpmap"
    /// The dynamic or static RTP payload type, 0–127.
    public var payloadType: UInt8
    /// The encoding name as written, e.g. `opus`, `VP8`, `rtx` (compare case-insensitively).
    public var encodingName: String
    /// The RTP clock rate in Hz.
    public var clockRate: UInt32
    /// For audio, the number of channels (`/2` for Opus); nil when omitted (meaning 1).
    public var channels: UInt16?

    /// Creates an rtpmap.
    public init(payloadType: UInt8, encodingName: String, clockRate: UInt32, channels: UInt16? = nil) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.channels = channels
    }

    /// Parses `<pt> <name>/<rate>[/<channels>]`.
    public init(attributeValue: String?) throws(WireError) {
        let f = SDPText.fields(try SDPText.required(attributeValue))
        guard f.count == 2 else { throw SDPText.error }
        payloadType = try SDPText.payloadType(f[0])
        let parts = SDPText.split(f[1], on: 0x2F)
        guard parts.count == 2 || parts.count == 3 else { throw SDPText.error }
        encodingName = try SDPText.token(parts[0])
        clockRate = try SDPText.number(parts[1])
        channels = parts.count == 3 ? try SDPText.number(parts[2]) : nil
    }

    /// `<pt> <name>/<rate>[/<channels>]`.
    public var attributeValue: String? {
        var text = "\(payloadType) \(encodingName)/\(clockRate)"
        if let channels { text += "/\(channels)" }
        return text
    }

    /// The lowercased encoding name, for matching (`"vp8"`, `"opus"`, `"rtx"`).
    public var codecName: String { encodingName.lowercased() }
}
