public import GiaobanCodecs
import GiaobanWire

/// A commune endpoint's receiving side over a connected `ClientConnection`: reassembles and
/// decodes VP8 (RFC 7741), decodes Opus with FEC and loss concealment (RFC 6716 §2.1.7),
/// keeps the decoded audio and optionally the video as IVF. When a frame is incomplete it
/// asks for a keyframe with PLI (RFC 4585 §6.3.1), at most every `pliInterval`, and skips
/// delta frames until one arrives. Single-threaded: call `step` in a loop, or `run`.
public final class EndpointWatcher {
    /// Counts since the start (for status lines and the summary).
    public struct Stats: Sendable, Codable, Equatable {
        /// RTP packets received.
        public var packetsReceived = 0
        /// SRTP bytes received.
        public var bytesReceived = 0
        /// Video packets given up as lost by the frame assembler.
        public var videoLost = 0
        /// Audio packets missing from the sequence.
        public var audioLost = 0
        /// Video frames reassembled whole.
        public var framesAssembled = 0
        /// Video frames reported incomplete.
        public var framesIncomplete = 0
        /// Video frames decoded into pictures.
        public var framesDecoded = 0
        /// Keyframes decoded.
        public var keyframesDecoded = 0
        /// PLI messages sent.
        public var keyframesRequested = 0
        /// Audio frames decoded from packets.
        public var audioFrames = 0
        /// Audio frames recovered from FEC or concealed.
        public var audioConcealed = 0
        /// Width of the last decoded picture.
        public var width = 0
        /// Height of the last decoded picture.
        public var height = 0

        /// All counts zero.
        public init() {}
    }

    /// The connection media comes over.
    public let connection: ClientConnection
    /// The Opus payload type, if audio was accepted.
    public let audioPayloadType: UInt8?
    /// The VP8 payload type, if video was accepted.
    public let videoPayloadType: UInt8?
    /// The shortest time between two PLIs.
    public var pliInterval: Duration = .milliseconds(500)
    /// Counts since the start.
    public private(set) var stats = Stats()
    /// The decoded audio (16-bit mono, 48 kHz), concealed frames included: all of it when
    /// `keepsAllAudio`, else about the last `audioWindow` seconds (enough for analysis).
    public private(set) var audioSamples: [Int16] = []
    /// Keep every decoded sample (for recording) instead of a sliding window.
    public var keepsAllAudio = false
    /// Seconds of audio kept when not keeping all of it.
    public var audioWindow = 10
    /// The received video as IVF, once recording has started (first decoded keyframe).
    public private(set) var ivf: IVFWriter?
    /// Whether to keep the video as IVF.
    public var recordsVideo = false
    /// Drops every n-th received video packet before it is used (0: none), to exercise loss
    /// handling (keyframe requests, recovery) over a clean network.
    public var dropEveryVideoPacket = 0
    private var videoPacketCount = 0

    private let senderSSRC = UInt32.random(in: 1...UInt32.max)
    private var assembler = VP8FrameAssembler()
    private let videoDecoder: VPXDecoder
    private let audioDecoder: OpusAudioDecoder
    private var audioSequence = SerialUnwrapper<SeqNum16>()
    private var lastAudio: Int64?
    private var videoSSRC: UInt32 = 0
    private var waitingForKeyframe = true
    private var lastPLI: ContinuousClock.Instant?
    private var firstVideoTimestamp: UInt32?
    private var pcm = [Int16](repeating: 0, count: OpusFormat.maxSamplesPerPacket)
    private var rtcpOut = [UInt8](repeating: 0, count: 128)

    /// Prepares the decoders for the tracks of `answer`.
    public init(connection: ClientConnection, answer: RelayAnswer) throws(CodecError) {
        self.connection = connection
        audioPayloadType = answer.audio?.payloadType
        videoPayloadType = answer.video?.payloadType
        videoSSRC = answer.video?.ssrc ?? 0
        videoDecoder = try VPXDecoder(codec: .vp8)
        audioDecoder = try OpusAudioDecoder(channels: 1)
    }

    /// Receives until `deadline` or until the connection ends, calling `report` once a second.
    public func run(until deadline: ContinuousClock.Instant, report: (Stats) -> Void) {
        var nextReport = ContinuousClock.now + .seconds(1)
        while ContinuousClock.now < deadline && connection.peer.state == .connected {
            step(maxWaitMilliseconds: 50)
            if ContinuousClock.now >= nextReport {
                report(stats)
                nextReport += .seconds(1)
            }
        }
    }

    /// Waits up to `maxWaitMilliseconds` for media, handles what arrived, and runs the timers.
    public func step(maxWaitMilliseconds: Int32) {
        if waitingForKeyframe { requestKeyframe() }
        connection.poll(timeoutMilliseconds: maxWaitMilliseconds) { incoming, datagram in
            guard case .rtp(let length) = incoming,
                  let packet = try? RTPPacketView(UnsafeRawBufferPointer(rebasing: datagram[0..<length])) else { return }
            stats.packetsReceived += 1
            stats.bytesReceived += length + connection.peer.srtpOverhead
            if packet.payloadType == videoPayloadType {
                videoPacketCount += 1
                if dropEveryVideoPacket > 0 && videoPacketCount % dropEveryVideoPacket == 0 { return }
                receiveVideo(packet)
            } else if packet.payloadType == audioPayloadType {
                receiveAudio(packet)
            }
        }
        connection.handleTimers()
    }

    private func receiveVideo(_ packet: RTPPacketView) {
        videoSSRC = packet.ssrc
        for event in assembler.insert(packet) {
            switch event {
            case .incomplete:
                waitingForKeyframe = true
                requestKeyframe()
            case .frame(let data, let timestamp, let isKeyframe):
                if waitingForKeyframe && !isKeyframe { continue }
                decode(data, timestamp: timestamp, isKeyframe: isKeyframe)
            }
        }
        stats.videoLost = assembler.counters.lost
        stats.framesAssembled = assembler.counters.frames
        stats.framesIncomplete = assembler.counters.incomplete
    }

    private func decode(_ data: [UInt8], timestamp: UInt32, isKeyframe: Bool) {
        guard let picture = try? videoDecoder.decode(data) else {
            waitingForKeyframe = true
            requestKeyframe()
            return
        }
        waitingForKeyframe = false
        stats.framesDecoded += 1
        if isKeyframe { stats.keyframesDecoded += 1 }
        stats.width = picture.width
        stats.height = picture.height
        guard recordsVideo else { return }
        if ivf == nil { ivf = IVFWriter(width: picture.width, height: picture.height) }
        let first = firstVideoTimestamp ?? timestamp
        firstVideoTimestamp = first
        ivf?.append(data, timestamp: UInt64(max(0, RTPTime.distance(from: first, to: timestamp))))
    }

    private func receiveAudio(_ packet: RTPPacketView) {
        let seq = audioSequence.unwrap(packet.sequenceNumber)
        if let last = lastAudio {
            guard seq > last else { return }  // late or duplicate: its place was concealed
            let missing = Int(min(seq - last - 1, 50))
            stats.audioLost += missing
            for i in 0..<missing {
                // The packet just before this one is recovered from this one's FEC data.
                let n = pcm.withUnsafeMutableBufferPointer { out in
                    i == missing - 1
                        ? (try? audioDecoder.decodeFEC(from: packet.payload, into: out))
                        : (try? audioDecoder.conceal(into: out))
                }
                if let n { audioSamples += pcm[0..<n]; stats.audioConcealed += 1 }
            }
        }
        lastAudio = seq
        let n = pcm.withUnsafeMutableBufferPointer { out in try? audioDecoder.decode(packet.payload, into: out) }
        if let n {
            audioSamples += pcm[0..<n]
            stats.audioFrames += 1
        }
        let limit = audioWindow * Int(OpusFormat.sampleRate)
        if !keepsAllAudio && audioSamples.count > 2 * limit { audioSamples.removeFirst(audioSamples.count - limit) }
    }

    /// Sends a PLI for the video source unless one went out less than `pliInterval` ago.
    private func requestKeyframe() {
        let now = ContinuousClock.now
        if let lastPLI, now - lastPLI < pliInterval { return }
        guard connection.peer.state == .connected else { return }
        lastPLI = now
        let pli = PictureLossIndication(senderSSRC: senderSSRC, mediaSSRC: videoSSRC)
        rtcpOut.withUnsafeMutableBytes { buffer in
            guard let length = try? pli.marshal(into: buffer),
                  let n = try? connection.peer.protectRTCP(buffer, length: length) else { return }
            if connection.socket.send(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), to: connection.peer.relayAddress) {
                stats.keyframesRequested += 1
            }
        }
    }
}
