import GiaobanClient
import GiaobanCodecs
import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
import Testing
import GiaobanTransport

extension RelayFixture {
    /// A publisher of three VP8 simulcast encodings of the test pattern (rids l, m, h:
    /// 80×60, 160×120 and 320×240 at about 66, 200 and 600 kbit/s, 15 fps) and a watcher of its
    /// stream; the relay learns each encoding's SSRC from its rid.
    func simulcastPublisherAndWatcher(stream: String, transportCC: Bool = true) async throws -> (EndpointPublisher, EndpointWatcher) {
        let context = try DTLSContext(certificate: DTLSCertificate())
        let socket = try UDPSocket()
        let ice = ICECredentials.random()
        var offer = ClientOffer(mode: .publish(audioSSRC: 0xA3, videoSSRC: 0xB4), ice: ice, fingerprint: context.fingerprint,
                                host: "127.0.0.1", port: socket.port)
        offer.simulcastRIDs = ["l", "m", "h"]
        #expect(offer.sdp.contains("a=simulcast:send l;m;h"))
        let answer = try await self.answer(offer, role: .publisher, stream: stream, id: "pub")
        let connection = ClientConnection(socket: socket, peer: try ClientPeer(localICE: ice, context: context, answer: answer,
                                                                               now: .now, connectTimeout: .seconds(5)))
        try connection.connect()
        var settings = EndpointPublisher.Settings(audioSSRC: 0xA3, videoSSRC: 0xB4)
        settings.width = 320
        settings.height = 240
        settings.bitrateKbps = 600
        settings.framesPerSecond = 15
        settings.simulcastRIDs = offer.simulcastRIDs
        settings.grain = 20  // the encoders then spend their targets, so the layers' rates differ
        settings.audioPayloadType = try #require(answer.audio?.payloadType)
        settings.videoPayloadType = try #require(answer.video?.payloadType)
        let publisher = try EndpointPublisher(connection: connection, settings: settings)
        try publisher.step(maxWaitMilliseconds: 0)
        let (subConnection, subAnswer) = try await join(.watch, stream: stream, id: "sub", context: context, transportCC: transportCC)
        return (publisher, try EndpointWatcher(connection: subConnection, answer: subAnswer))
    }

    /// The relay's view of subscriber `id`'s video.
    func subscriberVideo(_ id: String) async -> MediaRouter.SubscriberVideo? {
        await media.ask(.subscriberVideo(peer: id))
    }
}

/// Steps both ends until `condition` holds or `limit` passes (on a thread of its own,
/// `offPool`); returns whether it held.
func exchange(_ publisher: EndpointPublisher, _ watcher: EndpointWatcher, upTo limit: Duration,
              until condition: @escaping () -> Bool) async throws -> Bool {
    try await offPool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            try publisher.step(maxWaitMilliseconds: 0)
            watcher.step(maxWaitMilliseconds: 5)
            if condition() { return true }
        }
        return condition()
    }
}

@Suite("Simulcast: three encodings in, one layer per subscriber out, chosen from its estimate")
struct SimulcastTests {
    @Test("the answer accepts the rids; a squeezed subscriber moves down to the low layer and back up with no decode error")
    func squeezeAndRelease() async throws {
        let relay = try RelayFixture()
        // REMB only: the relay's own estimate (transport-wide feedback) would follow this busy
        // machine's scheduling delays too; that path has its own test below.
        let (publisher, watcher) = try await relay.simulcastPublisherAndWatcher(stream: "sim", transportCC: false)
        defer {
            publisher.connection.close()
            watcher.connection.close()
        }

        // No estimate: the highest layer.
        #expect(try await exchange(publisher, watcher, upTo: .seconds(6)) { watcher.stats.width == 320 && watcher.stats.framesDecoded >= 10 },
                "the full-size layer arrives: \(watcher.stats)")
        let top = await relay.subscriberVideo("sub")
        #expect(top?.layers == 3 && top?.rid == "h" && top?.layerRank == 2, "\(String(describing: top))")

        // Squeezed: what is left after audio's reserve fits the low layer, not the middle one.
        let rates = try #require(top?.layerBitrates)
        #expect(rates.count == 3 && rates[0] < rates[1] && rates[1] < rates[2], "\(rates)")
        let cap = MediaRouter.Settings().audioReserve + (rates[0] + rates[1]) / 2
        watcher.bandwidthCap = cap
        #expect(try await exchange(publisher, watcher, upTo: .seconds(6)) { watcher.stats.width == 80 },
                "moved down to the low layer: \(watcher.stats)")
        let low = await relay.subscriberVideo("sub")
        #expect(low?.rid == "l" && low?.layerRank == 0 && abs((low?.estimate ?? 0) - cap) <= cap / 100, "\(String(describing: low))")
        let framesLow = watcher.stats.framesDecoded
        _ = try await exchange(publisher, watcher, upTo: .seconds(1)) { false }
        #expect(watcher.stats.framesDecoded - framesLow >= 8, "the low layer keeps decoding: \(watcher.stats)")

        // Released: back up, after the higher layer has fitted for a while.
        watcher.bandwidthCap = 5_000_000
        #expect(try await exchange(publisher, watcher, upTo: .seconds(8)) { watcher.stats.width == 320 },
                "moved back up to the full-size layer: \(watcher.stats)")
        let framesHigh = watcher.stats.framesDecoded
        _ = try await exchange(publisher, watcher, upTo: .seconds(1)) { false }
        #expect(watcher.stats.framesDecoded - framesHigh >= 8)

        let s = watcher.stats
        #expect(s.decodeErrors == 0, "sequence numbers, timestamps and picture IDs stayed continuous: \(s)")
        #expect(s.sizeChanges >= 2)
        #expect(s.framesIncomplete == 0 && s.videoLost == 0, "\(s)")
        let end = await relay.subscriberVideo("sub")
        let switches = try #require(end?.switches)
        // Start, down, up; on a busy machine (the whole suite in parallel) the way down or up may
        // stop at the middle layer, or the estimate bounce once: a handful, never a thrash.
        #expect(switches >= 3 && switches <= 8, "start, down, up, not a thrash: \(switches)")
        // Keyframe requests: one per switch and a few from the watcher's own PLIs, not one per
        // layer choice (every 250 ms): the per-layer throttle holds them back.
        let requests = await relay.media.ask(.counters).keyframeRequests
        #expect(requests <= 2 * switches + 4, "throttled: \(requests) requests for \(switches) switches")
        #expect(publisher.stats.keyframesRequested == requests, "each PLI reached the publisher")
        await relay.media.shutdown()
    }

    @Test("with transport-wide feedback, loss on the subscriber's link lowers the relay's own estimate and the layer; probing climbs back")
    func transportFeedbackEstimate() async throws {
        let relay = try RelayFixture()
        let (publisher, watcher) = try await relay.simulcastPublisherAndWatcher(stream: "twcc")
        defer {
            publisher.connection.close()
            watcher.connection.close()
        }
        #expect(try await exchange(publisher, watcher, upTo: .seconds(6)) { watcher.stats.width == 320 }, "\(watcher.stats)")
        let clear = try #require(await relay.subscriberVideo("sub"))
        #expect(clear.transportFeedbacks > 0, "the watcher reports arrivals: \(clear)")
        #expect(clear.estimate != nil, "the relay's own estimate: \(clear)")

        // A third of the video lost on the way in (before decryption, retransmissions included).
        watcher.dropEveryVideoPacket = 3
        // The estimate that lowered the layer may already be climbing again (probing) when it is
        // read, so the lowest estimate seen while the loss lasts is what must fall under the top
        // rate. Loss is judged per window of 300 ms and smoothed (docs/simulcast.md), so the
        // estimate comes down over a few seconds, longer on a busy machine.
        var lowered: MediaRouter.SubscriberVideo?
        var lowest: Int?
        let reserve = MediaRouter.Settings().audioReserve
        for _ in 0..<75 {
            _ = try await exchange(publisher, watcher, upTo: .milliseconds(200)) { false }
            guard let v = await relay.subscriberVideo("sub") else { continue }
            if let estimate = v.estimate { lowest = min(lowest ?? estimate, estimate) }
            if v.targetRank < 2 { lowered = lowered ?? v }
            if let top = lowered?.layerBitrates.last, let low = lowest, low < top + reserve { break }
        }
        let down = try #require(lowered, "the layer went down under loss")
        let topRate = try #require(down.layerBitrates.last)
        #expect((lowest ?? .max) < topRate + reserve, "the top layer no longer fits: \(down), lowest \(String(describing: lowest))")

        // The loss stops: after a calm while the relay probes the next layer up, then the next.
        watcher.dropEveryVideoPacket = 0
        #expect(try await exchange(publisher, watcher, upTo: .seconds(15)) { watcher.stats.width == 320 && watcher.stats.sizeChanges >= 2 },
                "back on the full-size layer: \(watcher.stats)")
        await relay.media.shutdown()
    }

    @Test("a subscriber capped at the lowest rank gets the thumbnail; with no room even for it, video pauses and audio goes on")
    func capAndPause() async throws {
        let relay = try RelayFixture()
        let (publisher, watcher) = try await relay.simulcastPublisherAndWatcher(stream: "cap", transportCC: false)
        defer {
            publisher.connection.close()
            watcher.connection.close()
        }
        let capped = await relay.media.send(.setMaxLayer(peer: "sub", stream: nil, rank: 0))
        #expect(capped == nil)
        #expect(try await exchange(publisher, watcher, upTo: .seconds(6)) { watcher.stats.width == 80 && watcher.stats.framesDecoded >= 5 },
                "the thumbnail layer only: \(watcher.stats)")

        watcher.bandwidthCap = 70_000  // less than audio's reserve: nothing fits
        var paused = false
        for _ in 0..<20 where !paused {
            _ = try await exchange(publisher, watcher, upTo: .milliseconds(200)) { false }
            paused = (await relay.subscriberVideo("sub"))?.layerRank == -1
        }
        #expect(paused, "video paused")
        let frames = watcher.stats.framesDecoded, audio = watcher.stats.audioFrames
        _ = try await exchange(publisher, watcher, upTo: .seconds(1)) { false }
        #expect(watcher.stats.framesDecoded - frames <= 2, "no new pictures while paused: \(watcher.stats)")
        #expect(watcher.stats.audioFrames - audio >= 25, "audio is never paused: \(watcher.stats)")
        let pauses = await relay.media.ask(.counters).videoPauses
        #expect(pauses >= 1)
        await relay.media.shutdown()
    }

    @Test("a video without simulcast is not paused on the watcher's REMB alone while the relay's own estimate has room for it")
    func singleLayerKeptUnderLowREMB() async throws {
        let relay = try RelayFixture()
        let (publisher, watcher) = try await relay.publisherAndWatcher(stream: "one-layer")
        defer {
            publisher.connection.close()
            watcher.connection.close()
        }
        #expect(try await exchange(publisher, watcher, upTo: .seconds(5)) { watcher.stats.framesDecoded >= 10 }, "\(watcher.stats)")
        // A REMB far under the 400 kbit/s video (a Chrome receiver's estimate after a dip
        // follows what it receives): pausing on it would never end.
        watcher.bandwidthCap = 50_000
        _ = try await exchange(publisher, watcher, upTo: .seconds(2)) { false }
        let frames = watcher.stats.framesDecoded
        #expect(try await exchange(publisher, watcher, upTo: .seconds(3)) { watcher.stats.framesDecoded >= frames + 15 },
                "video goes on: \(watcher.stats)")
        let video = try #require(await relay.subscriberVideo("sub"))
        #expect(video.layerRank == 0 && video.targetRank == 0, "\(video)")
        #expect(await relay.media.ask(.counters).videoPauses == 0)
        await relay.media.shutdown()
    }

    @Test("with transport-wide feedback, a simulcast video keeps its lowest layer under a REMB too low for it (no pause on the REMB alone)")
    func simulcastLowestKeptUnderLowREMB() async throws {
        let relay = try RelayFixture()
        let (publisher, watcher) = try await relay.simulcastPublisherAndWatcher(stream: "lowest")
        defer {
            publisher.connection.close()
            watcher.connection.close()
        }
        #expect(try await exchange(publisher, watcher, upTo: .seconds(6)) { watcher.stats.framesDecoded >= 10 }, "\(watcher.stats)")
        // Under the audio's reserve: by the REMB nothing fits. The relay's own estimate, fed by
        // the watcher's transport-wide feedback on a clean link, has room for the lowest layer.
        watcher.bandwidthCap = 20_000
        var low = false
        for _ in 0..<30 where !low {
            _ = try await exchange(publisher, watcher, upTo: .milliseconds(200)) { false }
            low = (await relay.subscriberVideo("sub"))?.layerRank == 0
        }
        let down = await relay.subscriberVideo("sub")
        #expect(low, "down to the lowest layer: \(String(describing: down))")
        let frames = watcher.stats.framesDecoded
        #expect(try await exchange(publisher, watcher, upTo: .seconds(3)) { watcher.stats.framesDecoded >= frames + 15 && watcher.stats.width == 80 },
                "the lowest layer goes on: \(watcher.stats)")
        let video = try #require(await relay.subscriberVideo("sub"))
        #expect(video.estimate != nil, "the relay has an estimate of its own: \(video)")
        #expect(video.layerRank == 0, "\(video)")
        #expect(await relay.media.ask(.counters).videoPauses == 0)
        await relay.media.shutdown()
    }
}

@Suite("Last-N video at the relay")
struct VideoGateTests {
    @Test("a gated stream's watcher gets no video but keeps its audio; let through, it resumes on a keyframe without a decode error")
    func gateAndResume() async throws {
        let relay = try RelayFixture()
        let (publisher, watcher) = try await relay.publisherAndWatcher(stream: "gate")
        defer {
            publisher.connection.close()
            watcher.connection.close()
        }
        #expect(try await exchange(publisher, watcher, upTo: .seconds(5)) { watcher.stats.framesDecoded >= 10 }, "\(watcher.stats)")
        let known = await relay.media.send(.setVideoGates(["gate": true]))
        #expect(known == nil)
        _ = try await exchange(publisher, watcher, upTo: .milliseconds(500)) { false }  // what was in flight drains
        let (frames, audio) = (watcher.stats.framesDecoded, watcher.stats.audioFrames)
        _ = try await exchange(publisher, watcher, upTo: .seconds(1)) { false }
        #expect(watcher.stats.framesDecoded - frames <= 1, "no pictures while held back: \(watcher.stats)")
        #expect(watcher.stats.audioFrames - audio >= 25, "audio goes on")
        let requestsBefore = publisher.stats.keyframesRequested
        await relay.media.send(.setVideoGates(["gate": false]))
        #expect(try await exchange(publisher, watcher, upTo: .seconds(3)) { watcher.stats.framesDecoded >= frames + 10 }, "\(watcher.stats)")
        #expect(publisher.stats.keyframesRequested > requestsBefore, "a keyframe was asked for at once")
        #expect(watcher.stats.decodeErrors == 0 && watcher.stats.framesIncomplete == 0, "\(watcher.stats)")
        // The publisher's upstream as the room's roster shows it: known, and clean on loopback.
        let upstream = await relay.media.ask(.upstreamQuality)
        #expect(upstream.map(\.stream) == ["gate"] && upstream[0].loss == 0 && upstream[0].jitterMilliseconds < 50, "\(upstream)")
        await relay.media.shutdown()
    }
}
