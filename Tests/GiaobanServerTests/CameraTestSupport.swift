import Foundation
import GiaobanServer
import GiaobanWire
import Glibc
import Synchronization

/// What a camera session reported: states in order, RTP packets and keyframe starts.
final class CameraLog: Sendable {
    let states = Mutex<[RTSPCameraSession.State]>([])
    let packets = Mutex<(count: Int, keyframes: Int)>((0, 0))

    func state(_ s: RTSPCameraSession.State) { states.withLock { $0.append(s) } }

    func packet(_ bytes: UnsafeRawBufferPointer) {
        let key = (try? RTPPacketView(bytes)).map { H264Payload.startsKeyframe($0.payload) } ?? false
        packets.withLock {
            $0.count += 1
            if key { $0.keyframes += 1 }
        }
    }

    var snapshot: [RTSPCameraSession.State] { states.withLock { $0 } }
    var keyframes: Int { packets.withLock { $0.keyframes } }
    var packetCount: Int { packets.withLock { $0.count } }

    /// Waits (at most `seconds`) until `condition` holds; true when it did.
    func wait(seconds: Double, until condition: (CameraLog) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(self) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition(self)
    }

    /// The reasons of the `offline` states so far.
    var offlineReasons: [String] {
        snapshot.compactMap { if case .offline(let r) = $0 { r } else { nil } }
    }
}

/// A TCP server on 127.0.0.1 that answers each RTSP request of a connection with what
/// `answer` returns for it (nil closes the connection); counts the requests by method.
final class FakeRTSPServer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let answer: @Sendable (_ request: String, _ cseq: Int) -> [UInt8]?
    let requests = Mutex<[String]>([])
    private let running = Atomic<Bool>(true)

    init(answer: @escaping @Sendable (_ request: String, _ cseq: Int) -> [UInt8]?) {
        self.answer = answer
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 8)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            getsockname(fd, $0, &len) } }
        port = UInt16(bigEndian: address.sin_port)
        Thread { [self] in acceptLoop() }.start()
    }

    func stop() {
        running.store(false, ordering: .releasing)
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    var methods: [String] { requests.withLock { $0.map { String($0.prefix { $0 != " " }) } } }

    private func acceptLoop() {
        while running.load(ordering: .acquiring) {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            Thread { [self] in serve(client) }.start()
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var pending = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        while running.load(ordering: .acquiring) {
            let n = recv(client, &buffer, buffer.count, 0)
            guard n > 0 else { return }
            pending += String(decoding: buffer[0..<n], as: UTF8.self)
            while let end = pending.range(of: "\r\n\r\n") {
                let request = String(pending[..<end.upperBound])
                pending = String(pending[end.upperBound...])
                requests.withLock { $0.append(request) }
                let cseq = request.split(separator: "\r\n").first { $0.lowercased().hasPrefix("cseq:") }
                    .flatMap { Int($0.dropFirst(5).trimmingCharacters(in: .whitespaces)) } ?? 0
                guard let reply = answer(request, cseq) else { return }
                _ = reply.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
        }
    }
}

/// gst-rtsp-server running Tests/Interop/tools/rtsp_server.py (see that file) on a free port.
final class GStreamerRTSPServer: @unchecked Sendable {
    let port: UInt16
    let arguments: [String]
    private var process: Process?

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Interop/tools/rtsp_server.py").standardizedFileURL.path

    /// Nil when the system Python cannot load GStreamer's RTSP server (see `scripts/setup.sh --test`).
    static var missingDependency: String? {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        check.arguments = ["-c", "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"]
        check.standardError = FileHandle.nullDevice
        guard (try? check.run()) != nil else { return "/usr/bin/python3 is missing" }
        check.waitUntilExit()
        return check.terminationStatus == 0 ? nil
            : "gst-rtsp-server is not installed: run `scripts/setup.sh --test` (gir1.2-gst-rtsp-server-1.0, python3-gi, GStreamer plugins)"
    }

    init(credentials: [String] = []) {
        port = Self.freePort()
        arguments = [Self.script, String(port)] + credentials
    }

    /// Starts the server and waits (at most 10 s) for its "ready" line; false when it did not start.
    func start() -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        guard (try? p.run()) != nil else { return false }
        process = p
        let ready = DispatchSemaphore(value: 0)
        out.fileHandleForReading.readabilityHandler = { handle in
            if String(decoding: handle.availableData, as: UTF8.self).contains("ready") { ready.signal() }
        }
        let started = ready.wait(timeout: .now() + 10) == .success
        out.fileHandleForReading.readabilityHandler = nil
        return started
    }

    /// Stops the server with SIGTERM (SIGKILL after 5 s) and waits for it to exit.
    func stop() {
        guard let p = process, p.isRunning else { return }
        p.terminate()
        let deadline = Date().addingTimeInterval(5)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        process = nil
    }

    /// Kills the server at once (SIGKILL), as a crash or a power cut would.
    func kill9() {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    deinit { stop() }

    private static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            getsockname(fd, $0, &len) } }
        return UInt16(bigEndian: address.sin_port)
    }
}
