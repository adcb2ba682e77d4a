public import GiaobanCodecs
public import GiaobanRecording
import GiaobanWire

extension FileOutput: WebMOutput {}
extension MemoryOutput: WebMOutput {}

/// Records what a watcher receives into one WebM file: the reassembled VP8/VP9 frames and
/// the Opus packets, as they came (no transcoding).
///
/// Timing: each track's RTP timestamps are counted from that track's first packet (90 kHz
/// video, 48 kHz audio, wraparound unwrapped) and placed on a timeline whose origin is the
/// first packet of either track, each track starting where its first packet arrived
/// relative to that origin. Arrival is the caller's estimate (release time minus the jitter
/// buffer's hold). Sender reports would align the tracks exactly; arrival aligns them to
/// within the network jitter, which is what a watcher can see without them.
///
/// The file starts at the first video keyframe (its track needs the picture size): audio
/// until then is held (at most `maxPendingAudio` packets, the oldest dropped) and written
/// first. Without a video track, or when no picture ever came, the file has audio only.
public final class WebMRecorder {
    /// Where the file goes.
    public let output: any WebMOutput
    /// The video codec, nil when the stream has no video.
    public let videoCodec: VPXCodec?
    /// Audio packets held at most while waiting for the first keyframe (250: 5 s of 20 ms).
    public var maxPendingAudio = 250
    /// Audio packets dropped from that hold.
    public private(set) var droppedAudio = 0
    /// The writer, once the file has started.
    public private(set) var writer: WebMWriter?
    private var origin: ContinuousClock.Instant?
    private var videoClock = TrackClock(ticksPerMillisecond: 90)
    private var audioClock = TrackClock(ticksPerMillisecond: 48)
    private var pendingAudio: [(packet: [UInt8], time: Int64)] = []

    /// A recorder into `output` for a stream with `videoCodec` video (nil: audio only) and Opus audio.
    public init(output: any WebMOutput, videoCodec: VPXCodec?) {
        self.output = output
        self.videoCodec = videoCodec
    }

    /// Records a whole video frame of `width` × `height`, with its RTP timestamp, received at `arrival`.
    public func video(_ frame: [UInt8], rtpTimestamp: UInt32, keyframe: Bool, width: Int, height: Int,
                      arrival: ContinuousClock.Instant) throws(ClientError) {
        guard let videoCodec, writer != nil || keyframe else { return }
        let time = videoClock.milliseconds(rtpTimestamp, arrival: arrival, origin: origin(arrival))
        try convert { () throws(RecordingError) in
            if writer == nil {
                let track = WebMVideoTrack(codec: videoCodec == .vp9 ? .vp9 : .vp8, width: width, height: height)
                try start(WebMWriter(output: output, video: track, audio: WebMAudioTrack()))
            }
            try writer?.appendVideo(frame, timestamp: time, keyframe: keyframe)
        }
    }

    /// Records one Opus packet with its RTP timestamp, received at `arrival`.
    public func audio(_ packet: UnsafeRawBufferPointer, rtpTimestamp: UInt32, arrival: ContinuousClock.Instant) throws(ClientError) {
        let time = audioClock.milliseconds(rtpTimestamp, arrival: arrival, origin: origin(arrival))
        if writer == nil && videoCodec != nil {
            pendingAudio.append((Array(packet), time))
            if pendingAudio.count > maxPendingAudio {
                pendingAudio.removeFirst()
                droppedAudio += 1
            }
            return
        }
        try convert { () throws(RecordingError) in
            if writer == nil { try start(WebMWriter(output: output, video: nil, audio: WebMAudioTrack())) }
            try writer?.appendAudio(packet, timestamp: time)
        }
    }

    /// Writes the last Cluster and the Cues (an audio-only file if no picture ever came).
    public func finish() throws(ClientError) {
        try convert { () throws(RecordingError) in
            if writer == nil && !pendingAudio.isEmpty { try start(WebMWriter(output: output, video: nil, audio: WebMAudioTrack())) }
            try writer?.finish()
        }
    }

    private func start(_ newWriter: WebMWriter) throws(RecordingError) {
        writer = newWriter
        for (packet, time) in pendingAudio { try newWriter.appendAudio(packet, timestamp: time) }
        pendingAudio = []
    }

    private func origin(_ arrival: ContinuousClock.Instant) -> ContinuousClock.Instant {
        if let origin { return origin }
        origin = arrival
        return arrival
    }

    private func convert(_ body: () throws(RecordingError) -> Void) throws(ClientError) {
        do throws(RecordingError) { try body() } catch { throw ClientError(.file, "cannot write the WebM recording: \(error.message)") }
    }
}

/// One track's RTP clock mapped onto the recording's milliseconds.
struct TrackClock {
    let ticksPerMillisecond: Int64
    private var unwrapper = SerialUnwrapper<Timestamp32>()
    private var first: Int64?
    private var offset: Int64 = 0

    init(ticksPerMillisecond: Int64) { self.ticksPerMillisecond = ticksPerMillisecond }

    /// Milliseconds on the recording's timeline of RTP timestamp `rtp`; the first call pins
    /// the track's start to `arrival - origin`.
    mutating func milliseconds(_ rtp: UInt32, arrival: ContinuousClock.Instant, origin: ContinuousClock.Instant) -> Int64 {
        let unwrapped = unwrapper.unwrap(rtp)
        if first == nil {
            first = unwrapped
            let since = arrival - origin
            offset = max(0, since.components.seconds * 1000 + since.components.attoseconds / 1_000_000_000_000_000)
        }
        return offset + (unwrapped - (first ?? unwrapped)) / ticksPerMillisecond
    }
}
