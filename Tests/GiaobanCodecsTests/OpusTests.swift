import GiaobanCodecs
import Testing

@Suite("Opus encoder and decoder")
struct OpusTests {
    /// Encodes `frames` 20 ms frames of a tone and returns the packets.
    func encodeTone(_ hz: Double, frames: Int, encoder: OpusAudioEncoder) throws -> [[UInt8]] {
        var tone = ToneGenerator(frequency: hz, amplitude: 0.4)
        return try (0..<frames).map { _ in try encoder.encode(tone.nextFrame()) }
    }

    @Test("a 440 Hz tone survives an Opus round trip as 440 Hz, not 1000 Hz", arguments: [440.0, 1000.0])
    func toneRoundTrip(hz: Double) throws {
        let enc = try OpusAudioEncoder()
        let dec = try OpusAudioDecoder()
        let packets = try encodeTone(hz, frames: 25, encoder: enc)
        #expect(packets.allSatisfy { !$0.isEmpty && $0.count < OpusFormat.maxPacketSize })
        var pcm: [Int16] = []
        for p in packets { pcm += try dec.decode(p) }
        #expect(pcm.count == 25 * OpusFormat.samplesPerFrame)
        let tail = Array(pcm.suffix(10 * OpusFormat.samplesPerFrame)) // past the codec's warm-up
        #expect(AudioAnalysis.rms(tail) > 0.1)
        let other = hz == 440 ? 1000.0 : 440.0
        let found = try #require(AudioAnalysis.dominant(of: [hz, other], in: tail))
        #expect(found.frequency == hz)
        #expect(found.share > 0.95)
    }

    @Test("a lost packet is recovered from the next packet's FEC, and PLC fills a gap")
    func fecAndConcealment() throws {
        let enc = try OpusAudioEncoder(bitrate: 32_000, fec: true, expectedLossPercent: 20)
        let dec = try OpusAudioDecoder()
        let packets = try encodeTone(600, frames: 30, encoder: enc)
        for p in packets.prefix(20) { _ = try dec.decode(p) }
        // Packet 20 is lost: recover it from packet 21's in-band FEC.
        let recovered = try dec.decodeFEC(from: packets[21])
        #expect(recovered.count == OpusFormat.samplesPerFrame)
        #expect(AudioAnalysis.power(at: 600, in: recovered) > AudioAnalysis.power(at: 1500, in: recovered) * 10)
        _ = try dec.decode(packets[21])
        // Packet 22 is lost with no FEC at hand: conceal it.
        let concealed = try dec.conceal()
        #expect(concealed.count == OpusFormat.samplesPerFrame)
        #expect(AudioAnalysis.rms(concealed) > 0.01)
    }

    @Test("garbage input is a decode error, not a crash")
    func corruptPacket() throws {
        let dec = try OpusAudioDecoder()
        // TOC code 3 with a frame count of 0 is invalid (RFC 6716 §3.2.5).
        #expect(throws: CodecError.self) { try dec.decode([0x03, 0x00]) }
    }

    @Test("the encoder rejects a frame that is not 20 ms")
    func wrongFrameSize() throws {
        let enc = try OpusAudioEncoder()
        #expect(throws: CodecError.self) { try enc.encode([Int16](repeating: 0, count: 100)) }
    }
}
