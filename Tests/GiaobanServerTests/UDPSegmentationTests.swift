import Foundation
import GiaobanEngine
import GiaobanTransport
import GiaobanWire
import Testing

/// Segmented sends (UDP_SEGMENT): the slots of one flush bound for one peer leave together,
/// and every peer still receives exactly its datagrams, whole and in order.
@Suite("UDP segmentation", .serialized)
struct UDPSegmentationTests {
    /// A datagram of `length` bytes that names its receiver and its place in that receiver's order.
    static func datagram(receiver: Int, index: Int, length: Int) -> [UInt8] {
        (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ receiver &* 31 &+ index) }
    }

    /// Queues `plan` (receiver, length) in order, sends it in one call, and returns what each
    /// receiver got.
    static func sendAndReceive(_ plan: [(receiver: Int, length: Int)], receivers: Int, segmenting: Bool) throws -> (expected: [[[UInt8]]], got: [[[UInt8]]]) {
        let socket = try UDPSocket(host: "127.0.0.1", ports: 0...0)
        let sockets = try (0..<receivers).map { _ in try UDPSocket(host: "127.0.0.1", ports: 0...0) }
        let queue = OutputQueue(capacity: plan.count, slotSize: 1600)
        var expected = [[[UInt8]]](repeating: [], count: receivers)
        for (receiver, length) in plan {
            let bytes = datagram(receiver: receiver, index: expected[receiver].count, length: length)
            expected[receiver].append(bytes)
            bytes.withUnsafeBytes { queue.enqueue($0, to: sockets[receiver].localAddress) }
        }
        let sender = UDPSlotSender(socket: socket, segmenting: segmenting)
        let sent = sender.send(slots: queue.storage, slotSize: queue.slotSize, lengths: queue.lengths,
                               destinations: queue.destinations, count: queue.count)
        #expect(sent == plan.count, "the kernel took every datagram")
        var got = [[[UInt8]]](repeating: [], count: receivers)
        let batch = UDPBatch(capacity: 64, slotSize: 2048)
        let deadline = ContinuousClock.now + .seconds(5)
        for (r, receiver) in sockets.enumerated() {
            while got[r].count < expected[r].count, ContinuousClock.now < deadline {
                let n = receiver.receive(into: batch, timeoutMilliseconds: 100)
                for i in 0..<n { got[r].append(Array(UnsafeRawBufferPointer(rebasing: batch.datagram(i)[0..<Int(batch.lengths[i])]))) }
            }
        }
        return (expected, got)
    }

    @Test("a frame's packets to three peers, with audio between them, arrive whole and in order at each", arguments: [true, false])
    func interleaved(segmenting: Bool) throws {
        let before = UDPSocket.segmentation
        // Like a flush after a read batch: video packets of 1,116 bytes (the last of a frame
        // shorter), audio of 128, fanned out to three peers in turn.
        var plan: [(receiver: Int, length: Int)] = []
        for packet in [1116, 1116, 128, 1116, 1116, 800, 128, 1116, 60] {
            for receiver in 0..<3 where !(receiver == 2 && packet == 128) { plan.append((receiver, packet)) }
        }
        plan.append((1, 1200))  // longer than the run before it: a send of its own
        let (expected, got) = try Self.sendAndReceive(plan, receivers: 3, segmenting: segmenting)
        for r in 0..<3 { #expect(got[r] == expected[r], "receiver \(r)") }
        let after = UDPSocket.segmentation
        if segmenting {
            #expect(!after.off, "loopback takes segmented sends")
            // Each receiver's run: 1116 1116 (128 ends it) | 1116 1116 800 (ends) | 128 | 1116 60.
            #expect(after.sends >= before.sends + 6, "segmented sends were made")
        }
    }

    @Test("150 packets to one peer: split at 64 segments and 60,000 bytes, all arrive in order")
    func manyToOne() throws {
        let before = UDPSocket.segmentation
        let plan = (0..<150).map { _ in (receiver: 0, length: 1000) }
        let (expected, got) = try Self.sendAndReceive(plan, receivers: 1, segmenting: true)
        #expect(got[0].count == 150)
        #expect(got[0] == expected[0])
        let after = UDPSocket.segmentation
        #expect(after.datagrams >= before.datagrams + 150, "every datagram went in a segmented send")
        #expect(after.sends >= before.sends + 3, "60 segments of 1,000 bytes at most per send")
    }

    @Test("a frame of six packets fanned out to 100 peers, packet by packet (600 slots): one send per peer")
    func wholeFrames() throws {
        let before = UDPSocket.segmentation
        var plan: [(receiver: Int, length: Int)] = []
        for packet in [1116, 1116, 1116, 1116, 1116, 700] {
            for receiver in 0..<100 { plan.append((receiver, packet)) }
        }
        let (expected, got) = try Self.sendAndReceive(plan, receivers: 100, segmenting: true)
        #expect(got == expected)
        let after = UDPSocket.segmentation
        #expect(after.sends - before.sends == 100, "the 600 slots are grouped at once: six datagrams per send")
        #expect(after.datagrams - before.datagrams == 600)
    }
}
