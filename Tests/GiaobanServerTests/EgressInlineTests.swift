import Foundation
import GiaobanEngine
@testable import GiaobanServer
import GiaobanTransport
import Testing

/// A flush of a few packets for another lane is sent by the media thread itself when the lane's
/// worker is idle; a larger one goes to the worker. Either way every packet leaves, in order.
@Suite("Egress lanes: small flushes on the media thread")
struct EgressInlineTests {
    @Test("5 packets are sent inline, 40 are handed to the worker; all 45 arrive in order")
    func inlineThenHandOff() throws {
        let socket = try UDPSocket(host: "127.0.0.1", ports: 0...0)
        let receiver = try UDPSocket(host: "127.0.0.1", ports: 0...0)
        let worker = EgressWorker.start(lane: 1, socket: socket, tcp: nil, capacity: 64, slotSize: 1600)
        defer { worker.stop() }
        let queue = OutputQueue(capacity: 64, slotSize: 1600, lanes: 2)
        let sender = UDPSlotSender(socket: socket)
        queue.handOff = { _, batch in worker.handOff(batch) }
        queue.flushLane = { _, batch in worker.flush(batch, inlineBelow: MediaServer.inlineBelow, sender: sender) }
        func send(_ count: Int, tag: UInt8) {
            for i in 0..<count {
                [tag, UInt8(i)].withUnsafeBytes { queue.enqueue($0, to: receiver.localAddress, lane: 1) }
            }
            queue.flushNow()
        }
        send(5, tag: 1)
        #expect(worker.sentInline.load(ordering: .relaxed) == 1, "a flush of 5 packets with an idle worker is sent inline")
        send(40, tag: 2)
        #expect(worker.sentInline.load(ordering: .relaxed) == 1, "a flush of 40 packets goes to the worker")
        var got: [[UInt8]] = []
        let batch = UDPBatch(capacity: 64, slotSize: 2048)
        let deadline = ContinuousClock.now + .seconds(5)
        while got.count < 45, ContinuousClock.now < deadline {
            let n = receiver.receive(into: batch, timeoutMilliseconds: 100)
            for i in 0..<n { got.append(Array(UnsafeRawBufferPointer(rebasing: batch.datagram(i)[0..<Int(batch.lengths[i])]))) }
        }
        #expect(got == (0..<5).map { [1, UInt8($0)] } + (0..<40).map { [2, UInt8($0)] })
    }
}

/// The media loop sleeps until its next tick rather than a fixed 5 ms: rounded up to whole
/// milliseconds, at least 1, at most one tick interval.
@Suite("Media loop: wait until the next tick")
struct MediaLoopWaitTests {
    @Test("the wait covers the time left to the tick", arguments: [
        (Duration.microseconds(300), Int32(1)), (.microseconds(9_200), 10), (.milliseconds(4), 4),
        (.milliseconds(-3), 1), (.zero, 1), (.milliseconds(25), 10),
    ])
    func wait(until: Duration, expected: Int32) {
        #expect(MediaServer.pollTimeout(untilTick: until) == expected)
    }
}
