import GiaobanCrypto
import Testing

/// MD5 (RFC 1321 appendix A.5) and the Digest access authentication examples of RFC 2617
/// §3.5 and RFC 7616 §3.9.1.
@Suite("HTTP Digest authentication")
struct HTTPDigestTests {
    @Test("MD5 test suite of RFC 1321")
    func md5() {
        #expect(MD5Digest.hex([]) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(MD5Digest.hex(Array("abc".utf8)) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(MD5Digest.hex(Array("message digest".utf8)) == "f96b697d7cb7938d525a2f31aaf161d0")
    }

    @Test("RFC 2617 §3.5: Mufasa, qop=auth")
    func rfc2617() {
        let response = HTTPDigest.response(
            username: "Mufasa", password: "Circle Of Life", realm: "testrealm@host.com",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", method: "GET", uri: "/dir/index.html",
            qop: "auth", nonceCount: "00000001", cnonce: "0a4f113b")
        #expect(response == "6629fae49393a05397450978507c4ef1")
    }

    @Test("RFC 7616 §3.9.1: the same request with MD5 and with SHA-256")
    func rfc7616() {
        func answer(_ algorithm: String) -> String? {
            HTTPDigest.response(
                username: "Mufasa", password: "Circle of Life", realm: "http-auth@example.org",
                nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", method: "GET", uri: "/dir/index.html",
                algorithm: algorithm, qop: "auth", nonceCount: "00000001",
                cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
        }
        #expect(answer("MD5") == "8ca523f5e9506fed4657c9700eebdbec")
        #expect(answer("SHA-256") == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
        #expect(answer("SHA-512-256") == nil)
    }

    @Test("without qop (RFC 2069): H(H(A1):nonce:H(A2))")
    func withoutQop() {
        let ha1 = MD5Digest.hex(Array("Mufasa:testrealm@host.com:Circle Of Life".utf8))
        let ha2 = MD5Digest.hex(Array("DESCRIBE:rtsp://cam/stream".utf8))
        let expected = MD5Digest.hex(Array("\(ha1):abc:\(ha2)".utf8))
        let response = HTTPDigest.response(
            username: "Mufasa", password: "Circle Of Life", realm: "testrealm@host.com", nonce: "abc",
            method: "DESCRIBE", uri: "rtsp://cam/stream")
        #expect(response == expected)
        #expect(response != HTTPDigest.response(
            username: "Mufasa", password: "circle of life", realm: "testrealm@host.com", nonce: "abc",
            method: "DESCRIBE", uri: "rtsp://cam/stream"))
    }
}
