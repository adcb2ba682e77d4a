/// The `Session` header (RFC 2326 §12.37, RFC 7826 §18.49): `<id>[;timeout=<seconds>]`.
public struct RTSPSessionHeader: Sendable, Equatable {
    /// The session identifier, echoed in every later request.
    public var id: String
    /// The seconds of inactivity after which the server may end the session; 60 when absent.
    public var timeout: Int

    /// The timeout RFC 2326 §12.37 assumes when the server names none.
    public static let defaultTimeout = 60

    /// Creates a session header value.
    public init(id: String, timeout: Int = RTSPSessionHeader.defaultTimeout) {
        self.id = id
        self.timeout = timeout
    }

    /// Parses `<id>[;timeout=<n>]`; the id is 1–256 visible characters other than `;`.
    /// Throws `.syntax` "RTSP Session" otherwise, or for a timeout that is not a positive number.
    public init(parsing text: String) throws(WireError) {
        let error = WireError(.syntax, "RTSP Session")
        let items = text.split(separator: ";", omittingEmptySubsequences: false).map { RTSPText.trimmed($0) }
        let id = items[0]
        guard !id.isEmpty, id.utf8.count <= 256, id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw error }
        self.id = String(id)
        timeout = Self.defaultTimeout
        for item in items.dropFirst() {
            let (name, value) = RTSPText.parameter(item)
            guard RTSPText.equalsIgnoringCase(name, "timeout") else { continue }
            guard let value, let n = RTSPText.number(value), n > 0 else { throw error }
            timeout = n
        }
    }
}
