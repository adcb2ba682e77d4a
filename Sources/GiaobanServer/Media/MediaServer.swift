public import GiaobanTransport
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
/// what it queued in batches (`sendmmsg`). With ICE-TCP on, the same thread also serves a
/// TCP listener (RFC 6544 passive candidate) whose connections carry framed packets
/// (RFC 4571) for peers whose UDP is blocked; the router sees them as addresses of their own.
///
/// The control plane never touches the router directly: it sends typed commands (`send`)
/// and queries (`ask`), which the thread executes in order between read batches; hears of
/// the router's events through `onEvent`; and reads counters from `snapshot`.
public final class MediaServer: @unchecked Sendable {
    // @unchecked: `router`, `output` and the receive buffers are used only by the media
    // thread; the rest is immutable or behind a Mutex.

    /// What the control plane can read at any time.
    public struct Snapshot: Sendable {
        /// The router's counters.
        public var counters = MediaCounters()
        /// Connected peers.
        public var peers = 0
        /// The ICE-TCP listener's counters; nil when ICE-TCP is off.
        public var tcp: ICETCPListener.Counters?
        /// Packets the egress workers could not protect (and so did not send).
        public var egressProtectFailures = 0
    }

    /// The bound UDP port.
    public let port: UInt16
    /// The bound ICE-TCP port; nil when ICE-TCP is off.
    public let tcpPort: UInt16?
    /// The address peers are told to send to (ICE candidate).
    public let announcedAddress: String
    /// The DTLS certificate whose fingerprint goes in every answer.
    public let certificate: DTLSCertificate
    private let socket: UDPSocket
    private let tcp: ICETCPListener?
    /// The egress lanes' threads beyond the media thread's own lane 0 (`media.workers` − 1).
    private let workers: [EgressWorker]
    /// The number of egress lanes (`media.workers`).
    public var workerCount: Int { workers.count + 1 }
    private let logger: Logger
    private let router: MediaRouter
    private let output: OutputQueue
    private let received = UDPBatch(capacity: 64, slotSize: 2048)
    private let pending = Mutex<[@Sendable (MediaRouter, ContinuousClock.Instant, OutputQueue) -> Void]>([])
    /// Wakes the media thread when work is posted while it waits for datagrams (up to 5 ms
    /// otherwise): one byte from this socket to the media socket, dropped unread by the loop.
    /// Packets handed over by a trunk, a camera or the mixer go out without that wait.
    private let waker: (socket: UDPSocket, target: STUNAddress)?
    /// True while the media thread may block in its receive.
    private let waiting = Atomic<Bool>(false)
    private let latest = Mutex(Snapshot())
    private let running = Atomic<Bool>(true)
    private let stopped = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let finished = Atomic<Bool>(false)
    private let eventHandlers = Mutex<[@Sendable (MediaEvent) -> Void]>([])

    /// Calls `handler` on the media thread with every event of the router (a peer removed by a
    /// timeout, a DTLS failure or a replacement, a room's new speaker, …), beside the handlers
    /// added before (the sessions, the rooms); it must not block.
    public func onEvent(_ handler: @escaping @Sendable (MediaEvent) -> Void) {
        eventHandlers.withLock { $0.append(handler) }
    }

    /// Why the media socket could not be opened.
    public struct StartError: Error, CustomStringConvertible {
        /// The operator-facing message.
        public let description: String
    }

    /// Opens the UDP socket on `address` and the first port of `ports` that is free (0 picks
    /// any port), with `tcpPort` the ICE-TCP listener (nil: none; 0: any free port), and
    /// starts the media thread and `workers` − 1 egress workers. With `segmentation`, the
    /// datagrams a flush sends to one peer leave in one segmented send (UDP_SEGMENT).
    public init(address: String, ports: ClosedRange<Int>, tcpPort: Int? = nil, announcedAddress: String,
                certificate: DTLSCertificate, settings: MediaRouter.Settings = .init(), workers: Int = 1,
                segmentation: Bool = true, logger: Logger) throws {
        let socket: UDPSocket
        do { socket = try UDPSocket(host: address, ports: ports) } catch { throw StartError(description: error.description) }
        self.socket = socket
        let bound = socket.port
        self.port = bound
        let loopback = address == "0.0.0.0" ? "127.0.0.1" : address
        if let target = UDPSocket.ipv4(loopback, port: bound), let wakeSocket = try? UDPSocket(host: loopback, ports: 0...0) {
            waker = (wakeSocket, target)
        } else {
            waker = nil
        }
        var tcp: ICETCPListener?
        if let tcpPort {
            guard let port = UInt16(exactly: tcpPort) else { throw StartError(description: "media.tcp_port \(tcpPort) is not a port") }
            do { tcp = try ICETCPListener(host: address, port: port) } catch { throw StartError(description: error.description) }
        }
        self.tcp = tcp
        self.tcpPort = tcp?.port
        self.announcedAddress = announcedAddress.isEmpty ? address : announcedAddress
        self.certificate = certificate
        self.logger = logger
        let context = try DTLSContext(certificate: certificate)
        let lanes = max(1, workers)
        var settings = settings
        settings.egressLanes = lanes
        router = MediaRouter(settings: settings, dtlsContext: context, now: .now)
        let queue = OutputQueue(capacity: Self.batchSlots, slotSize: 1600, lanes: lanes)
        output = queue
        let sender = UDPSlotSender(socket: socket, segmenting: segmentation)
        queue.flush = { q in
            EgressSend.send(q.storage, slotSize: q.slotSize, lengths: q.lengths, destinations: q.destinations, count: q.count,
                            streamed: q.streamed > 0, udp: sender, tcp: tcp)
        }
        let workers = (1..<lanes).map { lane in
            EgressWorker.start(lane: lane, socket: socket, tcp: tcp, capacity: queue.capacity, slotSize: queue.slotSize,
                               segmentation: segmentation)
        }
        self.workers = workers
        if !workers.isEmpty {
            queue.handOff = { lane, batch in workers[lane - 1].handOff(batch) }
            queue.flushLane = { lane, batch in workers[lane - 1].flush(batch, inlineBelow: Self.inlineBelow, sender: sender) }
        }
        let thread = Thread { [self] in
            ThreadName.set("giaoban-media")
            self.loop()
        }
        thread.name = "giaoban-media"
        thread.start()
        logger.info("media socket bound", metadata: ["udp": "\(address):\(bound)", "announced": "\(self.announcedAddress)",
                                                     "ice_tcp": "\(tcp.map { "\(address):\($0.port)" } ?? "off")",
                                                     "workers": "\(lanes)", "udp_segmentation": "\(segmentation)",
                                                     "fingerprint": "\(certificate.fingerprint.sdpValue)"])
    }

    /// Opens the UDP socket on `address`:`port` (0 picks a port), and the ICE-TCP listener on
    /// `tcpPort` when given, and starts the media thread.
    public convenience init(address: String, port: Int, tcpPort: Int? = nil, announcedAddress: String,
                            certificate: DTLSCertificate, settings: MediaRouter.Settings = .init(), workers: Int = 1,
                            segmentation: Bool = true, logger: Logger) throws {
        try self.init(address: address, ports: port...port, tcpPort: tcpPort, announcedAddress: announcedAddress,
                      certificate: certificate, settings: settings, workers: workers, segmentation: segmentation, logger: logger)
    }

    /// What every answer and offer of the relay says about its side: the announced address,
    /// the UDP port, the ICE-TCP port if any, and the DTLS fingerprint.
    public var localTransport: LocalTransport {
        LocalTransport(address: announcedAddress, port: port, tcpPort: tcpPort, fingerprint: certificate.fingerprint)
    }

    /// Executes `command` on the media thread, after everything sent before it; returns why it
    /// failed, nil when it did what it asked.
    @discardableResult
    public func send(_ command: MediaCommand) async -> MediaFailure? {
        await withCheckedContinuation { (continuation: CheckedContinuation<MediaFailure?, Never>) in
            post { router, now, out in continuation.resume(returning: router.apply(command, now: now, out: out)) }
        }
    }

    /// Queues `command` for the media thread, after everything sent before it, without waiting
    /// for its outcome: for a caller that cannot wait, such as one keeping a room's stream group
    /// current from inside its lock, so that commands go out in the order of the changes.
    public func enqueue(_ command: MediaCommand) {
        post { router, now, out in _ = router.apply(command, now: now, out: out) }
    }

    /// Answers `query` on the media thread, after every command sent before it.
    public func ask<Answer>(_ query: MediaQuery<Answer>) async -> Answer {
        await withCheckedContinuation { (continuation: CheckedContinuation<Answer, Never>) in
            post { router, _, _ in continuation.resume(returning: router.answer(query)) }
        }
    }

    /// Runs `work` on the media thread between read batches, without waiting (waking the thread
    /// if it waits for datagrams). Beside `send`, `enqueue` and `ask`, only for the server's own
    /// sources on threads that must not block: the mixers' clocks (`MeetingMix`, encoded mixes
    /// written straight into the output queue with `MediaRouter.sendLocal`), the cameras and the
    /// trunks (`MediaRouter.injectRTP`).
    func post(_ work: @escaping @Sendable (MediaRouter, ContinuousClock.Instant, OutputQueue) -> Void) {
        pending.withLock { $0.append(work) }
        wake()
    }

    /// Wakes the media thread if it waits for datagrams (posted work was appended before).
    private func wake() {
        if waiting.exchange(false, ordering: .sequentiallyConsistent), let waker {
            _ = waker.socket.send([0], to: waker.target)
        }
    }

    /// False once the media thread has stopped (`shutdown`).
    public var isRunning: Bool { !finished.load(ordering: .acquiring) }

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

    /// Slots of one egress batch: a frame of six packets to 170 peers of a lane fits whole, so
    /// a segmented send (`media.udp_segmentation`) carries the whole frame to each of them.
    static let batchSlots = 1024

    /// How often the router's timers run (`MediaRouter.tick`).
    static let tickInterval = Duration.milliseconds(10)

    /// The receive's wait in whole milliseconds to cover `untilTick`: 1…10.
    static func pollTimeout(untilTick: Duration) -> Int32 {
        let (seconds, attoseconds) = untilTick.components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(max(1, min(10, ms)))
    }

    private func loop() {
        var lastTick = ContinuousClock.now
        var lastSnapshot = lastTick
        // Peers removed since memory was last given back (see `releaseFreedMemory`).
        var removedSinceTrim = 0
        var lastTrim = lastTick
        var descriptors: [pollfd] = []
        let wakeFrom = waker?.socket.localAddress
        while running.load(ordering: .relaxed) {
            let n: Int
            // Posted work (appended before `wake` reads this flag) is either seen here or wakes the wait.
            waiting.store(true, ordering: .sequentiallyConsistent)
            // Sleep until the next tick at most: a wake-up of this thread is its most expensive
            // single item when few packets arrive (on the 2-core VM a wake from another core
            // costs ~15 µs of CPU), so it should not wake for nothing between ticks.
            let timeout: Int32 = pending.withLock { $0.isEmpty } ? Self.pollTimeout(untilTick: lastTick + Self.tickInterval - ContinuousClock.now) : 0
            if let tcp {
                descriptors.removeAll(keepingCapacity: true)
                descriptors.append(pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0))
                tcp.addPollDescriptors(to: &descriptors)
                _ = poll(&descriptors, nfds_t(descriptors.count), timeout)
                n = descriptors[0].revents != 0 ? socket.receive(into: received, timeoutMilliseconds: 0) : 0
            } else {
                n = socket.receive(into: received, timeoutMilliseconds: timeout)
            }
            waiting.store(false, ordering: .relaxed)
            let now = ContinuousClock.now
            for i in 0..<n {
                if let wakeFrom, received.address(i) == wakeFrom { continue }  // a wake-up, not a peer's datagram
                guard received.lengths[i] > 0 else {
                    router.countDrop(.truncated)
                    continue
                }
                router.handle(received.datagram(i), from: received.address(i), now: now, out: output)
            }
            if let tcp {
                let (router, output) = (router, output)
                tcp.service(descriptors[1...], now: now, deliver: { frame, address in
                    router.handle(frame, from: address, now: now, out: output)
                }, closed: { router.pathClosed($0) })
            }
            if socket.lastReceiveError != 0 {
                logger.error("UDP receive failed", metadata: ["error": "\(String(cString: strerror(socket.lastReceiveError)))"])
            }
            let work = pending.withLock { items -> [@Sendable (MediaRouter, ContinuousClock.Instant, OutputQueue) -> Void] in
                defer { items.removeAll() }
                return items
            }
            for item in work { item(router, now, output) }
            if now - lastTick >= Self.tickInterval {
                lastTick = now
                router.tick(now: now, wallClock: Self.ntpNow(), out: output)
            }
            output.flushNow()
            for event in router.drainEvents() {
                if case .removed = event { removedSinceTrim += 1 }
                report(event)
            }
            if removedSinceTrim > 0 && now - lastTrim >= Self.trimInterval {
                removedSinceTrim = 0
                lastTrim = now
                Self.releaseFreedMemory()
            }
            if now - lastSnapshot >= .milliseconds(100) {
                lastSnapshot = now
                let snap = Snapshot(counters: router.counters, peers: router.peerCount, tcp: tcp?.counters,
                                    egressProtectFailures: workers.reduce(0) { $0 + $1.protectFailures.load(ordering: .relaxed) })
                latest.withLock { $0 = snap }
            }
        }
        output.flushNow()
        for worker in workers { worker.stop() }
        finished.store(true, ordering: .releasing)
        stopped.withLock { $0?.resume(); $0 = nil }
    }

    /// Logs `event` and hands it to the `onEvent` handler.
    private func report(_ event: MediaEvent) {
        switch event {
        case .nominated(let peer, let address): logger.debug("ICE nominated", metadata: ["peer": "\(peer)", "address": "\(address)"])
        case .connected(let peer): logger.info("peer connected (DTLS-SRTP up)", metadata: ["peer": "\(peer)"])
        case .removed(let peer, let reason):
            logger.info("peer removed", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
        case .speakerChanged(let group, let stream):
            logger.debug("speaker changed", metadata: ["group": "\(group)", "stream": "\(stream)"])
        }
        for handler in eventHandlers.withLock({ $0 }) { handler(event) }
    }

    /// At most how often freed memory is given back to the kernel after peers were removed.
    static let trimInterval: Duration = .seconds(10)

    /// A flush sends another lane's batch on the media thread itself when it holds fewer
    /// packets than this and the lane's worker is idle (docs/udp-loop.md, "Small fan-outs"):
    /// waking a worker costs more than protecting and sending a few packets.
    static let inlineBelow = 32

    /// Gives the pages glibc keeps after many peers were freed (their DTLS, SRTP and packet
    /// caches) back to the kernel: without it the resident size stays at its peak after a
    /// flood of sessions expired. Runs off the media thread (it walks every arena).
    static func releaseFreedMemory() {
        DispatchQueue.global(qos: .utility).async { ProcessMemory.releaseFree() }
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
