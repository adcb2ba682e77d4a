import GiaobanWire
import Testing

/// The RTSP/TCP stream splitter: responses, server requests and interleaved frames
/// (RFC 2326 §7, §10.12), fed whole, byte by byte, truncated, and as garbage.
@Suite("RTSP stream reader")
struct RTSPStreamReaderTests {
    static let describe = Array(("RTSP/1.0 200 OK\r\nCSeq: 2\r\ncontent-base: rtsp://cam/s/\r\n"
        + "Content-Type: application/sdp\r\nCONTENT-LENGTH: 5\r\n\r\nv=0\r\n").utf8)

    /// Every item of `bytes`, fed in pieces of `chunk` bytes; frames as (channel, bytes).
    func items(_ bytes: [UInt8], chunk: Int = .max) throws -> [String] {
        var reader = RTSPStreamReader()
        var out: [String] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + min(chunk, bytes.count))
            reader.append(Array(bytes[offset..<end]))
            offset = end
            while let item = try reader.next() {
                switch item {
                case .response(let r): out.append("response \(r.statusCode) \(r.headers.cseq ?? -1) \(r.body.count)")
                case .request(let r): out.append("request \(r.method) \(r.uri)")
                case .frame(let channel, let range):
                    out.append("frame \(channel) " + reader.withBytes(in: range) { $0.map { String($0) }.joined(separator: ",") })
                }
            }
        }
        #expect(reader.pendingCount == 0)
        return out
    }

    @Test("a DESCRIBE response: status, case-insensitive headers, body by Content-Length")
    func response() throws {
        var reader = RTSPStreamReader()
        reader.append(Self.describe)
        guard case .response(let r)? = try reader.next() else { Issue.record("no response"); return }
        #expect(r.statusCode == 200 && r.reason == "OK")
        #expect(r.headers["Content-Base"] == "rtsp://cam/s/")
        #expect(r.headers["content-length"] == "5")
        #expect(r.headers.cseq == 2)
        #expect(r.body == Array("v=0\r\n".utf8))
        #expect(try reader.next() == nil)
    }

    @Test("responses and $-frames interleaved on one stream, whole and byte by byte", arguments: [Int.max, 1, 3, 7])
    func interleaved(chunk: Int) throws {
        let frame0: [UInt8] = [0x24, 0, 0, 3, 0x80, 0x60, 0x01]  // '$', channel 0, length 3
        let frame1: [UInt8] = [0x24, 1, 0, 0]  // an empty frame on channel 1
        let options = Array("RTSP/1.0 200 OK\r\nCSeq: 7\r\nPublic: OPTIONS, GET_PARAMETER\r\n\r\n".utf8)
        let request = Array("GET_PARAMETER rtsp://cam/s RTSP/1.0\nCSeq: 3\n\n".utf8)  // bare LF
        let stream = frame0 + options + frame1 + request + [0x0D, 0x0A] + Self.describe + frame0
        #expect(try items(stream, chunk: chunk) == [
            "frame 0 128,96,1", "response 200 7 0", "frame 1 ", "request GET_PARAMETER rtsp://cam/s",
            "response 200 2 5", "frame 0 128,96,1",
        ])
    }

    @Test("truncated input waits for more: a partial frame, head or body is not an item")
    func truncated() throws {
        for cut in [1, 3, 10, 40, Self.describe.count - 1] {
            var reader = RTSPStreamReader()
            reader.append(Array(Self.describe[0..<cut]))
            #expect(try reader.next() == nil, "cut at \(cut)")
        }
        var reader = RTSPStreamReader()
        reader.append([0x24, 0, 0x01, 0x00, 1, 2, 3])
        #expect(try reader.next() == nil)
    }

    @Test("folded header lines continue the previous field")
    func folding() throws {
        var reader = RTSPStreamReader()
        reader.append(Array("RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Digest realm=\"r\",\r\n nonce=\"n\"\r\n\r\n".utf8))
        guard case .response(let r)? = try reader.next() else { Issue.record("no response"); return }
        #expect(r.headers["www-authenticate"] == "Digest realm=\"r\", nonce=\"n\"")
    }

    @Test("garbage is a typed error, found early", arguments: [
        ("HTTP/1.1 200 OK\r\n\r\n", WireError(.badVersion, "RTSP start line")),
        ("RTSP/2.0 200 OK\r\n\r\n", WireError(.badVersion, "RTSP start line")),
        ("RTSP/1.0 999 Nope\r\n\r\n", WireError(.badValue, "RTSP status line")),
        ("RTSP/1.0 2x0 OK\r\n\r\n", WireError(.syntax, "RTSP start line")),
        ("\u{1}\u{2}\u{3}binary", WireError(.syntax, "RTSP start line")),
        (" leading space", WireError(.syntax, "RTSP start line")),
        ("RTSP/1.0 200 OK\r\nno colon here\r\n\r\n", WireError(.syntax, "RTSP header field")),
        ("RTSP/1.0 200 OK\r\n: empty name\r\n\r\n", WireError(.syntax, "RTSP header field")),
        ("RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n", WireError(.badLength, "RTSP Content-Length")),
        ("RTSP/1.0 200 OK\r\nContent-Length: 65537\r\n\r\n", WireError(.badLength, "RTSP Content-Length")),
        ("PLAY\r\n\r\n", WireError(.syntax, "RTSP start line")),
    ])
    func garbage(text: String, expected: WireError) {
        var reader = RTSPStreamReader()
        reader.append(Array(text.utf8))
        #expect(throws: expected) { try reader.next() }
    }

    @Test("a head over 16 KiB without an end is an error; a body of 64 KiB is not")
    func limits() throws {
        var reader = RTSPStreamReader()
        reader.append(Array("RTSP/1.0 200 OK\r\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: RTSPLimits.maxHeadBytes))
        #expect(throws: WireError(.badLength, "RTSP head")) { try reader.next() }

        var big = RTSPStreamReader()
        big.append(Array("RTSP/1.0 200 OK\r\nContent-Length: \(RTSPLimits.maxBodyBytes)\r\n\r\n".utf8))
        big.append(Array(repeating: 0x41, count: RTSPLimits.maxBodyBytes))
        guard case .response(let r)? = try big.next() else { Issue.record("no response"); return }
        #expect(r.body.count == RTSPLimits.maxBodyBytes)
    }

    @Test("invalid UTF-8 in a head is a syntax error")
    func notUTF8() {
        var reader = RTSPStreamReader()
        reader.append(Array("RTSP/1.0 200 OK\r\nX: ".utf8) + [0xFF, 0xFE] + Array("\r\n\r\n".utf8))
        #expect(throws: WireError(.syntax, "RTSP header field")) { try reader.next() }
    }
}
