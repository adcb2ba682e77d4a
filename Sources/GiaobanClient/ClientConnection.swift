public import GiaobanCrypto
public import GiaobanWire
public import GiaobanTransport

/// Drives a `ClientPeer` over one path to the relay: sends what the peer queues, feeds it
/// what arrives from the relay (anything from elsewhere is ignored), and runs its timers.
/// The path is a `UDPSocket` to the relay's UDP candidate, an ICE-TCP connection to its
/// passive TCP candidate (RFC 6544, frames of RFC 4571) for a network that drops UDP, or a
/// TURN allocation (RFC 8656) reached over the UDP socket. The UDP path costs one branch per
/// packet over the socket call itself.
/// `connect()` blocks until ICE and DTLS are done; afterwards the owner calls `poll` (or
/// reads the socket itself) and `handleTimers` to keep consent fresh.
///
/// Not thread-safe, like the peer it drives.
public final class ClientConnection {
    /// How packets travel between the client and the relay.
    public enum Path {
        /// Datagrams on `socket`, to and from the relay's UDP candidate.
        case udp
        /// RFC 4571 frames on a TCP connection to the relay's passive ICE-TCP candidate.
        case tcp(ICETCPStream)
        /// ChannelData through a TURN allocation (RFC 8656 §12), on `socket` to the TURN server.
        case turn(TURNAllocation)
    }

    /// The socket the offer's candidate named (over `.tcp` it stays open but carries nothing;
    /// over `.turn` it talks to the TURN server).
    public let socket: UDPSocket
    /// The connection state machine.
    public let peer: ClientPeer
    /// The path packets take.
    public let path: Path
    private let batch: UDPBatch
    /// A test hook: datagrams from the relay for which this returns true are dropped before
    /// anything reads them, as a lossy network would. Loss must be injected here, before SRTP:
    /// a packet dropped after decryption has its index in the replay window already, so its
    /// retransmission (same SSRC and sequence number, RFC 4585 without RTX) would be refused
    /// as a replay.
    public var dropsIncoming: ((UnsafeRawBufferPointer) -> Bool)?

    /// Pairs a peer with the socket its offer advertised; packets go over `path` (UDP on
    /// that socket unless told otherwise).
    public init(socket: UDPSocket, peer: ClientPeer, path: Path = .udp, batchSize: Int = 64) {
        self.socket = socket
        self.peer = peer
        self.path = path
        batch = UDPBatch(capacity: batchSize)
    }

    /// The path as an operator reads it: `udp 198.51.100.7:40000`, `tcp 198.51.100.7:443`,
    /// `turn 203.0.113.7:3478 relayed 203.0.113.7:49152 to 198.51.100.7:40000`.
    public var pathDescription: String {
        switch path {
        case .udp: "udp \(peer.relayAddress)"
        case .tcp(let stream): "tcp \(stream.remoteAddress)"
        case .turn(let allocation):
            "turn \(allocation.server) relayed \(allocation.relayedAddress.map { "\($0)" } ?? "-") to \(allocation.peer)"
        }
    }

    /// Which transport the media path uses, as an operator names it.
    public enum Transport: String, Sendable, CaseIterable {
        /// UDP to the relay's host candidate (the default).
        case udp
        /// ICE-TCP to the relay's `tcptype passive` candidate (RFC 6544).
        case tcp
    }

    /// Offers, posts the offer with WHIP (`.publish`) or WHEP (`.watch`), and connects:
    /// the whole join of one stream on a fresh socket bound to `host`. Returns the
    /// connected driver and the session (for `WHIPClient.end`).
    /// `videoCodec` (`VP8`, `VP9`) is what a publisher offers; a watcher offers both.
    /// `simulcastRIDs` makes a publisher offer that many encodings (`ClientOffer.simulcastRIDs`).
    /// `layer` makes a watcher take exactly that simulcast layer (`WHIPClient.watch`); without
    /// `audio`, only video is offered.
    public static func join(_ whip: WHIPClient, stream: String, mode: ClientOffer.Mode, context: DTLSContext,
                            host: String = "127.0.0.1", timeout: Duration = .seconds(10),
                            videoCodec: String = "VP8", simulcastRIDs: [String] = [],
                            transport: Transport = .udp, turn: TURNServer? = nil,
                            layer: Int? = nil, audio: Bool = true) throws(ClientError) -> (ClientConnection, WHIPSession) {
        let pending = try PendingConnection(mode: mode, context: context, host: host, videoCodec: videoCodec,
                                            simulcastRIDs: simulcastRIDs, transport: transport, turn: turn, audio: audio)
        let session = mode == .watch ? try whip.watch(stream: stream, offer: pending.sdp, layer: layer) : try whip.publish(stream: stream, offer: pending.sdp)
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
            if case .tcp(let stream) = path, stream.isClosed { peer.pathClosed("the relay closed the ICE-TCP connection") }
            poll(timeoutMilliseconds: Self.milliseconds(until: peer.nextDeadline, cap: 50)) { _, _ in }
            handleTimers()
        }
        guard peer.state == .connected else {
            throw peer.failure ?? ClientError(.closed, "the connection ended before it was established")
        }
    }

    /// Runs the peer's timers (retransmissions, consent checks) and sends what they queued.
    public func handleTimers() {
        let now = ContinuousClock.now
        peer.handleTimers(now: now)
        if case .turn(let allocation) = path {
            allocation.handleTimers(now: now)
            if allocation.state == .failed { peer.pathClosed("TURN: \(allocation.failure ?? "the allocation failed")") }
        }
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
        for datagram in peer.takeOutgoing() { datagram.withUnsafeBytes { _ = send($0) } }
        if case .turn(let allocation) = path {
            for request in allocation.takeOutgoing() { socket.send(request, to: allocation.server) }
        }
    }

    /// Sends one packet to the relay over the path; false when it was not taken (full
    /// buffer, no route, a closed ICE-TCP connection).
    @inline(__always) @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        switch path {
        case .udp: socket.send(bytes, to: peer.relayAddress)
        case .tcp(let stream): stream.send(bytes)
        case .turn(let allocation): allocation.wrap(bytes) { socket.send($0, to: allocation.server) }
        }
    }

    /// Sends one packet to the relay over the path.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { send($0) }
    }

    /// Waits up to `timeoutMilliseconds` and reads a batch from the path into `batch`.
    private func receiveBatch(timeoutMilliseconds: Int32) -> Int {
        switch path {
        case .udp, .turn:
            return socket.receive(into: batch, timeoutMilliseconds: timeoutMilliseconds)
        case .tcp(let stream):
            let n = stream.receive(into: batch, timeoutMilliseconds: timeoutMilliseconds)
            if stream.isClosed && n == 0 && peer.state != .failed && peer.state != .closed {
                peer.pathClosed("the relay closed the ICE-TCP connection")
            }
            return n
        }
    }

    /// Waits up to `timeoutMilliseconds` for datagrams and hands each one from the relay to
    /// the peer; media (`.rtp`/`.rtcp`, decrypted in place) goes to `onMedia` with the
    /// buffer. Sends the peer's answers. Returns the number of datagrams read.
    @discardableResult
    public func poll(timeoutMilliseconds: Int32,
                     onMedia: (ClientPeer.Incoming, UnsafeMutableRawBufferPointer) -> Void) -> Int {
        let n = receiveBatch(timeoutMilliseconds: timeoutMilliseconds)
        guard n > 0 else { return 0 }
        let now = ContinuousClock.now
        if case .turn(let allocation) = path {
            for i in 0..<n where batch.address(i) == allocation.server {
                guard let datagram = allocation.unwrap(batch.datagram(i), now: now) else { continue }
                deliver(datagram, now: now, onMedia: onMedia)
            }
        } else {
            for i in 0..<n where batch.address(i) == peer.relayAddress {
                deliver(batch.datagram(i), now: now, onMedia: onMedia)
            }
        }
        flush()
        return n
    }

    /// Hands one datagram from the relay to the peer, and its media to `onMedia`.
    @inline(__always)
    private func deliver(_ datagram: UnsafeMutableRawBufferPointer, now: ContinuousClock.Instant,
                         onMedia: (ClientPeer.Incoming, UnsafeMutableRawBufferPointer) -> Void) {
        if let dropsIncoming, dropsIncoming(UnsafeRawBufferPointer(datagram)) { return }
        let incoming = peer.receive(datagram, now: now)
        switch incoming {
        case .rtp, .rtcp: onMedia(incoming, datagram)
        case .control, .dropped: break
        }
    }

    /// Writes an RTCP compound with `build` into `scratch`, protects it (SRTCP) and sends it
    /// to the relay; returns the bytes sent, 0 when it could not be built or sent. `scratch`
    /// needs room for the compound plus `srtpOverhead + 4` bytes.
    @discardableResult
    public func sendRTCP(scratch: UnsafeMutableRawBufferPointer,
                         _ build: (UnsafeMutableRawBufferPointer) throws(WireError) -> Int) -> Int {
        guard peer.state == .connected, let length = try? build(scratch),
              let n = try? peer.protectRTCP(scratch, length: length) else { return 0 }
        return send(UnsafeRawBufferPointer(rebasing: scratch[0..<n])) ? n : 0
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
