import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
import GiaobanWire
import Testing

/// What an egress lane's worker was handed: per hand-off, the lane and the batch's slots.
private final class HandOffs {
    var batches: [(lane: Int, destinations: [STUNAddress])] = []
}

@Suite("Egress lanes in the router and the output queue, without sockets")
struct EgressLaneRouterTests {
    @Test("a publisher stays on lane 0, subscribers take the least loaded lane; a peer's packets go on its lane")
    func laneChoice() throws {
        var settings = MediaRouter.Settings()
        settings.egressLanes = 3
        let h = try Harness(settings: settings, lanes: 3)
        let handed = HandOffs()
        h.out.handOff = { lane, batch in
            handed.batches.append((lane, (0..<batch.count).map { batch.destinations[$0] }))
            batch.reset()
            return batch
        }
        let fingerprint = h.relayCertificate.fingerprint
        let pub = try LoopbackPeer(port: 6000, relayFingerprint: fingerprint)
        try h.router.addPeer(pub.setup(role: .publisher, stream: "s", id: "pub", relayICE: .random(), ssrc: 0), now: h.now)
        var subs: [LoopbackPeer] = []
        for k in 1...4 {
            let sub = try LoopbackPeer(port: UInt16(6000 + k), relayFingerprint: fingerprint)
            try h.router.addPeer(sub.setup(role: .subscriber, stream: "s", id: "sub-\(k)", relayICE: .random(), ssrc: UInt32(k)), now: h.now)
            subs.append(sub)
        }

        /// The lane each of `peers` got: where the answer to its connectivity check was queued.
        func lanes(of peers: [LoopbackPeer]) throws -> [Int] {
            handed.batches.removeAll()
            for peer in peers { h.send(try peer.bindingRequest(), from: peer) }
            let onLaneZero = Set((0..<h.out.count).map { h.out.destinations[$0] })
            h.out.flushNow()
            return peers.map { peer in
                if onLaneZero.contains(peer.address) { return 0 }
                return handed.batches.first { $0.destinations.contains(peer.address) }?.lane ?? -1
            }
        }
        // Subscriber counts per lane go [0,0,0] → lane 2, then 1, then 0, then 2 (ties: the highest).
        #expect(try lanes(of: [pub] + subs) == [0, 2, 1, 0, 2])
        // sub-2 leaves lane 1; the next subscriber takes it.
        h.router.removePeer(id: "sub-2", reason: "test", out: nil)
        let next = try LoopbackPeer(port: 6010, relayFingerprint: fingerprint)
        try h.router.addPeer(next.setup(role: .subscriber, stream: "s", id: "sub-5", relayICE: .random(), ssrc: 5), now: h.now)
        #expect(try lanes(of: [next]) == [1])
    }

    @Test("a worker's batch protects what waits for it, in place; a packet that cannot be protected is left empty")
    func batchProtection() throws {
        let key = [UInt8](repeating: 7, count: 16), salt = [UInt8](repeating: 9, count: 12)
        let outbound = try SRTPContext(profile: .aeadAES128GCM, direction: .outbound, key: key, salt: salt)
        let inbound = try SRTPContext(profile: .aeadAES128GCM, direction: .inbound, key: key, salt: salt)
        let out = OutputQueue(capacity: 8, lanes: 2)
        var handed: EgressBatch?
        out.handOff = { _, batch in
            handed = batch
            return EgressBatch(capacity: 8)
        }
        let plain = vp8Packet(sequence: 7, timestamp: 90, ssrc: 0x5151, payload: [UInt8](repeating: 3, count: 200))
        let destination = STUNAddress(ipv4: 127, 0, 0, 1, port: 9)
        var slot = out.nextSlot(lane: 1)
        slot.copyBytes(from: plain)
        #expect(out.commitProtected(length: plain.count, to: destination, lane: 1, context: outbound, rtcp: false))
        slot = out.nextSlot(lane: 1)
        slot.copyBytes(from: plain.prefix(8))  // shorter than an RTP header
        #expect(out.commitProtected(length: 8, to: destination, lane: 1, context: outbound, rtcp: false), "checked by the worker")
        let control: [UInt8] = [1, 2, 3]
        control.withUnsafeBytes { out.enqueue($0, to: destination, lane: 1) }  // STUN or DTLS: sent as it is
        #expect(out.count == 0, "nothing on lane 0")
        out.flushNow()
        let batch = try #require(handed)
        #expect(batch.count == 3)
        #expect(Array(batch.datagram(0)) == plain, "still plain until the worker protects it")
        #expect(batch.protectAll() == 1)
        #expect(batch.lengths[0] == Int32(plain.count + 16) && batch.lengths[1] == 0 && batch.lengths[2] == 3)
        var sealed = Array(batch.datagram(0))
        let opened = try sealed.withUnsafeMutableBytes { try inbound.unprotectRTP($0, length: $0.count) }
        #expect(Array(sealed.prefix(opened)) == plain)
        #expect(Array(batch.datagram(2)) == [1, 2, 3])
        batch.reset()
        #expect(batch.count == 0 && batch.streamed == 0)
    }
}
