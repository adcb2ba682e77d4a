import Foundation
import GiaobanClient
import GiaobanWire
import Synchronization
import GiaobanTransport

/// What a publisher sends: VP8-shaped video and Opus-sized audio, no real encoding. Video is
/// one encoding or several simulcast encodings (RFC 8853), each its own SSRC, picture IDs and
/// keyframes.
struct MediaProfile: Codable {
    /// Video bit rate in bit/s (one encoding; `simulcast` overrides it).
    var videoBitrate = 1_500_000
    /// Largest video RTP packet (header included) before SRTP; an encoding with fewer bytes
    /// per frame sends one smaller packet per frame.
    var videoPacketBytes = 1100
    /// Video frames per second; each frame is a burst of packets, the last with the marker bit.
    var frameRate = 30
    /// Frames from one keyframe to the next (the first frame is one; a PLI or FIR from the
    /// relay brings the next one forward).
    var keyframeIntervalFrames = 60
    /// The picture size keyframes announce (one encoding).
    var width = 1280
    var height = 720
    /// Bytes of each audio RTP payload.
    var audioPayloadBytes = 100
    /// Milliseconds between audio packets.
    var audioIntervalMs = 20
    /// Simulcast encodings, lowest first; empty for one encoding of `videoBitrate`.
    var simulcast: [Encoding] = []

    /// One video encoding.
    struct Encoding: Codable {
        /// The rid (RFC 8851), carried in every packet's RTP stream id extension; empty without simulcast.
        var rid: String
        /// Bit rate in bit/s.
        var bitrate: Int
        var width: Int
        var height: Int
    }

    /// The video encodings sent, lowest first.
    var encodings: [Encoding] {
        simulcast.isEmpty ? [Encoding(rid: "", bitrate: videoBitrate, width: width, height: height)] : simulcast
    }

    /// Packets per second of one encoding on average.
    func packetsPerSecond(_ encoding: Encoding) -> Double {
        Double(frameRate) * max(1, Double(encoding.bitrate) / 8 / Double(frameRate) / Double(videoPacketBytes))
    }

    /// Video packets per second on average, all encodings.
    var videoPacketsPerSecond: Double { encodings.reduce(0) { $0 + packetsPerSecond($1) } }
    /// Audio packets per second.
    var audioPacketsPerSecond: Double { 1000 / Double(audioIntervalMs) }
    /// Video bit rate of all encodings together.
    var totalVideoBitrate: Int { encodings.reduce(0) { $0 + $1.bitrate } }
}

/// Where the probe lies in a payload: after the VP8 payload descriptor (RFC 7741 §4.2, 4
/// bytes here: X, I, M with a 15-bit picture ID) and room for a keyframe's 10-byte VP8 header
/// (RFC 6386 §9.1), or after the Opus TOC byte (RFC 6716 §3.1). The probe is the send time
/// (CLOCK_MONOTONIC ns, 8 bytes) and a packet id (4 bytes).
enum Probe {
    static let videoOffset = 14
    static let audioOffset = 1
    static let size = 12

    /// The probe offset in the payload of a packet of `payloadType`, or nil.
    @inline(__always)
    static func offset(payloadType: UInt8) -> Int? {
        switch payloadType {
        case ClientOffer.vp8PayloadType: videoOffset
        case ClientOffer.opusPayloadType: audioOffset
        default: nil
        }
    }
}

/// A counter the publisher's thread adds to and the controller reads.
final class SharedCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// The publisher's thread: paces frames and audio of one or more publishing connections on
/// CLOCK_MONOTONIC, writes each RTP packet into a batch slot, stamps it, protects it with SRTP
/// in place, and sends each connection's packets with one `sendmmsg` per wake-up. Between
/// sends it reads the sockets (keyframe requests, consent) and runs the peers' timers.
final class PacedPublisher: @unchecked Sendable {
    // @unchecked: the connections and `batch` are touched only by the publisher's thread once
    // `start()` ran; the controller reads the atomics.
    /// The id the next packet gets.
    let nextID = Atomic<UInt32>(1)
    /// Packets stamped inside the current window.
    let sentInWindow = Atomic<Int>(0)
    /// Packets stamped inside the current window per track: audio, then each video encoding.
    let sentInWindowByTrack: [SharedCounter]
    /// Packets sent since start.
    let sentTotal = Atomic<Int>(0)
    /// Keyframe requests (PLI, FIR) received.
    let keyframeRequests = Atomic<Int>(0)
    /// The largest delay of a wake-up behind its schedule inside the window, in µs.
    let maxLateMicros = Atomic<Int>(0)
    private let windowStart = Atomic<UInt64>(.max)
    private let windowEnd = Atomic<UInt64>(0)
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    private let incoming = Mutex<[Handoff<ClientConnection>]>([])
    private let connectionCount = Atomic<Int>(0)
    /// What each connection sends.
    let profile: MediaProfile
    private let quantum: UInt64
    private let serviceInterval: UInt64
    private let batch = UDPBatch(capacity: 16, slotSize: 1600)

    /// One publisher per connection, all sending `profile`, paced by one thread. Connections
    /// added later start at a random point of the frame interval, so frames of many publishers
    /// spread out; the thread wakes at most once per `quantum` (ns) and reads each connection's
    /// socket every `serviceMilliseconds`.
    init(connections: [ClientConnection], profile: MediaProfile, quantum: UInt64 = 0, serviceMilliseconds: Int = 20) {
        self.profile = profile
        self.quantum = quantum
        serviceInterval = UInt64(serviceMilliseconds) * 1_000_000
        sentInWindowByTrack = (0...profile.encodings.count).map { _ in SharedCounter() }
        for connection in connections { add(connection) }
    }

    convenience init(connection: ClientConnection, profile: MediaProfile) {
        self.init(connections: [connection], profile: profile)
    }

    /// Hands one more connected publisher to the thread; the caller must not use it afterwards.
    func add(_ connection: ClientConnection) {
        incoming.withLock { $0.append(Handoff(connection)) }
        connectionCount.wrappingAdd(1, ordering: .relaxed)
    }

    /// Packets per second of all connections together.
    var packetsPerSecond: Double {
        Double(connectionCount.load(ordering: .relaxed)) * (profile.videoPacketsPerSecond + profile.audioPacketsPerSecond)
    }

    /// Starts the thread.
    func start() {
        let thread = Thread { [self] in
            run()
            finished.store(true, ordering: .releasing)
        }
        thread.name = "bench-publisher"
        thread.start()
    }

    /// Stops the thread and waits for it (at most 2 s).
    func stop() {
        running.store(false, ordering: .relaxed)
        let deadline = nowNanoseconds() + 2_000_000_000
        while !finished.load(ordering: .acquiring) && nowNanoseconds() < deadline { sleep(seconds: 0.005) }
    }

    /// Counts packets stamped in [`start`, `end`) (CLOCK_MONOTONIC ns) from now on.
    func setWindow(start: UInt64, end: UInt64) {
        sentInWindow.store(0, ordering: .relaxed)
        for counter in sentInWindowByTrack { counter.value.store(0, ordering: .relaxed) }
        maxLateMicros.store(0, ordering: .relaxed)
        windowEnd.store(end, ordering: .relaxed)
        windowStart.store(start, ordering: .releasing)
    }

    /// One video encoding's sending state.
    private struct VideoTrack {
        let encoding: MediaProfile.Encoding
        let ridElement: [UInt8]
        let ssrc: UInt32
        let bytesPerFrame: Int
        let packetBytes: Int
        var sequence: UInt16 = 0
        var timestamp: UInt32 = 0
        var pictureID: UInt16 = 0
        var credit = 0
        var framesToKeyframe = 0
    }

    /// One connection's sending state.
    private struct Source {
        let connection: ClientConnection
        var video: [VideoTrack]
        var nextVideo: UInt64
        var nextAudio: UInt64
        var nextService: UInt64
        var audioSequence: UInt16 = 0
        var audioTimestamp: UInt32 = 0
    }

    private func run() {
        let frameInterval = UInt64(1e9 / Double(profile.frameRate))
        let audioInterval = UInt64(profile.audioIntervalMs) * 1_000_000
        var sources: [Source] = []
        var lastWake: UInt64 = 0
        while running.load(ordering: .relaxed) {
            for handoff in incoming.withLock({ list -> [Handoff<ClientConnection>] in defer { list.removeAll() }; return list }) {
                sources.append(source(handoff.value, phase: sources.isEmpty ? 0 : UInt64.random(in: 0..<frameInterval),
                                      audioInterval: audioInterval))
            }
            var next = nowNanoseconds() + 10_000_000  // new connections are picked up within 10 ms
            for s in sources { next = min(next, s.nextVideo, s.nextAudio, s.nextService) }
            sleep(untilNanoseconds: max(next, lastWake + quantum))
            let now = nowNanoseconds()
            lastWake = now
            let window = (windowStart.load(ordering: .acquiring), windowEnd.load(ordering: .relaxed))
            if now >= window.0 && now < window.1 && !sources.isEmpty {
                let late = Int((now - next) / 1000)
                if late > maxLateMicros.load(ordering: .relaxed) { maxLateMicros.store(late, ordering: .relaxed) }
            }
            for i in sources.indices where now >= min(sources[i].nextVideo, sources[i].nextAudio, sources[i].nextService) {
                send(&sources[i], now: now, window: window, frameInterval: frameInterval, audioInterval: audioInterval)
            }
        }
    }

    /// The sending state of a new connection whose frames start `phase` ns from now.
    private func source(_ connection: ClientConnection, phase: UInt64, audioInterval: UInt64) -> Source {
        let start = nowNanoseconds() + phase
        return Source(connection: connection, video: profile.encodings.enumerated().map { k, encoding in
            // One-byte header extension (RFC 8285 §4.2): the rid element, padded to a word.
            let rid = Array(encoding.rid.utf8)
            var element: [UInt8] = []
            if !rid.isEmpty {
                element = [0xBE, 0xDE, 0, UInt8((1 + rid.count + 3) / 4), ClientOffer.ridExtensionID << 4 | UInt8(rid.count - 1)] + rid
                while element.count % 4 != 0 { element.append(0) }
            }
            let bytesPerFrame = encoding.bitrate / 8 / profile.frameRate
            return VideoTrack(encoding: encoding, ridElement: element, ssrc: Self.videoSSRC &+ UInt32(k),
                              bytesPerFrame: bytesPerFrame, packetBytes: min(profile.videoPacketBytes, bytesPerFrame))
        }, nextVideo: start, nextAudio: start + audioInterval / 2, nextService: start)
    }

    /// Sends what is due of one connection's audio and video, then serves its socket if due.
    private func send(_ source: inout Source, now: UInt64, window: (UInt64, UInt64), frameInterval: UInt64, audioInterval: UInt64) {
        let connection = source.connection
        if now >= source.nextAudio {
            add(connection, payloadType: ClientOffer.opusPayloadType, ssrc: Self.audioSSRC, sequence: source.audioSequence,
                timestamp: source.audioTimestamp, marker: false, length: 12 + profile.audioPayloadBytes, header: [], prefix: [0x78],
                track: 0, window: window)
            source.audioSequence &+= 1
            source.audioTimestamp &+= UInt32(48 * profile.audioIntervalMs)
            source.nextAudio = max(source.nextAudio + audioInterval, now > source.nextAudio + 1_000_000_000 ? now : 0)
        }
        if now >= source.nextVideo {
            for k in source.video.indices {
                addFrame(connection, &source.video[k], track: k + 1, window: window)
            }
            source.nextVideo = max(source.nextVideo + frameInterval, now > source.nextVideo + 1_000_000_000 ? now : 0)
        }
        connection.socket.send(batch)
        if now >= source.nextService {
            connection.poll(timeoutMilliseconds: 0) { incoming, buffer in  // RTCP from the relay, consent responses
                guard case .rtcp(let length) = incoming else { return }
                keyframeRequested(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), video: &source.video)
            }
            connection.handleTimers()
            source.nextService = now + serviceInterval
        }
    }

    /// One frame of one encoding: a burst of packets, the first with a VP8 frame header
    /// (a keyframe's with the start code and picture size, RFC 6386 §9.1), the last with the marker.
    private func addFrame(_ connection: ClientConnection, _ track: inout VideoTrack, track index: Int, window: (UInt64, UInt64)) {
        track.credit += track.bytesPerFrame
        let size = track.packetBytes
        let count = max(1, track.credit / size)
        track.credit -= count * size
        let keyframe = track.framesToKeyframe <= 0
        track.framesToKeyframe = keyframe ? profile.keyframeIntervalFrames : track.framesToKeyframe - 1
        let picture = track.pictureID
        for k in 0..<count {
            if batch.isFull { connection.socket.send(batch) }
            var prefix: [UInt8] = [k == 0 ? 0x90 : 0x80, 0x80, 0x80 | UInt8(picture >> 8 & 0x7F), UInt8(picture & 0xFF)]
            if k == 0 {
                let w = UInt16(track.encoding.width), h = UInt16(track.encoding.height)
                prefix += keyframe ? [0x10, 0, 0, 0x9D, 0x01, 0x2A, UInt8(w & 0xFF), UInt8(w >> 8), UInt8(h & 0xFF), UInt8(h >> 8)]
                                   : [0x11, 0, 0]
            }
            add(connection, payloadType: ClientOffer.vp8PayloadType, ssrc: track.ssrc, sequence: track.sequence,
                timestamp: track.timestamp, marker: k == count - 1, length: size, header: track.ridElement, prefix: prefix,
                track: index, window: window)
            track.sequence &+= 1
        }
        track.pictureID = (picture &+ 1) & 0x7FFF
        track.timestamp &+= UInt32(90_000 / profile.frameRate)
    }

    /// Marks the encodings a PLI or FIR (RFC 4585 §6.3.1, RFC 5104 §4.3.1) in `compound` asks
    /// a keyframe of: the named SSRC, or all of them.
    private func keyframeRequested(_ compound: UnsafeRawBufferPointer, video: inout [VideoTrack]) {
        guard let packets = try? RTCPCompound(compound) else { return }
        for packet in packets where packet.packetType == .payloadFeedback
            && (packet.header.count == PictureLossIndication.format || packet.header.count == FullIntraRequest.format) {
            keyframeRequests.wrappingAdd(1, ordering: .relaxed)
            let media = packet.bytes.count >= 12 ? packet.bytes.u32(at: 8) : 0
            let named = video.contains { $0.ssrc == media }
            for k in video.indices where !named || video[k].ssrc == media { video[k].framesToKeyframe = 0 }
        }
    }

    /// The SSRCs the publisher announces and sends with (simulcast encodings: the video SSRC
    /// plus the encoding's index).
    static let audioSSRC: UInt32 = 0x0A0D_1001
    static let videoSSRC: UInt32 = 0x0B1D_E001

    /// Writes one packet into the next slot: RTP header (RFC 3550 §5.1) with `header` as its
    /// extension block, `prefix` (VP8 descriptor and frame header, or Opus TOC), the probe
    /// stamped now, filler up to `length`; then SRTP.
    private func add(_ connection: ClientConnection, payloadType: UInt8, ssrc: UInt32, sequence: UInt16, timestamp: UInt32,
                     marker: Bool, length: Int, header: [UInt8], prefix: [UInt8], track: Int, window: (UInt64, UInt64)) {
        let slot = batch.slot(batch.count)
        slot[0] = header.isEmpty ? 0x80 : 0x90
        slot[1] = (marker ? 0x80 : 0) | payloadType
        slot.setU16(sequence, at: 2)
        slot.setU32(timestamp, at: 4)
        slot.setU32(ssrc, at: 8)
        for (i, byte) in header.enumerated() { slot[12 + i] = byte }
        let payload = 12 + header.count
        for (i, byte) in prefix.enumerated() { slot[payload + i] = byte }
        let probe = payload + (payloadType == ClientOffer.vp8PayloadType ? Probe.videoOffset : Probe.audioOffset)
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let stamp = nowNanoseconds()
        slot.setU64(stamp, at: probe)
        slot.setU32(id, at: probe + 8)
        guard let protected = try? connection.peer.protectRTP(slot, length: max(length, probe + Probe.size)) else { return }
        batch.commit(length: protected, to: connection.peer.relayAddress)
        sentTotal.wrappingAdd(1, ordering: .relaxed)
        if stamp >= window.0 && stamp < window.1 {
            sentInWindow.wrappingAdd(1, ordering: .relaxed)
            sentInWindowByTrack[track].value.wrappingAdd(1, ordering: .relaxed)
        }
    }
}
