import GiaobanClient
import GiaobanCrypto
import GiaobanEngine
import Testing

/// A watcher pinned to one simulcast layer (`PeerSetup.layerRank`, WHEP `?layer=`): what a child
/// relay's trunk asks of its parent for each layer it pulls (docs/cascade.md).
@Suite("Simulcast: a watcher pinned to one layer")
struct LayerPinTests {
    @Test("pinned watchers get exactly their layer whatever their estimate; a rank the publisher does not send gets no video")
    func pinned() async throws {
        let relay = try RelayFixture()
        let (publisher, unpinned) = try await relay.simulcastPublisherAndWatcher(stream: "pin", transportCC: false)
        let context = try DTLSContext(certificate: DTLSCertificate())
        var watchers: [EndpointWatcher] = [unpinned]
        for rank in 0..<4 {
            let (connection, answer) = try await relay.join(.watch, stream: "pin", id: "pin\(rank)", context: context,
                                                            transportCC: false, layerRank: rank)
            let watcher = try EndpointWatcher(connection: connection, answer: answer)
            // A link far too thin for the middle layer: an unpinned watcher would get the lowest.
            watcher.bandwidthCap = 90_000
            watchers.append(watcher)
        }
        defer {
            publisher.connection.close()
            for watcher in watchers { watcher.connection.close() }
        }
        let (low, middle, high, beyond) = (watchers[1], watchers[2], watchers[3], watchers[4])
        let settled = try await offPool {
            let deadline = ContinuousClock.now + .seconds(8)
            while ContinuousClock.now < deadline {
                try publisher.step(maxWaitMilliseconds: 0)
                for watcher in watchers { watcher.step(maxWaitMilliseconds: 1) }
                if low.stats.width == 80 && middle.stats.width == 160 && high.stats.width == 320
                    && [low, middle, high].allSatisfy({ $0.stats.framesDecoded >= 10 }) { return true }
            }
            return false
        }
        #expect(settled, "pinned layers: low \(low.stats), middle \(middle.stats), high \(high.stats)")
        for watcher in [low, middle, high] { #expect(watcher.stats.decodeErrors == 0, "\(watcher.stats)") }
        #expect(beyond.stats.framesDecoded == 0, "rank 3 of three layers: \(beyond.stats)")
        #expect(beyond.stats.audioFrames > 0, "its audio still flows: \(beyond.stats)")
        #expect((await relay.subscriberVideo("pin1"))?.layerRank == 1)
        #expect((await relay.subscriberVideo("pin3"))?.layerRank == -1)

        // What a WHEP answer tells a child relay: each layer's bit rate, lowest first.
        let bitrates = try #require(await relay.media.ask(.rankedLayerBitrates(stream: "pin")))
        #expect(bitrates.count == 3 && bitrates[0] > 0 && bitrates[0] < bitrates[1] && bitrates[1] < bitrates[2], "\(bitrates)")
        #expect(await relay.media.ask(.rankedLayerBitrates(stream: "nobody")) == nil)
        await relay.media.shutdown()
    }
}
