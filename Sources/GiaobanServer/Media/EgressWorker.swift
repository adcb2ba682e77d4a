import Foundation
import GiaobanEngine
import GiaobanTransport
import GiaobanWire
import Synchronization

/// One egress lane's thread (`media.workers` beyond the first): takes the batches the media
/// thread hands off for the peers of its lane, protects them (SRTP, SRTCP) and sends them,
/// UDP with `sendmmsg` on the shared socket, ICE-TCP frames through the listener.
///
/// Batches go round a small pool: the media thread fills one while the worker sends the
/// others; when all are in flight the media thread waits for one to come back (so a worker
/// that falls behind slows the fan-out down rather than losing packets or memory). The only
/// synchronization is per batch (up to `MediaServer.batchSlots` packets), never per packet.
final class EgressWorker: @unchecked Sendable {
    // @unchecked: `filled` and `free` are behind their mutexes; a batch is touched by one
    // thread at a time (the hand-off orders it); `sender` is the worker thread's own.

    /// Batches per lane: one being filled, the rest in flight or free.
    static let poolSize = 4

    let lane: Int
    private let sender: UDPSlotSender
    private let tcp: ICETCPListener?
    private let filled = Mutex<[EgressBatch]>([])
    private let free: Mutex<[EgressBatch]>
    private let filledSignal = DispatchSemaphore(value: 0)
    private let freeSignal: DispatchSemaphore
    private let running = Atomic<Bool>(true)
    private let done = DispatchSemaphore(value: 0)
    /// Packets whose protection failed on this lane (read by the snapshot).
    let protectFailures = Atomic<Int>(0)
    /// Batches handed off and not yet sent: while 0, no SRTP context of this lane is in use
    /// by the worker.
    private let inFlight = Atomic<Int>(0)
    /// Batches the media thread protected and sent itself (`flush`), for the snapshot.
    let sentInline = Atomic<Int>(0)

    /// Starts the lane's thread, with the pool's batches besides the one the media thread fills.
    static func start(lane: Int, socket: UDPSocket, tcp: ICETCPListener?, capacity: Int, slotSize: Int,
                      segmentation: Bool = true) -> EgressWorker {
        let batches = (1..<poolSize).map { _ in EgressBatch(capacity: capacity, slotSize: slotSize) }
        let worker = EgressWorker(lane: lane, socket: socket, tcp: tcp, free: batches, segmentation: segmentation)
        let thread = Thread {
            ThreadName.set("giaoban-egress\(lane)")
            worker.run()
        }
        thread.name = "giaoban-egress-\(lane)"
        thread.start()
        return worker
    }

    private init(lane: Int, socket: UDPSocket, tcp: ICETCPListener?, free: [EgressBatch], segmentation: Bool) {
        self.lane = lane
        sender = UDPSlotSender(socket: socket, segmenting: segmentation)
        self.tcp = tcp
        self.free = Mutex(free)
        freeSignal = DispatchSemaphore(value: free.count)
    }

    /// Called by the media thread: queues `batch` for sending and returns an empty one,
    /// waiting for one if every batch of the pool is in flight.
    func handOff(_ batch: EgressBatch) -> EgressBatch {
        inFlight.add(1, ordering: .relaxed)
        filled.withLock { $0.append(batch) }
        filledSignal.signal()
        freeSignal.wait()
        return free.withLock { $0.removeLast() }
    }

    /// Called by the media thread at a flush: a batch of fewer than `inlineBelow` packets is
    /// protected and sent on the media thread itself when the worker has nothing in flight
    /// (so none of this lane's SRTP contexts is in use, and this lane's earlier packets are all
    /// out: each peer's order holds), which saves waking the worker for a handful of packets
    /// (a small room's fan-out); otherwise the batch is handed off. Returns the batch to fill next.
    func flush(_ batch: EgressBatch, inlineBelow: Int, sender: UDPSlotSender) -> EgressBatch {
        guard batch.count < inlineBelow, inFlight.load(ordering: .acquiring) == 0 else { return handOff(batch) }
        protectAndSend(batch, with: sender)
        sentInline.add(1, ordering: .relaxed)
        return batch
    }

    /// Protects every slot of `batch`, sends them with `sender` and empties the batch.
    private func protectAndSend(_ batch: EgressBatch, with sender: UDPSlotSender) {
        let failed = batch.protectAll()
        if failed > 0 { protectFailures.add(failed, ordering: .relaxed) }
        EgressSend.send(batch.storage, slotSize: batch.slotSize, lengths: batch.lengths, destinations: batch.destinations,
                        count: batch.count, streamed: batch.streamed > 0 || failed > 0, udp: sender, tcp: tcp)
        batch.reset()
    }

    /// Stops the thread once what was handed off is sent, and waits for it.
    func stop() {
        running.store(false, ordering: .releasing)
        filledSignal.signal()
        done.wait()
    }

    private func run() {
        while true {
            filledSignal.wait()
            guard let batch = filled.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else {
                if !running.load(ordering: .acquiring) { break }
                continue
            }
            protectAndSend(batch, with: sender)
            inFlight.subtract(1, ordering: .releasing)
            free.withLock { $0.append(batch) }
            freeSignal.signal()
        }
        done.signal()
    }
}

/// Sends slots of datagrams: all with one `sendmmsg` when none goes to a TCP connection or
/// is empty, else runs of UDP slots with `sendmmsg` and each TCP frame on its connection, in
/// order, skipping empty slots (a protection that failed).
enum EgressSend {
    static func send(_ storage: UnsafeMutableRawBufferPointer, slotSize: Int, lengths: UnsafeMutableBufferPointer<Int32>,
                     destinations: UnsafeMutableBufferPointer<STUNAddress>, count: Int, streamed: Bool,
                     udp: UDPSlotSender, tcp: ICETCPListener?) {
        guard streamed else {
            udp.send(slots: storage, slotSize: slotSize, lengths: lengths, destinations: destinations, count: count)
            return
        }
        var start = 0
        func sendUDP(upTo end: Int) {
            guard end > start else { return }
            udp.send(slots: UnsafeMutableRawBufferPointer(rebasing: storage[(start * slotSize)...]), slotSize: slotSize,
                     lengths: UnsafeMutableBufferPointer(rebasing: lengths[start...]),
                     destinations: UnsafeMutableBufferPointer(rebasing: destinations[start...]), count: end - start)
        }
        for i in 0..<count where destinations[i].connection != 0 || lengths[i] <= 0 {
            sendUDP(upTo: i)
            if lengths[i] > 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: storage[(i * slotSize)..<(i * slotSize + Int(lengths[i]))])
                tcp?.send(bytes, to: destinations[i])
            }
            start = i + 1
        }
        sendUDP(upTo: count)
    }
}
