/// The check the parser applies to each `a=` line, so that a parsed description holds no
/// malformed WebRTC attribute and the typed accessors see every line.
extension SDPAttribute {
    /// Throws `WireError(.syntax, "SDP")` when this is a known attribute (group, mid,
    /// rtpmap, fmtp, rtcp-fb, extmap, ssrc, ssrc-group, rid, simulcast, ice-ufrag, ice-pwd,
    /// ice-options, fingerprint, setup, msid, msid-semantic, candidate) whose value does not
    /// follow its grammar; other attributes are accepted as they are.
    public func validate() throws(WireError) {
        switch name {
        case SDPGroup.attributeName: _ = try SDPGroup(attributeValue: value)
        case SDPRTPMap.attributeName: _ = try SDPRTPMap(attributeValue: value)
        case SDPFormatParameters.attributeName: _ = try SDPFormatParameters(attributeValue: value)
        case SDPRTCPFeedback.attributeName: _ = try SDPRTCPFeedback(attributeValue: value)
        case SDPExtMap.attributeName: _ = try SDPExtMap(attributeValue: value)
        case SDPSSRCAttribute.attributeName: _ = try SDPSSRCAttribute(attributeValue: value)
        case SDPSSRCGroup.attributeName: _ = try SDPSSRCGroup(attributeValue: value)
        case SDPRid.attributeName: _ = try SDPRid(attributeValue: value)
        case SDPSimulcast.attributeName: _ = try SDPSimulcast(attributeValue: value)
        case SDPFingerprint.attributeName: _ = try SDPFingerprint(attributeValue: value)
        case SDPSetup.attributeName: _ = try SDPSetup(attributeValue: value)
        case SDPMSID.attributeName: _ = try SDPMSID(attributeValue: value)
        case SDPMSIDSemantic.attributeName: _ = try SDPMSIDSemantic(attributeValue: value)
        case SDPCandidate.attributeName: _ = try SDPCandidate(attributeValue: value)
        case "mid":  // RFC 8843 §14: identification-tag = token
            _ = try SDPText.token(try SDPText.required(value))
        case "ice-ufrag", "ice-pwd":  // RFC 8839 §5.4: one word
            _ = try SDPText.word(try SDPText.required(value))
        case "ice-options":  // RFC 8839 §5.6: one or more tokens
            let options = SDPText.fields(try SDPText.required(value))
            guard !options.isEmpty, options.allSatisfy(SDPText.isToken) else { throw SDPText.error }
        default: break
        }
    }
}
