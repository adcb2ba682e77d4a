import GiaobanRecording
import Testing

@Suite("EBML encoding")
struct EBMLTests {
    @Test("element IDs keep their marker bits and length", arguments: [
        (MatroskaID.ebml, [0x1A, 0x45, 0xDF, 0xA3]), (MatroskaID.segment, [0x18, 0x53, 0x80, 0x67]),
        (MatroskaID.timestampScale, [0x2A, 0xD7, 0xB1]), (MatroskaID.docType, [0x42, 0x82]),
        (MatroskaID.simpleBlock, [0xA3]), (MatroskaID.cluster, [0x1F, 0x43, 0xB6, 0x75]),
    ] as [(UInt32, [UInt8])])
    func ids(id: UInt32, bytes: [UInt8]) {
        var out: [UInt8] = []
        EBML.appendID(id, to: &out)
        #expect(out == bytes)
    }

    @Test("sizes are the shortest VINT that is not all ones (RFC 8794 §4)", arguments: [
        (UInt64(0), [0x80]), (1, [0x81]), (126, [0xFE]),
        (127, [0x40, 0x7F]),  // 0xFF would mean unknown
        (16382, [0x7F, 0xFE]), (16383, [0x20, 0x3F, 0xFF]), (1_000_000, [0x2F, 0x42, 0x40]),
    ] as [(UInt64, [UInt8])])
    func sizes(size: UInt64, bytes: [UInt8]) {
        var out: [UInt8] = []
        EBML.appendSize(size, to: &out)
        #expect(out == bytes)
    }

    @Test("a size of fixed width, and the unknown size")
    func fixedAndUnknown() {
        var out: [UInt8] = []
        EBML.appendSize(5, width: 8, to: &out)
        #expect(out == [0x01, 0, 0, 0, 0, 0, 0, 0x05])
        #expect(EBML.unknownSize == [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    }

    @Test("unsigned integers: big-endian, no leading zeros, zero takes one byte")
    func unsigned() {
        var out: [UInt8] = []
        EBML.appendUnsigned(MatroskaID.timestampScale, 1_000_000, to: &out)
        #expect(out == [0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40])
        out = []
        EBML.appendUnsigned(MatroskaID.flagLacing, 0, to: &out)
        #expect(out == [0x9C, 0x81, 0x00])
        out = []
        EBML.appendUnsigned(MatroskaID.pixelWidth, 256, to: &out)
        #expect(out == [0xB0, 0x82, 0x01, 0x00])
        out = []
        EBML.appendUnsigned(MatroskaID.seekPosition, 0x1234, width: 8, to: &out)
        #expect(out == [0x53, 0xAC, 0x88, 0, 0, 0, 0, 0, 0, 0x12, 0x34])
    }

    @Test("floats are eight-byte doubles, big-endian")
    func floats() {
        var out: [UInt8] = []
        EBML.appendFloat(MatroskaID.duration, 3000, to: &out)
        #expect(out == [0x44, 0x89, 0x88, 0x40, 0xA7, 0x70, 0, 0, 0, 0, 0])
        out = []
        EBML.appendFloat(MatroskaID.samplingFrequency, 48_000, to: &out)
        #expect(out == [0xB5, 0x88, 0x40, 0xE7, 0x70, 0, 0, 0, 0, 0])
    }

    @Test("strings are UTF-8 without a terminator")
    func strings() {
        var out: [UInt8] = []
        EBML.appendString(MatroskaID.docType, "webm", to: &out)
        #expect(out == [0x42, 0x82, 0x84, 0x77, 0x65, 0x62, 0x6D])
    }

    @Test("a Void element fills exactly the room asked for")
    func void() {
        var out: [UInt8] = []
        EBML.appendVoid(total: 11, to: &out)
        #expect(out == [0xEC, 0x89] + [UInt8](repeating: 0, count: 9))
        out = []
        EBML.appendVoid(total: 200, to: &out)
        #expect(out.count == 200)
        #expect(Array(out[0..<9]) == [0xEC, 0x01, 0, 0, 0, 0, 0, 0, 0xBF])  // 200 - 1 - 8 = 191
    }

    @Test("a master element wraps its children with their total size")
    func master() {
        var out: [UInt8] = []
        EBML.appendMaster(MatroskaID.video, to: &out) { v in
            EBML.appendUnsigned(MatroskaID.pixelWidth, 320, to: &v)
            EBML.appendUnsigned(MatroskaID.pixelHeight, 240, to: &v)
        }
        #expect(out == [0xE0, 0x87, 0xB0, 0x82, 0x01, 0x40, 0xBA, 0x81, 0xF0])
    }

    @Test("OpusHead: magic, version, channels, pre-skip, 48 kHz, gain, mapping (RFC 7845 §5.1)")
    func opusHead() {
        let head = WebMAudioTrack(channels: 2, preSkip: 312).opusHead
        #expect(head == Array("OpusHead".utf8) + [1, 2, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0])
    }
}
