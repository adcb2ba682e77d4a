import GiaobanCrypto
import GiaobanSRTP
import Testing

/// A deterministic byte source for payloads and shuffles (xorshift64).
struct TestBytes {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// An RTP packet: V=2, optional one-byte-header extension (RFC 8285) and one CSRC.
func rtpPacket(ssrc: UInt32, seq: UInt16, payload: [UInt8], extensions: Bool = true, csrc: Bool = false) -> [UInt8] {
    let ts = UInt32(seq) &* 3000
    var p: [UInt8] = [0x80 | (extensions ? 0x10 : 0) | (csrc ? 1 : 0), 96,
                      UInt8(seq >> 8), UInt8(seq & 0xff),
                      UInt8(ts >> 24), UInt8((ts >> 16) & 0xff), UInt8((ts >> 8) & 0xff), UInt8(ts & 0xff),
                      UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xff), UInt8((ssrc >> 8) & 0xff), UInt8(ssrc & 0xff)]
    if csrc { p += [0x01, 0x02, 0x03, 0x04] }
    if extensions { p += [0xbe, 0xde, 0x00, 0x01, 0x30, 0x12, 0x34, 0x00] }  // id 3, 2 bytes; padding
    return p + payload
}

/// A receiver report with one report block from `ssrc` (RFC 3550 §6.4.2).
func rtcpReport(ssrc: UInt32, filler: UInt8) -> [UInt8] {
    [0x81, 201, 0x00, 0x07,
     UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xff), UInt8((ssrc >> 8) & 0xff), UInt8(ssrc & 0xff)]
        + [UInt8](repeating: filler, count: 24)
}

/// The outcome of one unprotect, comparable across implementations.
enum Outcome: Equatable {
    case plain([UInt8])
    case refused(SRTPError.Reason)
}

func outcome(_ packet: [UInt8], _ body: (UnsafeMutableRawBufferPointer, Int) throws(SRTPError) -> Int) -> Outcome {
    do { return .plain(try transformed(packet, body)) } catch { return .refused(error.reason) }
}

@Suite("SRTP on OpenSSL EVP: byte for byte against libsrtp2")
struct SRTPContextInteropTests {
    static let key = (0..<16).map { UInt8(0xa0 + $0) }
    static func salt(_ profile: SRTPProfile) -> [UInt8] { (0..<profile.saltLength).map { UInt8(0x11 * ($0 + 1) & 0xff) } }

    @Test("RTP: the same ciphertext as libsrtp2 across a sequence wrap, for several SSRCs; each unprotects the other's",
          arguments: SRTPProfile.allCases)
    func rtpBothWays(profile: SRTPProfile) throws {
        let salt = Self.salt(profile)
        let ours = try SRTPContext(profile: profile, direction: .outbound, key: Self.key, salt: salt)
        let theirs = try SRTPSession(profile: profile, direction: .outbound, key: Self.key, salt: salt)
        let oursIn = try SRTPContext(profile: profile, direction: .inbound, key: Self.key, salt: salt)
        let theirsIn = try SRTPSession(profile: profile, direction: .inbound, key: Self.key, salt: salt)
        var random = TestBytes(state: 0x9e37_79b9_7f4a_7c15)
        // Audio, two video layers starting near the wrap, and one far from it.
        let streams: [(ssrc: UInt32, first: UInt16)] = [(0x1111_1111, 65_400), (0x2222_2222, 65_500),
                                                        (0x3333_3333, 65_535), (0x4444_4444, 1_000)]
        for step in 0..<300 {
            for (n, stream) in streams.enumerated() {
                // Some sequence numbers are skipped (lost before the relay): no effect on the keys.
                guard (step + n) % 7 != 3 else { continue }
                let plain = rtpPacket(ssrc: stream.ssrc, seq: stream.first &+ UInt16(step),
                                      payload: random.bytes(20 + Int(random.next() % 1100)),
                                      extensions: n != 0, csrc: n == 2)
                let a = try transformed(plain) { (b, l) throws(SRTPError) in try ours.protectRTP(b, length: l) }
                let b = try transformed(plain) { (b, l) throws(SRTPError) in try theirs.protectRTP(b, length: l) }
                #expect(a == b, "protect \(stream.ssrc) step \(step)")
                #expect(try transformed(a) { (b, l) throws(SRTPError) in try theirsIn.unprotectRTP(b, length: l) } == plain)
                #expect(try transformed(b) { (b, l) throws(SRTPError) in try oursIn.unprotectRTP(b, length: l) } == plain)
            }
        }
        #expect(ours.rolloverCounter(ssrc: 0x1111_1111) == 1)
        #expect(oursIn.rolloverCounter(ssrc: 0x3333_3333) == 1)
        #expect(oursIn.rolloverCounter(ssrc: 0x4444_4444) == 0)
        #expect(oursIn.streamCount == 4)
    }

    @Test("RTP reordered, lost and duplicated on the way in: the same verdict as libsrtp2, packet by packet",
          arguments: SRTPProfile.allCases, [64, 1024])
    func reorderedDelivery(profile: SRTPProfile, window: Int) throws {
        let salt = Self.salt(profile)
        let tx = try SRTPSession(profile: profile, direction: .outbound, key: Self.key, salt: salt)
        let ours = try SRTPContext(profile: profile, direction: .inbound, key: Self.key, salt: salt, replayWindow: window)
        let theirs = try SRTPSession(profile: profile, direction: .inbound, key: Self.key, salt: salt, replayWindow: window)
        var random = TestBytes(state: 42)
        // Sent in order across the wrap (65 000 → 1 500), then delivered in a shuffled order.
        var sent: [[UInt8]] = []
        for i in 0..<2000 {
            let plain = rtpPacket(ssrc: 0xabcd_0001, seq: 65_000 &+ UInt16(i), payload: random.bytes(40))
            sent.append(try transformed(plain) { (b, l) throws(SRTPError) in try tx.protectRTP(b, length: l) })
        }
        var delivery: [[UInt8]] = []
        var i = 0
        while i < sent.count {
            switch random.next() % 20 {
            case 0: i += 1                                                   // lost
            case 1: delivery.append(sent[i]); delivery.append(sent[i]); i += 1  // duplicated
            case 2 where i + 3 < sent.count:                                 // reordered by three
                delivery += [sent[i + 3], sent[i + 1], sent[i + 2], sent[i]]; i += 4
            case 3 where i > 100: delivery.append(sent[i - 80]); i += 1     // a late retransmission: old
            default: delivery.append(sent[i]); i += 1
            }
        }
        var refused: [SRTPError.Reason: Int] = [:]
        for packet in delivery {
            let a = outcome(packet) { (b, l) throws(SRTPError) in try ours.unprotectRTP(b, length: l) }
            let b = outcome(packet) { (b, l) throws(SRTPError) in try theirs.unprotectRTP(b, length: l) }
            #expect(a == b)
            if case .refused(let reason) = a { refused[reason, default: 0] += 1 }
        }
        #expect(refused[.replayed, default: 0] > 0)
        if window == 64 { #expect(refused[.tooOld, default: 0] > 0) }
        #expect(ours.rolloverCounter(ssrc: 0xabcd_0001) == 1)
    }

    @Test("SRTCP: the same packets as libsrtp2 (index from 1, E flag), each unprotects the other's, replays refused",
          arguments: SRTPProfile.allCases)
    func rtcpBothWays(profile: SRTPProfile) throws {
        let salt = Self.salt(profile)
        let ours = try SRTPContext(profile: profile, direction: .outbound, key: Self.key, salt: salt)
        let theirs = try SRTPSession(profile: profile, direction: .outbound, key: Self.key, salt: salt)
        let oursIn = try SRTPContext(profile: profile, direction: .inbound, key: Self.key, salt: salt)
        let theirsIn = try SRTPSession(profile: profile, direction: .inbound, key: Self.key, salt: salt)
        var fromUs: [[UInt8]] = []
        for step in 0..<50 {
            for ssrc: UInt32 in [0x0102_0304, 0x0506_0708] {
                let plain = rtcpReport(ssrc: ssrc, filler: UInt8(step))
                let a = try transformed(plain) { (b, l) throws(SRTPError) in try ours.protectRTCP(b, length: l) }
                let b = try transformed(plain) { (b, l) throws(SRTPError) in try theirs.protectRTCP(b, length: l) }
                #expect(a == b, "protect RTCP \(ssrc) step \(step)")
                #expect(a.count == plain.count + profile.rtcpOverhead)
                #expect(try transformed(a) { (b, l) throws(SRTPError) in try theirsIn.unprotectRTCP(b, length: l) } == plain)
                #expect(try transformed(b) { (b, l) throws(SRTPError) in try oursIn.unprotectRTCP(b, length: l) } == plain)
                fromUs.append(a)
            }
        }
        // Replays: ours refuses what libsrtp2 refuses.
        for packet in [fromUs[97], fromUs[60]] {
            let a = outcome(packet) { (b, l) throws(SRTPError) in try oursIn.unprotectRTCP(b, length: l) }
            #expect(a == .refused(.replayed))
        }
    }
}
