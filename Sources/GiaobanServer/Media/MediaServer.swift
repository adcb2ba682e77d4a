internal import CUDPBatch
internal import GiaobanUDP
public import GiaobanCrypto
public import GiaobanEngine
public import GiaobanWire
public import Logging
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The media plane's I/O: one UDP socket, one thread. The thread reads datagrams in
/// batches (`recvmmsg`), hands each to the `MediaRouter`, drives its timers, and sends
/// what it queued in batches (`sendmmsg`).
///
/// The control plane never touches the router directly: it posts work with `perform`,
/// which the thread runs between read batches, and reads counters from `snapshot`.
public final class MediaServer: @unchecked Sendable {
    // @unchecked: `router`, `output` and the receive buffers are used only by the media
    // thread; the rest is immutable or behind a Mutex.

    /// What the control plane can read at any time.
    public struct Snapshot: Sendable {
        /// The router's counters.
        public var counters = MediaCounters()
        /// Connected peers.
        public var peers = 0
    }

    /// The bound UDP port.
    public let port: UInt16
    /// The address peers are told to send to (ICE candidate).
    public let announcedAddress: String
    /// The DTLS certificate whose fingerprint goes in every answer.
    public let certificate: DTLSCertificate
    private let fd: Int32
    private let logger: Logger
    private let router: MediaRouter
    private let output: OutputQueue
    private let batch = 64
    private let slotSize = 2048
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    private let receiveLengths: UnsafeMutableBufferPointer<Int32>
    private let receiveAddresses: UnsafeMutableBufferPointer<giaoban_addr>
    private let sendAddresses: UnsafeMutableBufferPointer<giaoban_addr>
    private let pending = Mutex<[@Sendable (MediaRouter, ContinuousClock.Instant, OutputQueue) -> Void]>([])
    private let latest = Mutex(Snapshot())
    private let running = Atomic<Bool>(true)
    private let stopped = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let finished = Atomic<Bool>(false)
    private let removalHandler = Mutex<(@Sendable (String) -> Void)?>(nil)

    /// Calls `handler` on the media thread with the id of every peer the router removes
    /// (timeouts, DTLS failures, replacements), so sessions can be forgotten.
    public func onPeerRemoved(_ handler: @escaping @Sendable (String) -> Void) {
        removalHandler.withLock { $0 = handler }
    }

    /// Why the media socket could not be opened.
    public struct StartError: Error, CustomStringConvertible {
        /// The operator-facing message.
        public let description: String
    }

    /// Opens the UDP socket on `address` and the first port of `ports` that is free (0 picks
    /// any port), and starts the media thread.
    public init(address: String, ports: ClosedRange<Int>, announcedAddress: String, certificate: DTLSCertificate,
                settings: MediaRouter.Settings = .init(), logger: Logger) throws {
        var bound: UInt16 = 0
        var fd: Int32 = -EINVAL
        for port in ports {
            fd = giaoban_udp_open(address, UInt16(port), &bound)
            if fd >= 0 || fd != -EADDRINUSE { break }
        }
        guard fd >= 0 else {
            let which = ports.count == 1 ? "\(ports.lowerBound)" : "any port of \(ports.lowerBound)-\(ports.upperBound)"
            throw StartError(description: "cannot bind UDP \(address):\(which): \(String(cString: strerror(-fd)))")
        }
        self.fd = fd
        self.port = bound
        self.announcedAddress = announcedAddress.isEmpty ? address : announcedAddress
        self.certificate = certificate
        self.logger = logger
        let context = try DTLSContext(certificate: certificate)
        router = MediaRouter(settings: settings, dtlsContext: context, now: .now)
        receiveBuffer = .allocate(byteCount: batch * slotSize, alignment: 16)
        receiveLengths = .allocate(capacity: batch)
        receiveLengths.initialize(repeating: 0)
        receiveAddresses = .allocate(capacity: batch)
        receiveAddresses.initialize(repeating: giaoban_addr())
        let queue = OutputQueue(capacity: 512, slotSize: 1600)
        output = queue
        sendAddresses = .allocate(capacity: queue.capacity)
        sendAddresses.initialize(repeating: giaoban_addr())
        let sendAddresses = self.sendAddresses
        queue.flush = { q in
            for i in 0..<q.count { sendAddresses[i] = q.destinations[i].socketAddress }
            _ = giaoban_udp_send_batch(fd, q.storage.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(q.slotSize),
                                       q.lengths.baseAddress!, sendAddresses.baseAddress!, Int32(q.count))
        }
        let thread = Thread { [self] in self.loop() }
        thread.name = "giaoban-media"
        thread.start()
        logger.info("media socket bound", metadata: ["udp": "\(address):\(bound)", "announced": "\(self.announcedAddress)",
                                                     "fingerprint": "\(certificate.fingerprint.sdpValue)"])
    }

    /// Opens the UDP socket on `address`:`port` (0 picks a port) and starts the media thread.
    public convenience init(address: String, port: Int, announcedAddress: String, certificate: DTLSCertificate,
                            settings: MediaRouter.Settings = .init(), logger: Logger) throws {
        try self.init(address: address, ports: port...port, announcedAddress: announcedAddress, certificate: certificate,
                      settings: settings, logger: logger)
    }

    deinit {
        giaoban_udp_close(fd)
        receiveBuffer.deallocate()
        receiveLengths.deallocate()
        receiveAddresses.deallocate()
        sendAddresses.deallocate()
    }

    /// Runs `work` on the media thread between read batches and returns its result.
    public func perform<T: Sendable>(_ work: @escaping @Sendable (MediaRouter, ContinuousClock.Instant, OutputQueue) -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            pending.withLock { $0.append { router, now, out in continuation.resume(returning: work(router, now, out)) } }
        }
    }

    /// Runs `work` on the media thread between read batches, without waiting (from threads
    /// that must not block, such as a mixer's clock).
    public func post(_ work: @escaping @Sendable (MediaRouter, ContinuousClock.Instant, OutputQueue) -> Void) {
        pending.withLock { $0.append(work) }
    }

    /// The latest counters (refreshed every 100 ms by the media thread).
    public var snapshot: Snapshot { latest.withLock { $0 } }

    /// Stops the media thread and waits for it to finish.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if finished.load(ordering: .acquiring) { continuation.resume(); return }
            stopped.withLock { $0 = continuation }
            running.store(false, ordering: .releasing)
        }
    }

    private func loop() {
        var lastTick = ContinuousClock.now
        var lastSnapshot = lastTick
        // Peers removed since memory was last given back (see `releaseFreedMemory`).
        var removedSinceTrim = 0
        var lastTrim = lastTick
        while running.load(ordering: .relaxed) {
            let n = giaoban_udp_recv_batch(fd, receiveBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(slotSize),
                                           Int32(batch), receiveLengths.baseAddress!, receiveAddresses.baseAddress!, 5)
            let now = ContinuousClock.now
            if n > 0 {
                for i in 0..<Int(n) {
                    let length = Int(receiveLengths[i])
                    guard length > 0 else {
                        router.countDrop(.truncated)
                        continue
                    }
                    let datagram = UnsafeMutableRawBufferPointer(rebasing: receiveBuffer[(i * slotSize)..<(i * slotSize + length)])
                    router.handle(datagram, from: STUNAddress(receiveAddresses[i]), now: now, out: output)
                }
            } else if n < 0 {
                logger.error("UDP receive failed", metadata: ["error": "\(String(cString: strerror(-n)))"])
            }
            let work = pending.withLock { items -> [@Sendable (MediaRouter, ContinuousClock.Instant, OutputQueue) -> Void] in
                defer { items.removeAll() }
                return items
            }
            for item in work { item(router, now, output) }
            if now - lastTick >= .milliseconds(10) {
                lastTick = now
                router.tick(now: now, wallClock: Self.ntpNow(), out: output)
            }
            output.flushNow()
            for event in router.drainEvents() {
                if case .removed = event { removedSinceTrim += 1 }
                log(event)
            }
            if removedSinceTrim > 0 && now - lastTrim >= Self.trimInterval {
                removedSinceTrim = 0
                lastTrim = now
                Self.releaseFreedMemory()
            }
            if now - lastSnapshot >= .milliseconds(100) {
                lastSnapshot = now
                let snap = Snapshot(counters: router.counters, peers: router.peerCount)
                latest.withLock { $0 = snap }
            }
        }
        finished.store(true, ordering: .releasing)
        stopped.withLock { $0?.resume(); $0 = nil }
    }

    private func log(_ event: MediaRouter.PeerEvent) {
        switch event {
        case .nominated(let peer, let address): logger.debug("ICE nominated", metadata: ["peer": "\(peer)", "address": "\(address)"])
        case .connected(let peer): logger.info("peer connected (DTLS-SRTP up)", metadata: ["peer": "\(peer)"])
        case .removed(let peer, let reason):
            logger.info("peer removed", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
            removalHandler.withLock { $0 }?(peer)
        }
    }

    /// At most how often freed memory is given back to the kernel after peers were removed.
    static let trimInterval: Duration = .seconds(10)

    /// Gives the pages glibc keeps after many peers were freed (their DTLS, SRTP and packet
    /// caches) back to the kernel: without it the resident size stays at its peak after a
    /// flood of sessions expired. Runs off the media thread (it walks every arena).
    static func releaseFreedMemory() {
        DispatchQueue.global(qos: .utility).async { _ = giaoban_release_free_memory() }
    }

    /// The current time as a 64-bit NTP timestamp (RFC 5905 §6), for sender reports.
    static func ntpNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let seconds = UInt64(ts.tv_sec) + 2_208_988_800
        let fraction = (UInt64(ts.tv_nsec) << 32) / 1_000_000_000
        return seconds << 32 | fraction
    }
}
