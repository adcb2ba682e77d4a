import GiaobanClient
import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
import GiaobanServer
import GiaobanWire
import Logging
import Testing
import GiaobanTransport
import GiaobanAuth

/// A `MediaServer` on 127.0.0.1 with a free port, and what the control plane would do
/// for a WHIP or WHEP offer (negotiate, add the peer), without HTTP.
final class RelayFixture {
    let certificate: DTLSCertificate
    let media: MediaServer

    /// `tcp`: the relay also listens for ICE-TCP (RFC 6544) on a free port; `workers`: its
    /// egress lanes (`media.workers`; peers take them in turn as they are added).
    init(tcp: Bool = false, workers: Int = 1) throws {
        certificate = try DTLSCertificate()
        var logger = Logger(label: "client-test")
        logger.logLevel = .warning
        media = try MediaServer(address: "127.0.0.1", port: 0, tcpPort: tcp ? 0 : nil, announcedAddress: "",
                                certificate: certificate, workers: workers, logger: logger)
    }

    /// Answers `offer` as the relay's WHIP/WHEP routes do and adds the peer to the router.
    func answer(_ offer: ClientOffer, role: PeerSetup.Role, stream: String, id: String, layerRank: Int? = nil) async throws -> RelayAnswer {
        let parsed = try SessionDescription(parsing: offer.sdp)  // what goes over HTTP
        var published: Negotiation.PublishedTracks?
        if role == .subscriber {
            published = await media.ask(.publishedTracks(stream: stream))
            try #require(published != nil, "someone publishes \(stream)")
        }
        let local = media.localTransport
        let (answer, negotiated) = try Negotiation.answer(offer: parsed, role: role, stream: stream, peerID: id, local: local,
                                                          published: published)
        var setup = negotiated
        setup.layerRank = layerRank
        let failure = await media.send(.addPeer(setup))
        #expect(failure == nil, "\(String(describing: failure))")
        return try RelayAnswer(sdp: answer.serialize())
    }

    /// Offers, answers and connects one client.
    func connect(_ mode: ClientOffer.Mode, stream: String, id: String, context: DTLSContext) async throws -> ClientConnection {
        let socket = try UDPSocket()
        let ice = ICECredentials.random()
        let offer = ClientOffer(mode: mode, ice: ice, fingerprint: context.fingerprint, host: "127.0.0.1", port: socket.port)
        let answer = try await self.answer(offer, role: mode == .watch ? .subscriber : .publisher, stream: stream, id: id)
        let connection = ClientConnection(socket: socket,
                                          peer: try ClientPeer(localICE: ice, context: context, answer: answer, now: .now,
                                                               connectTimeout: .seconds(5)))
        try connection.connect()
        return connection
    }
}

@Suite("Client: ICE, DTLS-SRTP and media against a real MediaServer on 127.0.0.1")
struct ClientRelayTests {
    @Test("a publisher's VP8 and Opus packets reach a watcher through the relay")
    func publishAndWatch() async throws {
        let relay = try RelayFixture()
        let context = try DTLSContext(certificate: DTLSCertificate())
        let publisher = try await relay.connect(.publish(audioSSRC: 0x1111, videoSSRC: 0x2222), stream: "s", id: "pub", context: context)
        let watcher = try await relay.connect(.watch, stream: "s", id: "sub", context: context)
        #expect(publisher.peer.state == .connected)
        #expect(watcher.peer.state == .connected)
        #expect(watcher.peer.srtpProfile == .aeadAES128GCM, "the relay prefers GCM")

        var buffer = [UInt8](repeating: 0, count: 1500)
        for i in 0..<20 {
            let audio = i % 4 == 3
            let header: [UInt8] = [0x80, audio ? 111 : 96 | (i % 4 == 2 ? 0x80 : 0), 0, UInt8(i)]
                + [0, 0, UInt8(i), 0] + (audio ? [0, 0, 0x11, 0x11] : [0, 0, 0x22, 0x22])
            let payload: [UInt8] = (audio ? [0x78] : [0x10]) + [UInt8](repeating: UInt8(i), count: audio ? 80 : 1000)
            let plain = header + payload
            buffer.replaceSubrange(0..<plain.count, with: plain)
            let n = try buffer.withUnsafeMutableBytes { bytes throws(ClientError) in try publisher.peer.protectRTP(bytes, length: plain.count) }
            #expect(n == plain.count + 16)
            publisher.socket.send(Array(buffer.prefix(n)), to: publisher.peer.relayAddress)
        }
        var received: [(payloadType: UInt8, payload: [UInt8])] = []
        let deadline = ContinuousClock.now + .seconds(3)
        while received.count < 20 && ContinuousClock.now < deadline {
            watcher.poll(timeoutMilliseconds: 20) { incoming, datagram in
                guard case .rtp(let length) = incoming,
                      let view = try? RTPPacketView(UnsafeRawBufferPointer(rebasing: datagram[0..<length])) else { return }
                received.append((view.payloadType, Array(view.payload)))
            }
            publisher.poll(timeoutMilliseconds: 0) { _, _ in }
        }
        #expect(received.count == 20, "every packet arrives")
        #expect(received.filter { $0.payloadType == 111 }.count == 5)
        #expect(received.first?.payload == [0x10] + [UInt8](repeating: 0, count: 1000))
        #expect(watcher.peer.drops.total == 0)
        let forwarded = relay.media.snapshot.counters.rtpForwarded
        #expect(forwarded == 0 || forwarded >= 20, "snapshot refreshes every 100 ms")
        await relay.media.shutdown()
    }

    @Test("once connected, consent checks go out every 4–6 s and the relay answers them")
    func consentChecks() async throws {
        let relay = try RelayFixture()
        let context = try DTLSContext(certificate: DTLSCertificate())
        let publisher = try await relay.connect(.publish(audioSSRC: 1, videoSSRC: 2), stream: "c", id: "pub", context: context)
        let connected = try #require(publisher.peer.lastCheckResponse)
        publisher.handleTimers()
        #expect(publisher.peer.hasOutgoing == false, "nothing due right after connecting")
        #expect(publisher.peer.nextDeadline.map { $0 - connected > .seconds(3) } == true, "the next check is 4–6 s away")
        // Seven seconds later (by the peer's clock) a consent check is due; the relay answers it.
        publisher.peer.handleTimers(now: .now + .seconds(7))
        #expect(publisher.peer.hasOutgoing)
        publisher.flush()
        let deadline = ContinuousClock.now + .seconds(2)
        while publisher.peer.lastCheckResponse == connected && ContinuousClock.now < deadline {
            publisher.poll(timeoutMilliseconds: 20) { _, _ in }
        }
        #expect(publisher.peer.lastCheckResponse.map { $0 > connected } == true)
        #expect(publisher.peer.state == .connected)
        #expect(publisher.peer.drops.total == 0)
        await relay.media.shutdown()
    }

    @Test("a wrong relay fingerprint fails the DTLS handshake")
    func wrongFingerprint() async throws {
        let relay = try RelayFixture()
        let context = try DTLSContext(certificate: DTLSCertificate())
        let socket = try UDPSocket()
        let ice = ICECredentials.random()
        let offer = ClientOffer(mode: .publish(audioSSRC: 1, videoSSRC: 2), ice: ice, fingerprint: context.fingerprint,
                                host: "127.0.0.1", port: socket.port)
        var answer = try await relay.answer(offer, role: .publisher, stream: "f", id: "pub")
        answer.fingerprint = try DTLSCertificate().fingerprint
        let connection = ClientConnection(socket: socket, peer: try ClientPeer(localICE: ice, context: context, answer: answer,
                                                                               now: .now, connectTimeout: .seconds(3)))
        #expect(throws: ClientError.self) { try connection.connect() }
        #expect(connection.peer.failure?.reason == .dtlsFailed)
        await relay.media.shutdown()
    }
}
