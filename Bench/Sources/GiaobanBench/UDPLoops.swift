import ArgumentParser
import CUDPBatch
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// `giaoban-bench udp`: which UDP loop should carry the media plane? The same fan-out
/// forwarder (receive a datagram, send it to N sockets, no crypto) on raw recvmmsg/sendmmsg
/// and on a SwiftNIO datagram channel with vector reads, each measured by the CPU time of
/// its own thread per forwarded packet.
struct UDPLoops: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udp",
        abstract: "Compare the media socket loop (recvmmsg/sendmmsg) with a SwiftNIO datagram channel."
    )

    @Option(help: "Packets per second the sender offers.")
    var rate = 10_000

    @Option(help: "Destinations each packet is forwarded to.")
    var fanout = 10

    @Option(help: "Seconds per variant.")
    var seconds = 5.0

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    struct Result: Codable {
        let variant: String
        let received: Int
        let forwarded: Int
        let cpuSeconds: Double
        let microsecondsPerForwardedPacket: Double
    }

    func run() throws {
        var results: [Result] = []
        for variant in ["recvmmsg/sendmmsg", "swift-nio (vector reads)"] {
            print("udp: \(variant): \(rate) pkt/s × \(fanout) for \(seconds) s …")
            let r = try measure(variant: variant)
            results.append(r)
        }
        print("")
        print("variant                       received   forwarded   cpu s   µs/forwarded packet")
        for r in results {
            print(r.variant.padding(toLength: 28, withPad: " ", startingAt: 0)
                  + String(format: "  %8d  %10d  %6.2f  %8.2f", r.received, r.forwarded, r.cpuSeconds, r.microsecondsPerForwardedPacket))
        }
        if let json { try writeJSON(results, to: json) }
    }

    func measure(variant: String) throws -> Result {
        // Sinks: sockets that only receive, drained by one thread so the kernel never drops.
        var sinkPorts: [UInt16] = []
        var sinks: [Int32] = []
        for _ in 0..<fanout {
            var port: UInt16 = 0
            let fd = giaoban_udp_open("127.0.0.1", 0, &port)
            guard fd >= 0 else { throw ValidationError("cannot open a sink socket") }
            sinks.append(fd)
            sinkPorts.append(port)
        }
        defer { sinks.forEach { giaoban_udp_close($0) } }
        let stop = Atomic<Bool>(false)
        let sinkSockets = sinks
        let drain = Thread {
            let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: 64 * 2048)
            let lens = UnsafeMutablePointer<Int32>.allocate(capacity: 64)
            let addrs = UnsafeMutablePointer<giaoban_addr>.allocate(capacity: 64)
            while !stop.load(ordering: .relaxed) {
                for fd in sinkSockets { while giaoban_udp_recv_batch(fd, buf, 2048, 64, lens, addrs, 0) > 0 {} }
                usleep(500)
            }
        }
        drain.start()
        let destinations = sinkPorts.map { STUNLikeAddress.loopback(port: $0) }
        let forwarder: Forwarder = variant.hasPrefix("recvmmsg") ? try BatchForwarder(destinations: destinations)
                                                               : try NIOForwarder(destinations: destinations)
        // The sender: paced 1200-byte datagrams to the forwarder.
        var senderPort: UInt16 = 0
        let sender = giaoban_udp_open("127.0.0.1", 0, &senderPort)
        defer { giaoban_udp_close(sender) }
        let payload = [UInt8](repeating: 0x80, count: 1200)
        var target = STUNLikeAddress.loopback(port: forwarder.port).c
        let start = Date()
        let cpu0 = forwarder.cpuSeconds()
        let received0 = forwarder.counter.value
        var sent = 0
        while Date().timeIntervalSince(start) < seconds {
            let due = Int(Date().timeIntervalSince(start) * Double(rate))
            while sent < due {
                _ = payload.withUnsafeBufferPointer { giaoban_udp_send_one(sender, $0.baseAddress, 1200, &target) }
                sent += 1
            }
            usleep(200)
        }
        usleep(200_000)
        let cpu = forwarder.cpuSeconds() - cpu0
        let received = forwarder.counter.value - received0
        forwarder.stop()
        stop.store(true, ordering: .relaxed)
        let forwarded = received * fanout
        return Result(variant: variant, received: received, forwarded: forwarded, cpuSeconds: cpu,
                      microsecondsPerForwardedPacket: forwarded > 0 ? cpu * 1e6 / Double(forwarded) : 0)
    }
}

/// An IPv4 loopback address in the C batch module's form.
struct STUNLikeAddress {
    let c: giaoban_addr
    static func loopback(port: UInt16) -> STUNLikeAddress {
        var a = giaoban_addr()
        a.family = 4
        a.port = port
        a.addr.0 = 127
        a.addr.3 = 1
        return STUNLikeAddress(c: a)
    }
}

/// A fan-out forwarder running on its own thread.
protocol Forwarder: AnyObject {
    var port: UInt16 { get }
    var counter: PacketCounter { get }
    func cpuSeconds() -> Double
    func stop()
}

/// Datagrams received by a forwarder, readable from the measuring thread.
final class PacketCounter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func add(_ n: Int) { count.add(n, ordering: .relaxed) }
}

/// CPU time (user + system) of thread `tid` of this process, from /proc.
func threadCPUSeconds(_ tid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return 0 }
    return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// The media plane's loop: poll + recvmmsg, then one sendmmsg for every copy.
final class BatchForwarder: Forwarder, @unchecked Sendable {
    let port: UInt16
    let counter = PacketCounter()
    private let fd: Int32
    private let running = Atomic<Bool>(true)
    private let tid = Atomic<Int32>(0)

    init(destinations: [STUNLikeAddress]) throws {
        var p: UInt16 = 0
        fd = giaoban_udp_open("127.0.0.1", 0, &p)
        guard fd >= 0 else { throw ValidationError("cannot open the forwarder socket") }
        port = p
        let thread = Thread { [self] in loop(destinations.map(\.c)) }
        thread.start()
        while tid.load(ordering: .acquiring) == 0 { usleep(1000) }
    }

    private func loop(_ destinations: [giaoban_addr]) {
        tid.store(giaoban_thread_id(), ordering: .releasing)
        let batch = 64, slot = 2048, n = destinations.count
        let inbuf = UnsafeMutablePointer<UInt8>.allocate(capacity: batch * slot)
        let lens = UnsafeMutablePointer<Int32>.allocate(capacity: batch)
        let addrs = UnsafeMutablePointer<giaoban_addr>.allocate(capacity: batch)
        let outbuf = UnsafeMutablePointer<UInt8>.allocate(capacity: batch * n * slot)
        let outlens = UnsafeMutablePointer<Int32>.allocate(capacity: batch * n)
        let outaddrs = UnsafeMutablePointer<giaoban_addr>.allocate(capacity: batch * n)
        while running.load(ordering: .relaxed) {
            let got = Int(giaoban_udp_recv_batch(fd, inbuf, Int32(slot), Int32(batch), lens, addrs, 5))
            guard got > 0 else { continue }
            var k = 0
            for i in 0..<got {
                for d in 0..<n {
                    (outbuf + k * slot).update(from: inbuf + i * slot, count: Int(lens[i]))
                    outlens[k] = lens[i]
                    outaddrs[k] = destinations[d]
                    k += 1
                }
            }
            _ = giaoban_udp_send_batch(fd, outbuf, Int32(slot), outlens, outaddrs, Int32(k))
            counter.add(got)
        }
        giaoban_udp_close(fd)
    }

    func cpuSeconds() -> Double { threadCPUSeconds(tid.load(ordering: .acquiring)) }
    func stop() { running.store(false, ordering: .relaxed) }
}

/// The same forwarder on SwiftNIO: a datagram channel with 64-message vector reads (and a
/// receive allocator sized 64 × 2048, else NIO truncates every datagram), writes flushed
/// once per read batch so NIO uses sendmmsg.
final class NIOForwarder: Forwarder, @unchecked Sendable {
    let port: UInt16
    let counter: PacketCounter
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel: any Channel
    private let tid: Int32

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let destinations: [SocketAddress]
        let counter: PacketCounter
        init(destinations: [SocketAddress], counter: PacketCounter) {
            self.destinations = destinations
            self.counter = counter
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            for d in destinations {
                context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: d, data: envelope.data)), promise: nil)
            }
            counter.add(1)
        }
        func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
    }

    init(destinations: [STUNLikeAddress]) throws {
        let addresses = try destinations.map { try SocketAddress(ipAddress: "127.0.0.1", port: Int($0.c.port)) }
        let counter = PacketCounter()
        self.counter = counter
        let bootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.datagramVectorReadMessageCount, value: 64)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 64 * 2048))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(destinations: addresses, counter: counter))
                }
            }
        let tidValue = try group.next().submit { giaoban_thread_id() }.wait()
        tid = tidValue
        channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        port = UInt16(channel.localAddress?.port ?? 0)
    }

    func cpuSeconds() -> Double { threadCPUSeconds(tid) }
    func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}
