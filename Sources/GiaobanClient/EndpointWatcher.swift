public import GiaobanCodecs
import GiaobanWire
public import GiaobanRTP

/// A commune endpoint's receiving side over a connected `ClientConnection`. Each stream
/// goes through its own `JitterBuffer` (reordered, held `videoDelay`/`audioDelay`, released
/// in order). Video: missing packets are asked for again with Generic NACK (RFC 4585
/// §6.2.1, bounded retries); frames are reassembled (VP8 RFC 7741, VP9 RFC 9628) and decoded
/// with libvpx; an incomplete frame or a NACK given up asks for a keyframe with PLI (§6.3.1), at most every
/// `pliInterval`, and delta frames are skipped until one arrives. Audio: decoded with libopus;
/// a lost packet is recovered from the next one's FEC data, else concealed (RFC 6716
/// §2.1.7). About every second a receiver report (RFC 3550 §6.4.2) tells the relay the loss
/// and jitter seen, echoing its sender reports for its round-trip estimate.
///
/// Single-threaded: call `step` in a loop, or `run`.
public final class EndpointWatcher {
    /// Counts since the start (for status lines and the summary).
    public struct Stats: Sendable, Codable, Equatable {
        /// RTP packets received.
        public var packetsReceived = 0
        /// Of those, audio packets.
        public var audioPackets = 0
        /// Audio packets that carried an RFC 6464 level (a mix from the relay does).
        public var audioLevels = 0
        /// The last such level, 0 (loud) to 127 (silence).
        public var lastAudioLevel: Int?
        /// SRTP bytes received.
        public var bytesReceived = 0
        /// SRTCP bytes sent (reports, NACK, PLI).
        public var bytesSent = 0
        /// Video packets released as lost by the jitter buffer (after any NACK).
        public var videoLost = 0
        /// Audio packets released as lost by the jitter buffer.
        public var audioLost = 0
        /// Packets that arrived after their place was released.
        public var packetsLate = 0
        /// Video frames reassembled whole.
        public var framesAssembled = 0
        /// Video frames reported incomplete.
        public var framesIncomplete = 0
        /// Video frames decoded into pictures.
        public var framesDecoded = 0
        /// Keyframes decoded.
        public var keyframesDecoded = 0
        /// Video frames libvpx refused, and audio packets libopus refused.
        public var decodeErrors = 0
        /// PLI messages sent.
        public var keyframesRequested = 0
        /// Video sequence numbers found missing on arrival (before any retransmission).
        public var videoMissing = 0
        /// Generic NACK messages sent.
        public var nacksSent = 0
        /// Sequence numbers asked for in them (retries included).
        public var packetsNacked = 0
        /// Asked-for packets that arrived.
        public var retransmissionsReceived = 0
        /// Of those, packets that arrived in time to be used.
        public var packetsRecovered = 0
        /// Sequence numbers given up after the last NACK retry.
        public var nacksGivenUp = 0
        /// Receiver reports sent.
        public var reportsSent = 0
        /// Audio frames decoded from packets.
        public var audioFrames = 0
        /// Audio frames recovered from FEC or concealed.
        public var audioConcealed = 0
        /// Of those, decoded from the FEC data of the next packet (SILK or hybrid mode).
        public var audioRecoveredByFEC = 0
        /// Width of the last decoded picture.
        public var width = 0
        /// Times the decoded picture size changed (a simulcast layer switch).
        public var sizeChanges = 0
        /// Height of the last decoded picture.
        public var height = 0
        /// Fraction of video packets lost in the last report interval, before retransmission (0–1).
        public var fractionLost = 0.0
        /// Interarrival jitter of the video stream at the last report (RFC 3550 §6.4.1), in ms.
        public var videoJitterMilliseconds = 0.0
        /// Interarrival jitter of the audio stream at the last report, in ms.
        public var audioJitterMilliseconds = 0.0
        /// The last round trip to the relay (timed consent checks, RFC 7675), in ms; nil before one.
        public var roundTripMilliseconds: Double?

        /// All counts zero.
        public init() {}
    }

    /// The connection media comes over.
    public let connection: ClientConnection
    /// The Opus payload type, if audio was accepted.
    public let audioPayloadType: UInt8?
    /// The video payload type, if video was accepted.
    public let videoPayloadType: UInt8?
    /// The video codec (what the stream's publisher sends).
    public let videoCodec: VPXCodec
    /// The shortest time between two PLIs.
    public var pliInterval: Duration = .milliseconds(500)
    /// How often receiver reports go out.
    public var reportInterval: Duration = .seconds(1)
    /// Counts since the start.
    public internal(set) var stats = Stats()
    /// The decoded audio (16-bit mono, 48 kHz), concealed frames included: about the last
    /// `audioWindow` seconds (enough for analysis; recordings go to `audioRecorder`).
    public private(set) var audioSamples: [Int16] = []
    /// Seconds of audio kept in `audioSamples`.
    public var audioWindow = 10
    /// Where the received video goes as IVF, from the first decoded keyframe on.
    public var videoOutput: (any RecordingOutput)?
    /// The IVF writer, once recording has started.
    public private(set) var ivf: IVFWriter?
    /// Where the decoded audio goes as WAV, frame by frame.
    public var wavRecorder: WAVWriter?
    /// Where the received Opus packets go as Ogg Opus, packet by packet.
    public var oggRecorder: OggOpusRecorder?
    /// Where the received frames and Opus packets go as one WebM file.
    public var webmRecorder: WebMRecorder?
    /// The first recording error; recording stops there, receiving goes on.
    public private(set) var recordingFailure: ClientError?
    /// Drops every n-th received video packet before decryption (0: none), as a lossy
    /// network would (retransmissions included), to exercise NACK and PLI.
    public var dropEveryVideoPacket = 0 {
        didSet {
            connection.dropsIncoming = dropEveryVideoPacket > 0 ? { [unowned self] in self.dropsVideo($0) } : nil
        }
    }
    /// The video jitter buffer.
    public let videoBuffer: JitterBuffer
    /// The audio jitter buffer.
    public let audioBuffer: JitterBuffer
    /// Which video packets to ask for again.
    public internal(set) var nacks = NACKScheduler()
    /// NACKs per missing video packet before giving up and asking for a keyframe (0: no
    /// NACK, loss is recovered with PLI only).
    public var maxNACKRetries: Int {
        get { nacks.maxRetries }
        set { nacks.maxRetries = max(0, newValue) }
    }

    /// A receive bandwidth in bit/s announced to the relay as REMB every 250 ms (nil: none):
    /// a station on a thin link, or a test squeezing the link, tells the relay what fits,
    /// and the relay picks the simulcast layer (or pauses video) to match.
    public var bandwidthCap: Int?
    var nextEstimate: ContinuousClock.Instant = .now
    /// This watcher sends the connection's transport-wide feedback and REMB; false when it is
    /// one stream of a downlink, which does that once for all of them.
    var transportWide = true
    /// Arrivals of packets numbered by the relay (transport-wide congestion control), reported
    /// every 100 ms so the relay can estimate this link.
    var transportFeedback = TransportFeedbackRecorder()
    var nextTransportFeedback: ContinuousClock.Instant = .now
    let senderSSRC = UInt32.random(in: 1...UInt32.max)
    let start = ContinuousClock.now
    var videoSSRC: UInt32 = 0
    var audioSSRC: UInt32 = 0
    var videoReception = ReceptionStatistics()
    var audioReception = ReceptionStatistics()
    /// The relay's last sender report per SSRC: its compact NTP time and when it arrived.
    var lastSR: [UInt32: (compact: UInt32, at: ContinuousClock.Instant)] = [:]
    var nextReport: ContinuousClock.Instant
    var waitingForKeyframe = true
    var lastPLI: ContinuousClock.Instant?
    var rtcpOut = [UInt8](repeating: 0, count: 1500)
    var nackScratch: [UInt16] = []
    private var videoPacketCount = 0
    private var assembler: VP8FrameAssembler
    private let videoDecoder: VPXDecoder
    private let audioDecoder: OpusAudioDecoder
    private var firstVideoTimestamp: UInt32?
    private var pcm = [Int16](repeating: 0, count: OpusFormat.maxSamplesPerPacket)

    /// Prepares the decoders for the tracks of `answer`; each stream is held `videoDelay`
    /// or `audioDelay` in its jitter buffer (a NACKed packet has that long to come back).
    public convenience init(connection: ClientConnection, answer: RelayAnswer, videoDelay: Duration = .milliseconds(150),
                            audioDelay: Duration = .milliseconds(80)) throws(CodecError) {
        try self.init(connection: connection, audioPayloadType: answer.audio?.payloadType,
                      videoPayloadType: answer.video?.payloadType,
                      videoCodec: answer.video?.codec.uppercased() == "VP9" ? .vp9 : .vp8,
                      videoDelay: videoDelay, audioDelay: audioDelay)
        videoSSRC = answer.video?.ssrc ?? 0
    }

    /// Prepares the decoders for the given payload types (nil: that kind is ignored) and
    /// video codec.
    public init(connection: ClientConnection, audioPayloadType: UInt8?, videoPayloadType: UInt8?, videoCodec: VPXCodec = .vp8,
                videoDelay: Duration = .milliseconds(150), audioDelay: Duration = .milliseconds(80)) throws(CodecError) {
        self.connection = connection
        self.audioPayloadType = audioPayloadType
        self.videoPayloadType = videoPayloadType
        self.videoCodec = videoCodec
        assembler = VP8FrameAssembler(format: videoCodec == .vp9 ? .vp9 : .vp8)
        videoDecoder = try VPXDecoder(codec: videoCodec)
        audioDecoder = try OpusAudioDecoder(channels: 1)
        videoBuffer = JitterBuffer(targetDelay: videoDelay)
        audioBuffer = JitterBuffer(targetDelay: audioDelay, capacity: 128)
        nextReport = start + .milliseconds(500)
        nackScratch.reserveCapacity(nacks.maxListed)
    }

    /// Receives until `deadline` or until the connection ends, calling `report` once a second.
    /// With `silence`, also ends once no packet has come for that long (a relay that died:
    /// ICE consent would take 30 s to say so); returns why it ended early, nil at the deadline.
    @discardableResult
    public func run(until deadline: ContinuousClock.Instant, endAfterSilence silence: Duration? = nil,
                    report: (Stats) -> Void) -> String? {
        var nextStatus = ContinuousClock.now + .seconds(1)
        var heard = (packets: stats.packetsReceived, at: ContinuousClock.now)
        while ContinuousClock.now < deadline && connection.peer.state == .connected {
            step(maxWaitMilliseconds: 10)
            let now = ContinuousClock.now
            if stats.packetsReceived != heard.packets { heard = (stats.packetsReceived, now) }
            if let silence, now - heard.at > silence { return "no media from the relay for \(silence)" }
            if now >= nextStatus {
                report(stats)
                nextStatus += .seconds(1)
            }
        }
        if connection.peer.state != .connected { return connection.peer.failure.map { "\($0)" } ?? "connection closed" }
        return nil
    }

    /// Waits up to `maxWaitMilliseconds` for media, handles what arrived, releases what the
    /// jitter buffers hold that is due, and sends the feedback that is due.
    public func step(maxWaitMilliseconds: Int32) {
        connection.poll(timeoutMilliseconds: maxWaitMilliseconds) { incoming, datagram in
            switch incoming {
            case .rtp(let length):
                guard let packet = try? RTPPacketView(UnsafeRawBufferPointer(rebasing: datagram[0..<length])) else { return }
                receive(packet, length: length)
            case .rtcp(let length):
                handleRTCP(UnsafeRawBufferPointer(rebasing: datagram[0..<length]))
            default:
                break
            }
        }
        pump(now: ContinuousClock.now)
        connection.handleTimers()
    }

    /// Releases what the jitter buffers hold that is due and sends the feedback that is due,
    /// without reading the socket (a downlink reads it for all the streams it carries).
    func pump(now: ContinuousClock.Instant) {
        if waitingForKeyframe { requestKeyframe() }
        videoBuffer.release(now: now) { releaseVideo($0) }
        audioBuffer.release(now: now) { releaseAudio($0) }
        stats.videoLost = videoBuffer.counters.lost
        stats.audioLost = audioBuffer.counters.lost
        stats.packetsLate = videoBuffer.counters.late + audioBuffer.counters.late
        sendFeedback(now: now)
    }

    /// Writes what the recordings still hold (IVF frame count, WAV sizes, the last Ogg page).
    public func finishRecordings() throws(ClientError) {
        if let recordingFailure { throw recordingFailure }
        try ivf?.finish()
        try wavRecorder?.finish()
        try oggRecorder?.finish()
        try webmRecorder?.finish()
    }

    func receive(_ packet: RTPPacketView, length: Int) {
        let now = ContinuousClock.now
        let arrival = now - start
        let seconds = Double(arrival.components.seconds) + Double(arrival.components.attoseconds) * 1e-18
        if transportWide, let element = packet.extensions.element(id: ClientOffer.transportCCExtensionID), element.data.count >= 2 {
            transportFeedback.record(sequence: element.data.u16(at: 0),
                                     arrival: arrival.components.seconds * 1_000_000 + arrival.components.attoseconds / 1_000_000_000_000)
        }
        if packet.payloadType == videoPayloadType {
            count(length)
            videoSSRC = packet.ssrc
            videoReception.record(sequence: packet.sequenceNumber, timestamp: packet.timestamp, arrival: seconds * 90_000)
            let arrivalKind = nacks.received(packet.sequenceNumber, now: now)
            stats.videoMissing = nacks.counters.missing
            let used = videoBuffer.insert(packet, now: now)
            switch arrivalKind {
            case .retransmission:
                stats.retransmissionsReceived += 1
                if used { stats.packetsRecovered += 1 }
            case .gapTooWide:
                requestKeyframe()
            case .inOrder, .reordered:
                break
            }
        } else if packet.payloadType == audioPayloadType {
            count(length)
            stats.audioPackets += 1
            if let element = packet.extensions.element(id: ClientOffer.audioLevelExtensionID),
               let level = try? AudioLevelExtension(element.data) {
                stats.audioLevels += 1
                stats.lastAudioLevel = Int(level.level)
            }
            audioSSRC = packet.ssrc
            audioReception.record(sequence: packet.sequenceNumber, timestamp: packet.timestamp, arrival: seconds * 48_000)
            audioBuffer.insert(packet, now: now)
        }
    }

    /// The loss hook: every `dropEveryVideoPacket`-th SRTP video packet (its RTP header is
    /// in clear text, RFC 3711 §3.1).
    private func dropsVideo(_ datagram: UnsafeRawBufferPointer) -> Bool {
        guard datagram.count >= 12, (128...191).contains(datagram[0]), !(192...223).contains(datagram[1]),
              datagram[1] & 0x7F == videoPayloadType else { return false }
        videoPacketCount += 1
        return videoPacketCount % dropEveryVideoPacket == 0
    }

    private func count(_ length: Int) {
        stats.packetsReceived += 1
        stats.bytesReceived += length + connection.peer.srtpOverhead
    }

    private func releaseVideo(_ output: JitterBuffer.Output) {
        let events: [VP8FrameAssembler.Event]
        switch output {
        case .packet(let seq, let timestamp, let marker, let payload):
            events = assembler.insert(sequenceNumber: seq, timestamp: timestamp, marker: marker, payload: payload)
        case .lost(let seq, _):
            nacks.forget(seq)
            events = assembler.lose(sequenceNumber: seq)
        }
        for event in events {
            switch event {
            case .incomplete:
                waitingForKeyframe = true
                requestKeyframe()
            case .frame(let data, let timestamp, let isKeyframe):
                if waitingForKeyframe && !isKeyframe { continue }
                decode(data, timestamp: timestamp, isKeyframe: isKeyframe)
            }
        }
        stats.framesAssembled = assembler.counters.frames
        stats.framesIncomplete = assembler.counters.incomplete
    }

    private func decode(_ data: [UInt8], timestamp: UInt32, isKeyframe: Bool) {
        guard let picture = try? videoDecoder.decode(data) else {
            stats.decodeErrors += 1
            waitingForKeyframe = true
            requestKeyframe()
            return
        }
        waitingForKeyframe = false
        stats.framesDecoded += 1
        if isKeyframe { stats.keyframesDecoded += 1 }
        if stats.width != 0 && (stats.width != picture.width || stats.height != picture.height) { stats.sizeChanges += 1 }
        stats.width = picture.width
        stats.height = picture.height
        record { () throws(ClientError) in try webmRecorder?.video(data, rtpTimestamp: timestamp, keyframe: isKeyframe,
            width: picture.width, height: picture.height, arrival: .now - videoBuffer.targetDelay) }
        guard let videoOutput, recordingFailure == nil else { return }
        do throws(ClientError) {
            if ivf == nil {
                ivf = try IVFWriter(output: videoOutput, width: picture.width, height: picture.height,
                                    fourCC: videoCodec == .vp9 ? "VP90" : "VP80")
            }
            let first = firstVideoTimestamp ?? timestamp
            firstVideoTimestamp = first
            try ivf?.append(data, timestamp: UInt64(max(0, RTPTime.distance(from: first, to: timestamp))))
        } catch {
            recordingFailure = error
        }
    }

    private func releaseAudio(_ output: JitterBuffer.Output) {
        switch output {
        case .packet(_, let timestamp, _, let payload):
            let samples = pcm.withUnsafeMutableBufferPointer { out in try? audioDecoder.decode(payload, into: out) }
            guard let samples else {
                stats.decodeErrors += 1
                return
            }
            stats.audioFrames += 1
            keep(samples)
            record { () throws(ClientError) in try oggRecorder?.append(payload, samples: samples) }
            record { () throws(ClientError) in try webmRecorder?.audio(payload, rtpTimestamp: timestamp, arrival: .now - audioBuffer.targetDelay) }
        case .lost(_, let next):
            // The lost frame is recovered from the next packet's FEC data when that one is
            // here already and can carry FEC (SILK or hybrid mode; CELT has none, RFC 6716
            // §2.1.7); else libopus conceals it.
            let carriesFEC = next.map { (try? OpusTOC($0))?.mode != .celt } ?? false
            let fec = carriesFEC ? next.flatMap { next in
                pcm.withUnsafeMutableBufferPointer { out in try? audioDecoder.decodeFEC(from: next, into: out) }
            } : nil
            if fec != nil { stats.audioRecoveredByFEC += 1 }
            guard let samples = fec ?? pcm.withUnsafeMutableBufferPointer({ out in try? audioDecoder.conceal(into: out) }) else { return }
            stats.audioConcealed += 1
            keep(samples)
            record { () throws(ClientError) in try oggRecorder?.appendLost(samples: samples) }
        }
    }

    /// Keeps the first `count` samples of `pcm` for analysis and the WAV recording.
    private func keep(_ count: Int) {
        audioSamples += pcm[0..<count]
        let limit = audioWindow * Int(OpusFormat.sampleRate)
        if audioSamples.count > 2 * limit { audioSamples.removeFirst(audioSamples.count - limit) }
        guard let wavRecorder else { return }
        pcm.withUnsafeBufferPointer { all in
            record { () throws(ClientError) in try wavRecorder.append(UnsafeBufferPointer(rebasing: all[0..<count])) }
        }
    }

    private func record(_ write: () throws(ClientError) -> Void) {
        guard recordingFailure == nil else { return }
        do throws(ClientError) { try write() } catch { recordingFailure = error }
    }
}
