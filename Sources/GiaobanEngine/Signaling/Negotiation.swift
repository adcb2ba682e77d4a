public import GiaobanCrypto
public import GiaobanICE
public import GiaobanWire

/// Why an offer cannot be answered; `message` is what the HTTP client reads (400).
public struct NegotiationError: Error, Sendable, CustomStringConvertible {
    /// One line for the client.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What the relay offers to its side of every answer.
public struct LocalTransport: Sendable {
    /// The host candidate's address (the announced media address).
    public var address: String
    /// The shared UDP port.
    public var port: UInt16
    /// The ICE-TCP port (a passive candidate, RFC 6544), nil when ICE-TCP is off.
    public var tcpPort: UInt16?
    /// The DTLS certificate fingerprint.
    public var fingerprint: CertificateFingerprint

    /// Creates the local transport description.
    public init(address: String, port: UInt16, tcpPort: UInt16? = nil, fingerprint: CertificateFingerprint) {
        self.address = address
        self.port = port
        self.tcpPort = tcpPort
        self.fingerprint = fingerprint
    }
}

/// Answers WHIP/WHEP offers (JSEP, RFC 8829 §5.3): one BUNDLE transport, ICE-lite with our
/// host candidate, DTLS role from `a=setup`, Opus and VP8 (else VP9) with NACK/PLI/FIR feedback,
/// directions mirrored. Produces the `PeerSetup` the media loop needs.
public enum Negotiation {
    /// What a publisher's offer carries, for the subscribers' answers.
    public struct PublishedTracks: Sendable {
        /// The publisher's audio codec, if any.
        public var audio: PeerSetup.Track?
        /// The publisher's video codec, if any.
        public var video: PeerSetup.Track?

        /// Creates the description.
        public init(audio: PeerSetup.Track?, video: PeerSetup.Track?) {
            self.audio = audio
            self.video = video
        }
    }

    /// Answers an offer. `published` is nil for a publisher, and the stream's tracks for a
    /// subscriber (whose codecs must match them, since the relay does not transcode).
    public static func answer(offer: SessionDescription, role: PeerSetup.Role, stream: String, peerID: String,
                              local: LocalTransport, published: PublishedTracks?) throws(NegotiationError) -> (SessionDescription, PeerSetup) {
        guard let first = offer.media.first(where: { !$0.isRejected }) else { throw NegotiationError("the offer has no media section") }
        guard let ufrag = first.iceUfrag ?? offer.iceUfrag, let pwd = first.icePwd ?? offer.icePwd else {
            throw NegotiationError("the offer has no a=ice-ufrag / a=ice-pwd")
        }
        guard let sdpFingerprint = first.fingerprints.first ?? offer.fingerprints.first else {
            throw NegotiationError("the offer has no a=fingerprint")
        }
        guard sdpFingerprint.hashFunction.lowercased() == "sha-256" else {
            throw NegotiationError("only sha-256 fingerprints are supported, got \(sdpFingerprint.hashFunction)")
        }
        let remoteFingerprint = CertificateFingerprint(algorithm: "sha-256", digest: sdpFingerprint.bytes)
        let setup = first.setup ?? offer.setup ?? .actpass
        let dtlsClient = setup == .passive
        guard setup != .holdconn else { throw NegotiationError("a=setup:holdconn is not supported") }
        let localICE = ICECredentials.random()
        var audio: PeerSetup.Track?
        var video: PeerSetup.Track?
        var sections: [MediaDescription] = []
        var bundled: [String] = []
        var rng = SystemRandomNumberGenerator()
        var transportCC: UInt8?
        var audioLevelID: UInt8?
        var simulcastRIDs: [String] = []
        var ridExtensionID: UInt8?

        for m in offer.media {
            var answer = MediaDescription(media: m.media, port: 0, proto: m.proto, formats: m.formats)
            let mid = m.mid
            if let mid { answer.attributes.append(SDPAttribute("mid", mid)) }
            guard !m.isRejected, m.media == "audio" || m.media == "video", m.proto.contains("SAVPF") else {
                sections.append(answer)
                continue
            }
            let kind: PeerSetup.Track.Kind = m.media == "audio" ? .audio : .video
            let already = kind == .audio ? audio : video
            let wanted: [String] = kind == .audio ? ["opus"] : ["vp8", "vp9", "h264"]
            // H.264: packetization mode 1 only (FU-A, STAP-A; RFC 6184 §6.3), and for a watcher
            // the publisher's profile (the relay does not transcode).
            let codecs = m.codecs.filter { !$0.isRTX && ($0.codecName != "h264" || $0.parameters.value(of: "packetization-mode") == "1") }
            var chosen: SDPCodec?
            if let published {
                let source = kind == .audio ? published.audio : published.video
                let name = source?.codec.lowercased()
                let profile = H264Payload.profile(of: source?.profileLevelID)
                chosen = codecs.first { $0.codecName == name && (name != "h264" || H264Payload.profile(of: $0.parameters.value(of: "profile-level-id")) == profile) }
            } else {
                for name in wanted where chosen == nil { chosen = codecs.first { $0.codecName == name } }
            }
            let direction = m.direction ?? .sendrecv
            let usable = role == .publisher ? direction.sends : direction.receives
            guard already == nil, usable, let codec = chosen else {
                sections.append(answer)  // a second section of the same kind, or no common codec: rejected
                continue
            }
            let ssrc: UInt32
            switch role {
            case .publisher:
                let fid = m.ssrcGroups.first { $0.semantics == "FID" }?.ssrcs.first
                ssrc = fid ?? m.ssrcs.first ?? 0
            case .subscriber:
                ssrc = UInt32.random(in: 1...UInt32.max, using: &rng)
            }
            let profileLevelID = codec.codecName != "h264" ? nil
                : role == .publisher ? codec.parameters.value(of: "profile-level-id") ?? "42000a" : published?.video?.profileLevelID
            // Video codec names upper case (VP8, VP9, H264), whatever the offer's case: the
            // forwarding path compares them without converting.
            let track = PeerSetup.Track(kind: kind, payloadType: codec.payloadType,
                                        codec: kind == .video ? codec.encodingName.uppercased() : codec.encodingName,
                                        clockRate: codec.clockRate, ssrc: ssrc, profileLevelID: profileLevelID)
            if kind == .audio { audio = track } else { video = track }

            answer.port = 9
            answer.formats = [String(codec.payloadType)]
            answer.connections = [SDPConnection(networkType: "IN", addressType: local.address.contains(":") ? "IP6" : "IP4",
                                                address: local.address)]
            var attrs = answer.attributes
            attrs.append(SDPAttribute("ice-ufrag", localICE.ufrag))
            attrs.append(SDPAttribute("ice-pwd", localICE.pwd))
            attrs.append(SDPAttribute("fingerprint", local.fingerprint.sdpValue))
            attrs.append(SDPAttribute("setup", dtlsClient ? "active" : "passive"))
            attrs.append(SDPAttribute(role == .publisher ? "recvonly" : "sendonly"))
            attrs.append(SDPAttribute("rtcp-mux"))
            if m.rtcpReducedSize { attrs.append(SDPAttribute("rtcp-rsize")) }
            attrs.append(SDPAttribute("rtpmap", SDPRTPMap(payloadType: codec.payloadType, encodingName: codec.encodingName,
                                                           clockRate: codec.clockRate, channels: codec.channels).attributeValue))
            if kind == .audio {
                attrs.append(SDPAttribute("fmtp", "\(codec.payloadType) minptime=10;useinbandfec=1"))
            } else {
                for (type, subtype) in [("nack", nil), ("nack", "pli"), ("ccm", "fir")] as [(String, String?)] {
                    attrs.append(SDPRTCPFeedback(payloadType: codec.payloadType, type: type, subtype: subtype).attribute)
                }
                let fmtp = codec.parameters.filter { $0.name == "profile-id" }
                if !fmtp.isEmpty {
                    attrs.append(SDPAttribute("fmtp", "\(codec.payloadType) " + fmtp.map(\.description).joined(separator: ";")))
                }
                if let profileLevelID {
                    attrs.append(SDPAttribute("fmtp", "\(codec.payloadType) " + H264Payload.fmtp(profileLevelID: profileLevelID)))
                }
            }
            if role == .publisher && kind == .video {
                simulcastRIDs = try Self.simulcastRIDs(of: m)
                if !simulcastRIDs.isEmpty {
                    for rid in simulcastRIDs { attrs.append(SDPRid(id: rid, direction: .recv).attribute) }
                    attrs.append(SDPSimulcast(recv: simulcastRIDs.map { [SDPSimulcast.RID($0)] }).attribute)
                }
            }
            if role == .publisher {
                // Header extensions the relay reads from publishers: mid (BUNDLE, RFC 8843), the
                // audio level (RFC 6464, for active speaker), the transport-wide sequence
                // number, answered with transport-wide feedback (the sender's bandwidth estimate),
                // and for simulcast the RTP stream id (RFC 8852) naming each encoding.
                var wantedURIs = [SDPExtensionURI.mid, SDPExtensionURI.transportWideCC]
                if kind == .audio { wantedURIs.append(SDPExtensionURI.audioLevel) }
                if !simulcastRIDs.isEmpty && kind == .video { wantedURIs.append(SDPExtensionURI.rtpStreamID) }
                for ext in m.extMaps where wantedURIs.contains(ext.uri) && ext.direction.map({ $0.sends }) ?? true && ext.id < 256 {
                    attrs.append(SDPExtMap(id: ext.id, uri: ext.uri).attribute)
                    if ext.uri == SDPExtensionURI.audioLevel { audioLevelID = UInt8(ext.id) }
                    if ext.uri == SDPExtensionURI.rtpStreamID { ridExtensionID = UInt8(ext.id) }
                    if ext.uri == SDPExtensionURI.transportWideCC {
                        transportCC = transportCC ?? UInt8(ext.id)
                        attrs.append(SDPRTCPFeedback(payloadType: codec.payloadType, type: "transport-cc").attribute)
                    }
                }
            }
            if role == .subscriber, let ext = m.extMaps.first(where: { $0.uri == SDPExtensionURI.transportWideCC && $0.id < 15 }),
               transportCC.map({ UInt16($0) == ext.id }) ?? true {
                // The relay numbers what it sends this subscriber and estimates its link from
                // the transport-wide feedback (one-byte header: ids 1–14).
                attrs.append(SDPExtMap(id: ext.id, uri: ext.uri).attribute)
                attrs.append(SDPRTCPFeedback(payloadType: codec.payloadType, type: "transport-cc").attribute)
                transportCC = UInt8(ext.id)
            }
            if role == .subscriber, kind == .audio,
               let ext = m.extMaps.first(where: { $0.uri == SDPExtensionURI.audioLevel && $0.id < 15 }) {
                // Audio the relay produces (a meeting's mix) carries its level (RFC 6465 §3 uses
                // the same one-byte form); forwarded audio is sent without extensions.
                attrs.append(SDPExtMap(id: ext.id, uri: ext.uri).attribute)
                audioLevelID = UInt8(ext.id)
            }
            if role == .subscriber { attrs += sendingAttributes(stream: stream, kind: kind, ssrc: ssrc) }
            attrs += candidateAttributes(local)
            answer.attributes = attrs
            sections.append(answer)
            if let mid { bundled.append(mid) }
        }
        guard audio != nil || video != nil else {
            throw NegotiationError(role == .publisher
                ? "no usable media: the offer must send Opus audio or VP8/VP9/H.264 (packetization-mode=1) video"
                : "no usable media: the offer must receive the stream's codecs (\(describe(published)))")
        }
        var sessionAttributes = [SDPAttribute("ice-lite")]
        if !bundled.isEmpty { sessionAttributes.insert(SDPGroup(semantics: "BUNDLE", mids: bundled).attribute, at: 0) }
        sessionAttributes.append(SDPAttribute("msid-semantic", "WMS *"))
        let origin = SDPOrigin(sessionID: String(UInt64.random(in: 1...(1 << 62), using: &rng)), sessionVersion: 1,
                               addressType: local.address.contains(":") ? "IP6" : "IP4", address: local.address)
        let answer = SessionDescription(origin: origin, sessionName: "giaoban", attributes: sessionAttributes, media: sections)
        var peer = PeerSetup(id: peerID, role: role, stream: stream, localICE: localICE,
                             remoteICE: ICECredentials(ufrag: ufrag, pwd: pwd), remoteFingerprint: remoteFingerprint,
                             dtlsClient: dtlsClient, audio: audio, video: video)
        peer.transportCCExtensionID = transportCC
        peer.audioLevelExtensionID = audioLevelID
        peer.simulcastRIDs = simulcastRIDs
        peer.ridExtensionID = ridExtensionID
        return (answer, peer)
    }

    /// The most simulcast encodings a publisher may send (RFC 8853): thumbnail, medium, full.
    public static let maxSimulcastLayers = 3

    /// The rids a publisher's video section sends as simulcast (the first alternative of each
    /// stream of `a=simulcast:send` that has an `a=rid:… send`), empty without simulcast.
    static func simulcastRIDs(of m: MediaDescription) throws(NegotiationError) -> [String] {
        guard let simulcast = m.simulcast, !simulcast.sendRIDs.isEmpty else { return [] }
        let declared = Set(m.rids.filter { $0.direction == .send }.map(\.id))
        let rids = simulcast.sendRIDs.filter { declared.contains($0) }
        guard !rids.isEmpty else { throw NegotiationError("a=simulcast:send names no rid declared with a=rid:<id> send") }
        guard rids.count <= maxSimulcastLayers else {
            throw NegotiationError("simulcast of \(rids.count) encodings: at most \(maxSimulcastLayers) are supported")
        }
        guard m.extMaps.contains(where: { $0.uri == SDPExtensionURI.rtpStreamID }) else {
            throw NegotiationError("simulcast needs the header extension \(SDPExtensionURI.rtpStreamID) (a=extmap)")
        }
        return rids
    }

    /// What a sending m-line of the relay says about its track: `msid` (the stream name, so a
    /// browser's MediaStream id is the stream) and the SSRC with its cname.
    static func sendingAttributes(stream: String, kind: PeerSetup.Track.Kind, ssrc: UInt32) -> [SDPAttribute] {
        let label = "giaoban-\(kind.rawValue)"
        return [SDPAttribute("msid", "\(stream) \(label)"), SDPAttribute("ssrc", "\(ssrc) cname:giaoban-\(stream)"),
                SDPAttribute("ssrc", "\(ssrc) msid:\(stream) \(label)")]
    }

    /// The relay's host candidates: UDP, then ICE-TCP passive when on, then the end of
    /// candidates (ICE-lite gathers nothing more).
    static func candidateAttributes(_ local: LocalTransport) -> [SDPAttribute] {
        // Type preference 126 (host), component 1 (RFC 8445 §5.1.2.1); local preference 65535
        // for UDP, and for TCP (RFC 6544 §4.2) direction preference 4 (passive) of 7 times
        // 2^13 plus 8191: 40959, so that every agent prefers UDP when both work.
        let udp = SDPCandidate(foundation: "1", priority: 126 << 24 | 65_535 << 8 | 255, address: local.address, port: local.port)
        var attributes = [udp.attribute]
        if let tcpPort = local.tcpPort {
            let tcp = SDPCandidate(foundation: "2", transport: "tcp", priority: 126 << 24 | (4 << 13 | 8_191) << 8 | 255,
                                   address: local.address, port: tcpPort, extensions: [SDPParameter("tcptype", "passive")])
            attributes.append(tcp.attribute)
        }
        return attributes + [SDPAttribute("end-of-candidates")]
    }

    static func describe(_ tracks: PublishedTracks?) -> String {
        [tracks?.audio?.codec, tracks?.video?.codec].compactMap { $0 }.joined(separator: ", ")
    }
}
