import GiaobanCodecs
import Testing

@Suite("VP8 and VP9 encoder and decoder")
struct VPXTests {
    @Test("round trip keeps the size and the picture", arguments: VPXCodec.allCases)
    func roundTrip(codec: VPXCodec) throws {
        let pattern = TestPattern(width: 320, height: 180)
        let enc = try VPXEncoder(.init(codec: codec, width: 320, height: 180, bitrateKbps: 1200))
        let dec = try VPXDecoder(codec: codec)
        var decoded = 0
        var lastDifference = 0.0
        for i in 0..<10 {
            let source = pattern.frame(i)
            for f in try enc.encode(source) {
                #expect(f.isKeyframe == (i == 0))
                let picture = try #require(try dec.decode(f.data))
                #expect(picture.width == 320 && picture.height == 180)
                lastDifference = picture.meanLumaDifference(to: source)
                decoded += 1
            }
        }
        #expect(decoded >= 8)
        #expect(lastDifference < 8, "decoded picture should resemble the source")
        // And differ clearly from another frame of the pattern (the test can tell frames apart).
        let picture = try #require(try dec.decode(try enc.encode(pattern.frame(40)).first?.data ?? []))
        #expect(picture.meanLumaDifference(to: pattern.frame(10)) > lastDifference + 5)
    }

    @Test("a forced keyframe is a keyframe", arguments: VPXCodec.allCases)
    func forcedKeyframe(codec: VPXCodec) throws {
        let pattern = TestPattern(width: 160, height: 120)
        let enc = try VPXEncoder(.init(codec: codec, width: 160, height: 120))
        var keys: [Bool] = []
        for i in 0..<6 {
            if i == 4 { enc.requestKeyframe() }
            keys += try enc.encode(pattern.frame(i)).map(\.isKeyframe)
        }
        #expect(keys == [true, false, false, false, true, false])
    }

    @Test("VP8 with three temporal layers follows the 0-2-1-2 pattern and the base layer decodes alone")
    func temporalLayers() throws {
        let pattern = TestPattern(width: 320, height: 180)
        let enc = try VPXEncoder(.init(codec: .vp8, width: 320, height: 180, bitrateKbps: 600, temporalLayers: 3))
        let baseOnly = try VPXDecoder(codec: .vp8)
        var layers: [Int] = []
        for i in 0..<12 {
            for f in try enc.encode(pattern.frame(i)) {
                layers.append(f.temporalLayer)
                if f.temporalLayer == 0 { #expect(try baseOnly.decode(f.data) != nil) }
            }
        }
        #expect(layers == [0, 2, 1, 2, 0, 2, 1, 2, 0, 2, 1, 2])
    }

    @Test("corrupt data is a decode error", arguments: VPXCodec.allCases)
    func corrupt(codec: VPXCodec) throws {
        let dec = try VPXDecoder(codec: codec)
        #expect(throws: CodecError.self) { try dec.decode([UInt8](repeating: 0xFF, count: 64)) }
    }

    @Test("odd sizes and a wrong frame size are rejected")
    func badSettings() throws {
        #expect(throws: CodecError.self) { try VPXEncoder(.init(width: 321, height: 180)) }
        let enc = try VPXEncoder(.init(width: 160, height: 120))
        #expect(throws: CodecError.self) { try enc.encode(I420Frame(width: 320, height: 240)) }
    }
}
