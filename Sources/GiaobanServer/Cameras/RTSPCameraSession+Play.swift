import GiaobanWire
import Glibc

extension RTSPCameraSession {
    /// One connection: negotiate, play, stream until a failure or `stop` (then TEARDOWN).
    /// Calls `online` once PLAY is answered.
    func playOnce(online: () -> Void) throws(CameraError) {
        let url: RTSPURL
        do { url = try RTSPURL(parsing: configuration.url) } catch { throw CameraError("invalid rtsp URL") }
        let user = configuration.username ?? url.user
        let password = configuration.password ?? url.password ?? ""
        let timeout = configuration.timeout
        let socket = try CameraSocket.connect(host: url.host, port: url.port, timeout: timeout)
        let connection = RTSPClientConnection(
            socket: socket, timeout: timeout, credentials: user.map { ($0, password) })
        let base = url.string

        let options = try connection.request("OPTIONS", base)
        let keepAliveMethod = (options.headers["Public"] ?? "").contains("GET_PARAMETER") ? "GET_PARAMETER" : "OPTIONS"
        let describe = try connection.request("DESCRIBE", base, headers: [("Accept", "application/sdp")])
        try Self.expectSuccess(describe, "DESCRIBE")
        let track: RTSPVideoTrack
        do throws(WireError) {
            let sdp = try SessionDescription(parsing: String(decoding: describe.body, as: UTF8.self))
            let contentBase = describe.headers["Content-Base"] ?? describe.headers["Content-Location"]
            track = try RTSPVideoTrack(sdp: sdp, contentBase: contentBase, requestURL: base)
        } catch {
            throw CameraError(error.reason == .unsupportedType ? "the camera offers no H.264 video" : "bad SDP from the camera: \(error)")
        }
        onTrack(track)

        var udp: (rtp: CameraSocket, rtcp: CameraSocket, port: UInt16)?
        let requested: RTSPTransport
        switch configuration.transport {
        case .tcpInterleaved:
            requested = RTSPTransport(lower: .tcp, interleaved: 0...1)
        case .udp:
            let pair = try CameraSocket.udpPair(family: socket.family)
            udp = pair
            requested = RTSPTransport(lower: .udp, clientPorts: Int(pair.port)...Int(pair.port) + 1)
        }
        let setup = try connection.request("SETUP", track.controlURL, headers: [("Transport", requested.headerValue)])
        try Self.expectSuccess(setup, "SETUP")
        let sessionHeader: RTSPSessionHeader
        do { sessionHeader = try RTSPSessionHeader(parsing: setup.headers["Session"] ?? "") } catch {
            throw CameraError("SETUP answered without a valid Session header")
        }
        // The answer's transport must be the one asked for (RFC 2326 §12.39); a missing or
        // unreadable one is taken as agreement, as cameras often echo it loosely.
        let answered = try? RTSPTransport(parsing: setup.headers["Transport"] ?? "")
        if let answered, answered.lower != requested.lower {
            throw CameraError("the camera refused RTP over \(requested.lower == .tcp ? "TCP" : "UDP")")
        }
        let rtpChannel = UInt8(answered?.interleaved?.lowerBound ?? 0)
        connection.session = sessionHeader.id

        var lastPacket = ContinuousClock.now
        let payloadType = track.payloadType
        let deliver: (UnsafeRawBufferPointer) -> Void = { [self] bytes in
            // RTP version 2 and the track's payload type (RFC 3550 §5.1); RTCP and strays are skipped.
            guard bytes.count >= 12, bytes[0] >> 6 == 2, bytes[1] & 0x7F == payloadType else { return }
            lastPacket = ContinuousClock.now
            packetCounter.add(1, ordering: .relaxed)
            onPacket(bytes)
        }
        connection.onFrame = { channel, bytes in if channel == rtpChannel { deliver(bytes) } }

        let play = try connection.request("PLAY", base, headers: [("Range", "npt=0.000-")])
        try Self.expectSuccess(play, "PLAY")
        logger.info("camera online", metadata: [
            "url": "\(redactedURL)", "transport": "\(configuration.transport)", "payload_type": "\(payloadType)",
        ])
        onState(.online)
        online()
        lastPacket = ContinuousClock.now
        defer { teardown(connection, base) }

        let keepAliveEvery = Duration.seconds(max(sessionHeader.timeout / 2, 1))
        var nextKeepAlive = ContinuousClock.now + keepAliveEvery
        var pendingKeepAlive: (cseq: Int, sent: ContinuousClock.Instant)?
        var datagram = [UInt8](repeating: 0, count: 65536)
        let sockets = [socket] + (udp.map { [$0.rtp, $0.rtcp] } ?? [])
        while !isStopping {
            let now = ContinuousClock.now
            if now - lastPacket > configuration.mediaTimeout {
                throw CameraError("no video from the camera for \(configuration.mediaTimeout)")
            }
            if let pending = pendingKeepAlive, now - pending.sent > timeout {
                throw CameraError("no answer to \(keepAliveMethod) (keep-alive) within \(timeout)")
            }
            if pendingKeepAlive == nil && now >= nextKeepAlive {
                pendingKeepAlive = (try connection.send(keepAliveMethod, base), now)
                nextKeepAlive = now + keepAliveEvery
            }
            let ready = CameraSocket.readable(sockets, until: min(now + .milliseconds(200), nextKeepAlive))
            for index in ready {
                if index == 0 {
                    try connection.fill()
                    while let item = try connection.nextItem() {
                        if case .response(let r) = item, let pending = pendingKeepAlive, r.headers.cseq == pending.cseq {
                            guard r.statusCode == 200 || r.statusCode == 405 || r.statusCode == 501 else {
                                throw CameraError("keep-alive answered \(r.statusCode) \(r.reason)")
                            }
                            pendingKeepAlive = nil
                        } else {
                            try connection.handleOther(item)
                        }
                    }
                } else if index == 1 {
                    // Drain the RTP socket; the RTCP socket's reports are read and dropped.
                    while true {
                        let n = try sockets[1].receive(into: &datagram)
                        guard n > 0 else { break }
                        datagram.withUnsafeBytes { deliver(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    }
                } else {
                    _ = try sockets[index].receive(into: &datagram)
                }
            }
        }
    }

    /// Best-effort TEARDOWN (RFC 2326 §10.7) when stopping: sent, its answer awaited briefly.
    private func teardown(_ connection: RTSPClientConnection, _ url: String) {
        guard isStopping, let cseq = try? connection.send("TEARDOWN", url) else { return }
        _ = try? connection.awaitResponse(cseq: cseq, method: "TEARDOWN")
        logger.info("camera stopped", metadata: ["url": "\(redactedURL)"])
    }

    /// Throws unless `response` is a 2xx.
    private static func expectSuccess(_ response: RTSPResponse, _ method: String) throws(CameraError) {
        guard (200..<300).contains(response.statusCode) else {
            throw CameraError("\(method) answered \(response.statusCode) \(response.reason)")
        }
    }
}
