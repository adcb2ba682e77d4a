/// One RTP payload format of a media section, gathered from its `a=rtpmap`, `a=fmtp` and
/// `a=rtcp-fb` lines (RFC 8866 §6.6, §6.15; RFC 4585 §4.2).
public struct SDPCodec: Sendable, Hashable {
    /// The RTP payload type.
    public var payloadType: UInt8
    /// The encoding name as written, e.g. `opus`, `VP8`, `rtx`.
    public var encodingName: String
    /// The RTP clock rate in Hz.
    public var clockRate: UInt32
    /// The channel count for audio, when written.
    public var channels: UInt16?
    /// The fmtp parameters, in order.
    public var parameters: [SDPParameter]
    /// The feedback types that apply (`nack`, `nack pli`, `ccm fir`, …); written with this
    /// codec's payload type.
    public var feedback: [SDPRTCPFeedback]

    /// Creates a codec description.
    public init(
        payloadType: UInt8, encodingName: String, clockRate: UInt32, channels: UInt16? = nil,
        parameters: [SDPParameter] = [], feedback: [SDPRTCPFeedback] = []
    ) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.channels = channels
        self.parameters = parameters
        self.feedback = feedback
    }

    /// The lowercased encoding name, for matching (`"vp8"`, `"opus"`, `"rtx"`).
    public var codecName: String { encodingName.lowercased() }

    /// True for an RTX retransmission format (RFC 4588).
    public var isRTX: Bool { codecName == "rtx" }

    /// The `apt=` parameter: the payload type an RTX format repairs.
    public var associatedPayloadType: UInt8? {
        parameters.value(of: "apt").flatMap { try? SDPText.payloadType($0[...]) }
    }

    /// True when a feedback line of `type` (and `subtype`, nil for none) applies.
    public func hasFeedback(_ type: String, _ subtype: String? = nil) -> Bool {
        feedback.contains { $0.type == type && $0.subtype == subtype }
    }

    /// The static payload types of RFC 3551 §6 that WebRTC endpoints offer without rtpmap.
    static func staticCodec(_ pt: UInt8) -> SDPCodec? {
        switch pt {
        case 0: SDPCodec(payloadType: 0, encodingName: "PCMU", clockRate: 8000)
        case 8: SDPCodec(payloadType: 8, encodingName: "PCMA", clockRate: 8000)
        case 9: SDPCodec(payloadType: 9, encodingName: "G722", clockRate: 8000)
        case 13: SDPCodec(payloadType: 13, encodingName: "CN", clockRate: 8000)
        default: nil
        }
    }
}

extension MediaDescription {
    /// The codecs of the `m=` line's payload types in preference order; a payload type
    /// with neither an rtpmap nor a static assignment is left out.
    public var codecs: [SDPCodec] {
        let maps = rtpMaps
        let fmtps = formatParameters
        let feedback = rtcpFeedback
        return payloadTypes.compactMap { pt in
            var codec: SDPCodec
            if let map = maps.first(where: { $0.payloadType == pt }) {
                codec = SDPCodec(payloadType: pt, encodingName: map.encodingName,
                                 clockRate: map.clockRate, channels: map.channels)
            } else if let known = SDPCodec.staticCodec(pt) {
                codec = known
            } else {
                return nil
            }
            codec.parameters = fmtps.first { $0.payloadType == pt }?.parameters ?? []
            codec.feedback = feedback.filter { $0.applies(to: pt) }
            return codec
        }
    }

    /// The codec with payload type `pt`.
    public func codec(payloadType pt: UInt8) -> SDPCodec? {
        codecs.first { $0.payloadType == pt }
    }

    /// The payload type of the RTX format whose `apt` is `pt` (RFC 4588 §8.6).
    public func rtxPayloadType(for pt: UInt8) -> UInt8? {
        codecs.first { $0.isRTX && $0.associatedPayloadType == pt }?.payloadType
    }

    /// Appends `codec`: its payload type to the `m=` formats, then its rtpmap, rtcp-fb and
    /// (when it has parameters) fmtp lines, in the order Chromium writes them.
    public mutating func addCodec(_ codec: SDPCodec) {
        formats.append(String(codec.payloadType))
        append(SDPRTPMap(payloadType: codec.payloadType, encodingName: codec.encodingName,
                         clockRate: codec.clockRate, channels: codec.channels))
        for line in codec.feedback {
            append(SDPRTCPFeedback(payloadType: codec.payloadType, type: line.type, subtype: line.subtype))
        }
        if !codec.parameters.isEmpty {
            append(SDPFormatParameters(payloadType: codec.payloadType, parameters: codec.parameters))
        }
    }
}
