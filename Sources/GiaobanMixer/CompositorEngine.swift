import GiaobanCodecs
import GiaobanWire
import GiaobanRTP

/// One source the compositor shows: frame assembly from RTP, decoding, the latest picture.
final class CompositedSource {
    var assembler = VP8FrameAssembler()
    let decoder: VPXDecoder
    var picture: I420Frame?
    /// Frames are useless until the next keyframe (start, loss, decode error).
    var awaitingKeyframe = true
    var upstream: KeyframeThrottle

    init(keyframeInterval: Duration) throws(CodecError) {
        decoder = try VPXDecoder(codec: .vp8)
        upstream = KeyframeThrottle(minimumInterval: keyframeInterval)
    }
}

/// The compositor-thread half of `VideoCompositor`: assembles and decodes the two shown
/// sources, draws the canvas, encodes and packetizes. Owned behind the compositor's lock.
final class CompositorEngine {
    let settings: VideoCompositor.Settings
    private let inbox: PacketInbox
    private var batch: InboxBatch
    private let encoder: VPXEncoder
    private var packetizer = VP8Packetizer()
    private var canvas: I420Frame
    private var sources: [String: CompositedSource] = [:]
    private(set) var main: String?
    private(set) var inset: String?
    private var keyframe: KeyframeThrottle
    private let timestampBase = UInt32.random(in: .min ... .max)
    private var frameIndex: UInt32 = 0
    private var firstFrameAt: ContinuousClock.Instant?
    private var lastTicks: Int64 = 0
    private(set) var counters = VideoCompositor.Counters()

    init(settings: VideoCompositor.Settings, inbox: PacketInbox) throws(CodecError) {
        self.settings = settings
        self.inbox = inbox
        batch = InboxBatch(packetCapacity: 512, byteCapacity: inbox.maxBytes)
        var encoderSettings = VPXEncoder.Settings(codec: .vp8, width: settings.width, height: settings.height,
                                                  bitrateKbps: settings.bitrateKbps, framesPerSecond: settings.framesPerSecond)
        encoderSettings.cpuUsed = settings.cpuUsed
        encoder = try VPXEncoder(encoderSettings)
        canvas = I420Frame(width: settings.width, height: settings.height)
        keyframe = KeyframeThrottle(minimumInterval: settings.keyframeMinimumInterval)
    }

    /// The region of the large picture: the whole canvas.
    var mainRegion: PictureRect { PictureRect(x: 0, y: 0, width: settings.width, height: settings.height) }

    /// The region of the picture-in-picture for a source of the given size: `insetScale`
    /// of the canvas width, bottom right, `insetMargin` from the edges.
    func insetRegion(sourceWidth: Int, sourceHeight: Int) -> PictureRect {
        let w = Int(Double(settings.width) * settings.insetScale) & ~1
        let h = max(2, (w * sourceHeight / max(1, sourceWidth)) & ~1)
        let m = settings.insetMargin & ~1
        return PictureRect(x: settings.width - w - m, y: settings.height - h - m, width: w, height: h)
    }

    /// Shows `main` large and `inset` small; sources no longer shown are dropped, new ones
    /// wait for a keyframe (asked for at once).
    func setLayout(main: String?, inset: String?, now: ContinuousClock.Instant) {
        self.main = main
        self.inset = inset == main ? nil : inset
        for name in sources.keys where name != self.main && name != self.inset { sources.removeValue(forKey: name) }
        for name in [self.main, self.inset].compactMap({ $0 }) where sources[name] == nil {
            do throws(CodecError) {
                let source = try CompositedSource(keyframeInterval: settings.sourceKeyframeMinimumInterval)
                source.upstream.request(now: now)
                sources[name] = source
            } catch {
                counters.codecErrors += 1
            }
        }
    }

    /// A receiver asked for a keyframe.
    func requestKeyframe(now: ContinuousClock.Instant) {
        keyframe.request(now: now)
        counters.keyframeRequests += 1
    }

    /// Makes one output frame at `now`.
    func compose(now: ContinuousClock.Instant) -> CompositorOutput {
        takeInbox(now: now)
        var output = CompositorOutput(frame: nil, payloads: [], timestamp: timestamp(now: now), keyframeRequests: [], composedAt: now)
        frameIndex &+= 1
        for (name, source) in sources where source.awaitingKeyframe && source.upstream.isDue(now: now) {
            source.upstream.keyframeSent(now: now)
            output.keyframeRequests.append(name)
        }
        draw()
        let force = keyframe.isDue(now: now)
        do throws(CodecError) {
            for frame in try encoder.encode(canvas, forceKeyframe: force) {
                if frame.isKeyframe {
                    keyframe.keyframeSent(now: now)
                    counters.keyframes += 1
                }
                counters.encodes += 1
                output.payloads += packetizer.packetize(frame.data)
                output.frame = frame
            }
        } catch {
            counters.codecErrors += 1
        }
        counters.frames += 1
        counters.keyframeRequestsThrottled = keyframe.throttled
        return output
    }

    /// The RTP timestamp of a picture composed at `now`: 90 kHz from the first picture by the
    /// clock, not by the frame count, so that frames a late clock skips do not pull the
    /// picture's time behind the mix's (the minutes are timed by these); always increasing.
    private func timestamp(now: ContinuousClock.Instant) -> UInt32 {
        let first = firstFrameAt ?? now
        firstFrameAt = first
        let (seconds, attoseconds) = (now - first).components
        let ticks = max(seconds * 90_000 + attoseconds / 11_111_111_111_111, frameIndex == 0 ? 0 : lastTicks + 1)
        lastTicks = ticks
        return timestampBase &+ UInt32(truncatingIfNeeded: ticks)
    }

    private func takeInbox(now: ContinuousClock.Instant) {
        batch.clear()
        inbox.swap(&batch)
        counters.inboxDropped += batch.dropped
        for p in batch.packets {
            guard let source = sources[p.source] else {
                counters.ignoredPackets += 1
                continue
            }
            let events = batch.withPayload(p) { payload in
                source.assembler.insert(sequenceNumber: p.sequence, timestamp: p.timestamp, marker: p.marker, payload: payload)
            }
            for event in events { take(event, from: source, now: now) }
        }
    }

    private func take(_ event: VP8FrameAssembler.Event, from source: CompositedSource, now: ContinuousClock.Instant) {
        switch event {
        case .incomplete:
            source.awaitingKeyframe = true
            source.upstream.request(now: now)
            counters.incompleteFrames += 1
        case .frame(let data, _, let isKeyframe):
            guard isKeyframe || !source.awaitingKeyframe else {
                counters.framesWithoutReference += 1
                return
            }
            do throws(CodecError) {
                if let picture = try source.decoder.decode(data) { source.picture = picture }
                source.awaitingKeyframe = false
                counters.decodes += 1
            } catch {
                source.awaitingKeyframe = true
                source.upstream.request(now: now)
                counters.codecErrors += 1
            }
        }
    }

    private func draw() {
        I420Scaler.fill(&canvas, rect: mainRegion)
        if let main, let picture = sources[main]?.picture {
            I420Scaler.scale(picture, into: &canvas,
                             rect: mainRegion.fitting(sourceWidth: picture.width, sourceHeight: picture.height))
        }
        if let inset, let picture = sources[inset]?.picture {
            I420Scaler.scale(picture, into: &canvas, rect: insetRegion(sourceWidth: picture.width, sourceHeight: picture.height))
        }
    }
}
