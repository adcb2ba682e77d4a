import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
import GiaobanWire
import Testing

/// Limits on what a subscriber's feedback can make the relay send (NACK amplification), and
/// the rules for where ICE-lite sends media (address switches, replays, consent).
@Suite("Security: NACK limits and ICE address switches")
struct SecurityFeedbackTests {
    /// A publisher and a WHEP subscriber, connected, with `count` video packets forwarded;
    /// returns the subscriber and the first output sequence number it saw.
    func forwarded(_ h: Harness, count: Int) throws -> (LoopbackPeer, UInt16) {
        let (pub, sub) = try MediaRouterTests().publisherAndSubscriber(h)
        _ = try sub.takeRTCP()
        for i in 0..<count {
            let plain = vp8Packet(sequence: UInt16(100 + i), timestamp: 3000 * UInt32(i), ssrc: 0x1111,
                                  payload: [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 200))
            h.send(try pub.protect(plain), from: pub)
        }
        h.deliver()
        let received = try sub.takeRTP()
        #expect(received.count == count)
        let first = try received[0].withUnsafeBytes { try RTPPacketView($0).sequenceNumber }
        return (sub, first)
    }

    /// Sends one SRTCP compound of an RR and `nacks` (each a list of items) from `sub`;
    /// returns how many RTP packets came back.
    @discardableResult
    func nack(_ h: Harness, _ sub: LoopbackPeer, _ nacks: [[NACKItem]]) throws -> Int {
        var builders: [any RTCPPacketBuilder] = [ReceiverReportBuilder(ssrc: 9)]
        for items in nacks { builders.append(GenericNACKBuilder(senderSSRC: 9, mediaSSRC: 0xABCD, items: items)) }
        var rtcp = [UInt8](repeating: 0, count: 1400)
        var n = 0
        for builder in builders {
            let offset = n
            n += try rtcp.withUnsafeMutableBytes { try builder.marshal(into: UnsafeMutableRawBufferPointer(rebasing: $0[offset...])) }
        }
        h.send(try sub.protect(Array(rtcp.prefix(n)), rtcp: true), from: sub)
        h.deliver()
        // Counted without decrypting: the same packet sent again twice would be an SRTP replay
        // to the receiving session (a browser drops those too, RFC 3711 §3.3.2).
        let count = sub.inbox.filter { $0.count > 12 && (128...191).contains($0[0]) && !(192...223).contains($0[1]) }.count
        sub.inbox.removeAll()
        return count
    }

    @Test("a sequence number repeated within one NACK, or one compound, is sent again once")
    func duplicates() throws {
        let h = try Harness()
        let (sub, s0) = try forwarded(h, count: 20)
        // s0+2 three times (twice as a PID, once as bit 0 of s0+1's BLP), s0+1 once.
        let sent = try nack(h, sub, [[NACKItem(packetID: s0 &+ 2), NACKItem(packetID: s0 &+ 2), NACKItem(packetID: s0 &+ 1, lostBitmask: 1)]])
        #expect(sent == 2)
        #expect(h.router.counters.rtpRetransmitted == 2)
        #expect(h.router.counters.nackRefused(.duplicate) == 2)
        // Two NACKs in one compound naming s0+3.
        #expect(try nack(h, sub, [[NACKItem(packetID: s0 &+ 3)], [NACKItem(packetID: s0 &+ 3)]]) == 1)
        #expect(h.router.counters.nackRefused(.duplicate) == 3)
        #expect(h.router.counters.rtpRetransmitted == 3)
    }

    @Test("one packet is sent again to one subscriber at most nack_max_per_packet times")
    func perPacket() throws {
        var settings = MediaRouter.Settings()
        settings.nackMaxPerPacket = 3
        let h = try Harness(settings: settings)
        let (sub, s0) = try forwarded(h, count: 20)
        var sent = 0
        for _ in 0..<5 { sent += try nack(h, sub, [[NACKItem(packetID: s0 &+ 5)]]) }
        #expect(sent == 3)
        #expect(h.router.counters.nackRefused(.packetLimit) == 2)
        // Another packet has its own allowance.
        #expect(try nack(h, sub, [[NACKItem(packetID: s0 &+ 6)]]) == 1)
        #expect(h.router.counters.rtpRetransmitted == 4)
    }

    @Test("a subscriber gets at most nack_max_per_second retransmissions a second (a token bucket on the injected clock)")
    func perSecond() throws {
        var settings = MediaRouter.Settings()
        settings.nackMaxPerSecond = 10
        let h = try Harness(settings: settings)
        let (sub, s0) = try forwarded(h, count: 40)
        let all = (0..<40).map { NACKItem(packetID: s0 &+ UInt16($0)) }
        #expect(try nack(h, sub, [Array(all[0..<20])]) == 10, "one second's burst")
        #expect(h.router.counters.nackRefused(.rateLimit) == 10)
        #expect(try nack(h, sub, [Array(all[20..<40])]) == 0, "nothing left this second")
        h.now += .milliseconds(500)
        #expect(try nack(h, sub, [Array(all[20..<40])]) == 5, "half a second refills half")
        h.now += .seconds(5)
        #expect(try nack(h, sub, [Array(all[25..<40])]) == 10, "the bucket holds one second at most")
        #expect(h.router.counters.rtpRetransmitted == 25)
        #expect(h.router.counters.nackRefused(.rateLimit) == 10 + 20 + 15 + 5)
    }

    @Test("40 NACKs of 280 items × 17 packets: 51 retransmissions, not 190,400")
    func amplification() throws {
        let h = try Harness()
        let (sub, s0) = try forwarded(h, count: 20)
        let items = [NACKItem](repeating: NACKItem(packetID: s0, lostBitmask: 0xFFFF), count: 280)
        var sent = 0
        for _ in 0..<40 { sent += try nack(h, sub, [items]) }
        #expect(sent == 17 * 3)
        #expect(h.router.counters.rtpRetransmitted == 51)
        #expect(h.router.counters.nackRefused(.duplicate) == 40 * (280 * 17 - 17))
        #expect(h.router.counters.nackRefused(.packetLimit) == 37 * 17)
    }

    // MARK: ICE-lite

    static let relay = ICECredentials(ufrag: "relayUfrag", pwd: "relay-password-0123456789")
    static let remote = ICECredentials(ufrag: "peerUfrag", pwd: "peer-password-0123456789ab")
    static let a = STUNAddress(ipv4: 198, 51, 100, 1, port: 50_000)
    static let b = STUNAddress(ipv4: 198, 51, 100, 2, port: 50_001)
    static let attacker = STUNAddress(ipv4: 203, 0, 113, 66, port: 40_000)

    /// A check as the controlling browser sends it (RFC 8445 §7.1.2).
    static func check(_ id: STUNTransactionID = .random(), nominate: Bool = true) throws -> [UInt8] {
        try controllingCheck(relay: relay, remote: remote, id: id, nominate: nominate)
    }

    static func handle(_ agent: ICELiteAgent, _ bytes: [UInt8], from source: STUNAddress,
                       now: ContinuousClock.Instant) throws -> ICELiteAgent.Outcome {
        var out = [UInt8](repeating: 0, count: 512)
        return try bytes.withUnsafeBytes { request in
            let view = try STUNMessageView(request)
            return out.withUnsafeMutableBytes { agent.handle(view, from: source, now: now, into: $0) }
        }
    }

    @Test("a fresh nominating check from a new address moves media there; a replayed one from elsewhere is dropped")
    func switchNeedsFreshCheck() throws {
        let agent = ICELiteAgent(local: Self.relay, remote: Self.remote)
        let t0 = ContinuousClock.now
        let first = try Self.check()
        guard case .respond(_, true) = try Self.handle(agent, first, from: Self.a, now: t0) else {
            Issue.record("the first authenticated check selects its address")
            return
        }
        #expect(agent.selectedAddress == Self.a)
        // An attacker replays the captured (authenticated, nominating) check from its own address.
        #expect(try Self.handle(agent, first, from: Self.attacker, now: t0 + .seconds(1)) == .drop(reason: .replayed))
        #expect(agent.selectedAddress == Self.a)
        // The same check again from its own address is a STUN retransmission: answered, nothing changes.
        guard case .respond(_, let nominated) = try Self.handle(agent, first, from: Self.a, now: t0 + .seconds(2)) else {
            Issue.record("a retransmission is answered")
            return
        }
        #expect(!nominated)
        #expect(agent.lastCheck == t0, "a retransmission does not refresh consent")
        // The peer's network changes: a new check, nominating, from the new address.
        guard case .respond(_, let moved) = try Self.handle(agent, try Self.check(), from: Self.b, now: t0 + .seconds(3)) else {
            Issue.record("a fresh nominating check is answered")
            return
        }
        #expect(moved)
        #expect(agent.selectedAddress == Self.b)
        #expect(agent.lastCheck == t0 + .seconds(3))
    }

    @Test("a check from another address without USE-CANDIDATE is answered but neither moves media nor keeps consent")
    func consentFollowsTheSelectedAddress() throws {
        let agent = ICELiteAgent(local: Self.relay, remote: Self.remote)
        let t0 = ContinuousClock.now
        _ = try Self.handle(agent, try Self.check(), from: Self.a, now: t0)
        for second in stride(from: 5, through: 40, by: 5) {
            let outcome = try Self.handle(agent, try Self.check(nominate: false), from: Self.b, now: t0 + .seconds(second))
            guard case .respond(_, let nominated) = outcome else {
                Issue.record("a check on another pair is answered")
                return
            }
            #expect(!nominated)
        }
        #expect(agent.selectedAddress == Self.a)
        #expect(agent.lastCheck == t0)
        #expect(agent.consentExpired(now: t0 + .seconds(31)), "only checks from the selected address keep consent (RFC 7675)")
    }

    @Test("the router counts a replayed check and keeps sending media to the nominated address")
    func routerDropsReplays() throws {
        let h = try Harness()
        let (_, sub) = try MediaRouterTests().publisherAndSubscriber(h)
        let check = try sub.bindingRequest()
        h.send(check, from: sub)
        #expect(h.out.count == 1)
        h.out.removeAll()
        let stranger = try LoopbackPeer(port: 6100, relayFingerprint: h.relayCertificate.fingerprint)
        h.send(check, from: stranger)
        #expect(h.out.count == 0, "no answer to a replay")
        #expect(h.router.counters.dropped(.stunReplayed) == 1)
        #expect(!h.router.drainEvents().contains(.nominated(peer: "sub", address: stranger.address)))
    }
}
