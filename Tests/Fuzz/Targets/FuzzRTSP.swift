// Splits the input as one RTSP/TCP stream (RTSPStreamReader) fed whole and fed in 7-byte
// pieces: both must give the same items, or both fail. Every header value of a message is
// read as Transport, Session and WWW-Authenticate; a Transport re-parses from its own text;
// a request's URI is read as an rtsp:// URL and a body as SDP with its H.264 track.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = split(bytes, chunk: max(size, 1))
    let pieces = split(bytes, chunk: 7)
    precondition(whole.items == pieces.items, "feeding in pieces changed the items")
    precondition((whole.error == nil) == (pieces.error == nil), "feeding in pieces changed the outcome")
    return 0
}

/// The items as text (frames with their bytes), and the error that stopped the reader, if any.
func split(_ bytes: [UInt8], chunk: Int) -> (items: [String], error: WireError?) {
    var reader = RTSPStreamReader()
    var items: [String] = []
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + chunk)
        reader.append(Array(bytes[offset..<end]))
        offset = end
        do {
            while let item = try reader.next() {
                switch item {
                case .frame(let channel, let range):
                    precondition(range.lowerBound >= 4 && range.upperBound <= reader.buffer.count)
                    items.append("frame \(channel) \(reader.withBytes(in: range) { Array($0) })")
                case .response(let r):
                    precondition((100...599).contains(r.statusCode) && r.body.count <= RTSPLimits.maxBodyBytes)
                    readValues(r.headers, body: r.body, url: "rtsp://camera/")
                    items.append("response \(r.statusCode) \(r.headers.fields.count) \(r.body)")
                case .request(let r):
                    _ = try? RTSPURL(parsing: r.uri)
                    readValues(r.headers, body: r.body, url: r.uri)
                    items.append("request \(r.method) \(r.uri) \(r.body)")
                }
            }
        } catch {
            return (items, error)
        }
    }
    return (items, nil)
}

/// Reads every header value as each typed RTSP value, and the body as SDP.
func readValues(_ headers: RTSPHeaders, body: [UInt8], url: String) {
    for field in headers.fields {
        if let t = try? RTSPTransport(parsing: field.value) {
            guard let again = try? RTSPTransport(parsing: t.headerValue) else { fatalError("Transport does not re-parse") }
            precondition(again.lower == t.lower && again.unicast == t.unicast && again.interleaved == t.interleaved)
            precondition(again.clientPorts == t.clientPorts && again.serverPorts == t.serverPorts)
        }
        if let s = try? RTSPSessionHeader(parsing: field.value) { precondition(s.timeout > 0 && !s.id.isEmpty) }
        if case .digest(let d)? = try? RTSPAuthChallenge(parsing: field.value) {
            _ = d.authorization(username: "u", uri: url, response: "r", cnonce: "c", nonceCount: 1)
        }
    }
    _ = RTSPAuthChallenge.preferred(among: headers.values("WWW-Authenticate"))
    if let sdp = try? body.withUnsafeBytes({ try SessionDescription(parsing: $0) }) {
        _ = try? RTSPVideoTrack(sdp: sdp, contentBase: headers["Content-Base"], requestURL: url)
    }
}
