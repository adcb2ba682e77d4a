public import GiaobanCodecs
import GiaobanWire
import GiaobanRTP

/// A commune endpoint's sending side over a connected `ClientConnection`: a synthetic
/// camera (`TestPattern`, VP8 or VP9) and microphone (`ToneGenerator`, Opus 20 ms with
/// in-band FEC) or files (`VideoSource`, `AudioSource`), sent as RTP with the negotiated
/// payload types and the SSRCs of the offer; audio carries each frame's RFC 6464 level when
/// the answer accepted the extension (RTP clocks: 90 kHz video, RFC 7741 §4.1;
/// 48 kHz audio, RFC 7587 §4.1).
///
/// Answers PLI and FIR (RFC 4585 §6.3.1, RFC 5104 §4.3.1) with a keyframe and Generic NACK
/// (RFC 4585 §6.2.1) by sending the packet again from a send cache. Sends a sender report
/// per stream about every second (RFC 3550 §6.4.1) and reads the relay's receiver reports:
/// loss, jitter and, from their LSR/DLSR, the round trip. Single-threaded: call `step` in a
/// loop, or `run`.
public final class EndpointPublisher {
    /// What to send and how it was negotiated.
    public struct Settings: Sendable {
        /// Picture width (even).
        public var width = 640
        /// Picture height (even).
        public var height = 360
        /// Video target bitrate in kbit/s.
        public var bitrateKbps = 800
        /// The video codec (VP8, or VP9 when the offer said so).
        public var codec: VPXCodec = .vp8
        /// Frames per second.
        public var framesPerSecond = 30
        /// The tone's frequency in Hz.
        public var toneFrequency = 440.0
        /// The tone's RMS level in dBov (−127 for silence); nil for the generator's default.
        public var toneLevel: Double?
        /// The header extension ID for the RFC 6464 audio level the answer accepted; nil: none sent.
        public var audioLevelExtensionID: UInt8?
        /// The audio SSRC announced in the offer.
        public var audioSSRC: UInt32
        /// The video SSRC announced in the offer.
        public var videoSSRC: UInt32
        /// The Opus payload type of the answer.
        public var audioPayloadType: UInt8 = ClientOffer.opusPayloadType
        /// The video payload type of the answer.
        public var videoPayloadType: UInt8 = ClientOffer.vp8PayloadType
        /// Simulcast (VP8): the rids of the offer, lowest quality first (at most three). The
        /// last is sent at `width`×`height` and `bitrateKbps`, each lower one at half the size
        /// and a third of the rate of the next; every packet carries its rid (RFC 8852).
        /// Empty: one encoding with `videoSSRC`.
        public var simulcastRIDs: [String] = []
        /// Noise added to the test pattern (0–100; 0: none), so the encoder spends its whole
        /// bitrate as it would on a camera's picture.
        public var grain = 0

        /// Settings for the given SSRCs; everything else has a default.
        public init(audioSSRC: UInt32, videoSSRC: UInt32) {
            self.audioSSRC = audioSSRC
            self.videoSSRC = videoSSRC
        }
    }

    /// Counts since the start (for status lines and the summary).
    public struct Stats: Sendable, Codable, Equatable {
        /// RTP packets sent, retransmissions included.
        public var packetsSent = 0
        /// SRTP bytes sent.
        public var bytesSent = 0
        /// Video frames encoded and sent.
        public var videoFrames = 0
        /// Keyframes among them.
        public var keyframes = 0
        /// Audio frames (20 ms) sent.
        public var audioFrames = 0
        /// PLI and FIR messages received.
        public var keyframesRequested = 0
        /// Sequence numbers asked for by NACK.
        public var nacked = 0
        /// Of those, packets sent again from the cache.
        public var retransmitted = 0
        /// Sender reports sent.
        public var reportsSent = 0
        /// Receiver reports from the relay about our streams.
        public var reportsReceived = 0
        /// SRTCP bytes received.
        public var bytesReceived = 0
        /// The relay's last reported fraction of video packets lost (0–1).
        public var fractionLost = 0.0
        /// The relay's last reported cumulative loss, video and audio.
        public var cumulativeLost = 0
        /// The relay's last reported interarrival jitter of the video stream, in ms.
        public var jitterMilliseconds = 0.0
        /// The round trip from the relay's last report echoing an SR (RFC 3550 §6.4.1), in ms.
        public var roundTripMilliseconds: Double?

        /// All counts zero.
        public init() {}
    }

    /// The connection media goes over.
    public let connection: ClientConnection
    /// What is sent.
    public let settings: Settings
    /// Counts since the start.
    public private(set) var stats = Stats()

    private let layers: [SentVideoLayer]
    private let audio: AudioFeed
    private var audioSequence = UInt16.random(in: 0...UInt16.max)
    private let videoTimestampBase = UInt32.random(in: 0...UInt32.max)
    private var audioTimestamp = UInt32.random(in: 0...UInt32.max)
    private var start: ContinuousClock.Instant?
    private var nextVideo: ContinuousClock.Instant = .now
    private var nextAudio: ContinuousClock.Instant = .now
    private var scratch = [UInt8](repeating: 0, count: 1600)
    private var nextReport: ContinuousClock.Instant = .now
    private var sentAudio = (packets: UInt32(0), octets: UInt32(0))
    private var lastVideoTimestamp: UInt32 = 0
    private var lostPerSSRC = (video: 0, audio: 0)

    /// Prepares the encoders the sources need; nothing is sent before the first `step`.
    public init(connection: ClientConnection, settings: Settings, video: VideoSource = .testPattern,
                audio: AudioSource = .tone) throws(CodecError) {
        self.connection = connection
        self.settings = settings
        if case .ivf = video, settings.codec != .vp8 { throw CodecError(.badSetting, "IVF input is sent as is: VP8 only") }
        layers = try SentVideoLayer.layers(settings, source: video)
        self.audio = try AudioFeed(audio, toneFrequency: settings.toneFrequency, toneLevel: settings.toneLevel)
    }

    /// Sends until `deadline` or until the connection ends, calling `report` once a second.
    public func run(until deadline: ContinuousClock.Instant, report: (Stats) -> Void) throws(CodecError) {
        var nextReport = ContinuousClock.now + .seconds(1)
        while ContinuousClock.now < deadline && connection.peer.state == .connected {
            try step(maxWaitMilliseconds: 50)
            if ContinuousClock.now >= nextReport {
                report(stats)
                nextReport += .seconds(1)
            }
        }
    }

    /// Sends the audio and video frames that are due, then waits up to `maxWaitMilliseconds`
    /// (less when the next frame is due sooner) for RTCP and answers it.
    public func step(maxWaitMilliseconds: Int32) throws(CodecError) {
        let now = ContinuousClock.now
        if start == nil {
            start = now
            nextVideo = now
            nextAudio = now
        }
        if now >= nextAudio {
            let samples = try sendAudio()
            nextAudio += .microseconds(samples * 1_000_000 / Int(OpusFormat.sampleRate))
            if now - nextAudio > .milliseconds(200) { nextAudio = now }  // stalled: do not burst
        }
        if now >= nextVideo, let start {
            try sendVideo(at: nextVideo - start)
            nextVideo += .seconds(1) / settings.framesPerSecond
            if now - nextVideo > .milliseconds(200) { nextVideo = now }
        }
        if now >= nextReport {
            nextReport = now + .seconds(1)
            sendReports()
        }
        let due = min(nextAudio, nextVideo)
        connection.poll(timeoutMilliseconds: ClientConnection.milliseconds(until: due, cap: maxWaitMilliseconds)) { incoming, datagram in
            guard case .rtcp(let length) = incoming else { return }
            stats.bytesReceived += length + connection.peer.srtpOverhead + 4
            handleRTCP(UnsafeRawBufferPointer(rebasing: datagram[0..<length]))
        }
        connection.handleTimers()
    }

    private func sendAudio() throws(CodecError) -> Int {
        let (packet, samples, level) = try audio.next()
        var header = RTPPacketBuilder(payloadType: settings.audioPayloadType, sequenceNumber: audioSequence,
                                      timestamp: audioTimestamp, ssrc: settings.audioSSRC)
        if let id = settings.audioLevelExtensionID, let level {  // RFC 6464 §4: one byte, V and level
            header.extensions = RTPHeaderExtensionBuilder(elements: [.init(id: id, data: [level.byte])])
        }
        packet.withUnsafeBytes { send(header, payload: $0, cache: nil) }
        sentAudio.packets &+= 1
        sentAudio.octets &+= UInt32(truncatingIfNeeded: packet.count)
        audioSequence &+= 1
        audioTimestamp &+= UInt32(samples)
        stats.audioFrames += 1
        return samples
    }

    private func sendVideo(at elapsed: Duration) throws(CodecError) {
        let timestamp = videoTimestampBase &+ UInt32(truncatingIfNeeded: Self.ticks(elapsed, perSecond: 90_000))
        lastVideoTimestamp = timestamp
        for layer in layers {
            for frame in try layer.feed.next() {
                let payloads = settings.codec == .vp9
                    ? layer.vp9Packetizer.packetize(frame.data, isKeyframe: frame.isKeyframe, width: layer.feed.width,
                                                    height: layer.feed.height)
                    : layer.packetizer.packetize(frame.data)
                for (i, payload) in payloads.enumerated() {
                    var header = RTPPacketBuilder(payloadType: settings.videoPayloadType, sequenceNumber: layer.sequence,
                                                  timestamp: timestamp, ssrc: layer.ssrc, marker: i == payloads.count - 1)
                    header.extensions = layer.ridExtension
                    payload.withUnsafeBytes { send(header, payload: $0, cache: layer) }
                    layer.sequence &+= 1
                    layer.sent.packets &+= 1
                    layer.sent.octets &+= UInt32(truncatingIfNeeded: payload.count)
                }
                if layer === layers.last {
                    stats.videoFrames += 1
                    if frame.isKeyframe { stats.keyframes += 1 }
                }
            }
        }
    }

    /// Builds, caches (video), protects and sends one packet.
    private func send(_ header: RTPPacketBuilder, payload: UnsafeRawBufferPointer, cache layer: SentVideoLayer?) {
        scratch.withUnsafeMutableBytes { buffer in
            guard let length = try? header.marshal(payload: payload, into: buffer) else { return }
            layer?.cache.store(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), sequenceNumber: header.sequenceNumber)
            transmit(buffer, length: length)
        }
    }

    private func transmit(_ buffer: UnsafeMutableRawBufferPointer, length: Int) {
        guard let n = try? connection.peer.protectRTP(buffer, length: length) else { return }
        if connection.send(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) {
            stats.packetsSent += 1
            stats.bytesSent += n
        }
    }

    /// Answers keyframe requests and NACKs in one RTCP compound from the relay.
    private func handleRTCP(_ bytes: UnsafeRawBufferPointer) {
        guard let compound = try? RTCPCompound(bytes) else { return }
        for packet in compound {
            if packet.packetType == .receiverReport, let rr = try? ReceiverReport(packet.bytes) {
                readReport(rr.reports)
            } else if packet.packetType == .senderReport, let sr = try? SenderReport(packet.bytes) {
                readReport(sr.reports)
            } else if packet.packetType == .payloadFeedback,
               packet.header.count == PictureLossIndication.format || packet.header.count == FullIntraRequest.format {
                stats.keyframesRequested += 1
                // PLI and FIR both carry the media SSRC at bytes 8–11 (FIR's is zero: all layers).
                let media = packet.bytes.count >= 12 ? packet.bytes.u32(at: 8) : 0
                let asked = layers.filter { $0.ssrc == media }
                for layer in asked.isEmpty ? layers : asked { _ = layer.feed.requestKeyframe() }
            } else if packet.packetType == .transportFeedback, packet.header.count == GenericNACK.format,
                      let nack = try? GenericNACK(packet.bytes), nack.mediaSSRC != settings.audioSSRC,
                      let layer = layers.first(where: { $0.ssrc == nack.mediaSSRC }) ?? layers.first {
                nack.forEachLost { sequenceNumber in
                    stats.nacked += 1
                    scratch.withUnsafeMutableBytes { buffer in
                        guard let length = layer.cache.lookup(sequenceNumber, into: buffer) else { return }
                        stats.retransmitted += 1
                        transmit(buffer, length: length)
                    }
                }
            }
        }
    }

    /// One SR per stream that has sent something, with the wall clock's NTP time and each
    /// track's RTP timestamp of the same instant (RFC 3550 §6.4.1): the video timeline at the
    /// time elapsed since the start, the audio timeline extrapolated from the next packet's due
    /// time. A receiver maps both tracks to one clock with them (lip sync, recordings).
    private func sendReports() {
        let ntp = WallClock.ntpNow(), now = ContinuousClock.now
        let video = start.map { videoTimestampBase &+ UInt32(truncatingIfNeeded: Self.ticks(now - $0, perSecond: 90_000)) } ?? lastVideoTimestamp
        let audio = audioTimestamp &+ UInt32(bitPattern: Int32(truncatingIfNeeded: Self.ticks(now - nextAudio, perSecond: Int64(OpusFormat.sampleRate))))
        for layer in layers where layer.sent.packets > 0 {
            let sr = SenderReportBuilder(ssrc: layer.ssrc, ntpTimestamp: ntp, rtpTimestamp: video,
                                         packetCount: layer.sent.packets, octetCount: layer.sent.octets)
            sendRTCP(sr)
        }
        if sentAudio.packets > 0 {
            let sr = SenderReportBuilder(ssrc: settings.audioSSRC, ntpTimestamp: ntp, rtpTimestamp: audio,
                                         packetCount: sentAudio.packets, octetCount: sentAudio.octets)
            sendRTCP(sr)
        }
    }

    /// `duration` (possibly negative) in ticks of a `perSecond` clock.
    static func ticks(_ duration: Duration, perSecond: Int64) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * perSecond + attoseconds / (1_000_000_000_000_000_000 / perSecond)
    }

    private func sendRTCP(_ sr: SenderReportBuilder) {
        let sent = scratch.withUnsafeMutableBytes { buffer in
            connection.sendRTCP(scratch: buffer) { out throws(WireError) in try RTCPCompound.marshal(sr, into: out) }
        }
        if sent > 0 { stats.reportsSent += 1 }
    }

    /// Reads the relay's report blocks about our streams: loss, jitter, round trip.
    private func readReport(_ blocks: ReceptionReportBlocks) {
        let arrival = WallClock.ntpNow()
        let top = layers.last?.ssrc
        for block in blocks where block.ssrc == settings.audioSSRC || layers.contains(where: { $0.ssrc == block.ssrc }) {
            stats.reportsReceived += 1
            if block.ssrc == top {
                stats.fractionLost = Double(block.fractionLost) / 256
                stats.jitterMilliseconds = Double(block.jitter) / 90
                lostPerSSRC.video = Int(block.cumulativeLost)
            } else if block.ssrc == settings.audioSSRC {
                lostPerSSRC.audio = Int(block.cumulativeLost)
            }
            stats.cumulativeLost = lostPerSSRC.video + lostPerSSRC.audio
            if let rtt = RoundTripTime.fromReport(lastSenderReport: block.lastSenderReport,
                                                  delaySinceLastSenderReport: block.delaySinceLastSenderReport, arrivalNTP: arrival) {
                stats.roundTripMilliseconds = Double(rtt.components.seconds) * 1000 + Double(rtt.components.attoseconds) * 1e-15
            }
        }
    }
}

/// One encoding a publisher sends: its own encoder, packetizer, SSRC, sequence numbers and
/// send cache; with simulcast, its rid in every packet.
final class SentVideoLayer {
    let feed: VideoFeed
    let ssrc: UInt32
    var packetizer = VP8Packetizer()
    var vp9Packetizer = VP9Packetizer()
    var cache = RTPSendCache()
    var sequence = UInt16.random(in: 0...UInt16.max)
    var sent = (packets: UInt32(0), octets: UInt32(0))
    /// The RTP stream id extension (RFC 8852 §3.3), nil without simulcast.
    let ridExtension: RTPHeaderExtensionBuilder?

    init(feed: VideoFeed, ssrc: UInt32, rid: String?) {
        self.feed = feed
        self.ssrc = ssrc
        ridExtension = rid.map {
            RTPHeaderExtensionBuilder(elements: [.init(id: ClientOffer.ridExtensionID, data: Array($0.utf8))])
        }
    }

    /// The encodings `settings` asks for, lowest quality first.
    static func layers(_ settings: EndpointPublisher.Settings, source: VideoSource) throws(CodecError) -> [SentVideoLayer] {
        let rids = settings.simulcastRIDs
        guard !rids.isEmpty else {
            let feed = try VideoFeed(source, codec: settings.codec, width: settings.width, height: settings.height,
                                     bitrateKbps: settings.bitrateKbps, framesPerSecond: settings.framesPerSecond,
                                     grain: settings.grain)
            return [SentVideoLayer(feed: feed, ssrc: settings.videoSSRC, rid: nil)]
        }
        guard rids.count <= 3 else { throw CodecError(.badSetting, "simulcast sends at most three encodings") }
        guard case .testPattern = source, settings.codec == .vp8 else {
            throw CodecError(.badSetting, "simulcast is sent from the test pattern with VP8")
        }
        var result: [SentVideoLayer] = []
        for (i, rid) in rids.enumerated() {
            let down = rids.count - 1 - i  // halvings below the full size
            let width = max(16, (settings.width >> down) & ~1), height = max(16, (settings.height >> down) & ~1)
            var kbps = settings.bitrateKbps
            for _ in 0..<down { kbps /= 3 }
            let feed = try VideoFeed(.testPattern, codec: .vp8, width: width, height: height, bitrateKbps: max(30, kbps),
                                     framesPerSecond: settings.framesPerSecond, grain: settings.grain)
            let ssrc = i == rids.count - 1 ? settings.videoSSRC : UInt32.random(in: 1...UInt32.max)
            result.append(SentVideoLayer(feed: feed, ssrc: ssrc, rid: rid))
        }
        return result
    }
}
