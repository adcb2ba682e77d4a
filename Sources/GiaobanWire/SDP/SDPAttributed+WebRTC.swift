/// Typed accessors for the attributes WebRTC endpoints exchange (JSEP, RFC 8829 §5).
/// They apply to the session or to a media section alike; RFC 8829 lets ICE, DTLS and
/// extmap attributes appear at either level (see `SessionDescription.transport(for:)`).
extension SDPAttributed {
    /// The `a=group` lines (RFC 5888).
    public var groups: [SDPGroup] { typedAttributes() }

    /// The first `a=group:BUNDLE` line (RFC 8843 §7.1).
    public var bundleGroup: SDPGroup? { groups.first { $0.semantics == "BUNDLE" } }

    /// `a=mid` (RFC 8843 §14), the media section's identification tag.
    public var mid: String? {
        get { word("mid") }
        set { setWord("mid", newValue) }
    }

    /// The `a=rtpmap` lines (RFC 8866 §6.6).
    public var rtpMaps: [SDPRTPMap] { typedAttributes() }

    /// The `a=fmtp` lines (RFC 8866 §6.15).
    public var formatParameters: [SDPFormatParameters] { typedAttributes() }

    /// The `a=rtcp-fb` lines (RFC 4585 §4.2).
    public var rtcpFeedback: [SDPRTCPFeedback] { typedAttributes() }

    /// The `a=extmap` lines (RFC 8285 §8).
    public var extMaps: [SDPExtMap] { typedAttributes() }

    /// The ID that `a=extmap` gives to header extension `uri`, if any.
    public func extMapID(for uri: String) -> UInt16? { extMaps.first { $0.uri == uri }?.id }

    /// The `a=ssrc` lines (RFC 5576 §4.1).
    public var ssrcAttributes: [SDPSSRCAttribute] { typedAttributes() }

    /// The distinct SSRCs named by `a=ssrc` lines, in order of first appearance.
    public var ssrcs: [UInt32] {
        var seen: [UInt32] = []
        for line in ssrcAttributes where !seen.contains(line.ssrc) { seen.append(line.ssrc) }
        return seen
    }

    /// The `a=ssrc-group` lines (RFC 5576 §4.2).
    public var ssrcGroups: [SDPSSRCGroup] { typedAttributes() }

    /// The `a=rid` lines (RFC 8851).
    public var rids: [SDPRid] { typedAttributes() }

    /// `a=simulcast` (RFC 8853).
    public var simulcast: SDPSimulcast? {
        get { typedAttribute() }
        set { setTypedAttributes(newValue.map { [$0] } ?? []) }
    }

    /// The first `a=msid` (RFC 8830).
    public var msid: SDPMSID? {
        get { typedAttribute() }
        set { setTypedAttributes(newValue.map { [$0] } ?? []) }
    }

    /// `a=msid-semantic`.
    public var msidSemantic: SDPMSIDSemantic? {
        get { typedAttribute() }
        set { setTypedAttributes(newValue.map { [$0] } ?? []) }
    }

    /// `a=ice-ufrag` (RFC 8839 §5.4).
    public var iceUfrag: String? {
        get { word("ice-ufrag") }
        set { setWord("ice-ufrag", newValue) }
    }

    /// `a=ice-pwd` (RFC 8839 §5.4).
    public var icePwd: String? {
        get { word("ice-pwd") }
        set { setWord("ice-pwd", newValue) }
    }

    /// `a=ice-lite` (RFC 8839 §5.3): the endpoint runs ICE lite, as this relay does.
    public var iceLite: Bool {
        get { flag("ice-lite") }
        set { setFlag("ice-lite", newValue) }
    }

    /// The tokens of `a=ice-options` (RFC 8839 §5.6), e.g. `["trickle"]`.
    public var iceOptions: [String] {
        get { attributeValues("ice-options").flatMap { SDPText.fields(($0 ?? "")[...]).map(String.init) } }
        set {
            let line = SDPAttribute("ice-options", newValue.joined(separator: " "))
            replaceAttributes(named: "ice-options", with: newValue.isEmpty ? [] : [line])
        }
    }

    /// The `a=candidate` lines (RFC 8839 §5.1).
    public var candidates: [SDPCandidate] { typedAttributes() }

    /// `a=end-of-candidates` (RFC 8840 §8.2): no more candidates will be trickled.
    public var endOfCandidates: Bool {
        get { flag("end-of-candidates") }
        set { setFlag("end-of-candidates", newValue) }
    }

    /// The `a=fingerprint` lines (RFC 8122 §5).
    public var fingerprints: [SDPFingerprint] { typedAttributes() }

    /// `a=setup` (RFC 4145 §4).
    public var setup: SDPSetup? {
        get { typedAttribute() }
        set { setTypedAttributes(newValue.map { [$0] } ?? []) }
    }

    /// `a=rtcp-mux` (RFC 5761 §5.1.1): RTP and RTCP share one port.
    public var rtcpMux: Bool {
        get { flag("rtcp-mux") }
        set { setFlag("rtcp-mux", newValue) }
    }

    /// `a=rtcp-rsize` (RFC 5506 §5): reduced-size RTCP is allowed.
    public var rtcpReducedSize: Bool {
        get { flag("rtcp-rsize") }
        set { setFlag("rtcp-rsize", newValue) }
    }

    /// `a=extmap-allow-mixed` (RFC 8285 §6): one- and two-byte extension headers may be mixed.
    public var extmapAllowMixed: Bool {
        get { flag("extmap-allow-mixed") }
        set { setFlag("extmap-allow-mixed", newValue) }
    }

    /// The direction attribute (RFC 8866 §6.7); nil when none is written (meaning sendrecv).
    /// Setting replaces any direction attribute in place.
    public var direction: SDPDirection? {
        get {
            for attribute in attributes where attribute.value == nil {
                if let d = SDPDirection(rawValue: attribute.name) { return d }
            }
            return nil
        }
        set {
            let isDirection: (SDPAttribute) -> Bool = { $0.value == nil && SDPDirection(rawValue: $0.name) != nil }
            let position = attributes.firstIndex(where: isDirection)
            attributes.removeAll(where: isDirection)
            if let newValue { attributes.insert(SDPAttribute(newValue.rawValue), at: position ?? attributes.endIndex) }
        }
    }
}
