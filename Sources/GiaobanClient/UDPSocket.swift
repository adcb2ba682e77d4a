internal import CUDPBatch
internal import GiaobanUDP
public import GiaobanWire

#if canImport(Glibc)
import Glibc
#endif

/// A non-blocking UDP socket with batched I/O (`recvmmsg`/`sendmmsg` through the CUDPBatch
/// shim) and 8 MiB kernel buffers. Closed when released.
public final class UDPSocket {
    /// The file descriptor, for `poll`.
    public let fd: Int32
    /// The bound address (the port the kernel picked when 0 was asked for).
    public let localAddress: STUNAddress

    /// Binds `host`:`port` (an IPv4 literal; port 0 picks a free one).
    public init(host: String = "127.0.0.1", port: UInt16 = 0) throws(ClientError) {
        guard RelayAnswer.address(host, port: port) != nil else { throw ClientError(.socket, "'\(host)' is not an IPv4 address") }
        var bound: UInt16 = 0
        let fd = giaoban_udp_open(host, port, &bound)
        guard fd >= 0 else { throw ClientError(.socket, "cannot bind UDP \(host):\(port): \(String(cString: strerror(-fd)))") }
        self.fd = fd
        localAddress = RelayAnswer.address(host, port: bound)!
    }

    deinit { giaoban_udp_close(fd) }

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
                                       batch.lengths.baseAddress!, batch.addresses.baseAddress!, Int32(batch.count))
        batch.count = 0
        return Int(n)
    }

    /// Waits up to `timeoutMilliseconds` (0: not at all) for datagrams, then reads as many as
    /// `batch` holds with one `recvmmsg`. Returns the number read (also in `batch.count`).
    @discardableResult
    public func receive(into batch: UDPBatch, timeoutMilliseconds: Int32) -> Int {
        let n = giaoban_udp_recv_batch(fd, batch.storage.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(batch.slotSize),
                                       Int32(batch.capacity), batch.lengths.baseAddress!, batch.addresses.baseAddress!,
                                       timeoutMilliseconds)
        batch.count = max(0, Int(n))
        return batch.count
    }
}
