internal import CUDPBatch
public import GiaobanWire

#if canImport(Glibc)
import Glibc
#endif

/// The active side of an ICE-TCP connection (RFC 6544 §4.5, `tcptype active`): a client's TCP
/// connection to a relay's passive candidate that carries STUN, DTLS and SRTP packets, each
/// framed by a 2-byte big-endian length (RFC 4571 §2). Reads in batches like `UDPSocket`, so
/// a client loop treats a frame as a datagram from `remoteAddress`. Closed when released.
/// Used from one thread at a time.
public final class ICETCPStream {
    /// What the stream did.
    public struct Counters: Sendable, Equatable {
        /// Frames written (or queued behind a partial write).
        public var framesSent = 0
        /// Frames read and handed on.
        public var framesReceived = 0
        /// Frames not sent: longer than 65,535 bytes, or more than `maxPendingBytes` waiting.
        public var sendDropped = 0
        /// Frames read but dropped because they did not fit a batch slot.
        public var oversizeReceived = 0
    }

    /// The connected descriptor, for `poll`.
    public let fd: Int32
    /// The relay's passive candidate this stream is connected to.
    public let remoteAddress: STUNAddress
    /// Bytes allowed to wait behind a partial write; frames beyond are dropped whole.
    public let maxPendingBytes: Int
    /// What happened so far.
    public private(set) var counters = Counters()
    /// True once the relay closed the connection or it failed; nothing is read or sent then.
    public private(set) var isClosed = false

    private let input: UnsafeMutableRawBufferPointer
    private var buffered = 0
    private let frame: UnsafeMutableRawBufferPointer
    private var pending: [UInt8] = []
    private var pendingStart = 0

    /// Connects to `remote` (an IPv4 or IPv6 transport address), waiting at most `timeout`.
    public init(connectingTo remote: STUNAddress, timeout: Duration = .seconds(5),
                maxPendingBytes: Int = 1 << 20) throws(TransportError) {
        var address = remote.socketAddress
        let ms = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        let fd = giaoban_tcp_connect(&address, Int32(clamping: ms))
        guard fd >= 0 else {
            throw TransportError("cannot connect TCP to \(remote): \(String(cString: strerror(-fd)))", code: -fd)
        }
        self.fd = fd
        remoteAddress = remote
        self.maxPendingBytes = maxPendingBytes
        input = .allocate(byteCount: 2 + 65_535, alignment: 16)
        frame = .allocate(byteCount: 2 + 65_535, alignment: 16)
    }

    deinit {
        input.deallocate()
        frame.deallocate()
        close(fd)
    }

    /// Bytes waiting behind a partial write.
    public var pendingBytes: Int { pending.count - pendingStart }

    /// Sends `bytes` as one frame (RFC 4571 §2); false when it was dropped (closed stream,
    /// over 65,535 bytes, or `maxPendingBytes` already waiting). A partial write keeps the
    /// rest queued, written before anything else; a frame is never cut.
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let length = bytes.count
        guard !isClosed, length <= 0xFFFF, let source = bytes.baseAddress else {
            counters.sendDropped += 1
            return false
        }
        if pendingBytes > 0 { writePending() }
        if pendingBytes > 0 {
            guard pendingBytes + length + 2 <= maxPendingBytes else {
                counters.sendDropped += 1
                return false
            }
            pending.append(UInt8(length >> 8))
            pending.append(UInt8(length & 0xFF))
            pending.append(contentsOf: bytes)
            counters.framesSent += 1
            return true
        }
        frame[0] = UInt8(length >> 8)
        frame[1] = UInt8(length & 0xFF)
        (frame.baseAddress! + 2).copyMemory(from: source, byteCount: length)
        let written = giaoban_tcp_write(fd, frame.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(length + 2))
        guard written >= 0 else {
            isClosed = true
            counters.sendDropped += 1
            return false
        }
        if Int(written) < length + 2 {
            pending = Array(UnsafeRawBufferPointer(rebasing: frame[Int(written)..<(length + 2)]))
            pendingStart = 0
        }
        counters.framesSent += 1
        return true
    }

    /// Sends raw bytes as they are, without a length prefix: for tests that must break the
    /// framing on purpose. False when the kernel did not take them all.
    @discardableResult
    public func sendUnframed(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { giaoban_tcp_write(fd, $0.baseAddress!, Int32($0.count)) == $0.count }
    }

    /// Waits up to `timeoutMilliseconds` (0: not at all) for data, reads what is waiting and
    /// puts up to `batch.capacity` complete frames in its slots, each from `remoteAddress`;
    /// an incomplete frame stays for the next call. Returns the number of frames (also in
    /// `batch.count`).
    @discardableResult
    public func receive(into batch: UDPBatch, timeoutMilliseconds: Int32) -> Int {
        batch.count = 0
        guard !isClosed else { return 0 }
        if pendingBytes > 0 { writePending() }
        if !hasCompleteFrame, giaoban_tcp_wait(fd, timeoutMilliseconds) > 0 { readWaiting() }
        var start = 0
        let address = remoteAddress.socketAddress
        while batch.count < batch.capacity, buffered - start >= 2 {
            let length = Int(input[start]) << 8 | Int(input[start + 1])
            guard buffered - start >= 2 + length else { break }
            if length <= batch.slotSize {
                batch.slot(batch.count).copyMemory(from: UnsafeRawBufferPointer(rebasing: input[(start + 2)..<(start + 2 + length)]))
                batch.lengths[batch.count] = Int32(length)
                batch.addresses[batch.count] = address
                batch.count += 1
                counters.framesReceived += 1
            } else {
                counters.oversizeReceived += 1
            }
            start += 2 + length
        }
        if start > 0 {
            let rest = buffered - start
            if rest > 0 { input.baseAddress!.copyMemory(from: input.baseAddress! + start, byteCount: rest) }
            buffered = rest
        }
        return batch.count
    }

    private var hasCompleteFrame: Bool {
        buffered >= 2 && buffered - 2 >= Int(input[0]) << 8 | Int(input[1])
    }

    private func readWaiting() {
        while buffered < input.count {
            let n = giaoban_tcp_read(fd, input.baseAddress!.assumingMemoryBound(to: UInt8.self) + buffered,
                                     Int32(input.count - buffered))
            if n == -EAGAIN { return }
            if n <= 0 {
                isClosed = true  // end of stream or an error
                return
            }
            buffered += Int(n)
        }
    }

    private func writePending() {
        while pendingBytes > 0 {
            let written = pending.withUnsafeBufferPointer { all in
                giaoban_tcp_write(fd, all.baseAddress! + pendingStart, Int32(pendingBytes))
            }
            if written < 0 {
                isClosed = true
                return
            }
            if written == 0 { return }
            pendingStart += Int(written)
        }
        pending.removeAll(keepingCapacity: false)
        pendingStart = 0
    }
}
