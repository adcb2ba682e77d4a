public import GiaobanCodecs

/// One composed frame: the VP8 frame, its RTP payloads and timestamp, and the sources that
/// should be asked for a keyframe.
public struct CompositorOutput: Sendable {
    /// The encoded frame; nil when the encoder's rate control dropped it.
    public var frame: EncodedVideoFrame?
    /// RTP payloads of `frame` (RFC 7741: VP8 descriptor with a 15-bit picture ID, then a
    /// piece of the frame), in order; the last one takes the marker bit.
    public var payloads: [[UInt8]]
    /// RTP timestamp of the frame (90 kHz clock), the same for all its payloads.
    public var timestamp: UInt32
    /// Sources whose next keyframe the compositor needs (send them a PLI, RFC 4585 §6.3.1);
    /// already throttled per source.
    public var keyframeRequests: [String]
    /// When the picture was composed (the instant `timestamp` stands for).
    public var composedAt: ContinuousClock.Instant = .now
}

/// The video compositor of one meeting, for receivers who take one composed video stream:
/// the chair (or the spotlighted participant) fills the picture, the active speaker is a
/// picture-in-picture at the bottom right; the result is encoded once with libvpx (VP8)
/// at the configured size and frame rate and packetized for RTP.
///
/// Inputs are the relay's VP8 RTP packets (`push`, any thread: the payload is copied into a
/// queue, nothing is decoded there). Only the two shown sources are assembled and decoded,
/// on the compositor's thread (`MixerClock(compositor:)`, or a test calling `compose`);
/// packets of other sources are dropped. A source that comes into view, loses a packet
/// or fails to decode waits for its next keyframe and is named in `keyframeRequests`.
/// A receiver's keyframe request (`requestKeyframe`) is served at the next frame, but no
/// sooner than `keyframeMinimumInterval` after the previous keyframe.
public final class VideoCompositor: Sendable {
    /// Tuning.
    public struct Settings: Sendable {
        /// Output width (even).
        public var width = 640
        /// Output height (even).
        public var height = 360
        /// Output frames per second (the compose interval).
        public var framesPerSecond = 15
        /// Target bitrate, kbit/s.
        public var bitrateKbps = 600
        /// libvpx speed (−16…16, higher is faster).
        public var cpuUsed = 12
        /// Width of the picture-in-picture as a share of the output width.
        public var insetScale = 0.25
        /// Distance of the picture-in-picture from the bottom and right edges, pixels.
        public var insetMargin = 8
        /// Shortest time between two keyframes of the output.
        public var keyframeMinimumInterval: Duration = .seconds(1)
        /// Shortest time between two keyframe requests to one source.
        public var sourceKeyframeMinimumInterval: Duration = .milliseconds(500)
        /// Payload bytes the inbox holds between two frames before refusing packets.
        public var inboxBytes = 4 * 1024 * 1024

        /// The defaults: 640×360 at 15 frames per second, 600 kbit/s.
        public init() {}
    }

    /// Counts since the start.
    public struct Counters: Sendable, Equatable, Codable {
        /// Frames composed.
        public var frames = 0
        /// Frames out of the encoder.
        public var encodes = 0
        /// Keyframes out of the encoder.
        public var keyframes = 0
        /// Keyframe requests from receivers.
        public var keyframeRequests = 0
        /// Requests merged into a waiting one or held back by the minimum interval.
        public var keyframeRequestsThrottled = 0
        /// Source frames decoded.
        public var decodes = 0
        /// Source frames that lost packets.
        public var incompleteFrames = 0
        /// Source frames dropped while waiting for a keyframe.
        public var framesWithoutReference = 0
        /// Packets of sources not shown.
        public var ignoredPackets = 0
        /// Packets refused because the inbox was full.
        public var inboxDropped = 0
        /// Decoder or encoder failures.
        public var codecErrors = 0
    }

    private struct Pending: Sendable {
        var layout: (main: String?, inset: String?)?
        var keyframeRequests = 0
    }

    /// The settings in force.
    public let settings: Settings
    private let host: TickHost<CompositorEngine, Pending, Counters>

    /// Creates a compositor; throws when libvpx refuses the settings.
    public init(settings: Settings = Settings()) throws(CodecError) {
        self.settings = settings
        let inbox = PacketInbox(maxBytes: settings.inboxBytes, packetCapacity: 4096)
        host = TickHost(inbox: inbox, engine: try CompositorEngine(settings: settings, inbox: inbox), idle: Pending(),
                        counters: Counters())
    }

    /// Queues one VP8 RTP packet of `source` (payload: RFC 7741 descriptor, then data).
    /// Copies the payload; cheap and safe on the media thread.
    public func push(source: String, sequence: UInt16, timestamp: UInt32, marker: Bool, payload: UnsafeRawBufferPointer) {
        host.inbox.push(source: source, sequence: sequence, timestamp: timestamp, marker: marker, level: nil, payload: payload)
    }

    /// Shows `main` (chair or spotlight) large and `inset` (the active speaker) small, from
    /// the next frame. nil leaves a region empty; an inset equal to main is not drawn.
    public func setLayout(main: String?, inset: String?) {
        host.post { $0.layout = (main, inset) }
    }

    /// A receiver asked for a keyframe (PLI or FIR): one comes within the minimum interval.
    public func requestKeyframe() {
        host.post { $0.keyframeRequests += 1 }
    }

    /// Counters as of the last frame.
    public var counters: Counters { host.counters }

    /// The region where `main` is drawn, and where a `width`×`height` inset would be.
    public func regions(insetWidth width: Int, insetHeight height: Int) -> (main: PictureRect, inset: PictureRect) {
        host.read { ($0.mainRegion, $0.insetRegion(sourceWidth: width, sourceHeight: height)) }
    }

    /// Composes, encodes and packetizes one frame at `now` (the compositor's clock).
    public func compose(now: ContinuousClock.Instant = .now) -> CompositorOutput {
        host.tick({ engine, pending in
            if let layout = pending.layout { engine.setLayout(main: layout.main, inset: layout.inset, now: now) }
            for _ in 0..<pending.keyframeRequests { engine.requestKeyframe(now: now) }
            return engine.compose(now: now)
        }, counters: \.counters)
    }
}

extension MixerClock {
    /// A clock composing `compositor`'s frames at its frame rate and handing each to
    /// `deliver` (on the clock's thread: deliver should only queue the packets).
    public convenience init(compositor: VideoCompositor, deliver: @escaping @Sendable (CompositorOutput) -> Void) {
        self.init(interval: .seconds(1) / compositor.settings.framesPerSecond, name: "giaoban-compositor") { _ in
            deliver(compositor.compose())
        }
    }
}
