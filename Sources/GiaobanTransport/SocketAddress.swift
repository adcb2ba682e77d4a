public import CUDPBatch
public import GiaobanWire

/// Conversions between the wire layer's transport address and the batched-UDP C target's
/// address, shared by every socket loop (the relay's media thread, the client's sockets).
extension STUNAddress {
    /// The address a datagram came from, as the C batch functions report it.
    @inlinable
    public init(_ a: giaoban_addr) {
        var a = a
        let family = a.family, port = a.port
        self = withUnsafeBytes(of: &a.addr) { b in
            family == 6
                ? STUNAddress(ipv6High: b.u64(at: 0), ipv6Low: b.u64(at: 8), port: port)
                : STUNAddress(ipv4: b.u32(at: 0), port: port)
        }
    }

    /// The address in the C batch functions' form, to send to.
    @inlinable
    public var socketAddress: giaoban_addr {
        var a = giaoban_addr()
        a.port = port
        a.family = ipv4 == nil ? 6 : 4
        let v4 = ipv4, high = self.high, low = self.low
        withUnsafeMutableBytes(of: &a.addr) { b in
            if let v4 {
                b.setU32(v4, at: 0)
            } else {
                b.setU64(high, at: 0)
                b.setU64(low, at: 8)
            }
        }
        return a
    }
}
