import Foundation
import GiaobanClient
import GiaobanWire
import Synchronization
import GiaobanTransport

/// The "kernel floor": the least a forwarder on this machine can do per packet. One thread,
/// one UDP socket, `recvmmsg` of up to 64 datagrams, each copied unchanged (no parsing, no
/// SRTP) into a slot per destination, `sendmmsg` of the lot. What a relay spends above this
/// is its own work (SRTP, rewriting, bookkeeping).
final class KernelForwarder: @unchecked Sendable {
    // @unchecked: the sockets and batches are used only by the forwarder's thread.
    /// Where the publisher sends.
    let address: STUNAddress
    /// Datagrams sent since start.
    let forwarded = Atomic<Int>(0)
    /// The forwarder thread's CPU time in µs (getrusage RUSAGE_THREAD), updated every loop.
    let cpuMicros = Atomic<Int>(0)
    private let socket: UDPSocket
    private let destinations = Mutex<[STUNAddress]>([])
    private let loop = LoopThread()

    init() throws {
        socket = try UDPSocket()
        address = socket.localAddress
    }

    /// Fans out to `list` from the next batch on.
    func setDestinations(_ list: [STUNAddress]) { destinations.withLock { $0 = list } }

    /// Starts the thread.
    func start() {
        loop.start(name: "bench-forwarder") { [self] in run() }
    }

    /// Stops the thread and waits for it (at most 2 s).
    func stop() {
        loop.stop()
    }

    private func run() {
        let input = UDPBatch(capacity: 64, slotSize: 2048)
        let output = UDPBatch(capacity: 256, slotSize: 1600)
        while loop.isRunning {
            let n = socket.receive(into: input, timeoutMilliseconds: 5)
            if n > 0 {
                let targets = destinations.withLock { $0 }
                var sent = 0
                for i in 0..<n {
                    let datagram = input.datagram(i)
                    guard datagram.count > 0, datagram.count <= output.slotSize else { continue }
                    for target in targets {
                        if output.isFull { sent += socket.send(output) }
                        output.slot(output.count).copyMemory(from: UnsafeRawBufferPointer(datagram))
                        output.commit(length: datagram.count, to: target)
                    }
                }
                sent += socket.send(output)
                forwarded.wrappingAdd(sent, ordering: .relaxed)
            }
            cpuMicros.store(Int(ProcessStats.threadCPUSeconds() * 1e6), ordering: .relaxed)
        }
    }
}
