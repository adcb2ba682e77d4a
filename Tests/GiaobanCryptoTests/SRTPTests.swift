import GiaobanCrypto
import GiaobanSRTP
import Testing

@Suite("SRTP sessions (libsrtp2)")
struct SRTPTests {
    /// A 12-byte RTP header (V=2, PT 15, seq, ts 0xdecafbad, SSRC 0xcafebabe) + 16 payload bytes.
    func packet(seq: UInt16, capacity: Int = 64) -> [UInt8] {
        var p: [UInt8] = [0x80, 0x0f, UInt8(seq >> 8), UInt8(seq & 0xff),
                          0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe]
        p += [UInt8](repeating: 0xab, count: 16)
        return p + [UInt8](repeating: 0, count: capacity - p.count)
    }

    @Test("AES-CM-128-HMAC-SHA1-80 reproduces libsrtp's reference ciphertext")
    func knownAnswer() throws {
        // Master key and salt of libsrtp's own srtp_driver reference vector.
        let key: [UInt8] = [0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39]
        let salt: [UInt8] = [0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6]
        let expected: [UInt8] = [
            0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, // header unchanged
            0x4e, 0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, // encrypted payload
            0x94, 0x9d, 0x24, 0x02,
            0xb7, 0x8d, 0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb,             // 80-bit tag
        ]
        let tx = try SRTPSession(profile: .aes128CMHMACSHA1_80, direction: .outbound, key: key, salt: salt)
        var buf = packet(seq: 0x1234)
        let n = try buf.withUnsafeMutableBytes { try tx.protectRTP($0, length: 28) }
        #expect(n == 38)
        #expect(Array(buf.prefix(n)) == expected)

        let rx = try SRTPSession(profile: .aes128CMHMACSHA1_80, direction: .inbound, key: key, salt: salt)
        let m = try buf.withUnsafeMutableBytes { try rx.unprotectRTP($0, length: n) }
        #expect(Array(buf.prefix(m)) == Array(packet(seq: 0x1234).prefix(28)))
    }

    @Test("round trip, replay and tampering", arguments: SRTPProfile.allCases)
    func roundTrip(profile: SRTPProfile) throws {
        let key = (0..<profile.keyLength).map { UInt8($0) }
        let salt = (0..<profile.saltLength).map { UInt8(0x40 + $0) }
        let tx = try SRTPSession(profile: profile, direction: .outbound, key: key, salt: salt)
        let rx = try SRTPSession(profile: profile, direction: .inbound, key: key, salt: salt)

        var first = packet(seq: 1)
        let n = try first.withUnsafeMutableBytes { try tx.protectRTP($0, length: 28) }
        #expect(n == 28 + profile.rtpOverhead)
        #expect(first[12..<28] != packet(seq: 1)[12..<28], "payload is encrypted")
        var copy = first
        let m = try first.withUnsafeMutableBytes { try rx.unprotectRTP($0, length: n) }
        #expect(Array(first.prefix(m)) == Array(packet(seq: 1).prefix(28)))

        // The same packet again is a replay.
        #expect(throws: SRTPError(.replayed, status: 9)) {
            _ = try copy.withUnsafeMutableBytes { try rx.unprotectRTP($0, length: n) }
        }

        // A flipped payload bit fails authentication.
        var second = packet(seq: 2)
        let n2 = try second.withUnsafeMutableBytes { try tx.protectRTP($0, length: 28) }
        second[20] ^= 0x01
        let error = #expect(throws: SRTPError.self) {
            _ = try second.withUnsafeMutableBytes { try rx.unprotectRTP($0, length: n2) }
        }
        #expect(error?.reason == .authenticationFailed)
    }

    @Test("SRTCP round trip", arguments: SRTPProfile.allCases)
    func rtcp(profile: SRTPProfile) throws {
        let key = [UInt8](repeating: 7, count: profile.keyLength), salt = [UInt8](repeating: 9, count: profile.saltLength)
        let tx = try SRTPSession(profile: profile, direction: .outbound, key: key, salt: salt)
        let rx = try SRTPSession(profile: profile, direction: .inbound, key: key, salt: salt)
        // RR with no report blocks: V=2 RC=0 PT=201 length=1, SSRC.
        let rr: [UInt8] = [0x80, 201, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44]
        var buf = rr + [UInt8](repeating: 0, count: 64)
        let n = try buf.withUnsafeMutableBytes { try tx.protectRTCP($0, length: rr.count) }
        #expect(n == rr.count + profile.rtcpOverhead)
        let m = try buf.withUnsafeMutableBytes { try rx.unprotectRTCP($0, length: n) }
        #expect(Array(buf.prefix(m)) == rr)
    }

    @Test("wrong key lengths and short buffers are errors")
    func badInput() throws {
        #expect(throws: SRTPError(.badKey)) {
            try SRTPSession(profile: .aeadAES128GCM, direction: .inbound, key: [1, 2, 3], salt: [])
        }
        let tx = try SRTPSession(profile: .aeadAES128GCM, direction: .outbound,
                                 key: [UInt8](repeating: 1, count: 16), salt: [UInt8](repeating: 2, count: 12))
        var tight = Array(packet(seq: 5).prefix(28))
        #expect(throws: SRTPError(.noRoom)) { _ = try tight.withUnsafeMutableBytes { try tx.protectRTP($0, length: 28) } }
        let rx = try SRTPSession(profile: .aeadAES128GCM, direction: .inbound,
                                 key: [UInt8](repeating: 1, count: 16), salt: [UInt8](repeating: 2, count: 12))
        var garbage = [UInt8](repeating: 0x80, count: 40)
        #expect(throws: SRTPError.self) { _ = try garbage.withUnsafeMutableBytes { try rx.unprotectRTP($0, length: 40) } }
    }
}
