import GiaobanWire
import Testing

/// Tests of this file, grouped so their names stay local to it.
@Suite struct RTPHeaderExtensionTests {}

// MARK: - Vectors: the layouts of RFC 8285 §4.2 and §4.3 filled with concrete IDs and data

/// RFC 8285 §4.2 figure: one-byte form, length=3 words.
private let oneByteBlock: [UInt8] = [
    0xBE, 0xDE, 0x00, 0x03,  // profile 0xBEDE, length 3
    0x10, 0xAA,  // ID=1 L=0: 1 data byte
    0x21, 0xBB, 0xCC,  // ID=2 L=1: 2 data bytes
    0x00, 0x00,  // padding
    0x33, 0x01, 0x02, 0x03, 0x04,  // ID=3 L=3: 4 data bytes
]

/// RFC 8285 §4.3 figure: two-byte form, length=3 words.
private let twoByteBlock: [UInt8] = [
    0x10, 0x00, 0x00, 0x03,  // profile 0x1000, length 3
    0x01, 0x00,  // ID=1 L=0: no data
    0x02, 0x01, 0xAA,  // ID=2 L=1
    0x00,  // padding
    0x03, 0x04, 0x01, 0x02, 0x03, 0x04,  // ID=3 L=4
]

/// Parses the elements of a block (profile/length word included) and hands them to `body`.
private func withBlock<R>(_ block: [UInt8], _ body: (RTPHeaderExtensions) throws -> R) throws -> R {
    try block.withUnsafeBytes { raw in
        let words = Int(raw.u16(at: 2))
        let ext = try RTPHeaderExtensions(profile: raw.u16(at: 0), bytes: raw.slice(4, words * 4), baseOffset: 4)
        return try body(ext)
    }
}

/// The reason validating `elements` under `profile` fails, or nil.
private func failure(profile: UInt16, _ elements: [UInt8]) -> WireError.Reason? {
    elements.withUnsafeBytes { raw in
        do throws(WireError) {
            _ = try RTPHeaderExtensions(profile: profile, bytes: raw)
            return nil
        } catch {
            return error.reason
        }
    }
}

private struct Seen: Equatable {
    let id: UInt8
    let offset: Int
    let data: [UInt8]
}

private func seen(_ ext: RTPHeaderExtensions) -> [Seen] {
    ext.map { Seen(id: $0.id, offset: $0.dataOffset, data: Array($0.data)) }
}

// MARK: - Parsing

extension RTPHeaderExtensionTests {
    @Test func parsesOneByteFormOfRFC8285() throws {
        try withBlock(oneByteBlock) { ext in
            #expect(ext.form == .oneByte)
            #expect(ext.profile == 0xBEDE)
            #expect(seen(ext) == [
                Seen(id: 1, offset: 5, data: [0xAA]),
                Seen(id: 2, offset: 7, data: [0xBB, 0xCC]),
                Seen(id: 3, offset: 12, data: [0x01, 0x02, 0x03, 0x04]),
            ])
        }
    }

    @Test func parsesTwoByteFormOfRFC8285() throws {
        try withBlock(twoByteBlock) { ext in
            #expect(ext.form == .twoByte)
            #expect(seen(ext) == [
                Seen(id: 1, offset: 6, data: []),
                Seen(id: 2, offset: 8, data: [0xAA]),
                Seen(id: 3, offset: 12, data: [0x01, 0x02, 0x03, 0x04]),
            ])
        }
    }

    @Test(arguments: [UInt16(0x1000), 0x1001, 0x100F])
    func twoByteProfileAllowsAppBits(profile: UInt16) {
        #expect(RTPHeaderExtensionForm(profile: profile) == .twoByte)
    }

    @Test(arguments: [UInt16(0xBEDF), 0x1010, 0x0000, 0xFFFF, 0x0100])
    func otherProfilesAreOpaque(profile: UInt16) throws {
        #expect(RTPHeaderExtensionForm(profile: profile) == .opaque)
        let elements: [UInt8] = [0x10, 0xAA, 0x00, 0x00]
        try elements.withUnsafeBytes { raw in
            let ext = try RTPHeaderExtensions(profile: profile, bytes: raw)
            #expect(ext.isEmpty)
            #expect(ext.element(id: 1) == nil)
        }
    }

    @Test func findsElementsById() throws {
        try withBlock(oneByteBlock) { ext in
            #expect(ext.element(id: 2).map { Array($0.data) } == [0xBB, 0xCC])
            #expect(ext.element(id: 4) == nil)
        }
        try withBlock(twoByteBlock) { ext in
            #expect(ext.element(id: 3).map { Array($0.data) } == [1, 2, 3, 4])
            #expect(ext.element(id: 1).map(\.data.count) == 0)
        }
    }

    @Test func oneByteID15StopsParsing() throws {
        // ID 15 (reserved): the rest of the block is ignored, even bytes that would be malformed.
        let elements: [UInt8] = [0x10, 0xAA, 0xF3, 0x2F, 0x00, 0x00]
        try elements.withUnsafeBytes { raw in
            let ext = try RTPHeaderExtensions(profile: 0xBEDE, bytes: raw)
            #expect(ext.map(\.id) == [1])
        }
    }

    @Test func oneBytePaddingIgnoresItsLengthNibble() throws {
        // A byte with ID 0 is one byte of padding whatever its low nibble (RFC 8285 §4.2).
        let elements: [UInt8] = [0x0F, 0x10, 0xAA, 0x00]
        try elements.withUnsafeBytes { raw in
            let ext = try RTPHeaderExtensions(profile: 0xBEDE, bytes: raw)
            #expect(ext.map(\.id) == [1])
        }
    }

    @Test(arguments: [
        [UInt8(0x11), 0xAA],  // ID=1 L=1 needs 2 data bytes, 1 present
        [0x10, 0xAA, 0x20],  // second element has no data byte
        [0x1F] + [UInt8](repeating: 0, count: 15),  // L=15 needs 16 bytes, 15 present
    ])
    func oneByteOverrunIsRejected(elements: [UInt8]) {
        #expect(failure(profile: 0xBEDE, elements) == .badExtension)
    }

    @Test(arguments: [
        [UInt8(0x01)],  // ID without a length byte
        [0x01, 0x02, 0xAA],  // L=2, one data byte
        [0x00, 0x00, 0x05, 0xFF],  // L=255 after padding
    ])
    func twoByteOverrunIsRejected(elements: [UInt8]) {
        #expect(failure(profile: 0x1000, elements) == .badExtension)
    }

    @Test func everyTruncationOfTheElementsIsRejectedOrDropsOnlyPadding() {
        // Cutting inside an element must throw; cutting at an element boundary or in padding is valid.
        let oneByteValidCuts: Set<Int> = [0, 2, 5, 6, 7, 12]
        let elements1 = Array(oneByteBlock[4...])
        for n in 0..<elements1.count {
            let reason = failure(profile: 0xBEDE, Array(elements1[0..<n]))
            #expect((reason == nil) == oneByteValidCuts.contains(n), "one-byte length \(n)")
            if reason != nil { #expect(reason == .badExtension) }
        }
        let twoByteValidCuts: Set<Int> = [0, 2, 5, 6]
        let elements2 = Array(twoByteBlock[4...])
        for n in 0..<elements2.count {
            let reason = failure(profile: 0x1000, Array(elements2[0..<n]))
            #expect((reason == nil) == twoByteValidCuts.contains(n), "two-byte length \(n)")
        }
    }
}

// MARK: - Building

private func built(_ b: RTPHeaderExtensionBuilder) throws -> [UInt8] {
    var out = [UInt8](repeating: 0xEE, count: b.marshalSize)
    let n = try out.withUnsafeMutableBytes { try b.marshal(into: $0) }
    #expect(n == b.marshalSize)
    return out
}

extension RTPHeaderExtensionTests {
    @Test func buildsOneByteFormPaddedToFourBytes() throws {
        let b = RTPHeaderExtensionBuilder(elements: [
            .init(id: 1, data: [0xAA]), .init(id: 2, data: [0xBB, 0xCC]), .init(id: 3, data: [1, 2, 3, 4]),
        ])
        #expect(b.resolvedForm == .oneByte)
        #expect(b.marshalSize == 16)
        // Same elements as the RFC figure, with the padding moved to the end.
        #expect(try built(b) == [
            0xBE, 0xDE, 0x00, 0x03,
            0x10, 0xAA, 0x21, 0xBB, 0xCC, 0x33, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00,
        ])
    }

    @Test func buildsTwoByteFormWhenAnElementNeedsIt() throws {
        var b = RTPHeaderExtensionBuilder(elements: [.init(id: 1, data: [])])
        #expect(b.resolvedForm == .twoByte)  // empty data does not fit the one-byte form
        b = RTPHeaderExtensionBuilder(elements: [.init(id: 15, data: [1])])
        #expect(b.resolvedForm == .twoByte)
        b = RTPHeaderExtensionBuilder(elements: [.init(id: 1, data: Array(repeating: 1, count: 17))])
        #expect(b.resolvedForm == .twoByte)
        b = RTPHeaderExtensionBuilder(
            elements: [.init(id: 1, data: []), .init(id: 2, data: [0xAA]), .init(id: 3, data: [1, 2, 3, 4])],
            appBits: 0x5)
        #expect(try built(b) == [
            0x10, 0x05, 0x00, 0x03,
            0x01, 0x00, 0x02, 0x01, 0xAA, 0x03, 0x04, 0x01, 0x02, 0x03, 0x04, 0x00,
        ])
    }

    @Test func emptyBuilderWritesAnEmptyBlock() throws {
        #expect(try built(RTPHeaderExtensionBuilder()) == [0xBE, 0xDE, 0x00, 0x00])
    }

    @Test(arguments: [
        RTPHeaderExtensionBuilder(elements: [.init(id: 15, data: [1])], form: .oneByte),
        RTPHeaderExtensionBuilder(elements: [.init(id: 1, data: [])], form: .oneByte),
        RTPHeaderExtensionBuilder(elements: [.init(id: 1, data: Array(repeating: 0, count: 17))], form: .oneByte),
        RTPHeaderExtensionBuilder(elements: [.init(id: 0, data: [1])]),
        RTPHeaderExtensionBuilder(elements: [.init(id: 1, data: Array(repeating: 0, count: 256))]),
    ])
    func builderRejectsElementsThatDoNotFit(builder: RTPHeaderExtensionBuilder) {
        #expect(throws: WireError.self) { try built(builder) }
    }

    @Test func builderRejectsShortBuffers() {
        let b = RTPHeaderExtensionBuilder(elements: [.init(id: 1, data: [1, 2, 3])])
        for n in 0..<b.marshalSize {
            var out = [UInt8](repeating: 0, count: n)
            #expect(throws: WireError(.bufferTooSmall, "RTP header extension")) {
                _ = try out.withUnsafeMutableBytes { try b.marshal(into: $0) }
            }
        }
    }

    @Test(arguments: [RTPHeaderExtensionForm.oneByte, .twoByte])
    func builtBlocksParseBack(form: RTPHeaderExtensionForm) throws {
        let b = RTPHeaderExtensionBuilder(
            elements: [.init(id: 4, data: [9]), .init(id: 7, data: Array(1...16)), .init(id: 14, data: [1, 2])],
            form: form)
        try withBlock(try built(b)) { ext in
            #expect(ext.form == form)
            #expect(ext.map(\.id) == [4, 7, 14])
            #expect(ext.map { Array($0.data) } == [[9], Array(1...16), [1, 2]])
        }
    }
}

// MARK: - Element values

extension RTPHeaderExtensionTests {
    @Test(arguments: [
        (UInt8(0x8A), true, UInt8(10)),  // V=1, -10 dBov
        (0x7F, false, 127),  // silence
        (0x00, false, 0),  // loudest
        (0xFF, true, 127),
    ])
    func decodesAudioLevel(byte: UInt8, voice: Bool, level: UInt8) throws {
        let a = try [byte].withUnsafeBytes { try AudioLevelExtension($0) }
        #expect(a.voiceActivity == voice)
        #expect(a.level == level)
        #expect(a.byte == byte)
        #expect(AudioLevelExtension(level: level, voiceActivity: voice) == a)
    }

    @Test func audioLevelClampsAndRejectsEmptyData() throws {
        #expect(AudioLevelExtension(level: 200, voiceActivity: false).level == 127)
        #expect(throws: WireError(.truncated, "RTP audio level extension")) {
            _ = try [UInt8]().withUnsafeBytes { try AudioLevelExtension($0) }
        }
        var out: [UInt8] = [0]
        _ = try out.withUnsafeMutableBytes { try AudioLevelExtension(level: 3, voiceActivity: true).marshal(into: $0) }
        #expect(out == [0x83])
    }

    @Test func decodesAndEncodesTransportSequenceNumber() throws {
        let t = try [UInt8(0x12), 0x34].withUnsafeBytes { try TransportSequenceNumberExtension($0) }
        #expect(t.sequenceNumber == 0x1234)
        var out: [UInt8] = [0, 0]
        _ = try out.withUnsafeMutableBytes { try TransportSequenceNumberExtension(sequenceNumber: 0xFFFE).marshal(into: $0) }
        #expect(out == [0xFF, 0xFE])
        #expect(throws: WireError.self) {
            _ = try [UInt8(1)].withUnsafeBytes { try TransportSequenceNumberExtension($0) }
        }
    }

    @Test func decodesAndEncodesAbsSendTime() throws {
        let a = try [UInt8(0x12), 0x34, 0x56].withUnsafeBytes { try AbsSendTimeExtension($0) }
        #expect(a.value == 0x12_3456)
        // NTP 1.5 s = 0x00000001_80000000; 6.18 fixed point: 1.5 * 2^18 = 0x060000.
        #expect(AbsSendTimeExtension(ntpTimestamp: 0x0000_0001_8000_0000).value == 0x06_0000)
        // Seconds wrap at 64: 65.5 s has the same value as 1.5 s.
        #expect(AbsSendTimeExtension(ntpTimestamp: 0x0000_0041_8000_0000).value == 0x06_0000)
        var out: [UInt8] = [0, 0, 0]
        _ = try out.withUnsafeMutableBytes { try AbsSendTimeExtension(value: 0xFF_ABCDEF).marshal(into: $0) }
        #expect(out == [0xAB, 0xCD, 0xEF])
        #expect(throws: WireError.self) {
            _ = try [UInt8(1), 2].withUnsafeBytes { try AbsSendTimeExtension($0) }
        }
    }

    @Test func comparesMidAndRidText() throws {
        try Array("video0".utf8).withUnsafeBytes { raw in
            let t = try TextHeaderExtension(raw)
            #expect(t.equals("video0"))
            #expect(!t.equals("video"))
            #expect(!t.equals("video1"))
            #expect(t.string == "video0")
        }
        #expect(throws: WireError(.badValue, "RTP MID/RID extension")) {
            _ = try [UInt8]().withUnsafeBytes { try TextHeaderExtension($0) }
        }
    }
}
