/// The H.264 video track of a DESCRIBE answer's SDP (RFC 2326 §C.1, RFC 7826 appendix D;
/// RFC 6184 §8.2.1 for the parameters), with the URL its SETUP goes to.
public struct RTSPVideoTrack: Sendable, Equatable {
    /// The URL of the SETUP request: the media's `a=control` resolved against the base.
    public var controlURL: String
    /// The RTP payload type of H.264.
    public var payloadType: UInt8
    /// The RTP clock rate (90000 for H.264).
    public var clockRate: UInt32
    /// `packetization-mode` (0 single NAL unit, 1 non-interleaved); 0 when absent (RFC 6184 §8.1).
    public var packetizationMode: Int
    /// `profile-level-id` as written, when given.
    public var profileLevelID: String?
    /// `sprop-parameter-sets`: the base64 SPS and PPS NAL units, in order.
    public var parameterSets: [String]

    /// Creates a track.
    public init(
        controlURL: String, payloadType: UInt8, clockRate: UInt32 = 90000, packetizationMode: Int = 0,
        profileLevelID: String? = nil, parameterSets: [String] = []
    ) {
        self.controlURL = controlURL
        self.payloadType = payloadType
        self.clockRate = clockRate
        self.packetizationMode = packetizationMode
        self.profileLevelID = profileLevelID
        self.parameterSets = parameterSets
    }

    /// The first video section of `sdp` offering H.264 (its first H264 payload type whose
    /// packetization mode is 0 or 1). The base for a relative control is an absolute
    /// session-level `a=control`, else `contentBase` (the response's Content-Base or
    /// Content-Location), else `requestURL`. Throws `.unsupportedType` "RTSP SDP H.264" when
    /// no such track exists, `.syntax` "RTSP SDP control" for a control URL that is neither
    /// `*`, absolute nor relative text.
    public init(sdp: SessionDescription, contentBase: String?, requestURL: String) throws(WireError) {
        for media in sdp.media where media.media == "video" {  // port 0 is usual in RTSP (RFC 2326 C.1)
            for map in media.rtpMaps where map.codecName == "h264" && media.payloadTypes.contains(map.payloadType) {
                let fmtp = media.formatParameters.first { $0.payloadType == map.payloadType }
                let mode = fmtp?["packetization-mode"].map { Int($0) ?? -1 } ?? 0
                guard mode == 0 || mode == 1 else { continue }
                var base = contentBase ?? requestURL
                if case let session?? = sdp.attributeValue("control"), Self.isAbsolute(session) { base = session }
                let control = media.attributeValue("control").flatMap { $0 }
                self.init(
                    controlURL: try Self.resolve(control, against: base), payloadType: map.payloadType,
                    clockRate: map.clockRate, packetizationMode: mode, profileLevelID: fmtp?["profile-level-id"],
                    parameterSets: fmtp?["sprop-parameter-sets"].map { $0.split(separator: ",").map(String.init) } ?? [])
                return
            }
        }
        throw WireError(.unsupportedType, "RTSP SDP H.264")
    }

    /// `control` resolved against `base`: absolute as it is, `*` or absent as the base,
    /// relative appended after a `/` (as RTSP servers and clients do in practice).
    static func resolve(_ control: String?, against base: String) throws(WireError) -> String {
        guard let control, control != "*" else { return base }
        if isAbsolute(control) { return control }
        guard !control.isEmpty, control.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw WireError(.syntax, "RTSP SDP control")
        }
        let relative = control.utf8.first == 0x2F ? String(control.dropFirst()) : control
        return base.utf8.last == 0x2F ? base + relative : base + "/" + relative
    }

    /// True for an `rtsp://` or `rtsps://` URL.
    static func isAbsolute(_ text: String) -> Bool {
        RTSPText.hasPrefixIgnoringCase(text[...], "rtsp://") || RTSPText.hasPrefixIgnoringCase(text[...], "rtsps://")
    }
}
