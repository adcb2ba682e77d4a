import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
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
