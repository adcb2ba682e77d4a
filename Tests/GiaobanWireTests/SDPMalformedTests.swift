import Foundation
import GiaobanWire
import Testing

/// A minimal valid offer; its line numbers are used below.
private let minimal = [
    "v=0",  // 1
    "o=- 1 1 IN IP4 127.0.0.1",  // 2
    "s=-",  // 3
    "t=0 0",  // 4
    "a=group:BUNDLE 0",  // 5
    "m=audio 9 UDP/TLS/RTP/SAVPF 111",  // 6
    "c=IN IP4 0.0.0.0",  // 7
    "a=mid:0",  // 8
    "a=rtpmap:111 opus/48000/2",  // 9
    "a=candidate:1 1 udp 2122194687 192.0.2.2 50000 typ host",  // 10
]

/// `minimal` with line `number` replaced by `line` (or removed for nil), CRLF-joined.
private func minimal(replacing number: Int, with line: String?) -> String {
    var lines = minimal
    if let line { lines[number - 1] = line } else { lines.remove(at: number - 1) }
    return lines.joined(separator: "\r\n") + "\r\n"
}

/// The syntax error expected at `line`.
private func syntax(_ line: Int) -> WireError { WireError(.syntax, "SDP", line: line) }

@Suite("SDP malformed input")
struct SDPMalformedTests {
    @Test("the minimal offer itself parses")
    func minimalParses() throws {
        let sdp = try SessionDescription(parsing: minimal.joined(separator: "\n"))
        #expect(sdp.media.count == 1)
        #expect(sdp.media[0].rtpMaps.first?.payloadType == 111)
    }

    @Test("one bad line throws a syntax error naming that line", arguments: [
        (1, "o=- 1 1 IN IP4 127.0.0.1"),  // missing v=
        (1, "v=1"),  // only version 0 exists
        (1, "V=0"),  // type letters are lowercase
        (2, "s=-"),  // o= must be second
        (2, "o=- 1 1 IN IP4"),  // five origin fields
        (2, "o=- abc 1 IN IP4 127.0.0.1"),  // non-numeric session id
        (3, "t=0 0"),  // s= must be third
        (4, "t=0"),  // one timing field
        (4, "r=7d 1h 0 25h"),  // r= before any t=
        (4, "hello"),  // no x= form
        (4, ""),  // empty line inside
        (4, " v=0"),  // leading space
        (4, "x=unknown"),  // unknown type letter
        (4, "v=0"),  // a second v=
        (5, "a="),  // empty attribute name
        (5, "a=group BUNDLE:0"),  // space in the name
        (5, "a=group:"),  // group without semantics
        (6, "m=audio 70000 UDP/TLS/RTP/SAVPF 111"),  // port above 65535
        (6, "m=audio -9 UDP/TLS/RTP/SAVPF 111"),  // signed port
        (6, "m=audio nine UDP/TLS/RTP/SAVPF 111"),  // non-numeric port
        (6, "m=audio 9/x UDP/TLS/RTP/SAVPF 111"),  // bad port count
        (6, "m=audio 9 UDP/TLS/RTP/SAVPF"),  // no format
        (6, "m=audio 9 UDP//SAVPF 111"),  // empty proto part
        (7, "t=0 0"),  // session-level line inside a media section
        (7, "c=IN IP4"),  // two connection fields
        (7, "b=AS"),  // bandwidth without value
        (7, "b=AS:fast"),  // non-numeric bandwidth
        (8, "a=mid:"),  // empty mid
        (9, "a=rtpmap:111 opus"),  // no clock rate
        (9, "a=rtpmap:128 opus/48000"),  // payload type above 127
        (9, "a=rtpmap:111 opus/48000/2/1"),  // too many parts
        (9, "a=rtpmap:111 opus/fast"),  // non-numeric clock rate
        (9, "a=rtpmap:111"),  // no encoding
        (9, "a=rtpmap"),  // property form
        (9, "a=rtcp-fb:x nack"),  // bad payload type
        (9, "a=extmap:0 urn:x"),  // ID 0 is not allowed
        (9, "a=extmap:1/sideways urn:x"),  // bad direction
        (9, "a=extmap:1"),  // no URI
        (9, "a=fingerprint:sha-256 E1:1"),  // one hex digit
        (9, "a=fingerprint:sha-256 E1:G3"),  // not hex
        (9, "a=setup:both"),  // unknown role
        (9, "a=ssrc:abc cname:x"),  // non-numeric SSRC
        (9, "a=ssrc:4294967296 cname:x"),  // SSRC above 32 bits
        (9, "a=ssrc-group:FID"),  // group without SSRCs
        (9, "a=rid:q sideways"),  // bad rid direction
        (9, "a=rid:q! send"),  // bad rid id
        (9, "a=rid:q send max-width=1;pt=96"),  // pt= not first
        (9, "a=simulcast:send"),  // no list
        (9, "a=simulcast:send q send h"),  // send twice
        (9, "a=simulcast:send q;;h"),  // empty stream
        (9, "a=msid:a b c"),  // three fields
        (9, "a=ice-options:"),  // no option
        (10, "a=candidate:1 1 udp 2122194687 192.0.2.2 50000 host"),  // missing typ
        (10, "a=candidate:1 1 udp 2122194687 192.0.2.2 70000 typ host"),  // port above 65535
        (10, "a=candidate:1 1 udp 4294967296 192.0.2.2 50000 typ host"),  // priority above 32 bits
        (10, "a=candidate:1 0 udp 2122194687 192.0.2.2 50000 typ host"),  // component 0
        (10, "a=candidate:1 1 udp 2122194687 192.0.2.2 50000 typ host generation"),  // extension without value
        (10, "a=candidate:1 1 udp 2122194687 192.0.2.2 50000 typ host raddr"),  // raddr without address
        (10, "a=candidate:f@o 1 udp 2122194687 192.0.2.2 50000 typ host"),  // foundation not ice-chars
        (10, "a=candidate:"),  // empty
    ])
    func badLine(line: Int, text: String) {
        let sdp = minimal(replacing: line, with: text)
        #expect(throws: syntax(line), "\(text)") { try SessionDescription(parsing: sdp) }
    }

    @Test("missing origin or session name is reported where the line was due")
    func missingLines() {
        #expect(throws: syntax(1)) { try SessionDescription(parsing: "") }
        #expect(throws: syntax(1)) { try SessionDescription(parsing: "\r\n") }
        #expect(throws: syntax(2)) { try SessionDescription(parsing: "v=0\r\n") }
        #expect(throws: syntax(3)) { try SessionDescription(parsing: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n") }
    }

    @Test("repeated once-only session lines are errors")
    func duplicates() {
        let base = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
        #expect(throws: syntax(5)) { try SessionDescription(parsing: base + "c=IN IP4 0.0.0.0\r\nc=IN IP4 0.0.0.0\r\n") }
        #expect(throws: syntax(5)) { try SessionDescription(parsing: base + "i=a\r\ni=b\r\n") }
        #expect(throws: syntax(6)) {
            try SessionDescription(parsing: base + "m=audio 9 RTP/AVP 0\r\ni=a\r\ni=b\r\n")
        }
        // Media-level c= may repeat (RFC 8866 §5.7).
        #expect(throws: Never.self) {
            try SessionDescription(parsing: base + "m=audio 9 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\nc=IN IP4 0.0.0.1\r\n")
        }
    }

    @Test("CR and NUL inside a line are errors; trailing blank lines are not")
    func controlCharacters() throws {
        let base = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
        #expect(throws: syntax(4)) { try SessionDescription(parsing: base + "a=x\ry\r\n") }
        #expect(throws: syntax(4)) { try SessionDescription(parsing: base + "a=x\r\r\n") }
        #expect(throws: syntax(4)) { try SessionDescription(parsing: base + "a=x\u{0}y\r\n") }
        let trailing = try SessionDescription(parsing: base + "a=x\r\n\r\n\n")
        #expect(trailing.attributes == [SDPAttribute("x")])
    }

    @Test("bytes that are not UTF-8 are a syntax error at their line", arguments: [
        ([0xC3, 0x28] as [UInt8], 4),  // invalid continuation byte
        ([0xFF], 4),  // never valid in UTF-8
        ([0xE2, 0x82], 4),  // truncated sequence
        ([0xED, 0xA0, 0x80], 4),  // encoded surrogate
    ])
    func notUTF8(bad: [UInt8], line: Int) {
        var bytes = Array("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\na=x:".utf8)
        bytes += bad
        bytes += Array("\r\nt=0 0\r\n".utf8)
        #expect(throws: syntax(line)) { try bytes.withUnsafeBytes { try SessionDescription(parsing: $0) } }
    }

    @Test("UTF-8 text in values is accepted and kept")
    func utf8Values() throws {
        let text = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=Giao ban xã Đông Hòa\r\nt=0 0\r\n"
        let sdp = try Array(text.utf8).withUnsafeBytes { try SessionDescription(parsing: $0) }
        #expect(sdp.sessionName == "Giao ban xã Đông Hòa")
        #expect(sdp.serialize() == text)
    }

    @Test("a bad line deep inside a real offer is reported at its own line number")
    func badLineInFixture() throws {
        var lines = try SDPFixture.text("chromium-offer").components(separatedBy: "\r\n")
        let index = try #require(lines.firstIndex(of: "a=rtpmap:96 VP8/90000"))
        lines[index] = "a=rtpmap:96 VP8"
        #expect(throws: syntax(index + 1)) { try SessionDescription(parsing: lines.joined(separator: "\r\n")) }
    }

    @Test("every prefix of a real offer parses or throws, never traps")
    func truncations() throws {
        let bytes = Array(try SDPFixture.text("aiortc-offer").utf8)
        let parsed = checkPrefixes(of: bytes, lengths: Array(0..<bytes.count))
        #expect(parsed > bytes.count / 2)
        #expect(throws: WireError.self) { try SessionDescription(parsing: "v=0\r\no=- 1 1 IN IP4 1") }
    }

    @Test("prefixes of the Chromium offer cut next to each line end parse or throw")
    func truncationsAtLineEnds() throws {
        let bytes = Array(try SDPFixture.text("chromium-offer").utf8)
        var lengths: [Int] = []
        for (i, byte) in bytes.enumerated() where byte == 0x0A {
            lengths += (max(0, i - 3)...min(bytes.count, i + 3)).map { $0 }
        }
        let parsed = checkPrefixes(of: bytes, lengths: lengths)
        #expect(parsed > lengths.count / 2)
    }

    /// Parses `bytes[..<n]` for each length; a success must round-trip, a failure must be a
    /// syntax error with a line number. Returns how many parsed.
    private func checkPrefixes(of bytes: [UInt8], lengths: [Int]) -> Int {
        var parsed = 0
        for length in lengths {
            do {
                let sdp = try bytes[..<length].withUnsafeBytes { try SessionDescription(parsing: $0) }
                parsed += 1
                if length % 37 == 0 { #expect(try SessionDescription(parsing: sdp.serialize()) == sdp) }
            } catch let error as WireError {
                #expect(error.reason == .syntax && error.line >= 1)
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        return parsed
    }
}
