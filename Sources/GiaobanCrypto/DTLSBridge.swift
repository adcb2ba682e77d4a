/// The per-transport state OpenSSL's C callbacks reach through `BIO_get_data` and
/// `SSL_get_app_data` (a `@convention(c)` function cannot capture): the datagram in
/// flight, the datagrams written so far, the expected peer fingerprint and the
/// retransmission timer settings.
///
/// Owned by its `DTLSTransport`, which frees the `SSL` (and with it the BIO) before the
/// bridge goes away, so the unretained pointers OpenSSL holds never dangle.
final class DTLSBridge {
    /// Largest datagram written; records are packed into one datagram up to this size.
    let mtu: Int
    /// The fingerprint from the peer's SDP.
    let expectedFingerprint: CertificateFingerprint
    /// The OpenSSL digest matching `expectedFingerprint.algorithm`.
    let digest: OpaquePointer
    /// First retransmission timeout of a flight, in microseconds.
    let initialTimeoutMicroseconds: UInt32
    /// Cap of the doubling retransmission timeout, in microseconds.
    let maxTimeoutMicroseconds: UInt32
    /// Set by the verify callback when the peer's certificate did not match.
    var fingerprintRejected = false

    private var incoming: UnsafeRawBufferPointer?
    private var finished: [[UInt8]] = []
    private var open: [UInt8] = []

    init(mtu: Int, expectedFingerprint: CertificateFingerprint, digest: OpaquePointer,
         initialTimeout: Duration, maxTimeout: Duration) {
        self.mtu = mtu
        self.expectedFingerprint = expectedFingerprint
        self.digest = digest
        self.initialTimeoutMicroseconds = Self.microseconds(initialTimeout)
        self.maxTimeoutMicroseconds = Self.microseconds(maxTimeout)
    }

    // MARK: Read side: one datagram per OpenSSL call

    /// Runs `body` (an OpenSSL call) with `datagram` readable by the BIO; the bytes are
    /// not copied, and not readable after `body` returns.
    func withIncoming<R>(_ datagram: UnsafeRawBufferPointer, _ body: () -> R) -> R {
        incoming = datagram
        defer { incoming = nil }
        return body()
    }

    /// Copies the pending datagram into `buffer` (truncated if longer, as a UDP socket
    /// would) and consumes it; nil when no datagram is pending.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard let datagram = incoming else { return nil }
        incoming = nil
        let count = min(datagram.count, buffer.count)
        if count > 0 { buffer.baseAddress!.copyMemory(from: datagram.baseAddress!, byteCount: count) }
        return count
    }

    // MARK: Write side: records packed into datagrams of at most `mtu` bytes

    /// Bytes of the datagram being filled (OpenSSL asks via BIO_CTRL_WPENDING and sizes
    /// handshake fragments to fit the rest).
    var pendingCount: Int { open.count }

    /// Appends one record OpenSSL wrote; starts a new datagram when it does not fit.
    func write(_ record: UnsafeRawBufferPointer) {
        if !open.isEmpty && open.count + record.count > mtu { flush() }
        open.append(contentsOf: record)
    }

    /// Closes the datagram being filled (BIO_CTRL_FLUSH, end of a flight).
    func flush() {
        guard !open.isEmpty else { return }
        finished.append(open)
        open = []
    }

    /// Everything written since the last call, one array per datagram.
    func takeDatagrams() -> [[UInt8]] {
        flush()
        defer { finished = [] }
        return finished
    }

    private static func microseconds(_ d: Duration) -> UInt32 {
        let (seconds, attoseconds) = d.components
        let us = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        return UInt32(clamping: max(us, 1))
    }
}
