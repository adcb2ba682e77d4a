import GiaobanCrypto
import Testing

/// SHA-256 against the FIPS 180-4 examples (NIST CSRC, "SHA256.pdf").
@Suite("SHA-256")
struct SHA256DigestTests {
    @Test("the empty message, 'abc' and the two-block message")
    func vectors() {
        #expect(SHA256Digest.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Digest.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Digest.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
