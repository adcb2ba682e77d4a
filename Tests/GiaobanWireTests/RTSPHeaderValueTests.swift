import GiaobanWire
import Testing

/// Transport, Session, WWW-Authenticate, rtsp:// URLs and the H.264 track of a DESCRIBE.
@Suite("RTSP header values and the DESCRIBE track")
struct RTSPHeaderValueTests {
    @Test("Transport: interleaved and UDP answers, the request text, and errors")
    func transport() throws {
        let tcp = try RTSPTransport(parsing: "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=1A2B3C4D;mode=\"PLAY\"")
        #expect(tcp.lower == .tcp && tcp.unicast && tcp.interleaved == 0...1 && tcp.ssrc == 0x1A2B_3C4D)
        let udp = try RTSPTransport(parsing: "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;source=10.0.0.9")
        #expect(udp.lower == .udp && udp.clientPorts == 5000...5001 && udp.serverPorts == 6970...6971)
        #expect(udp.source == "10.0.0.9")
        #expect(try RTSPTransport(parsing: "rtp/avp/udp;multicast, RTP/AVP/TCP").unicast == false)
        #expect(RTSPTransport(lower: .tcp, interleaved: 0...1).headerValue == "RTP/AVP/TCP;unicast;interleaved=0-1")
        #expect(RTSPTransport(lower: .udp, clientPorts: 5000...5001).headerValue == "RTP/AVP;unicast;client_port=5000-5001")
        for bad in ["", "RAW/RAW/UDP;unicast", "RTP/AVP/TCP;interleaved=2-1", "RTP/AVP;client_port=70000-70001",
                    "RTP/AVP;client_port", "RTP/AVP/TCP;interleaved=x", "RTP/AVP;ssrc=123456789"] {
            #expect(throws: WireError(.syntax, "RTSP Transport"), "\(bad)") { try RTSPTransport(parsing: bad) }
        }
    }

    @Test("Session: id and timeout, default 60 s, errors")
    func session() throws {
        #expect(try RTSPSessionHeader(parsing: "47112344;timeout=30") == RTSPSessionHeader(id: "47112344", timeout: 30))
        #expect(try RTSPSessionHeader(parsing: "abc") == RTSPSessionHeader(id: "abc", timeout: 60))
        #expect(try RTSPSessionHeader(parsing: "abc ; Timeout = 8").timeout == 8)
        for bad in ["", ";timeout=3", "abc;timeout=0", "abc;timeout=x", "a b"] {
            #expect(throws: WireError(.syntax, "RTSP Session"), "\(bad)") { try RTSPSessionHeader(parsing: bad) }
        }
    }

    @Test("WWW-Authenticate: Digest with quoted strings, escapes and qop; Basic; unsupported")
    func challenge() throws {
        let text = #"Digest realm="Cam \"7\"", nonce="a,b", qop="auth,auth-int", opaque="xyz", algorithm=MD5, stale=TRUE"#
        guard case .digest(let d) = try RTSPAuthChallenge(parsing: text) else { Issue.record("not digest"); return }
        #expect(d == RTSPDigestChallenge(realm: "Cam \"7\"", nonce: "a,b", opaque: "xyz", qopAuth: true, stale: true))
        #expect(try RTSPAuthChallenge(parsing: "Basic realm=\"cam\"") == .basic(realm: "cam"))
        #expect(try RTSPAuthChallenge(parsing: "Digest realm=\"r\", nonce=\"n\"") == .digest(RTSPDigestChallenge(realm: "r", nonce: "n")))
        for bad in ["Bearer x=1", "Digest nonce=\"n\"", "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
                    "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512"] {
            #expect(throws: WireError(.unsupportedType, "RTSP WWW-Authenticate"), "\(bad)") { try RTSPAuthChallenge(parsing: bad) }
        }
        #expect(throws: WireError(.syntax, "RTSP WWW-Authenticate")) { try RTSPAuthChallenge(parsing: "Digest realm=\"r") }
        #expect(throws: WireError(.syntax, "RTSP WWW-Authenticate")) { try RTSPAuthChallenge(parsing: "Digest realm") }
        #expect(RTSPAuthChallenge.preferred(among: ["Basic realm=\"b\"", "Digest realm=\"d\", nonce=\"n\""])
                == .digest(RTSPDigestChallenge(realm: "d", nonce: "n")))
        #expect(RTSPAuthChallenge.preferred(among: ["Bearer", "NTLM"]) == nil)
    }

    @Test("Authorization: the RFC 2617 §3.5 header fields, escaped")
    func authorization() {
        let d = RTSPDigestChallenge(realm: "testrealm@host.com", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                                    opaque: "5ccc069c403ebaf9f0171e9517f40e41", qopAuth: true)
        #expect(d.authorization(username: "Mu\"fasa", uri: "/dir/index.html", response: "6629fae49393a05397450978507c4ef1",
                                cnonce: "0a4f113b", nonceCount: 1)
                == #"Digest username="Mu\"fasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", "#
                + #"uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41", "#
                + #"qop=auth, nc=00000001, cnonce="0a4f113b""#)
        #expect(RTSPDigestChallenge.nonceCountText(0x1F) == "0000001f")
    }

    @Test("rtsp:// URLs: credentials taken out, ports, IPv6, errors")
    func url() throws {
        let u = try RTSPURL(parsing: "rtsp://admin:p%40ss:w@cam.example:8554/Streaming/Channels/101?x=1")
        #expect(u.user == "admin" && u.password == "p@ss:w" && u.host == "cam.example" && u.port == 8554)
        #expect(u.string == "rtsp://cam.example:8554/Streaming/Channels/101?x=1")
        #expect(!u.string.contains("p@ss") && !u.string.contains("admin"))
        let v6 = try RTSPURL(parsing: "RTSP://[fd00::7]")
        #expect(v6.host == "fd00::7" && v6.port == 554 && v6.path == "/" && v6.string == "rtsp://[fd00::7]/")
        for bad in ["http://cam/", "rtsp://", "rtsp://cam:0/", "rtsp://cam:99999/", "rtsp://ca m/", "rtsp://[::1/"] {
            #expect(throws: WireError(.syntax, "RTSP URL"), "\(bad)") { try RTSPURL(parsing: bad) }
        }
    }

    /// A DESCRIBE answer as gst-rtsp-server writes it, with an audio section first.
    static let sdp = """
        v=0\r
        o=- 1188340656180883 1 IN IP4 127.0.0.1\r
        s=Session streamed with GStreamer\r
        t=0 0\r
        a=tool:GStreamer\r
        a=control:*\r
        m=audio 0 RTP/AVP 0\r
        a=control:stream=0\r
        m=video 0 RTP/AVP 96\r
        c=IN IP4 0.0.0.0\r
        a=rtpmap:96 H264/90000\r
        a=framerate:15\r
        a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==;profile-level-id=42C01E\r
        a=control:stream=1\r

        """

    @Test("the H.264 track: control resolved against Content-Base, the request URL, or absolute")
    func track() throws {
        let sdp = try SessionDescription(parsing: Self.sdp)
        let t = try RTSPVideoTrack(sdp: sdp, contentBase: "rtsp://127.0.0.1:8554/camera/", requestURL: "rtsp://127.0.0.1:8554/camera")
        #expect(t == RTSPVideoTrack(controlURL: "rtsp://127.0.0.1:8554/camera/stream=1", payloadType: 96, packetizationMode: 1,
                                    profileLevelID: "42C01E", parameterSets: ["Z0LAHtkDxWhAAAADAEAAAAwDxYuS", "aMuMsg=="]))
        let noBase = try RTSPVideoTrack(sdp: sdp, contentBase: nil, requestURL: "rtsp://cam/live")
        #expect(noBase.controlURL == "rtsp://cam/live/stream=1")
        let absolute = try SessionDescription(parsing: Self.sdp.replacing(
            "a=control:stream=1", with: "a=control:rtsp://other/track1"))
        #expect(try RTSPVideoTrack(sdp: absolute, contentBase: nil, requestURL: "rtsp://cam/").controlURL == "rtsp://other/track1")
    }

    @Test("no H.264, or only packetization mode 2: unsupported")
    func noH264() throws {
        let vp8 = try SessionDescription(parsing: Self.sdp.replacing("H264/90000", with: "VP8/90000"))
        #expect(throws: WireError(.unsupportedType, "RTSP SDP H.264")) {
            try RTSPVideoTrack(sdp: vp8, contentBase: nil, requestURL: "rtsp://cam/")
        }
        let mode2 = try SessionDescription(parsing: Self.sdp.replacing("packetization-mode=1", with: "packetization-mode=2"))
        #expect(throws: WireError(.unsupportedType, "RTSP SDP H.264")) {
            try RTSPVideoTrack(sdp: mode2, contentBase: nil, requestURL: "rtsp://cam/")
        }
    }
}
