import GiaobanEngine
import GiaobanWire
import Testing

@Suite("Transport-wide feedback from the router")
struct RouterTransportFeedbackTests {
    @Test("the router answers a publisher's transport-wide sequence numbers with feedback")
    func router() throws {
        let h = try Harness()
        let pub = try LoopbackPeer(port: 9000, relayFingerprint: h.relayCertificate.fingerprint)
        h.peers = [pub]
        var setup = pub.setup(role: .publisher, stream: "tw", id: "pub", relayICE: .random(), ssrc: 0)
        setup.transportCCExtensionID = 3
        try h.router.addPeer(setup, now: h.now)
        try h.connect(pub)
        _ = try pub.takeRTCP()
        for i in 0..<4 where i != 2 {
            var ext = RTPHeaderExtensionBuilder()
            ext.append(id: 3, data: [0x00, UInt8(10 + i)])
            let packet = RTPPacketBuilder(payloadType: 96, sequenceNumber: UInt16(i), timestamp: 0, ssrc: 0x5555,
                                          extensions: ext, payload: [0x10, 1, 2, 3])
            var bytes = [UInt8](repeating: 0, count: packet.marshalSize)
            _ = try bytes.withUnsafeMutableBytes { try packet.marshal(into: $0) }
            h.send(try pub.protect(bytes), from: pub)
            h.now += .milliseconds(5)
        }
        h.router.tick(now: h.now, wallClock: 0, out: h.out)
        h.deliver()
        var reported: [(UInt16, Bool)] = []
        for rtcp in try pub.takeRTCP() {
            try rtcp.withUnsafeBytes { raw in
                for packet in try RTCPCompound(raw) where packet.packetType == .transportFeedback && packet.header.count == TransportWideFeedback.format {
                    reported += try TransportWideFeedback(packet.bytes).map { ($0.sequenceNumber, $0.status != .notReceived) }
                }
            }
        }
        #expect(reported.map(\.0) == [10, 11, 12, 13])
        #expect(reported.map(\.1) == [true, true, false, true])
    }
}

@Suite("Retransmissions under the same SRTP index")
struct RetransmissionIdentityTests {
    @Test("a NACKed packet goes out again byte for byte (its transport-wide number too), so AES-GCM never sees one nonce twice with different data")
    func sameBytes() throws {
        let h = try Harness()
        let pub = try LoopbackPeer(port: 9100, relayFingerprint: h.relayCertificate.fingerprint)
        let sub = try LoopbackPeer(port: 9101, relayFingerprint: h.relayCertificate.fingerprint)
        h.peers = [pub, sub]
        try h.router.addPeer(pub.setup(role: .publisher, stream: "rx", id: "pub", relayICE: .random(), ssrc: 0), now: h.now)
        var setup = sub.setup(role: .subscriber, stream: "rx", id: "sub", relayICE: .random(), ssrc: 0xABCD)
        setup.transportCCExtensionID = 5
        try h.router.addPeer(setup, now: h.now)
        try h.connect(pub)
        try h.connect(sub)
        _ = try sub.takeRTCP()
        for i in 0..<3 {
            let plain: [UInt8] = [0x80, 96, 0, UInt8(i), 0, 0, 0, UInt8(i), 0, 0, 0x11, 0x11, 0x10, 1, 2, 3, UInt8(i)]
            h.send(try pub.protect(plain), from: pub)
        }
        // The protected packets as they left the relay, before the subscriber decrypts them.
        var originals: [[UInt8]] = []
        for i in 0..<h.out.count where h.out.destinations[i] == sub.address { originals.append(Array(h.out.datagram(i))) }
        h.deliver()
        let plainOut = try sub.takeRTP()
        #expect(plainOut.count == 3 && originals.count == 3)
        let lost = try plainOut[1].withUnsafeBytes { try RTPPacketView($0).sequenceNumber }

        // A packet sent later moves the transport-wide numbers on; then the NACK for the second.
        h.send(try pub.protect([0x80, 96, 0, 3, 0, 0, 0, 3, 0, 0, 0x11, 0x11, 0x10, 9]), from: pub)
        h.deliver()
        _ = try sub.takeRTP()
        let nack = GenericNACKBuilder(senderSSRC: 9, mediaSSRC: 0xABCD, lost: [lost])
        var rtcp = [UInt8](repeating: 0, count: 64)
        let n = try rtcp.withUnsafeMutableBytes { try RTCPCompound.marshal(ReceiverReportBuilder(ssrc: 9), nack, into: $0) }
        h.send(try sub.protect(Array(rtcp.prefix(n)), rtcp: true), from: sub)
        var resent: [[UInt8]] = []
        for i in 0..<h.out.count where h.out.destinations[i] == sub.address
            && !(192...223).contains(Array(h.out.datagram(i))[1]) { resent.append(Array(h.out.datagram(i))) }
        #expect(h.router.counters.rtpRetransmitted == 1)
        #expect(resent == [originals[1]], "the same protected bytes as the first time")
    }
}
