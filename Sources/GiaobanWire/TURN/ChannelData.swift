/// A TURN ChannelData message (RFC 8656 §12.4): a 4-byte header (channel number 0x4000–0x4FFF,
/// length of the application data) and the data. Over UDP the message may be padded to a
/// multiple of 4 bytes and a receiver ignores the padding (§12.5); over TCP it must be.
public enum ChannelData {
    /// The header length.
    public static let headerByteCount = 4
    /// The channel numbers a client may bind (RFC 8656 §12).
    public static let channels: ClosedRange<UInt16> = 0x4000...0x4FFF

    /// True when `bytes` starts like a ChannelData message (first two bits 01, RFC 7983 §7:
    /// first byte 64–79).
    @inlinable
    public static func isChannelData(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= headerByteCount && bytes[0] >= 0x40 && bytes[0] <= 0x4F
    }

    /// The channel and the application data of the message in `bytes` (padding after the
    /// data ignored); nil when it is not one or its length runs past the end.
    @inlinable
    public static func parse<Bytes>(_ bytes: Bytes) -> (channel: UInt16, data: Range<Int>)?
        where Bytes: RandomAccessCollection, Bytes.Element == UInt8, Bytes.Index == Int {
        guard bytes.count >= headerByteCount else { return nil }
        let start = bytes.startIndex
        let channel = UInt16(bytes[start]) << 8 | UInt16(bytes[start + 1])
        let length = Int(bytes[start + 2]) << 8 | Int(bytes[start + 3])
        guard channels.contains(channel), bytes.count - headerByteCount >= length else { return nil }
        return (channel, (start + headerByteCount)..<(start + headerByteCount + length))
    }

    /// Writes the header for `length` bytes of data on `channel` at the start of `out` (the
    /// caller puts the data after it); returns the message length to send over UDP, unpadded
    /// (§12.5: padding over UDP is optional).
    @inlinable
    public static func writeHeader(channel: UInt16, length: Int, into out: UnsafeMutableRawBufferPointer) -> Int {
        out[0] = UInt8(channel >> 8)
        out[1] = UInt8(channel & 0xFF)
        out[2] = UInt8((length >> 8) & 0xFF)
        out[3] = UInt8(length & 0xFF)
        return headerByteCount + length
    }
}
