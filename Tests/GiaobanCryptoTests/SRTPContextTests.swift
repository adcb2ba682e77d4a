import CAllocCounter
import GiaobanCrypto
import GiaobanSRTP
import Testing

@Suite("SRTP on OpenSSL EVP: replay, tampering, malformed input, allocations")
struct SRTPContextTests {
    let key = [UInt8](repeating: 0x5a, count: 16)
    func salt(_ profile: SRTPProfile) -> [UInt8] { [UInt8](repeating: 0x3c, count: profile.saltLength) }

    func pair(_ profile: SRTPProfile, window: Int = 64) throws -> (SRTPContext, SRTPContext) {
        (try SRTPContext(profile: profile, direction: .outbound, key: key, salt: salt(profile)),
         try SRTPContext(profile: profile, direction: .inbound, key: key, salt: salt(profile), replayWindow: window))
    }

    func refusal(_ packet: [UInt8], _ body: (UnsafeMutableRawBufferPointer, Int) throws(SRTPError) -> Int) -> SRTPError.Reason? {
        if case .refused(let reason) = outcome(packet, body) { return reason }
        return nil
    }

    @Test("a replayed packet is refused, one older than the window is too old", arguments: SRTPProfile.allCases)
    func replay(profile: SRTPProfile) throws {
        let (tx, rx) = try pair(profile)
        let sealed = try (0..<100).map { (seq: Int) throws(SRTPError) -> [UInt8] in
            try transformed(rtpPacket(ssrc: 7, seq: UInt16(seq), payload: [1, 2, 3])) { (b, l) throws(SRTPError) in
                try tx.protectRTP(b, length: l)
            }
        }
        for (seq, packet) in sealed.enumerated() where seq >= 10 && seq != 50 {
            _ = try transformed(packet) { (b, l) throws(SRTPError) in try rx.unprotectRTP(b, length: l) }
        }
        #expect(refusal(sealed[99]) { (b, l) throws(SRTPError) in try rx.unprotectRTP(b, length: l) } == .replayed)
        #expect(refusal(sealed[40]) { (b, l) throws(SRTPError) in try rx.unprotectRTP(b, length: l) } == .replayed)
        #expect(refusal(sealed[20]) { (b, l) throws(SRTPError) in try rx.unprotectRTP(b, length: l) } == .tooOld)
        #expect(refusal(sealed[5]) { (b, l) throws(SRTPError) in try rx.unprotectRTP(b, length: l) } == .tooOld)
        // Never seen but within the window (64): accepted once.
        #expect(refusal(sealed[50]) { (b, l) throws(SRTPError) in try rx.unprotectRTP(b, length: l) } == nil)
        #expect(refusal(sealed[50]) { (b, l) throws(SRTPError) in try rx.unprotectRTP(b, length: l) } == .replayed)
    }

    @Test("a tampered packet is refused and changes no state", arguments: SRTPProfile.allCases, [0, 1, 2])
    func tampering(profile: SRTPProfile, where part: Int) throws {
        let (tx, rx) = try pair(profile)
        let plain = rtpPacket(ssrc: 0x99, seq: 500, payload: [UInt8](repeating: 0x42, count: 100))
        let sealed = try transformed(plain) { (b, l) throws(SRTPError) in try tx.protectRTP(b, length: l) }
        var bad = sealed
        bad[[5, 30, sealed.count - 1][part]] ^= 0x01  // header (timestamp), payload, tag
        #expect(refusal(bad) { (b, l) throws(SRTPError) in try rx.unprotectRTP(b, length: l) } == .authenticationFailed)
        #expect(rx.streamCount == 0, "an unauthenticated packet creates no stream")
        #expect(try transformed(sealed) { (b, l) throws(SRTPError) in try rx.unprotectRTP(b, length: l) } == plain)

        let report = rtcpReport(ssrc: 0x99, filler: 7)
        var rtcp = try transformed(report) { (b, l) throws(SRTPError) in try tx.protectRTCP(b, length: l) }
        let good = rtcp
        rtcp[[4, 12, rtcp.count - 6][part]] ^= 0x80
        #expect(refusal(rtcp) { (b, l) throws(SRTPError) in try rx.unprotectRTCP(b, length: l) } == .authenticationFailed)
        #expect(try transformed(good) { (b, l) throws(SRTPError) in try rx.unprotectRTCP(b, length: l) } == report)
        #expect(refusal(good) { (b, l) throws(SRTPError) in try rx.unprotectRTCP(b, length: l) } == .replayed)
    }

    @Test("keys of the wrong length, short buffers and malformed headers are errors")
    func badInput() throws {
        #expect(throws: SRTPError(.badKey)) {
            try SRTPContext(profile: .aeadAES128GCM, direction: .inbound, key: [1, 2, 3], salt: [])
        }
        let (tx, rx) = try pair(.aeadAES128GCM)
        var tight = rtpPacket(ssrc: 1, seq: 1, payload: [1])
        let length = tight.count
        #expect(throws: SRTPError(.noRoom)) {
            _ = try tight.withUnsafeMutableBytes { (b) throws(SRTPError) in try tx.protectRTP(b, length: length) }
        }
        // The extension header claims 40 words the packet does not have.
        var lying = rtpPacket(ssrc: 1, seq: 1, payload: [UInt8](repeating: 0, count: 20))
        lying[15] = 40
        #expect(refusal(lying) { (b, l) throws(SRTPError) in try tx.protectRTP(b, length: l) } == .malformed)
        #expect(refusal([0x80, 0, 0, 1]) { (b, l) throws(SRTPError) in try rx.unprotectRTP(b, length: l) } == .malformed)
        #expect(refusal([UInt8](repeating: 0x80, count: 40)) { (b, l) throws(SRTPError) in
            try rx.unprotectRTP(b, length: l)
        } == .authenticationFailed)
    }

    @Test("random and truncated input is refused, never trusted or crashed on", arguments: SRTPProfile.allCases)
    func randomInput(profile: SRTPProfile) throws {
        let (tx, rx) = try pair(profile)
        var random = TestBytes(state: 0xfeed)
        let genuine = try transformed(rtpPacket(ssrc: 5, seq: 9, payload: random.bytes(60))) { (b, l) throws(SRTPError) in
            try tx.protectRTP(b, length: l)
        }
        let genuineRTCP = try transformed(rtcpReport(ssrc: 5, filler: 3)) { (b, l) throws(SRTPError) in
            try tx.protectRTCP(b, length: l)
        }
        for round in 0..<20_000 {
            var input: [UInt8]
            switch round % 4 {
            case 0: input = random.bytes(Int(random.next() % 200))
            case 1: input = Array(genuine.prefix(Int(random.next() % UInt64(genuine.count))))
            case 2: input = Array(genuineRTCP.prefix(Int(random.next() % UInt64(genuineRTCP.count))))
            default:
                input = round % 8 == 3 ? genuine : genuineRTCP
                input[Int(random.next() % UInt64(input.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            }
            if !input.isEmpty { input[0] = input[0] & 0x3f | 0x80 }  // version 2, so the crypto is reached
            #expect(refusal(input) { (b, l) throws(SRTPError) in try rx.unprotectRTP(b, length: l) } != nil)
            #expect(refusal(input) { (b, l) throws(SRTPError) in try rx.unprotectRTCP(b, length: l) } != nil)
        }
        #expect(rx.streamCount == 0)
    }

    @Test("steady state: no heap allocation per protect or unprotect, RTP or RTCP", arguments: SRTPProfile.allCases)
    func noAllocations(profile: SRTPProfile) throws {
        let (tx, rx) = try pair(profile, window: 1024)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 16)
        defer { buffer.deallocate() }
        let plain = rtpPacket(ssrc: 0x1234, seq: 0, payload: [UInt8](repeating: 0x77, count: 1150))
        let report = rtcpReport(ssrc: 0x1234, filler: 1)
        func round(_ i: Int) throws(SRTPError) {
            buffer.copyBytes(from: plain)
            buffer.storeBytes(of: UInt16(truncatingIfNeeded: i).bigEndian, toByteOffset: 2, as: UInt16.self)
            let n = try tx.protectRTP(buffer, length: plain.count)
            _ = try rx.unprotectRTP(buffer, length: n)
            buffer.copyBytes(from: report)
            let m = try tx.protectRTCP(buffer, length: report.count)
            _ = try rx.unprotectRTCP(buffer, length: m)
        }
        for i in 0..<20 { try round(i) }  // warm-up: the first packet adds the SSRC
        let before = giaoban_thread_allocations()
        for i in 20..<70_000 { try round(i) }  // across a sequence wrap
        let allocations = giaoban_thread_allocations() - before
        #expect(giaoban_alloc_counter_active() != 0, "the counting allocator is linked")
        #expect(allocations == 0)
        #expect(rx.rolloverCounter(ssrc: 0x1234) == 1)
    }
}
