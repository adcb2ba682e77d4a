import GiaobanCrypto
import GiaobanSRTP
import Testing

/// Bytes from a hex string; spaces are ignored.
func hex(_ string: String) -> [UInt8] {
    let digits = Array(string.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// Runs `body` on a copy of `packet` with `spare` free bytes after it; returns the result's bytes.
func transformed(_ packet: [UInt8], spare: Int = 32,
                 _ body: (UnsafeMutableRawBufferPointer, Int) throws(SRTPError) -> Int) throws(SRTPError) -> [UInt8] {
    var buffer = packet + [UInt8](repeating: 0, count: spare)
    let count = packet.count
    let result = buffer.withUnsafeMutableBytes { raw in
        Result { () throws(SRTPError) -> Int in try body(raw, count) }
    }
    return Array(buffer.prefix(try result.get()))
}

@Suite("SRTP on OpenSSL EVP: RFC test vectors")
struct SRTPContextVectorTests {
    @Test("RFC 3711 B.2: AES-CM keystream")
    func keystream() {
        let key = hex("2B7E151628AED2A6ABF7158809CF4F3C")
        let iv = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000")
        let stream = SRTPKeyDerivation.keystream(key: key, iv: iv, length: 48)
        #expect(stream == hex("""
            E03EAD0935C95E80E166B16DD92B4EB4
            D23513162B02D0F72A43A2FE4A5F97AB
            41E95B3BB0A2E8DD477901E4FCA894C0
            """))
    }

    @Test("RFC 3711 B.3: key derivation (labels 0, 1, 2)")
    func keyDerivation() throws {
        let keys = try SRTPSessionKeys(profile: .aes128CMHMACSHA1_80,
                                       masterKey: hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
                                       masterSalt: hex("0EC675AD498AFEEBB6960B3AABE6"))
        #expect(keys.rtpCipherKey == hex("C61E7A93744F39EE10734AFE3FF7A087"))
        #expect(keys.rtpSalt == hex("30CBBC08863D8C85D49DB34A9AE1"))
        #expect(keys.rtpAuthKey == hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"))
        #expect(keys.rtcpCipherKey != keys.rtpCipherKey && keys.rtcpCipherKey.count == 16)
    }

    /// RFC 7714 §16 and §17 give session keys: key 000102…0f, salt "Quid pro quo".
    func rfc7714Context(_ direction: SRTPContext.Direction) throws -> SRTPContext {
        let key = hex("000102030405060708090a0b0c0d0e0f"), salt = hex("517569642070726f2071756f")
        let keys = SRTPSessionKeys(rtpCipherKey: key, rtpAuthKey: [], rtpSalt: salt,
                                   rtcpCipherKey: key, rtcpAuthKey: [], rtcpSalt: salt)
        return try SRTPContext(profile: .aeadAES128GCM, direction: direction, sessionKeys: keys)
    }

    @Test("RFC 7714 §16.1.1: AEAD_AES_128_GCM SRTP, both ways")
    func gcmRTP() throws {
        // V=2 PT 64 SEQ f17b TS 8041f8d3 SSRC 5501a0b2 | "Gallia est omnis divisa in partes tres"
        let plain = hex("8040f17b8041f8d35501a0b2") + Array("Gallia est omnis divisa in partes tres".utf8)
        let expected = hex("""
            8040f17b8041f8d35501a0b2 f24de3a3fb34de6cacba861c9d7e4bca
            be633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb1
            6a9152cf765ee4390cce
            """)
        let tx = try rfc7714Context(.outbound), rx = try rfc7714Context(.inbound)
        let sealed = try transformed(plain) { (b, n) throws(SRTPError) in try tx.protectRTP(b, length: n) }
        #expect(sealed == expected)
        let opened = try transformed(expected) { (b, n) throws(SRTPError) in try rx.unprotectRTP(b, length: n) }
        #expect(opened == plain)
    }

    /// RFC 7714 §17: SR from SSRC "Mars", SRTCP index 0x5d4.
    let rtcpPlain = hex("""
        81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61
        deadbeefdeadbeefdeadbeefdeadbeefdeadbeef
        """)

    @Test("RFC 7714 §17.1: AEAD_AES_128_GCM SRTCP, encrypted, both ways")
    func gcmRTCP() throws {
        let expected = hex("""
            81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32d
            c676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf872
            45d9eade800005d4
            """)
        let tx = try rfc7714Context(.outbound), rx = try rfc7714Context(.inbound)
        tx.setLastSRTCPIndex(0x5d3, ssrc: 0x4d61_7273)
        let sealed = try transformed(rtcpPlain) { (b, n) throws(SRTPError) in try tx.protectRTCP(b, length: n) }
        #expect(sealed == expected)
        let opened = try transformed(expected) { (b, n) throws(SRTPError) in try rx.unprotectRTCP(b, length: n) }
        #expect(opened == rtcpPlain)
    }

    @Test("RFC 7714 §17.3: SRTCP authenticated only (E = 0)")
    func gcmRTCPTagOnly() throws {
        let received = rtcpPlain + hex("841dd9683dd78ec92ae58790125f62b3 000005d4")
        let rx = try rfc7714Context(.inbound)
        let opened = try transformed(received) { (b, n) throws(SRTPError) in try rx.unprotectRTCP(b, length: n) }
        #expect(opened == rtcpPlain)
    }

    @Test("AES-CM-128-HMAC-SHA1-80 reproduces libsrtp's reference ciphertext (srtp_driver)")
    func libsrtpReference() throws {
        let key = hex("e1f97a0d3e018be0d64fa32c06de4139"), salt = hex("0ec675ad498afeebb6960b3aabe6")
        let plain = hex("800f1234decafbadcafebabe") + [UInt8](repeating: 0xab, count: 16)
        let expected = hex("""
            800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb
            """)
        let tx = try SRTPContext(profile: .aes128CMHMACSHA1_80, direction: .outbound, key: key, salt: salt)
        #expect(try transformed(plain) { (b, n) throws(SRTPError) in try tx.protectRTP(b, length: n) } == expected)
        let rx = try SRTPContext(profile: .aes128CMHMACSHA1_80, direction: .inbound, key: key, salt: salt)
        #expect(try transformed(expected) { (b, n) throws(SRTPError) in try rx.unprotectRTP(b, length: n) } == plain)
    }
}
