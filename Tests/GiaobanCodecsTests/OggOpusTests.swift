import GiaobanCodecs
import Testing

@Suite("Ogg Opus (RFC 3533 pages, RFC 7845 mapping): write, read back, decode")
struct OggOpusTests {
    /// Writes `packets` (with 960 samples each) and returns the file's bytes and page count.
    private func write(_ packets: [[UInt8]], packetsPerPage: Int = 50) -> (bytes: [UInt8], pages: Int) {
        var bytes: [UInt8] = []
        var pages = 0
        let emit: (UnsafeRawBufferPointer) -> Void = { bytes += $0; pages += 1 }
        var writer = OggOpusWriter(channels: 1, serial: 0x1234_5678, packetsPerPage: packetsPerPage, emit: emit)
        for packet in packets { packet.withUnsafeBytes { writer.append($0, samples: 960, emit: emit) } }
        writer.finish(emit: emit)
        return (bytes, pages)
    }

    @Test("a tone round-trips: headers, packets, granule positions; the decoded audio is the tone")
    func roundTrip() throws {
        let encoder = try OpusAudioEncoder(channels: 1, application: .audio)
        var tone = ToneGenerator(frequency: 1000)
        let packets = try (0..<120).map { _ in try encoder.encode(tone.nextFrame()) }
        let (bytes, pages) = write(packets)
        #expect(pages == 2 + 3, "OpusHead, OpusTags, 50 + 50 packets, and the last 20 on the end-of-stream page")
        #expect(bytes.prefix(4) == [0x4F, 0x67, 0x67, 0x53][...])
        #expect(bytes[5] == 0x02, "the first page begins the stream")

        let read = try OggPacketReader(bytes)
        #expect(read.packets.count == 122)
        let head = read.packets[0].data
        #expect(Array(head.prefix(8)) == Array("OpusHead".utf8))
        #expect(head[8] == 1 && head[9] == 1, "version 1, mono")
        #expect(Int(head[10]) | Int(head[11]) << 8 == 312, "pre-skip")
        #expect(Array(read.packets[1].data.prefix(8)) == Array("OpusTags".utf8))
        #expect(read.packets.dropFirst(2).map(\.data) == packets)
        #expect(read.packets[51].granule == 50 * 960, "the first audio page ends after 50 packets")
        let last = try #require(read.packets.last)
        #expect(last.granule == 120 * 960)

        let decoder = try OpusAudioDecoder(channels: 1)
        var pcm: [Int16] = []
        for packet in read.packets.dropFirst(2) { pcm += try decoder.decode(packet.data) }
        let dominant = try #require(AudioAnalysis.dominant(of: [440, 1000, 2000], in: Array(pcm.dropFirst(4800))))
        #expect(dominant.frequency == 1000)
    }

    @Test("packets of 255 bytes or more are laced over several segments; a corrupt byte fails the page CRC")
    func lacingAndCRC() throws {
        let packets: [[UInt8]] = [Array(repeating: 7, count: 255), Array(repeating: 8, count: 600), [9]]
        var (bytes, _) = write(packets, packetsPerPage: 3)
        #expect(try OggPacketReader(bytes).packets.dropFirst(2).map(\.data) == packets)
        bytes[bytes.count - 10] ^= 0xFF
        #expect(throws: CodecError.self) { try OggPacketReader(bytes) }
    }

    @Test("the CRC is the Ogg one: polynomial 0x04C11DB7, unreflected, initial 0")
    func crcVector() {
        // CRC-32/MPEG-2 differs only by its initial value and final XOR; with initial 0 and no
        // XOR ("CRC-32/OGG") the check value of "123456789" is 0x89A1897F.
        #expect(OggCRC.checksum(Array("123456789".utf8)) == 0x89A1_897F)
    }
}
