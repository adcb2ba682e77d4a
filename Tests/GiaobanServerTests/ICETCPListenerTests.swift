import GiaobanTransport
import GiaobanWire
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client on 127.0.0.1 for the listener's tests.
private final class TestClient {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(result == 0, "connect: errno \(errno)")
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads what arrives within `milliseconds`; nil when the peer closed the connection.
    func read(milliseconds: Int32 = 2_000) -> [UInt8]? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, milliseconds) > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n <= 0 ? nil : Array(buffer.prefix(n))
    }
}

/// Runs the listener as the media thread does: poll its descriptors, then service them.
private struct Pump {
    let listener: ICETCPListener
    var frames: [(bytes: [UInt8], from: STUNAddress)] = []
    var closed: [STUNAddress] = []

    mutating func run(times: Int = 20, at now: ContinuousClock.Instant = .now) {
        for _ in 0..<times {
            var fds: [pollfd] = []
            listener.addPollDescriptors(to: &fds)
            _ = poll(&fds, nfds_t(fds.count), 5)
            var got: [(bytes: [UInt8], from: STUNAddress)] = []
            var gone: [STUNAddress] = []
            listener.service(fds[...], now: now, deliver: { got.append((Array($0), $1)) }, closed: { gone.append($0) })
            frames += got
            closed += gone
        }
    }
}

private func frame(_ body: [UInt8]) -> [UInt8] { [UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body }

/// A 20-byte STUN-looking body (first byte 0x00) and an RTP-looking one (0x80).
private let stunBody: [UInt8] = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42] + [UInt8](repeating: 7, count: 12)
private let rtpBody: [UInt8] = [0x80, 0x60, 0x00, 0x01] + [UInt8](repeating: 9, count: 200)

@Suite("ICE-TCP listener: RFC 4571 framing, limits and bad input")
struct ICETCPListenerTests {
    @Test("frames split at every byte arrive whole, in order, from the connection's own address")
    func splitFrames() throws {
        let listener = try ICETCPListener(host: "127.0.0.1", port: 0)
        var pump = Pump(listener: listener)
        let client = try TestClient(port: listener.port)
        let stream = frame(stunBody) + frame(rtpBody) + frame([])  // an empty frame is skipped
        for byte in stream {
            client.write([byte])
            pump.run(times: 1)
        }
        pump.run(times: 3)
        #expect(pump.frames.map(\.bytes) == [stunBody, rtpBody])
        let from = try #require(pump.frames.first?.from)
        #expect(from.connection != 0 && pump.frames.allSatisfy { $0.from == from })
        #expect(from.description.hasPrefix("tcp/\(from.connection) 127.0.0.1:"))
        #expect(listener.counters.framesReceived == 2 && listener.counters.accepted == 1 && listener.counters.open == 1)
        #expect(pump.closed.isEmpty)
    }

    @Test("send frames a packet with its 2-byte length; an unknown connection is counted")
    func sendFrames() throws {
        let listener = try ICETCPListener(host: "127.0.0.1", port: 0)
        var pump = Pump(listener: listener)
        let client = try TestClient(port: listener.port)
        client.write(frame(stunBody))
        pump.run(times: 3)
        let from = try #require(pump.frames.first?.from)
        #expect(rtpBody.withUnsafeBytes { listener.send($0, to: from) })
        var received: [UInt8] = []
        while received.count < rtpBody.count + 2, let more = client.read(), !more.isEmpty { received += more }
        #expect(received == frame(rtpBody))
        #expect(rtpBody.withUnsafeBytes { !listener.send($0, to: from.onConnection(from.connection + 1)) })
        #expect(listener.counters.framesSent == 1 && listener.counters.sendDropped == 1)
    }

    @Test("a frame over the limit, a DTLS first frame, and lost framing each close the connection", arguments: [
        ("oversize", [0xFF, 0xFF] + [UInt8](repeating: 0, count: 100)),
        ("notSTUNFirst", frame([22, 0xFE, 0xFD] + [UInt8](repeating: 0, count: 30))),
        ("bad", frame(stunBody) + frame([0x50, 1, 2, 3])),
    ])
    func badInput(reason: String, bytes: [UInt8]) throws {
        let listener = try ICETCPListener(host: "127.0.0.1", port: 0)
        var pump = Pump(listener: listener)
        let bystander = try TestClient(port: listener.port)
        bystander.write(frame(stunBody))
        pump.run(times: 3)
        let client = try TestClient(port: listener.port)
        client.write(bytes)
        pump.run(times: 5)
        #expect(client.read() == nil, "the relay closed the connection")
        #expect(pump.closed.count == 1 && pump.closed.first != pump.frames.first?.from)
        let c = listener.counters
        #expect([c.oversizeFrames, c.notSTUNFirst, c.badFrames] == [reason == "oversize" ? 1 : 0, reason == "notSTUNFirst" ? 1 : 0,
                                                                   reason == "bad" ? 1 : 0])
        #expect(c.open == 1 && c.closed == 1)
        // The other connection still works both ways.
        bystander.write(frame(rtpBody))
        pump.run(times: 3)
        #expect(pump.frames.last?.bytes == rtpBody)
    }

    @Test("connections beyond the limit are refused; silent ones time out")
    func limits() throws {
        var limits = ICETCPListener.Limits()
        limits.maxConnections = 2
        limits.firstFrameTimeout = .seconds(10)
        limits.idleTimeout = .seconds(30)
        let listener = try ICETCPListener(host: "127.0.0.1", port: 0, limits: limits)
        var pump = Pump(listener: listener)
        let start = ContinuousClock.now
        let talking = try TestClient(port: listener.port)
        talking.write(frame(stunBody))
        let silent = try TestClient(port: listener.port)
        pump.run(times: 3, at: start)
        let third = try TestClient(port: listener.port)
        pump.run(times: 3, at: start)
        #expect(third.read() == nil, "refused: two are open")
        #expect(listener.counters.refused == 1 && listener.counters.open == 2)
        // 11 s later the silent one (no first frame) is closed; the talking one is not yet idle.
        pump.run(times: 1, at: start + .seconds(11))
        #expect(silent.read() == nil)
        #expect(listener.counters.timedOut == 1 && listener.counters.open == 1)
        pump.run(times: 1, at: start + .seconds(31))
        #expect(talking.read() == nil)
        #expect(listener.counters.timedOut == 2 && listener.counters.open == 0 && pump.closed.count == 2)
    }

    @Test("a peer that stops reading gets its frames queued up to the limit, then dropped")
    func slowReader() throws {
        var limits = ICETCPListener.Limits()
        limits.maxPendingBytes = 64 * 1024
        let listener = try ICETCPListener(host: "127.0.0.1", port: 0, limits: limits)
        var pump = Pump(listener: listener)
        let client = try TestClient(port: listener.port)
        client.write(frame(stunBody))
        pump.run(times: 3)
        let to = try #require(pump.frames.first?.from)
        let big = [UInt8](repeating: 0x80, count: 2_000)
        var sent = 0
        // The kernel's buffers take some megabytes first; 40,000 frames are 80 MB.
        while listener.counters.sendDropped == 0 && sent < 40_000 {
            _ = big.withUnsafeBytes { listener.send($0, to: to) }
            sent += 1
        }
        #expect(listener.counters.sendDropped == 1, "dropped once the pending bytes reached the limit, after \(sent) frames")
        #expect(listener.counters.open == 1, "the connection stays: a slow reader is not bad input")
        _ = client
    }
}
