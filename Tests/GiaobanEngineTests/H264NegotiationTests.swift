import GiaobanCrypto
import GiaobanEngine
import GiaobanWire
import Testing

/// An offer with one video m-line carrying `codecs` (payload type, rtpmap name, fmtp) and Opus.
private func offer(video codecs: [(UInt8, String, String?)], direction: String) throws -> SessionDescription {
    var lines = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1", "a=ice-ufrag:abcd", "a=ice-pwd:0123456789abcdef012345",
                 "a=fingerprint:sha-256 " + (0..<32).map { _ in "AB" }.joined(separator: ":"), "a=setup:actpass",
                 "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:0", "a=\(direction)", "a=rtcp-mux",
                 "a=rtpmap:111 opus/48000/2",
                 "m=video 9 UDP/TLS/RTP/SAVPF " + codecs.map { String($0.0) }.joined(separator: " "), "c=IN IP4 0.0.0.0", "a=mid:1",
                 "a=\(direction)", "a=rtcp-mux"]
    for (pt, name, fmtp) in codecs {
        lines.append("a=rtpmap:\(pt) \(name)/90000")
        if let fmtp { lines.append("a=fmtp:\(pt) \(fmtp)") }
    }
    return try SessionDescription(parsing: lines.joined(separator: "\r\n") + "\r\n")
}

@Suite("H.264 in WHIP and WHEP answers: packetization mode 1, the publisher's profile for watchers")
struct H264NegotiationTests {
    let local = LocalTransport(address: "127.0.0.1", port: 40_000,
                               fingerprint: CertificateFingerprint(algorithm: "sha-256", digest: [UInt8](repeating: 1, count: 32)))

    @Test("a publisher offering only H.264 gets mode 1 chosen over mode 0, with its profile in the answer")
    func publisher() throws {
        let sdp = try offer(video: [(127, "H264", "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f"),
                                    (125, "H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")],
                            direction: "sendonly")
        let (answer, setup) = try Negotiation.answer(offer: sdp, role: .publisher, stream: "cam", peerID: "p", local: local, published: nil)
        let video = try #require(setup.video)
        #expect(video.codec == "H264" && video.payloadType == 125 && video.profileLevelID == "42e01f")
        let text = answer.serialize()
        #expect(text.contains("a=fmtp:125 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"))
        #expect(!text.contains("a=rtpmap:127"), "mode 0 is not offered back")
    }

    @Test("a watcher gets the entry of the publisher's profile; a watcher without it gets no video")
    func watcher() throws {
        let published = Negotiation.PublishedTracks(
            audio: PeerSetup.Track(kind: .audio, payloadType: 111, codec: "opus", clockRate: 48_000, ssrc: 1),
            video: PeerSetup.Track(kind: .video, payloadType: 125, codec: "H264", clockRate: 90_000, ssrc: 2, profileLevelID: "42e01f"))
        let both = try offer(video: [(96, "VP8", nil), (102, "H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"),
                                     (106, "H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")],
                             direction: "recvonly")
        let (answer, setup) = try Negotiation.answer(offer: both, role: .subscriber, stream: "cam", peerID: "w", local: local, published: published)
        #expect(setup.video?.payloadType == 106, "constrained baseline, as sent")
        #expect(answer.serialize().contains("a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"))

        let vp8Only = try offer(video: [(96, "VP8", nil)], direction: "recvonly")
        let (_, audioOnly) = try Negotiation.answer(offer: vp8Only, role: .subscriber, stream: "cam", peerID: "w2", local: local,
                                                    published: published)
        #expect(audioOnly.video == nil && audioOnly.audio != nil, "no transcoding: no H.264, no video")
    }

    @Test("VP8 stays the first choice when a publisher offers VP8 and H.264")
    func vp8First() throws {
        let sdp = try offer(video: [(125, "H264", "packetization-mode=1;profile-level-id=42e01f"), (96, "VP8", nil)], direction: "sendonly")
        let (_, setup) = try Negotiation.answer(offer: sdp, role: .publisher, stream: "s", peerID: "p", local: local, published: nil)
        #expect(setup.video?.codec == "VP8")
    }
}
