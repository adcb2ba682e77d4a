import GiaobanWire
import Testing

@Suite("RTCP SDES, BYE and APP (RFC 3550 §6.5–6.7)")
struct RTCPSourceTests {
    static let sdes: [UInt8] = [
        0x81, 0xCA, 0x00, 0x04,  // V=2 P=0 SC=1 | PT=202 SDES | length 4 (20 bytes)
        0x12, 0x34, 0x56, 0x78,  // chunk 1: SSRC
        0x01, 0x09,              //   item CNAME, 9 octets
        0x75, 0x73, 0x65, 0x72, 0x40, 0x68, 0x6F, 0x73, 0x74,  // "user@host"
        0x00,                    //   END; 4+2+9+1 = 16, already on a 32-bit boundary
    ]

    @Test func sdesFields() throws {
        try Self.sdes.withUnsafeBytes { raw throws in
            let sdes = try SourceDescription(raw)
            #expect(sdes.chunkCount == 1)
            let chunks = Array(sdes)
            #expect(chunks.count == 1)
            let chunk = try #require(chunks.first)
            #expect(chunk.source == 0x1234_5678)
            #expect(chunk.cname.map { String(decoding: $0, as: UTF8.self) } == "user@host")
            #expect(chunk.map(\.type) == [.cname])
        }
        #expect(try RTCPTest.bytes(of: SourceDescriptionBuilder.cname(source: 0x1234_5678, "user@host")) == Self.sdes)
    }

    static let twoChunks: [UInt8] = [
        0x82, 0xCA, 0x00, 0x06,  // V=2 P=0 SC=2 | PT=202 SDES | length 6 (28 bytes)
        0x00, 0x00, 0x00, 0x0A,  // chunk 1: SSRC 10
        0x01, 0x01, 0x61,        //   CNAME "a"
        0x02, 0x03, 0x42, 0x6F, 0x62,  //   NAME "Bob"
        0x00, 0x00, 0x00, 0x00,  //   END + 3 nulls to the 32-bit boundary
        0x00, 0x00, 0x00, 0x0B,  // chunk 2: SSRC 11
        0x00, 0x00, 0x00, 0x00,  //   no items: END + 3 nulls
    ]

    @Test func sdesTwoChunksAndEmptyChunk() throws {
        try Self.twoChunks.withUnsafeBytes { raw throws in
            let chunks = Array(try SourceDescription(raw))
            #expect(chunks.map(\.source) == [10, 11])
            #expect(chunks[0].map(\.type) == [.cname, .name])
            #expect(chunks[0].map { Array($0.value) } == [[0x61], [0x42, 0x6F, 0x62]])
            #expect(Array(chunks[1]).isEmpty)
            #expect(chunks[1].cname == nil)
        }
        let builder = SourceDescriptionBuilder(chunks: [
            .init(source: 10, items: [.cname("a"), .init(type: .name, text: "Bob")]),
            .init(source: 11, items: []),
        ])
        #expect(try RTCPTest.bytes(of: builder) == Self.twoChunks)
        RTCPTest.expectEveryTruncationThrows(Self.twoChunks) { raw throws(WireError) in _ = try SourceDescription(raw) }
    }

    @Test(arguments: 0...8)
    func sdesRoundTripPadsEveryItemLength(length: Int) throws {
        let builder = SourceDescriptionBuilder(chunks: [
            .init(source: 1, items: [.init(type: .tool, value: Array(repeating: 0x41, count: length))]),
            .init(source: 2, items: [.cname("x"), .init(type: .priv, value: [3, 0x61, 0x62, 0x63, 0x7A])]),
        ])
        let bytes = try RTCPTest.bytes(of: builder)
        #expect(bytes.count % 4 == 0)
        try bytes.withUnsafeBytes { raw throws in
            let view = try SourceDescription(raw)
            #expect(SourceDescriptionBuilder(view) == builder)
        }
    }

    @Test func sdesMalformed() {
        let noTerminator: [UInt8] = [
            0x81, 0xCA, 0x00, 0x02,  // SC=1, length 2 (12 bytes)
            0x00, 0x00, 0x00, 0x01,  // SSRC
            0x01, 0x02, 0x61, 0x62,  // CNAME "ab", then the packet ends with no END octet
        ]
        #expect(RTCPTest.reason(noTerminator) { raw throws(WireError) in _ = try SourceDescription(raw) } == .badLength)
        var overrun = Self.sdes
        overrun[9] = 200  // item length past the packet
        #expect(RTCPTest.reason(overrun) { raw throws(WireError) in _ = try SourceDescription(raw) } == .badLength)
        var missingChunk = Self.sdes
        missingChunk[0] = 0x82  // SC=2, one chunk present
        #expect(RTCPTest.reason(missingChunk) { raw throws(WireError) in _ = try SourceDescription(raw) } == .badLength)
        var extraChunk = Self.sdes
        extraChunk[0] = 0x80  // SC=0, a chunk present
        #expect(RTCPTest.reason(extraChunk) { raw throws(WireError) in _ = try SourceDescription(raw) } == .badLength)
        RTCPTest.expectEveryTruncationThrows(Self.sdes) { raw throws(WireError) in _ = try SourceDescription(raw) }
    }

    @Test func sdesBuilderRefusesBadItems() {
        for item in [SourceDescriptionBuilder.Item(type: .end, value: [1]),
                     SourceDescriptionBuilder.Item(type: .note, value: Array(repeating: 0, count: 256))] {
            let builder = SourceDescriptionBuilder(chunks: [.init(source: 1, items: [item])])
            var out = [UInt8](repeating: 0, count: builder.marshalSize)
            _ = out.withUnsafeMutableBytes { raw in
                #expect(throws: WireError(.badValue, "RTCP SDES")) { _ = try builder.marshal(into: raw) }
            }
        }
    }

    static let bye: [UInt8] = [
        0x81, 0xCB, 0x00, 0x03,  // V=2 P=0 SC=1 | PT=203 BYE | length 3 (16 bytes)
        0x12, 0x34, 0x56, 0x78,  // SSRC
        0x05,                    // reason length 5
        0x63, 0x6C, 0x6F, 0x73, 0x65,  // "close"
        0x00, 0x00,              // nulls to the 32-bit boundary
    ]

    @Test func byeWithReason() throws {
        try Self.bye.withUnsafeBytes { raw throws in
            let bye = try Goodbye(raw)
            #expect(Array(bye.sources) == [0x1234_5678])
            #expect(bye.reason.map { String(decoding: $0, as: UTF8.self) } == "close")
        }
        #expect(try RTCPTest.bytes(of: GoodbyeBuilder(sources: [0x1234_5678], reason: "close")) == Self.bye)
        RTCPTest.expectEveryTruncationThrows(Self.bye) { raw throws(WireError) in _ = try Goodbye(raw) }
    }

    @Test(arguments: [[UInt8]?.none, [], [0x61], [0x61, 0x62, 0x63], Array(repeating: 0x7A, count: 255)])
    func byeRoundTrip(reason: [UInt8]?) throws {
        let builder = GoodbyeBuilder(sources: [1, 2, 3], reason: reason)
        let bytes = try RTCPTest.bytes(of: builder)
        try bytes.withUnsafeBytes { raw throws in
            let view = try Goodbye(raw)
            #expect(GoodbyeBuilder(view) == builder)
        }
        RTCPTest.expectShortBufferThrows(builder)
    }

    @Test func byeMalformed() {
        var overrun = Self.bye
        overrun[8] = 8  // reason length past the packet
        #expect(RTCPTest.reason(overrun) { raw throws(WireError) in _ = try Goodbye(raw) } == .badLength)
        var tooManySources = Self.bye
        tooManySources[0] = 0x84  // SC=4: 16 bytes of sources, only 12 after the header
        #expect(RTCPTest.reason(tooManySources) { raw throws(WireError) in _ = try Goodbye(raw) } == .badLength)
    }

    static let app: [UInt8] = [
        0x85, 0xCC, 0x00, 0x03,  // V=2 P=0 subtype=5 | PT=204 APP | length 3 (16 bytes)
        0x12, 0x34, 0x56, 0x78,  // SSRC
        0x47, 0x42, 0x41, 0x4E,  // name "GBAN"
        0x01, 0x02, 0x03, 0x04,  // application data
    ]

    @Test func appPassthrough() throws {
        try Self.app.withUnsafeBytes { raw throws in
            let app = try ApplicationDefined(raw)
            #expect(app.subtype == 5)
            #expect(app.ssrc == 0x1234_5678)
            #expect(app.name == 0x4742_414E)
            #expect(Array(app.data) == [1, 2, 3, 4])
            #expect(try RTCPTest.bytes(of: ApplicationDefinedBuilder(app)) == Self.app)
        }
        RTCPTest.expectEveryTruncationThrows(Self.app) { raw throws(WireError) in _ = try ApplicationDefined(raw) }
    }

    @Test func appBuilderChecksDataAndSubtype() {
        for builder in [ApplicationDefinedBuilder(subtype: 0, ssrc: 1, name: 0x4142_4344, data: [1, 2, 3]),
                        ApplicationDefinedBuilder(subtype: 32, ssrc: 1, name: 0x4142_4344, data: [])] {
            var out = [UInt8](repeating: 0, count: builder.marshalSize + 4)
            _ = out.withUnsafeMutableBytes { raw in
                #expect(throws: WireError.self) { _ = try builder.marshal(into: raw) }
            }
        }
    }
}
