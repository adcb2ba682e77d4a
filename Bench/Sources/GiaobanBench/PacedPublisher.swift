import Foundation
import GiaobanClient
import GiaobanWire
import Synchronization

/// What the publisher sends: VP8-sized video frames and Opus-sized audio, no real encoding.
struct MediaProfile: Codable {
    /// Video bit rate in bit/s.
    var videoBitrate = 1_500_000
    /// Bytes of each video RTP packet (header included) before SRTP.
    var videoPacketBytes = 1100
    /// Video frames per second; each frame is a burst of packets, the last with the marker bit.
    var frameRate = 30
    /// Bytes of each audio RTP payload.
    var audioPayloadBytes = 100
    /// Milliseconds between audio packets.
    var audioIntervalMs = 20

    /// Video packets per second on average.
    var videoPacketsPerSecond: Double { Double(videoBitrate) / 8 / Double(videoPacketBytes) }
    /// Audio packets per second.
    var audioPacketsPerSecond: Double { 1000 / Double(audioIntervalMs) }
}

/// Where the probe lies in a payload: after the VP8 payload descriptor (RFC 7741 §4.2, 4
/// bytes here: X, I, M with a 15-bit picture ID) or after the Opus TOC byte (RFC 6716 §3.1).
/// The probe is the send time (CLOCK_MONOTONIC ns, 8 bytes) and a packet id (4 bytes).
enum Probe {
    static let videoOffset = 4
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

/// The publisher's thread: paces frames and audio on CLOCK_MONOTONIC, writes each RTP packet
/// into a batch slot, stamps it, protects it with SRTP in place, and sends the batch with one
/// `sendmmsg` per wake-up. Between sends it reads its socket and runs its peer's timers.
final class PacedPublisher: @unchecked Sendable {
    // @unchecked: `connection` and `batch` are touched only by the publisher's thread once
    // `start()` ran; the controller reads the atomics.
    /// The id the next packet gets.
    let nextID = Atomic<UInt32>(1)
    /// Packets stamped inside the current window.
    let sentInWindow = Atomic<Int>(0)
    /// Packets sent since start.
    let sentTotal = Atomic<Int>(0)
    /// The largest delay of a wake-up behind its schedule inside the window, in µs.
    let maxLateMicros = Atomic<Int>(0)
    private let windowStart = Atomic<UInt64>(.max)
    private let windowEnd = Atomic<UInt64>(0)
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    private let connection: ClientConnection
    private let profile: MediaProfile
    private let batch = UDPBatch(capacity: 16, slotSize: 1600)

    init(connection: ClientConnection, profile: MediaProfile) {
        self.connection = connection
        self.profile = profile
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
        maxLateMicros.store(0, ordering: .relaxed)
        windowEnd.store(end, ordering: .relaxed)
        windowStart.store(start, ordering: .releasing)
    }

    private func run() {
        let frameInterval = UInt64(1e9 / Double(profile.frameRate))
        let audioInterval = UInt64(profile.audioIntervalMs) * 1_000_000
        let bytesPerFrame = profile.videoBitrate / 8 / profile.frameRate
        let start = nowNanoseconds()
        var nextVideo = start, nextAudio = start + audioInterval / 2, nextService = start
        var videoSequence: UInt16 = 0, audioSequence: UInt16 = 0, pictureID: UInt16 = 0
        var videoTimestamp: UInt32 = 0, audioTimestamp: UInt32 = 0
        var credit = 0
        while running.load(ordering: .relaxed) {
            let next = min(nextVideo, nextAudio, nextService)
            sleep(untilNanoseconds: next)
            let now = nowNanoseconds()
            let window = (windowStart.load(ordering: .acquiring), windowEnd.load(ordering: .relaxed))
            if now >= window.0 && now < window.1 {
                let late = Int((now - next) / 1000)
                if late > maxLateMicros.load(ordering: .relaxed) { maxLateMicros.store(late, ordering: .relaxed) }
            }
            if now >= nextAudio {
                add(payloadType: ClientOffer.opusPayloadType, ssrc: Self.audioSSRC, sequence: audioSequence, timestamp: audioTimestamp,
                    marker: false, length: 12 + profile.audioPayloadBytes, prefix: [0x78], window: window)
                audioSequence &+= 1
                audioTimestamp &+= UInt32(48 * profile.audioIntervalMs)
                nextAudio = max(nextAudio + audioInterval, now > nextAudio + 1_000_000_000 ? now : 0)
            }
            if now >= nextVideo {
                credit += bytesPerFrame
                let count = max(1, credit / profile.videoPacketBytes)
                credit -= count * profile.videoPacketBytes
                for k in 0..<count {
                    if batch.isFull { connection.socket.send(batch) }
                    let descriptor: [UInt8] = [k == 0 ? 0x90 : 0x80, 0x80, 0x80 | UInt8(pictureID >> 8 & 0x7F), UInt8(pictureID & 0xFF)]
                    add(payloadType: ClientOffer.vp8PayloadType, ssrc: Self.videoSSRC, sequence: videoSequence, timestamp: videoTimestamp,
                        marker: k == count - 1, length: profile.videoPacketBytes, prefix: descriptor, window: window)
                    videoSequence &+= 1
                }
                pictureID = (pictureID &+ 1) & 0x7FFF
                videoTimestamp &+= UInt32(90_000 / profile.frameRate)
                nextVideo = max(nextVideo + frameInterval, now > nextVideo + 1_000_000_000 ? now : 0)
            }
            connection.socket.send(batch)
            if now >= nextService {
                connection.poll(timeoutMilliseconds: 0) { _, _ in }  // RTCP from the relay, consent responses
                connection.handleTimers()
                nextService = now + 20_000_000
            }
        }
    }

    /// The SSRCs the publisher announces and sends with.
    static let audioSSRC: UInt32 = 0x0A0D_1001
    static let videoSSRC: UInt32 = 0x0B1D_E001

    /// Writes one packet into the next slot: RTP header (RFC 3550 §5.1), `prefix` (VP8
    /// descriptor or Opus TOC), the probe stamped now, filler up to `length`; then SRTP.
    private func add(payloadType: UInt8, ssrc: UInt32, sequence: UInt16, timestamp: UInt32, marker: Bool,
                     length: Int, prefix: [UInt8], window: (UInt64, UInt64)) {
        let slot = batch.slot(batch.count)
        slot[0] = 0x80
        slot[1] = (marker ? 0x80 : 0) | payloadType
        slot.setU16(sequence, at: 2)
        slot.setU32(timestamp, at: 4)
        slot.setU32(ssrc, at: 8)
        for (i, byte) in prefix.enumerated() { slot[12 + i] = byte }
        let probe = 12 + prefix.count
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let stamp = nowNanoseconds()
        slot.setU64(stamp, at: probe)
        slot.setU32(id, at: probe + 8)
        guard let protected = try? connection.peer.protectRTP(slot, length: length) else { return }
        batch.commit(length: protected, to: connection.peer.relayAddress)
        sentTotal.wrappingAdd(1, ordering: .relaxed)
        if stamp >= window.0 && stamp < window.1 { sentInWindow.wrappingAdd(1, ordering: .relaxed) }
    }
}
