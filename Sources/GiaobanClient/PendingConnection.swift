public import GiaobanCodecs
public import GiaobanCrypto
public import GiaobanICE
public import GiaobanTransport
import GiaobanWire

/// One connection to the relay between its offer and its answer: the socket its host
/// candidate names, the ICE credentials and the offer (JSEP, RFC 8829 §5.2). Where the offer
/// goes is the caller's choice: WHIP/WHEP over HTTP (`ClientConnection.join`) or the meeting
/// room socket (`RoomClient.publish`, `RoomClient.subscribe`). `connect(answer:)` then runs
/// ICE and DTLS-SRTP with what the relay answered.
public final class PendingConnection {
    /// The socket the offer's candidate names.
    public let socket: UDPSocket
    /// Our ICE credentials, as offered.
    public let ice: ICECredentials
    /// The DTLS context whose certificate the offer's fingerprint names.
    public let context: DTLSContext
    /// The offer.
    public let offer: ClientOffer
    /// The path media takes once answered: UDP, or ICE-TCP to the relay's passive candidate
    /// (the offer names the UDP socket either way; the relay is ICE-lite and answers checks
    /// on whichever path they arrive, RFC 8445 §2.5).
    public let transport: ClientConnection.Transport
    /// The TURN server media is relayed through (over UDP), nil for a direct path.
    public let turn: TURNServer?

    /// Opens a socket on `host` and writes the offer for `mode`; a publisher offers
    /// `videoCodec` (`VP8`, `VP9`), a watcher offers both; without `audio`, video only.
    public init(mode: ClientOffer.Mode, context: DTLSContext, host: String = "127.0.0.1", videoCodec: String = "VP8",
                simulcastRIDs: [String] = [], transport: ClientConnection.Transport = .udp,
                turn: TURNServer? = nil, audio: Bool = true) throws(ClientError) {
        guard turn == nil || transport == .udp else {
            throw ClientError(.socket, "TURN is used over UDP only; ICE-TCP goes to the relay directly")
        }
        do { socket = try UDPSocket(host: host) } catch { throw ClientError(.socket, error.description) }
        ice = ICECredentials.random()
        self.context = context
        self.transport = transport
        self.turn = turn
        var offer = ClientOffer(mode: mode, ice: ice, fingerprint: context.fingerprint, host: host, port: socket.port)
        offer.audio = audio
        if mode != .watch {
            offer.videoCodecs = [videoCodec]
            offer.simulcastRIDs = simulcastRIDs
        }
        self.offer = offer
    }

    /// The offer's SDP text.
    public var sdp: String { offer.sdp }

    /// Runs ICE and DTLS against the relay that answered `answer` and returns the connected
    /// driver; blocks until connected or failed (at most `timeout`), so call it from a thread
    /// of its own, never from Swift's cooperative pool.
    public func connect(answer: RelayAnswer, timeout: Duration = .seconds(10)) throws(ClientError) -> ClientConnection {
        var answer = answer
        var path = ClientConnection.Path.udp
        if transport == .tcp {
            guard let tcp = answer.tcpCandidate else {
                throw ClientError(.badAnswer, "the relay's answer has no ICE-TCP candidate (is its media.tcp_port set?)")
            }
            do { path = .tcp(try ICETCPStream(connectingTo: tcp, timeout: timeout)) } catch {
                throw ClientError(.socket, error.description)
            }
            answer.candidate = tcp
        }
        if let turn {
            let allocation = TURNAllocation(server: turn.address, credential: turn.credential, peer: answer.candidate)
            try Self.allocate(allocation, on: socket, timeout: timeout)
            path = .turn(allocation)
        }
        let peer = try ClientPeer(localICE: ice, context: context, answer: answer, now: .now, connectTimeout: timeout)
        let connection = ClientConnection(socket: socket, peer: peer, path: path)
        try connection.connect()
        return connection
    }
}

extension PendingConnection {
    /// Runs `allocation` over `socket` until its channel is bound (RFC 8656 §7, §10, §12);
    /// throws `.socket` with the server's reason when it fails or `timeout` passes.
    static func allocate(_ allocation: TURNAllocation, on socket: UDPSocket, timeout: Duration) throws(ClientError) {
        let batch = UDPBatch(capacity: 8)
        let deadline = ContinuousClock.now + timeout
        allocation.start(now: .now)
        while allocation.state != .ready && allocation.state != .failed {
            for request in allocation.takeOutgoing() { socket.send(request, to: allocation.server) }
            guard ContinuousClock.now < deadline else { break }
            let n = socket.receive(into: batch, timeoutMilliseconds: ClientConnection.milliseconds(until: allocation.nextDeadline, cap: 50))
            let now = ContinuousClock.now
            for i in 0..<n where batch.address(i) == allocation.server {
                let bytes = UnsafeRawBufferPointer(batch.datagram(i))
                if STUNMessageView.isSTUN(bytes), let message = try? STUNMessageView(bytes) { allocation.receive(message, now: now) }
            }
            allocation.handleTimers(now: now)
        }
        guard allocation.state == .ready else {
            throw ClientError(.socket, "TURN server \(allocation.server): \(allocation.failure ?? "no channel bound within the connect timeout (\(timeout))")")
        }
    }

    /// Connects on a thread of its own (ICE and DTLS block) and builds what uses the
    /// connection there too (`make`: a publisher's encoders, a watcher's decoders); when
    /// `make` fails the connection is closed. The result belongs to the caller.
    public func connectOnOwnThread<T>(answer: RelayAnswer, timeout: Duration = .seconds(10),
                                      make: @escaping @Sendable (ClientConnection) throws(CodecError) -> T) async throws(ClientError) -> T {
        let pending = Handoff(self)
        let made = await onOwnThread(name: "giaoban-connect") { () -> Result<Handoff<T>, ClientError> in
            do throws(ClientError) {
                let connection = try pending.value.connect(answer: answer, timeout: timeout)
                do throws(CodecError) {
                    return .success(Handoff(try make(connection)))
                } catch {
                    connection.close()
                    return .failure(ClientError(.codec, "cannot start the codecs: \(error)"))
                }
            } catch {
                return .failure(error)
            }
        }
        return try made.get().value
    }
}
