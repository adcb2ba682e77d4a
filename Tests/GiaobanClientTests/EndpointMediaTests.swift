import GiaobanClient
import GiaobanCodecs
import GiaobanCrypto
import GiaobanICE
import GiaobanWire
import Testing
import GiaobanTransport

extension RelayFixture {
    /// Offers, answers and connects one client; returns the relay's answer too.
    func join(_ mode: ClientOffer.Mode, stream: String, id: String, context: DTLSContext,
              videoCodec: String = "VP8", transportCC: Bool = true, layerRank: Int? = nil) async throws -> (ClientConnection, RelayAnswer) {
        let socket = try UDPSocket()
        let ice = ICECredentials.random()
        var offer = ClientOffer(mode: mode, ice: ice, fingerprint: context.fingerprint, host: "127.0.0.1", port: socket.port)
        if mode != .watch { offer.videoCodecs = [videoCodec] }
        offer.transportCC = transportCC
        let answer = try await self.answer(offer, role: mode == .watch ? .subscriber : .publisher, stream: stream, id: id,
                                           layerRank: layerRank)
        let peer = try ClientPeer(localICE: ice, context: context, answer: answer, now: .now, connectTimeout: .seconds(5))
        let connection = ClientConnection(socket: socket, peer: peer)
        try connection.connect()
        return (connection, answer)
    }
}

extension RelayFixture {
    /// A publisher of the synthetic source (320×240, 400 kbit/s, 15 fps, `tone` Hz) and a watcher of
    /// its stream, both connected through this relay.
    func publisherAndWatcher(stream: String, tone: Double = 440, video: VideoSource = .testPattern,
                             audio: AudioSource = .tone, codec: VPXCodec = .vp8) async throws -> (EndpointPublisher, EndpointWatcher) {
        let context = try DTLSContext(certificate: DTLSCertificate())
        let (pubConnection, pubAnswer) = try await join(.publish(audioSSRC: 0xA3, videoSSRC: 0xB4), stream: stream,
                                                        id: "pub", context: context, videoCodec: codec == .vp9 ? "VP9" : "VP8")
        var settings = EndpointPublisher.Settings(audioSSRC: 0xA3, videoSSRC: 0xB4)
        settings.width = 320
        settings.height = 240
        settings.bitrateKbps = 400
        settings.framesPerSecond = 15
        settings.toneFrequency = tone
        settings.codec = codec
        settings.audioPayloadType = try #require(pubAnswer.audio?.payloadType)
        settings.videoPayloadType = try #require(pubAnswer.video?.payloadType)
        let publisher = try EndpointPublisher(connection: pubConnection, settings: settings, video: video, audio: audio)
        try publisher.step(maxWaitMilliseconds: 0)  // the relay learns the tracks from the first packets
        let (subConnection, subAnswer) = try await join(.watch, stream: stream, id: "sub", context: context)
        return (publisher, try EndpointWatcher(connection: subConnection, answer: subAnswer))
    }
}

/// Steps `publisher` and `watcher` in turn for `duration` (the relay runs on its own thread,
/// the loop on another, `offPool`).
func exchange(_ publisher: EndpointPublisher, _ watcher: EndpointWatcher, for duration: Duration) async throws {
    try await offPool {
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline {
            try publisher.step(maxWaitMilliseconds: 0)
            watcher.step(maxWaitMilliseconds: 5)
        }
    }
}

@Suite("Endpoint: synthetic publisher → relay → watcher, decoded and analysed")
struct EndpointMediaTests {
    @Test("the watcher decodes VP8 pictures of the sent size and hears the publisher's tone", arguments: [440.0, 1000.0])
    func publishAndWatch(tone: Double) async throws {
        let relay = try RelayFixture()
        let (publisher, watcher) = try await relay.publisherAndWatcher(stream: "e", tone: tone)
        let (pubConnection, subConnection) = (publisher.connection, watcher.connection)
        let video = MemoryOutput()
        watcher.videoOutput = video

        try await exchange(publisher, watcher, for: .seconds(3))
        let stats = watcher.stats
        #expect(stats.framesDecoded >= 15, "about 45 frames sent; got \(stats)")
        #expect(stats.keyframesDecoded >= 1)
        #expect(stats.width == 320 && stats.height == 240)
        #expect(publisher.stats.videoFrames >= 30)
        #expect(stats.audioFrames >= 100, "150 frames of 20 ms sent; got \(stats)")
        // Skip the decoder's first 100 ms, then ask which candidate tone dominates.
        let samples = Array(watcher.audioSamples.dropFirst(4800))
        let dominant = try #require(AudioAnalysis.dominant(of: [440, 1000, 2000], in: samples))
        #expect(dominant.frequency == tone)
        #expect(dominant.share > 0.8)
        let ivf = try #require(watcher.ivf)
        try watcher.finishRecordings()
        #expect(video.bytes.prefix(4) == [UInt8]("DKIF".utf8)[...])
        #expect(Int(ivf.frameCount) == stats.framesDecoded)
        #expect(video.bytes[24..<28].reversed().reduce(0) { $0 << 8 | Int($1) } == stats.framesDecoded, "count patched")
        pubConnection.close()
        subConnection.close()
        await relay.media.shutdown()
    }

    @Test("without NACK, lost video packets make frames incomplete; PLI brings keyframes and decoding recovers")
    func lossRecovery() async throws {
        let relay = try RelayFixture()
        let (publisher, watcher) = try await relay.publisherAndWatcher(stream: "l")
        let (pubConnection, subConnection) = (publisher.connection, watcher.connection)
        watcher.dropEveryVideoPacket = 20
        watcher.maxNACKRetries = 0  // PLI only: NACK recovery is EndpointRecoveryTests' subject

        try await exchange(publisher, watcher, for: .seconds(3))
        let stats = watcher.stats
        #expect(stats.framesIncomplete >= 1, "\(stats)")
        #expect(stats.keyframesRequested >= 2, "one at the start, more after losses: \(stats)")
        #expect(publisher.stats.keyframesRequested >= 2, "the relay passes them on: \(publisher.stats)")
        #expect(stats.keyframesDecoded >= 2, "decoding restarts at a new keyframe: \(stats)")
        #expect(stats.framesDecoded >= 10)
        #expect(stats.width == 320 && stats.height == 240)
        pubConnection.close()
        subConnection.close()
        await relay.media.shutdown()
    }
}
