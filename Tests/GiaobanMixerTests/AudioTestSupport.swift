import GiaobanCodecs
import GiaobanMixer

/// A participant's microphone: a tone (or silence) encoded with libopus into 20 ms RTP
/// packets with running sequence numbers and timestamps, as a browser sends them.
struct AudioFeed {
    let name: String
    let frequency: Double?
    private var tone: ToneGenerator?
    private let encoder: OpusAudioEncoder
    private(set) var sequence: UInt16
    private(set) var timestamp: UInt32

    init(name: String, frequency: Double?, firstSequence: UInt16, firstTimestamp: UInt32 = 0x7FFF_0000) throws {
        self.name = name
        self.frequency = frequency
        tone = frequency.map { ToneGenerator(frequency: $0, amplitude: 0.3) }
        encoder = try OpusAudioEncoder(channels: 1, application: .voip, bitrate: 32_000, fec: true, expectedLossPercent: 10)
        sequence = firstSequence
        timestamp = firstTimestamp
    }

    /// The next packet: sequence number, timestamp, Opus payload.
    mutating func next() throws -> (sequence: UInt16, timestamp: UInt32, payload: [UInt8]) {
        let pcm = tone?.nextFrame() ?? [Int16](repeating: 0, count: OpusFormat.samplesPerFrame)
        let packet = (sequence, timestamp, try encoder.encode(pcm))
        sequence &+= 1
        timestamp &+= UInt32(OpusFormat.samplesPerFrame)
        return packet
    }
}

extension AudioMixer {
    /// Pushes one packet of a feed.
    func push(_ feed: String, _ packet: (sequence: UInt16, timestamp: UInt32, payload: [UInt8])) {
        packet.payload.withUnsafeBytes { push(source: feed, sequence: packet.sequence, timestamp: packet.timestamp, payload: $0) }
    }
}
