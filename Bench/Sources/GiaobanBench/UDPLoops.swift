import ArgumentParser
import Foundation
import GiaobanClient
import GiaobanWire
import NIOCore
import NIOPosix
import Synchronization
import GiaobanTransport

/// `giaoban-bench udp`: which UDP loop should carry the media plane? The same fan-out
/// forwarder (receive a datagram, send it to N sockets, no crypto) on raw recvmmsg/sendmmsg
/// (`KernelForwarder`, the broadcast scenario's kernel floor) and on a SwiftNIO datagram
/// channel with vector reads, each measured by the CPU time of its own thread per forwarded
/// packet.
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
        let forwarded: Int
        let cpuSeconds: Double
        let microsecondsPerForwardedPacket: Double
    }

    func run() throws {
        var results: [Result] = []
        for variant in ["recvmmsg/sendmmsg", "swift-nio (vector reads)"] {
            print("udp: \(variant): \(rate) pkt/s × \(fanout) for \(seconds) s …")
            results.append(try measure(variant: variant))
        }
        print("")
        print("variant                       forwarded   cpu s   µs/forwarded packet")
        for r in results {
            print(r.variant.padding(toLength: 28, withPad: " ", startingAt: 0)
                  + String(format: "  %10d  %6.2f  %8.2f", r.forwarded, r.cpuSeconds, r.microsecondsPerForwardedPacket))
        }
        if let json { try writeJSON(results, to: json) }
    }

    func measure(variant: String) throws -> Result {
        // Sinks: sockets that only receive, drained by one thread so the kernel never drops.
        let sinks = try (0..<fanout).map { _ in try UDPSocket() }
        let stop = Atomic<Bool>(false)
        // Handed to the drain thread, which alone uses them until the measurement ends.
        nonisolated(unsafe) let drained = sinks
        let drain = Thread {
            let batch = UDPBatch(capacity: 64, slotSize: 2048)
            while !stop.load(ordering: .relaxed) {
                for sink in drained { while sink.receive(into: batch, timeoutMilliseconds: 0) > 0 {} }
                usleep(500)
            }
        }
        drain.start()
        defer { stop.store(true, ordering: .relaxed) }
        let destinations = sinks.map(\.localAddress)
        let forwarder: any Forwarder = variant.hasPrefix("recvmmsg")
            ? try KernelForwarder(fanningOutTo: destinations) : try NIOForwarder(destinations: destinations)
        defer { forwarder.stop() }
        // The sender: paced 1200-byte datagrams to the forwarder.
        let sender = try UDPSocket()
        let payload = [UInt8](repeating: 0x80, count: 1200)
        let start = Date()
        let cpu0 = forwarder.cpuSeconds(), forwarded0 = forwarder.forwardedCount()
        var sent = 0
        while Date().timeIntervalSince(start) < seconds {
            let due = Int(Date().timeIntervalSince(start) * Double(rate))
            while sent < due {
                _ = sender.send(payload, to: forwarder.address)
                sent += 1
            }
            usleep(200)
        }
        usleep(200_000)
        let cpu = forwarder.cpuSeconds() - cpu0
        let forwarded = forwarder.forwardedCount() - forwarded0
        return Result(variant: variant, forwarded: forwarded, cpuSeconds: cpu,
                      microsecondsPerForwardedPacket: forwarded > 0 ? cpu * 1e6 / Double(forwarded) : 0)
    }
}

/// A fan-out forwarder running on its own thread, as the comparison sees it.
protocol Forwarder: AnyObject {
    /// Where the sender sends.
    var address: STUNAddress { get }
    /// Datagrams sent to destinations so far.
    func forwardedCount() -> Int
    /// CPU time of the forwarder's thread so far.
    func cpuSeconds() -> Double
    func stop()
}

extension KernelForwarder: Forwarder {
    /// A started forwarder sending every datagram to each of `destinations`.
    convenience init(fanningOutTo destinations: [STUNAddress]) throws {
        try self.init()
        setDestinations(destinations)
        start()
    }

    func forwardedCount() -> Int { forwarded.load(ordering: .relaxed) }
    func cpuSeconds() -> Double { Double(cpuMicros) / 1e6 }
}

/// The same forwarder on SwiftNIO: a datagram channel with 64-message vector reads (and a
/// receive allocator sized 64 × 2048, else NIO truncates every datagram), writes flushed
/// once per read batch so NIO uses sendmmsg.
final class NIOForwarder: Forwarder, @unchecked Sendable {
    let address: STUNAddress
    private let forwarded = Counter()
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel: any Channel

    /// Datagrams sent, readable from the measuring thread.
    final class Counter: Sendable {
        private let count = Atomic<Int>(0)
        var value: Int { count.load(ordering: .relaxed) }
        func add(_ n: Int) { count.add(n, ordering: .relaxed) }
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let destinations: [SocketAddress]
        let counter: Counter
        init(destinations: [SocketAddress], counter: Counter) {
            self.destinations = destinations
            self.counter = counter
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            for d in destinations {
                context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: d, data: envelope.data)), promise: nil)
            }
            counter.add(destinations.count)
        }
        func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
    }

    init(destinations: [STUNAddress]) throws {
        let addresses = try destinations.map { try SocketAddress(ipAddress: "127.0.0.1", port: Int($0.port)) }
        let counter = forwarded
        channel = try DatagramBootstrap(group: group)
            .channelOption(.datagramVectorReadMessageCount, value: 64)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 64 * 2048))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(destinations: addresses, counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        address = STUNAddress(ipv4: 127, 0, 0, 1, port: UInt16(channel.localAddress?.port ?? 0))
    }

    func forwardedCount() -> Int { forwarded.value }
    /// The event loop thread's own CPU time, read on that thread.
    func cpuSeconds() -> Double { (try? channel.eventLoop.submit { ProcessStats.threadCPUSeconds() }.wait()) ?? 0 }
    func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}
