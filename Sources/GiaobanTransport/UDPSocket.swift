internal import CUDPBatch
public import GiaobanWire

#if canImport(Glibc)
import Glibc
#endif

/// Why a UDP socket could not be opened.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    /// The operator-facing message, e.g. "cannot bind UDP 127.0.0.1:40000: Address already in use".
    public let description: String
    /// The errno of the failed call (0 when the address itself was refused).
    public let code: Int32

    /// Creates an error with `description` and errno `code`.
    public init(_ description: String, code: Int32 = 0) {
        self.description = description
        self.code = code
    }
}

/// A non-blocking UDP socket with batched I/O (`recvmmsg`/`sendmmsg` through the CUDPBatch
/// shim) and 8 MiB kernel buffers. Closed when released. Used from one thread at a time:
/// the relay's media thread, or a client's loop.
public final class UDPSocket {
    /// The file descriptor, for `poll`.
    public let fd: Int32
    /// The bound address (the port the kernel picked when 0 was asked for).
    public let localAddress: STUNAddress
    /// The errno of the last receive that failed (0 when the last one succeeded).
    public private(set) var lastReceiveError: Int32 = 0
    /// Sends output slots for the thread that owns the socket (`send(slots:…)`).
    private lazy var slotSender = UDPSlotSender(fd: fd, owner: nil)

    /// Binds `host`:`port` (an IPv4 literal; port 0 picks a free one).
    public convenience init(host: String = "127.0.0.1", port: UInt16 = 0) throws(TransportError) {
        guard Self.ipv4(host, port: port) != nil else { throw TransportError("'\(host)' is not an IPv4 address") }
        try self.init(host: host, ports: Int(port)...Int(port))
    }

    /// Binds `host` on the first port of `ports` that is free (IPv4 or IPv6 literal; a range
    /// of one port 0 picks any free port).
    public init(host: String, ports: ClosedRange<Int>) throws(TransportError) {
        var bound: UInt16 = 0
        var fd: Int32 = -EINVAL
        for port in ports {
            guard let port = UInt16(exactly: port) else { break }
            fd = giaoban_udp_open(host, port, &bound)
            if fd >= 0 || fd != -EADDRINUSE { break }
        }
        guard fd >= 0 else {
            let which = ports.count == 1 ? "\(ports.lowerBound)" : "any port of \(ports.lowerBound)-\(ports.upperBound)"
            throw TransportError("cannot bind UDP \(host):\(which): \(String(cString: strerror(-fd)))", code: -fd)
        }
        self.fd = fd
        localAddress = Self.ipv4(host, port: bound) ?? STUNAddress(ipv4: 0, port: bound)
    }

    deinit {
        giaoban_udp_close(fd)
    }

    /// The bound port.
    public var port: UInt16 { localAddress.port }

    /// Sends one datagram; false when the kernel refused it (full buffer, no route).
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer, to destination: STUNAddress) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        var address = destination.socketAddress
        return giaoban_udp_send_one(fd, base.assumingMemoryBound(to: UInt8.self), Int32(bytes.count), &address) == bytes.count
    }

    /// Sends one datagram.
    @discardableResult
    public func send(_ bytes: [UInt8], to destination: STUNAddress) -> Bool {
        bytes.withUnsafeBytes { send($0, to: destination) }
    }

    /// Sends the committed slots of `batch` with `sendmmsg` and empties it; returns how many
    /// the kernel took (fewer when its buffer stayed full for 5 ms).
    @discardableResult
    public func send(_ batch: UDPBatch) -> Int {
        guard batch.count > 0 else { return 0 }
        let n = giaoban_udp_send_batch(fd, batch.storage.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(batch.slotSize),
                                       batch.lengths.baseAddress!, batch.addresses.baseAddress!, Int32(batch.count), 0)
        batch.count = 0
        return Int(n)
    }

    /// Sends `count` datagrams laid out as slots of `slotSize` bytes in `storage` (slot i:
    /// `lengths[i]` bytes to `destinations[i]`) with `sendmmsg`; returns how many the kernel
    /// took. The relay's output queue is sent this way, without copying a datagram.
    @discardableResult
    public func send(slots storage: UnsafeMutableRawBufferPointer, slotSize: Int, lengths: UnsafeMutableBufferPointer<Int32>,
                     destinations: UnsafeMutableBufferPointer<STUNAddress>, count: Int) -> Int {
        slotSender.send(slots: storage, slotSize: slotSize, lengths: lengths, destinations: destinations, count: count)
    }

    /// Waits up to `timeoutMilliseconds` (0: not at all) for datagrams, then reads as many as
    /// `batch` holds with one `recvmmsg`. Returns the number read (also in `batch.count`); a
    /// failed receive reads none and leaves its errno in `lastReceiveError`.
    @discardableResult
    public func receive(into batch: UDPBatch, timeoutMilliseconds: Int32) -> Int {
        let n = giaoban_udp_recv_batch(fd, batch.storage.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(batch.slotSize),
                                       Int32(batch.capacity), batch.lengths.baseAddress!, batch.addresses.baseAddress!,
                                       timeoutMilliseconds)
        lastReceiveError = n < 0 ? -n : 0
        batch.count = max(0, Int(n))
        return batch.count
    }

    /// Segmented sends (UDP_SEGMENT) made in this process, the datagrams they carried, and
    /// whether the kernel refused one (after which every datagram goes out on its own).
    public static var segmentation: (sends: UInt64, datagrams: UInt64, off: Bool) {
        var sends: UInt64 = 0, datagrams: UInt64 = 0, off: Int32 = 0
        giaoban_udp_segmentation_stats(&sends, &datagrams, &off)
        return (sends, datagrams, off != 0)
    }

    /// `text` as an IPv4 address with `port`, or nil when it is not a dotted-quad literal.
    public static func ipv4(_ text: String, port: UInt16) -> STUNAddress? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard let byte = UInt8(part) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return STUNAddress(ipv4: value, port: port)
    }
}

/// Sends slots of datagrams on a socket with `sendmmsg`, with its own buffer of converted
/// destinations: each thread that sends on a shared socket (the media thread, every egress
/// worker) has its own sender. With `segmenting`, the slots bound for one destination leave
/// as one segmented send (UDP_SEGMENT) where their sizes allow (`media.udp_segmentation`).
public final class UDPSlotSender {
    private let fd: Int32
    /// True: group each destination's datagrams into segmented sends.
    public let segmenting: Bool
    /// The socket, kept open as long as the sender lives (nil for the socket's own sender).
    private let owner: UDPSocket?
    /// Destinations converted for `sendmmsg` (grown once to the largest batch sent).
    private var addresses = UnsafeMutableBufferPointer<giaoban_addr>(start: nil, count: 0)

    /// A sender on `socket`; with `segmenting`, one destination's datagrams go out together.
    public convenience init(socket: UDPSocket, segmenting: Bool = false) {
        self.init(fd: socket.fd, owner: socket, segmenting: segmenting)
    }

    init(fd: Int32, owner: UDPSocket?, segmenting: Bool = false) {
        self.fd = fd
        self.owner = owner
        self.segmenting = segmenting
    }

    deinit { addresses.deallocate() }

    /// Sends `count` datagrams laid out as slots of `slotSize` bytes in `storage` (slot i:
    /// `lengths[i]` bytes to `destinations[i]`); returns how many the kernel took.
    @discardableResult
    public func send(slots storage: UnsafeMutableRawBufferPointer, slotSize: Int, lengths: UnsafeMutableBufferPointer<Int32>,
                     destinations: UnsafeMutableBufferPointer<STUNAddress>, count: Int) -> Int {
        guard count > 0, let base = storage.baseAddress else { return 0 }
        if addresses.count < count {
            addresses.deallocate()
            addresses = .allocate(capacity: max(count, destinations.count))
            addresses.initialize(repeating: giaoban_addr())
        }
        for i in 0..<count { addresses[i] = destinations[i].socketAddress }
        return Int(giaoban_udp_send_batch(fd, base.assumingMemoryBound(to: UInt8.self), Int32(slotSize), lengths.baseAddress!,
                                          addresses.baseAddress!, Int32(count), segmenting ? 1 : 0))
    }
}
