import GiaobanClient
import GiaobanCrypto
import GiaobanICE
import GiaobanWire

/// The client's answer to the offer Janus makes a VideoRoom subscriber (JSEP, RFC 8829
/// §5.3): the client's own receive-only description (`ClientOffer` in `.watch` mode: its ICE
/// credentials, host candidate, fingerprint, Opus and VP8) laid onto the offer's m-lines —
/// same order, same mids, BUNDLE kept (RFC 8843 §7.3) — with `a=setup:active` or `passive`
/// as the offer's setup demands (RFC 8842 §5, never `actpass` in an answer). A kind the
/// client does not receive is rejected with port 0 (RFC 8829 §5.3.1).
enum JanusAnswer {
    /// Why the offer cannot be answered.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The answer's text, for a socket bound to `host`:`port`; `role` is the DTLS role the
    /// offer leaves to the client (`RelayAnswer.dtlsRole` of the offer).
    static func sdp(answering offer: SessionDescription, role: DTLSRole, ice: ICECredentials,
                    fingerprint: CertificateFingerprint, host: String, port: UInt16) throws -> String {
        // Only the codecs Janus's room offers (the client's watch offer also lists VP9).
        var client = ClientOffer(mode: .watch, ice: ice, fingerprint: fingerprint, host: host, port: port)
        let offered = Set(offer.media.flatMap { $0.codecs.map { $0.encodingName.uppercased() } })
        client.videoCodecs = client.videoCodecs.filter { offered.contains($0.uppercased()) }
        let own = client.sessionDescription
        var answer = own
        answer.media = []
        var accepted: [String] = []
        for m in offer.media {
            guard let mid = m.mid else { throw Failure(description: "an offered \(m.media) section has no a=mid") }
            guard !m.isRejected, var section = own.media.first(where: { $0.media == m.media }) else {
                answer.media.append(MediaDescription(media: m.media, port: 0, proto: m.proto, formats: m.formats,
                                                     attributes: [SDPAttribute("mid", mid)]))
                continue
            }
            // The probe sits at an offset that depends on the payload type (see `Probe`):
            // the forwarder must keep the publisher's payload types.
            for codec in section.codecs where !m.codecs.contains(where: { $0.payloadType == codec.payloadType && $0.encodingName.lowercased() == codec.encodingName.lowercased() }) {
                throw Failure(description: "the offer's \(m.media) section lacks \(codec.encodingName) with payload type \(codec.payloadType)")
            }
            section.mid = mid
            section.replaceAttributes(named: "setup", with: [SDPAttribute("setup", role == .client ? "active" : "passive")])
            answer.media.append(section)
            accepted.append(mid)
        }
        guard !accepted.isEmpty else { throw Failure(description: "the offer has no audio or video section to receive") }
        answer.replaceAttributes(named: "group", with: [SDPGroup(semantics: "BUNDLE", mids: accepted).attribute])
        return answer.serialize()
    }
}
