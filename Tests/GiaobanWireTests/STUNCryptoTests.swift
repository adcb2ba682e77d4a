import CAllocCounter
import GiaobanWire
import Testing

/// Hex digits (whitespace ignored) to bytes.
private func cryptoHex(_ text: String) -> [UInt8] {
    let digits = text.compactMap { $0.hexDigitValue }
    return stride(from: 0, to: digits.count - 1, by: 2).map { UInt8(digits[$0] << 4 | digits[$0 + 1]) }
}

private func sha1Bytes(_ bytes: [UInt8]) -> [UInt8] {
    bytes.withUnsafeBytes { SHA1.hash($0).bytes }
}

private func hmacBytes(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
    key.withUnsafeBytes { k in message.withUnsafeBytes { m in HMACSHA1.authenticationCode(key: k, message: m).bytes } }
}

private func crc32Value(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { CRC32.checksum($0) }
}

struct STUNCryptoTests {
    /// FIPS 180-2 Appendix A / NIST CAVP short messages.
    @Test(arguments: [
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "a49b2446a02c645bf419f995b67091253a04a259"),
    ])
    func sha1Vectors(message: String, digest: String) {
        #expect(sha1Bytes(Array(message.utf8)) == cryptoHex(digest))
    }

    /// FIPS 180-2 Appendix A.3: one million "a", fed in uneven pieces.
    @Test func sha1MillionA() {
        let chunk = [UInt8](repeating: 0x61, count: 999)
        var sha = SHA1()
        var fed = 0
        chunk.withUnsafeBytes { raw in
            while fed < 1_000_000 {
                let n = min(raw.count, 1_000_000 - fed)
                sha.update(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                fed += n
            }
        }
        #expect(sha.finalize().bytes == cryptoHex("34aa973cd4c4daa4f61eeb2bdbad27316534016f"))
    }

    /// Splitting the input anywhere gives the same digest (block-boundary handling).
    @Test func sha1SplitAnywhere() {
        let message = Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8)
        let expected = cryptoHex("a49b2446a02c645bf419f995b67091253a04a259")
        for split in 0...message.count {
            var sha = SHA1()
            message.withUnsafeBytes { raw in
                sha.update(UnsafeRawBufferPointer(rebasing: raw[0..<split]))
                sha.update(UnsafeRawBufferPointer(rebasing: raw[split...]))
            }
            #expect(sha.finalize().bytes == expected, "split at \(split)")
        }
    }

    /// Lengths around the 55/56/64-byte padding edges (digests from a reference implementation).
    @Test(arguments: [
        (55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"),
        (56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"),
        (63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"),
        (64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"),
    ])
    func sha1PaddingEdges(count: Int, digest: String) {
        #expect(sha1Bytes([UInt8](repeating: 0x61, count: count)) == cryptoHex(digest))
    }

    /// RFC 2202 §3, test cases 1–7 (HMAC-SHA1).
    @Test(arguments: [
        (cryptoHex(String(repeating: "0b", count: 20)), Array("Hi There".utf8), "b617318655057264e28bc0b6fb378c8ef146be00"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        (cryptoHex(String(repeating: "aa", count: 20)), cryptoHex(String(repeating: "dd", count: 50)),
         "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
        (Array(1...25), cryptoHex(String(repeating: "cd", count: 50)), "4c9007f4026250c6bc8414f9bf50c86c2d7235da"),
        (cryptoHex(String(repeating: "0c", count: 20)), Array("Test With Truncation".utf8),
         "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"),
        (cryptoHex(String(repeating: "aa", count: 80)), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        (cryptoHex(String(repeating: "aa", count: 80)),
         Array("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data".utf8),
         "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"),
    ])
    func hmacRFC2202(key: [UInt8], message: [UInt8], mac: String) {
        #expect(hmacBytes(key: key, message) == cryptoHex(mac))
    }

    /// A 64-byte key is used as is; a 65-byte key is hashed first (RFC 2104 §2).
    @Test func hmacKeyLengthBoundary() {
        let key64 = [UInt8](repeating: 0x42, count: 64)
        let key65 = [UInt8](repeating: 0x42, count: 65)
        let message = Array("boundary".utf8)
        #expect(hmacBytes(key: key64, message) != hmacBytes(key: key65, message))
        #expect(hmacBytes(key: key65, message) == hmacBytes(key: sha1Bytes(key65), message))
    }

    /// The String initializer keys with the UTF-8 bytes; updates may be split.
    @Test func hmacStringKeyAndIncremental() {
        var mac = HMACSHA1(key: "Jefe")
        let message = Array("what do ya want for nothing?".utf8)
        message.withUnsafeBytes { raw in
            mac.update(UnsafeRawBufferPointer(rebasing: raw[0..<5]))
            mac.update(UnsafeRawBufferPointer(rebasing: raw[5...]))
        }
        #expect(mac.finalize().bytes == cryptoHex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"))
    }

    /// `matches` compares all 20 bytes and the length.
    @Test func digestMatches() {
        let digest = Array("abc".utf8).withUnsafeBytes { SHA1.hash($0) }
        var bytes = digest.bytes
        #expect(bytes.withUnsafeBytes { digest.matches($0) })
        bytes[19] ^= 1
        #expect(!bytes.withUnsafeBytes { digest.matches($0) })
        #expect(!digest.bytes.dropLast().withUnsafeBytes { digest.matches($0) })
    }

    /// CRC-32 check value (the "123456789" catalogue entry) and two more known values.
    @Test(arguments: [
        ("123456789", UInt32(0xCBF4_3926)),
        ("", UInt32(0)),
        ("The quick brown fox jumps over the lazy dog", UInt32(0x414F_A339)),
    ])
    func crc32Vectors(text: String, value: UInt32) {
        #expect(crc32Value(Array(text.utf8)) == value)
    }

    /// Feeding in pieces gives the one-shot value.
    @Test func crc32Incremental() {
        var c = CRC32()
        Array("12345".utf8).withUnsafeBytes { c.update($0) }
        Array("6789".utf8).withUnsafeBytes { c.update($0) }
        #expect(c.value == 0xCBF4_3926)
    }

    /// Keying, hashing and checksumming do not allocate. The first round is a warm-up: it
    /// builds the CRC table and lets the runtime instantiate type metadata once.
    @Test func noAllocations() {
        let key = Array("VOkJxbRl1RmTxUk/WvJxBt".utf8)
        let message = [UInt8](repeating: 0x5A, count: 200)
        var allocations: [UInt64] = [0, 0]
        allocations.reserveCapacity(2)
        var results: (SHA1Digest?, UInt32) = (nil, 0)
        key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                for round in 0..<2 {
                    let before = giaoban_thread_allocations()
                    var mac = HMACSHA1(key: k)
                    mac.update(m)
                    results = (mac.finalize(), CRC32.checksum(m))
                    allocations[round] = giaoban_thread_allocations() - before
                }
            }
        }
        #expect(allocations[1] == 0)
        #expect(results.0 == message.withUnsafeBytes { m in key.withUnsafeBytes { HMACSHA1.authenticationCode(key: $0, message: m) } })
        #expect(results.1 == crc32Value(message))
        // The counter does count: building an array allocates.
        let before = giaoban_thread_allocations()
        let probe = [UInt8](repeating: 1, count: 64)
        #expect(giaoban_thread_allocations() > before && probe.count == 64)
    }
}
