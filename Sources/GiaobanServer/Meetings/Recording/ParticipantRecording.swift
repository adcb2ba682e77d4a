import GiaobanRecording
import GiaobanMixer
import GiaobanRTP

/// One participant's file in a meeting's recording: its VP8/VP9 frames reassembled from the
/// relay's copies of the highest layer, and its Opus packets, as they came (no transcoding).
/// Used only on the meeting's recorder thread.
///
/// Timing (docs/recording.md, "Timeline"): the file starts at the first video keyframe (the
/// track needs the picture size). Until both tracks' RTCP sender reports are known, what
/// arrives is held (at most `maxHold`); then every block's time is its RTP timestamp mapped
/// through its track's first sender report to the sender's wall clock, counted from the
/// earliest held block — audio and video line up as the sender captured them. Without sender
/// reports within the hold (a sender that sends none, the meeting's minutes), each track counts
/// its RTP timestamps from where its first packet arrived after the file's first packet.
/// After a lost packet the video waits for the next keyframe (`wantsKeyframe` asks for one).
final class ParticipantRecording {
    /// The relay stream recorded.
    let stream: String
    /// The participant.
    let subject: String
    /// The file's name in the meeting's directory.
    let name: String
    /// The video codec, nil for audio only.
    let codec: WebMVideoTrack.Codec?
    /// Whether the sender's RTCP sender reports are waited for (false: a local stream).
    let expectsReports: Bool
    /// How long what arrives is held waiting for the keyframe and the sender reports.
    let maxHold: Duration = .seconds(3)
    /// Held audio packets at most (5 s of 20 ms), video frames at most.
    let maxPendingAudio = 250
    let maxPendingVideo = 150
    /// Unix ms of the first packet recorded, and of the last.
    private(set) var firstAt: Int64?
    private(set) var lastAt: Int64?
    /// Frames that lost packets (each followed by a keyframe request).
    private(set) var incompleteFrames = 0
    /// A keyframe should be asked for (the recording started, or a frame was lost).
    var wantsKeyframe = true
    /// How the timeline was set: by sender reports (true) or by arrival (false); nil before the file starts.
    private(set) var timedByReports: Bool?
    private let output: RecordingFile
    private var writer: WebMWriter?
    private var assembler: VP8FrameAssembler
    private var waitingForKeyframe = true
    private var pendingAudio: [Held] = []
    private var pendingVideo: [Held] = []
    private var firstKeyframe: ContinuousClock.Instant?
    private var audioReport: (ntp: UInt64, rtp: UInt32)?
    private var videoReport: (ntp: UInt64, rtp: UInt32)?
    private var timeline: Timeline?

    /// A packet or frame waiting for the file to start.
    private struct Held {
        var data: [UInt8]
        var rtp: UInt32
        var arrival: ContinuousClock.Instant
        var keyframe = false
    }

    /// Records `stream` of `subject` into `output`, the file `name` of the meeting's directory.
    init(stream: String, subject: String, name: String, codec: WebMVideoTrack.Codec?, expectsReports: Bool = true, output: RecordingFile) {
        self.stream = stream
        self.subject = subject
        self.name = name
        self.codec = codec
        self.expectsReports = expectsReports
        self.output = output
        assembler = VP8FrameAssembler(format: codec == .vp9 ? .vp9 : .vp8)
    }

    /// The sender's report for its audio or video track: the first of each sets the mapping.
    func senderReport(video: Bool, ntp: UInt64, rtp: UInt32) {
        if video { videoReport = videoReport ?? (ntp, rtp) } else { audioReport = audioReport ?? (ntp, rtp) }
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
                if firstKeyframe == nil {
                    guard VideoFrameSize.of(data, codec: codec) != nil else { continue }
                    firstKeyframe = arrival
                }
                waitingForKeyframe = false
                mark(now)
                if timeline != nil {
                    try writer?.appendVideo(data, timestamp: timeline!.video(timestamp, arrival: arrival), keyframe: keyframe)
                } else {
                    pendingVideo.append(Held(data: data, rtp: timestamp, arrival: arrival, keyframe: keyframe))
                    if pendingVideo.count > maxPendingVideo { pendingVideo.removeFirst() }
                    try startIfReady(now: arrival)
                }
            }
        }
    }

    /// Takes one Opus packet that arrived at `arrival` (`now`: Unix ms).
    func audio(_ packet: InboxPacket, payload: UnsafeRawBufferPointer, arrival: ContinuousClock.Instant, now: Int64) throws(RecordingError) {
        mark(now)
        if timeline != nil {
            try writer?.appendAudio(payload, timestamp: timeline!.audio(packet.timestamp, arrival: arrival))
            return
        }
        pendingAudio.append(Held(data: Array(payload), rtp: packet.timestamp, arrival: arrival))
        if pendingAudio.count > maxPendingAudio { pendingAudio.removeFirst() }
        try startIfReady(now: arrival)
    }

    /// Once per recorder tick: starts a file whose hold has run out.
    func tick(now: ContinuousClock.Instant) throws(RecordingError) {
        if timeline == nil { try startIfReady(now: now) }
    }

    /// Writes the last Cluster and the Cues and closes the file; false when nothing was recorded.
    func finish() throws(RecordingError) -> Bool {
        defer { output.close() }
        if timeline == nil, !pendingAudio.isEmpty || !pendingVideo.isEmpty { try start(byReports: false) }
        guard let writer else { return false }
        try writer.finish()
        return true
    }

    /// The file's path.
    var path: String { output.path }

    /// Starts the file when the keyframe came (or there is no video) and both sender reports
    /// are known, or `maxHold` after that without them.
    private func startIfReady(now: ContinuousClock.Instant) throws(RecordingError) {
        // Video waits for its keyframe (the held audio keeps its newest `maxPendingAudio`).
        if codec != nil && firstKeyframe == nil { return }
        let reports = audioReport != nil && (codec == nil || videoReport != nil)
        if reports || !expectsReports {
            try start(byReports: reports && expectsReports)
            return
        }
        // No sender reports within the hold: timed by arrival.
        if let since = codec == nil ? pendingAudio.first?.arrival : firstKeyframe, now - since >= maxHold { try start(byReports: false) }
    }

    /// Opens the writer, sets the timeline and writes what was held, in time order.
    private func start(byReports: Bool) throws(RecordingError) {
        var video: WebMVideoTrack?
        if let codec, let first = pendingVideo.first(where: \.keyframe), let size = VideoFrameSize.of(first.data, codec: codec) {
            video = WebMVideoTrack(codec: codec, width: size.width, height: size.height)
            pendingVideo.removeSubrange(0..<(pendingVideo.firstIndex(where: \.keyframe) ?? 0))
        } else {
            pendingVideo = []
        }
        let newWriter = try WebMWriter(output: output, video: video, audio: WebMAudioTrack())
        writer = newWriter
        var line: Timeline
        if byReports, let audioReport {
            line = Timeline(audioReport: audioReport, videoReport: video == nil ? nil : videoReport,
                            firstAudio: pendingAudio.first?.rtp, firstVideo: pendingVideo.first?.rtp)
        } else {
            line = Timeline(origin: [pendingAudio.first?.arrival, pendingVideo.first?.arrival].compactMap { $0 }.min() ?? .now)
        }
        timedByReports = byReports
        var blocks: [(time: Int64, video: Bool, held: Held)] = []
        for held in pendingAudio { blocks.append((line.audio(held.rtp, arrival: held.arrival), false, held)) }
        for held in pendingVideo { blocks.append((line.video(held.rtp, arrival: held.arrival), true, held)) }
        for block in blocks.sorted(by: { ($0.time, $0.video ? 1 : 0) < ($1.time, $1.video ? 1 : 0) }) {
            if block.video {
                try newWriter.appendVideo(block.held.data, timestamp: block.time, keyframe: block.held.keyframe)
            } else {
                try newWriter.appendAudio(block.held.data, timestamp: block.time)
            }
        }
        pendingAudio = []
        pendingVideo = []
        timeline = line
    }

    private func mark(_ now: Int64) {
        if firstAt == nil { firstAt = now }
        lastAt = now
    }
}

/// A recording's timeline in milliseconds: each track's RTP timestamps either mapped through
/// the sender's reports to its wall clock (counted from the earliest held block), or counted
/// from where its first packet arrived after the file's first packet.
struct Timeline {
    private var audioClock: TrackClock
    private var videoClock: TrackClock

    /// Timed by sender reports: a track's time is its wall-clock time (NTP of its report plus its
    /// RTP distance from the report) minus the earliest first block's; a track without a report
    /// (video of an audio-only file) is not used.
    init(audioReport: (ntp: UInt64, rtp: UInt32), videoReport: (ntp: UInt64, rtp: UInt32)?, firstAudio: UInt32?, firstVideo: UInt32?) {
        var audio = TrackClock(ticksPerMillisecond: 48, report: audioReport)
        var video = TrackClock(ticksPerMillisecond: 90, report: videoReport ?? audioReport)
        let starts = [firstAudio.map { audio.wallClock($0, peek: true) }, firstVideo.map { video.wallClock($0, peek: true) }].compactMap { $0 }
        let origin = starts.min() ?? 0
        audio.originMs = origin
        video.originMs = origin
        (audioClock, videoClock) = (audio, video)
    }

    /// Timed by arrival from `origin`.
    init(origin: ContinuousClock.Instant) {
        audioClock = TrackClock(ticksPerMillisecond: 48, origin: origin)
        videoClock = TrackClock(ticksPerMillisecond: 90, origin: origin)
    }

    mutating func audio(_ rtp: UInt32, arrival: ContinuousClock.Instant) -> Int64 { audioClock.milliseconds(rtp, arrival: arrival) }
    mutating func video(_ rtp: UInt32, arrival: ContinuousClock.Instant) -> Int64 { videoClock.milliseconds(rtp, arrival: arrival) }
}

/// One track's RTP clock in milliseconds, unwrapped by the signed 32-bit difference from the
/// previous timestamp: from a sender report (wall-clock milliseconds minus `originMs`) or
/// from the arrival of its first packet after `origin`.
struct TrackClock {
    let ticksPerMillisecond: Int64
    var originMs: Double = 0
    private var report: (ntpMs: Double, rtp: UInt32)?
    private var origin: ContinuousClock.Instant?
    private var previous: UInt32?
    private var ticks: Int64 = 0
    private var startMs: Int64 = 0

    init(ticksPerMillisecond: Int64, report: (ntp: UInt64, rtp: UInt32)) {
        self.ticksPerMillisecond = ticksPerMillisecond
        self.report = (Self.milliseconds(ntp: report.ntp), report.rtp)
    }

    init(ticksPerMillisecond: Int64, origin: ContinuousClock.Instant) {
        self.ticksPerMillisecond = ticksPerMillisecond
        self.origin = origin
    }

    /// NTP (RFC 5905: 32.32 fixed point seconds) in milliseconds.
    static func milliseconds(ntp: UInt64) -> Double { Double(ntp >> 32) * 1000 + Double(ntp & 0xFFFF_FFFF) * 1000 / 4_294_967_296 }

    /// The wall-clock milliseconds of `rtp` by the report (`peek`: without advancing the unwrapping).
    mutating func wallClock(_ rtp: UInt32, peek: Bool = false) -> Double {
        guard let report else { return 0 }
        if previous == nil || peek {
            let distance = Int64(Int32(bitPattern: rtp &- report.rtp))
            if !peek { (previous, ticks) = (rtp, distance) }
            return report.ntpMs + Double(distance) / Double(ticksPerMillisecond)
        }
        ticks += Int64(Int32(bitPattern: rtp &- previous!))
        previous = rtp
        return report.ntpMs + Double(ticks) / Double(ticksPerMillisecond)
    }

    /// The time of `rtp` on the recording's timeline.
    mutating func milliseconds(_ rtp: UInt32, arrival: ContinuousClock.Instant) -> Int64 {
        if report != nil { return max(0, Int64((wallClock(rtp) - originMs).rounded())) }
        if let previous {
            ticks += Int64(Int32(bitPattern: rtp &- previous))
        } else if let origin {
            let (seconds, attoseconds) = (arrival - origin).components
            startMs = max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        }
        previous = rtp
        return startMs + ticks / ticksPerMillisecond
    }
}
