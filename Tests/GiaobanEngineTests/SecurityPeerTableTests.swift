import GiaobanCrypto
@testable import GiaobanEngine
import GiaobanICE
import GiaobanWire
import Testing

/// A weak reference, to see that the router freed an object.
struct WeakObject {
    weak var object: AnyObject?
}

/// Peers that come and go in numbers (a flood of sessions that then expire) leave nothing
/// behind in the router: no table entry, no peer, stream, DTLS or SRTP state.
@Suite("Security: removed peers leave nothing behind")
struct SecurityPeerTableTests {
    static let video = PeerSetup.Track(kind: .video, payloadType: 96, codec: "VP8", clockRate: 90_000, ssrc: 0)

    /// An authenticated check for a peer whose relay credentials are `local` (RFC 8445 §7.1.2).
    static func check(local: ICECredentials, remote: ICECredentials) throws -> [UInt8] {
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: .random(), integrityKey: HMACSHA1(key: local.pwd),
                                         fingerprint: true)
        try builder.append(.username("\(local.ufrag):\(remote.ufrag)"))
        try builder.append(.priority(1_853_824_767))
        try builder.append(.iceControlling(42))
        try builder.append(.useCandidate)
        var bytes = [UInt8](repeating: 0, count: builder.marshalSize)
        _ = try bytes.withUnsafeMutableBytes { try builder.marshal(into: $0) }
        return bytes
    }

    @Test("300 peers (publishers, WHEP watchers, downlinks) checked, restarted and removed by DELETE and by timeout: all tables empty, all freed")
    func tablesEmptyAfterRemoval() throws {
        var settings = MediaRouter.Settings()
        settings.handshakeTimeout = .seconds(5)
        let h = try Harness(settings: settings)
        let certificate = try DTLSCertificate()
        let remote = ICECredentials.random()
        var freed: [WeakObject] = []
        for i in 0..<300 {
            let kind = i % 3  // 0: publisher of s<k>, 1: WHEP watcher of s<k>, 2: a downlink
            var track = Self.video
            track.ssrc = kind == 0 ? 0 : UInt32(1000 + i)
            let local = ICECredentials.random()
            let setup = PeerSetup(id: "p\(i)", role: kind == 0 ? .publisher : .subscriber, stream: kind == 2 ? "" : "s\(i / 3)",
                                  localICE: local, remoteICE: remote, remoteFingerprint: certificate.fingerprint, dtlsClient: false,
                                  audio: nil, video: track)
            try h.router.addPeer(setup, now: h.now)
            if kind == 2 {
                h.router.setSubscriptions(peer: "p\(i)", [.init(stream: "s\(i / 3)", audio: nil, video: track),
                                                          .init(stream: "nobody-\(i)", audio: nil, video: track)], now: h.now, out: h.out)
            }
            var check = try Self.check(local: local, remote: remote)
            check.withUnsafeMutableBytes {
                h.router.handle($0, from: STUNAddress(ipv4: 10, 0, UInt8(i / 250), UInt8(i % 250), port: 40_000), now: h.now, out: h.out)
            }
            if i % 10 == 0 { h.router.restartICE(peer: "p\(i)", local: .random(), remote: .random()) }
            freed.append(WeakObject(object: h.router.peers["p\(i)"]))
            freed.append(WeakObject(object: h.router.streams["s\(i / 3)"]))
            h.out.removeAll()
        }
        #expect(h.router.tableSizes["peers"] == 300)
        #expect(h.router.tableSizes["addresses"] == 300)
        #expect(h.router.counters.dropped.reduce(0, +) == 0)
        // Half go by DELETE, the rest time out (no DTLS handshake).
        for i in stride(from: 0, to: 300, by: 2) { h.router.removePeer(id: "p\(i)", reason: "ended", out: h.out) }
        h.now += .seconds(6)
        h.router.tick(now: h.now, wallClock: 0, out: h.out)
        #expect(h.router.drainEvents().count(where: { if case .removed = $0 { true } else { false } }) == 300)
        #expect(h.router.tableSizes == ["peers": 0, "ufrags": 0, "addresses": 0, "streams": 0, "events": 0])
        #expect(freed.allSatisfy { $0.object == nil }, "every peer and stream is freed (with its DTLS, SRTP and packet caches)")
    }

    @Test("a downlink that stops watching a stream keeps its numbering, not the stream and its packet caches")
    func endedSubscriptionsReleaseStreams() throws {
        let h = try Harness()
        let (pub, sub) = try MediaRouterTests().publisherAndSubscriber(h)
        h.send(try pub.protect(vp8Packet(sequence: 1, timestamp: 0, ssrc: 0x1111, payload: [1, 2, 3])), from: pub)
        h.deliver()
        let certificate = try DTLSCertificate()
        var track = Self.video
        track.ssrc = 0xD0D0
        try h.router.addPeer(PeerSetup(id: "downlink", role: .subscriber, stream: "", localICE: .random(), remoteICE: .random(),
                                       remoteFingerprint: certificate.fingerprint, dtlsClient: false, audio: nil, video: track), now: h.now)
        h.router.setSubscriptions(peer: "downlink", [.init(stream: "s", audio: nil, video: track)], now: h.now, out: h.out)
        let stream = WeakObject(object: h.router.streams["s"])
        #expect(stream.object != nil)
        h.router.setSubscriptions(peer: "downlink", [], now: h.now, out: h.out)
        h.router.removePeer(id: "pub", reason: "ended", out: h.out)
        h.router.removePeer(id: "sub", reason: "ended", out: h.out)
        _ = sub
        #expect(h.router.tableSizes["streams"] == 0)
        #expect(stream.object == nil, "the stream nobody publishes or watches is freed while the downlink lives on")
        #expect(h.router.peers["downlink"]?.ended["s"] != nil, "its numbering is kept for when the stream comes back")
    }
}
