/// Splits one RTSP-over-TCP byte stream into messages and interleaved binary frames
/// (RFC 2326 §10.12, RFC 7826 §14): a `$` byte starts a frame (`$`, channel, 16-bit length,
/// data); anything else starts an RTSP message whose head ends at an empty line and whose
/// body is `Content-Length` bytes.
///
/// Incremental: `append` what the socket gave, then call `next()` until it returns nil
/// (more bytes needed). Frames are handed out as ranges of `buffer`, valid until the next
/// `append`, so RTP packets are not copied. Errors are `WireError`s naming the part that was
/// wrong; after one the stream cannot be resynchronized and the connection should be closed.
public struct RTSPStreamReader: Sendable {
    /// The bytes received and not yet handed out, from `start`.
    public private(set) var buffer: [UInt8] = []
    /// The index in `buffer` of the first byte not handed out.
    private var start = 0

    /// Creates an empty reader.
    public init() {}

    /// The bytes received and not yet handed out.
    public var pendingCount: Int { buffer.count - start }

    /// Adds bytes read from the connection; invalidates ranges handed out before.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Adds bytes read from the connection (an array; see `append(_:)`).
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Calls `body` with the bytes of a frame's `payload` range.
    public func withBytes<R>(in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// The next complete item, or nil when more bytes are needed.
    public mutating func next() throws(WireError) -> RTSPStreamItem? {
        // Empty lines between messages are tolerated (RFC 7826 §5.1 "robust" reading).
        while start < buffer.count, buffer[start] == 0x0D || buffer[start] == 0x0A { start += 1 }
        guard start < buffer.count else { return nil }
        if buffer[start] == 0x24 {  // '$'
            guard buffer.count - start >= 4 else { return nil }
            let length = Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
            guard buffer.count - start >= 4 + length else { return nil }
            let channel = buffer[start + 1]
            let payload = (start + 4)..<(start + 4 + length)
            start += 4 + length
            return .frame(channel: channel, payload: payload)
        }
        let from = start
        let parsed = buffer.withUnsafeBytes { raw in
            Result { () throws(WireError) in try RTSPMessageParser.parse(UnsafeRawBufferPointer(rebasing: raw[from...])) }
        }
        guard let (item, consumed) = try parsed.get() else { return nil }
        start += consumed
        return item
    }
}
