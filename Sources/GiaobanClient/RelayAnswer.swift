public import GiaobanCrypto
public import GiaobanICE
public import GiaobanWire
import GiaobanTransport

/// What the client needs from the relay's SDP answer (JSEP, RFC 8829 §5.3): the relay's ICE
/// credentials and host candidate (it is ICE-lite, RFC 8445 §2.5), its DTLS fingerprint and
/// role, and per media kind the payload type and the SSRC it sends with.
public struct RelayAnswer: Sendable, Equatable {
    /// One accepted media section.
    public struct Track: Sendable, Equatable {
        /// The negotiated payload type.
        public var payloadType: UInt8
        /// The codec name as in rtpmap (`opus`, `VP8`).
        public var codec: String
        /// The SSRC the relay announces for what it sends (`a=ssrc`), 0 when none.
        public var ssrc: UInt32
    }

    /// The relay's ICE credentials.
    public var ice: ICECredentials
    /// The relay's certificate fingerprint; the DTLS peer must match it (RFC 8122 §5).
    public var fingerprint: CertificateFingerprint
    /// Our DTLS role: the relay's `a=setup:passive` makes us the client (RFC 8842 §5).
    public var dtlsRole: DTLSRole
    /// Where to send: the relay's first IPv4 UDP candidate.
    public var candidate: STUNAddress
    /// The relay's first IPv4 passive ICE-TCP candidate (RFC 6544 §4.5, `tcptype passive`);
    /// nil when it listens on no TCP port.
    public var tcpCandidate: STUNAddress?
    /// The accepted audio section, if any.
    public var audio: Track?
    /// The accepted video section, if any.
    public var video: Track?
    /// The ID the relay accepted for the RFC 6464 audio level in what we send; nil when it
    /// did not accept the extension (RFC 8285 §5: an answer lists only what it accepts).
    public var audioLevelExtensionID: UInt8?

    /// Reads an answer; throws `.badAnswer` when something the client needs is missing.
    public init(_ answer: SessionDescription) throws(ClientError) {
        guard let first = answer.media.first(where: { !$0.isRejected }) else {
            throw ClientError(.badAnswer, "every media section was rejected")
        }
        let transport = answer.transport(for: first)
        guard let ufrag = transport.iceUfrag, let pwd = transport.icePwd else {
            throw ClientError(.badAnswer, "no a=ice-ufrag / a=ice-pwd")
        }
        guard let sdpFingerprint = transport.fingerprints.first else { throw ClientError(.badAnswer, "no a=fingerprint") }
        guard let address = transport.candidates.lazy.filter({ $0.isUDP && $0.component == 1 })
            .compactMap({ Self.address($0.address, port: $0.port) }).first else {
            throw ClientError(.badAnswer, "no IPv4 UDP candidate")
        }
        ice = ICECredentials(ufrag: ufrag, pwd: pwd)
        fingerprint = CertificateFingerprint(algorithm: sdpFingerprint.hashFunction, digest: sdpFingerprint.bytes)
        dtlsRole = transport.setup == .active ? .server : .client
        self.candidate = address
        tcpCandidate = transport.candidates.lazy
            .filter { $0.transport.lowercased() == "tcp" && $0.component == 1 && $0.extensionValue("tcptype") == "passive" }
            .compactMap { Self.address($0.address, port: $0.port) }.first
        for m in answer.media where !m.isRejected {
            guard let codec = m.codecs.first(where: { !$0.isRTX }) else { continue }
            let track = Track(payloadType: codec.payloadType, codec: codec.encodingName, ssrc: m.ssrcs.first ?? 0)
            if m.media == "audio", audio == nil {
                audio = track
                audioLevelExtensionID = m.extMapID(for: SDPExtensionURI.audioLevel).flatMap { $0 <= 14 ? UInt8($0) : nil }
            }
            if m.media == "video", video == nil { video = track }
        }
    }

    /// Parses the answer's text, then reads it.
    public init(sdp: String) throws(ClientError) {
        let description: SessionDescription
        do { description = try SessionDescription(parsing: sdp) } catch {
            throw ClientError(.badAnswer, "malformed SDP: \(error)")
        }
        try self.init(description)
    }

    /// An IPv4 dotted quad as a transport address; nil for anything else.
    public static func address(_ text: String, port: UInt16) -> STUNAddress? { UDPSocket.ipv4(text, port: port) }
}
