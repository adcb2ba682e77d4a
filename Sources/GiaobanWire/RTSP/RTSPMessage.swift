/// An RTSP/1.0 response (RFC 2326 §7, RFC 7826 §8): status line, header fields, body.
public struct RTSPResponse: Sendable, Equatable {
    /// The three-digit status code, e.g. 200 or 401.
    public var statusCode: Int
    /// The reason phrase as sent (may be empty).
    public var reason: String
    /// The header fields.
    public var headers: RTSPHeaders
    /// The body (`Content-Length` bytes; e.g. the SDP of a DESCRIBE).
    public var body: [UInt8]

    /// Creates a response.
    public init(statusCode: Int, reason: String, headers: RTSPHeaders = RTSPHeaders(), body: [UInt8] = []) {
        self.statusCode = statusCode
        self.reason = reason
        self.headers = headers
        self.body = body
    }
}

/// A request a server sends to the client on the same connection (RFC 2326 §10, RFC 7826 §13:
/// e.g. `GET_PARAMETER`, `SET_PARAMETER`, `ANNOUNCE`, `REDIRECT`); the client answers or ignores it.
public struct RTSPServerRequest: Sendable, Equatable {
    /// The method token, e.g. `GET_PARAMETER`.
    public var method: String
    /// The request URI as sent.
    public var uri: String
    /// The header fields.
    public var headers: RTSPHeaders
    /// The body.
    public var body: [UInt8]
}

/// What one RTSP/TCP byte stream carries (RFC 2326 §10.12): messages and interleaved frames.
public enum RTSPStreamItem: Sendable, Equatable {
    /// A response to one of the client's requests.
    case response(RTSPResponse)
    /// A request from the server.
    case request(RTSPServerRequest)
    /// An interleaved binary frame: `$`, the channel, a 16-bit length, then the data
    /// (an RTP or RTCP packet), at `payload` in the reader's buffer until the next `append`.
    case frame(channel: UInt8, payload: Range<Int>)
}

/// The limits of `RTSPStreamReader`; a peer that exceeds them is answered with an error,
/// not with unbounded memory.
public enum RTSPLimits {
    /// The most bytes of a message's start line and header fields, terminator included.
    public static let maxHeadBytes = 16 * 1024
    /// The most bytes of a message body (`Content-Length`).
    public static let maxBodyBytes = 64 * 1024
}
