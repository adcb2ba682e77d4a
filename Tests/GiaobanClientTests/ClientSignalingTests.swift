import Foundation
import GiaobanClient
import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
import GiaobanWire
import Synchronization
import Testing
import GiaobanAuth

#if canImport(Glibc)
import Glibc
#endif

/// A one-shot HTTP server on 127.0.0.1: accepts one connection on its own thread, keeps the
/// request it read, writes `response` and closes. With `replyAtFirstRead` it answers after the
/// first bytes, whatever they are (a TLS ClientHello, say).
final class CannedHTTPServer: Sendable {
    let port: UInt16
    let request = Mutex<String>("")
    private let fd: Int32
    private let response: String
    private let replyAtFirstRead: Bool

    init(response: String, replyAtFirstRead: Bool = false) throws {
        self.response = response
        self.replyAtFirstRead = replyAtFirstRead
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        fd = listener
        port = UInt16(bigEndian: address.sin_port)
        try #require(bound && listen(listener, 1) == 0)
        Thread { [self] in serveOnce() }.start()
    }

    deinit { close(fd) }

    private func serveOnce() {
        let client = accept(fd, nil, nil)
        guard client >= 0 else { return }
        var bytes = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        // Read until the headers and the announced body are in.
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
            if replyAtFirstRead { break }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { continue }
            let length = text[..<end.lowerBound].split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            if text[end.upperBound...].utf8.count >= length { break }
        }
        request.withLock { $0 = String(decoding: bytes, as: UTF8.self) }
        _ = Array(response.utf8).withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(client)
    }
}

@Suite("Client: offers, answers, HTTP and WHIP")
struct ClientSignalingTests {
    func relayAnswer(for offer: ClientOffer, role: PeerSetup.Role) throws -> SessionDescription {
        let published = Negotiation.PublishedTracks(
            audio: PeerSetup.Track(kind: .audio, payloadType: 111, codec: "opus", clockRate: 48_000, ssrc: 1),
            video: PeerSetup.Track(kind: .video, payloadType: 96, codec: "VP8", clockRate: 90_000, ssrc: 2))
        let local = LocalTransport(address: "127.0.0.1", port: 40_000, fingerprint: try DTLSCertificate().fingerprint)
        return try Negotiation.answer(offer: SessionDescription(parsing: offer.sdp), role: role, stream: "s", peerID: "p",
                                      local: local, published: role == .publisher ? nil : published).0
    }

    @Test("the relay accepts both offers: sendonly with SSRCs, and recvonly", arguments: [true, false])
    func offersNegotiate(publishing: Bool) throws {
        let fingerprint = try DTLSCertificate().fingerprint
        let offer = ClientOffer(mode: publishing ? .publish(audioSSRC: 7, videoSSRC: 8) : .watch, ice: .random(),
                                fingerprint: fingerprint, host: "127.0.0.1", port: 5004)
        let parsed = try SessionDescription(parsing: offer.sdp)
        #expect(parsed.bundleGroup?.mids == ["0", "1"])
        #expect(parsed.media.map(\.direction) == (publishing ? [.sendonly, .sendonly] : [.recvonly, .recvonly]))
        #expect(parsed.media[1].codecs.first?.hasFeedback("nack", "pli") == true)
        #expect(parsed.media.map(\.ssrcs) == (publishing ? [[7], [8]] : [[], []]))
        #expect(parsed.media[0].candidates.first?.port == 5004)

        let answer = try RelayAnswer(relayAnswer(for: offer, role: publishing ? .publisher : .subscriber))
        #expect(answer.candidate == STUNAddress(ipv4: 127, 0, 0, 1, port: 40_000))
        #expect(answer.dtlsRole == .client, "the relay answers actpass with passive")
        #expect(answer.audio?.payloadType == 111)
        #expect(answer.video?.codec == "VP8")
        #expect((answer.video?.ssrc ?? 0 != 0) == !publishing, "a watcher learns the relay's SSRCs")
    }

    @Test("an answer without a candidate is refused")
    func answerWithoutCandidate() throws {
        let offer = ClientOffer(mode: .watch, ice: .random(), fingerprint: try DTLSCertificate().fingerprint, host: "127.0.0.1", port: 1)
        var answer = try relayAnswer(for: offer, role: .subscriber)
        for i in answer.media.indices { answer.media[i].removeAttributes(named: "candidate") }
        #expect(throws: ClientError.self) { try RelayAnswer(answer) }
    }

    @Test("responses with Content-Length, chunked bodies, and partial input")
    func responseParsing() throws {
        let fixed = Array("HTTP/1.1 201 Created\r\nLocation: /whip/s/1\r\nContent-Length: 5\r\n\r\nhello".utf8)
        let response = try #require(try HTTPResponse.parse(fixed))
        #expect(response.status == 201)
        #expect(response.header("location") == "/whip/s/1")
        #expect(response.text == "hello")
        #expect(try HTTPResponse.parse(Array(fixed.dropLast())) == nil, "incomplete body")
        let chunked = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n".utf8)
        #expect(try HTTPResponse.parse(chunked)?.text == "abcde")
        #expect(try HTTPResponse.parse(Array(chunked.prefix(60))) == nil)
        #expect(throws: ClientError.self) { try HTTPResponse.parse(Array("HTP/1.1 200\r\n\r\n".utf8)) }
        #expect(try HTTPResponse.parse(Array("HTTP/1.1 200 OK\r\n\r\nrest".utf8), atEOF: true)?.text == "rest")
    }

    @Test("WHIP: the offer is posted with the token, the answer and an absolute Location are read")
    func whipExchange() throws {
        let offer = ClientOffer(mode: .publish(audioSSRC: 1, videoSSRC: 2), ice: .random(),
                                fingerprint: try DTLSCertificate().fingerprint, host: "127.0.0.1", port: 6000)
        let answer = try relayAnswer(for: offer, role: .publisher).serialize()
        let server = try CannedHTTPServer(response: "HTTP/1.1 201 Created\r\nContent-Type: application/sdp\r\n"
            + "Location: http://127.0.0.1:1/whip/cam/abc\r\nContent-Length: \(answer.utf8.count)\r\n\r\n\(answer)")
        let whip = try WHIPClient(baseURL: "http://127.0.0.1:\(server.port)", token: "t0k")
        let session = try whip.publish(stream: "cam", offer: offer.sdp)
        #expect(session.location == "/whip/cam/abc")
        #expect(session.answer.candidate.port == 40_000)
        let request = server.request.withLock { $0 }
        #expect(request.hasPrefix("POST /whip/cam HTTP/1.1\r\n"))
        #expect(request.contains("Authorization: Bearer t0k\r\n"))
        #expect(request.contains("Content-Type: application/sdp\r\n"))
        #expect(request.hasSuffix(offer.sdp))
    }

    @Test("a refused request surfaces the status; a closed port fails fast")
    func httpErrors() throws {
        let server = try CannedHTTPServer(response: "HTTP/1.1 404 Not Found\r\nContent-Length: 6\r\n\r\nnobody")
        let whip = try WHIPClient(baseURL: "http://127.0.0.1:\(server.port)", token: nil)
        #expect { try whip.watch(stream: "x", offer: "v=0\r\n") } throws: { ($0 as? ClientError)?.reason == .rejected }
        var closed = try HTTPClient(baseURL: "http://127.0.0.1:1")
        closed.timeout = .seconds(2)
        #expect { try closed.request("GET", "/healthz") } throws: { ($0 as? ClientError)?.reason == .http }
    }
}
