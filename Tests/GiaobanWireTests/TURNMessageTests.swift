import GiaobanWire
import Testing

/// Space-separated hex bytes to bytes; on each line, three spaces start a comment.
private func turnHex(_ text: String) -> [UInt8] {
    text.split(separator: "\n").flatMap { line -> [UInt8] in
        let data = line.split(separator: "   ", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return data.split(separator: " ").map { UInt8($0, radix: 16)! }
    }
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

@Suite("TURN: MD5, the long-term credential, TURN attributes and ChannelData")
struct TURNMessageTests {
    /// RFC 5769 §2.4 Sample Request with Long-Term Authentication, byte for byte.
    static let rfc5769LongTerm = turnHex("""
    00 01 00 60   Request type and message length
    21 12 a4 42   Magic cookie
    78 ad 34 33   }
    c6 ad 72 c0   }  Transaction ID
    29 da 41 2e   }
    00 06 00 12   USERNAME attribute header
    e3 83 9e e3   }
    83 88 e3 83   }
    aa e3 83 83   }  Username value (18 bytes) and padding (2 bytes)
    e3 82 af e3   }
    82 b9 00 00   }
    00 15 00 1c   NONCE attribute header
    66 2f 2f 34   }
    39 39 6b 39   }
    35 34 64 36   }
    4f 4c 33 34   }  Nonce value
    6f 4c 39 46   }
    53 54 76 79   }
    36 34 73 41   }
    00 14 00 0b   REALM attribute header
    65 78 61 6d   }
    70 6c 65 2e   }  Realm value (11 bytes) and padding (1 byte)
    6f 72 67 00   }
    00 08 00 14   MESSAGE-INTEGRITY attribute header
    f6 70 24 65   }
    6d d6 4a 3e   }
    02 b8 e0 71   }  HMAC-SHA1 fingerprint
    2e 85 c9 a2   }
    8c a8 96 66   }
    """)

    @Test("MD5 matches RFC 1321 appendix A.5", arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"),
    ])
    func md5(message: String, digest: String) {
        #expect(hex(MD5.hash(Array(message.utf8))) == digest)
    }

    @Test("the RFC 5769 §2.4 key is MD5(username:realm:password), and the request is rebuilt byte for byte")
    func rfc5769LongTermRequest() throws {
        // The password "The\u{00AD}M\u{00AA}tr\u{2168}" after SASLprep is "TheMatrIX" (RFC 5769 §2.4).
        let credential = STUNLongTermCredential(username: "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}", password: "TheMatrIX")
        #expect(hex(credential.key(realm: "example.org")) == "e8ca7ad59d5eb0518e312911d2dab2a9")
        let id = STUNTransactionID(high: 0x78AD_3433, low: 0xC6AD_72C0_29DA_412E)
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: id, integrityKey: credential.integrityKey(realm: "example.org"))
        try builder.append(.username(credential.username))
        try builder.append(.nonce("f//499k954d6OL34oL9FSTvy64sA"))
        try builder.append(.realm("example.org"))
        var out = [UInt8](repeating: 0, count: builder.marshalSize)
        let n = try out.withUnsafeMutableBytes { buffer throws(WireError) in try builder.marshal(into: buffer) }
        #expect(n == Self.rfc5769LongTerm.count)
        #expect(out == Self.rfc5769LongTerm)
        try Self.rfc5769LongTerm.withUnsafeBytes { bytes in
            let view = try STUNMessageView(bytes)
            try credential.key(realm: "example.org").withUnsafeBytes { key in try view.verifyMessageIntegrity(key: key) }
        }
    }

    @Test("TURN method types on the wire (RFC 8656 §17)")
    func methodTypes() {
        #expect(STUNMessageType.request(.allocate).rawValue == 0x0003)
        #expect(STUNMessageType(method: .allocate, messageClass: .successResponse).rawValue == 0x0103)
        #expect(STUNMessageType(method: .allocate, messageClass: .errorResponse).rawValue == 0x0113)
        #expect(STUNMessageType.request(.refresh).rawValue == 0x0004)
        #expect(STUNMessageType.request(.createPermission).rawValue == 0x0008)
        #expect(STUNMessageType.request(.channelBind).rawValue == 0x0009)
        #expect(STUNMessageType(method: .data, messageClass: .indication).rawValue == 0x0017)
        #expect(STUNMessageType(rawValue: 0x0109).method == .channelBind)
    }

    @Test("a ChannelBind request: CHANNEL-NUMBER, XOR-PEER-ADDRESS (masked like XOR-MAPPED-ADDRESS), LIFETIME, REQUESTED-TRANSPORT")
    func channelBindAttributes() throws {
        let id = STUNTransactionID(high: 0x0102_0304, low: 0x0506_0708_090A_0B0C)
        let peer = STUNAddress(ipv4: 0xC000_0207, port: 40_000)  // 192.0.2.7:40000
        var builder = STUNMessageBuilder(type: .request(.channelBind), transactionID: id)
        try builder.append(.channelNumber(0x4001))
        try builder.append(.xorPeerAddress(peer, transactionID: id))
        try builder.append(.lifetime(600))
        try builder.append(.requestedTransportUDP)
        var out = [UInt8](repeating: 0, count: builder.marshalSize)
        let n = try out.withUnsafeMutableBytes { buffer throws(WireError) in try builder.marshal(into: buffer) }
        #expect(Array(out[20..<28]) == [0x00, 0x0C, 0x00, 0x04, 0x40, 0x01, 0x00, 0x00], "CHANNEL-NUMBER 0x4001, RFFU 0")
        // XOR-PEER-ADDRESS: family 1, port 40000 ^ 0x2112, address 192.0.2.7 ^ 0x2112A442.
        #expect(Array(out[28..<40]) == [0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0xBD, 0x52, 0xE1, 0x12, 0xA6, 0x45])
        #expect(Array(out[40..<48]) == [0x00, 0x0D, 0x00, 0x04, 0x00, 0x00, 0x02, 0x58], "LIFETIME 600")
        #expect(Array(out[48..<56]) == [0x00, 0x19, 0x00, 0x04, 17, 0, 0, 0], "REQUESTED-TRANSPORT UDP")
        try out.prefix(n).withUnsafeBytes { bytes in
            let view = try STUNMessageView(UnsafeRawBufferPointer(rebasing: bytes[...]))
            #expect(view.type == .request(.channelBind))
            let decoded = try #require(view.attribute(.xorPeerAddress))
            #expect(try decoded.xorMappedAddress(transactionID: id) == peer)
            #expect(try view.attribute(.lifetime)?.uint32() == 600)
        }
    }

    @Test("ChannelData: header, data, padding ignored, numbers outside 0x4000–0x4FFF refused (RFC 8656 §12.4)")
    func channelData() {
        var buffer = [UInt8](repeating: 0xEE, count: 16)
        let n = buffer.withUnsafeMutableBytes { ChannelData.writeHeader(channel: 0x4000, length: 5, into: $0) }
        #expect(n == 9)
        #expect(Array(buffer[0..<4]) == [0x40, 0x00, 0x00, 0x05])
        // Over UDP a sender may pad to 4 bytes; the length field, not the datagram, bounds the data.
        let padded: [UInt8] = [0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0]
        let parsed = ChannelData.parse(padded)
        #expect(parsed?.channel == 0x4000 && parsed?.data == 4..<9)
        #expect(padded.withUnsafeBytes { ChannelData.isChannelData($0) })
        #expect(ChannelData.parse([0x40, 0x00, 0x00, 0x09, 1, 2, 3]) == nil, "length past the end")
        #expect(ChannelData.parse([0x50, 0x00, 0x00, 0x00]) == nil, "0x5000 is not a channel")
        #expect([0x00, 0x01, 0x00, 0x00].withUnsafeBytes { ChannelData.isChannelData($0) } == false, "STUN")
        #expect([0x80, 0x60, 0x00, 0x00].withUnsafeBytes { ChannelData.isChannelData($0) } == false, "RTP")
    }
}
