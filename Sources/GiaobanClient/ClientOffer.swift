public import GiaobanCrypto
public import GiaobanICE
public import GiaobanWire

/// A WebRTC offer as a browser would write it for WHIP or WHEP (JSEP, RFC 8829 §5.2):
/// audio and video bundled on one transport (RFC 8843), rtcp-mux (RFC 5761), ICE
/// credentials and one host candidate (RFC 8839), the DTLS fingerprint with
/// `a=setup:actpass` (RFC 8842 §5), Opus (RFC 7587) and VP8 (RFC 7741) or VP9 (RFC 9628) with NACK, PLI
/// and FIR feedback (RFC 4585, RFC 5104).
///
/// A publishing offer is `sendonly`, announces its SSRCs and offers the client-to-mixer audio
/// level header extension (RFC 6464, `a=extmap`, RFC 8285 §8) so the relay can tell who
/// speaks; a watching offer is `recvonly`.
public struct ClientOffer: Sendable {
    /// Which way media flows.
    public enum Mode: Sendable, Equatable {
        /// Send audio and video with these SSRCs (WHIP).
        case publish(audioSSRC: UInt32, videoSSRC: UInt32)
        /// Receive the stream (WHEP).
        case watch
    }

    /// The Opus payload type offered (Chromium's choice).
    public static let opusPayloadType: UInt8 = 111
    /// The VP8 payload type offered (Chromium's choice).
    public static let vp8PayloadType: UInt8 = 96
    /// The VP9 payload type offered (Chromium's choice, profile 0).
    public static let vp9PayloadType: UInt8 = 98
    /// The extension ID offered for the RFC 6464 audio level (one-byte form, RFC 8285 §4.2).
    public static let audioLevelExtensionID: UInt8 = 1
    /// A host candidate's priority: type preference 126, local preference 65535,
    /// component 1 (RFC 8445 §5.1.2.1).
    public static let hostPriority: UInt32 = 2_130_706_431

    /// Publish or watch.
    public var mode: Mode
    /// Our ICE credentials (`a=ice-ufrag`, `a=ice-pwd`).
    public var ice: ICECredentials
    /// The fingerprint of our DTLS certificate.
    public var fingerprint: CertificateFingerprint
    /// The address of our host candidate.
    public var host: String
    /// The UDP port of our host candidate.
    public var port: UInt16
    /// Offer an audio section.
    public var audio = true
    /// Offer a video section.
    public var video = true
    /// The video codecs offered, in preference order (`VP8`, `VP9`): a publisher offers the
    /// one it sends; a watcher offers both and gets what the stream's publisher sends.
    public var videoCodecs: [String]
    /// Publishing: the rids of a simulcast video (RFC 8853), lowest quality first, e.g.
    /// `["l", "m", "h"]`; empty for one encoding. Each packet then names its encoding in the
    /// RTP stream id header extension (RFC 8852) and no video SSRC is announced, as browsers do.
    public var simulcastRIDs: [String] = []
    /// The rids of a simulcast of `count` encodings, lowest first: none for 1, `l h` for 2,
    /// `l m h` for 3.
    public static func simulcastRIDs(count: Int) -> [String] {
        switch count {
        case ..<2: []
        case 2: ["l", "h"]
        default: ["l", "m", "h"]
        }
    }

    /// The RTP stream id extension's id in a simulcast offer.
    public static let ridExtensionID: UInt8 = 10
    /// The transport-wide sequence number extension's id in a watching offer (as Chromium's).
    public static let transportCCExtensionID: UInt8 = 3
    /// Watching: offer transport-wide congestion control, so the relay numbers what it sends
    /// and estimates the link from the watcher's feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01, as browsers do).
    public var transportCC = true
    /// The RTCP CNAME and media stream id announced when publishing (RFC 3550 §6.5.1).
    public var cname = "giaoban-client"
    /// The `o=` session id (RFC 8866 §5.2), random per offer.
    public var sessionID = UInt64.random(in: 1...(1 << 62))

    /// Creates an offer description for a socket bound to `host`:`port`.
    public init(mode: Mode, ice: ICECredentials, fingerprint: CertificateFingerprint, host: String, port: UInt16) {
        self.mode = mode
        self.ice = ice
        self.fingerprint = fingerprint
        self.host = host
        self.port = port
        videoCodecs = mode == .watch ? ["VP8", "VP9"] : ["VP8"]
    }

    /// The offer as a session description.
    public var sessionDescription: SessionDescription {
        var sections: [MediaDescription] = []
        if audio { sections.append(section(kind: "audio", mid: "0")) }
        if video { sections.append(section(kind: "video", mid: audio ? "1" : "0")) }
        let mids = sections.compactMap(\.mid)
        let origin = SDPOrigin(sessionID: String(sessionID), sessionVersion: 2,
                               addressType: host.contains(":") ? "IP6" : "IP4", address: host)
        return SessionDescription(origin: origin, attributes: [
            SDPGroup(semantics: "BUNDLE", mids: mids).attribute,
            SDPAttribute("extmap-allow-mixed"),
            SDPMSIDSemantic(identifiers: [cname]).attribute,
        ], media: sections)
    }

    /// The offer as SDP text (CRLF line endings), ready for the HTTP body.
    public var sdp: String { sessionDescription.serialize() }

    private func section(kind: String, mid: String) -> MediaDescription {
        var m = MediaDescription(media: kind, port: port, proto: "UDP/TLS/RTP/SAVPF",
                                 connections: [SDPConnection(addressType: host.contains(":") ? "IP6" : "IP4", address: host)])
        m.attributes = [
            SDPAttribute("mid", mid),
            SDPAttribute("ice-ufrag", ice.ufrag),
            SDPAttribute("ice-pwd", ice.pwd),
            SDPAttribute("fingerprint", fingerprint.sdpValue),
            SDPAttribute("setup", SDPSetup.actpass.rawValue),
        ]
        let publishing: Bool
        let ssrc: UInt32
        switch mode {
        case .publish(let audioSSRC, let videoSSRC):
            publishing = true
            ssrc = kind == "audio" ? audioSSRC : videoSSRC
        case .watch:
            publishing = false
            ssrc = 0
        }
        m.attributes.append(SDPAttribute(publishing ? SDPDirection.sendonly.rawValue : SDPDirection.recvonly.rawValue))
        if publishing { m.attributes.append(SDPAttribute("msid", "\(cname) \(cname)-\(kind)")) }
        m.attributes.append(SDPAttribute("rtcp-mux"))
        m.attributes.append(SDPAttribute("rtcp-rsize"))
        if kind == "audio" {
            // Publishing: client-to-mixer levels (RFC 6464); watching: the relay's mix carries its level.
            m.append(SDPExtMap(id: UInt16(Self.audioLevelExtensionID), uri: SDPExtensionURI.audioLevel))
        }
        if kind == "audio" {
            m.addCodec(SDPCodec(payloadType: Self.opusPayloadType, encodingName: "opus", clockRate: 48_000, channels: 2,
                                parameters: [SDPParameter("minptime", "10"), SDPParameter("useinbandfec", "1")]))
        } else {
            for name in videoCodecs {
                let pt = name.uppercased() == "VP9" ? Self.vp9PayloadType : Self.vp8PayloadType
                m.addCodec(SDPCodec(payloadType: pt, encodingName: name.uppercased() == "VP9" ? "VP9" : "VP8", clockRate: 90_000,
                                    parameters: pt == Self.vp9PayloadType ? [SDPParameter("profile-id", "0")] : [], feedback: [
                    SDPRTCPFeedback(payloadType: pt, type: "nack"),
                    SDPRTCPFeedback(payloadType: pt, type: "nack", subtype: "pli"),
                    SDPRTCPFeedback(payloadType: pt, type: "ccm", subtype: "fir"),
                ]))
            }
        }
        if !publishing && transportCC {
            m.attributes.append(SDPExtMap(id: UInt16(Self.transportCCExtensionID), uri: SDPExtensionURI.transportWideCC).attribute)
        }
        let simulcast = publishing && kind == "video" && !simulcastRIDs.isEmpty
        if simulcast {
            m.attributes.append(SDPExtMap(id: UInt16(Self.ridExtensionID), uri: SDPExtensionURI.rtpStreamID).attribute)
            for rid in simulcastRIDs { m.attributes.append(SDPRid(id: rid, direction: .send).attribute) }
            m.attributes.append(SDPSimulcast(sendRIDs: simulcastRIDs).attribute)
        }
        if publishing && !simulcast {
            m.append(SDPSSRCAttribute(ssrc: ssrc, name: "cname", value: cname))
            m.append(SDPSSRCAttribute(ssrc: ssrc, name: "msid", value: "\(cname) \(cname)-\(kind)"))
        }
        m.append(SDPCandidate(foundation: "1", priority: Self.hostPriority, address: host, port: port))
        m.attributes.append(SDPAttribute("end-of-candidates"))
        return m
    }
}
