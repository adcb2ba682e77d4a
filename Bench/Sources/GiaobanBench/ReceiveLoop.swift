import Foundation
import GiaobanClient
import GiaobanWire
import Synchronization
import GiaobanTransport

#if canImport(Glibc)
import Glibc
#endif

/// The subscribers' receive thread: one `poll` over every subscriber socket, `recvmmsg` on
/// each ready one, SRTP unprotect through the subscriber's `ClientPeer`, then per packet the
/// latency (receive time − the probe's send time, both CLOCK_MONOTONIC) and the packet id
/// in that subscriber's bitmap (unique ids, for loss).
///
/// Only packets whose send time lies in the measurement window count. The controller opens
/// a window before it starts and collects the figures after it ended plus a grace period.
final class ReceiveLoop: @unchecked Sendable {
    // @unchecked: the subscribers and statistics are owned by the receive thread; the
    // controller talks to it through the Mutex-protected mailboxes only.
    /// A measurement window.
    struct Window: Sendable {
        /// Send times in [start, end) count (CLOCK_MONOTONIC ns).
        var start: UInt64
        var end: UInt64
        /// An id at or below the window's first packet id: bit 0 of every bitmap.
        var baseID: UInt32
        /// Bits per subscriber bitmap (ids base..<base+bits).
        var bits: Int
    }

    /// What the thread measured in one window.
    struct Figures: Sendable {
        /// Latency of every counted packet, ns (saturating at UInt32.max).
        var latencies: [UInt32] = []
        /// Unique ids received per subscriber.
        var unique: [Int] = []
        /// Packets received again with an id already seen.
        var duplicates = 0
        /// Datagrams the subscribers' peers dropped (SRTP failures and the like).
        var drops = 0
    }

    private enum Command: Sendable {
        case open(Window)
        case collect
    }

    private let incoming = Mutex<[Handoff<ClientConnection>]>([])
    private let commands = Mutex<[Command]>([])
    private let reply = Mutex<Figures?>(nil)
    private let loop = LoopThread()
    private let subscriberCount = Atomic<Int>(0)
    /// The receive thread's CPU time in µs (getrusage RUSAGE_THREAD), updated every 100 ms.
    let cpuMicros = Atomic<Int>(0)
    /// RTP packets received by all subscribers since start, window or not (what a forwarder
    /// without its own counter forwarded).
    let rtpReceived = Atomic<Int>(0)

    /// Subscribers handed to the thread so far.
    var count: Int { subscriberCount.load(ordering: .relaxed) }

    /// Hands a connected subscriber to the thread; the caller must not use it afterwards.
    func add(_ connection: ClientConnection) {
        incoming.withLock { $0.append(Handoff(connection)) }
        subscriberCount.wrappingAdd(1, ordering: .relaxed)
    }

    /// Starts counting packets sent inside `window`, forgetting earlier figures.
    func open(_ window: Window) { commands.withLock { $0.append(.open(window)) } }

    /// Returns the figures of the current window and closes it (waits at most 5 s).
    func collect() -> Figures? {
        reply.withLock { $0 = nil }
        commands.withLock { $0.append(.collect) }
        let deadline = nowNanoseconds() + 5_000_000_000
        while nowNanoseconds() < deadline {
            if let figures = reply.withLock({ $0 }) { return figures }
            sleep(seconds: 0.002)
        }
        return nil
    }

    /// Starts the thread.
    func start() {
        loop.start(name: "bench-receive") { [self] in run() }
    }

    /// Stops the thread and waits for it (at most 2 s); its subscribers are released.
    func stop() {
        loop.stop()
    }

    private func run() {
        var subscribers: [ClientConnection] = []
        var fds: [pollfd] = []
        var bitmaps: [[UInt64]] = []
        var uniques: [Int] = []
        var figures = Figures()
        var window: Window?
        let batch = UDPBatch(capacity: 64, slotSize: 2048)
        var nextTimers = nowNanoseconds()

        while loop.isRunning {
            for handoff in incoming.withLock({ list -> [Handoff<ClientConnection>] in defer { list.removeAll() }; return list }) {
                subscribers.append(handoff.value)
                fds.append(pollfd(fd: handoff.value.socket.fd, events: Int16(POLLIN), revents: 0))
                bitmaps.append([UInt64](repeating: 0, count: ((window?.bits ?? 0) + 63) / 64))
                uniques.append(0)
            }
            for command in commands.withLock({ list -> [Command] in defer { list.removeAll() }; return list }) {
                switch command {
                case .open(let w):
                    window = w
                    figures = Figures()
                    uniques = [Int](repeating: 0, count: subscribers.count)
                    figures.latencies.reserveCapacity(subscribers.count * w.bits / 2)
                    figures.drops = -subscribers.reduce(0) { $0 + $1.peer.drops.total }
                    bitmaps = [[UInt64]](repeating: [UInt64](repeating: 0, count: (w.bits + 63) / 64), count: subscribers.count)
                case .collect:
                    figures.drops += subscribers.reduce(0) { $0 + $1.peer.drops.total }
                    figures.unique = uniques
                    let done = figures
                    reply.withLock { $0 = done }
                    window = nil
                    figures = Figures()
                    uniques = [Int](repeating: 0, count: subscribers.count)
                }
            }
            let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), 5) }
            if ready > 0 {
                for i in fds.indices where fds[i].revents & Int16(POLLIN) != 0 {
                    let subscriber = subscribers[i]
                    var n = 0, reads = 0
                    repeat {
                        reads += 1
                        n = subscriber.socket.receive(into: batch, timeoutMilliseconds: 0)
                        let received = nowNanoseconds()
                        let now = ContinuousClock.now
                        var rtp = 0
                        defer { rtpReceived.wrappingAdd(rtp, ordering: .relaxed) }
                        for k in 0..<n {
                            let datagram = batch.datagram(k)
                            guard case .rtp(let length) = subscriber.peer.receive(datagram, now: now) else { continue }
                            rtp += 1
                            guard let window else { continue }
                            record(UnsafeRawBufferPointer(rebasing: datagram[0..<length]), received: received, window: window,
                                   bitmap: &bitmaps[i], unique: &uniques[i], figures: &figures)
                        }
                        if subscriber.peer.hasOutgoing { subscriber.flush() }
                    } while n == batch.capacity && reads < 16  // then the other sockets get their turn
                }
            } else if ready < 0 && errno != EINTR {
                sleep(seconds: 0.001)
            }
            let now = nowNanoseconds()
            if now >= nextTimers {
                for subscriber in subscribers { subscriber.handleTimers() }  // consent checks (RFC 7675)
                nextTimers = now + 100_000_000
                cpuMicros.store(Int(ProcessStats.threadCPUSeconds() * 1e6), ordering: .relaxed)
            }
        }
    }

    @inline(__always)
    private func record(_ packet: UnsafeRawBufferPointer, received: UInt64, window: Window,
                        bitmap: inout [UInt64], unique: inout Int, figures: inout Figures) {
        guard let view = try? RTPPacketView(packet), let offset = Probe.offset(payloadType: view.payloadType) else { return }
        let payload = view.payload
        guard payload.count >= offset + Probe.size else { return }
        let sent = payload.u64(at: offset)
        guard sent >= window.start && sent < window.end else { return }
        figures.latencies.append(received > sent ? UInt32(clamping: received - sent) : 0)
        let index = Int(payload.u32(at: offset + 8) &- window.baseID)
        guard index < window.bits else { return }
        let mask: UInt64 = 1 << UInt64(index & 63)
        if bitmap[index >> 6] & mask != 0 {
            figures.duplicates += 1
        } else {
            bitmap[index >> 6] |= mask
            unique += 1
        }
    }
}
