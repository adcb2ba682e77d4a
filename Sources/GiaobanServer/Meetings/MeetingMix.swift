import GiaobanEngine
public import GiaobanMixer
import Synchronization

extension GiaobanConfig.Meetings {
    /// The composed video's settings.
    public var mixVideo: VideoCompositor.Settings {
        var settings = VideoCompositor.Settings()
        settings.width = mixWidth
        settings.height = mixHeight
        settings.framesPerSecond = mixFramesPerSecond
        settings.bitrateKbps = mixVideoKbps
        return settings
    }
}


/// One meeting's audio mix for its participants in mixed mode (docs/mixing.md): the relay
/// copies every participant's Opus to the `AudioMixer` on the media thread; a `MixerClock`
/// ticks every 20 ms on its own thread and posts the encoded mixes back to the media thread,
/// which sends each listener its mix-minus on the receiving session it opened on `stream`.
final class MeetingMix: Sendable {
    let mixer: AudioMixer
    let clock: MixerClock
    /// The composed video, encoded once for every listener.
    let compositor: VideoCompositor
    let videoClock: MixerClock
    /// The local stream listeners subscribe to.
    let stream: String
    /// Listener (the participant's own stream name) → the media peer of its mix session.
    let peers: ListenerPeers

    /// The recorder of the meeting's minutes (the composed picture and the full mix), while
    /// the meeting is recorded.
    let minutes: MinutesSlot
    /// The listeners the room asked for (the minutes' listener comes on top while recorded).
    private let roomListeners = Mutex<[String]>([])

    /// The local stream of meeting `id`'s mix; `~` cannot appear in a participant's stream.
    static func stream(meeting id: Int64) -> String { "m\(id)~mix" }

    /// The mixer's listener whose mix is recorded: not seated, so it gets the full mix.
    static let minutesListener = "~minutes"

    /// Sets who receives the mix: the room's mixed-mode participants, and the minutes while recorded.
    func setListeners(_ listeners: [String]) {
        let recorded = minutes.recorder.withLock { $0 != nil }
        roomListeners.withLock { $0 = listeners }
        mixer.setListeners(listeners + (recorded ? [Self.minutesListener] : []))
    }

    /// Starts (a recorder) or stops (nil) recording the minutes.
    func recordMinutes(_ recorder: MeetingRecorder?) {
        minutes.recorder.withLock { $0 = recorder }
        minutes.timing.withLock { $0 = MinutesTiming() }
        setListeners(roomListeners.withLock { $0 })
    }

    init(meeting id: Int64, speakers: Int, video: VideoCompositor.Settings = .init(), media: MediaServer) throws {
        var settings = AudioMixer.Settings()
        settings.speakers = max(1, speakers)
        let mixer = try AudioMixer(settings: settings)
        let peers = ListenerPeers()
        self.mixer = mixer
        self.peers = peers
        self.stream = Self.stream(meeting: id)
        let compositor = try VideoCompositor(settings: video)
        self.compositor = compositor
        let packets = PacketNumber()
        let minutes = MinutesSlot(), stream = Self.stream(meeting: id)
        self.minutes = minutes
        videoClock = MixerClock(compositor: compositor) { output in
            let targets = Array(peers.map.withLock { $0 }.values)
            let first = packets.take(output.payloads.count)
            if let recorder = minutes.recorder.withLock({ $0 }) {
                // The minutes' own sender report (the recorder times the file by the first of
                // each track): the picture was composed at `composedAt` from frames that came
                // in over the interval before it, half an interval old on average.
                let now = ContinuousClock.now
                if !output.payloads.isEmpty, minutes.timing.withLock({ $0.videoDue(now: now) }) {
                    let age = now - output.composedAt + .seconds(1) / compositor.settings.framesPerSecond / 2
                    recorder.senderReport(source: stream, video: true, ntp: MediaServer.ntpNow() &- MinutesTiming.ntp(age), rtp: output.timestamp)
                }
                for (i, payload) in output.payloads.enumerated() {
                    payload.withUnsafeBytes {
                        recorder.push(source: stream, sequence: first &+ UInt16(truncatingIfNeeded: i), timestamp: output.timestamp,
                                      marker: i == output.payloads.count - 1, payload: $0)
                    }
                }
            }
            guard !targets.isEmpty || !output.keyframeRequests.isEmpty else { return }
            media.post { router, now, out in
                for source in output.keyframeRequests { router.requestKeyframe(stream: source, now: now, out: out) }
                for peer in targets {
                    for (i, payload) in output.payloads.enumerated() {
                        payload.withUnsafeBytes {
                            _ = router.sendLocal(to: peer, kind: .video, payload: $0, sequence: first &+ UInt16(truncatingIfNeeded: i),
                                                 timestamp: output.timestamp, marker: i == output.payloads.count - 1, now: now, out: out)
                        }
                    }
                }
            }
        }
        clock = MixerClock(mixer: mixer) { output in
            if let recorder = minutes.recorder.withLock({ $0 }) {
                let age = minutes.timing.withLock { $0.audioReport(depth: output.playoutDepth, now: .now) }
                for packet in output.listeners where packet.listener == Self.minutesListener {
                    // The mix is the playout buffers' depth (plus the tick) older than now.
                    if let age { recorder.senderReport(source: stream, video: false, ntp: MediaServer.ntpNow() &- MinutesTiming.ntp(age), rtp: packet.timestamp) }
                    output.mixes[packet.mix].payload.withUnsafeBytes {
                        recorder.push(source: stream, sequence: packet.sequenceNumber, timestamp: packet.timestamp, payload: $0, level: nil)
                    }
                }
            }
            let targets = peers.map.withLock { $0 }
            guard !targets.isEmpty, !output.listeners.isEmpty else { return }
            media.post { router, now, out in
                for packet in output.listeners {
                    guard let peer = targets[packet.listener] else { continue }
                    output.mixes[packet.mix].payload.withUnsafeBytes {
                        _ = router.sendLocal(to: peer, kind: .audio, payload: $0, sequence: packet.sequenceNumber,
                                             timestamp: packet.timestamp, marker: packet.marker, level: output.mixes[packet.mix].level,
                                             now: now, out: out)
                    }
                }
            }
        }
    }

    /// The tracks a listener's receiving session negotiates: Opus and the composed VP8.
    static let tracks = Negotiation.PublishedTracks(
        audio: PeerSetup.Track(kind: .audio, payloadType: 111, codec: "opus", clockRate: 48_000, ssrc: 0),
        video: PeerSetup.Track(kind: .video, payloadType: 96, codec: "VP8", clockRate: 90_000, ssrc: 0))

    /// Starts both clocks.
    func start() {
        clock.start()
        videoClock.start()
    }

    /// Stops both clocks.
    func stop() {
        clock.stop()
        videoClock.stop()
    }
}

/// The recorder of a meeting's minutes, if any; shared with the mix's clock threads.
final class MinutesSlot: Sendable {
    let recorder = Mutex<MeetingRecorder?>(nil)
    let timing = Mutex(MinutesTiming())
}

/// When the minutes' sender reports go to the recorder: after a second of output, so that the
/// audio's report can use the mean playout depth of that second (the buffers fill at first).
struct MinutesTiming {
    static let settle = Duration.seconds(1)
    private var started: ContinuousClock.Instant?
    private var depthSum = 0.0
    private var depthTicks = 0

    /// Whether the video's report is due at `now`.
    mutating func videoDue(now: ContinuousClock.Instant) -> Bool {
        let first = started ?? now
        started = first
        return now - first >= Self.settle
    }

    /// Counts one audio tick of mean playout depth `depth`; once due, how old the tick's mix is.
    mutating func audioReport(depth: Double, now: ContinuousClock.Instant) -> Duration? {
        let first = started ?? now
        started = first
        depthSum += depth
        depthTicks += 1
        guard now - first >= Self.settle else { return nil }
        return .milliseconds(20) * (depthSum / Double(depthTicks) + 0.5)  // the newest packet came within the last tick
    }

    /// `duration` in NTP units (2^-32 s).
    static func ntp(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds)) << 32 + UInt64(max(0, attoseconds)) / 232_830_643
    }
}

/// Which media peer receives each listener's mix; shared with the mixer's clock thread.
final class ListenerPeers: Sendable {
    let map = Mutex<[String: String]>([:])
}

/// The composed stream's own packet numbering (each receiver's is derived from it).
final class PacketNumber: Sendable {
    let next = Mutex<UInt16>(0)

    /// Takes `count` consecutive numbers and returns the first.
    func take(_ count: Int) -> UInt16 {
        next.withLock { value in
            defer { value &+= UInt16(truncatingIfNeeded: count) }
            return value
        }
    }
}
