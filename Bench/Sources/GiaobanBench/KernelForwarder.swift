import Foundation
import GiaobanClient
import GiaobanWire
import Synchronization
import GiaobanTransport

/// The "kernel floor": the least a forwarder on this machine can do per packet. One UDP
/// socket, `recvmmsg` of up to 64 datagrams, each copied unchanged (no parsing, no SRTP) into a
/// slot per destination, `sendmmsg` of the lot. What a relay spends above this is its own work
/// (SRTP, rewriting, bookkeeping).
///
/// With `threads` > 1 it is laid out like the relay's egress lanes (`media.workers`): the
/// receive thread sends to its own share of the destinations and hands each datagram to the
/// other threads, each of which sends to its share with `sendmmsg` on the same socket.
final class KernelForwarder: @unchecked Sendable {
    // @unchecked: the sockets and batches are used only by the forwarder's threads, each its own.
    /// Where the publisher sends.
    let address: STUNAddress
    /// Datagrams sent since start.
    let forwarded = Atomic<Int>(0)
    /// The forwarder threads' CPU time in µs (getrusage RUSAGE_THREAD, summed), updated every loop.
    var cpuMicros: Int { lanes.reduce(0) { $0 + $1.cpu.load(ordering: .relaxed) } }
    /// The number of sending threads (the receive thread is the first).
    var threads: Int { lanes.count }
    private let socket: UDPSocket
    private let destinations = Mutex<[STUNAddress]>([])

    /// One sending thread: its loop, CPU time, and the datagrams handed to it (not for the first).
    private final class Lane: Sendable {
        let loop = LoopThread()
        let cpu = Atomic<Int>(0)
        let inbox = Mutex<[[UInt8]]>([])
        let signal = DispatchSemaphore(value: 0)
    }
    private let lanes: [Lane]

    init(threads: Int = 1) throws {
        socket = try UDPSocket()
        address = socket.localAddress
        lanes = (0..<max(1, threads)).map { _ in Lane() }
    }

    /// Fans out to `list` from the next batch on.
    func setDestinations(_ list: [STUNAddress]) { destinations.withLock { $0 = list } }

    /// Starts the threads.
    func start() {
        lanes[0].loop.start(name: "bench-forwarder") { [self] in run() }
        for index in 1..<lanes.count {
            lanes[index].loop.start(name: "bench-forwarder-\(index)") { [self] in work(index) }
        }
    }

    /// Stops the threads and waits for them (at most 2 s each).
    func stop() {
        lanes[0].loop.stop()
        for lane in lanes.dropFirst() {
            lane.signal.signal()
            lane.loop.stop()
        }
    }

    /// Thread `index`'s share of `targets`: every `threads`-th one from `index`.
    private func share(_ targets: [STUNAddress], _ index: Int) -> [STUNAddress] {
        stride(from: index, to: targets.count, by: threads).map { targets[$0] }
    }

    private func run() {
        let input = UDPBatch(capacity: 64, slotSize: 2048)
        let output = UDPBatch(capacity: 256, slotSize: 1600)
        while lanes[0].loop.isRunning {
            let n = socket.receive(into: input, timeoutMilliseconds: 5)
            if n > 0 {
                let targets = share(destinations.withLock { $0 }, 0)
                var handed: [[UInt8]] = []
                for i in 0..<n {
                    let datagram = input.datagram(i)
                    guard datagram.count > 0, datagram.count <= output.slotSize else { continue }
                    if threads > 1 { handed.append(Array(datagram)) }
                    fanOut(UnsafeRawBufferPointer(datagram), to: targets, output: output)
                }
                for lane in lanes.dropFirst() where !handed.isEmpty {
                    lane.inbox.withLock { $0 += handed }
                    lane.signal.signal()
                }
                forwarded.wrappingAdd(socket.send(output), ordering: .relaxed)
            }
            lanes[0].cpu.store(Int(ProcessStats.threadCPUSeconds() * 1e6), ordering: .relaxed)
        }
    }

    /// Sending thread `index` (1…): its share of every datagram the receive thread hands over.
    private func work(_ index: Int) {
        let output = UDPBatch(capacity: 256, slotSize: 1600)
        let lane = lanes[index]
        while lane.loop.isRunning {
            lane.signal.wait()
            let datagrams = lane.inbox.withLock { items -> [[UInt8]] in
                defer { items.removeAll() }
                return items
            }
            let targets = share(destinations.withLock { $0 }, index)
            for datagram in datagrams {
                datagram.withUnsafeBytes { fanOut($0, to: targets, output: output) }
            }
            forwarded.wrappingAdd(socket.send(output), ordering: .relaxed)
            lane.cpu.store(Int(ProcessStats.threadCPUSeconds() * 1e6), ordering: .relaxed)
        }
    }

    /// Copies `datagram` into a slot per target, sending whenever `output` fills (`sendmmsg` on
    /// the shared socket: the batch carries its converted destinations, so threads share nothing).
    private func fanOut(_ datagram: UnsafeRawBufferPointer, to targets: [STUNAddress], output: UDPBatch) {
        for target in targets {
            if output.isFull { forwarded.wrappingAdd(socket.send(output), ordering: .relaxed) }
            output.slot(output.count).copyMemory(from: datagram)
            output.commit(length: datagram.count, to: target)
        }
    }
}
