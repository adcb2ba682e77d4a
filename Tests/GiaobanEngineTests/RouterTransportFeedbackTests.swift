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
