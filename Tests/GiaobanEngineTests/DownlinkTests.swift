import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
import GiaobanSRTP
import GiaobanWire
import Testing

private func videoTrack(_ ssrc: UInt32) -> PeerSetup.Track {
    PeerSetup.Track(kind: .video, payloadType: 96, codec: "VP8", clockRate: 90_000, ssrc: ssrc)
}

/// RTP packets received, by SSRC: (sequence number, first payload byte after the descriptor).
private func bySSRC(_ packets: [[UInt8]]) throws -> [UInt32: [(UInt16, UInt8)]] {
    var result: [UInt32: [(UInt16, UInt8)]] = [:]
    for packet in packets {
        try packet.withUnsafeBytes { bytes in
            let view = try RTPPacketView(bytes)
            result[view.ssrc, default: []].append((view.sequenceNumber, view.payload[1]))
        }
    }
    return result
}

/// The payload-specific feedback (PT 206) messages in RTCP compounds, as (FMT, media SSRC).
private func keyframeRequests(_ compounds: [[UInt8]]) throws -> [(UInt8, UInt32)] {
    var found: [(UInt8, UInt32)] = []
    for compound in compounds {
        try compound.withUnsafeBytes { bytes in
            for packet in try RTCPCompound(bytes) where packet.bytes[1] == 206 {
                found.append((packet.bytes[0] & 0x1F, packet.bytes.u32(at: 8)))
            }
        }
    }
    return found
}

@Suite("Downlink: one subscriber connection receiving many streams")
struct DownlinkRouterTests {
    @Test("two streams on one connection: own SSRCs, contiguous numbering, NACK and PLI per stream; a subscription removed stops, the other continues")
    func twoStreams() throws {
        let h = try Harness()
        let fingerprint = h.relayCertificate.fingerprint
        let a = try LoopbackPeer(port: 6000, relayFingerprint: fingerprint)
        let b = try LoopbackPeer(port: 6001, relayFingerprint: fingerprint)
        let down = try LoopbackPeer(port: 6002, relayFingerprint: fingerprint)
        h.peers = [a, b, down]
        try h.router.addPeer(a.setup(role: .publisher, stream: "a", id: "pa", relayICE: .random(), ssrc: 0), now: h.now)
        try h.router.addPeer(b.setup(role: .publisher, stream: "b", id: "pb", relayICE: .random(), ssrc: 0), now: h.now)
        let relayICE = ICECredentials.random()
        down.relayICE = relayICE
        try h.router.addPeer(PeerSetup(id: "down", role: .subscriber, stream: "", localICE: relayICE, remoteICE: down.ice,
                                       remoteFingerprint: down.certificate.fingerprint, dtlsClient: false, audio: nil, video: nil), now: h.now)
        #expect(h.router.subscriptions(peer: "down").isEmpty)
        #expect(h.router.setSubscriptions(peer: "down", [.init(stream: "a", audio: nil, video: videoTrack(0xA1)),
                                                         .init(stream: "b", audio: nil, video: videoTrack(0xB1))], now: h.now, out: h.out))
        #expect(h.router.subscriptions(peer: "down") == ["a", "b"])
        try h.connect(a)
        try h.connect(b)
        try h.connect(down)
        _ = try a.takeRTCP()
        _ = try b.takeRTCP()
        _ = try down.takeRTCP()

        func send(_ count: Int, from peer: LoopbackPeer, ssrc: UInt32, first: UInt16, marker: UInt8) throws {
            for i in 0..<count {
                let plain = vp8Packet(sequence: first &+ UInt16(i), timestamp: 3000 * UInt32(first &+ UInt16(i)), ssrc: ssrc,
                                      payload: [marker] + [UInt8](repeating: UInt8(i), count: 50))
                h.send(try peer.protect(plain), from: peer)
            }
            h.deliver()
        }
        try send(3, from: a, ssrc: 0x1111, first: 100, marker: 0xAA)
        try send(3, from: b, ssrc: 0x2222, first: 7000, marker: 0xBB)
        // b's second packet is lost on the way (the RTP header, with the SSRC, is not encrypted).
        let ofB = down.inbox.indices.filter { Array(down.inbox[$0][8..<12]) == [0, 0, 0, 0xB1] }
        #expect(ofB.count == 3)
        down.inbox.remove(at: ofB[1])
        let first = try bySSRC(try down.takeRTP())
        #expect(Set(first.keys) == [0xA1, 0xB1], "each stream with the SSRC offered for it")
        let aSeq = try #require(first[0xA1]), bSeq = try #require(first[0xB1])
        #expect(aSeq.map(\.1) == [0xAA, 0xAA, 0xAA])
        #expect(bSeq.map(\.1) == [0xBB, 0xBB])
        #expect(aSeq.map(\.0) == [aSeq[0].0, aSeq[0].0 &+ 1, aSeq[0].0 &+ 2])
        #expect(bSeq.map(\.0) == [bSeq[0].0, bSeq[0].0 &+ 2])

        // A NACK about b's SSRC is answered from b's cache, on b's SSRC.
        var rtcp = [UInt8](repeating: 0, count: 64)
        var n = try rtcp.withUnsafeMutableBytes {
            try RTCPCompound.marshal(ReceiverReportBuilder(ssrc: 9), GenericNACKBuilder(senderSSRC: 9, mediaSSRC: 0xB1, lost: [bSeq[0].0 &+ 1]), into: $0)
        }
        h.send(try down.protect(Array(rtcp.prefix(n)), rtcp: true), from: down)
        h.deliver()
        let resent = try bySSRC(try down.takeRTP())
        #expect(resent[0xB1]?.map(\.0) == [bSeq[0].0 &+ 1])
        #expect(resent[0xA1] == nil)

        // A PLI about b's SSRC reaches b's publisher only.
        h.now += .seconds(2)
        n = try rtcp.withUnsafeMutableBytes {
            try RTCPCompound.marshal(ReceiverReportBuilder(ssrc: 9), PictureLossIndication(senderSSRC: 9, mediaSSRC: 0xB1), into: $0)
        }
        h.send(try down.protect(Array(rtcp.prefix(n)), rtcp: true), from: down)
        h.deliver()
        #expect(try keyframeRequests(try a.takeRTCP()).isEmpty)
        #expect(try keyframeRequests(try b.takeRTCP()).map(\.1) == [0x2222])

        // Without a: a's packets stop, b's continue right after what was sent.
        #expect(h.router.setSubscriptions(peer: "down", [.init(stream: "b", audio: nil, video: videoTrack(0xB1))], now: h.now, out: h.out))
        h.deliver()
        try send(2, from: a, ssrc: 0x1111, first: 103, marker: 0xAA)
        try send(2, from: b, ssrc: 0x2222, first: 7003, marker: 0xBB)
        let after = try bySSRC(try down.takeRTP())
        #expect(after[0xA1] == nil)
        #expect(after[0xB1]?.map(\.0) == [bSeq[1].0 &+ 1, bSeq[1].0 &+ 2])
        #expect(h.router.subscriptions(peer: "down") == ["b"])

        // a comes back on the same SSRC: its numbering continues right after what was sent.
        #expect(h.router.setSubscriptions(peer: "down", [.init(stream: "b", audio: nil, video: videoTrack(0xB1)),
                                                         .init(stream: "a", audio: nil, video: videoTrack(0xA1))], now: h.now, out: h.out))
        h.deliver()
        _ = try a.takeRTCP()
        try send(1, from: a, ssrc: 0x1111, first: 105, marker: 0xAA)
        #expect(try bySSRC(try down.takeRTP())[0xA1]?.map(\.0) == [aSeq[2].0 &+ 1], "no jump back or ahead on the same SSRC")

        // Removing the connection ends its subscriptions; the publishers stay.
        h.router.removePeer(id: "down", reason: "test", out: nil)
        #expect(h.router.hasPublisher(stream: "a") && h.router.hasPublisher(stream: "b"))
        #expect(!h.router.setSubscriptions(peer: "down", [], now: h.now, out: h.out))
    }

    @Test("an ICE restart: old credentials refused, new ones answered, DTLS not redone, numbering continues, consent still expires")
    func iceRestart() throws {
        let h = try Harness()
        let (pub, sub) = try MediaRouterTests().publisherAndSubscriber(h)
        _ = try sub.takeRTCP()
        h.send(try pub.protect(vp8Packet(sequence: 10, timestamp: 0, ssrc: 0x1111, payload: [1])), from: pub)
        h.deliver()
        let before = try #require(try bySSRC(try sub.takeRTP())[0xABCD]?.first?.0)
        let handshakes = h.router.counters.dtlsConnected

        let fresh = ICECredentials.random()
        #expect(h.router.restartICE(peer: "sub", local: fresh, remote: sub.ice))
        #expect(!h.router.restartICE(peer: "nobody", local: fresh, remote: sub.ice))
        let unknown = h.router.counters.dropped(.stunUnknownUser)
        h.send(try sub.bindingRequest(), from: sub)
        #expect(h.out.count == 0, "a check with the old credentials is not answered")
        #expect(h.router.counters.dropped(.stunUnknownUser) == unknown + 1)
        sub.relayICE = fresh
        h.send(try sub.bindingRequest(), from: sub)
        let response = try #require(h.out.count == 1 ? Array(h.out.datagram(0)) : nil)
        try response.withUnsafeBytes { bytes in
            let message = try STUNMessageView(bytes)
            #expect(message.type == .bindingSuccess)
            try message.verifyMessageIntegrity(password: fresh.pwd)
        }
        h.out.removeAll()

        h.send(try pub.protect(vp8Packet(sequence: 11, timestamp: 3000, ssrc: 0x1111, payload: [2])), from: pub)
        h.deliver()
        #expect(try bySSRC(try sub.takeRTP())[0xABCD]?.map(\.0) == [before &+ 1], "the same SRTP session and numbering")
        #expect(h.router.counters.dtlsConnected == handshakes, "no new DTLS handshake")
        #expect(h.router.counters.iceRestarts == 1)

        // Consent runs on from the last check: silence after the restart still ends the peer.
        h.now += .seconds(31)
        h.router.tick(now: h.now, wallClock: 0, out: h.out)
        #expect(!h.router.hasPeer(id: "sub"))
    }

    @Test("the link estimate is shared out: lowest layers first, then the main view up, thumbnails last")
    func sharing() {
        let k = 1000
        let main = [100 * k, 300 * k, 900 * k], thumb = [100 * k]
        #expect(MediaRouter.share(1_000 * k, bitrates: [main, thumb], caps: [Int.max, 0]) == [2, 0])
        #expect(MediaRouter.share(250 * k, bitrates: [main, thumb], caps: [Int.max, 0]) == [0, 0])
        #expect(MediaRouter.share(150 * k, bitrates: [main, thumb], caps: [Int.max, 0]) == [0, -1], "the thumbnail pauses first")
        #expect(MediaRouter.share(150 * k, bitrates: [thumb, main], caps: [0, Int.max]) == [-1, 0], "priority by cap, not order")
        #expect(MediaRouter.share(50 * k, bitrates: [main], caps: [Int.max]) == [-1], "nothing fits: paused")
        #expect(MediaRouter.share(500 * k, bitrates: [main], caps: [Int.max]) == [1], "one video: the highest that fits")
        #expect(MediaRouter.share(1_200 * k, bitrates: [main, main], caps: [2, 2]) == [2, 1], "equal caps: the first subscribed first")
    }
}

@Suite("Downlink negotiation: the relay's offers and the client's answers")
struct DownlinkNegotiationTests {
    let local = LocalTransport(address: "192.0.2.7", port: 3478,
                               fingerprint: CertificateFingerprint(algorithm: "sha-256", digest: [UInt8](repeating: 0xAB, count: 32)))

    @Test("lines: appended for new tracks, inactive when gone, taken back by their own stream only")
    func reconcile() {
        var lines = DownlinkNegotiation.initialLines()
        #expect(lines.count == 1 && lines[0].stream == nil && lines[0].mid == "0")
        let a: [DownlinkNegotiation.Wanted] = [.init(stream: "m1-a", kind: .audio, codec: "opus"), .init(stream: "m1-a", kind: .video, codec: "VP8")]
        #expect(DownlinkNegotiation.reconcile(&lines, wanted: a))
        #expect(lines.map(\.mid) == ["0", "1", "2"])
        #expect(lines[1].ssrc != 0 && lines[2].ssrc != 0 && lines[1].ssrc != lines[2].ssrc)
        #expect(!DownlinkNegotiation.reconcile(&lines, wanted: a), "nothing changed")
        let b: [DownlinkNegotiation.Wanted] = [.init(stream: "m1-b", kind: .video, codec: "VP9")]
        #expect(DownlinkNegotiation.reconcile(&lines, wanted: b))
        #expect(lines.map(\.active) == [false, false, false, true])
        #expect(lines.map(\.stream) == [nil, "m1-a", "m1-a", "m1-b"], "an inactive line remembers its stream")
        let before = lines.map(\.ssrc)
        #expect(lines[3].track.payloadType == DownlinkNegotiation.vp9PayloadType && lines[3].track.codec == "VP9")
        #expect(DownlinkNegotiation.reconcile(&lines, wanted: a + b))
        #expect(lines.map(\.mid) == ["0", "1", "2", "3"], "a comes back on its own lines")
        #expect(lines.map(\.active) == [false, true, true, true])
        #expect(lines.map(\.ssrc) == before, "the same SSRCs: the relay continues their numbering")
        let c: [DownlinkNegotiation.Wanted] = [.init(stream: "m1-c", kind: .audio, codec: "opus")]
        #expect(DownlinkNegotiation.reconcile(&lines, wanted: c))
        #expect(lines.map(\.mid) == ["0", "1", "2", "3", "4"], "another stream never takes a's or b's lines")
    }

    @Test("the offer: ICE-lite, actpass, BUNDLE of every line, one SSRC and msid per sending line, the placeholder inactive")
    func offer() throws {
        var lines = DownlinkNegotiation.initialLines()
        _ = DownlinkNegotiation.reconcile(&lines, wanted: [.init(stream: "m1-a", kind: .audio, codec: "opus"),
                                                           .init(stream: "m1-a", kind: .video, codec: "VP8")])
        let ice = ICECredentials.random()
        let text = DownlinkNegotiation.offer(lines: lines, ice: ice, local: local, sessionID: 42, version: 3).serialize()
        let sdp = try SessionDescription(parsing: text)
        #expect(sdp.media.count == 3)
        #expect(text.contains("a=group:BUNDLE 0 1 2"))
        #expect(text.contains("a=ice-lite"))
        #expect(text.contains("o=- 42 3 IN IP4 192.0.2.7"))
        #expect(sdp.media.map(\.direction) == [.inactive, .sendonly, .sendonly])
        #expect(sdp.media.allSatisfy { $0.setup == .actpass && $0.iceUfrag == ice.ufrag })
        #expect(sdp.media[1].ssrcs == [lines[1].ssrc])
        #expect(sdp.media[2].ssrcs == [lines[2].ssrc])
        #expect(sdp.media[0].ssrcs.isEmpty)
        #expect(text.contains("a=msid:m1-a giaoban-video"))
        #expect(sdp.media[2].formats == ["96"])
        #expect(sdp.media[2].extMaps.map(\.uri) == [SDPExtensionURI.transportWideCC])
        #expect(sdp.media[1].extMaps.map(\.id).sorted() == [1, 3])
    }

    static func answer(_ sections: [(port: Int, direction: String)], setup: String = "active", ice: Bool = true) -> String {
        var text = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n"
        for (i, section) in sections.enumerated() {
            text += "m=\(i == 2 ? "video" : "audio") \(section.port) UDP/TLS/RTP/SAVPF \(i == 2 ? 96 : 111)\r\nc=IN IP4 0.0.0.0\r\na=mid:\(i)\r\n"
            if ice { text += "a=ice-ufrag:cli1\r\na=ice-pwd:clientpasswordclientpass\r\n" }
            text += "a=fingerprint:sha-256 " + [String](repeating: "CD", count: 32).joined(separator: ":") + "\r\n"
            text += "a=setup:\(setup)\r\na=\(section.direction)\r\na=rtcp-mux\r\n"
            text += "a=extmap:3 \(SDPExtensionURI.transportWideCC)\r\n"
        }
        return text
    }

    @Test("the answer: accepted lines, rejected ones, credentials, DTLS role, and what makes it unusable")
    func answer() throws {
        var lines = DownlinkNegotiation.initialLines()
        _ = DownlinkNegotiation.reconcile(&lines, wanted: [.init(stream: "m1-a", kind: .audio, codec: "opus"),
                                                           .init(stream: "m1-a", kind: .video, codec: "VP8")])
        let parsed = try DownlinkNegotiation.read(answer: try SessionDescription(parsing: Self.answer([(9, "inactive"), (9, "recvonly"), (0, "inactive")])),
                                                  lines: lines)
        #expect(parsed.accepted == ["1"], "the placeholder is inactive and the video was rejected")
        #expect(parsed.remoteICE.ufrag == "cli1")
        #expect(!parsed.dtlsClient)
        #expect(parsed.transportCCExtensionID == 3)
        #expect(parsed.remoteFingerprint.digest == [UInt8](repeating: 0xCD, count: 32))
        let subscriptions = DownlinkNegotiation.subscriptions(lines: lines, accepted: parsed.accepted, caps: ["m1-a": 0])
        #expect(subscriptions.count == 1)
        #expect(subscriptions.first?.audio?.ssrc == lines[1].ssrc && subscriptions.first?.video == nil)
        #expect(subscriptions.first?.maxLayerRank == 0)
        let both = DownlinkNegotiation.subscriptions(lines: lines, accepted: ["1", "2"])
        #expect(both.count == 1 && both[0].video?.ssrc == lines[2].ssrc && both[0].audio != nil)

        let passive = try DownlinkNegotiation.read(answer: try SessionDescription(parsing: Self.answer([(9, "inactive"), (9, "recvonly"), (9, "recvonly")], setup: "passive")),
                                                   lines: lines)
        #expect(passive.dtlsClient && passive.accepted == ["1", "2"])

        #expect(throws: NegotiationError.self) {
            try DownlinkNegotiation.read(answer: try SessionDescription(parsing: Self.answer([(9, "inactive"), (9, "recvonly")])), lines: lines)
        }
        #expect(throws: NegotiationError.self) {
            try DownlinkNegotiation.read(answer: try SessionDescription(parsing: Self.answer([(9, "inactive"), (9, "recvonly"), (9, "recvonly")], ice: false)),
                                         lines: lines)
        }
        #expect(throws: NegotiationError.self) {
            try DownlinkNegotiation.read(answer: try SessionDescription(parsing: Self.answer([(9, "inactive"), (9, "recvonly"), (9, "recvonly")], setup: "actpass")),
                                         lines: lines)
        }
    }
}
