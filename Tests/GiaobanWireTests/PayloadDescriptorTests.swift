import GiaobanWire
import Testing

/// Tests of this file, grouped so their names stay local to it.
@Suite struct PayloadDescriptorTests {}

// MARK: - VP8 (RFC 7741 §4.2, §4.3; key frame header RFC 6386 §9.1)

/// Every optional field present, first packet of a 640x480 key frame.
private let vp8KeyFrame: [UInt8] = [
    0x90,  // X=1 R=0 N=0 S=1 R=0 PID=0
    0xF0,  // I=1 L=1 T=1 K=1 RSV=0
    0x92, 0x34,  // M=1, picture ID 0x1234
    0x56,  // TL0PICIDX 0x56
    0xA5,  // TID=2 Y=1 KEYIDX=5
    // VP8 payload header (RFC 6386 §9.1)
    0x90, 0x34, 0x00,  // frame tag: P=0 (key frame), version 0, show_frame=1, first partition 0x1A4
    0x9D, 0x01, 0x2A,  // key frame start code
    0x80, 0x42,  // width 640 (0x280), horizontal scale 1 in the top 2 bits
    0xE0, 0x01,  // height 480 (0x1E0), vertical scale 0
]

/// 7-bit picture ID, not the start of a partition.
private let vp8ShortPictureID: [UInt8] = [
    0x80,  // X=1 S=0 PID=0
    0x80,  // I=1
    0x7E,  // M=0, picture ID 126
    0x00,  // payload
]

/// K without T: only KEYIDX is meaningful in the T/K byte.
private let vp8KeyIndexOnly: [UInt8] = [
    0xA0,  // X=1 N=1 S=0 PID=0
    0x10,  // K=1
    0xE3,  // TID bits 3 and Y=1 (ignored, T=0), KEYIDX=3
    0xFF,  // payload
]

private func vp8Failure(_ bytes: [UInt8]) -> WireError.Reason? {
    bytes.withUnsafeBytes { raw in
        do throws(WireError) {
            _ = try VP8PayloadDescriptor(raw)
            return nil
        } catch {
            return error.reason
        }
    }
}

private func withVP8<R>(_ bytes: [UInt8], _ body: (VP8PayloadDescriptor) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { raw in try body(try VP8PayloadDescriptor(raw)) }
}

extension PayloadDescriptorTests {
    @Test func vp8ParsesEveryField() throws {
        try withVP8(vp8KeyFrame) { d in
            #expect(d.isExtended)
            #expect(!d.isNonReference)
            #expect(d.isStartOfPartition)
            #expect(d.partitionIndex == 0)
            #expect(d.isStartOfFrame)
            #expect(d.pictureID == 0x1234)
            #expect(d.hasLongPictureID)
            #expect(d.tl0PicIdx == 0x56)
            #expect(d.temporalLayer == 2)
            #expect(d.isLayerSync)
            #expect(d.keyIndex == 5)
            #expect(d.descriptorLength == 6)
            #expect(d.payload.count == vp8KeyFrame.count - 6)
        }
    }

    @Test func vp8DetectsKeyFrameAndItsSize() throws {
        try withVP8(vp8KeyFrame) { d in
            #expect(d.isKeyFrame)
            let size = try #require(d.keyFrameSize)
            #expect(size.width == 640)
            #expect(size.height == 480)
        }
    }

    @Test func vp8ShortPictureIDAndKeyIndexOnly() throws {
        try withVP8(vp8ShortPictureID) { d in
            #expect(d.pictureID == 126)
            #expect(!d.hasLongPictureID)
            #expect(d.tl0PicIdx == nil && d.temporalLayer == nil && d.keyIndex == nil)
            #expect(!d.isStartOfPartition)
            #expect(d.descriptorLength == 3)
        }
        try withVP8(vp8KeyIndexOnly) { d in
            #expect(d.isNonReference)
            #expect(d.pictureID == nil)
            #expect(d.temporalLayer == nil)
            #expect(!d.isLayerSync)
            #expect(d.keyIndex == 3)
            #expect(d.descriptorLength == 3)
        }
    }

    @Test(arguments: [
        ([UInt8(0x10), 0x30], true),  // S=1 PID=0, P bit 0 → key frame
        ([0x10, 0x31], false),  // P bit 1 → inter frame
        ([0x11, 0x30], false),  // PID=1: not the frame's first packet
        ([0x00, 0x30], false),  // S=0
    ])
    func vp8KeyFrameNeedsStartOfFrameAndPBitZero(bytes: [UInt8], keyFrame: Bool) throws {
        try withVP8(bytes) { d in
            #expect(d.isKeyFrame == keyFrame)
            #expect(d.keyFrameSize == nil)  // too short for a key frame header
            #expect(d.pictureID == nil && !d.isExtended)
            #expect(d.descriptorLength == 1)
        }
    }

    @Test func vp8KeyFrameWithBadStartCodeHasNoSize() throws {
        var bytes = vp8KeyFrame
        bytes[10] = 0x02
        try withVP8(bytes) { d in
            #expect(d.isKeyFrame)
            #expect(d.keyFrameSize == nil)
        }
    }

    @Test(arguments: [vp8KeyFrame, vp8ShortPictureID, vp8KeyIndexOnly])
    func vp8EveryTruncationOfTheDescriptorThrows(packet: [UInt8]) throws {
        let needed = try withVP8(packet) { $0.descriptorLength + 1 }
        for n in 0..<needed {
            #expect(vp8Failure(Array(packet[0..<n])) == .truncated, "length \(n)")
        }
        for n in needed...packet.count {
            #expect(vp8Failure(Array(packet[0..<n])) == nil, "length \(n)")
        }
    }

    @Test func vp8KeyFrameSizeNeedsTheWholeHeader() throws {
        for n in 7..<vp8KeyFrame.count {
            try withVP8(Array(vp8KeyFrame[0..<n])) { d in
                #expect(d.isKeyFrame)
                #expect(d.keyFrameSize == nil, "length \(n)")
            }
        }
    }

    @Test func vp8RewritesPictureIDKeepingItsLength() throws {
        var long = vp8KeyFrame
        try vp8KeyFrame.withUnsafeBytes { src in
            let d = try VP8PayloadDescriptor(src)
            try long.withUnsafeMutableBytes { dst in
                try d.setPictureID(0x0ABC, in: dst)
                try d.setTL0PicIdx(0x99, in: dst)
            }
        }
        var expected = vp8KeyFrame
        expected[2] = 0x8A
        expected[3] = 0xBC
        expected[4] = 0x99
        #expect(long == expected)

        var short = vp8ShortPictureID
        try vp8ShortPictureID.withUnsafeBytes { src in
            let d = try VP8PayloadDescriptor(src)
            try short.withUnsafeMutableBytes { dst in
                try d.setPictureID(0x0181, in: dst)  // wraps to 7 bits: 0x01
                #expect(throws: WireError(.badValue, "VP8 TL0PICIDX")) { try d.setTL0PicIdx(1, in: dst) }
            }
        }
        #expect(short == [0x80, 0x80, 0x01, 0x00])
    }

    @Test func vp8RewriteNeedsAPictureID() throws {
        var bytes = vp8KeyIndexOnly
        try vp8KeyIndexOnly.withUnsafeBytes { src in
            let d = try VP8PayloadDescriptor(src)
            _ = bytes.withUnsafeMutableBytes { dst in
                #expect(throws: WireError(.badValue, "VP8 picture ID")) { try d.setPictureID(1, in: dst) }
            }
        }
        #expect(bytes == vp8KeyIndexOnly)
        try vp8ShortPictureID.withUnsafeBytes { src in
            let d = try VP8PayloadDescriptor(src)
            var short = [UInt8](repeating: 0, count: 2)  // shorter than the 3-byte descriptor
            _ = short.withUnsafeMutableBytes { dst in
                #expect(throws: WireError(.badLength, "VP8 picture ID")) { try d.setPictureID(1, in: dst) }
            }
        }
    }

    @Test func vp8BuilderWritesTheAnnotatedDescriptor() throws {
        let b = VP8PayloadDescriptorBuilder(
            pictureID: 0x1234, tl0PicIdx: 0x56, temporalLayer: 2, isLayerSync: true, keyIndex: 5)
        var out = [UInt8](repeating: 0, count: b.marshalSize)
        let n = try out.withUnsafeMutableBytes { try b.marshal(into: $0) }
        #expect(n == 6)
        #expect(out == Array(vp8KeyFrame[0..<6]))
        #expect(VP8PayloadDescriptorBuilder().marshalSize == 1)
        #expect(throws: WireError(.bufferTooSmall, "VP8 payload descriptor")) {
            var small = [UInt8](repeating: 0, count: 5)
            _ = try small.withUnsafeMutableBytes { try b.marshal(into: $0) }
        }
    }

    @Test(arguments: [
        VP8PayloadDescriptorBuilder(),
        VP8PayloadDescriptorBuilder(isNonReference: true, isStartOfPartition: false, partitionIndex: 7),
        VP8PayloadDescriptorBuilder(pictureID: 0x7FFF),
        VP8PayloadDescriptorBuilder(pictureID: 0x7F, longPictureID: false),
        VP8PayloadDescriptorBuilder(tl0PicIdx: 0),
        VP8PayloadDescriptorBuilder(temporalLayer: 3, isLayerSync: false),
        VP8PayloadDescriptorBuilder(keyIndex: 31),
    ])
    func vp8BuiltDescriptorsParseBack(builder b: VP8PayloadDescriptorBuilder) throws {
        var out = [UInt8](repeating: 0, count: b.marshalSize + 1)
        _ = try out.withUnsafeMutableBytes { try b.marshal(into: $0) }
        try withVP8(out) { d in
            #expect(d.descriptorLength == b.marshalSize)
            #expect(d.isNonReference == b.isNonReference)
            #expect(d.isStartOfPartition == b.isStartOfPartition)
            #expect(d.partitionIndex == b.partitionIndex)
            #expect(d.pictureID == b.pictureID)
            #expect(d.hasLongPictureID == (b.pictureID != nil && b.longPictureID))
            #expect(d.tl0PicIdx == b.tl0PicIdx)
            #expect(d.temporalLayer == b.temporalLayer)
            #expect(d.isLayerSync == b.isLayerSync)
            #expect(d.keyIndex == b.keyIndex)
        }
    }
}

// MARK: - VP9 (RFC 9628 §4.2)

/// Non-flexible mode, key frame of a 3-layer stream with its scalability structure.
private let vp9NonFlexible: [UInt8] = [
    0xAA,  // I=1 P=0 L=1 F=0 B=1 E=0 V=1 Z=0
    0x81, 0x2C,  // M=1, picture ID 300
    0x00,  // TID=0 U=0 SID=0 D=0
    0x07,  // TL0PICIDX 7
    0x58,  // SS: N_S=2 (3 spatial layers) Y=1 G=1
    0x01, 0x40, 0x00, 0xB4,  // layer 0: 320x180
    0x02, 0x80, 0x01, 0x68,  // layer 1: 640x360
    0x05, 0x00, 0x02, 0xD0,  // layer 2: 1280x720
    0x02,  // N_G=2
    0x04, 0x04,  // TID=0 U=0 R=1, P_DIFF 4
    0x34, 0x01,  // TID=1 U=1 R=1, P_DIFF 1
    0x82,  // VP9 payload
]

/// Flexible mode with three reference indices.
private let vp9Flexible: [UInt8] = [
    0xFD,  // I=1 P=1 L=1 F=1 B=1 E=1 V=0 Z=1
    0x05,  // M=0, picture ID 5
    0x53,  // TID=2 U=1 SID=1 D=1
    0x03,  // P_DIFF=1 N=1
    0x05,  // P_DIFF=2 N=1
    0x06,  // P_DIFF=3 N=0
    0x00,  // VP9 payload
]

/// SS without resolutions or picture group; no picture ID, no layer indices.
private let vp9BareSS: [UInt8] = [
    0x0E,  // I=0 P=0 L=0 F=0 B=1 E=1 V=1 Z=0
    0x40,  // SS: N_S=2 Y=0 G=0
    0xAA,  // VP9 payload
]

private func vp9Failure(_ bytes: [UInt8]) -> WireError.Reason? {
    bytes.withUnsafeBytes { raw in
        do throws(WireError) {
            _ = try VP9PayloadDescriptor(raw)
            return nil
        } catch {
            return error.reason
        }
    }
}

private func withVP9<R>(_ bytes: [UInt8], _ body: (VP9PayloadDescriptor) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { raw in try body(try VP9PayloadDescriptor(raw)) }
}

extension PayloadDescriptorTests {
    @Test func vp9ParsesNonFlexibleModeWithScalabilityStructure() throws {
        try withVP9(vp9NonFlexible) { d in
            #expect(d.hasPictureID && !d.isInterPicturePredicted && d.hasLayerIndices && !d.isFlexibleMode)
            #expect(d.isStartOfFrame && !d.isEndOfFrame && d.hasScalabilityStructure && !d.isNotUpperLayerReference)
            #expect(d.pictureID == 300)
            #expect(d.pictureIDLength == 2)
            #expect(d.temporalLayer == 0 && d.spatialLayer == 0)
            #expect(!d.isSwitchingUp && !d.isInterLayerDependent)
            #expect(d.tl0PicIdx == 7)
            #expect(d.referenceDiffs.count == 0)
            #expect(d.descriptorLength == 23)
            #expect(Array(d.payload) == [0x82])
            #expect(d.isKeyFrame)

            let ss = try #require(d.scalabilityStructure)
            #expect(ss.length == 18)
            #expect(ss.spatialLayerCount == 3)
            #expect(ss.hasResolutions && ss.hasPictureGroup)
            #expect(ss.resolution(ofLayer: 0).map { [$0.width, $0.height] } == [320, 180])
            #expect(ss.resolution(ofLayer: 1).map { [$0.width, $0.height] } == [640, 360])
            #expect(ss.resolution(ofLayer: 2).map { [$0.width, $0.height] } == [1280, 720])
            #expect(ss.resolution(ofLayer: 3) == nil)
            #expect(ss.pictureGroupCount == 2)
            let pictures = ss.pictureGroup.map { [$0.temporalLayer, $0.isSwitchingUp ? 1 : 0] + Array($0.referenceDiffs) }
            #expect(pictures == [[0, 0, 4], [1, 1, 1]])
        }
    }

    @Test func vp9ParsesFlexibleModeWithReferenceIndices() throws {
        try withVP9(vp9Flexible) { d in
            #expect(d.isFlexibleMode && d.isInterPicturePredicted && d.isEndOfFrame && d.isNotUpperLayerReference)
            #expect(d.pictureID == 5 && d.pictureIDLength == 1)
            #expect(d.temporalLayer == 2 && d.isSwitchingUp && d.spatialLayer == 1 && d.isInterLayerDependent)
            #expect(d.tl0PicIdx == nil)  // flexible mode has no TL0PICIDX
            #expect(Array(d.referenceDiffs) == [1, 2, 3])
            #expect(d.referenceDiffs[2] == 3)
            #expect(d.scalabilityStructure == nil)
            #expect(d.descriptorLength == 6)
            #expect(!d.isKeyFrame)
        }
    }

    @Test func vp9ParsesBareScalabilityStructure() throws {
        try withVP9(vp9BareSS) { d in
            #expect(d.pictureID == nil && d.temporalLayer == nil && d.spatialLayer == nil && d.tl0PicIdx == nil)
            let ss = try #require(d.scalabilityStructure)
            #expect(ss.spatialLayerCount == 3)
            #expect(!ss.hasResolutions && ss.resolution(ofLayer: 0) == nil)
            #expect(ss.pictureGroupCount == 0)
            #expect(Array(ss.pictureGroup).isEmpty)
            #expect(d.descriptorLength == 2)
            #expect(d.isKeyFrame)  // P=0, B=1, no layer indices
        }
    }

    @Test(arguments: [
        ([UInt8(0x08), 0x00], true),  // P=0 B=1, no L
        ([0x48, 0x00], false),  // P=1
        ([0x00, 0x00], false),  // B=0
        ([0x28, 0x00, 0x00, 0x00], true),  // L: SID=0
        ([0x28, 0x02, 0x00, 0x00], false),  // L: SID=1
    ])
    func vp9KeyFrameDetection(bytes: [UInt8], keyFrame: Bool) throws {
        try withVP9(bytes) { d in #expect(d.isKeyFrame == keyFrame) }
    }

    @Test func vp9RejectsAFourthReferenceIndex() {
        var bytes = vp9Flexible
        bytes[5] = 0x07  // third P_DIFF announces another
        #expect(vp9Failure(bytes) == .badValue)
    }

    @Test(arguments: [vp9NonFlexible, vp9Flexible, vp9BareSS])
    func vp9EveryTruncationOfTheDescriptorThrows(packet: [UInt8]) {
        for n in 0..<packet.count {
            #expect(vp9Failure(Array(packet[0..<n])) == .truncated, "length \(n)")
        }
    }

    @Test func vp9RewritesPictureIDAndTL0PicIdx() throws {
        var copy = vp9NonFlexible
        try vp9NonFlexible.withUnsafeBytes { src in
            let d = try VP9PayloadDescriptor(src)
            try copy.withUnsafeMutableBytes { dst in
                try d.setPictureID(0xFFFF, in: dst)  // keeps 15 bits
                try d.setTL0PicIdx(0, in: dst)
            }
        }
        var expected = vp9NonFlexible
        expected[1] = 0xFF
        expected[2] = 0xFF
        expected[4] = 0x00
        #expect(copy == expected)

        var flexible = vp9Flexible
        try vp9Flexible.withUnsafeBytes { src in
            let d = try VP9PayloadDescriptor(src)
            try flexible.withUnsafeMutableBytes { dst in
                try d.setPictureID(0x80, in: dst)  // 7 bits: 0
                #expect(throws: WireError(.badValue, "VP9 TL0PICIDX")) { try d.setTL0PicIdx(1, in: dst) }
            }
        }
        #expect(flexible[1] == 0x00)
        #expect(Array(flexible[2...]) == Array(vp9Flexible[2...]))

        try vp9BareSS.withUnsafeBytes { src in
            let d = try VP9PayloadDescriptor(src)
            var scratch = vp9BareSS
            _ = scratch.withUnsafeMutableBytes { dst in
                #expect(throws: WireError(.badValue, "VP9 picture ID")) { try d.setPictureID(1, in: dst) }
            }
        }
    }

    @Test func vp9BuilderWritesTheAnnotatedDescriptors() throws {
        let nonFlexible = VP9PayloadDescriptorBuilder(
            isEndOfFrame: false, pictureID: 300,
            layerIndices: .init(temporalLayer: 0, spatialLayer: 0, tl0PicIdx: 7),
            scalabilityStructure: .init(
                spatialLayerCount: 3,
                resolutions: [.init(width: 320, height: 180), .init(width: 640, height: 360), .init(width: 1280, height: 720)],
                pictureGroup: [
                    .init(temporalLayer: 0, isSwitchingUp: false, referenceDiffs: [4]),
                    .init(temporalLayer: 1, isSwitchingUp: true, referenceDiffs: [1]),
                ]))
        let flexible = VP9PayloadDescriptorBuilder(
            isInterPicturePredicted: true, isFlexibleMode: true, isNotUpperLayerReference: true, pictureID: 5,
            longPictureID: false,
            layerIndices: .init(temporalLayer: 2, isSwitchingUp: true, spatialLayer: 1, isInterLayerDependent: true),
            referenceDiffs: [1, 2, 3])
        for (builder, expected) in [(nonFlexible, vp9NonFlexible), (flexible, vp9Flexible)] {
            var out = [UInt8](repeating: 0xEE, count: builder.marshalSize)
            let n = try out.withUnsafeMutableBytes { try builder.marshal(into: $0) }
            #expect(n == expected.count - 1)
            #expect(out == Array(expected.dropLast()))
        }
    }

    @Test(arguments: [
        VP9PayloadDescriptorBuilder(isInterPicturePredicted: true, isFlexibleMode: true, referenceDiffs: []),
        VP9PayloadDescriptorBuilder(isInterPicturePredicted: true, isFlexibleMode: true, referenceDiffs: [1, 2, 3, 4]),
        VP9PayloadDescriptorBuilder(scalabilityStructure: .init(spatialLayerCount: 9)),
        VP9PayloadDescriptorBuilder(scalabilityStructure: .init(spatialLayerCount: 2, resolutions: [.init(width: 1, height: 1)])),
        VP9PayloadDescriptorBuilder(scalabilityStructure: .init(
            spatialLayerCount: 1, pictureGroup: [.init(temporalLayer: 0, isSwitchingUp: false, referenceDiffs: [1, 2, 3, 4])])),
    ])
    func vp9BuilderRejectsInvalidFields(builder: VP9PayloadDescriptorBuilder) {
        var out = [UInt8](repeating: 0, count: builder.marshalSize)
        #expect(throws: WireError.self) { _ = try out.withUnsafeMutableBytes { try builder.marshal(into: $0) } }
    }
}

// MARK: - Opus TOC (RFC 6716 §3.1)

/// RFC 6716 Table 2, row by row: config → mode, bandwidth, frame size in samples at 48 kHz.
private let opusConfigs: [(UInt8, OpusTOC.Mode, OpusTOC.Bandwidth, Int)] = [
    (0, .silk, .narrowband, 480), (1, .silk, .narrowband, 960), (2, .silk, .narrowband, 1920), (3, .silk, .narrowband, 2880),
    (4, .silk, .mediumband, 480), (5, .silk, .mediumband, 960), (6, .silk, .mediumband, 1920), (7, .silk, .mediumband, 2880),
    (8, .silk, .wideband, 480), (9, .silk, .wideband, 960), (10, .silk, .wideband, 1920), (11, .silk, .wideband, 2880),
    (12, .hybrid, .superwideband, 480), (13, .hybrid, .superwideband, 960),
    (14, .hybrid, .fullband, 480), (15, .hybrid, .fullband, 960),
    (16, .celt, .narrowband, 120), (17, .celt, .narrowband, 240), (18, .celt, .narrowband, 480), (19, .celt, .narrowband, 960),
    (20, .celt, .wideband, 120), (21, .celt, .wideband, 240), (22, .celt, .wideband, 480), (23, .celt, .wideband, 960),
    (24, .celt, .superwideband, 120), (25, .celt, .superwideband, 240), (26, .celt, .superwideband, 480), (27, .celt, .superwideband, 960),
    (28, .celt, .fullband, 120), (29, .celt, .fullband, 240), (30, .celt, .fullband, 480), (31, .celt, .fullband, 960),
]

private func opus(_ bytes: [UInt8]) throws -> OpusTOC {
    try bytes.withUnsafeBytes { try OpusTOC($0) }
}

private func opusFailure(_ bytes: [UInt8]) -> WireError.Reason? {
    bytes.withUnsafeBytes { raw in
        do throws(WireError) {
            _ = try OpusTOC(raw)
            return nil
        } catch {
            return error.reason
        }
    }
}

extension PayloadDescriptorTests {
    @Test(arguments: opusConfigs)
    func opusConfigurationTable(config: UInt8, mode: OpusTOC.Mode, bandwidth: OpusTOC.Bandwidth, samples: Int) throws {
        let toc = try opus([config << 3 | 0x04, 0xFF])  // stereo, code 0
        #expect(toc.config == config)
        #expect(toc.mode == mode)
        #expect(toc.bandwidth == bandwidth)
        #expect(toc.frameSamples == samples)
        #expect(toc.isStereo)
        #expect(toc.frameCount == 1)
        #expect(toc.durationSamples == samples)
    }

    @Test func opusFrameCountCodes() throws {
        let c0 = try opus([0xF8])  // config 31 (CELT FB 20 ms), mono, c=0
        #expect(c0.frameCountCode == 0 && c0.frameCount == 1 && !c0.isStereo && c0.durationSamples == 960)
        let c1 = try opus([0xF9, 0, 0])  // c=1: two equal frames
        #expect(c1.frameCountCode == 1 && c1.frameCount == 2 && !c1.isVariableBitrate && c1.durationSamples == 1920)
        let c2 = try opus([0xFA, 1, 0, 0])  // c=2: two frames of different sizes
        #expect(c2.frameCountCode == 2 && c2.frameCount == 2 && c2.isVariableBitrate)
        let c3 = try opus([0xFB, 0xC3])  // c=3: v=1 p=1 M=3
        #expect(c3.frameCountCode == 3 && c3.frameCount == 3 && c3.isVariableBitrate && c3.hasPadding)
        #expect(c3.durationSamples == 2880)
        let c3cbr = try opus([0xFB, 0x06])  // v=0 p=0 M=6: 120 ms, the maximum
        #expect(!c3cbr.isVariableBitrate && !c3cbr.hasPadding && c3cbr.durationSamples == 5760)
    }

    @Test func opusTwoSixtyMillisecondFramesAreTheLongestCode1Packet() throws {
        #expect(try opus([0x19, 0]).durationSamples == 5760)  // config 3 (SILK NB 60 ms), c=1
    }

    @Test(arguments: [
        ([UInt8](), WireError.Reason.truncated),  // no TOC
        ([0xFB], .truncated),  // code 3 without its frame count byte
        ([0xFB, 0x00], .badValue),  // M=0
        ([0xFB, 0x07], .badValue),  // 7 × 20 ms = 140 ms
        ([0x1B, 0x03], .badValue),  // config 3: 3 × 60 ms = 180 ms
        ([0x83, 0x31], .badValue),  // config 16 (2.5 ms) × 49 = 122.5 ms
    ])
    func opusRejectsMalformedPackets(bytes: [UInt8], reason: WireError.Reason) {
        #expect(opusFailure(bytes) == reason)
    }

    @Test func opusAllows48FramesOf2Point5Milliseconds() throws {
        #expect(try opus([0x83, 0x30]).durationSamples == 5760)
    }
}
