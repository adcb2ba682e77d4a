/// The ICE and DTLS parameters of a media section, where RFC 8829 §5.8 lets them be written
/// at the media level or, for the whole description, at the session level (Firefox writes
/// `a=fingerprint` at the session level, Chromium per section).
public struct SDPTransportParameters: Sendable, Hashable {
    /// `a=ice-ufrag`.
    public var iceUfrag: String?
    /// `a=ice-pwd`.
    public var icePwd: String?
    /// `a=ice-options` tokens.
    public var iceOptions: [String]
    /// `a=ice-lite` at either level.
    public var iceLite: Bool
    /// `a=fingerprint` lines.
    public var fingerprints: [SDPFingerprint]
    /// `a=setup`.
    public var setup: SDPSetup?
    /// The section's `a=candidate` lines.
    public var candidates: [SDPCandidate]
    /// The section's `a=end-of-candidates`.
    public var endOfCandidates: Bool
}

extension SessionDescription {
    /// The transport parameters of `section`: each media-level value, else the session-level one.
    public func transport(for section: MediaDescription) -> SDPTransportParameters {
        let fingerprints = section.fingerprints
        let options = section.iceOptions
        return SDPTransportParameters(
            iceUfrag: section.iceUfrag ?? iceUfrag,
            icePwd: section.icePwd ?? icePwd,
            iceOptions: options.isEmpty ? iceOptions : options,
            iceLite: section.iceLite || iceLite,
            fingerprints: fingerprints.isEmpty ? self.fingerprints : fingerprints,
            setup: section.setup ?? setup,
            candidates: section.candidates,
            endOfCandidates: section.endOfCandidates
        )
    }

    /// The media sections named in the first `a=group:BUNDLE`, in the group's order.
    public var bundledMedia: [MediaDescription] {
        (bundleGroup?.mids ?? []).compactMap { media(mid: $0) }
    }
}
