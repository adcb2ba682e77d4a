/// `a=msid:<stream id> [<track id>]` (RFC 8830 §2): the MediaStream a section's track
/// belongs to, e.g. `a=msid:715d59ef-… dd0e54ef-…`; `-` as stream ID means no stream.
public struct SDPMSID: SDPTypedAttribute, Hashable {
    /// The attribute name, `msid`.
    public static let attributeName = "msid"
    /// The MediaStream ID (`-` for a track without a stream).
    public var streamID: String
    /// The application data, in WebRTC the MediaStreamTrack ID.
    public var trackID: String?

    /// Creates an msid.
    public init(streamID: String, trackID: String? = nil) {
        self.streamID = streamID
        self.trackID = trackID
    }

    /// Parses `<msid-id>[ <msid-appdata>]`, both tokens.
    public init(attributeValue: String?) throws(WireError) {
        let f = SDPText.fields(try SDPText.required(attributeValue))
        guard f.count == 1 || f.count == 2 else { throw SDPText.error }
        streamID = try SDPText.token(f[0])
        trackID = f.count == 2 ? try SDPText.token(f[1]) : nil
    }

    /// `<stream>[ <track>]`.
    public var attributeValue: String? {
        if let trackID { streamID + " " + trackID } else { streamID }
    }
}

/// `a=msid-semantic:<semantic> [<id>…]` (draft-ietf-mmusic-msid before RFC 8830, still sent
/// by browsers), e.g. `a=msid-semantic: WMS *`.
public struct SDPMSIDSemantic: SDPTypedAttribute, Hashable {
    /// The attribute name, `msid-semantic`.
    public static let attributeName = "msid-semantic"
    /// The semantic token, `WMS`.
    public var semantic: String
    /// The stream IDs listed after it, or `*`.
    public var identifiers: [String]

    /// Creates the attribute.
    public init(semantic: String = "WMS", identifiers: [String] = ["*"]) {
        self.semantic = semantic
        self.identifiers = identifiers
    }

    /// Parses `<semantic> *(SP <id>)`; a leading space (as Chromium writes it) is allowed.
    public init(attributeValue: String?) throws(WireError) {
        let f = SDPText.fields(try SDPText.required(attributeValue))
        guard let first = f.first else { throw SDPText.error }
        semantic = try SDPText.token(first)
        var identifiers: [String] = []
        for id in f.dropFirst() { identifiers.append(try SDPText.token(id)) }
        self.identifiers = identifiers
    }

    /// `<semantic>[ <id>…]`.
    public var attributeValue: String? { ([semantic] + identifiers).joined(separator: " ") }
}
