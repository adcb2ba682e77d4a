public import GiaobanCrypto
public import GiaobanWire
public import GiaobanTransport

/// Drives a `ClientPeer` over one `UDPSocket`: sends what the peer queues to the relay's
/// address, feeds it what arrives from there (anything from elsewhere is ignored), and runs
/// its timers. `connect()` blocks until ICE and DTLS are done; afterwards the owner calls
/// `poll` (or reads the socket itself) and `handleTimers` to keep consent fresh.
///
/// Not thread-safe, like the peer it drives.
public final class ClientConnection {
    /// The socket the offer's candidate named.
    public let socket: UDPSocket
    /// The connection state machine.
    public let peer: ClientPeer
    private let batch: UDPBatch
    /// A test hook: datagrams from the relay for which this returns true are dropped before
    /// anything reads them, as a lossy network would. Loss must be injected here, before SRTP:
    /// a packet dropped after decryption has its index in the replay window already, so its
    /// retransmission (same SSRC and sequence number, RFC 4585 without RTX) would be refused
    /// as a replay.
    public var dropsIncoming: ((UnsafeRawBufferPointer) -> Bool)?

    /// Pairs a peer with the socket its offer advertised.
    public init(socket: UDPSocket, peer: ClientPeer, batchSize: Int = 64) {
        self.socket = socket
        self.peer = peer
        batch = UDPBatch(capacity: batchSize)
    }

    /// Offers, posts the offer with WHIP (`.publish`) or WHEP (`.watch`), and connects:
    /// the whole join of one stream on a fresh socket bound to `host`. Returns the
    /// connected driver and the session (for `WHIPClient.end`).
    /// `videoCodec` (`VP8`, `VP9`) is what a publisher offers; a watcher offers both.
    /// `simulcastRIDs` makes a publisher offer that many encodings (`ClientOffer.simulcastRIDs`).
    public static func join(_ whip: WHIPClient, stream: String, mode: ClientOffer.Mode, context: DTLSContext,
                            host: String = "127.0.0.1", timeout: Duration = .seconds(10),
                            videoCodec: String = "VP8", simulcastRIDs: [String] = []) throws(ClientError) -> (ClientConnection, WHIPSession) {
        let pending = try PendingConnection(mode: mode, context: context, host: host, videoCodec: videoCodec,
                                            simulcastRIDs: simulcastRIDs)
        let session = mode == .watch ? try whip.watch(stream: stream, offer: pending.sdp) : try whip.publish(stream: stream, offer: pending.sdp)
        do throws(ClientError) {
            return (try pending.connect(answer: session.answer, timeout: timeout), session)
        } catch {
            try? whip.end(session)
            throw error
        }
    }

    /// Sends the first check and runs ICE and DTLS until the peer is connected; throws the
    /// peer's failure (the peer's own connect timeout bounds the wait).
    public func connect() throws(ClientError) {
        peer.start(now: .now)
        flush()
        while peer.state == .checking || peer.state == .handshaking {
            poll(timeoutMilliseconds: Self.milliseconds(until: peer.nextDeadline, cap: 50)) { _, _ in }
            handleTimers()
        }
        guard peer.state == .connected else {
            throw peer.failure ?? ClientError(.closed, "the connection ended before it was established")
        }
    }

    /// Runs the peer's timers (retransmissions, consent checks) and sends what they queued.
    public func handleTimers() {
        peer.handleTimers(now: .now)
        flush()
    }

    /// Closes the DTLS association (close_notify, RFC 5246 §7.2.1); the relay then drops the
    /// peer. End the WHIP/WHEP session too, so the relay forgets it at once.
    public func close() {
        peer.close()
        flush()
    }

    /// Sends every datagram the peer queued.
    public func flush() {
        for datagram in peer.takeOutgoing() { socket.send(datagram, to: peer.relayAddress) }
    }

    /// Waits up to `timeoutMilliseconds` for datagrams and hands each one from the relay to
    /// the peer; media (`.rtp`/`.rtcp`, decrypted in place) goes to `onMedia` with the
    /// buffer. Sends the peer's answers. Returns the number of datagrams read.
    @discardableResult
    public func poll(timeoutMilliseconds: Int32,
                     onMedia: (ClientPeer.Incoming, UnsafeMutableRawBufferPointer) -> Void) -> Int {
        let n = socket.receive(into: batch, timeoutMilliseconds: timeoutMilliseconds)
        guard n > 0 else { return 0 }
        let now = ContinuousClock.now
        for i in 0..<n where batch.address(i) == peer.relayAddress {
            let datagram = batch.datagram(i)
            if let dropsIncoming, dropsIncoming(UnsafeRawBufferPointer(datagram)) { continue }
            let incoming = peer.receive(datagram, now: now)
            switch incoming {
            case .rtp, .rtcp: onMedia(incoming, datagram)
            case .control, .dropped: break
            }
        }
        flush()
        return n
    }

    /// Writes an RTCP compound with `build` into `scratch`, protects it (SRTCP) and sends it
    /// to the relay; returns the bytes sent, 0 when it could not be built or sent. `scratch`
    /// needs room for the compound plus `srtpOverhead + 4` bytes.
    @discardableResult
    public func sendRTCP(scratch: UnsafeMutableRawBufferPointer,
                         _ build: (UnsafeMutableRawBufferPointer) throws(WireError) -> Int) -> Int {
        guard peer.state == .connected, let length = try? build(scratch),
              let n = try? peer.protectRTCP(scratch, length: length) else { return 0 }
        return socket.send(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), to: peer.relayAddress) ? n : 0
    }

    /// Milliseconds from now until `deadline`, between 0 and `cap` (`cap` without a deadline).
    static func milliseconds(until deadline: ContinuousClock.Instant?, cap: Int32) -> Int32 {
        guard let deadline else { return cap }
        let left = deadline - .now
        guard left > .zero else { return 0 }
        let ms = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1
        return Int32(min(Int64(cap), ms))
    }
}
