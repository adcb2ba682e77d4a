import CAllocCounter
import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
import GiaobanSRTP
import GiaobanWire
import Testing

/// A WebRTC peer made of the project's own parts (ICE checks, DTLS client, SRTP), talking to
/// a `MediaRouter` through an `OutputQueue` instead of a socket.
final class LoopbackPeer {
    let address: STUNAddress
    let ice = ICECredentials.random()
    let certificate: DTLSCertificate
    let dtls: DTLSTransport
    var relayICE: ICECredentials?
    var keys: SRTPKeyingMaterial?
    var srtpOut: SRTPSession?
    var srtpIn: SRTPSession?
    var inbox: [[UInt8]] = []

    /// A peer at 127.0.0.1:`port`, over UDP or (with `connection`) the relay's TCP connection of that number.
    init(port: UInt16, connection: UInt32 = 0, relayFingerprint: CertificateFingerprint) throws {
        address = STUNAddress(ipv4: 127, 0, 0, 1, port: port).onConnection(connection)
        certificate = try DTLSCertificate()
        dtls = try DTLSTransport(context: DTLSContext(certificate: certificate), role: .client, remoteFingerprint: relayFingerprint)
    }

    func setup(role: PeerSetup.Role, stream: String, id: String, relayICE: ICECredentials, ssrc: UInt32) -> PeerSetup {
        self.relayICE = relayICE
        let video = PeerSetup.Track(kind: .video, payloadType: role == .publisher ? 96 : 100, codec: "VP8", clockRate: 90_000, ssrc: ssrc)
        return PeerSetup(id: id, role: role, stream: stream, localICE: relayICE, remoteICE: ice,
                         remoteFingerprint: certificate.fingerprint, dtlsClient: false, audio: nil, video: video)
    }

    /// A binding request as a controlling agent sends it (RFC 8445 §7.1.2).
    func bindingRequest(password: String? = nil, nominate: Bool = true) throws -> [UInt8] {
        let relay = try #require(relayICE)
        return try controllingCheck(relay: relay, remote: ice, password: password, nominate: nominate)
    }

    func receive(_ datagram: [UInt8], now: ContinuousClock.Instant) -> [[UInt8]] {
        var replies: [[UInt8]] = []
        switch datagram.first ?? 0 {
        case 20...63:
            let step = dtls.receive(datagram, now: now)
            replies += step.outgoing
            for case .connected(let material) in step.events {
                keys = material
                srtpOut = try? SRTPSession(profile: material.profile, direction: .outbound, key: material.localKey, salt: material.localSalt)
                srtpIn = try? SRTPSession(profile: material.profile, direction: .inbound, key: material.remoteKey, salt: material.remoteSalt)
            }
        default:
            inbox.append(datagram)
        }
        return replies
    }

    /// Protects a plain RTP or RTCP packet for the relay.
    func protect(_ plain: [UInt8], rtcp: Bool = false) throws -> [UInt8] {
        let session = try #require(srtpOut)
        var buffer = plain + [UInt8](repeating: 0, count: 64)
        let n = try buffer.withUnsafeMutableBytes {
            rtcp ? try session.protectRTCP($0, length: plain.count) : try session.protectRTP($0, length: plain.count)
        }
        return Array(buffer.prefix(n))
    }

    /// Decrypts the SRTP packets in the inbox (RTP only) and empties it.
    func takeRTP() throws -> [[UInt8]] {
        let session = try #require(srtpIn)
        var result: [[UInt8]] = []
        for var datagram in inbox where datagram.count > 12 && (128...191).contains(datagram[0]) && !(192...223).contains(datagram[1]) {
            let n = try datagram.withUnsafeMutableBytes { try session.unprotectRTP($0, length: $0.count) }
            result.append(Array(datagram.prefix(n)))
        }
        inbox.removeAll()
        return result
    }

    /// Decrypts the SRTCP packets in the inbox and empties it.
    func takeRTCP() throws -> [[UInt8]] {
        let session = try #require(srtpIn)
        var result: [[UInt8]] = []
        for var datagram in inbox where datagram.count > 8 && (192...223).contains(datagram[1]) {
            let n = try datagram.withUnsafeMutableBytes { try session.unprotectRTCP($0, length: $0.count) }
            result.append(Array(datagram.prefix(n)))
        }
        inbox.removeAll()
        return result
    }
}

/// A connectivity check as a controlling agent sends it to `relay` (RFC 8445 §7.1.2), signed
/// with `password` (default: the relay's).
func controllingCheck(relay: ICECredentials, remote: ICECredentials, id: STUNTransactionID = .random(),
                      password: String? = nil, nominate: Bool = true) throws -> [UInt8] {
    var builder = STUNMessageBuilder(type: .bindingRequest, transactionID: id,
                                     integrityKey: HMACSHA1(key: password ?? relay.pwd), fingerprint: true)
    try builder.append(.username("\(relay.ufrag):\(remote.ufrag)"))
    try builder.append(.priority(1_853_824_767))
    try builder.append(.iceControlling(42))
    if nominate { try builder.append(.useCandidate) }
    var bytes = [UInt8](repeating: 0, count: builder.marshalSize)
    _ = try bytes.withUnsafeMutableBytes { try builder.marshal(into: $0) }
    return bytes
}

/// The router plus the peers around it, exchanging datagrams in memory.
final class Harness {
    let relayCertificate: DTLSCertificate
    let router: MediaRouter
    let out: OutputQueue
    var peers: [LoopbackPeer] = []
    var now = ContinuousClock.now

    /// `lanes`: the output queue's egress lanes (set `settings.egressLanes` to match).
    init(settings: MediaRouter.Settings = .init(), lanes: Int = 1) throws {
        out = OutputQueue(capacity: 256, lanes: lanes)
        relayCertificate = try DTLSCertificate()
        router = MediaRouter(settings: settings, dtlsContext: try DTLSContext(certificate: relayCertificate), now: now)
    }

    func send(_ datagram: [UInt8], from peer: LoopbackPeer) {
        var copy = datagram
        copy.withUnsafeMutableBytes { router.handle($0, from: peer.address, now: now, out: out) }
    }

    /// Delivers queued output to the peers; returns how many datagrams were delivered.
    @discardableResult
    func deliver() -> Int {
        var replies: [(LoopbackPeer, [UInt8])] = []
        let count = out.count
        for i in 0..<count {
            let bytes = Array(out.datagram(i))
            guard let peer = peers.first(where: { $0.address == out.destinations[i] }) else { continue }
            for reply in peer.receive(bytes, now: now) { replies.append((peer, reply)) }
        }
        out.removeAll()
        for (peer, reply) in replies { send(reply, from: peer) }
        return count
    }

    /// ICE then DTLS for `peer`, until it has SRTP keys.
    func connect(_ peer: LoopbackPeer) throws {
        send(try peer.bindingRequest(), from: peer)
        #expect(out.count == 1, "binding success response")
        let response = try #require(out.count == 1 ? Array(out.datagram(0)) : nil)
        try response.withUnsafeBytes { bytes in
            let message = try STUNMessageView(bytes)
            #expect(message.type == .bindingSuccess)
            try message.verifyMessageIntegrity(password: peer.relayICE!.pwd)
            #expect(try message.xorMappedAddress() == peer.address.onConnection(0), "the address, not the connection")
        }
        out.removeAll()
        for datagram in peer.dtls.start(now: now) { send(datagram, from: peer) }
        for _ in 0..<10 where peer.keys == nil { if deliver() == 0 { break } }
        #expect(peer.keys != nil, "DTLS-SRTP handshake completed")
        deliver()
    }
}

/// A VP8 RTP packet: 12-byte header, a one-byte VP8 descriptor, then `payload`.
func vp8Packet(sequence: UInt16, timestamp: UInt32, ssrc: UInt32, payload: [UInt8]) -> [UInt8] {
    var p: [UInt8] = [0x80, 96, UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
    p += withUnsafeBytes(of: timestamp.bigEndian, Array.init) + withUnsafeBytes(of: ssrc.bigEndian, Array.init)
    return p + [0x10] + payload
}

@Suite("Media router: ICE-lite, DTLS-SRTP and forwarding, without sockets")
struct MediaRouterTests {
    func publisherAndSubscriber(_ h: Harness) throws -> (LoopbackPeer, LoopbackPeer) {
        let pub = try LoopbackPeer(port: 5000, relayFingerprint: h.relayCertificate.fingerprint)
        let sub = try LoopbackPeer(port: 5001, relayFingerprint: h.relayCertificate.fingerprint)
        h.peers = [pub, sub]
        try h.router.addPeer(pub.setup(role: .publisher, stream: "s", id: "pub", relayICE: .random(), ssrc: 0), now: h.now)
        try h.router.addPeer(sub.setup(role: .subscriber, stream: "s", id: "sub", relayICE: .random(), ssrc: 0xABCD), now: h.now)
        try h.connect(pub)
        try h.connect(sub)
        return (pub, sub)
    }

    @Test("a publisher's packets reach the subscriber renumbered, and a NACK is answered from the cache")
    func forwardAndNACK() throws {
        let h = try Harness()
        let (pub, sub) = try publisherAndSubscriber(h)
        _ = try sub.takeRTCP()
        for i in 0..<5 {
            let plain = vp8Packet(sequence: UInt16(truncatingIfNeeded: 65_533 + i), timestamp: 3000 * UInt32(i), ssrc: 0x1111, payload: [UInt8](repeating: UInt8(i), count: 100))
            h.send(try pub.protect(plain), from: pub)
        }
        h.deliver()
        // The third packet is lost on the way to the subscriber.
        #expect(sub.inbox.count == 5)
        sub.inbox.remove(at: 2)
        let received = try sub.takeRTP()
        #expect(received.count == 4)
        var sequences: [UInt16] = []
        for (i, packet) in zip([0, 1, 3, 4], received) {
            try packet.withUnsafeBytes { bytes in
                let view = try RTPPacketView(bytes)
                #expect(view.ssrc == 0xABCD)
                #expect(view.payloadType == 100)
                #expect(Array(view.payload) == [0x10] + [UInt8](repeating: UInt8(i), count: 100))
                sequences.append(view.sequenceNumber)
            }
        }
        #expect(sequences == [sequences[0], sequences[0] &+ 1, sequences[0] &+ 3, sequences[0] &+ 4], "contiguous across the wrap")
        #expect(h.router.counters.rtpForwarded == 5)

        // NACK the lost packet (RR + generic NACK, RFC 4585 §6.2.1).
        let lost = sequences[0] &+ 2
        let nack = GenericNACKBuilder(senderSSRC: 9, mediaSSRC: 0xABCD, lost: [lost])
        var rtcp = [UInt8](repeating: 0, count: 64)
        let n = try rtcp.withUnsafeMutableBytes { try RTCPCompound.marshal(ReceiverReportBuilder(ssrc: 9), nack, into: $0) }
        h.send(try sub.protect(Array(rtcp.prefix(n)), rtcp: true), from: sub)
        h.deliver()
        let resent = try #require(try sub.takeRTP().first)
        try resent.withUnsafeBytes { bytes in
            let view = try RTPPacketView(bytes)
            #expect(view.sequenceNumber == lost)
            #expect(view.ssrc == 0xABCD)
            #expect(Array(view.payload) == [0x10] + [UInt8](repeating: 2, count: 100), "the lost packet's payload")
        }
        #expect(h.router.counters.rtpRetransmitted == 1)
    }

    @Test("replayed SRTP, garbage, and checks with a wrong password are dropped and counted")
    func drops() throws {
        let h = try Harness()
        let (pub, sub) = try publisherAndSubscriber(h)
        let packet = try pub.protect(vp8Packet(sequence: 1, timestamp: 0, ssrc: 0x2222, payload: [1, 2, 3]))
        h.send(packet, from: pub)
        h.send(packet, from: pub)
        #expect(h.router.counters.dropped(.srtpReplayed) == 1)
        h.send([0x50, 1, 2, 3], from: pub)
        #expect(h.router.counters.dropped(.unknownFirstByte) == 1)
        h.out.removeAll()
        let stranger = try LoopbackPeer(port: 6000, relayFingerprint: h.relayCertificate.fingerprint)
        stranger.relayICE = sub.relayICE
        h.send(try stranger.bindingRequest(password: "wrong-password-wrong-password"), from: stranger)
        #expect(h.router.counters.dropped(.stunBadIntegrity) == 1)
        #expect(h.out.count == 0, "no answer to a check that fails integrity")
        h.send([0x80, 96] + [UInt8](repeating: 0, count: 40), from: stranger)
        #expect(h.router.counters.dropped(.rtpNoPeer) == 1, "media from an address ICE never nominated")
        var tampered = try pub.protect(vp8Packet(sequence: 2, timestamp: 0, ssrc: 0x2222, payload: [1, 2, 3]))
        tampered[14] ^= 0xFF
        h.send(tampered, from: pub)
        #expect(h.router.counters.dropped(.srtpAuthFailed) == 1)
    }

    @Test("keyframe requests from subscribers reach the publisher at most once per interval")
    func keyframeThrottle() throws {
        var settings = MediaRouter.Settings()
        settings.keyframeRequestInterval = .seconds(1)
        let h = try Harness(settings: settings)
        let (pub, sub) = try publisherAndSubscriber(h)
        h.send(try pub.protect(vp8Packet(sequence: 1, timestamp: 0, ssrc: 0x3333, payload: [9])), from: pub)
        h.deliver()
        _ = try pub.takeRTCP()
        let pli = PictureLossIndication(senderSSRC: 9, mediaSSRC: 0xABCD)
        for _ in 0..<3 {
            var rtcp = [UInt8](repeating: 0, count: 64)
            let n = try rtcp.withUnsafeMutableBytes { try RTCPCompound.marshal(ReceiverReportBuilder(ssrc: 9), pli, into: $0) }
            h.send(try sub.protect(Array(rtcp.prefix(n)), rtcp: true), from: sub)
        }
        h.deliver()
        let first = try pub.takeRTCP()
        #expect(first.count == 1, "three PLIs within the interval become one")
        h.now += .milliseconds(1_100)
        h.router.tick(now: h.now, wallClock: 0, out: h.out)
        h.deliver()
        let later = try pub.takeRTCP().filter { rtcp in
            rtcp.withUnsafeBytes { bytes in
                (try? RTCPCompound(bytes))?.contains { $0.packetType == .payloadFeedback } ?? false
            }
        }
        #expect(later.count == 1, "the request held back is sent when the interval has passed")
        #expect(h.router.counters.keyframeRequests == 2)
    }
}

@Suite("Media router: no allocation per forwarded packet")
struct MediaRouterAllocationTests {
    @Test("steady-state forwarding to three subscribers allocates nothing")
    func zeroAllocations() throws {
        let h = try Harness()
        let pub = try LoopbackPeer(port: 7000, relayFingerprint: h.relayCertificate.fingerprint)
        var subs: [LoopbackPeer] = []
        for i in 0..<3 { subs.append(try LoopbackPeer(port: UInt16(7001 + i), relayFingerprint: h.relayCertificate.fingerprint)) }
        h.peers = [pub] + subs
        try h.router.addPeer(pub.setup(role: .publisher, stream: "z", id: "pub", relayICE: .random(), ssrc: 0), now: h.now)
        for (i, sub) in subs.enumerated() {
            try h.router.addPeer(sub.setup(role: .subscriber, stream: "z", id: "sub\(i)", relayICE: .random(), ssrc: UInt32(0x100 + i)), now: h.now)
        }
        try h.connect(pub)
        for sub in subs { try h.connect(sub) }
        // Protect 300 packets up front, in buffers the router can decrypt in place.
        let packets = try (0..<300).map { i in
            try pub.protect(vp8Packet(sequence: UInt16(i), timestamp: UInt32(i / 4) * 3000, ssrc: 0x4444,
                                      payload: [UInt8](repeating: 7, count: 1000)))
        }
        let buffers = packets.map { p -> UnsafeMutableRawBufferPointer in
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: p.count, alignment: 16)
            b.copyBytes(from: p)
            return b
        }
        defer { buffers.forEach { $0.deallocate() } }
        let source = pub.address, now = h.now
        for i in 0..<100 {  // warm-up: first packets learn SSRCs, grow nothing afterwards
            h.router.handle(buffers[i], from: source, now: now, out: h.out)
            h.out.removeAll()
        }
        let before = giaoban_thread_allocations()
        for i in 100..<300 {
            h.router.handle(buffers[i], from: source, now: now, out: h.out)
            h.out.removeAll()
        }
        let allocations = giaoban_thread_allocations() - before
        #expect(giaoban_alloc_counter_active() != 0, "the counting allocator is linked")
        #expect(h.router.counters.rtpForwarded == 900)

        // SRTP runs on OpenSSL's EVP with contexts keyed once per session (SRTPContext): the
        // 200 unprotects and 600 protects allocate nothing either.
        #expect(allocations == 0, "heap allocations on the forwarding path: \(allocations)")
    }
}

@Suite("Media router: timeouts")
struct MediaRouterTimeoutTests {
    @Test("a peer that stops sending ICE checks is removed after 30 s (RFC 7675); one that never connects, after the handshake timeout")
    func consentAndHandshake() throws {
        var settings = MediaRouter.Settings()
        settings.handshakeTimeout = .seconds(10)
        let h = try Harness(settings: settings)
        let pub = try LoopbackPeer(port: 8000, relayFingerprint: h.relayCertificate.fingerprint)
        let silent = try LoopbackPeer(port: 8001, relayFingerprint: h.relayCertificate.fingerprint)
        h.peers = [pub, silent]
        try h.router.addPeer(pub.setup(role: .publisher, stream: "t", id: "pub", relayICE: .random(), ssrc: 0), now: h.now)
        try h.router.addPeer(silent.setup(role: .subscriber, stream: "t", id: "silent", relayICE: .random(), ssrc: 5), now: h.now)
        try h.connect(pub)
        #expect(h.router.peerCount == 2)

        h.now += .seconds(11)
        h.router.tick(now: h.now, wallClock: 0, out: h.out)
        #expect(h.router.peerCount == 1, "the peer that never sent a check is gone")
        #expect(h.router.drainEvents().contains(.removed(peer: "silent", reason: "no ICE check before the timeout")))

        // A consent check at 25 s keeps the publisher; silence until 56 s does not.
        h.now += .seconds(14)
        h.send(try pub.bindingRequest(), from: pub)
        h.out.removeAll()
        h.now += .seconds(29)
        h.router.tick(now: h.now, wallClock: 0, out: h.out)
        #expect(h.router.peerCount == 1, "29 s after the last check: still there")
        h.now += .seconds(2)
        h.router.tick(now: h.now, wallClock: 0, out: h.out)
        #expect(h.router.peerCount == 0)
        #expect(h.router.counters.consentExpired == 1)
        #expect(!h.router.hasPublisher(stream: "t"))
    }
}

@Suite("Media router: streams")
struct MediaRouterStreamTests {
    @Test("a publisher replacing the only peer of a stream keeps the stream published")
    func replacePublisher() throws {
        let h = try Harness()
        let first = try LoopbackPeer(port: 9100, relayFingerprint: h.relayCertificate.fingerprint)
        let second = try LoopbackPeer(port: 9101, relayFingerprint: h.relayCertificate.fingerprint)
        try h.router.addPeer(first.setup(role: .publisher, stream: "r", id: "one", relayICE: .random(), ssrc: 0), now: h.now)
        try h.router.addPeer(second.setup(role: .publisher, stream: "r", id: "two", relayICE: .random(), ssrc: 0), now: h.now)
        #expect(h.router.hasPublisher(stream: "r"))
        #expect(h.router.peerCount == 1)
        #expect(h.router.drainEvents().contains(.removed(peer: "one", reason: "replaced by a new publisher")))
        h.router.removePeer(id: "two", reason: "test", out: nil)
        #expect(!h.router.hasPublisher(stream: "r"))
    }
}

@Suite("Media router: audio levels and the relay's mute")
struct MediaRouterAudioTests {
    /// An Opus RTP packet with the RFC 6464 level in a one-byte header extension (id 1).
    static func opusPacket(sequence: UInt16, level: UInt8, voice: Bool) -> [UInt8] {
        var p: [UInt8] = [0x90, 111, UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        p += withUnsafeBytes(of: (UInt32(sequence) * 960).bigEndian, Array.init) + withUnsafeBytes(of: UInt32(0x2222).bigEndian, Array.init)
        p += [0xBE, 0xDE, 0x00, 0x01, 0x10, (voice ? 0x80 : 0) | level, 0x00, 0x00]
        return p + [UInt8](repeating: 0x55, count: 60)
    }

    static func audioSetup(_ peer: LoopbackPeer, role: PeerSetup.Role, id: String, ssrc: UInt32) -> PeerSetup {
        var setup = peer.setup(role: role, stream: "room", id: id, relayICE: .random(), ssrc: ssrc)
        setup.video = nil
        setup.audio = PeerSetup.Track(kind: .audio, payloadType: role == .publisher ? 111 : 109, codec: "opus", clockRate: 48_000, ssrc: ssrc)
        if role == .publisher { setup.audioLevelExtensionID = 1 }
        return setup
    }

    @Test("the publisher's audio level is kept; a mute holds its audio back without a gap in sequence numbers")
    func levelAndMute() throws {
        let h = try Harness()
        let pub = try LoopbackPeer(port: 5100, relayFingerprint: h.relayCertificate.fingerprint)
        let sub = try LoopbackPeer(port: 5101, relayFingerprint: h.relayCertificate.fingerprint)
        h.peers = [pub, sub]
        try h.router.addPeer(Self.audioSetup(pub, role: .publisher, id: "pub", ssrc: 0), now: h.now)
        try h.router.addPeer(Self.audioSetup(sub, role: .subscriber, id: "sub", ssrc: 0xA0D1), now: h.now)
        try h.connect(pub)
        try h.connect(sub)
        _ = try sub.takeRTCP()
        func send(_ range: Range<UInt16>, level: UInt8) throws -> [UInt16] {
            for s in range { h.send(try pub.protect(Self.opusPacket(sequence: s, level: level, voice: true)), from: pub) }
            h.deliver()
            return try sub.takeRTP().map { packet in try packet.withUnsafeBytes { try RTPPacketView($0).sequenceNumber } }
        }
        let before = try send(100..<103, level: 30)
        #expect(before.count == 3)
        #expect(h.router.audioActivity() == [.init(stream: "room", level: 30, voice: true, muted: false, held: 0)])

        #expect(h.router.setAudioMuted(stream: "room", true))
        #expect(try send(103..<106, level: 20).isEmpty, "nothing reaches the subscriber while muted")
        #expect(h.router.audioActivity().first?.held == 3)
        #expect(h.router.audioActivity().first?.level == 20, "levels are still read while muted")

        #expect(h.router.setAudioMuted(stream: "room", false))
        let after = try send(106..<108, level: 25)
        #expect(after == [before[2] &+ 1, before[2] &+ 2], "continues without a gap")
        #expect(!h.router.setAudioMuted(stream: "no-such-stream", true))

        // Gated (not among the room's loudest): held back too, independently of the mute.
        #expect(h.router.setAudioGated(stream: "room", true))
        #expect(try send(108..<110, level: 90).isEmpty)
        #expect(h.router.audioActivity().first?.gated == true)
        #expect(h.router.audioActivity().first?.muted == false)
        #expect(h.router.setAudioGated(stream: "room", false))
        #expect(try send(110..<111, level: 90) == [before[2] &+ 3], "continues without a gap")
    }
}
