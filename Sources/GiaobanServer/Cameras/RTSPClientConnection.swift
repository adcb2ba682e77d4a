import Foundation
import GiaobanCrypto
import GiaobanWire

/// One RTSP/TCP connection of a camera session, used on the session's thread only: sends
/// requests with CSeq, Session and authorization, reads responses and interleaved frames
/// (handing the frames to `onFrame` while it waits), and answers authentication challenges
/// (RFC 2617 Digest or Basic) at most once per challenge, so that a 401 loop ends.
final class RTSPClientConnection {
    /// The socket.
    let socket: CameraSocket
    /// The bound of each wait for a response or a send.
    let timeout: Duration
    /// Credentials from the caller (never logged; URL credentials included).
    private let credentials: (user: String, password: String)?
    /// Called with each interleaved frame (channel, bytes) while responses are awaited.
    var onFrame: (UInt8, UnsafeRawBufferPointer) -> Void = { _, _ in }
    /// The stream splitter.
    private(set) var reader = RTSPStreamReader()
    /// The next CSeq.
    private var cseq = 1
    /// The session id once SETUP answered.
    var session: String?
    /// The challenge answered in every request, once the server sent one.
    private var challenge: RTSPAuthChallenge?
    /// Digest `nc` for the current nonce.
    private var nonceCount: UInt32 = 0
    /// The product name sent as User-Agent.
    private let userAgent = "giaoban"
    /// The receive buffer.
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)

    /// Wraps a connected socket.
    init(socket: CameraSocket, timeout: Duration, credentials: (user: String, password: String)?) {
        self.socket = socket
        self.timeout = timeout
        self.credentials = credentials
    }

    /// Sends `method` for `url` and returns the final response: after a 401, retries once
    /// with the new challenge (again only when the server says the nonce was `stale`).
    /// Throws for no answer within the timeout, a closed connection, or a repeated 401.
    func request(_ method: String, _ url: String, headers: [(String, String)] = []) throws(CameraError) -> RTSPResponse {
        var answered: [String] = []
        for _ in 0..<3 {
            let sent = try send(method, url, headers: headers)
            let response = try awaitResponse(cseq: sent, method: method)
            guard response.statusCode == 401 else { return response }
            guard credentials != nil else { throw CameraError("\(method) needs credentials (401) and none are configured") }
            guard let next = RTSPAuthChallenge.preferred(among: response.headers.values("WWW-Authenticate")) else {
                throw CameraError("\(method) answered 401 without a challenge this client can answer")
            }
            let key: String
            var stale = false
            switch next {
            case .digest(let d): key = "digest " + d.nonce; stale = d.stale
            case .basic(let realm): key = "basic " + realm
            }
            if !answered.isEmpty && !stale || answered.contains(key) {
                throw CameraError("\(method) answered 401 again: credentials rejected")
            }
            answered.append(key)
            challenge = next
            nonceCount = 0
        }
        throw CameraError("\(method) answered 401 again: credentials rejected")
    }

    /// Sends a request without waiting for its response; returns its CSeq.
    @discardableResult
    func send(_ method: String, _ url: String, headers: [(String, String)] = []) throws(CameraError) -> Int {
        let number = cseq
        cseq += 1
        var text = "\(method) \(url) RTSP/1.0\r\nCSeq: \(number)\r\nUser-Agent: \(userAgent)\r\n"
        if let session { text += "Session: \(session)\r\n" }
        if let authorization = authorization(method: method, uri: url) { text += "Authorization: \(authorization)\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        try socket.send(Array(text.utf8), timeout: timeout)
        return number
    }

    /// Reads until the response with `cseq` arrives (frames go to `onFrame`; other
    /// responses and server requests are handled by `handleOther`).
    func awaitResponse(cseq: Int, method: String) throws(CameraError) -> RTSPResponse {
        let deadline = ContinuousClock.now + timeout
        while true {
            while let item = try nextItem() {
                if case .response(let r) = item, r.headers.cseq == cseq || r.headers.cseq == nil { return r }
                try handleOther(item)
            }
            guard socket.wait(for: Int16(POLLIN), until: deadline) else {
                throw CameraError("no answer to \(method) within \(timeout)")
            }
            try fill()
        }
    }

    /// Reads what the socket has into the splitter; throws when the server closed.
    func fill() throws(CameraError) {
        let n = try socket.receive(into: &scratch)
        if n == 0 { throw CameraError("the camera closed the connection") }
        if n > 0 { scratch.withUnsafeBytes { reader.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) } }
    }

    /// The next complete item of the stream, or nil; a malformed stream is an error.
    func nextItem() throws(CameraError) -> RTSPStreamItem? {
        do {
            return try reader.next()
        } catch {
            throw CameraError("malformed RTSP from the camera: \(error)")
        }
    }

    /// Hands a frame to `onFrame`; answers a server request (OPTIONS and GET_PARAMETER with
    /// 200, anything else with 501); drops a stray response.
    func handleOther(_ item: RTSPStreamItem) throws(CameraError) {
        switch item {
        case .frame(let channel, let range):
            reader.withBytes(in: range) { onFrame(channel, $0) }
        case .request(let r):
            let ok = r.method == "OPTIONS" || r.method == "GET_PARAMETER"
            let status = ok ? "200 OK" : "501 Not Implemented"
            try socket.send(Array("RTSP/1.0 \(status)\r\nCSeq: \(r.headers.cseq ?? 0)\r\n\r\n".utf8), timeout: timeout)
        case .response:
            break
        }
    }

    /// The Authorization value for the next request, once a challenge is known.
    private func authorization(method: String, uri: String) -> String? {
        guard let credentials, let challenge else { return nil }
        switch challenge {
        case .basic:
            return "Basic " + Data("\(credentials.user):\(credentials.password)".utf8).base64EncodedString()
        case .digest(let d):
            nonceCount &+= 1
            let cnonce = d.qopAuth ? MD5Digest.hex(SecureRandom.bytes(16)).prefix(16).description : ""
            let nc = RTSPDigestChallenge.nonceCountText(nonceCount)
            let response = HTTPDigest.response(
                username: credentials.user, password: credentials.password, realm: d.realm, nonce: d.nonce,
                method: method, uri: uri, algorithm: d.algorithm, qop: d.qopAuth ? "auth" : nil,
                nonceCount: nc, cnonce: cnonce) ?? ""
            return d.authorization(username: credentials.user, uri: uri, response: response, cnonce: cnonce,
                                   nonceCount: nonceCount)
        }
    }
}
