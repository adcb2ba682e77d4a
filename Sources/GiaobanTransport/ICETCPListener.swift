internal import CUDPBatch
public import GiaobanWire
import Synchronization

#if canImport(Glibc)
public import Glibc
#endif

/// The relay's passive ICE-TCP endpoint (RFC 6544): a TCP listener whose connections carry
/// STUN, DTLS and SRTP packets, each framed by a 2-byte length (RFC 4571), for peers whose
/// UDP is blocked. Used from one thread, the media thread, which polls its descriptors beside
/// the UDP socket's, hands every complete frame to the router with the connection's address
/// (`STUNAddress.connection` set), and sends to such an address through `send`.
///
/// Frames may be sent from other threads too (the egress workers, `media.workers`): `send`
/// and everything it shares with the media thread (the connection table, the bytes waiting
/// to be written, the send counters) is behind one lock, taken per TCP frame: ICE-TCP is the
/// way in for a few blocked stations, not the fast path.
///
/// A connection is closed, and the reason counted, when its stream cannot be trusted any more:
/// a frame longer than `maxFrame` (RFC 4571 allows 65,535 bytes, WebRTC sends at most about
/// 1,500), a frame whose first byte is not STUN, DTLS or RTP/RTCP (RFC 7983: the length
/// prefix was wrong and the framing is lost), a first frame that is not STUN (RFC 6544 §7.1:
/// the connectivity check comes first), no complete frame within `firstFrameTimeout`,
/// silence for `idleTimeout`, more than `maxPendingBytes` waiting to be written (a peer that
/// stopped reading), or more than `maxConnections` open.
public final class ICETCPListener {
    /// What the listener did, for `/metrics`.
    public struct Counters: Sendable, Equatable {
        /// Connections accepted.
        public var accepted = 0
        /// Connections refused because `maxConnections` were open.
        public var refused = 0
        /// Connections closed, for any reason.
        public var closed = 0
        /// Frames received and handed on.
        public var framesReceived = 0
        /// Frames sent.
        public var framesSent = 0
        /// Connections closed for a frame over `maxFrame`.
        public var oversizeFrames = 0
        /// Connections closed for a frame that is not STUN, DTLS or RTP (lost framing).
        public var badFrames = 0
        /// Connections closed because their first frame was not a STUN message.
        public var notSTUNFirst = 0
        /// Connections closed for silence (no first frame in time, or idle).
        public var timedOut = 0
        /// Frames dropped because the peer was not reading (`maxPendingBytes`), or its
        /// connection was gone.
        public var sendDropped = 0
        /// Connections open now.
        public var open = 0

        /// No counts.
        public init() {}
    }

    /// Limits of the listener.
    public struct Limits: Sendable {
        /// The longest frame accepted (bytes after the length prefix).
        public var maxFrame = 2_048
        /// Connections open at most.
        public var maxConnections = 1_024
        /// Bytes waiting to be written to one connection at most; frames beyond are dropped.
        public var maxPendingBytes = 1 << 20
        /// How long a new connection may take to send its first complete frame.
        public var firstFrameTimeout: Duration = .seconds(10)
        /// How long an established connection may stay silent (ICE consent checks come every
        /// few seconds).
        public var idleTimeout: Duration = .seconds(30)

        /// Defaults.
        public init() {}
    }

    final class Connection {
        let fd: Int32
        let address: STUNAddress
        let input: UnsafeMutableRawBufferPointer
        var buffered = 0
        var pending: [UInt8] = []
        var pendingStart = 0
        var framesIn = 0
        var lastHeard: ContinuousClock.Instant
        let opened: ContinuousClock.Instant

        init(fd: Int32, address: STUNAddress, capacity: Int, now: ContinuousClock.Instant) {
            self.fd = fd
            self.address = address
            input = .allocate(byteCount: capacity, alignment: 16)
            lastHeard = now
            opened = now
        }

        deinit {
            input.deallocate()
            close(fd)
        }

        var pendingBytes: Int { pending.count - pendingStart }
    }

    /// The listening descriptor.
    public let fd: Int32
    /// The bound port.
    public let port: UInt16
    /// The limits in force.
    public let limits: Limits
    /// What happened so far.
    public var counters: Counters {
        lock.withLock { _ in
            var all = received
            all.framesSent = sent.framesSent
            all.sendDropped = sent.sendDropped
            return all
        }
    }
    /// The counters only the media thread changes.
    private var received = Counters()
    /// The send counters (under `lock`).
    private var sent = Counters()
    private let lock = Mutex<Void>(())
    /// Changed by the media thread under `lock`, read by it without.
    var connections: [UInt32: Connection] = [:]
    var order: [UInt32] = []
    var nextID: UInt32 = 1
    let frame: UnsafeMutableRawBufferPointer

    /// Listens on `host` (an IP literal) and `port` (0 picks a free one).
    public init(host: String, port: UInt16, limits: Limits = Limits()) throws(TransportError) {
        var bound: UInt16 = 0
        let fd = giaoban_tcp_listen(host, port, &bound)
        guard fd >= 0 else {
            throw TransportError("cannot listen on TCP \(host):\(port): \(String(cString: strerror(-fd)))", code: -fd)
        }
        self.fd = fd
        self.port = bound
        self.limits = limits
        frame = .allocate(byteCount: 2 + limits.maxFrame, alignment: 16)
    }

    deinit {
        connections.removeAll()
        frame.deallocate()
        close(fd)
    }

    /// Appends the descriptors to poll: the listener, then every connection (with POLLOUT
    /// while it has bytes waiting). `service` must get them back in the same order.
    public func addPollDescriptors(to fds: inout [pollfd]) {
        fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
        order.removeAll(keepingCapacity: true)
        lock.withLock { _ in
            for (id, connection) in connections {
                order.append(id)
                let events = Int16(POLLIN) | (connection.pendingBytes > 0 ? Int16(POLLOUT) : 0)
                fds.append(pollfd(fd: connection.fd, events: events, revents: 0))
            }
        }
    }

    /// Accepts, reads and writes what `fds` (from `addPollDescriptors`, after `poll`) say is
    /// ready, hands each complete frame to `deliver` with its connection's address, closes
    /// silent connections, and calls `closed` with the address of every connection it closed.
    public func service(_ fds: ArraySlice<pollfd>, now: ContinuousClock.Instant,
                        deliver: (UnsafeMutableRawBufferPointer, STUNAddress) -> Void, closed: (STUNAddress) -> Void) {
        var index = fds.startIndex
        if index < fds.endIndex, fds[index].revents & Int16(POLLIN) != 0 { acceptWaiting(now: now) }
        index += 1
        for id in order {
            defer { index += 1 }
            guard index < fds.endIndex, let connection = connections[id] else { continue }
            let events = fds[index].revents
            if events & Int16(POLLOUT) != 0 && !lock.withLock({ _ in writePending(connection) }) {
                drop(id, closed: closed)
                continue
            }
            if events & Int16(POLLIN | POLLHUP | POLLERR) != 0 && !read(connection, now: now, deliver: deliver) {
                drop(id, closed: closed)
            }
        }
        expire(now: now, closed: closed)
    }

    /// Sends `bytes` as one frame on the connection `destination` names; false when the
    /// connection is gone or not reading (the frame is dropped and counted).
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer, to destination: STUNAddress) -> Bool {
        lock.withLock { _ in sendLocked(bytes, to: destination) }
    }

    private func sendLocked(_ bytes: UnsafeRawBufferPointer, to destination: STUNAddress) -> Bool {
        guard let connection = connections[destination.connection], bytes.count <= 0xFFFF, let source = bytes.baseAddress else {
            sent.sendDropped += 1
            return false
        }
        let length = bytes.count
        if connection.pendingBytes > 0 {
            guard connection.pendingBytes + length + 2 <= limits.maxPendingBytes else {
                sent.sendDropped += 1
                return false
            }
            connection.pending.append(UInt8(length >> 8))
            connection.pending.append(UInt8(length & 0xFF))
            connection.pending.append(contentsOf: bytes)
            sent.framesSent += 1
            return true
        }
        guard length <= limits.maxFrame else {
            sent.sendDropped += 1
            return false
        }
        frame[0] = UInt8(length >> 8)
        frame[1] = UInt8(length & 0xFF)
        (frame.baseAddress! + 2).copyMemory(from: source, byteCount: length)
        let written = giaoban_tcp_write(connection.fd, frame.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(length + 2))
        if written < 0 {
            sent.sendDropped += 1
            return false  // reset: the next poll reports it and closes the connection
        }
        if Int(written) < length + 2 {
            connection.pending = Array(UnsafeRawBufferPointer(rebasing: frame[Int(written)..<(length + 2)]))
            connection.pendingStart = 0
        }
        sent.framesSent += 1
        return true
    }

    /// The number of open connections.
    public var connectionCount: Int { connections.count }

    private func acceptWaiting(now: ContinuousClock.Instant) {
        while true {
            var peer = giaoban_addr()
            let client = giaoban_tcp_accept(fd, &peer)
            if client < 0 { return }
            guard connections.count < limits.maxConnections else {
                close(client)
                received.refused += 1
                continue
            }
            let id = nextID
            nextID = nextID == UInt32.max ? 1 : nextID + 1
            let connection = Connection(fd: client, address: STUNAddress(peer).onConnection(id), capacity: 2 + limits.maxFrame, now: now)
            lock.withLock { _ in connections[id] = connection }
            received.accepted += 1
            received.open = connections.count
        }
    }

    /// Reads what is waiting and delivers complete frames; false when the connection must close.
    private func read(_ connection: Connection, now: ContinuousClock.Instant,
                      deliver: (UnsafeMutableRawBufferPointer, STUNAddress) -> Void) -> Bool {
        // At most 64 KiB per connection per pass, so that one busy peer does not starve the rest.
        var budget = 65_536
        while budget > 0 {
            let space = connection.input.count - connection.buffered
            let n = giaoban_tcp_read(connection.fd, connection.input.baseAddress!.assumingMemoryBound(to: UInt8.self) + connection.buffered,
                                     Int32(space))
            if n == -EAGAIN { return true }
            if n <= 0 { return false }  // end of stream or an error
            budget -= Int(n)
            connection.buffered += Int(n)
            connection.lastHeard = now
            guard deliverFrames(connection, deliver: deliver) else { return false }
        }
        return true
    }

    /// Hands on every complete frame in the connection's buffer and keeps the incomplete rest.
    private func deliverFrames(_ connection: Connection, deliver: (UnsafeMutableRawBufferPointer, STUNAddress) -> Void) -> Bool {
        let input = connection.input
        var start = 0
        defer {
            if start > 0 {
                let rest = connection.buffered - start
                if rest > 0 { input.baseAddress!.copyMemory(from: input.baseAddress! + start, byteCount: rest) }
                connection.buffered = rest
            }
        }
        while connection.buffered - start >= 2 {
            let length = Int(input[start]) << 8 | Int(input[start + 1])
            guard length <= limits.maxFrame else {
                received.oversizeFrames += 1
                return false
            }
            guard connection.buffered - start >= 2 + length else { return true }
            let body = UnsafeMutableRawBufferPointer(rebasing: input[(start + 2)..<(start + 2 + length)])
            start += 2 + length
            guard length > 0 else { continue }
            // RFC 7983: 0–3 STUN, 20–63 DTLS, 128–191 RTP/RTCP; anything else means lost framing.
            switch body[0] {
            case 0...3: break
            case 20...63, 128...191:
                guard connection.framesIn > 0 else {
                    received.notSTUNFirst += 1
                    return false
                }
            default:
                received.badFrames += 1
                return false
            }
            connection.framesIn += 1
            received.framesReceived += 1
            deliver(body, connection.address)
        }
        return true
    }

    /// Writes what waits; false when the connection failed.
    private func writePending(_ connection: Connection) -> Bool {
        while connection.pendingBytes > 0 {
            let written = connection.pending.withUnsafeBufferPointer { all in
                giaoban_tcp_write(connection.fd, all.baseAddress! + connection.pendingStart, Int32(connection.pendingBytes))
            }
            if written < 0 { return false }
            if written == 0 { return true }
            connection.pendingStart += Int(written)
        }
        connection.pending.removeAll(keepingCapacity: false)
        connection.pendingStart = 0
        return true
    }

    private func expire(now: ContinuousClock.Instant, closed: (STUNAddress) -> Void) {
        for (id, connection) in connections {
            let silent = connection.framesIn == 0 ? now - connection.opened > limits.firstFrameTimeout
                                                  : now - connection.lastHeard > limits.idleTimeout
            if silent {
                received.timedOut += 1
                drop(id, closed: closed)
            }
        }
    }

    private func drop(_ id: UInt32, closed: (STUNAddress) -> Void) {
        let address = lock.withLock { _ -> STUNAddress? in connections.removeValue(forKey: id)?.address }
        guard let address else { return }
        received.closed += 1
        received.open = connections.count
        closed(address)
    }
}
