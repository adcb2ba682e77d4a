import GiaobanClient
import GiaobanCodecs
import GiaobanCrypto
import GiaobanServer
import GiaobanTransport
import GiaobanWire
import Testing

extension RelayFixture {
    /// Offers with `PendingConnection` (the endpoint's own path), answers as the WHIP/WHEP
    /// routes do, and connects over `transport`.
    func join(over transport: ClientConnection.Transport, _ mode: ClientOffer.Mode, stream: String, id: String,
              context: DTLSContext) async throws -> (ClientConnection, RelayAnswer) {
        let pending = try PendingConnection(mode: mode, context: context, transport: transport)
        let answer = try await self.answer(pending.offer, role: mode == .watch ? .subscriber : .publisher, stream: stream, id: id)
        return (try await offPool { try pending.connect(answer: answer, timeout: .seconds(5)) }, answer)
    }

    /// A publisher of the synthetic source (320×240, 400 kbit/s, 15 fps) over `publishing` and
    /// a watcher of its stream over `watching`.
    func publisherAndWatcher(stream: String, publishing: ClientConnection.Transport,
                             watching: ClientConnection.Transport) async throws -> (EndpointPublisher, EndpointWatcher) {
        let context = try DTLSContext(certificate: DTLSCertificate())
        let (pubConnection, pubAnswer) = try await join(over: publishing, .publish(audioSSRC: 0xA3, videoSSRC: 0xB4),
                                                        stream: stream, id: "pub", context: context)
        var settings = EndpointPublisher.Settings(audioSSRC: 0xA3, videoSSRC: 0xB4)
        (settings.width, settings.height, settings.bitrateKbps, settings.framesPerSecond) = (320, 240, 400, 15)
        settings.accept(pubAnswer)
        let publisher = try EndpointPublisher(connection: pubConnection, settings: settings)
        try publisher.step(maxWaitMilliseconds: 0)  // the relay learns the tracks from the first packets
        let (subConnection, subAnswer) = try await join(over: watching, .watch, stream: stream, id: "sub", context: context)
        return (publisher, try EndpointWatcher(connection: subConnection, answer: subAnswer))
    }

    /// The ICE-TCP listener's counters once the media thread has published them (every 100 ms)
    /// and `ready` holds, or after 2 s.
    func tcpCounters(until ready: (ICETCPListener.Counters) -> Bool) async throws -> ICETCPListener.Counters {
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            if let counters = media.snapshot.tcp, ready(counters) { return counters }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try #require(media.snapshot.tcp)
    }
}

extension ClientConnection {
    /// The ICE-TCP stream, when the path is one.
    var tcpStream: ICETCPStream? {
        if case .tcp(let stream) = path { return stream }
        return nil
    }
}

@Suite("Client: ICE over TCP (RFC 6544, RFC 4571 framing) against a real MediaServer")
struct ICETCPClientTests {
    @Test("VP8 and Opus flow through the relay between an ICE-TCP peer and a UDP peer",
          arguments: [(ClientConnection.Transport.tcp, ClientConnection.Transport.udp), (.udp, .tcp), (.tcp, .tcp)])
    func publishAndWatch(publishing: ClientConnection.Transport, watching: ClientConnection.Transport) async throws {
        let relay = try RelayFixture(tcp: true)
        let (publisher, watcher) = try await relay.publisherAndWatcher(stream: "t", publishing: publishing, watching: watching)
        #expect((publisher.connection.tcpStream != nil) == (publishing == .tcp))
        #expect((watcher.connection.tcpStream != nil) == (watching == .tcp))

        try await exchange(publisher, watcher, for: .seconds(3))
        let stats = watcher.stats
        #expect(stats.framesDecoded >= 15, "about 45 frames sent; got \(stats)")
        #expect(stats.width == 320 && stats.height == 240)
        #expect(stats.audioFrames >= 100, "150 frames of 20 ms sent; got \(stats)")
        #expect(publisher.connection.peer.state == .connected && watcher.connection.peer.state == .connected)

        let tcpPeers = (publishing == .tcp ? 1 : 0) + (watching == .tcp ? 1 : 0)
        let counters = try await relay.tcpCounters { $0.framesReceived >= 100 && $0.framesSent >= 100 }
        #expect(counters.accepted == tcpPeers && counters.open == tcpPeers)
        #expect(counters.oversizeFrames == 0 && counters.badFrames == 0 && counters.notSTUNFirst == 0)
        if publishing == .tcp {
            let sent = try #require(publisher.connection.tcpStream).counters.framesSent
            #expect(sent >= publisher.stats.packetsSent, "every RTP packet went as a frame")
            #expect(counters.framesReceived >= publisher.stats.packetsSent, "the relay read them: \(counters)")
        }
        if watching == .tcp {
            let received = try #require(watcher.connection.tcpStream).counters.framesReceived
            #expect(received >= 100, "media reached the watcher as frames")
            #expect(counters.framesSent >= received)
        }
        publisher.connection.close()
        watcher.connection.close()
        await relay.media.shutdown()
    }

    @Test("an answer without a passive TCP candidate fails an ICE-TCP join with .badAnswer")
    func noTCPCandidate() async throws {
        let relay = try RelayFixture()
        let context = try DTLSContext(certificate: DTLSCertificate())
        await #expect(throws: ClientError.self) {
            _ = try await relay.join(over: .tcp, .publish(audioSSRC: 1, videoSSRC: 2), stream: "n", id: "pub", context: context)
        }
        await relay.media.shutdown()
    }

    @Test("when the relay closes a connected peer's ICE-TCP connection, the peer fails with .closed at once")
    func relayClosesConnection() async throws {
        let relay = try RelayFixture(tcp: true)
        let context = try DTLSContext(certificate: DTLSCertificate())
        let (connection, _) = try await relay.join(over: .tcp, .publish(audioSSRC: 1, videoSSRC: 2), stream: "c", id: "pub",
                                                   context: context)
        let stream = try #require(connection.tcpStream)
        #expect(connection.peer.state == .connected)
        // A length prefix over the relay's limit makes it drop the connection (as a broken stream would).
        #expect(stream.sendUnframed([0xFF, 0xFF]))
        try await offPool {
            let deadline = ContinuousClock.now + .seconds(3)
            while connection.peer.state == .connected && ContinuousClock.now < deadline {
                connection.poll(timeoutMilliseconds: 20) { _, _ in }
            }
        }
        #expect(connection.peer.state == .failed)
        #expect(connection.peer.failure?.reason == .closed)
        #expect(connection.peer.failure?.message.contains("ICE-TCP") == true)
        #expect(connection.send([0x80, 0x60, 0, 1]) == false, "nothing is sent on a closed stream")
        await relay.media.shutdown()
    }

    @Test("a bad ICE-TCP stream is closed and counted while a UDP watcher keeps receiving",
          arguments: ["length 0xFFFF", "DTLS before STUN"])
    func badStream(kind: String) async throws {
        let relay = try RelayFixture(tcp: true)
        let (publisher, watcher) = try await relay.publisherAndWatcher(stream: "b", publishing: .udp, watching: .udp)
        try await exchange(publisher, watcher, for: .seconds(1))
        let before = watcher.stats

        let tcpPort = try #require(relay.media.tcpPort)
        let bad = try ICETCPStream(connectingTo: try #require(UDPSocket.ipv4("127.0.0.1", port: tcpPort)))
        if kind == "length 0xFFFF" {
            #expect(bad.sendUnframed([0xFF, 0xFF] + [UInt8](repeating: 0x80, count: 64)))
        } else {
            // A DTLS ClientHello record header (RFC 6347 §4.1) as the first frame.
            #expect(bad.send([22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
        }
        let counters = try await relay.tcpCounters { $0.closed >= 1 }
        #expect(counters.accepted == 1 && counters.closed == 1 && counters.open == 0)
        if kind == "length 0xFFFF" {
            #expect(counters.oversizeFrames == 1 && counters.notSTUNFirst == 0)
        } else {
            #expect(counters.notSTUNFirst == 1 && counters.oversizeFrames == 0)
        }
        #expect(counters.framesReceived == 0, "nothing of it reached the router")
        // The relay closed its end: the next read sees the end of the stream.
        let closed = try await offPool {
            let batch = UDPBatch(capacity: 4)
            let deadline = ContinuousClock.now + .seconds(2)
            while !bad.isClosed && ContinuousClock.now < deadline { bad.receive(into: batch, timeoutMilliseconds: 20) }
            return bad.isClosed
        }
        #expect(closed)

        try await exchange(publisher, watcher, for: .seconds(1))
        #expect(watcher.stats.framesDecoded >= before.framesDecoded + 8, "still decoding: \(before) → \(watcher.stats)")
        #expect(watcher.stats.audioFrames >= before.audioFrames + 30)
        #expect(watcher.connection.peer.state == .connected && publisher.connection.peer.state == .connected)
        await relay.media.shutdown()
    }
}

extension ICETCPStream {
    /// Sends `bytes` as one frame.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { send($0) } }
}
