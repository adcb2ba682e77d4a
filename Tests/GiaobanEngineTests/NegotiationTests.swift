import Foundation
import GiaobanCrypto
import GiaobanEngine
import GiaobanWire
import Testing

/// Answers to the real browser offers kept as fixtures by the wire tests.
@Suite("SDP answers to Chromium, Firefox and aiortc offers")
struct NegotiationTests {
    static func fixture(_ name: String) throws -> SessionDescription {
        let file = #filePath
        let root = try #require(file.range(of: "/Tests/")).lowerBound
        let path = file[..<root] + "/Tests/GiaobanWireTests/Fixtures/sdp/\(name).sdp"
        return try SessionDescription(parsing: try String(contentsOfFile: String(path), encoding: .utf8))
    }

    let local = LocalTransport(address: "127.0.0.1", port: 40_000,
                               fingerprint: CertificateFingerprint(algorithm: "sha-256", digest: [UInt8](repeating: 0xAB, count: 32)))

    @Test("a publisher's offer gets an ICE-lite, BUNDLE, recvonly answer that parses again",
          arguments: ["chromium-offer", "firefox-offer", "aiortc-offer", "chromium-simulcast-offer", "firefox-simulcast-offer"])
    func publisher(name: String) throws {
        let offer = try Self.fixture(name)
        let (answer, setup) = try Negotiation.answer(offer: offer, role: .publisher, stream: "s", peerID: "p",
                                                     local: local, published: nil)
        let reparsed = try SessionDescription(parsing: answer.serialize())
        #expect(reparsed.iceLite)
        #expect(reparsed.media.count == offer.media.count, "same m-lines")
        #expect(reparsed.media.map(\.mid) == offer.media.map(\.mid), "same mids in the same order")
        #expect(reparsed.bundleGroup?.mids.isEmpty == false)
        let audio = try #require(setup.audio)
        let video = try #require(setup.video)
        #expect(audio.codec.lowercased() == "opus")
        #expect(["vp8", "vp9"].contains(video.codec.lowercased()))
        let offersTWCC = offer.media.contains { $0.extMapID(for: SDPExtensionURI.transportWideCC) != nil }
        #expect((setup.transportCCExtensionID != nil) == offersTWCC)
        #expect(setup.remoteICE.ufrag == offer.transport(for: offer.media[0]).iceUfrag)
        for m in reparsed.media where !m.isRejected {
            #expect(m.rtcpMux)
            #expect(m.direction == .recvonly)
            #expect(m.setup == .passive, "offers say actpass; the relay is the DTLS server")
            #expect(m.candidates.first?.port == 40_000)
            #expect(m.fingerprints.first?.bytes == local.fingerprint.digest)
            #expect(m.extMaps.allSatisfy {
                [SDPExtensionURI.mid, SDPExtensionURI.audioLevel, SDPExtensionURI.transportWideCC,
                 SDPExtensionURI.rtpStreamID].contains($0.uri)
            })
            if let id = m.extMapID(for: SDPExtensionURI.transportWideCC) {
                #expect(setup.transportCCExtensionID.map(UInt16.init) == id, "the relay will read this id")
                #expect(m.rtcpFeedback.contains { $0.type == "transport-cc" }, "and answers with transport-wide feedback")
            }
            #expect(m.extMapID(for: SDPExtensionURI.mid) == offer.media.first { $0.mid == m.mid }?.extMapID(for: SDPExtensionURI.mid),
                    "the offer's extension id is echoed")
        }
    }

    @Test("a simulcast offer's rids are answered as received (RFC 8853) and named to the media loop with the rid extension",
          arguments: ["chromium-simulcast-offer", "firefox-simulcast-offer"])
    func simulcast(name: String) throws {
        let offer = try Self.fixture(name)
        let offered = try #require(offer.media.first { $0.media == "video" })
        let sendRIDs = try #require(offered.simulcast?.sendRIDs)
        let (answer, setup) = try Negotiation.answer(offer: offer, role: .publisher, stream: "s", peerID: "p",
                                                     local: local, published: nil)
        #expect(setup.simulcastRIDs == sendRIDs && sendRIDs.count >= 2)
        #expect(setup.ridExtensionID.map(UInt16.init) == offered.extMapID(for: SDPExtensionURI.rtpStreamID))
        let video = try #require(try SessionDescription(parsing: answer.serialize()).media.first { $0.media == "video" })
        #expect(video.simulcast?.recvRIDs == sendRIDs)
        #expect(video.rids.map(\.id) == sendRIDs && video.rids.allSatisfy { $0.direction == .recv })
        #expect(video.extMapID(for: SDPExtensionURI.rtpStreamID) != nil)
    }

    @Test("simulcast offers the relay cannot take are refused with a reason")
    func simulcastRefused() throws {
        let offer = try Self.fixture("chromium-simulcast-offer")
        var noExtension = offer
        for i in noExtension.media.indices {
            noExtension.media[i].attributes.removeAll { $0.name == "extmap" && ($0.value ?? "").contains("rtp-stream-id") }
        }
        #expect(throws: NegotiationError.self) {
            try Negotiation.answer(offer: noExtension, role: .publisher, stream: "s", peerID: "p", local: local, published: nil)
        }
        var four = offer
        for i in four.media.indices where four.media[i].media == "video" {
            four.media[i].attributes.removeAll { $0.name == "simulcast" || $0.name == "rid" }
            for rid in ["a", "b", "c", "d"] { four.media[i].attributes.append(SDPRid(id: rid, direction: .send).attribute) }
            four.media[i].attributes.append(SDPSimulcast(sendRIDs: ["a", "b", "c", "d"]).attribute)
        }
        do {
            _ = try Negotiation.answer(offer: four, role: .publisher, stream: "s", peerID: "p", local: local, published: nil)
            Issue.record("four encodings were accepted")
        } catch {
            #expect(error.message.contains("at most 3"))
        }
    }

    @Test("a watcher's offer gets sendonly sections with the relay's SSRCs and the publisher's codecs")
    func subscriber() throws {
        let published = Negotiation.PublishedTracks(
            audio: .init(kind: .audio, payloadType: 96, codec: "opus", clockRate: 48_000, ssrc: 1),
            video: .init(kind: .video, payloadType: 97, codec: "VP8", clockRate: 90_000, ssrc: 2))
        let offer = try Self.fixture("chromium-recvonly-offer")
        let (answer, setup) = try Negotiation.answer(offer: offer, role: .subscriber, stream: "s", peerID: "w",
                                                     local: local, published: published)
        let reparsed = try SessionDescription(parsing: answer.serialize())
        let video = try #require(setup.video)
        #expect(video.payloadType == 96, "Chromium's own VP8 payload type, not the publisher's 97")
        #expect(video.ssrc != 0)
        for m in reparsed.media where !m.isRejected {
            #expect(m.direction == .sendonly)
            #expect(!m.ssrcs.isEmpty)
        }
    }

    @Test("offers the relay cannot answer are refused with a reason", arguments: [
        ("m=audio 9 UDP/TLS/RTP/SAVPF 0", "a=rtpmap:0 PCMU/8000", "no usable media"),
        ("m=video 9 UDP/TLS/RTP/SAVPF 45", "a=rtpmap:45 AV1/90000", "no usable media"),
    ])
    func refusals(mline: String, rtpmap: String, reason: String) throws {
        let text = """
            v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\(mline)\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
            a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\na=fingerprint:sha-256 \(String(repeating: "AB:", count: 31))AB\r\n\
            a=setup:actpass\r\na=sendonly\r\na=rtcp-mux\r\n\(rtpmap)\r\n
            """
        let offer = try SessionDescription(parsing: text)
        let error = #expect(throws: NegotiationError.self) {
            try Negotiation.answer(offer: offer, role: .publisher, stream: "s", peerID: "p", local: local, published: nil)
        }
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
        var noICE = offer
        noICE.media[0].removeAttributes(named: "ice-ufrag")
        #expect(throws: NegotiationError.self) {
            try Negotiation.answer(offer: noICE, role: .publisher, stream: "s", peerID: "p", local: local, published: nil)
        }
    }
}
