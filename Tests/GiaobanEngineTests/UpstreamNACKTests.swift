import GiaobanEngine
import GiaobanWire
import Testing

/// The Generic NACKs in RTCP compounds: (media SSRC, the sequence numbers they ask for).
private func nacks(_ compounds: [[UInt8]]) throws -> [(UInt32, [UInt16])] {
    var found: [(UInt32, [UInt16])] = []
    for compound in compounds {
        try compound.withUnsafeBytes { bytes in
            for packet in try RTCPCompound(bytes) where packet.bytes[1] == 205 && packet.bytes[0] & 0x1F == GenericNACK.format {
                let nack = try GenericNACK(packet.bytes)
                found.append((nack.mediaSSRC, nack.flatMap { Array($0) }))
            }
        }
    }
    return found
}

@Suite("Upstream NACK: the relay asks publishers again for what was lost on the way in")
struct UpstreamNACKTests {
    @Test("a gap from the publisher is NACKed at once and again after the interval; the packet sent again reaches the watcher")
    func askAndRecover() throws {
        let h = try Harness()
        let (pub, sub) = try MediaRouterTests().publisherAndSubscriber(h)
        _ = try pub.takeRTCP()
        _ = try sub.takeRTCP()
        func send(_ i: Int) throws {
            let plain = vp8Packet(sequence: UInt16(100 + i), timestamp: 3000 * UInt32(i), ssrc: 0x1111,
                                  payload: [UInt8](repeating: UInt8(i), count: 100))
            h.send(try pub.protect(plain), from: pub)
        }
        for i in [0, 1, 3, 4] { try send(i) }  // 102 is lost on the way in
        h.deliver()
        #expect(try sub.takeRTP().count == 4)

        h.router.tick(now: h.now, wallClock: 0, out: h.out)
        h.deliver()
        #expect(try nacks(pub.takeRTCP()).map { $0.1 } == [[102]], "asked for at once")
        #expect(h.router.counters.upstreamNACKs == 1)
        h.now += .milliseconds(50)
        h.router.tick(now: h.now, wallClock: 0, out: h.out)
        h.deliver()
        #expect(try nacks(pub.takeRTCP()).isEmpty, "not again within the interval")
        h.now += .milliseconds(60)
        h.router.tick(now: h.now, wallClock: 0, out: h.out)
        h.deliver()
        #expect(try nacks(pub.takeRTCP()).map { $0.1 } == [[102]], "again after it")

        try send(2)  // the retransmission (same SSRC and sequence number: no RTX)
        h.deliver()
        let late = try sub.takeRTP()
        #expect(late.count == 1)
        let payload = try late.first.map { packet in try packet.withUnsafeBytes { Array(try RTPPacketView($0).payload) } }
        #expect(payload == [0x10] + [UInt8](repeating: 2, count: 100))
        #expect(h.router.counters.upstreamRecovered == 1)
        h.now += .milliseconds(200)
        h.router.tick(now: h.now, wallClock: 0, out: h.out)
        h.deliver()
        #expect(try nacks(pub.takeRTCP()).isEmpty, "nothing left to ask for")
    }

    @Test("a packet never sent again is given up after three requests, and a keyframe is asked for")
    func giveUp() throws {
        let h = try Harness()
        let (pub, _) = try MediaRouterTests().publisherAndSubscriber(h)
        _ = try pub.takeRTCP()
        for i in [0, 2] {
            let plain = vp8Packet(sequence: UInt16(i), timestamp: 0, ssrc: 0x1111, payload: [0x10, 1])
            h.send(try pub.protect(plain), from: pub)
        }
        var asked = 0
        for _ in 0..<5 {
            h.router.tick(now: h.now, wallClock: 0, out: h.out)
            h.deliver()
            let compounds = try pub.takeRTCP()
            asked += try nacks(compounds).count
            h.now += .milliseconds(110)
        }
        #expect(asked == 3)
        #expect(h.router.counters.upstreamGivenUp == 1)
        #expect(h.router.counters.keyframeRequests >= 1, "a PLI instead of the lost packet")
    }
}

@Suite("A closed ICE-TCP path")
struct ClosedPathTests {
    @Test("a watcher whose TCP connection closed gets nothing more, and stays until it nominates another path")
    func closedPath() throws {
        let h = try Harness()
        let fingerprint = h.relayCertificate.fingerprint
        let pub = try LoopbackPeer(port: 5000, relayFingerprint: fingerprint)
        let sub = try LoopbackPeer(port: 5001, connection: 7, relayFingerprint: fingerprint)
        h.peers = [pub, sub]
        try h.router.addPeer(pub.setup(role: .publisher, stream: "s", id: "pub", relayICE: .random(), ssrc: 0), now: h.now)
        try h.router.addPeer(sub.setup(role: .subscriber, stream: "s", id: "sub", relayICE: .random(), ssrc: 0xABCD), now: h.now)
        try h.connect(pub)
        try h.connect(sub)
        func send(_ i: Int) throws {
            let plain = vp8Packet(sequence: UInt16(i), timestamp: 0, ssrc: 0x1111, payload: [0x10, UInt8(i)])
            h.send(try pub.protect(plain), from: pub)
        }
        try send(0)
        #expect(h.out.streamed == 1, "the packet goes to the TCP connection")
        h.deliver()
        #expect(try sub.takeRTP().count == 1)
        let forwarded = h.router.counters.rtpForwarded

        h.router.pathClosed(sub.address)
        try send(1)
        #expect(h.out.count == 0, "nothing queued for a closed connection")
        #expect(h.router.counters.rtpForwarded == forwarded)
        #expect(h.router.hasPeer(id: "sub"), "the peer stays: it may nominate another path")
    }
}
