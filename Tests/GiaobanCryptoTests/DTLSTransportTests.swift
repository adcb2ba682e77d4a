import GiaobanCrypto
import GiaobanSRTP
import Testing

/// A client and a server transport joined by two in-memory queues instead of sockets.
final class DTLSPair {
    let client: DTLSTransport
    let server: DTLSTransport
    let mtu: Int
    var toServer: [[UInt8]] = []
    var toClient: [[UInt8]] = []
    var clientEvents: [DTLSEvent] = []
    var serverEvents: [DTLSEvent] = []
    /// Every datagram either side produced, for size checks.
    var allDatagrams: [[UInt8]] = []

    init(context: DTLSContext, serverContext: DTLSContext? = nil,
         clientExpects: CertificateFingerprint? = nil, serverExpects: CertificateFingerprint? = nil) throws {
        let serverContext = serverContext ?? context
        client = try DTLSTransport(context: context, role: .client,
                                   remoteFingerprint: clientExpects ?? serverContext.fingerprint)
        server = try DTLSTransport(context: serverContext, role: .server,
                                   remoteFingerprint: serverExpects ?? context.fingerprint)
        mtu = min(context.mtu, serverContext.mtu)
    }

    func start(now: ContinuousClock.Instant) {
        let hello = client.start(now: now)
        allDatagrams += hello
        toServer += hello
        #expect(server.start(now: now).isEmpty)
    }

    func record(_ step: DTLSStep, fromClient: Bool) {
        allDatagrams += step.outgoing
        if fromClient {
            toServer += step.outgoing
            clientEvents += step.events
        } else {
            toClient += step.outgoing
            serverEvents += step.events
        }
    }

    /// Delivers queued datagrams both ways until both queues are empty; `drop` can lose
    /// a datagram on the way (index counts datagrams sent by that side so far).
    func pump(now: ContinuousClock.Instant, drop: (_ toServer: Bool, _ datagram: [UInt8]) -> Bool = { _, _ in false }) {
        for _ in 0..<100 where !toServer.isEmpty || !toClient.isEmpty {
            let forServer = toServer, forClient = toClient
            toServer = []
            toClient = []
            for d in forServer where !drop(true, d) { record(server.receive(d, now: now), fromClient: false) }
            for d in forClient where !drop(false, d) { record(client.receive(d, now: now), fromClient: true) }
        }
    }

    static func keys(_ events: [DTLSEvent]) -> SRTPKeyingMaterial? {
        for case let .connected(material) in events { return material }
        return nil
    }

    static func failure(_ events: [DTLSEvent]) -> DTLSError? {
        for case let .failed(error) in events { return error }
        return nil
    }
}

@Suite("DTLS-SRTP transport (in-process handshakes)")
struct DTLSTransportTests {
    static let certificate = Result { try DTLSCertificate() }
    static let otherCertificate = Result { try DTLSCertificate() }

    func context(mtu: Int = 1200, initialTimeout: Duration = .seconds(1)) throws -> DTLSContext {
        try DTLSContext(certificate: Self.certificate.get(), mtu: mtu, initialRetransmitTimeout: initialTimeout)
    }

    /// A 12-byte RTP header (V=2, PT 96, seq 1, SSRC 0x01020304) + 20 payload bytes, with room for a tag.
    func rtpPacket() -> [UInt8] {
        [0x80, 96, 0, 1, 0, 0, 0x10, 0, 1, 2, 3, 4] + [UInt8](repeating: 0x5a, count: 20) + [UInt8](repeating: 0, count: 32)
    }

    @Test("client and server agree on GCM and on mirrored keys that protect SRTP")
    func handshake() throws {
        let pair = try DTLSPair(context: context())
        let now = ContinuousClock.now
        #expect(pair.client.state == .new && pair.server.state == .new)
        pair.start(now: now)
        #expect(pair.client.state == .handshaking && pair.client.nextTimeout != nil)
        pair.pump(now: now)

        #expect(pair.client.state == .connected && pair.server.state == .connected)
        let c = try #require(DTLSPair.keys(pair.clientEvents)), s = try #require(DTLSPair.keys(pair.serverEvents))
        #expect(c.profile == .aeadAES128GCM && s.profile == .aeadAES128GCM)
        #expect(c.localKey.count == 16 && c.localSalt.count == 12)
        #expect(c.localKey == s.remoteKey && c.localSalt == s.remoteSalt)
        #expect(c.remoteKey == s.localKey && c.remoteSalt == s.localSalt)
        #expect(c.localKey != c.remoteKey)
        #expect(!"\(c)".contains("\(c.localKey)"), "description hides the keys")
        #expect(pair.allDatagrams.allSatisfy { $0.count <= pair.mtu })
        #expect(pair.allDatagrams.count == 4, "records are packed: one datagram per flight")
        #expect(pair.client.droppedDatagrams == 0 && pair.server.droppedDatagrams == 0)
        print("DTLS handshake: \(pair.allDatagrams.count) datagrams, largest \(pair.allDatagrams.map(\.count).max() ?? 0) B,"
              + " timers after: client \(String(describing: pair.client.nextTimeout.map { $0 - now })),"
              + " server \(String(describing: pair.server.nextTimeout.map { $0 - now }))")

        // Client → server and server → client SRTP with the exported keys.
        for (sender, receiver) in [(c, s), (s, c)] {
            let tx = try SRTPSession(profile: sender.profile, direction: .outbound, key: sender.localKey, salt: sender.localSalt)
            let rx = try SRTPSession(profile: receiver.profile, direction: .inbound,
                                     key: receiver.remoteKey, salt: receiver.remoteSalt)
            var packet = rtpPacket()
            let protected = try packet.withUnsafeMutableBytes { try tx.protectRTP($0, length: 32) }
            #expect(protected == 32 + 16)
            let plain = try packet.withUnsafeMutableBytes { try rx.unprotectRTP($0, length: protected) }
            #expect(Array(packet.prefix(plain)) == Array(rtpPacket().prefix(32)))
        }
    }

    @Test("a certificate that does not match the SDP fingerprint fails the side that checks it",
          arguments: [DTLSRole.client, DTLSRole.server])
    func fingerprintMismatch(checkingSide: DTLSRole) throws {
        let wrong = try Self.otherCertificate.get().fingerprint
        let pair = try DTLSPair(context: context(),
                                clientExpects: checkingSide == .client ? wrong : nil,
                                serverExpects: checkingSide == .server ? wrong : nil)
        let now = ContinuousClock.now
        pair.start(now: now)
        pair.pump(now: now)
        let (checker, other) = checkingSide == .client ? (pair.client, pair.server) : (pair.server, pair.client)
        let checkerEvents = checkingSide == .client ? pair.clientEvents : pair.serverEvents
        let otherEvents = checkingSide == .client ? pair.serverEvents : pair.clientEvents
        #expect(checker.state == .failed)
        #expect(DTLSPair.failure(checkerEvents)?.reason == .fingerprintMismatch)
        #expect(checker.failure?.reason == .fingerprintMismatch)
        #expect(DTLSPair.keys(checkerEvents) == nil)
        // The bad_certificate alert fails the peer's handshake too.
        #expect(other.state == .failed)
        #expect(DTLSPair.failure(otherEvents)?.reason == .handshakeFailed)
        #expect(DTLSPair.keys(otherEvents) == nil)
    }

    /// The four flights of a full handshake at MTU 1200, one datagram each.
    static let flights = ["ClientHello", "server hello…done", "client certificate…finished", "server finished"]

    @Test("a lost flight is retransmitted once its timer expires and the handshake completes",
          arguments: 0..<4)
    func retransmission(lostFlight: Int) async throws {
        let pair = try DTLSPair(context: context(initialTimeout: .milliseconds(200)))
        let t0 = ContinuousClock.now
        pair.start(now: t0)
        var sent = 0
        pair.pump(now: t0) { _, _ in
            defer { sent += 1 }
            return sent == lostFlight
        }
        #expect(sent == lostFlight + 1, "the handshake stalls right after losing \(Self.flights[lostFlight])")
        #expect(pair.client.state == .handshaking)
        // The server thinks it is done once it sent its finished flight.
        #expect(pair.server.state == (lostFlight == 3 ? .connected : .handshaking))
        let deadline = try #require([pair.client.nextTimeout, pair.server.nextTimeout].compactMap { $0 }.min())
        #expect(deadline - t0 <= .milliseconds(200))

        // OpenSSL's timer runs on the wall clock: a `now` far ahead does not fire it early.
        #expect(pair.client.handleTimeout(now: t0 + .seconds(10)).outgoing.isEmpty)

        try await Task.sleep(for: .milliseconds(260))
        let later = ContinuousClock.now + .seconds(10)
        pair.record(pair.client.handleTimeout(now: later), fromClient: true)
        pair.record(pair.server.handleTimeout(now: later), fromClient: false)
        #expect(!pair.toServer.isEmpty || !pair.toClient.isEmpty, "something was retransmitted")
        pair.pump(now: later)
        #expect(pair.client.state == .connected && pair.server.state == .connected)
        #expect(DTLSPair.keys(pair.clientEvents)?.localKey == DTLSPair.keys(pair.serverEvents)?.remoteKey)
        #expect(pair.client.nextTimeout == nil)
    }

    @Test("garbage never crashes: non-DTLS bytes are counted, forged records are ignored or fail")
    func garbage() throws {
        var rng = SplitMix64(seed: 0x5EED)
        // A fresh server fed random datagrams, half of them with a plausible record header.
        for _ in 0..<500 {
            let server = try DTLSTransport(context: context(), role: .server,
                                           remoteFingerprint: Self.certificate.get().fingerprint)
            var junk = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if rng.next() % 2 == 0, junk.count >= 13 {
                junk[0] = 22
                junk[1] = 0xFE
                junk[2] = 0xFD
            }
            let step = server.receive(junk, now: .now)
            #expect(server.state != .connected)
            #expect(step.outgoing.allSatisfy { $0.count <= 1200 })
        }

        let pair = try DTLSPair(context: context())
        let now = ContinuousClock.now
        #expect(pair.client.receive([0x00, 0x01, 0x02], now: now).outgoing.isEmpty)
        #expect(pair.client.droppedDatagrams == 1, "STUN-like bytes are not DTLS")
        #expect(pair.client.receive([22, 0xFE, 0xFD] + [UInt8](repeating: 0, count: 20), now: now).events.isEmpty)
        #expect(pair.client.droppedDatagrams == 2, "a client drops datagrams before start")
        pair.start(now: now)
        pair.pump(now: now)
        #expect(pair.client.state == .connected && pair.server.state == .connected)

        // Once connected, forged records (wrong epoch, bad MAC, random bytes) change nothing.
        for i in 0..<300 {
            var junk = (0..<(13 + Int(rng.next() % 200))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            junk[0] = UInt8(20 + i % 6)
            junk[1] = 0xFE
            _ = pair.server.receive(junk, now: now)
            _ = pair.client.receive(junk, now: now)
        }
        #expect(pair.client.state == .connected && pair.server.state == .connected)
        let message: [UInt8] = Array("still alive".utf8)
        let datagrams = try message.withUnsafeBytes { try pair.client.send($0) }
        let events = datagrams.flatMap { pair.server.receive($0, now: now).events }
        guard case .applicationData(let received)? = events.first else {
            Issue.record("expected application data, got \(events)")
            return
        }
        #expect(received == message)
    }

    @Test("a small MTU fragments the certificate flight; every datagram stays within it")
    func smallMTU() throws {
        let pair = try DTLSPair(context: context(mtu: 300))
        let now = ContinuousClock.now
        pair.start(now: now)
        pair.pump(now: now)
        #expect(pair.client.state == .connected && pair.server.state == .connected)
        #expect(pair.allDatagrams.allSatisfy { $0.count <= 300 })
        print("DTLS handshake at MTU 300: \(pair.allDatagrams.count) datagrams, sizes \(pair.allDatagrams.map(\.count))")
    }

    @Test("close_notify ends both sides; application data flows before it")
    func closeNotify() throws {
        let pair = try DTLSPair(context: context())
        let now = ContinuousClock.now
        #expect(throws: DTLSError.self) { _ = try [UInt8(1)].withUnsafeBytes { try pair.client.send($0) } }
        pair.start(now: now)
        pair.pump(now: now)

        let message = [UInt8](repeating: 0x42, count: 1000)
        let out = try message.withUnsafeBytes { try pair.server.send($0) }
        #expect(out.count == 1 && out[0].count <= 1200)
        let events = pair.client.receive(out[0], now: now).events
        guard case .applicationData(let received)? = events.first else {
            Issue.record("expected application data, got \(events)")
            return
        }
        #expect(received == message)

        let tooLarge = #expect(throws: DTLSError.self) {
            _ = try [UInt8](repeating: 0, count: 16_385).withUnsafeBytes { try pair.server.send($0) }
        }
        #expect(tooLarge?.reason == .messageTooLarge && pair.server.state == .connected)

        let bye = pair.client.close()
        #expect(!bye.isEmpty && pair.client.state == .closed && pair.client.nextTimeout == nil)
        var reply: [[UInt8]] = []
        var serverEvents: [DTLSEvent] = []
        for d in bye {
            let step = pair.server.receive(d, now: now)
            reply += step.outgoing
            serverEvents += step.events
        }
        #expect(pair.server.state == .closed)
        #expect(serverEvents.contains { if case .closed = $0 { true } else { false } })
        #expect(!reply.isEmpty, "the server answers with its own close_notify")
        for d in reply { #expect(pair.client.receive(d, now: now).events.isEmpty) }
        #expect(pair.client.close().isEmpty)
    }

    @Test("a fingerprint with an unsupported hash is refused at creation")
    func unsupportedHash() throws {
        let md5 = CertificateFingerprint(algorithm: "md5", digest: [UInt8](repeating: 1, count: 16))
        let error = #expect(throws: DTLSError.self) {
            try DTLSTransport(context: context(), role: .client, remoteFingerprint: md5)
        }
        #expect(error?.reason == .badFingerprint)
    }

    @Test("handshake duration (measured, not asserted)")
    func handshakeTime() throws {
        let ctx = try context()
        let clock = ContinuousClock()
        var durations: [Duration] = []
        for _ in 0..<50 {
            let start = clock.now
            let pair = try DTLSPair(context: ctx)
            pair.start(now: start)
            pair.pump(now: start)
            durations.append(clock.now - start)
            #expect(pair.server.state == .connected)
        }
        durations.sort()
        print("DTLS handshake in-process (both sides, 50 runs): median \(durations[durations.count / 2]),"
              + " min \(durations[0]), max \(durations[durations.count - 1])")
    }
}

/// A small deterministic generator for reproducible garbage.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
