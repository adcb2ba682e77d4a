public import GiaobanCodecs
public import GiaobanCrypto
public import GiaobanICE
public import GiaobanTransport

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

    /// Opens a socket on `host` and writes the offer for `mode`; a publisher offers
    /// `videoCodec` (`VP8`, `VP9`), a watcher offers both.
    public init(mode: ClientOffer.Mode, context: DTLSContext, host: String = "127.0.0.1", videoCodec: String = "VP8",
                simulcastRIDs: [String] = []) throws(ClientError) {
        do { socket = try UDPSocket(host: host) } catch { throw ClientError(.socket, error.description) }
        ice = ICECredentials.random()
        self.context = context
        var offer = ClientOffer(mode: mode, ice: ice, fingerprint: context.fingerprint, host: host, port: socket.port)
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
        let peer = try ClientPeer(localICE: ice, context: context, answer: answer, now: .now, connectTimeout: timeout)
        let connection = ClientConnection(socket: socket, peer: peer)
        try connection.connect()
        return connection
    }
}

extension PendingConnection {
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
