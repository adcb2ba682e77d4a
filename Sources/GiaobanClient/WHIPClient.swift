/// One session created by WHIP or WHEP: where to end it, and the relay's answer.
public struct WHIPSession: Sendable {
    /// The session URL path from the `Location` header (RFC 9725 §4.2); DELETE ends it.
    public let location: String
    /// The SDP answer as received.
    public let answerSDP: String
    /// What the client needs from the answer.
    public let answer: RelayAnswer
    /// WHEP: what each video layer of the stream carries (bit/s, lowest first), from the
    /// relay's `X-Giaoban-Layers`; nil when the answer has none.
    public var layerBitrates: [Int]? = nil
}

/// WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) over `HTTPClient`: publish or watch a
/// stream with one `POST` of an SDP offer, end the session with `DELETE` on its location.
/// Tokens go in `Authorization: Bearer` (RFC 6750 §2.1).
public struct WHIPClient: Sendable {
    /// The HTTP client for the relay's control plane.
    public var http: HTTPClient
    /// The bearer token, if the relay asks for one.
    public var token: String?

    /// A client for the relay at `baseURL` (e.g. `http://127.0.0.1:8080`, or `https://…` whose
    /// certificate chains to a CA in `caFile`, or to the system's CAs without one).
    public init(baseURL: String, token: String?, caFile: String? = nil) throws(ClientError) {
        http = try HTTPClient(baseURL: baseURL, caFile: caFile)
        self.token = token
    }

    /// Publishes `stream`: `POST /whip/{stream}` with `offer`; expects 201 and an answer.
    public func publish(stream: String, offer: String) throws(ClientError) -> WHIPSession {
        try post("/whip/\(stream)", offer: offer)
    }

    /// Watches `stream`: `POST /whep/{stream}` with `offer`; expects 201 and an answer
    /// (404 when nobody publishes the stream). With `layer`, exactly that simulcast layer
    /// (rank, 0 the lowest; 404 when the stream has fewer).
    public func watch(stream: String, offer: String, layer: Int? = nil) throws(ClientError) -> WHIPSession {
        try post("/whep/\(stream)" + (layer.map { "?layer=\($0)" } ?? ""), offer: offer)
    }

    /// The bit rates in an `X-Giaoban-Layers` value (`95000,310000,880000`); nil when malformed.
    static func layerBitrates(_ value: String) -> [Int]? {
        let parts = value.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.count <= 8, parts.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        return parts.compactMap { $0 }
    }

    /// Ends a session with `DELETE` on its location; a 404 (already gone) is not an error.
    public func end(_ session: WHIPSession) throws(ClientError) {
        let response = try http.request("DELETE", session.location, headers: authorization)
        guard (200..<300).contains(response.status) || response.status == 404 else {
            throw ClientError(.rejected, "DELETE \(session.location): \(response.status) \(response.text)")
        }
    }

    private var authorization: [(String, String)] { token.map { [("Authorization", "Bearer \($0)")] } ?? [] }

    private func post(_ path: String, offer: String) throws(ClientError) -> WHIPSession {
        let response = try http.request("POST", path, headers: [("Content-Type", "application/sdp")] + authorization,
                                        body: Array(offer.utf8))
        guard response.status == 201 else {
            throw ClientError(.rejected, "POST \(path): \(response.status) \(response.text.prefix(200))")
        }
        guard let location = response.header("Location") else { throw ClientError(.badAnswer, "POST \(path): no Location header") }
        let answerSDP = response.text
        var session = WHIPSession(location: Self.path(of: location), answerSDP: answerSDP, answer: try RelayAnswer(sdp: answerSDP))
        session.layerBitrates = response.header("X-Giaoban-Layers").flatMap(Self.layerBitrates)
        return session
    }

    /// The path of a `Location` value, which may be an absolute URL (RFC 9110 §10.2.2).
    static func path(of location: String) -> String {
        guard location.hasPrefix("http://") || location.hasPrefix("https://") else { return location }
        let rest = location.drop { $0 != ":" }.dropFirst(3)  // after "://"
        return rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
    }
}
