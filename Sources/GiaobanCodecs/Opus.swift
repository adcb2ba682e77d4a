internal import COpus

/// Opus settings shared by the encoder and decoder: 48 kHz, 20 ms frames (RFC 7587 §4).
public enum OpusFormat {
    /// The RTP clock rate and the codec's sample rate.
    public static let sampleRate: Int32 = 48_000
    /// Samples per channel in one 20 ms frame at 48 kHz.
    public static let samplesPerFrame = 960
    /// The largest Opus packet we produce (RFC 6716 allows 1275 bytes per frame).
    public static let maxPacketSize = 1500
    /// The longest packet Opus can decode into: 120 ms per channel.
    public static let maxSamplesPerPacket = 5760

    static func message(_ code: Int32) -> String {
        String(cString: opus_strerror(code))
    }
}

/// An Opus encoder (libopus) producing 20 ms frames at 48 kHz.
public final class OpusAudioEncoder {
    /// What the encoder tunes for (OPUS_APPLICATION_*).
    public enum Application: Sendable {
        /// Speech: OPUS_APPLICATION_VOIP.
        case voip
        /// General audio: OPUS_APPLICATION_AUDIO.
        case audio
        /// Lowest delay: OPUS_APPLICATION_RESTRICTED_LOWDELAY (CELT only).
        case lowDelay

        var raw: Int32 {
            switch self {
            case .voip: OPUS_APPLICATION_VOIP
            case .audio: OPUS_APPLICATION_AUDIO
            case .lowDelay: OPUS_APPLICATION_RESTRICTED_LOWDELAY
            }
        }
    }

    private let encoder: OpaquePointer
    /// Number of interleaved channels (1 or 2).
    public let channels: Int

    /// Creates an encoder; `fec` turns on in-band forward error correction, which Opus
    /// only emits when `expectedLossPercent` is above zero.
    public init(channels: Int = 1, application: Application = .voip, bitrate: Int32 = 32_000,
                fec: Bool = true, expectedLossPercent: Int32 = 10, complexity: Int32 = 5) throws(CodecError) {
        guard channels == 1 || channels == 2 else { throw CodecError(.badSetting, "channels must be 1 or 2") }
        var err: Int32 = 0
        guard let enc = opus_encoder_create(OpusFormat.sampleRate, Int32(channels), application.raw, &err), err == OPUS_OK else {
            throw CodecError(.initFailed, code: err, OpusFormat.message(err))
        }
        encoder = enc
        self.channels = channels
        for (code, what) in [
            (giaoban_opus_set_bitrate(enc, bitrate), "bitrate"),
            (giaoban_opus_set_inband_fec(enc, fec ? 1 : 0), "inband FEC"),
            (giaoban_opus_set_packet_loss_perc(enc, expectedLossPercent), "packet loss percentage"),
            (giaoban_opus_set_complexity(enc, complexity), "complexity"),
        ] where code != OPUS_OK {
            opus_encoder_destroy(enc)
            throw CodecError(.badSetting, code: code, "\(what): \(OpusFormat.message(code))")
        }
    }

    deinit { opus_encoder_destroy(encoder) }

    /// Changes the target bitrate in bits per second.
    public func setBitrate(_ bitsPerSecond: Int32) throws(CodecError) {
        let code = giaoban_opus_set_bitrate(encoder, bitsPerSecond)
        guard code == OPUS_OK else { throw CodecError(.badSetting, code: code, OpusFormat.message(code)) }
    }

    /// Clears the encoder's history (OPUS_RESET_STATE) so it can start an unrelated stream
    /// without the cost of a new encoder.
    public func reset() {
        _ = giaoban_opus_encoder_reset(encoder)
    }

    /// Encodes one 20 ms frame (960 samples per channel, interleaved) into `out`;
    /// returns the packet length. Does not allocate.
    public func encode(_ pcm: UnsafeBufferPointer<Int16>, into out: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        guard pcm.count == OpusFormat.samplesPerFrame * channels, let base = pcm.baseAddress else {
            throw CodecError(.badInput, "expected \(OpusFormat.samplesPerFrame * channels) samples, got \(pcm.count)")
        }
        let n = opus_encode(encoder, base, Int32(OpusFormat.samplesPerFrame),
                            out.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(out.count))
        guard n > 0 else { throw CodecError(.encodeFailed, code: n, OpusFormat.message(n)) }
        return Int(n)
    }

    /// Encodes one 20 ms frame and returns the packet bytes (allocates; for tests and tools).
    public func encode(_ pcm: [Int16]) throws(CodecError) -> [UInt8] {
        var packet = [UInt8](repeating: 0, count: OpusFormat.maxPacketSize)
        let n = try pcm.withUnsafeBufferPointer { samples in
            packet.withUnsafeMutableBytes { out in Result { () throws(CodecError) in try encode(samples, into: out) } }
        }.get()
        packet.removeLast(packet.count - n)
        return packet
    }
}

/// An Opus decoder (libopus) at 48 kHz with forward error correction and loss concealment.
public final class OpusAudioDecoder {
    private let decoder: OpaquePointer
    /// Number of interleaved output channels (1 or 2).
    public let channels: Int

    /// Creates a decoder producing `channels` interleaved channels at 48 kHz.
    public init(channels: Int = 1) throws(CodecError) {
        guard channels == 1 || channels == 2 else { throw CodecError(.badSetting, "channels must be 1 or 2") }
        var err: Int32 = 0
        guard let dec = opus_decoder_create(OpusFormat.sampleRate, Int32(channels), &err), err == OPUS_OK else {
            throw CodecError(.initFailed, code: err, OpusFormat.message(err))
        }
        decoder = dec
        self.channels = channels
    }

    deinit { opus_decoder_destroy(decoder) }

    /// Decodes `packet` into `pcm`; returns samples per channel written. Does not allocate.
    public func decode(_ packet: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Int16>) throws(CodecError) -> Int {
        try run(packet, pcm, frameSize: pcm.count / channels, fec: false)
    }

    /// Recovers the frame *before* `nextPacket` from the FEC data carried in `nextPacket`
    /// (RFC 6716 §2.1.7); `frameSamples` is the lost frame's length per channel (960 for 20 ms).
    public func decodeFEC(from nextPacket: UnsafeRawBufferPointer, frameSamples: Int = OpusFormat.samplesPerFrame,
                          into pcm: UnsafeMutableBufferPointer<Int16>) throws(CodecError) -> Int {
        try run(nextPacket, pcm, frameSize: frameSamples, fec: true)
    }

    /// Packet-loss concealment: synthesises `frameSamples` per channel for a lost packet.
    public func conceal(frameSamples: Int = OpusFormat.samplesPerFrame, into pcm: UnsafeMutableBufferPointer<Int16>) throws(CodecError) -> Int {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), pcm, frameSize: frameSamples, fec: false)
    }

    private func run(_ packet: UnsafeRawBufferPointer, _ pcm: UnsafeMutableBufferPointer<Int16>, frameSize: Int, fec: Bool) throws(CodecError) -> Int {
        guard frameSize > 0, frameSize * channels <= pcm.count, let out = pcm.baseAddress else {
            throw CodecError(.bufferTooSmall, "output holds \(pcm.count) samples")
        }
        let data = packet.count > 0 ? packet.baseAddress?.assumingMemoryBound(to: UInt8.self) : nil
        let n = opus_decode(decoder, data, Int32(packet.count), out, Int32(frameSize), fec ? 1 : 0)
        guard n >= 0 else { throw CodecError(.decodeFailed, code: n, OpusFormat.message(n)) }
        return Int(n)
    }

    /// Decodes a packet and returns its samples (allocates; for tests and tools).
    public func decode(_ packet: [UInt8]) throws(CodecError) -> [Int16] {
        var pcm = [Int16](repeating: 0, count: OpusFormat.maxSamplesPerPacket * channels)
        let n = try packet.withUnsafeBytes { p in
            pcm.withUnsafeMutableBufferPointer { out in Result { () throws(CodecError) in try decode(p, into: out) } }
        }.get()
        pcm.removeLast(pcm.count - n * channels)
        return pcm
    }

    /// Conceals one lost 20 ms frame and returns its samples (allocates; for tests and tools).
    public func conceal() throws(CodecError) -> [Int16] {
        var pcm = [Int16](repeating: 0, count: OpusFormat.samplesPerFrame * channels)
        let n = try pcm.withUnsafeMutableBufferPointer { out in
            Result { () throws(CodecError) in try conceal(into: out) }
        }.get()
        pcm.removeLast(pcm.count - n * channels)
        return pcm
    }

    /// Recovers a lost 20 ms frame from the next packet's FEC and returns its samples.
    public func decodeFEC(from nextPacket: [UInt8]) throws(CodecError) -> [Int16] {
        var pcm = [Int16](repeating: 0, count: OpusFormat.samplesPerFrame * channels)
        let n = try nextPacket.withUnsafeBytes { p in
            pcm.withUnsafeMutableBufferPointer { out in Result { () throws(CodecError) in try decodeFEC(from: p, into: out) } }
        }.get()
        pcm.removeLast(pcm.count - n * channels)
        return pcm
    }
}
