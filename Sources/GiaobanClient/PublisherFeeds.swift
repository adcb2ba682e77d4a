public import GiaobanCodecs
import GiaobanWire

/// Where a publisher's pictures come from.
public enum VideoSource {
    /// Moving colour bars (`TestPattern`), encoded with libvpx.
    case testPattern
    /// Raw I420 pictures from a Y4M file, encoded with libvpx (the file's size wins).
    case y4m(Y4MReader)
    /// Pre-encoded VP8 frames from an IVF file, packetized as they are (no encoder: keyframe
    /// requests cannot be honoured, the file's keyframes come when they come).
    case ivf(IVFReader)
}

/// Where a publisher's sound comes from.
public enum AudioSource {
    /// A sine tone at `Settings.toneFrequency`, encoded with libopus.
    case tone
    /// 48 kHz 16-bit PCM from a WAV file, encoded with libopus (mono or stereo as the file).
    case wav(WAVReader)
    /// Opus packets from an Ogg Opus file, sent as they are.
    case oggOpus(OggOpusReader)
}

/// Turns a `VideoSource` into encoded frames, one picture per call.
final class VideoFeed {
    private var source: VideoSource
    private let pattern: TestPattern?
    private let encoder: VPXEncoder?
    private var frameIndex = 0
    /// The picture size sent.
    let width: Int
    /// The picture size sent.
    let height: Int

    /// Prepares the encoder (`codec`) when the source needs one; `width`/`height` are the
    /// pattern's (a file's own size wins).
    init(_ source: VideoSource, codec: VPXCodec, width: Int, height: Int, bitrateKbps: Int, framesPerSecond: Int,
         grain: Int = 0) throws(CodecError) {
        self.source = source
        switch source {
        case .testPattern:
            pattern = TestPattern(width: width, height: height, grain: grain)
            (self.width, self.height) = (width, height)
        case .y4m(let reader):
            pattern = nil
            (self.width, self.height) = (reader.width, reader.height)
        case .ivf(let reader):
            pattern = nil
            (self.width, self.height) = (reader.width, reader.height)
        }
        if case .ivf = source {
            encoder = nil
        } else {
            encoder = try VPXEncoder(.init(codec: codec, width: self.width, height: self.height, bitrateKbps: bitrateKbps,
                                           framesPerSecond: framesPerSecond))
        }
    }

    /// The frames for the next picture (usually one) and whether each is a keyframe.
    func next() throws(CodecError) -> [(data: [UInt8], isKeyframe: Bool)] {
        defer { frameIndex += 1 }
        switch source {
        case .testPattern:
            return try encoder!.encode(pattern!.frame(frameIndex)).map { ($0.data, $0.isKeyframe) }
        case .y4m(let reader):
            let picture: I420Frame
            do { picture = try reader.nextFrame() } catch { throw CodecError(.badInput, error.message) }
            return try encoder!.encode(picture).map { ($0.data, $0.isKeyframe) }
        case .ivf(var reader):
            let frame = reader.next()
            source = .ivf(reader)
            return [frame]
        }
    }

    /// Asks the encoder for a keyframe; false when there is none (pre-encoded input).
    func requestKeyframe() -> Bool {
        encoder?.requestKeyframe()
        return encoder != nil
    }
}

/// Turns an `AudioSource` into Opus packets, one per call, with their duration in samples.
final class AudioFeed {
    private var source: AudioSource
    private var tone: ToneGenerator
    private let encoder: OpusAudioEncoder?

    /// Prepares the encoder when the source needs one (20 ms frames, in-band FEC on); the
    /// tone is at `toneLevel` dBov when given, else at the generator's default amplitude.
    init(_ source: AudioSource, toneFrequency: Double, toneLevel: Double? = nil) throws(CodecError) {
        self.source = source
        tone = toneLevel.map { ToneGenerator(frequency: toneFrequency, dBov: $0) } ?? ToneGenerator(frequency: toneFrequency)
        switch source {
        case .tone:
            encoder = try OpusAudioEncoder(channels: 1, application: .audio, bitrate: 32_000, fec: true, expectedLossPercent: 10)
        case .wav(let reader):
            encoder = try OpusAudioEncoder(channels: reader.channels, application: .audio, bitrate: 32_000 * Int32(reader.channels),
                                           fec: true, expectedLossPercent: 10)
        case .oggOpus:
            encoder = nil
        }
    }

    /// The next packet, the 48 kHz samples it lasts, and its RFC 6464 level measured on the
    /// PCM it was encoded from (nil for pre-encoded input: no PCM to measure).
    func next() throws(CodecError) -> (data: [UInt8], samples: Int, level: AudioLevelExtension?) {
        switch source {
        case .tone:
            let pcm = tone.nextFrame()
            return (try encoder!.encode(pcm), OpusFormat.samplesPerFrame, AudioLevelExtension(measuring: pcm))
        case .wav(var reader):
            let pcm = reader.nextFrame()
            source = .wav(reader)
            return (try encoder!.encode(pcm), OpusFormat.samplesPerFrame, AudioLevelExtension(measuring: pcm))
        case .oggOpus(var reader):
            let packet = reader.next()
            source = .oggOpus(reader)
            return (packet.data, packet.samples, nil)
        }
    }
}
