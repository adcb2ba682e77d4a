internal import COpenSSL

/// An OpenSSL BIO with datagram semantics over a `DTLSBridge`, for DTLS without a socket.
///
/// OpenSSL 3.0 has no datagram BIO pair, and a memory BIO merges a whole flight into one
/// byte stream. This BIO keeps datagram boundaries both ways: a read returns exactly the
/// one datagram being processed (or "retry" when there is none), and writes go into the
/// bridge, which packs records into datagrams of at most the MTU (RFC 6347 §4.1.1 allows
/// several records per datagram). `BIO_CTRL_WPENDING` reports the bytes of the datagram
/// being filled, so OpenSSL sizes handshake fragments to fit it and calls `BIO_flush`
/// to start the next one.
enum DatagramBIO {
    /// Creates the method table shared by all transports of a context (`BIO_meth_free` it).
    static func makeMethod() -> OpaquePointer? {
        let type = BIO_get_new_index() | GIAOBAN_BIO_TYPE_SOURCE_SINK
        guard type > GIAOBAN_BIO_TYPE_SOURCE_SINK, let method = BIO_meth_new(type, "giaoban datagram") else {
            return nil
        }
        let ok = BIO_meth_set_write(method, write) == 1
            && BIO_meth_set_read(method, read) == 1
            && BIO_meth_set_ctrl(method, ctrl) == 1
            && BIO_meth_set_create(method, create) == 1
            && BIO_meth_set_destroy(method, destroy) == 1
        guard ok else {
            BIO_meth_free(method)
            return nil
        }
        return method
    }

    /// A new BIO of `method` that reaches `bridge` through an unretained pointer; the
    /// caller keeps `bridge` alive for as long as the BIO exists.
    static func make(method: OpaquePointer, bridge: DTLSBridge) -> OpaquePointer? {
        guard let bio = BIO_new(method) else { return nil }
        giaoban_bio_set_data(bio, Unmanaged.passUnretained(bridge).toOpaque())
        return bio
    }

    private static func bridge(_ bio: OpaquePointer?) -> DTLSBridge? {
        guard let bio, let raw = BIO_get_data(bio) else { return nil }
        return Unmanaged<DTLSBridge>.fromOpaque(raw).takeUnretainedValue()
    }

    private static var write: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32 {
        { bio, data, length in
            guard let bridge = DatagramBIO.bridge(bio), let data, length >= 0 else { return -1 }
            bridge.write(UnsafeRawBufferPointer(start: data, count: Int(length)))
            return length
        }
    }

    private static var read: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int32) -> Int32 {
        { bio, buffer, capacity in
            guard let bio, let bridge = DatagramBIO.bridge(bio), let buffer, capacity >= 0 else { return -1 }
            giaoban_bio_clear_retry_flags(bio)
            guard let n = bridge.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: Int(capacity))) else {
                giaoban_bio_set_retry_read(bio) // no datagram: "would block", not end of file
                return -1
            }
            return Int32(n)
        }
    }

    private static var ctrl: @convention(c) (OpaquePointer?, Int32, Int, UnsafeMutableRawPointer?) -> Int {
        { bio, command, _, _ in
            switch command {
            case GIAOBAN_BIO_CTRL_FLUSH:
                DatagramBIO.bridge(bio)?.flush()
                return 1 // OpenSSL treats a flush that returns 0 as a failed handshake write
            case GIAOBAN_BIO_CTRL_WPENDING:
                return DatagramBIO.bridge(bio)?.pendingCount ?? 0
            case GIAOBAN_BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
                return 0 // the MTU given to DTLS_set_link_mtu already is the datagram size
            default:
                return 0 // PENDING, QUERY_MTU, SET_NEXT_TIMEOUT, …: nothing to report
            }
        }
    }

    private static var create: @convention(c) (OpaquePointer?) -> Int32 {
        { bio in
            BIO_set_init(bio, 1)
            return 1
        }
    }

    private static var destroy: @convention(c) (OpaquePointer?) -> Int32 {
        { _ in 1 } // the bridge belongs to the transport, not to the BIO
    }
}
