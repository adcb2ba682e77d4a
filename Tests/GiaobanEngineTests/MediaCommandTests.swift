import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
import GiaobanWire
import Testing

@Suite("Media commands and queries: what the control plane asks of the router")
struct MediaCommandTests {
    /// A connected publisher "pub" on stream "s" and subscriber "sub" of it.
    func connected() throws -> (Harness, LoopbackPeer, LoopbackPeer) {
        let h = try Harness()
        let pub = try LoopbackPeer(port: 5000, relayFingerprint: h.relayCertificate.fingerprint)
        let sub = try LoopbackPeer(port: 5001, relayFingerprint: h.relayCertificate.fingerprint)
        h.peers = [pub, sub]
        #expect(h.router.apply(.addPeer(pub.setup(role: .publisher, stream: "s", id: "pub", relayICE: .random(), ssrc: 0)),
                               now: h.now, out: h.out) == nil)
        #expect(h.router.apply(.addPeer(sub.setup(role: .subscriber, stream: "s", id: "sub", relayICE: .random(), ssrc: 0xABCD)),
                               now: h.now, out: h.out) == nil)
        try h.connect(pub)
        try h.connect(sub)
        return (h, pub, sub)
    }

    @Test("commands on streams and subscribers report what is not there; queries answer from the same state")
    func streamsAndLayers() throws {
        let (h, _, _) = try connected()
        let r = h.router
        #expect(r.answer(.hasPeer("pub")) && r.answer(.hasPeer("sub")) && !r.answer(.hasPeer("nobody")))
        #expect(r.answer(.peerCount) == 2)
        #expect(r.answer(.subscriptions(peer: "sub")) == ["s"])
        #expect(r.answer(.publishedTracks(streams: ["s", "none"])).map { $0?.video?.codec } == ["VP8", nil])

        #expect(r.apply(.setAudioMuted(stream: "s", muted: true), now: h.now, out: h.out) == nil)
        #expect(r.answer(.audioActivity).map(\.muted) == [true])
        #expect(r.apply(.setAudioMuted(stream: "none", muted: true), now: h.now, out: h.out) == .noStream("none"))
        #expect(r.apply(.setAudioGates(["s": true]), now: h.now, out: h.out) == nil)
        #expect(r.answer(.audioActivity).map(\.gated) == [true])

        #expect(r.apply(.setVideoGates(["s": true]), now: h.now, out: h.out) == nil)
        #expect(r.answer(.videoGatedStreams) == ["s"])
        #expect(r.apply(.setVideoGates(["s": false, "none": true]), now: h.now, out: h.out) == .noStream("none"))
        #expect(r.answer(.videoGatedStreams).isEmpty)

        #expect(r.apply(.setMaxLayer(peer: "sub", stream: nil, rank: 0), now: h.now, out: h.out) == nil)
        #expect(r.answer(.subscriberVideo(peer: "sub"))?.maxRank == 0)
        #expect(r.apply(.setMaxLayer(peer: "pub", stream: nil, rank: 0), now: h.now, out: h.out) == .noPeer("pub"),
                "a publisher has no layer to cap")
    }

    @Test("an ICE restart keeps the DTLS fingerprint; a downlink answer fails once its peer is gone; removal is an event")
    func restartsAndRemoval() throws {
        let (h, pub, sub) = try connected()
        let r = h.router
        let restarts = r.answer(.counters).iceRestarts
        let other = try DTLSCertificate().fingerprint
        #expect(r.apply(.restartICE(peer: "pub", local: .random(), remote: .random(), fingerprint: other), now: h.now, out: h.out)
                == .fingerprintChanged(peer: "pub"))
        #expect(r.apply(.restartICE(peer: "pub", local: .random(), remote: .random(), fingerprint: pub.certificate.fingerprint),
                        now: h.now, out: h.out) == nil)
        #expect(r.answer(.counters).iceRestarts == restarts + 1)

        _ = r.drainEvents()
        #expect(r.apply(.removePeer(id: "sub", reason: "ended"), now: h.now, out: h.out) == nil)
        #expect(r.drainEvents() == [.removed(peer: "sub", reason: "ended")])
        #expect(!r.answer(.hasPeer("sub")))

        let setup = sub.setup(role: .subscriber, stream: "", id: "sub", relayICE: .random(), ssrc: 0xABCD)
        let latest = MediaCommand.LatestSubscriptions { [.init(peer: "sub", subscriptions: [.init(stream: "s", audio: nil, video: setup.video)])] }
        #expect(r.apply(.answerDownlink(setup: setup, create: false, restart: false, subscriptions: latest), now: h.now, out: h.out)
                == .noPeer("sub"))
        #expect(r.apply(.answerDownlink(setup: setup, create: true, restart: false, subscriptions: latest), now: h.now, out: h.out) == nil)
        #expect(r.answer(.subscriptions(peer: "sub")) == ["s"], "the plan was read when the command ran")
    }
}

/// Failures compared by their text (a `.dtls` failure carries a `DTLSError`, which is not `Equatable`).
extension MediaFailure: Equatable {
    static func == (a: MediaFailure, b: MediaFailure) -> Bool { "\(a)" == "\(b)" }
}

@Suite("Shutdown: every peer is told")
struct RemoveAllPeersTests {
    @Test("removeAllPeers sends a receiver its streams' BYE, then the DTLS close_notify, and removes every peer")
    func goodbye() throws {
        let h = try Harness()
        let (pub, sub) = try MediaRouterTests().publisherAndSubscriber(h)
        _ = try sub.takeRTCP()
        _ = h.router.drainEvents()
        #expect(h.router.apply(.removeAllPeers(reason: "the server is shutting down"), now: h.now, out: h.out) == nil)
        var toSubscriber: [[UInt8]] = []
        for i in 0..<h.out.count where h.out.destinations[i] == sub.address { toSubscriber.append(Array(h.out.datagram(i))) }
        #expect(toSubscriber.count == 2, "an SRTCP BYE, then the close_notify")
        #expect(toSubscriber.last?.first == 21, "a DTLS alert record last")
        sub.inbox = toSubscriber.filter { $0.count > 8 && (192...223).contains($0[1]) }
        let rtcp = try #require(try sub.takeRTCP().first)
        var byeSources: [UInt32] = []
        var reason: [UInt8] = []
        try rtcp.withUnsafeBytes { bytes in
            for packet in try RTCPCompound(bytes) where packet.packetType == .goodbye {
                let bye = GoodbyeBuilder(try Goodbye(packet.bytes))
                byeSources += bye.sources
                reason = bye.reason ?? []
            }
        }
        #expect(byeSources == [0xABCD], "the SSRC the subscriber receives from the relay")
        #expect(String(decoding: reason, as: UTF8.self) == "the server is shutting down")
        #expect(h.out.destinations[0..<h.out.count].contains(pub.address), "the publisher gets its close_notify too")
        #expect(h.router.peerCount == 0)
        let removed = h.router.drainEvents()
        #expect(removed.count == 2)
        #expect(removed.contains(.removed(peer: "pub", reason: "the server is shutting down")))
        #expect(removed.contains(.removed(peer: "sub", reason: "the server is shutting down")))
    }
}
