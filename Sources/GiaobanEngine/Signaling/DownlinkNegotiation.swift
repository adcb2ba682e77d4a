public import GiaobanCrypto
public import GiaobanICE
public import GiaobanWire

/// The relay's side of a meeting's downlink: one receiving peer connection that the relay
/// offers (JSEP, RFC 8829 §5.2) and renegotiates as tracks come and go (docs/protocol.md,
/// "One connection down"). The relay is ICE-lite and offers `a=setup:actpass`; every m-line
/// is bundled, sends one stream's audio or video with its own SSRC, or is inactive.
public enum DownlinkNegotiation {
    /// Payload types of the relay's offers, one per codec across all bundled m-lines
    /// (RFC 8843 §9.1: the same number must mean the same codec in every m-line).
    public static let opusPayloadType: UInt8 = 111
    public static let vp8PayloadType: UInt8 = 96
    public static let vp9PayloadType: UInt8 = 98
    /// H.264 (packetization mode 1) on the relay's offers.
    public static let h264PayloadType: UInt8 = 102
    /// The H.264 profile the relay's offers name: constrained baseline, level 3.1, what WebRTC
    /// encoders send (a downlink line carries the codec, not each publisher's level).
    public static let h264ProfileLevelID = "42e01f"
    /// Header extension ids of the offers (one-byte form).
    public static let audioLevelID: UInt16 = 1
    public static let transportCCID: UInt16 = 3

    /// One m-line of the downlink, by position (its mid is its index).
    public struct Line: Sendable, Equatable {
        /// The m-line's mid.
        public var mid: String
        /// Audio or video.
        public var kind: PeerSetup.Track.Kind
        /// The stream sent on it (or last sent, while inactive); nil for the placeholder.
        public var stream: String?
        /// Sending now; an inactive line keeps its stream, and takes it back if it is wanted again.
        public var active: Bool
        /// The codec name as in rtpmap (opus, VP8, VP9).
        public var codec: String
        /// The SSRC the relay sends with.
        public var ssrc: UInt32

        /// Creates a line.
        public init(mid: String, kind: PeerSetup.Track.Kind, stream: String?, codec: String, ssrc: UInt32, active: Bool = true) {
            self.mid = mid
            self.kind = kind
            self.stream = stream
            self.active = active && stream != nil
            self.codec = codec
            self.ssrc = ssrc
        }

        /// The negotiated track of an active line.
        public var track: PeerSetup.Track {
            switch (kind, codec.lowercased()) {
            case (.audio, _): PeerSetup.Track(kind: .audio, payloadType: opusPayloadType, codec: "opus", clockRate: 48_000, ssrc: ssrc)
            case (.video, "vp9"): PeerSetup.Track(kind: .video, payloadType: vp9PayloadType, codec: "VP9", clockRate: 90_000, ssrc: ssrc)
            case (.video, "h264"):
                PeerSetup.Track(kind: .video, payloadType: h264PayloadType, codec: "H264", clockRate: 90_000, ssrc: ssrc,
                                profileLevelID: h264ProfileLevelID)
            case (.video, _): PeerSetup.Track(kind: .video, payloadType: vp8PayloadType, codec: "VP8", clockRate: 90_000, ssrc: ssrc)
            }
        }
    }

    /// A track that should be on the downlink.
    public struct Wanted: Sendable, Equatable {
        public var stream: String
        public var kind: PeerSetup.Track.Kind
        public var codec: String

        /// Creates a value.
        public init(stream: String, kind: PeerSetup.Track.Kind, codec: String) {
            self.stream = stream
            self.kind = kind
            self.codec = codec
        }
    }

    /// The lines of a new downlink: one inactive audio placeholder, so the transport exists
    /// while nothing is watched.
    public static func initialLines() -> [Line] {
        [Line(mid: "0", kind: .audio, stream: nil, codec: "opus", ssrc: 0, active: false)]
    }

    /// Brings `lines` to `wanted`: lines whose track is not wanted any more become inactive;
    /// a wanted track takes back its own inactive line if it has one (with the same SSRC, whose
    /// numbering the relay continues: receivers keep their receive stream — aiortc learns a
    /// transceiver's SSRC only once), else gets a new line at the end. Lines are never given
    /// to another stream, so a downlink has at most one audio and one video line per stream it
    /// ever carried. True when anything changed.
    public static func reconcile(_ lines: inout [Line], wanted: [Wanted]) -> Bool {
        func key(_ stream: String, _ kind: PeerSetup.Track.Kind, _ codec: String) -> String {
            "\(stream)/\(kind.rawValue)/\(codec.lowercased())"
        }
        let keys = Set(wanted.map { key($0.stream, $0.kind, $0.codec) })
        var changed = false
        var have = Set<String>()
        for i in lines.indices where lines[i].active {
            guard let stream = lines[i].stream else { continue }
            let k = key(stream, lines[i].kind, lines[i].codec)
            if keys.contains(k) && !have.contains(k) {
                have.insert(k)
            } else {
                lines[i].active = false
                changed = true
            }
        }
        var rng = SystemRandomNumberGenerator()
        for want in wanted where !have.contains(key(want.stream, want.kind, want.codec)) {
            let k = key(want.stream, want.kind, want.codec)
            have.insert(k)
            let own = lines.indices.first { i in
                guard !lines[i].active, let stream = lines[i].stream else { return false }
                return key(stream, lines[i].kind, lines[i].codec) == k
            }
            if let i = own {
                lines[i].active = true
            } else {
                lines.append(Line(mid: String(lines.count), kind: want.kind, stream: want.stream, codec: want.codec,
                                  ssrc: UInt32.random(in: 1...UInt32.max, using: &rng)))
            }
            changed = true
        }
        return changed
    }

    /// The relay's offer for `lines`: `version` is the o= session version (the revision).
    public static func offer(lines: [Line], ice: ICECredentials, local: LocalTransport, sessionID: UInt64,
                             version: Int) -> SessionDescription {
        let addressType = local.address.contains(":") ? "IP6" : "IP4"
        var sections: [MediaDescription] = []
        for line in lines {
            let track = line.track
            var m = MediaDescription(media: line.kind.rawValue, port: 9, proto: "UDP/TLS/RTP/SAVPF", formats: [String(track.payloadType)])
            m.connections = [SDPConnection(networkType: "IN", addressType: addressType, address: local.address)]
            var attrs = [SDPAttribute("mid", line.mid), SDPAttribute("ice-ufrag", ice.ufrag), SDPAttribute("ice-pwd", ice.pwd),
                         SDPAttribute("fingerprint", local.fingerprint.sdpValue), SDPAttribute("setup", "actpass"),
                         SDPAttribute(line.active ? "sendonly" : "inactive"), SDPAttribute("rtcp-mux"),
                         SDPAttribute("rtcp-rsize")]
            attrs.append(SDPAttribute("rtpmap", SDPRTPMap(payloadType: track.payloadType, encodingName: track.codec,
                                                           clockRate: track.clockRate, channels: line.kind == .audio ? 2 : nil).attributeValue))
            if line.kind == .audio {
                attrs.append(SDPAttribute("fmtp", "\(track.payloadType) minptime=10;useinbandfec=1"))
                attrs.append(SDPExtMap(id: audioLevelID, uri: SDPExtensionURI.audioLevel).attribute)
            } else {
                for (type, subtype) in [("nack", nil), ("nack", "pli"), ("ccm", "fir")] as [(String, String?)] {
                    attrs.append(SDPRTCPFeedback(payloadType: track.payloadType, type: type, subtype: subtype).attribute)
                }
                if track.codec == "VP9" { attrs.append(SDPAttribute("fmtp", "\(track.payloadType) profile-id=0")) }
                if let profileLevelID = track.profileLevelID {
                    attrs.append(SDPAttribute("fmtp", "\(track.payloadType) " + H264Payload.fmtp(profileLevelID: profileLevelID)))
                }
            }
            attrs.append(SDPExtMap(id: transportCCID, uri: SDPExtensionURI.transportWideCC).attribute)
            attrs.append(SDPRTCPFeedback(payloadType: track.payloadType, type: "transport-cc").attribute)
            if line.active, let stream = line.stream {
                attrs += Negotiation.sendingAttributes(stream: stream, kind: line.kind, ssrc: line.ssrc)
            }
            attrs += Negotiation.candidateAttributes(local)
            m.attributes = attrs
            sections.append(m)
        }
        let sessionAttributes = [SDPGroup(semantics: "BUNDLE", mids: lines.map(\.mid)).attribute, SDPAttribute("ice-lite"),
                                 SDPAttribute("msid-semantic", "WMS *")]
        let origin = SDPOrigin(sessionID: String(sessionID), sessionVersion: UInt64(max(1, version)), addressType: addressType,
                               address: local.address)
        return SessionDescription(origin: origin, sessionName: "giaoban", attributes: sessionAttributes, media: sections)
    }

    /// What a client's answer says.
    public struct Answer: Sendable, Equatable {
        /// The client's ICE credentials.
        public var remoteICE: ICECredentials
        /// The fingerprint its DTLS certificate must have.
        public var remoteFingerprint: CertificateFingerprint
        /// True when the relay is the DTLS client (the answer said `a=setup:passive`).
        public var dtlsClient: Bool
        /// The mids of the m-lines the client receives.
        public var accepted: Set<String>
        /// The transport-wide sequence number extension id, when accepted.
        public var transportCCExtensionID: UInt8?
        /// The audio level extension id, when accepted.
        public var audioLevelExtensionID: UInt8?
    }

    /// Reads a client's answer to an offer of `lines`.
    public static func read(answer: SessionDescription, lines: [Line]) throws(NegotiationError) -> Answer {
        guard answer.media.count == lines.count else {
            throw NegotiationError("the answer has \(answer.media.count) m-lines, the offer \(lines.count)")
        }
        for (m, line) in zip(answer.media, lines) where m.mid != nil && m.mid != line.mid {
            throw NegotiationError("m-line \(line.mid) of the answer has mid \(m.mid ?? "")")
        }
        let first = answer.media.first { !$0.isRejected }
        guard let ufrag = first?.iceUfrag ?? answer.iceUfrag, let pwd = first?.icePwd ?? answer.icePwd else {
            throw NegotiationError("the answer has no a=ice-ufrag / a=ice-pwd")
        }
        guard let fingerprint = first?.fingerprints.first ?? answer.fingerprints.first else {
            throw NegotiationError("the answer has no a=fingerprint")
        }
        guard fingerprint.hashFunction.lowercased() == "sha-256" else {
            throw NegotiationError("only sha-256 fingerprints are supported, got \(fingerprint.hashFunction)")
        }
        let setup = first?.setup ?? answer.setup ?? .active
        guard setup == .active || setup == .passive else {
            throw NegotiationError("the answer must say a=setup:active or a=setup:passive")
        }
        var accepted = Set<String>()
        var transportCC: UInt8?
        var audioLevel: UInt8?
        for (m, line) in zip(answer.media, lines) where !m.isRejected && line.active {
            guard (m.direction ?? .sendrecv).receives else { continue }
            accepted.insert(line.mid)
            for ext in m.extMaps where ext.id < 15 {
                if ext.uri == SDPExtensionURI.transportWideCC && ext.id == transportCCID { transportCC = UInt8(ext.id) }
                if ext.uri == SDPExtensionURI.audioLevel && ext.id == audioLevelID { audioLevel = UInt8(ext.id) }
            }
        }
        return Answer(remoteICE: ICECredentials(ufrag: ufrag, pwd: pwd),
                      remoteFingerprint: CertificateFingerprint(algorithm: "sha-256", digest: fingerprint.bytes),
                      dtlsClient: setup == .passive, accepted: accepted, transportCCExtensionID: transportCC,
                      audioLevelExtensionID: audioLevel)
    }

    /// The media loop's setup of a downlink peer (its subscriptions come separately).
    public static func peerSetup(id: String, localICE: ICECredentials, answer: Answer) -> PeerSetup {
        var setup = PeerSetup(id: id, role: .subscriber, stream: "", localICE: localICE, remoteICE: answer.remoteICE,
                              remoteFingerprint: answer.remoteFingerprint, dtlsClient: answer.dtlsClient, audio: nil, video: nil)
        setup.transportCCExtensionID = answer.transportCCExtensionID
        setup.audioLevelExtensionID = answer.audioLevelExtensionID
        return setup
    }

    /// The subscriptions the accepted lines make, one per stream, in line order; `caps` gives
    /// a stream's highest simulcast layer rank.
    public static func subscriptions(lines: [Line], accepted: Set<String>,
                                     caps: [String: Int] = [:]) -> [MediaRouter.SubscriptionSetup] {
        var result: [MediaRouter.SubscriptionSetup] = []
        for line in lines where accepted.contains(line.mid) && line.active {
            guard let stream = line.stream else { continue }
            let index = result.firstIndex { $0.stream == stream } ?? {
                result.append(MediaRouter.SubscriptionSetup(stream: stream, audio: nil, video: nil, maxLayerRank: caps[stream]))
                return result.count - 1
            }()
            if line.kind == .audio { result[index].audio = line.track } else { result[index].video = line.track }
        }
        return result
    }
}
