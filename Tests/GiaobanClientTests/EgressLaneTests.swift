import GiaobanClient
import GiaobanCrypto
import GiaobanEngine
import GiaobanServer
import GiaobanWire
import Testing

/// `media.workers`: peers spread over egress lanes whose threads protect and send their
/// packets. A publisher stays on lane 0; each new subscriber takes the lane with the fewest
/// subscribers, the highest on a tie.
@Suite("Relay egress lanes (media.workers) against a real MediaServer")
struct EgressLaneTests {
    @Test("with three lanes, every watcher on every lane gets every packet, in order, decryptable")
    func fanOutAcrossLanes() async throws {
        let relay = try RelayFixture(workers: 3)
        #expect(relay.media.workerCount == 3)
        let context = try DTLSContext(certificate: DTLSCertificate())
        // The publisher is on lane 0; the watchers on lanes 2, 1, 0, 2, 1.
        let publisher = try await relay.connect(.publish(audioSSRC: 0x1111, videoSSRC: 0x2222), stream: "s", id: "pub",
                                                context: context)
        var watchers: [ClientConnection] = []
        for k in 0..<5 { watchers.append(try await relay.connect(.watch, stream: "s", id: "sub-\(k)", context: context)) }

        var buffer = [UInt8](repeating: 0, count: 1500)
        let count = 60
        for i in 0..<count {
            let audio = i % 4 == 3
            let header: [UInt8] = [0x80, audio ? 111 : 96 | (i % 4 == 2 ? 0x80 : 0), 0, UInt8(i)]
                + [0, 0, UInt8(i), 0] + (audio ? [0, 0, 0x11, 0x11] : [0, 0, 0x22, 0x22])
            let plain = header + (audio ? [0x78] : [0x10]) + [UInt8](repeating: UInt8(i), count: audio ? 80 : 1000)
            buffer.replaceSubrange(0..<plain.count, with: plain)
            let n = try buffer.withUnsafeMutableBytes { bytes throws(ClientError) in try publisher.peer.protectRTP(bytes, length: plain.count) }
            publisher.socket.send(Array(buffer.prefix(n)), to: publisher.peer.relayAddress)
        }
        // Each watcher: the payload bytes in the order they arrived (the i of each packet).
        var arrived = [[UInt8]](repeating: [], count: watchers.count)
        var reports = [Int](repeating: 0, count: watchers.count)
        let deadline = ContinuousClock.now + .seconds(4)
        while ContinuousClock.now < deadline && (arrived.contains { $0.count < count } || reports.contains(0)) {
            for (k, watcher) in watchers.enumerated() {
                watcher.poll(timeoutMilliseconds: 5) { incoming, datagram in
                    switch incoming {
                    case .rtp(let length):
                        guard let view = try? RTPPacketView(UnsafeRawBufferPointer(rebasing: datagram[0..<length])),
                              view.payload.count > 1 else { return }
                        arrived[k].append(view.payload[1])
                    case .rtcp:
                        reports[k] += 1  // SRTCP sender reports, protected by the watcher's lane
                    default:
                        break
                    }
                }
            }
            publisher.poll(timeoutMilliseconds: 0) { _, _ in }
        }
        for (k, watcher) in watchers.enumerated() {
            #expect(arrived[k] == (0..<count).map { UInt8($0) }, "watcher \(k): every packet, in order")
            #expect(reports[k] > 0, "watcher \(k) decrypted the relay's RTCP")
            #expect(watcher.peer.drops.total == 0, "watcher \(k): \(watcher.peer.drops)")
        }
        #expect(relay.media.snapshot.egressProtectFailures == 0)
        await relay.media.shutdown()
    }

    @Test("a watcher on a worker's lane decodes VP8 and Opus, over UDP and over ICE-TCP",
          arguments: [ClientConnection.Transport.udp, .tcp])
    func decodeOnWorkerLane(watching: ClientConnection.Transport) async throws {
        // Two lanes: the publisher ("pub", added first) on lane 0, the watcher on lane 1.
        let relay = try RelayFixture(tcp: true, workers: 2)
        let (publisher, watcher) = try await relay.publisherAndWatcher(stream: "w", publishing: .udp, watching: watching)
        try await exchange(publisher, watcher, for: .seconds(3))
        let stats = watcher.stats
        #expect(stats.framesDecoded >= 15, "about 45 frames sent; got \(stats)")
        #expect(stats.width == 320 && stats.height == 240)
        #expect(stats.audioFrames >= 100, "150 frames of 20 ms sent; got \(stats)")
        #expect(watcher.connection.peer.state == .connected && watcher.connection.peer.drops.total == 0)
        if watching == .tcp {
            let counters = try await relay.tcpCounters { $0.framesSent >= 100 }
            #expect(counters.framesSent >= 100 && counters.sendDropped == 0, "\(counters)")
        }
        await relay.media.shutdown()
    }
}
