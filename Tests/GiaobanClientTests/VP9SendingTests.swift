import GiaobanClient
import GiaobanCodecs
import GiaobanWire
import Testing
import GiaobanRTP

@Suite("VP9 sending (RFC 9628): packetizer, assembler, and publisher → relay → watcher")
struct VP9SendingTests {
    @Test("descriptors: B first, E last, P on deltas, the picture size on keyframes; frames reassemble and decode")
    func packetizeAndAssemble() throws {
        let encoder = try VPXEncoder(.init(codec: .vp9, width: 320, height: 240, bitrateKbps: 600, framesPerSecond: 15))
        let pattern = TestPattern(width: 320, height: 240)
        var frames: [EncodedVideoFrame] = []
        for i in 0..<6 { frames += try encoder.encode(pattern.frame(i)) }
        try #require(frames.first?.isKeyframe == true && frames.count >= 4)
        var packetizer = VP9Packetizer(maxPayloadSize: 300, pictureID: 0x7FFF)
        var assembler = VP8FrameAssembler(reorderWindow: 4, format: .vp9)
        let decoder = try VPXDecoder(codec: .vp9)
        var seq: UInt16 = 65_530
        for (index, frame) in frames.enumerated() {
            let payloads = packetizer.packetize(frame.data, isKeyframe: frame.isKeyframe, width: 320, height: 240)
            var events: [VP8FrameAssembler.Event] = []
            for (i, payload) in payloads.enumerated() {
                try payload.withUnsafeBytes { raw in
                    let d = try VP9PayloadDescriptor(raw)
                    #expect(d.isStartOfFrame == (i == 0) && d.isEndOfFrame == (i == payloads.count - 1))
                    #expect(d.isInterPicturePredicted == !frame.isKeyframe)
                    #expect(d.pictureID == UInt16((0x7FFF + index) & 0x7FFF), "+1 per frame, wrapping")
                    #expect(d.hasScalabilityStructure == (i == 0 && frame.isKeyframe))
                    if let ss = d.scalabilityStructure {
                        let size = try #require(ss.resolution(ofLayer: 0))
                        #expect(size.width == 320 && size.height == 240 && ss.spatialLayerCount == 1)
                    }
                    events += assembler.insert(sequenceNumber: seq, timestamp: UInt32(index * 6000), marker: i == payloads.count - 1,
                                               payload: raw)
                }
                seq &+= 1
            }
            guard case .frame(let data, _, let isKeyframe) = try #require(events.first) else {
                Issue.record("frame \(index) incomplete")
                continue
            }
            #expect(data == frame.data && isKeyframe == frame.isKeyframe)
            let picture = try #require(try decoder.decode(data))
            #expect(picture.width == 320 && picture.height == 240)
        }
    }

    @Test("a VP9 publisher's pictures reach a watcher through the relay and decode at the sent size")
    func throughTheRelay() async throws {
        let relay = try RelayFixture()
        let (publisher, watcher) = try await relay.publisherAndWatcher(stream: "v9", codec: .vp9)
        #expect(watcher.videoCodec == .vp9, "the watcher offered VP8 and VP9; the relay answered the publisher's")
        try await exchange(publisher, watcher, for: .seconds(3))
        let s = watcher.stats
        #expect(s.framesDecoded >= 15, "\(s)")
        #expect(s.keyframesDecoded >= 1 && s.decodeErrors == 0)
        #expect(s.width == 320 && s.height == 240)
        publisher.connection.close()
        watcher.connection.close()
        await relay.media.shutdown()
    }
}
