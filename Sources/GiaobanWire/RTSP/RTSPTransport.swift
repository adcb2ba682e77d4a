/// One transport specification of the `Transport` header (RFC 2326 §12.39, RFC 7826 §18.54):
/// `RTP/AVP/TCP;unicast;interleaved=0-1` or `RTP/AVP;unicast;client_port=5000-5001`, and the
/// server's answer with `server_port`, `ssrc`, `source`.
public struct RTSPTransport: Sendable, Equatable {
    /// The lower-level transport of RTP/AVP.
    public enum Lower: Sendable, Equatable {
        /// RTP over UDP (`RTP/AVP` or `RTP/AVP/UDP`).
        case udp
        /// RTP interleaved on the RTSP connection (`RTP/AVP/TCP`).
        case tcp
    }

    /// UDP or interleaved TCP.
    public var lower: Lower
    /// True for `unicast` (the default when neither is named), false for `multicast`.
    public var unicast: Bool
    /// The RTP and RTCP channel numbers on the RTSP connection (`interleaved=a-b`).
    public var interleaved: ClosedRange<Int>?
    /// The client's RTP and RTCP ports (`client_port=a-b`).
    public var clientPorts: ClosedRange<Int>?
    /// The server's RTP and RTCP ports (`server_port=a-b`).
    public var serverPorts: ClosedRange<Int>?
    /// The sender's SSRC (`ssrc=` eight hex digits), when given.
    public var ssrc: UInt32?
    /// The address the server sends from (`source=`), when given.
    public var source: String?

    /// Creates a transport specification.
    public init(
        lower: Lower, unicast: Bool = true, interleaved: ClosedRange<Int>? = nil, clientPorts: ClosedRange<Int>? = nil,
        serverPorts: ClosedRange<Int>? = nil, ssrc: UInt32? = nil, source: String? = nil
    ) {
        self.lower = lower
        self.unicast = unicast
        self.interleaved = interleaved
        self.clientPorts = clientPorts
        self.serverPorts = serverPorts
        self.ssrc = ssrc
        self.source = source
    }

    /// Parses the first specification of a `Transport` value (specifications are separated
    /// by commas, RFC 2326 §12.39); unknown parameters are skipped. Throws `.syntax`
    /// "RTSP Transport" for a protocol other than RTP/AVP or a malformed known parameter.
    public init(parsing text: String) throws(WireError) {
        let error = WireError(.syntax, "RTSP Transport")
        guard let spec = RTSPText.splitOutsideQuotes(text[...], on: 0x2C).first else { throw error }
        let items = RTSPText.splitOutsideQuotes(spec, on: 0x3B)
        guard let proto = items.first else { throw error }
        if RTSPText.equalsIgnoringCase(proto, "RTP/AVP/TCP") {
            lower = .tcp
        } else if RTSPText.equalsIgnoringCase(proto, "RTP/AVP") || RTSPText.equalsIgnoringCase(proto, "RTP/AVP/UDP") {
            lower = .udp
        } else {
            throw error
        }
        unicast = true
        for item in items.dropFirst() {
            let (name, value) = RTSPText.parameter(item)
            if RTSPText.equalsIgnoringCase(name, "unicast") {
                unicast = true
            } else if RTSPText.equalsIgnoringCase(name, "multicast") {
                unicast = false
            } else if RTSPText.equalsIgnoringCase(name, "interleaved") {
                interleaved = try Self.range(value, upTo: 255)
            } else if RTSPText.equalsIgnoringCase(name, "client_port") {
                clientPorts = try Self.range(value, upTo: 65535)
            } else if RTSPText.equalsIgnoringCase(name, "server_port") {
                serverPorts = try Self.range(value, upTo: 65535)
            } else if RTSPText.equalsIgnoringCase(name, "ssrc") {
                guard let v = value, v.utf8.count <= 8, let n = UInt32(v, radix: 16) else { throw error }
                ssrc = n
            } else if RTSPText.equalsIgnoringCase(name, "source") {
                source = value.map(String.init)
            }
        }
    }

    /// The text for a SETUP request: protocol, cast, then the channels or client ports.
    public var headerValue: String {
        var text = lower == .tcp ? "RTP/AVP/TCP" : "RTP/AVP"
        text += unicast ? ";unicast" : ";multicast"
        if let r = interleaved { text += ";interleaved=\(r.lowerBound)-\(r.upperBound)" }
        if let r = clientPorts { text += ";client_port=\(r.lowerBound)-\(r.upperBound)" }
        if let r = serverPorts { text += ";server_port=\(r.lowerBound)-\(r.upperBound)" }
        return text
    }

    /// `a-b` or a lone `a` (meaning `a-a`) with both at most `limit`.
    private static func range(_ value: Substring?, upTo limit: Int) throws(WireError) -> ClosedRange<Int> {
        let error = WireError(.syntax, "RTSP Transport")
        guard let value else { throw error }
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count <= 2, let a = RTSPText.number(parts[0]) else { throw error }
        let b = parts.count == 2 ? RTSPText.number(parts[1]) : a
        guard let b, a <= b, b <= limit else { throw error }
        return a...b
    }
}
