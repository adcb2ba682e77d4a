import GiaobanWire
import Testing

@Suite("SDP typed attributes")
struct SDPAttributeTests {
    @Test("a=extmap with and without direction and extension attributes (RFC 8285 §8 examples)")
    func extmap() throws {
        let plain = try SDPExtMap(attributeValue: "1 http://example.com/082005/ext.htm#ttime")
        #expect(plain == SDPExtMap(id: 1, uri: "http://example.com/082005/ext.htm#ttime"))
        let full = try SDPExtMap(attributeValue: "2/sendrecv http://example.com/082005/ext.htm#xmeta short")
        #expect(full.id == 2 && full.direction == .sendrecv)
        #expect(full.uri == "http://example.com/082005/ext.htm#xmeta")
        #expect(full.extensionAttributes == "short")
        #expect(full.attributeValue == "2/sendrecv http://example.com/082005/ext.htm#xmeta short")
        #expect(try SDPExtMap(attributeValue: "4351 urn:x").id == 4351)
        #expect(throws: WireError(.syntax, "SDP")) { try SDPExtMap(attributeValue: "4352 urn:x") }
    }

    @Test("a=fingerprint hex (RFC 4572 §5 example), lower case accepted, upper case written")
    func fingerprint() throws {
        let f = try SDPFingerprint(attributeValue: "SHA-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB")
        #expect(f.hashFunction == "SHA-1")
        #expect(f.bytes == [0x4A, 0xAD, 0xB9, 0xB1, 0x3F, 0x82, 0x18, 0x3B, 0x54, 0x02,
                            0x12, 0xDF, 0x3E, 0x5D, 0x49, 0x6B, 0x19, 0xE5, 0x7C, 0xAB])
        let lower = try SDPFingerprint(attributeValue: "sha-256 0a:ff:10")
        #expect(lower.bytes == [0x0A, 0xFF, 0x10])
        #expect(lower.attributeValue == "sha-256 0A:FF:10")
        #expect(SDPFingerprint(hashFunction: "sha-256", bytes: [0, 1, 0xAB]).attribute.description == "a=fingerprint:sha-256 00:01:AB")
    }

    @Test("a=candidate host and srflx with raddr/rport (RFC 8839 §5.1 grammar)")
    func candidate() throws {
        let host = try SDPCandidate(attributeValue: "1 1 UDP 2130706431 203.0.113.141 8998 typ host")
        #expect(host == SDPCandidate(foundation: "1", transport: "UDP", priority: 2_130_706_431,
                                     address: "203.0.113.141", port: 8998))
        #expect(host.isUDP)
        let srflx = try SDPCandidate(
            attributeValue: "2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 203.0.113.141 rport 8998")
        #expect(srflx.kind == .srflx)
        #expect(srflx.relatedAddress == "203.0.113.141" && srflx.relatedPort == 8998)
        #expect(srflx.extensions.isEmpty)
        #expect(srflx.attributeValue == "2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 203.0.113.141 rport 8998")
    }

    @Test("trickle candidate text, with extensions kept in order")
    func trickleCandidate() throws {
        let text = "candidate:842163049 1 udp 1677729535 198.51.100.7 3478 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag EsAw network-cost 999"
        let c = try SDPCandidate(parsing: text)
        #expect(c.foundation == "842163049" && c.priority == 1_677_729_535)
        #expect(c.relatedAddress == "0.0.0.0" && c.relatedPort == 0)
        #expect(c.extensions == [SDPParameter("generation", "0"), SDPParameter("ufrag", "EsAw"),
                                 SDPParameter("network-cost", "999")])
        #expect(c.extensionValue("ufrag") == "EsAw" && c.networkCost == 999 && c.generation == 0)
        #expect("candidate:" + (c.attributeValue ?? "") == text)
        #expect(try SDPCandidate(parsing: String(text.dropFirst(10))) == c)
        #expect(SDPCandidate.Kind(rawValue: "relay") == .relay)
    }

    @Test("a=rid with pt list and restrictions (RFC 8851 §10 grammar)")
    func rid() throws {
        let r = try SDPRid(attributeValue: "hi send pt=96,97;max-width=1280;max-height=720;max-fps=30;max-br=1500000")
        #expect(r.id == "hi" && r.direction == .send)
        #expect(r.payloadTypes == [96, 97])
        #expect(r.maxWidth == 1280 && r.maxHeight == 720 && r.maxBitrate == 1_500_000)
        #expect(r.restriction("max-fps") == "30")
        #expect(r.attributeValue == "hi send pt=96,97;max-width=1280;max-height=720;max-fps=30;max-br=1500000")
        let bare = try SDPRid(attributeValue: "lo_1 recv")
        #expect(bare == SDPRid(id: "lo_1", direction: .recv))
        #expect(bare.maxWidth == nil)
        let restricted = SDPRid(id: "f", direction: .send, restrictions: [SDPParameter("max-width", "640")])
        #expect(restricted.attributeValue == "f send max-width=640")
    }

    @Test("a=simulcast alternatives and paused streams (RFC 8853 §5.1 grammar)")
    func simulcast() throws {
        let s = try SDPSimulcast(attributeValue: "send 1,2,3;~4,~5 recv 6;~7,~8")
        #expect(s.send == [[.init("1"), .init("2"), .init("3")], [.init("4", paused: true), .init("5", paused: true)]])
        #expect(s.recv == [[.init("6")], [.init("7", paused: true), .init("8", paused: true)]])
        #expect(s.sendRIDs == ["1", "4"] && s.recvRIDs == ["6", "7"])
        #expect(s.attributeValue == "send 1,2,3;~4,~5 recv 6;~7,~8")
        let recvFirst = try SDPSimulcast(attributeValue: "recv a;b send c")
        #expect(recvFirst.recvRIDs == ["a", "b"] && recvFirst.sendRIDs == ["c"])
        #expect(recvFirst.attributeValue == "send c recv a;b")
        #expect(SDPSimulcast(sendRIDs: ["q", "h", "f"]).attributeValue == "send q;h;f")
    }

    @Test("a=fmtp parameters: ordered, case-insensitive lookup, editable")
    func fmtp() throws {
        var f = try SDPFormatParameters(attributeValue: "102 level-asymmetry-allowed=1; packetization-mode=1;profile-level-id=42001f")
        #expect(f.payloadType == 102)
        #expect(f.parameters.map(\.name) == ["level-asymmetry-allowed", "packetization-mode", "profile-level-id"])
        #expect(f["Profile-Level-Id"] == "42001f")
        f["packetization-mode"] = nil
        f["sprop-stereo"] = "1"
        #expect(f.attributeValue == "102 level-asymmetry-allowed=1;profile-level-id=42001f;sprop-stereo=1")
        #expect(try SDPFormatParameters(attributeValue: "97 apt=96").associatedPayloadType == 96)
        #expect(try SDPFormatParameters(attributeValue: "97").parameters.isEmpty)
        #expect(try SDPFormatParameters(attributeValue: "webrtc-datachannel max-message-size=262144").payloadType == nil)
    }

    @Test("a=rtpmap, a=rtcp-fb, a=ssrc, a=ssrc-group, a=group, a=msid, a=setup build their canonical text")
    func builders() {
        #expect(SDPRTPMap(payloadType: 111, encodingName: "opus", clockRate: 48000, channels: 2).attribute.description
            == "a=rtpmap:111 opus/48000/2")
        #expect(SDPRTPMap(payloadType: 96, encodingName: "VP8", clockRate: 90000).attributeValue == "96 VP8/90000")
        #expect(SDPRTCPFeedback(payloadType: 96, type: "nack", subtype: "pli").attributeValue == "96 nack pli")
        #expect(SDPRTCPFeedback(payloadType: nil, type: "transport-cc").attributeValue == "* transport-cc")
        #expect(SDPSSRCAttribute(ssrc: 1, name: "msid", value: "s t").attributeValue == "1 msid:s t")
        #expect(SDPSSRCGroup(semantics: "SIM", ssrcs: [1, 2, 3]).attributeValue == "SIM 1 2 3")
        #expect(SDPGroup(semantics: "BUNDLE", mids: ["a", "v"]).attributeValue == "BUNDLE a v")
        #expect(SDPGroup(semantics: "BUNDLE", mids: []).attributeValue == "BUNDLE")
        #expect(SDPMSID(streamID: "-", trackID: "t").attributeValue == "- t")
        #expect(SDPSetup.passive.attribute == SDPAttribute("setup", "passive"))
    }

    @Test("typed parsers read what they write")
    func typedRoundTrip() throws {
        let wildcard = try SDPRTCPFeedback(attributeValue: "* ccm fir")
        #expect(wildcard.payloadType == nil && wildcard.type == "ccm" && wildcard.subtype == "fir")
        #expect(wildcard.applies(to: 5) && !SDPRTCPFeedback(payloadType: 4, type: "nack").applies(to: 5))
        let ssrc = try SDPSSRCAttribute(attributeValue: "2980515394 msid:a b")
        #expect(ssrc == SDPSSRCAttribute(ssrc: 2_980_515_394, name: "msid", value: "a b"))
        #expect(try SDPSSRCAttribute(attributeValue: ssrc.attributeValue) == ssrc)
        let semantic = try SDPMSIDSemantic(attributeValue: " WMS")
        #expect(semantic == SDPMSIDSemantic(semantic: "WMS", identifiers: []))
        #expect(try SDPSetup(attributeValue: "holdconn") == .holdconn)
        #expect(throws: WireError(.syntax, "SDP")) { try SDPSetup(SDPAttribute("mid", "active")) }
    }

    @Test("direction, flags and single-value setters edit attributes in place")
    func setters() {
        var m = MediaDescription(media: "video", formats: [],
                                 attributes: [SDPAttribute("mid", "0"), SDPAttribute("sendrecv"), SDPAttribute("rtcp-mux")])
        m.direction = .recvonly
        m.mid = "v1"
        m.rtcpReducedSize = true
        m.rtcpMux = true
        m.iceOptions = ["trickle", "ice2"]
        m.setup = .passive
        #expect(m.attributes.map(\.description) == [
            "a=mid:v1", "a=recvonly", "a=rtcp-mux", "a=rtcp-rsize", "a=ice-options:trickle ice2", "a=setup:passive",
        ])
        m.direction = nil
        m.rtcpMux = false
        m.mid = nil
        #expect(m.attributes.map(\.description) == ["a=rtcp-rsize", "a=ice-options:trickle ice2", "a=setup:passive"])
        #expect(m.direction == nil && m.iceOptions == ["trickle", "ice2"])
        #expect(SDPDirection.sendonly.reversed == .recvonly && SDPDirection.inactive.reversed == .inactive)
        #expect(SDPDirection.recvonly.receives && !SDPDirection.recvonly.sends)
    }

    @Test("a built answer serializes to the exact expected text and parses back")
    func buildAnswer() throws {
        var audio = MediaDescription(media: "audio", port: 9, proto: "UDP/TLS/RTP/SAVPF")
        audio.connections = [SDPConnection()]
        audio.mid = "0"
        audio.iceUfrag = "gb01"
        audio.icePwd = "0123456789abcdefghijkl"
        audio.append(SDPFingerprint(hashFunction: "sha-256", bytes: [0xAB, 0x01]))
        audio.setup = .passive
        audio.direction = .recvonly
        audio.rtcpMux = true
        audio.append(SDPExtMap(id: 1, uri: SDPExtensionURI.audioLevel))
        audio.addCodec(SDPCodec(payloadType: 111, encodingName: "opus", clockRate: 48000, channels: 2,
                                parameters: [SDPParameter("minptime", "10"), SDPParameter("useinbandfec", "1")],
                                feedback: [SDPRTCPFeedback(payloadType: nil, type: "transport-cc")]))
        audio.append(SDPCandidate(foundation: "1", priority: 2_130_706_431, address: "192.0.2.10", port: 40000))
        audio.endOfCandidates = true
        var sdp = SessionDescription(origin: SDPOrigin(sessionID: "1234", sessionVersion: 1))
        sdp.iceLite = true
        sdp.append(SDPGroup(semantics: "BUNDLE", mids: ["0"]))
        sdp.media = [audio]
        let expected = """
            v=0\r
            o=- 1234 1 IN IP4 127.0.0.1\r
            s=-\r
            t=0 0\r
            a=ice-lite\r
            a=group:BUNDLE 0\r
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r
            c=IN IP4 0.0.0.0\r
            a=mid:0\r
            a=ice-ufrag:gb01\r
            a=ice-pwd:0123456789abcdefghijkl\r
            a=fingerprint:sha-256 AB:01\r
            a=setup:passive\r
            a=recvonly\r
            a=rtcp-mux\r
            a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
            a=rtpmap:111 opus/48000/2\r
            a=rtcp-fb:111 transport-cc\r
            a=fmtp:111 minptime=10;useinbandfec=1\r
            a=candidate:1 1 udp 2130706431 192.0.2.10 40000 typ host\r
            a=end-of-candidates\r

            """
        #expect(sdp.serialize() == expected)
        #expect(audio.description.hasPrefix("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"))
        let back = try SessionDescription(parsing: expected)
        #expect(back == sdp)
        #expect(back.transport(for: back.media[0]).iceLite)
        #expect(back.media[0].codec(payloadType: 111)?.feedback == [SDPRTCPFeedback(payloadType: 111, type: "transport-cc")])
    }

    @Test("session lines other than WebRTC's survive a round trip in RFC order")
    func optionalSessionLines() throws {
        let text = """
            v=0\r
            o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1\r
            s=Call to John Smith\r
            i=SDP Offer #1\r
            u=http://www.jdoe.example.com/home.html\r
            e=Jane Doe <jane@jdoe.example.com>\r
            p=+1 617 555-6011\r
            c=IN IP4 198.51.100.1\r
            b=AS:128\r
            t=0 0\r
            r=7d 1h 0 25h\r
            z=2882844526 -1h 2898848070 0\r
            m=audio 49170 RTP/AVP 0\r
            i=voice\r
            b=TIAS:64000\r
            m=video 51372/2 RTP/AVP 99\r
            c=IN IP6 2001:db8::2\r
            a=rtpmap:99 h263-1998/90000\r

            """
        let sdp = try SessionDescription(parsing: text)
        #expect(sdp.origin.sessionVersion == 3_724_394_405)
        #expect(sdp.emails == ["Jane Doe <jane@jdoe.example.com>"])
        #expect(sdp.bandwidths == [SDPBandwidth(type: "AS", value: 128)])
        #expect(sdp.timings[0].repeats == ["7d 1h 0 25h"])
        #expect(sdp.media[0].bandwidths == [SDPBandwidth(type: "TIAS", value: 64000)])
        #expect(sdp.media[1].port == 51372 && sdp.media[1].portCount == 2)
        #expect(sdp.media[1].connections[0].addressType == "IP6")
        #expect(sdp.media[0].codec(payloadType: 0)?.encodingName == "PCMU")
        #expect(sdp.serialize() == text)
    }
}
