import CAllocCounter
import GiaobanWire
import Testing

/// Space-separated hex bytes to bytes; on each line, three spaces start a comment.
private func stunHex(_ text: String) -> [UInt8] {
    text.split(separator: "\n").flatMap { line -> [UInt8] in
        let data = line.split(separator: "   ", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return data.split(separator: " ").map { UInt8($0, radix: 16)! }
    }
}

/// The RFC 5769 test vectors, annotated field by field.
private enum RFC5769 {
    /// RFC 5769 §2.1 Sample Request (short-term password "VOkJxbRl1RmTxUk/WvJxBt").
    static let request = stunHex("""
        00 01 00 58   Binding request, length 88
        21 12 a4 42   magic cookie
        b7 e7 a7 01 bc 34 d6 86 fa 87 df ae   transaction ID
        80 22 00 10   SOFTWARE, 16 bytes
        53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74   "STUN test client"
        00 24 00 04   PRIORITY
        6e 00 01 ff
        80 29 00 08   ICE-CONTROLLED
        93 2f f9 b1 51 26 3b 36
        00 06 00 09   USERNAME, 9 bytes
        65 76 74 6a 3a 68 36 76 59 20 20 20   "evtj:h6vY" + 3 padding bytes of 0x20
        00 08 00 14   MESSAGE-INTEGRITY
        9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
        80 28 00 04   FINGERPRINT
        e5 7a 3b cf
        """)

    /// RFC 5769 §2.2 Sample IPv4 Response.
    static let ipv4Response = stunHex("""
        01 01 00 3c   Binding success response, length 60
        21 12 a4 42   magic cookie
        b7 e7 a7 01 bc 34 d6 86 fa 87 df ae   transaction ID
        80 22 00 0b   SOFTWARE, 11 bytes
        74 65 73 74 20 76 65 63 74 6f 72 20   "test vector" + 1 padding byte of 0x20
        00 20 00 08   XOR-MAPPED-ADDRESS
        00 01 a1 47   family IPv4, port 32853 XOR 0x2112
        e1 12 a6 43   192.0.2.1 XOR cookie
        00 08 00 14   MESSAGE-INTEGRITY
        2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
        80 28 00 04   FINGERPRINT
        c0 7d 4c 96
        """)

    /// RFC 5769 §2.3 Sample IPv6 Response.
    static let ipv6Response = stunHex("""
        01 01 00 48   Binding success response, length 72
        21 12 a4 42   magic cookie
        b7 e7 a7 01 bc 34 d6 86 fa 87 df ae   transaction ID
        80 22 00 0b   SOFTWARE, 11 bytes
        74 65 73 74 20 76 65 63 74 6f 72 20   "test vector" + 1 padding byte of 0x20
        00 20 00 14   XOR-MAPPED-ADDRESS
        00 02 a1 47   family IPv6, port 32853 XOR 0x2112
        01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9   address XOR cookie ‖ transaction ID
        00 08 00 14   MESSAGE-INTEGRITY
        a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
        80 28 00 04   FINGERPRINT
        c8 fb 0b 4c
        """)

    /// RFC 5769 §2.4 Sample Request with Long-Term Authentication (no FINGERPRINT).
    static let longTermRequest = stunHex("""
        00 01 00 60   Binding request, length 96
        21 12 a4 42   magic cookie
        78 ad 34 33 c6 ad 72 c0 29 da 41 2e   transaction ID
        00 06 00 12   USERNAME, 18 bytes: "マトリックス" in UTF-8
        e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00   + 2 padding bytes of 0
        00 15 00 1c   NONCE, 28 bytes
        66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
        00 14 00 0b   REALM, 11 bytes
        65 78 61 6d 70 6c 65 2e 6f 72 67 00   "example.org" + 1 padding byte of 0
        00 08 00 14   MESSAGE-INTEGRITY
        f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66
        """)

    /// The short-term password of §2.1–§2.3.
    static let password = "VOkJxbRl1RmTxUk/WvJxBt"
    /// The transaction ID of §2.1–§2.3.
    static let transactionID = STUNTransactionID(high: 0xB7E7_A701, low: 0xBC34_D686_FA87_DFAE)
    /// §2.4 long-term key (RFC 8489 §9.2.2): MD5("マトリックス:example.org:TheMatrIX"), the
    /// password "TheMªtrⅨ" after SASLprep. MD5 is not part of the wire module; the 16 bytes
    /// were computed once with a standard MD5 implementation.
    static let longTermKey = stunHex("e8 ca 7a d5 9d 5e b0 51 8e 31 29 11 d2 da b2 a9")
}

/// Parses `bytes` and runs `body` on the view.
private func parseSTUN<R>(_ bytes: [UInt8], _ body: (STUNMessageView) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { raw in try body(STUNMessageView(raw)) }
}

/// The reason `STUNMessageView.init` rejects `bytes` with, or nil when it accepts them.
private func stunParseError(_ bytes: [UInt8]) -> WireError.Reason? {
    bytes.withUnsafeBytes { raw in
        do throws(WireError) {
            _ = try STUNMessageView(raw)
            return nil
        } catch {
            return error.reason
        }
    }
}

/// The reason `check` throws with on the parsed `bytes`, or nil when it does not throw.
private func stunCheckError(_ bytes: [UInt8], _ check: (STUNMessageView) throws -> Void) throws -> WireError.Reason? {
    try parseSTUN(bytes) { view in
        do {
            try check(view)
            return nil
        } catch let error as WireError {
            return error.reason
        }
    }
}

/// Marshals `builder` into a new array of exactly `marshalSize` bytes.
private func marshalSTUN(_ builder: STUNMessageBuilder) throws -> [UInt8] {
    var out = [UInt8](repeating: 0xEE, count: builder.marshalSize)
    let written = try out.withUnsafeMutableBytes { try builder.marshal(into: $0) }
    #expect(written == out.count)
    return out
}

/// `bytes` with the Message Length field set to match its size.
private func withFixedLength(_ bytes: [UInt8]) -> [UInt8] {
    var copy = bytes
    let length = copy.count - 20
    copy[2] = UInt8(length >> 8)
    copy[3] = UInt8(length & 0xFF)
    return copy
}

struct STUNTests {
    // MARK: RFC 5769 vectors

    @Test func rfc5769SampleRequest() throws {
        try parseSTUN(RFC5769.request) { view in
            #expect(view.type == .bindingRequest)
            #expect(view.type.rawValue == 0x0001)
            #expect(view.transactionID == RFC5769.transactionID)
            #expect(view.length == 0x58)
            #expect(view.software?.text == "STUN test client")
            #expect(view.username?.valueEquals("evtj:h6vY") == true)
            #expect(view.username?.valueEquals("evtj:h6vZ") == false)
            #expect(try view.priority() == 0x6E00_01FF)
            #expect(try view.iceControlled() == 0x932F_F9B1_5126_3B36)
            #expect(try view.iceControlling() == nil)
            #expect(!view.useCandidate)
            #expect(view.hasMessageIntegrity && view.hasFingerprint)
            try view.verifyMessageIntegrity(password: RFC5769.password)
            try view.verifyFingerprint()
            let types = view.attributes.map(\.type)
            #expect(types == [.software, .priority, .iceControlled, .username, .messageIntegrity, .fingerprint])
        }
        #expect(try stunCheckError(RFC5769.request) { try $0.verifyMessageIntegrity(password: "VOkJxbRl1RmTxUk/WvJxBu") }
            == .badIntegrity)
    }

    @Test func rfc5769IPv4Response() throws {
        try parseSTUN(RFC5769.ipv4Response) { view in
            #expect(view.type == .bindingSuccess)
            #expect(view.software?.text == "test vector")
            let mapped = try #require(try view.xorMappedAddress())
            #expect(mapped == STUNAddress(ipv4: 192, 0, 2, 1, port: 32853))
            #expect(mapped.description == "192.0.2.1:32853")
            try view.verifyMessageIntegrity(password: RFC5769.password)
            try view.verifyFingerprint()
        }
    }

    @Test func rfc5769IPv6Response() throws {
        try parseSTUN(RFC5769.ipv6Response) { view in
            let mapped = try #require(try view.xorMappedAddress())
            #expect(mapped == STUNAddress(ipv6High: 0x2001_0DB8_1234_5678, ipv6Low: 0x0011_2233_4455_6677, port: 32853))
            #expect(mapped.description == "[2001:db8:1234:5678:11:2233:4455:6677]:32853")
            #expect(mapped.ipv4 == nil)
            try view.verifyMessageIntegrity(password: RFC5769.password)
            try view.verifyFingerprint()
        }
    }

    @Test func rfc5769LongTermRequest() throws {
        try parseSTUN(RFC5769.longTermRequest) { view in
            #expect(view.username?.text == "マトリックス")
            #expect(view.nonce?.text == "f//499k954d6OL34oL9FSTvy64sA")
            #expect(view.realm?.text == "example.org")
            #expect(!view.hasFingerprint)
            try RFC5769.longTermKey.withUnsafeBytes { key in try view.verifyMessageIntegrity(key: key) }
        }
        #expect(try stunCheckError(RFC5769.longTermRequest) { try $0.verifyFingerprint() } == .badFingerprint)
        #expect(try stunCheckError(RFC5769.longTermRequest) { try $0.verifyMessageIntegrity(password: "TheMatrIX") }
            == .badIntegrity)
    }

    /// The builder reproduces §2.1–§2.3 byte for byte when it pads with 0x20 as the RFC did.
    @Test func builderReproducesShortTermVectors() throws {
        let key = HMACSHA1(key: RFC5769.password)
        var request = STUNMessageBuilder(type: .bindingRequest, transactionID: RFC5769.transactionID, integrityKey: key, fingerprint: true)
        request.paddingByte = 0x20
        try request.append(.software("STUN test client"))
        try request.append(.priority(0x6E00_01FF))
        try request.append(.iceControlled(0x932F_F9B1_5126_3B36))
        try request.append(.username("evtj:h6vY"))
        #expect(try marshalSTUN(request) == RFC5769.request)

        var v4 = STUNMessageBuilder(type: .bindingSuccess, transactionID: RFC5769.transactionID, integrityKey: key, fingerprint: true)
        v4.paddingByte = 0x20
        try v4.append(.software("test vector"))
        try v4.append(.xorMappedAddress(STUNAddress(ipv4: 0xC000_0201, port: 32853)))
        #expect(try marshalSTUN(v4) == RFC5769.ipv4Response)

        var v6 = v4
        v6.attributes.removeAll()
        try v6.append(.software("test vector"))
        try v6.append(.xorMappedAddress(STUNAddress(ipv6High: 0x2001_0DB8_1234_5678, ipv6Low: 0x0011_2233_4455_6677, port: 32853)))
        #expect(try marshalSTUN(v6) == RFC5769.ipv6Response)

        // With the default zero padding only the padding, MESSAGE-INTEGRITY and FINGERPRINT differ.
        v4.paddingByte = 0
        let zeroPadded = try marshalSTUN(v4)
        #expect(zeroPadded.count == RFC5769.ipv4Response.count)
        #expect(zeroPadded[35] == 0 && RFC5769.ipv4Response[35] == 0x20)
        try parseSTUN(zeroPadded) { view in
            try view.verifyMessageIntegrity(password: RFC5769.password)
            try view.verifyFingerprint()
        }
    }

    /// §2.4 reproduced byte for byte with zero padding and the long-term key.
    @Test func builderReproducesLongTermVector() throws {
        let key = RFC5769.longTermKey.withUnsafeBytes { HMACSHA1(key: $0) }
        var request = STUNMessageBuilder(
            type: .bindingRequest, transactionID: STUNTransactionID(high: 0x78AD_3433, low: 0xC6AD_72C0_29DA_412E),
            integrityKey: key)
        try request.append(.username("マトリックス"))
        try request.append(.nonce("f//499k954d6OL34oL9FSTvy64sA"))
        try request.append(.realm("example.org"))
        #expect(try marshalSTUN(request) == RFC5769.longTermRequest)
    }

    // MARK: Header

    @Test(arguments: [
        (STUNMethod.binding, STUNClass.request, UInt16(0x0001)),
        (.binding, .indication, 0x0011),
        (.binding, .successResponse, 0x0101),
        (.binding, .errorResponse, 0x0111),
        (STUNMethod(rawValue: 0x003), .successResponse, 0x0103),
        (STUNMethod(rawValue: 0x010), .request, 0x0020),
        (STUNMethod(rawValue: 0xFFF), .errorResponse, 0x3FFF),
        (STUNMethod(rawValue: 0x080), .request, 0x0200),
    ])
    func messageTypeBits(method: STUNMethod, messageClass: STUNClass, raw: UInt16) {
        let type = STUNMessageType(method: method, messageClass: messageClass)
        #expect(type.rawValue == raw)
        #expect(STUNMessageType(rawValue: raw) == type)
    }

    @Test func demuxCheck() {
        #expect(RFC5769.request.withUnsafeBytes { STUNMessageView.isSTUN($0) })
        var rtp = RFC5769.request
        rtp[0] = 0x80
        #expect(!rtp.withUnsafeBytes { STUNMessageView.isSTUN($0) })
        var dtls = RFC5769.request
        dtls[0] = 22
        #expect(!dtls.withUnsafeBytes { STUNMessageView.isSTUN($0) })
        var classic = RFC5769.request
        classic[7] ^= 1
        #expect(!classic.withUnsafeBytes { STUNMessageView.isSTUN($0) })
        #expect(!Array(RFC5769.request.prefix(19)).withUnsafeBytes { STUNMessageView.isSTUN($0) })
    }

    // MARK: Malformed input

    @Test(arguments: [RFC5769.request, RFC5769.ipv4Response, RFC5769.ipv6Response, RFC5769.longTermRequest])
    func everyTruncationThrows(vector: [UInt8]) {
        for cut in 0..<vector.count {
            let reason = stunParseError(Array(vector.prefix(cut)))
            #expect(reason == (cut < 20 ? .truncated : .badLength), "cut at \(cut)")
        }
        #expect(stunParseError(vector) == nil)
    }

    @Test func headerErrors() {
        var longer = RFC5769.request
        longer[3] = 0x5C
        #expect(stunParseError(longer) == .badLength)
        #expect(stunParseError(RFC5769.request + [0, 0, 0, 0]) == .badLength)
        var unaligned = RFC5769.request
        unaligned[3] = 0x57
        #expect(stunParseError(Array(unaligned.dropLast())) == .badLength)
        var cookie = RFC5769.request
        cookie[4] = 0x22
        #expect(stunParseError(cookie) == .badVersion)
        var leadingBits = RFC5769.request
        leadingBits[0] = 0x40
        #expect(stunParseError(leadingBits) == .badValue)
    }

    @Test func attributeErrors() {
        // SOFTWARE (offset 20) claims 0x60 bytes: runs past the end of the message.
        var overrun = RFC5769.request
        overrun[22] = 0x00
        overrun[23] = 0x60
        #expect(stunParseError(overrun) == .truncated)
        // An attribute after FINGERPRINT.
        #expect(stunParseError(withFixedLength(RFC5769.ipv4Response + stunHex("00 24 00 04 00 00 00 01"))) == .badAttribute)
        // MESSAGE-INTEGRITY (offset 48) of 16 bytes, the other 4 bytes re-labelled as an empty attribute.
        var shortIntegrity = RFC5769.ipv4Response
        shortIntegrity[51] = 0x10
        shortIntegrity.replaceSubrange(68..<72, with: stunHex("80 00 00 00"))
        #expect(stunParseError(shortIntegrity) == .badAttribute)
        // FINGERPRINT of 8 bytes.
        #expect(stunParseError(withFixedLength(Array(RFC5769.ipv4Response.dropLast(8)) + stunHex("80 28 00 08 00 00 00 00 00 00 00 00")))
            == .badAttribute)
    }

    @Test func wrongIntegrityAndFingerprint() throws {
        // A USERNAME byte changed: both checks fail.
        var tampered = RFC5769.request
        tampered[72] ^= 0x01
        #expect(try stunCheckError(tampered) { try $0.verifyMessageIntegrity(password: RFC5769.password) } == .badIntegrity)
        #expect(try stunCheckError(tampered) { try $0.verifyFingerprint() } == .badFingerprint)
        // Only the FINGERPRINT value changed: the integrity still holds.
        var badFingerprint = RFC5769.request
        badFingerprint[107] ^= 0x80
        #expect(try stunCheckError(badFingerprint) { try $0.verifyMessageIntegrity(password: RFC5769.password) } == nil)
        #expect(try stunCheckError(badFingerprint) { try $0.verifyFingerprint() } == .badFingerprint)
        // Only the MESSAGE-INTEGRITY value changed.
        var badMAC = RFC5769.request
        badMAC[80] ^= 0x01
        #expect(try stunCheckError(badMAC) { try $0.verifyMessageIntegrity(password: RFC5769.password) } == .badIntegrity)
        // Absent attributes.
        let bare = try marshalSTUN(STUNMessageBuilder(type: .bindingRequest, transactionID: RFC5769.transactionID))
        #expect(try stunCheckError(bare) { try $0.verifyMessageIntegrity(password: RFC5769.password) } == .badIntegrity)
        #expect(try stunCheckError(bare) { try $0.verifyFingerprint() } == .badFingerprint)
    }

    /// RFC 8489 §14.5: attributes after MESSAGE-INTEGRITY (other than FINGERPRINT) are ignored,
    /// and the integrity still verifies over the bytes before it.
    @Test func attributesAfterIntegrityAreIgnored() throws {
        let key = HMACSHA1(key: RFC5769.password)
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: RFC5769.transactionID, integrityKey: key)
        try builder.append(.username("a:b"))
        let signed = try marshalSTUN(builder)
        var message = withFixedLength(signed + stunHex("00 24 00 04 00 00 00 07"))  // PRIORITY after MI
        // Append a FINGERPRINT over the whole thing.
        message = withFixedLength(message + [0, 0, 0, 0, 0, 0, 0, 0])
        let crc = Array(message.dropLast(8)).withUnsafeBytes { CRC32.checksum($0) } ^ 0x5354_554E
        message.replaceSubrange((message.count - 8)..., with: [0x80, 0x28, 0, 4,
            UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        try parseSTUN(message) { view in
            #expect(view.attributes.map(\.type) == [.username, .messageIntegrity, .fingerprint])
            #expect(try view.priority() == nil)
            try view.verifyMessageIntegrity(key)
            try view.verifyFingerprint()
        }
    }

    // MARK: Attributes

    @Test(arguments: [
        STUNAddress(ipv4: 203, 0, 113, 7, port: 1),
        STUNAddress(ipv4: 0xFFFF_FFFF, port: 65535),
        STUNAddress(ipv6High: 0x2001_0DB8_0000_0000, ipv6Low: 1, port: 3478),
        STUNAddress(ipv6High: 0xFE80_0000_0000_0000, ipv6Low: 0x0001_0002_0003_0004, port: 0),
    ])
    func addressRoundTrip(address: STUNAddress) throws {
        let id = STUNTransactionID.random()
        var builder = STUNMessageBuilder(type: .bindingSuccess, transactionID: id)
        try builder.append(.xorMappedAddress(address))
        try builder.append(.mappedAddress(address))
        try parseSTUN(try marshalSTUN(builder)) { view in
            #expect(try view.xorMappedAddress() == address)
            #expect(try view.mappedAddress() == address)
            let raw = try #require(view.attribute(.xorMappedAddress))
            #expect(raw.value.count == address.valueByteCount)
        }
    }

    @Test func addressText() {
        #expect(STUNAddress(ipv6High: 0x2001_0DB8_0000_0000, ipv6Low: 1, port: 3478).description == "[2001:db8::1]:3478")
        #expect(STUNAddress(ipv6High: 0, ipv6Low: 0, port: 9).description == "[::]:9")
        #expect(STUNAddress(ipv6High: 0x0001_0000_0002_0000, ipv6Low: 0x0003_0000_0000_0004, port: 5).description
            == "[1:0:2:0:3::4]:5")
    }

    @Test(arguments: [
        ("00 03 00 00 01 02 03 04", "unknown family"),
        ("00 01 00 00 01 02 03 04 05 06 07 08", "IPv4 with 8 address bytes"),
        ("00 02 00 00 01 02 03 04", "IPv6 with 4 address bytes"),
        ("00 01 00", "shorter than the family and port"),
    ])
    func malformedAddress(value: String, why: String) {
        let bytes = stunHex(value)
        let reason: WireError.Reason? = bytes.withUnsafeBytes { raw in
            do throws(WireError) {
                _ = try STUNAddress(value: raw, xor: nil)
                return nil
            } catch {
                return error.reason
            }
        }
        #expect(reason == .badAttribute, "\(why)")
    }

    @Test func errorResponse() throws {
        let response = try marshalSTUN(.bindingError(transactionID: RFC5769.transactionID, error: .roleConflict,
                                                  integrityKey: HMACSHA1(key: RFC5769.password)))
        #expect(Array(response[20..<28]) == stunHex("00 09 00 11 00 00 04 57"))  // ERROR-CODE, 17 bytes, class 4, number 87
        try parseSTUN(response) { view in
            #expect(view.type == .bindingError)
            let error = try #require(try view.errorCode())
            #expect(error.code == 487)
            #expect(error.reasonText == "Role Conflict")
            try view.verifyMessageIntegrity(password: RFC5769.password)
            try view.verifyFingerprint()
        }
        var invalid = STUNMessageBuilder(type: .bindingError, transactionID: RFC5769.transactionID)
        try invalid.append(.errorCode(STUNErrorCode(code: 200, reason: "OK")))
        #expect(throws: WireError(.badValue, "STUN ERROR-CODE")) { try marshalSTUN(invalid) }
    }

    @Test func unknownAttributesRoundTrip() throws {
        var builder = STUNMessageBuilder(type: .bindingError, transactionID: RFC5769.transactionID)
        try builder.append(.errorCode(.unknownAttribute))
        try builder.append(.unknownAttributes([STUNAttributeType(rawValue: 0x0031)]))
        let bytes = try marshalSTUN(builder)
        try parseSTUN(bytes) { view in
            let list = try #require(view.attribute(.unknownAttributes)).unknownAttributes()
            #expect(Array(list) == [STUNAttributeType(rawValue: 0x0031)])
            #expect(try view.errorCode()?.code == 420)
        }
    }

    /// A 420 response lists the comprehension-required attributes that are not understood.
    @Test func unknownComprehensionRequired() throws {
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: RFC5769.transactionID)
        try builder.append(.username("a:b"))
        try builder.append(.raw(STUNAttributeType(rawValue: 0x0031), [1]))
        try builder.append(.raw(STUNAttributeType(rawValue: 0xC057), [0, 1, 0, 10]))  // optional: ignored
        try builder.append(.raw(.messageIntegritySHA256, [UInt8](repeating: 0, count: 32)))
        try parseSTUN(try marshalSTUN(builder)) { view in
            #expect(view.unknownComprehensionRequiredTypes() == [STUNAttributeType(rawValue: 0x0031), .messageIntegritySHA256])
        }
        try parseSTUN(RFC5769.request) { view in
            #expect(view.unknownComprehensionRequiredTypes().isEmpty)
        }
    }

    @Test func typedDecodersRejectWrongLengths() throws {
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: RFC5769.transactionID)
        try builder.append(.raw(.priority, [1, 2, 3]))
        try builder.append(.raw(.iceControlling, [1, 2, 3, 4]))
        try builder.append(.raw(.errorCode, [0, 0, 2, 0]))
        try builder.append(.raw(.unknownAttributes, [0, 1, 2]))
        #expect(try stunCheckError(try marshalSTUN(builder)) { _ = try $0.priority() } == .badAttribute)
        #expect(try stunCheckError(try marshalSTUN(builder)) { _ = try $0.iceControlling() } == .badAttribute)
        #expect(try stunCheckError(try marshalSTUN(builder)) { _ = try $0.errorCode() } == .badAttribute)
        #expect(try stunCheckError(try marshalSTUN(builder)) { _ = try $0.attribute(.unknownAttributes)?.unknownAttributes() }
            == .badAttribute)
    }

    // MARK: Builder

    @Test func bindingRequestWithICEAttributes() throws {
        let key = HMACSHA1(key: "remotepassword-22chars")
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: RFC5769.transactionID, integrityKey: key, fingerprint: true)
        try builder.append(.username("rUfr:lUfr"))
        try builder.append(.priority(0x6E7F_1EFF))
        try builder.append(.iceControlling(0x0102_0304_0506_0708))
        try builder.append(.useCandidate)
        let bytes = try marshalSTUN(builder)
        #expect(bytes.count == 20 + 16 + 8 + 12 + 4 + 24 + 8)
        try parseSTUN(bytes) { view in
            #expect(view.useCandidate)
            #expect(try view.iceControlling() == 0x0102_0304_0506_0708)
            #expect(try view.priority() == 0x6E7F_1EFF)
            #expect(view.username?.text == "rUfr:lUfr")
            try view.verifyMessageIntegrity(key)
            try view.verifyFingerprint()
        }
    }

    @Test func builderLimits() throws {
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: RFC5769.transactionID)
        for _ in 0..<STUNAttributeList.capacity { try builder.append(.useCandidate) }
        #expect(throws: WireError(.bufferTooSmall, "STUN attribute list")) { try builder.append(.useCandidate) }
        var out = [UInt8](repeating: 0, count: builder.marshalSize - 1)
        #expect(throws: WireError(.bufferTooSmall, "STUN message")) {
            _ = try out.withUnsafeMutableBytes { try builder.marshal(into: $0) }
        }
        var huge = STUNMessageBuilder(type: .bindingRequest, transactionID: RFC5769.transactionID)
        try huge.append(.raw(.software, [UInt8](repeating: 0x41, count: 65_536)))
        #expect(throws: WireError(.badLength, "STUN message length")) { try marshalSTUN(huge) }
    }

    // MARK: Allocations

    /// Parsing a request, checking both attributes, reading the ICE attributes, and building
    /// the success and error responses do not allocate.
    @Test func hotPathDoesNotAllocate() throws {
        let key = HMACSHA1(key: RFC5769.password)
        let source = STUNAddress(ipv4: 192, 0, 2, 1, port: 32853)
        var out = [UInt8](repeating: 0, count: 256)
        var allocations: UInt64 = 0
        var lengths = (0, 0, 0)
        var rounds = 0
        try RFC5769.request.withUnsafeBytes { request in
            try out.withUnsafeMutableBytes { buffer in
                for round in 0..<2 {  // the first round builds the CRC table
                    let before = giaoban_thread_allocations()
                    let view = try STUNMessageView(request)
                    try view.verifyMessageIntegrity(key)
                    try view.verifyFingerprint()
                    let nameMatches = view.username?.valueEquals("evtj:h6vY") ?? false
                    let priority = try view.priority() ?? 0
                    let success = STUNMessageBuilder.bindingSuccess(
                        transactionID: view.transactionID, mappedAddress: source, integrityKey: key)
                    lengths.0 = try success.marshal(into: buffer)
                    lengths.1 = try STUNMessageBuilder.bindingError(
                        transactionID: view.transactionID, error: .unauthorized).marshal(into: buffer)
                    lengths.2 = try STUNMessageBuilder.bindingError(
                        transactionID: view.transactionID, error: .roleConflict, integrityKey: key).marshal(into: buffer)
                    let after = giaoban_thread_allocations()
                    if round == 1 { allocations = after - before }
                    if nameMatches && priority != 0 { rounds += 1 }
                }
            }
        }
        #expect(allocations == 0)
        #expect(rounds == 2)
        #expect(lengths == (20 + 12 + 24 + 8, 20 + 20 + 8, 20 + 24 + 24 + 8))
        // The counter does count: building an array allocates.
        let before = giaoban_thread_allocations()
        let array = [UInt8](repeating: 7, count: 100)
        #expect(giaoban_thread_allocations() > before && array.count == 100)
    }
}
