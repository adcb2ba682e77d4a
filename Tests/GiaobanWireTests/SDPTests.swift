import Foundation
import GiaobanWire
import Testing

/// Real offers saved in Fixtures/sdp (see SOURCES.md there), read via `#filePath`.
enum SDPFixture {
    /// Every fixture's base name.
    static let all = [
        "chromium-offer", "chromium-simulcast-offer", "chromium-recvonly-offer",
        "firefox-offer", "firefox-simulcast-offer", "aiortc-offer",
    ]

    /// The fixture's exact text.
    static func text(_ name: String, _ file: String = #filePath) throws -> String {
        let folder = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return try String(contentsOfFile: folder + "/Fixtures/sdp/\(name).sdp", encoding: .utf8)
    }

    /// The fixture parsed.
    static func parsed(_ name: String) throws -> SessionDescription {
        try SessionDescription(parsing: text(name))
    }
}

@Suite("SDP fixtures")
struct SDPFixtureTests {
    @Test("every fixture parses and serializes back byte for byte", arguments: SDPFixture.all)
    func verbatimRoundTrip(name: String) throws {
        let text = try SDPFixture.text(name)
        #expect(text.hasSuffix("\r\n"))
        let sdp = try SessionDescription(parsing: text)
        #expect(sdp.serialize() == text)
        #expect(try SessionDescription(parsing: sdp.serialize()) == sdp)
        #expect(sdp.media.count >= 2)
    }

    @Test("LF line endings parse to the same description", arguments: SDPFixture.all)
    func lineFeedOnly(name: String) throws {
        let text = try SDPFixture.text(name)
        let lf = text.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(!lf.contains("\r"))
        let sdp = try SessionDescription(parsing: lf)
        #expect(sdp == (try SDPFixture.parsed(name)))
        #expect(sdp.serialize() == text)
    }

    @Test("raw bytes parse to the same description as text", arguments: SDPFixture.all)
    func bytes(name: String) throws {
        let text = try SDPFixture.text(name)
        let bytes = Array(text.utf8)
        let fromBytes = try bytes.withUnsafeBytes { try SessionDescription(parsing: $0) }
        #expect(fromBytes == (try SessionDescription(parsing: text)))
        #expect(fromBytes.utf8Bytes == bytes)
    }

    @Test("typed attributes re-serialize to the text they were read from", arguments: SDPFixture.all)
    func typedCanonical(name: String) throws {
        let sdp = try SDPFixture.parsed(name)
        var checked = 0
        for level in [sdp.attributes] + sdp.media.map(\.attributes) {
            for attribute in level {
                let canonical: String??
                switch attribute.name {
                case "group": canonical = try SDPGroup(attribute).attributeValue
                case "rtpmap": canonical = try SDPRTPMap(attribute).attributeValue
                case "fmtp": canonical = try SDPFormatParameters(attribute).attributeValue
                case "rtcp-fb": canonical = try SDPRTCPFeedback(attribute).attributeValue
                case "extmap": canonical = try SDPExtMap(attribute).attributeValue
                case "ssrc": canonical = try SDPSSRCAttribute(attribute).attributeValue
                case "ssrc-group": canonical = try SDPSSRCGroup(attribute).attributeValue
                case "rid": canonical = try SDPRid(attribute).attributeValue
                case "simulcast": canonical = try SDPSimulcast(attribute).attributeValue
                case "fingerprint": canonical = try SDPFingerprint(attribute).attributeValue
                case "setup": canonical = try SDPSetup(attribute).attributeValue
                case "msid": canonical = try SDPMSID(attribute).attributeValue
                case "candidate": canonical = try SDPCandidate(attribute).attributeValue
                default: continue
                }
                #expect(canonical == attribute.value, "\(attribute)")
                checked += 1
            }
        }
        #expect(checked > 40)
    }

    @Test("Chromium offer: bundle, Opus, VP8/VP9 with RTX, extmaps, DTLS and ICE")
    func chromium() throws {
        let sdp = try SDPFixture.parsed("chromium-offer")
        #expect(sdp.origin.username == "-")
        #expect(sdp.origin.sessionID == "2571139642281345232")
        #expect(sdp.origin.sessionVersion == 2)
        #expect(sdp.origin.address == "127.0.0.1")
        #expect(sdp.timings == [SDPTiming(start: 0, stop: 0)])
        #expect(sdp.bundleGroup == SDPGroup(semantics: "BUNDLE", mids: ["0", "1"]))
        #expect(sdp.extmapAllowMixed)
        #expect(sdp.msidSemantic == SDPMSIDSemantic(semantic: "WMS", identifiers: ["715d59ef-fb06-444e-83aa-94af855e2fa5"]))
        #expect(sdp.bundledMedia.map(\.media) == ["audio", "video"])

        let audio = try #require(sdp.media(mid: "0"))
        #expect(audio.media == "audio")
        #expect(audio.port == 60841)
        #expect(audio.proto == "UDP/TLS/RTP/SAVPF")
        #expect(audio.payloadTypes == [111, 63, 9, 0, 8, 13, 110, 126])
        #expect(audio.connections == [SDPConnection(address: "192.0.2.2")])
        let opus = try #require(audio.codec(payloadType: 111))
        #expect(opus.encodingName == "opus" && opus.clockRate == 48000 && opus.channels == 2)
        #expect(opus.parameters == [SDPParameter("minptime", "10"), SDPParameter("useinbandfec", "1")])
        #expect(opus.hasFeedback("transport-cc"))
        #expect(audio.codec(payloadType: 63)?.parameters == [SDPParameter("111/111")])
        #expect(audio.codec(payloadType: 0)?.encodingName == "PCMU")
        #expect(audio.extMapID(for: SDPExtensionURI.audioLevel) == 1)
        #expect(audio.extMapID(for: SDPExtensionURI.mid) == 4)
        #expect(audio.direction == .sendrecv)
        #expect(audio.msid == SDPMSID(streamID: "715d59ef-fb06-444e-83aa-94af855e2fa5",
                                      trackID: "b9c8cf93-91f6-4c84-8a0d-ddf6ba161c09"))
        #expect(audio.iceUfrag == "zAwC")
        #expect(audio.icePwd == "ulxOe3q30BwNouqRBfu/Figj")
        #expect(audio.iceOptions == ["trickle"])
        #expect(!audio.iceLite)
        #expect(audio.setup == .actpass)
        #expect(audio.rtcpMux && audio.rtcpReducedSize)
        #expect(!audio.endOfCandidates)
        #expect(audio.hasAttribute("rtcp-xr"))

        let fingerprint = try #require(audio.fingerprints.first)
        #expect(fingerprint.hashFunction == "sha-256")
        #expect(fingerprint.bytes.count == 32)
        #expect(Array(fingerprint.bytes.prefix(4)) == [0xE1, 0x13, 0xCA, 0x82])
        #expect(fingerprint.bytes.last == 0x81)

        let candidates = audio.candidates
        #expect(candidates.count == 4)
        #expect(candidates[0] == SDPCandidate(
            foundation: "1480897568", component: 1, transport: "udp", priority: 2_122_194_687,
            address: "192.0.2.2", port: 60841, kind: .host,
            extensions: [SDPParameter("generation", "0"), SDPParameter("network-id", "1")]))
        #expect(candidates[1].address == "fd00::2")
        #expect(candidates[2].transport == "tcp" && candidates[2].extensionValue("tcptype") == "active")
        #expect(candidates[2].port == 9 && candidates[2].generation == 0)

        let video = try #require(sdp.media(mid: "1"))
        #expect(video.codec(payloadType: 96)?.encodingName == "VP8")
        #expect(video.rtxPayloadType(for: 96) == 97)
        #expect(video.codec(payloadType: 97)?.associatedPayloadType == 96)
        let vp8 = try #require(video.codec(payloadType: 96))
        #expect(vp8.hasFeedback("nack") && vp8.hasFeedback("nack", "pli") && vp8.hasFeedback("ccm", "fir"))
        #expect(vp8.hasFeedback("goog-remb") && vp8.hasFeedback("transport-cc"))
        #expect(!vp8.hasFeedback("nack", "sli"))
        let vp9 = video.codecs.filter { $0.codecName == "vp9" }
        #expect(vp9.map(\.payloadType) == [98, 100])
        #expect(vp9.map { $0.parameters.value(of: "profile-id") } == ["0", "2"])
        #expect(video.rtxPayloadType(for: 98) == 99)
        #expect(video.rtxPayloadType(for: 100) == 101)
        #expect(video.codecs.count == 23)
        #expect(video.extMapID(for: SDPExtensionURI.transportWideCC) == 3)
        #expect(video.extMapID(for: SDPExtensionURI.rtpStreamID) == 10)
        #expect(video.extMapID(for: SDPExtensionURI.repairedRTPStreamID) == 11)
        #expect(video.extMaps.count == 11)
        #expect(video.ssrcGroups == [SDPSSRCGroup(semantics: "FID", ssrcs: [204_916_583, 631_189_533])])
        #expect(video.ssrcs == [204_916_583, 631_189_533])
        #expect(video.ssrcAttributes.first == SDPSSRCAttribute(ssrc: 204_916_583, name: "cname", value: "TA85wn1Mmg38hfak"))
        #expect(video.rids.isEmpty && video.simulcast == nil)
    }

    @Test("Chromium simulcast offer: three send rids and a=simulcast")
    func chromiumSimulcast() throws {
        let sdp = try SDPFixture.parsed("chromium-simulcast-offer")
        let video = try #require(sdp.media.last)
        #expect(video.media == "video")
        #expect(video.direction == .sendonly)
        #expect(video.rids == [SDPRid(id: "q", direction: .send), SDPRid(id: "h", direction: .send),
                               SDPRid(id: "f", direction: .send)])
        let simulcast = try #require(video.simulcast)
        #expect(simulcast.send == [[.init("q")], [.init("h")], [.init("f")]])
        #expect(simulcast.recv.isEmpty)
        #expect(simulcast.sendRIDs == ["q", "h", "f"])
        #expect(video.extMapID(for: SDPExtensionURI.rtpStreamID) == 10)
        #expect(video.ssrcs.isEmpty)
        #expect(sdp.media.first?.direction == .sendonly)
    }

    @Test("Chromium recvonly (WHEP style) offer")
    func chromiumRecvonly() throws {
        let sdp = try SDPFixture.parsed("chromium-recvonly-offer")
        #expect(sdp.media.map(\.direction) == [.recvonly, .recvonly])
        #expect(sdp.media.allSatisfy { $0.ssrcs.isEmpty && $0.msid == nil })
        #expect(sdp.media[0].codec(payloadType: 111)?.codecName == "opus")
        #expect(sdp.media[1].codecs.contains { $0.codecName == "vp8" })
        #expect(sdp.bundleGroup?.mids == ["0", "1"])
    }

    @Test("Firefox offer: session-level DTLS, extmap directions, RTCP component candidates")
    func firefox() throws {
        let sdp = try SDPFixture.parsed("firefox-offer")
        #expect(sdp.origin.username == "mozilla...THIS_IS_SDPARTA-99.0")
        #expect(sdp.direction == .sendrecv)
        #expect(sdp.fingerprints.count == 1)
        #expect(sdp.iceOptions == ["trickle"])
        #expect(sdp.msidSemantic == SDPMSIDSemantic(semantic: "WMS", identifiers: ["*"]))
        let audio = sdp.media[0]
        #expect(audio.fingerprints.isEmpty)
        let transport = sdp.transport(for: audio)
        #expect(transport.fingerprints == sdp.fingerprints)
        #expect(transport.iceUfrag == "b30665e8" && transport.icePwd == "9f7bb222a9f31f5c3c3ce81fed7f3a5e")
        #expect(transport.setup == .actpass)
        #expect(transport.iceOptions == ["trickle"])
        #expect(transport.endOfCandidates)
        #expect(transport.candidates.filter { $0.component == 2 }.count == 4)
        #expect(transport.candidates[0].address == "935446b1-a218-482e-9810-f8f32c64269a.local")
        #expect(transport.candidates[2].transport == "TCP" && !transport.candidates[2].isUDP)
        #expect(audio.extMaps[1] == SDPExtMap(id: 2, uri: "urn:ietf:params:rtp-hdrext:csrc-audio-level", direction: .recvonly))
        #expect(audio.codec(payloadType: 109)?.parameters.value(of: "useinbandfec") == "1")
        #expect(audio.codec(payloadType: 9)?.channels == 1)
        #expect(audio.codec(payloadType: 101)?.parameters == [SDPParameter("0-15")])
        let video = sdp.media[1]
        #expect(video.codec(payloadType: 121)?.codecName == "vp9")
        #expect(video.rtxPayloadType(for: 120) == 124)
        #expect(video.rtxPayloadType(for: 121) == 125)
        #expect(video.msid?.streamID == "{17ec1f5e-63ba-4af3-856f-239dd504c7b8}")
    }

    @Test("Firefox simulcast offer")
    func firefoxSimulcast() throws {
        let sdp = try SDPFixture.parsed("firefox-simulcast-offer")
        let video = sdp.media[1]
        #expect(video.rids.map(\.id) == ["q", "h", "f"])
        #expect(video.simulcast?.sendRIDs == ["q", "h", "f"])
        #expect(video.extMaps.first { $0.uri == SDPExtensionURI.rtpStreamID }?.direction == .sendonly)
    }

    @Test("aiortc offer: connection line, several fingerprints, end-of-candidates")
    func aiortc() throws {
        let sdp = try SDPFixture.parsed("aiortc-offer")
        #expect(sdp.origin.sessionID == "4004957124")
        let audio = sdp.media[0]
        #expect(audio.connections.first?.address == "192.0.2.2")
        #expect(audio.fingerprints.map(\.hashFunction) == ["sha-256", "sha-384", "sha-512"])
        #expect(audio.fingerprints.map(\.bytes.count) == [32, 48, 64])
        #expect(audio.endOfCandidates)
        #expect(audio.codec(payloadType: 96)?.codecName == "opus")
        #expect(audio.candidates.first?.foundation == "f957a2332b1715da3b0ef8ba684454eb")
        #expect(audio.attributeValue("rtcp") == .some("9 IN IP4 0.0.0.0"))
        let video = sdp.media[1]
        #expect(video.rtxPayloadType(for: 97) == 98)
        #expect(video.codec(payloadType: 99)?.parameters.value(of: "profile-level-id") == "42001f")
        #expect(video.ssrcGroups.first?.ssrcs == [1_046_987_723, 317_478_691])
    }
}
