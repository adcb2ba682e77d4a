import GiaobanClient
import GiaobanCrypto
import GiaobanICE
import GiaobanWire
import Testing

/// The client answers the checks a full (or libnice lite) peer sends it (RFC 8445 §7.3).
@Suite("Client answers the peer's connectivity checks")
struct ClientCheckAnswerTests {
    let local = ICECredentials(ufrag: "loca", pwd: "local-password-0123456789")
    let remote = ICECredentials(ufrag: "remo", pwd: "remote-password-012345678")

    func peer() throws -> ClientPeer {
        let context = try DTLSContext(certificate: DTLSCertificate())
        let answer = try RelayAnswer(sdp: """
            v=0\r
            o=- 1 2 IN IP4 127.0.0.1\r
            s=-\r
            t=0 0\r
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r
            c=IN IP4 127.0.0.1\r
            a=mid:0\r
            a=ice-ufrag:\(remote.ufrag)\r
            a=ice-pwd:\(remote.pwd)\r
            a=fingerprint:\(context.fingerprint.sdpValue)\r
            a=setup:active\r
            a=rtpmap:111 opus/48000/2\r
            a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r

            """)
        return try ClientPeer(localICE: local, context: context, answer: answer, now: .now)
    }

    /// A binding request from the peer: USERNAME "local:remote", keyed with `password`.
    func check(password: String) throws -> ([UInt8], STUNTransactionID) {
        let id = STUNTransactionID.random()
        var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: id, integrityKey: HMACSHA1(key: password), fingerprint: true)
        try builder.append(.username("\(local.ufrag):\(remote.ufrag)"))
        try builder.append(.priority(1_853_824_767))
        try builder.append(.iceControlled(42))
        var bytes = [UInt8](repeating: 0, count: builder.marshalSize)
        let n = try bytes.withUnsafeMutableBytes { buffer throws(WireError) in try builder.marshal(into: buffer) }
        return (Array(bytes.prefix(n)), id)
    }

    @Test("a check keyed with our password gets a success response with the peer's address")
    func answersAuthenticatedCheck() throws {
        let peer = try peer()
        var (request, id) = try check(password: local.pwd)
        let incoming = request.withUnsafeMutableBytes { peer.receive($0, now: .now) }
        #expect(incoming == .control)
        let outgoing = peer.takeOutgoing()
        #expect(outgoing.count == 1)
        let response = try #require(outgoing.first)
        try response.withUnsafeBytes { bytes in
            let message = try STUNMessageView(bytes)
            #expect(message.type == .bindingSuccess)
            #expect(message.transactionID == id)
            try message.verifyMessageIntegrity(password: local.pwd)
            try message.verifyFingerprint()
            #expect(try message.xorMappedAddress() == peer.relayAddress)
        }
        #expect(peer.drops.total == 0)
    }

    @Test("a check keyed with another password is dropped unanswered")
    func dropsUnauthenticatedCheck() throws {
        let peer = try peer()
        var (request, _) = try check(password: remote.pwd)
        _ = request.withUnsafeMutableBytes { peer.receive($0, now: .now) }
        #expect(peer.takeOutgoing().isEmpty)
        #expect(peer.drops[.stun] == 1)
    }
}
