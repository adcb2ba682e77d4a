public import GiaobanCrypto
public import GiaobanICE
public import GiaobanWire

/// The relay's offer of a meeting downlink (docs/protocol.md, "One connection down") as the
/// endpoint reads it, and the answer it writes: every sending m-line received (`recvonly`),
/// the others inactive, with our ICE credentials, host candidate and DTLS fingerprint
/// (`a=setup:active`: we are the DTLS client, as a browser answering `actpass` is).
public struct DownlinkOffer: Sendable, Equatable {
    /// One sending m-line.
    public struct Track: Sendable, Equatable {
        /// Its mid.
        public var mid: String
        /// `audio` or `video`.
        public var kind: String
        /// The relay stream it carries (its `a=msid` stream id).
        public var stream: String
        /// The SSRC the relay sends it with.
        public var ssrc: UInt32
        /// Its payload type and codec.
        public var payloadType: UInt8
        public var codec: String
    }

    /// One m-line, sending or not, as the answer must mirror it.
    struct Line: Sendable, Equatable {
        var mid: String
        var media: String
        var formats: [String]
        var codec: SDPCodec?
        var sending: Bool
        var extMaps: [SDPExtMap]
    }

    /// The relay's transport (ICE credentials, candidate, fingerprint; our DTLS role), read
    /// from the offer as from an answer.
    public var relay: RelayAnswer
    /// The sending m-lines.
    public var tracks: [Track]
    var lines: [Line]

    /// Reads the relay's offer.
    public init(sdp: String) throws(ClientError) {
        let description: SessionDescription
        do { description = try SessionDescription(parsing: sdp) } catch {
            throw ClientError(.badAnswer, "malformed SDP offer: \(error)")
        }
        relay = try RelayAnswer(description)
        tracks = []
        lines = []
        for (index, m) in description.media.enumerated() {
            let mid = m.mid ?? String(index)
            let codec = m.codecs.first { !$0.isRTX }
            let sending = !m.isRejected && (m.direction ?? .sendrecv).sends
            lines.append(Line(mid: mid, media: m.media, formats: m.formats, codec: codec, sending: sending, extMaps: m.extMaps))
            guard sending, let codec, let ssrc = m.ssrcs.first else { continue }
            let stream = m.attributes.first { $0.name == "msid" }?.value?.split(separator: " ").first.map(String.init) ?? ""
            tracks.append(Track(mid: mid, kind: m.media, stream: stream, ssrc: ssrc, payloadType: codec.payloadType,
                                codec: codec.encodingName))
        }
    }

    /// Our answer: what a browser answering with receive-only transceivers would write.
    public func answer(ice: ICECredentials, fingerprint: CertificateFingerprint, host: String, port: UInt16) -> String {
        var text = "v=0\r\no=- \(UInt64.random(in: 1...(1 << 62))) 1 IN IP4 \(host)\r\ns=-\r\nt=0 0\r\n"
        text += "a=group:BUNDLE \(lines.map(\.mid).joined(separator: " "))\r\na=msid-semantic:WMS\r\n"
        for line in lines {
            text += "m=\(line.media) 9 UDP/TLS/RTP/SAVPF \(line.formats.joined(separator: " "))\r\n"
            text += "c=IN IP4 \(host)\r\na=mid:\(line.mid)\r\n"
            text += "a=ice-ufrag:\(ice.ufrag)\r\na=ice-pwd:\(ice.pwd)\r\n"
            text += "a=fingerprint:\(fingerprint.sdpValue)\r\na=setup:active\r\n"
            text += line.sending ? "a=recvonly\r\n" : "a=inactive\r\n"
            text += "a=rtcp-mux\r\na=rtcp-rsize\r\n"
            for ext in line.extMaps where ext.uri == SDPExtensionURI.transportWideCC || ext.uri == SDPExtensionURI.audioLevel {
                text += "a=extmap:\(ext.id) \(ext.uri)\r\n"
            }
            if let codec = line.codec {
                let rtpmap = SDPRTPMap(payloadType: codec.payloadType, encodingName: codec.encodingName, clockRate: codec.clockRate,
                                       channels: codec.channels)
                text += "a=rtpmap:\(rtpmap.attributeValue ?? "")\r\n"
                if line.media == "video" {
                    text += "a=rtcp-fb:\(codec.payloadType) nack\r\na=rtcp-fb:\(codec.payloadType) nack pli\r\n"
                    text += "a=rtcp-fb:\(codec.payloadType) ccm fir\r\na=rtcp-fb:\(codec.payloadType) transport-cc\r\n"
                }
            }
            text += "a=candidate:1 1 udp \(ClientOffer.hostPriority) \(host) \(port) typ host\r\na=end-of-candidates\r\n"
        }
        return text
    }
}
