import Foundation
import GiaobanClient
import GiaobanCodecs
import GiaobanWire
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One thread for a mixed meeting's load: it sends the speakers' pre-encoded Opus (one
/// 20 ms packet per speaker per tick, with the RFC 6464 level when the answer accepted it)
/// and receives every listener's mix (SRTP unprotected, counted per listener by payload
/// type). Between ticks it polls every socket; every 100 ms it runs the peers' timers
/// (consent) and publishes the counts.
final class MixLoad: @unchecked Sendable {
    // @unchecked: connections and counts are owned by the thread; the controller uses the
    // Mutex-protected mailboxes and snapshots only.
    /// A speaker: its connection, what it sends and the extension ID for the level.
    struct Speaker {
        let connection: ClientConnection
        let ssrc: UInt32
        let levelExtensionID: UInt8?
        /// One second of pre-encoded 20 ms Opus packets and their levels, replayed.
        let packets: [[UInt8]]
        let levels: [AudioLevelExtension]
        /// Whether the same connection also receives the mix (one send-receive session, as
        /// with AudioBridge); its Opus packets are then counted as a listener's.
        var listens = false
    }

    /// What the listeners received so far.
    struct Counts: Sendable {
        /// Opus packets per listener, in joining order.
        var audio: [Int] = []
        /// Other RTP packets (the composed video), all listeners.
        var otherRTP = 0
        /// Audio packets the speakers sent.
        var sent = 0
        /// When these counts were taken (CLOCK_MONOTONIC ns).
        var at: UInt64 = 0
    }

    private let incomingSpeakers = Mutex<[Handoff<Speaker>]>([])
    private let incomingListeners = Mutex<[Handoff<ClientConnection>]>([])
    private let snapshot = Mutex(Counts())
    private let loop = LoopThread()
    /// The thread's CPU time in µs, updated every 100 ms.
    let cpuMicros = Atomic<Int>(0)

    func add(speaker: Speaker) { incomingSpeakers.withLock { $0.append(Handoff(speaker)) } }
    func add(listener: ClientConnection) { incomingListeners.withLock { $0.append(Handoff(listener)) } }

    /// The counts as of at most 100 ms ago.
    var counts: Counts { snapshot.withLock { $0 } }

    func start() { loop.start(name: "bench-mix-load") { [self] in run() } }

    /// Stops the thread (at most 2 s); its connections are released.
    func stop() { loop.stop() }

    /// Encodes one second (50 packets) of `frequency` Hz at `amplitude`, or digital silence at 0.
    static func encodedSecond(frequency: Double, amplitude: Double) throws -> (packets: [[UInt8]], levels: [AudioLevelExtension]) {
        let encoder = try OpusAudioEncoder()
        var tone = ToneGenerator(frequency: frequency, amplitude: max(amplitude, 0.0001))
        var packets: [[UInt8]] = [], levels: [AudioLevelExtension] = []
        for _ in 0..<50 {
            let frame = amplitude > 0 ? tone.nextFrame() : [Int16](repeating: 0, count: OpusFormat.samplesPerFrame)
            packets.append(try encoder.encode(frame))
            levels.append(AudioLevelExtension(measuring: frame))
        }
        return (packets, levels)
    }

    private struct SendState {
        var speaker: Speaker
        var sequence = UInt16.random(in: 0...UInt16.max)
        var timestamp = UInt32.random(in: 0...UInt32.max)
        var index = 0
    }

    private func run() {
        var speakers: [SendState] = []
        var listeners: [ClientConnection] = []
        var counts = Counts()
        var fds: [pollfd] = []
        var owners: [(listener: Bool, index: Int)] = []
        var buffer = [UInt8](repeating: 0, count: 1500)
        let tick: UInt64 = 20_000_000
        var nextTick = nowNanoseconds() + tick
        var nextTimers = nowNanoseconds()
        while loop.isRunning {
            for h in incomingSpeakers.withLock({ l -> [Handoff<Speaker>] in defer { l.removeAll() }; return l }) {
                speakers.append(SendState(speaker: h.value))
                fds.append(pollfd(fd: h.value.connection.socket.fd, events: Int16(POLLIN), revents: 0))
                if h.value.listens {
                    listeners.append(h.value.connection)
                    counts.audio.append(0)
                    owners.append((true, listeners.count - 1))
                } else {
                    owners.append((false, speakers.count - 1))
                }
            }
            for h in incomingListeners.withLock({ l -> [Handoff<ClientConnection>] in defer { l.removeAll() }; return l }) {
                listeners.append(h.value)
                counts.audio.append(0)
                fds.append(pollfd(fd: h.value.socket.fd, events: Int16(POLLIN), revents: 0))
                owners.append((true, listeners.count - 1))
            }
            var now = nowNanoseconds()
            if now >= nextTick {
                for i in speakers.indices { send(&speakers[i], buffer: &buffer) }
                counts.sent += speakers.count
                nextTick += tick
                if now > nextTick + 1_000_000_000 { nextTick = now + tick }  // stalled: no burst to catch up
            }
            let wait = Int32(min(5, max(0, (Int64(nextTick) - Int64(now)) / 1_000_000)))
            let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), wait) }
            if ready > 0 {
                for k in fds.indices where fds[k].revents & Int16(POLLIN) != 0 {
                    let owner = owners[k]
                    if owner.listener {
                        let connection = listeners[owner.index]
                        var reads = 0
                        while reads < 8, connection.poll(timeoutMilliseconds: 0, onMedia: { incoming, datagram in
                            guard case .rtp = incoming else { return }
                            if datagram[1] & 0x7F == ClientOffer.opusPayloadType { counts.audio[owner.index] += 1 } else { counts.otherRTP += 1 }
                        }) > 0 { reads += 1 }
                    } else {
                        _ = speakers[owner.index].speaker.connection.poll(timeoutMilliseconds: 0) { _, _ in }
                    }
                }
            }
            now = nowNanoseconds()
            if now >= nextTimers {
                for s in speakers where !s.speaker.listens { s.speaker.connection.handleTimers() }
                for l in listeners { l.handleTimers() }  // consent checks (RFC 7675)
                counts.at = now
                snapshot.withLock { $0 = counts }
                cpuMicros.store(Int(ProcessStats.threadCPUSeconds() * 1e6), ordering: .relaxed)
                nextTimers = now + 100_000_000
            }
        }
        for s in speakers where !s.speaker.listens { s.speaker.connection.close() }
        for l in listeners { l.close() }
    }

    /// One packet of one speaker: RTP header (RFC 3550 §5.1) with the one-byte level
    /// extension (RFC 8285 §4.2, RFC 6464 §4) when negotiated, the Opus payload, SRTP.
    private func send(_ state: inout SendState, buffer: inout [UInt8]) {
        let s = state.speaker
        let payload = s.packets[state.index % s.packets.count]
        let level = s.levels[state.index % s.levels.count]
        var header: [UInt8] = [s.levelExtensionID == nil ? 0x80 : 0x90, ClientOffer.opusPayloadType,
                               UInt8(state.sequence >> 8), UInt8(state.sequence & 0xFF),
                               UInt8(state.timestamp >> 24), UInt8(state.timestamp >> 16 & 0xFF),
                               UInt8(state.timestamp >> 8 & 0xFF), UInt8(state.timestamp & 0xFF),
                               UInt8(s.ssrc >> 24), UInt8(s.ssrc >> 16 & 0xFF), UInt8(s.ssrc >> 8 & 0xFF), UInt8(s.ssrc & 0xFF)]
        if let id = s.levelExtensionID {
            header += [0xBE, 0xDE, 0, 1, id << 4, (level.voiceActivity ? 0x80 : 0) | level.level & 0x7F, 0, 0]
        }
        let length = header.count + payload.count
        buffer.withUnsafeMutableBytes { out in
            for (i, b) in header.enumerated() { out[i] = b }
            for (i, b) in payload.enumerated() { out[header.count + i] = b }
            guard let protected = try? s.connection.peer.protectRTP(out, length: length) else { return }
            _ = s.connection.socket.send(UnsafeRawBufferPointer(rebasing: out[0..<protected]), to: s.connection.peer.relayAddress)
        }
        state.sequence &+= 1
        state.timestamp &+= UInt32(OpusFormat.samplesPerFrame)
        state.index += 1
    }
}
