import GiaobanClient
import Testing

@Suite("Endpoint: video loss recovered by NACK through the relay, reported by both ends")
struct EndpointRecoveryTests {
    @Test("with every 10th video packet dropped, NACKs bring retransmissions, frames keep decoding, RTT is known")
    func nackRecovery() async throws {
        let relay = try RelayFixture()
        let (publisher, watcher) = try await relay.publisherAndWatcher(stream: "n")
        watcher.dropEveryVideoPacket = 10

        try await exchange(publisher, watcher, for: .seconds(2))
        let early = watcher.stats
        try await exchange(publisher, watcher, for: .seconds(2))
        let s = watcher.stats
        #expect(early.nacksSent > 0, "losses began in the first half: \(early)")
        #expect(s.framesDecoded - early.framesDecoded >= 10, "decoding goes on while packets are lost: \(s)")
        #expect(s.nacksSent > 0 && s.packetsNacked > 0)
        #expect(s.retransmissionsReceived > 0, "\(s)")
        #expect(s.packetsRecovered > 0, "retransmissions arrived within the jitter buffer's delay: \(s)")
        #expect(s.videoMissing >= s.packetsRecovered, "each recovered packet was missing first")
        #expect(s.videoLost < s.videoMissing, "fewer lost for good than went missing: \(s)")
        #expect(s.decodeErrors == 0)
        #expect(s.reportsSent >= 2)
        #expect(s.roundTripMilliseconds != nil, "timed from the connectivity check")
        #expect(publisher.stats.reportsSent >= 2)
        #expect(publisher.stats.reportsReceived >= 1, "the relay's RRs: \(publisher.stats)")
        #expect(publisher.stats.roundTripMilliseconds != nil, "from the relay's LSR/DLSR: \(publisher.stats)")
        publisher.connection.close()
        watcher.connection.close()
        await relay.media.shutdown()
    }
}
