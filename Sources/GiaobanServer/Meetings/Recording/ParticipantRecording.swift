import GiaobanRecording
import GiaobanMixer
import GiaobanRTP

/// One participant's file in a meeting's recording: its VP8/VP9 frames reassembled from the
/// relay's copies of the highest layer, and its Opus packets, as they came (no transcoding).
/// Used only on the meeting's recorder thread.
///
/// Timing: each track's RTP timestamps count from that track's first packet; the track starts
/// where its first packet arrived after the file's first packet (of either track). The file
/// starts at the first video keyframe (the track needs the picture size); audio before it is
/// held (at most `maxPendingAudio` packets) and written first. A stream without video, or whose
/// keyframe never came, gives an audio-only file. After a lost packet the video waits for the
/// next keyframe (`wantsKeyframe` asks the relay for one).
final class ParticipantRecording {
    /// The relay stream recorded.
    let stream: String
    /// The participant.
    let subject: String
    /// The file's name in the meeting's directory.
    let name: String
    /// The video codec, nil for audio only.
    let codec: WebMVideoTrack.Codec?
    /// Audio packets held at most while waiting for the first keyframe (5 s of 20 ms).
    let maxPendingAudio = 250
    /// Unix ms of the first packet recorded, and of the last.
    private(set) var firstAt: Int64?
    private(set) var lastAt: Int64?
    /// Frames that lost packets (each followed by a keyframe request).
    private(set) var incompleteFrames = 0
    /// A keyframe should be asked for (the recording started, or a frame was lost).
    var wantsKeyframe = true
    private let output: RecordingFile
    private var writer: WebMWriter?
    private var assembler: VP8FrameAssembler
    private var waitingForKeyframe = true
    private var pendingAudio: [(packet: [UInt8], time: Int64)] = []
    private var origin: ContinuousClock.Instant?
    private var videoClock = RTPMilliseconds(ticksPerMillisecond: 90)
    private var audioClock = RTPMilliseconds(ticksPerMillisecond: 48)

    /// Records `stream` of `subject` into `output`, the file `name` of the meeting's directory.
    init(stream: String, subject: String, name: String, codec: WebMVideoTrack.Codec?, output: RecordingFile) {
        self.stream = stream
        self.subject = subject
        self.name = name
        self.codec = codec
        self.output = output
        assembler = VP8FrameAssembler(format: codec == .vp9 ? .vp9 : .vp8)
    }

    /// Takes one video RTP payload (descriptor first) that arrived at `arrival` (`now`: Unix ms).
    func video(_ packet: InboxPacket, payload: UnsafeRawBufferPointer, arrival: ContinuousClock.Instant, now: Int64) throws(RecordingError) {
        guard let codec else { return }
        for event in assembler.insert(sequenceNumber: packet.sequence, timestamp: packet.timestamp, marker: packet.marker, payload: payload) {
            switch event {
            case .incomplete:
                incompleteFrames += 1
                waitingForKeyframe = true
                wantsKeyframe = true
            case .frame(let data, let timestamp, let keyframe):
                if waitingForKeyframe && !keyframe { continue }
                if writer == nil {
                    guard let size = VideoFrameSize.of(data, codec: codec) else { continue }
                    try start(WebMWriter(output: output, video: WebMVideoTrack(codec: codec, width: size.width, height: size.height),
                                         audio: WebMAudioTrack()))
                }
                waitingForKeyframe = false
                let time = videoClock.milliseconds(timestamp, arrival: arrival, origin: origin(arrival))
                try writer?.appendVideo(data, timestamp: time, keyframe: keyframe)
                mark(now)
            }
        }
    }

    /// Takes one Opus packet that arrived at `arrival` (`now`: Unix ms).
    func audio(_ packet: InboxPacket, payload: UnsafeRawBufferPointer, arrival: ContinuousClock.Instant, now: Int64) throws(RecordingError) {
        let time = audioClock.milliseconds(packet.timestamp, arrival: arrival, origin: origin(arrival))
        mark(now)
        if writer == nil && codec != nil {
            pendingAudio.append((Array(payload), time))
            if pendingAudio.count > maxPendingAudio { pendingAudio.removeFirst() }
            return
        }
        if writer == nil { try start(WebMWriter(output: output, video: nil, audio: WebMAudioTrack())) }
        try writer?.appendAudio(payload, timestamp: time)
    }

    /// Writes the last Cluster and the Cues and closes the file; false when nothing was recorded.
    func finish() throws(RecordingError) -> Bool {
        defer { output.close() }
        if writer == nil && !pendingAudio.isEmpty { try start(WebMWriter(output: output, video: nil, audio: WebMAudioTrack())) }
        guard let writer else { return false }
        try writer.finish()
        return true
    }

    /// The file's path.
    var path: String { output.path }

    private func start(_ newWriter: WebMWriter) throws(RecordingError) {
        writer = newWriter
        for (packet, time) in pendingAudio { try newWriter.appendAudio(packet, timestamp: time) }
        pendingAudio = []
    }

    private func mark(_ now: Int64) {
        if firstAt == nil { firstAt = now }
        lastAt = now
    }

    private func origin(_ arrival: ContinuousClock.Instant) -> ContinuousClock.Instant {
        if let origin { return origin }
        origin = arrival
        return arrival
    }
}

/// A track's RTP clock in milliseconds on a recording's timeline: unwrapped by the signed
/// 32-bit difference from the previous timestamp, counted from the track's first packet, and
/// offset by that packet's arrival after the timeline's origin.
struct RTPMilliseconds {
    let ticksPerMillisecond: Int64
    private var previous: UInt32?
    private var ticks: Int64 = 0
    private var startMs: Int64 = 0

    init(ticksPerMillisecond: Int64) { self.ticksPerMillisecond = ticksPerMillisecond }

    /// The time of `rtp` on the timeline; the first call pins the track's start.
    mutating func milliseconds(_ rtp: UInt32, arrival: ContinuousClock.Instant, origin: ContinuousClock.Instant) -> Int64 {
        if let previous {
            ticks += Int64(Int32(bitPattern: rtp &- previous))
        } else {
            let (seconds, attoseconds) = (arrival - origin).components
            startMs = max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        }
        previous = rtp
        return startMs + ticks / ticksPerMillisecond
    }
}
