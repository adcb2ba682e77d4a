/// EBML encoding (RFC 8794): element IDs as written, data sizes as variable-length integers,
/// and the unsigned, float, string and binary payloads Matroska elements carry. Everything
/// appends to a caller's byte array; nothing here does I/O.
public enum EBML {
    /// The reserved "unknown size" (RFC 8794 §6.2): all eight-byte VINT data bits set. A
    /// Segment written with it is readable while it grows.
    public static let unknownSize: [UInt8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]

    /// Appends an element ID: its bytes as the specification writes them (the marker bit is
    /// part of the ID, RFC 8794 §5), so 0x1A45DFA3 takes four bytes and 0xA3 one.
    public static func appendID(_ id: UInt32, to out: inout [UInt8]) {
        let length = id > 0xFF_FFFF ? 4 : id > 0xFFFF ? 3 : id > 0xFF ? 2 : 1
        for i in stride(from: length - 1, through: 0, by: -1) { out.append(UInt8(truncatingIfNeeded: id >> (8 * UInt32(i)))) }
    }

    /// Appends `size` as a VINT (RFC 8794 §4): the shortest length whose data bits hold it
    /// without being all ones (that pattern means unknown), or exactly `width` bytes when given.
    public static func appendSize(_ size: UInt64, width: Int? = nil, to out: inout [UInt8]) {
        var length = 1
        while length < 8 && size >= (UInt64(1) << (7 * UInt64(length))) - 1 { length += 1 }
        if let width { length = max(length, min(width, 8)) }
        let marked = size | (UInt64(1) << (7 * UInt64(length)))
        for i in stride(from: length - 1, through: 0, by: -1) { out.append(UInt8(truncatingIfNeeded: marked >> (8 * UInt64(i)))) }
    }

    /// The big-endian bytes of `value` without leading zeros (at least one byte, RFC 8794 §7.2).
    public static func unsignedBytes(_ value: UInt64) -> [UInt8] {
        var length = 1
        while length < 8 && value >> (8 * UInt64(length)) != 0 { length += 1 }
        return (0..<length).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }

    /// Appends an unsigned integer element (RFC 8794 §7.2).
    public static func appendUnsigned(_ id: UInt32, _ value: UInt64, to out: inout [UInt8]) {
        appendBinary(id, unsignedBytes(value), to: &out)
    }

    /// Appends an unsigned integer element in exactly `width` bytes (a field patched later).
    public static func appendUnsigned(_ id: UInt32, _ value: UInt64, width: Int, to out: inout [UInt8]) {
        appendBinary(id, (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }, to: &out)
    }

    /// Appends a float element as an eight-byte IEEE 754 double, big-endian (RFC 8794 §7.3).
    public static func appendFloat(_ id: UInt32, _ value: Double, to out: inout [UInt8]) {
        let bits = value.bitPattern
        appendBinary(id, (0..<8).reversed().map { UInt8(truncatingIfNeeded: bits >> (8 * UInt64($0))) }, to: &out)
    }

    /// Appends a string element: UTF-8 bytes, no terminator (RFC 8794 §7.4, §7.5).
    public static func appendString(_ id: UInt32, _ value: String, to out: inout [UInt8]) {
        appendBinary(id, Array(value.utf8), to: &out)
    }

    /// Appends an element whose payload is `bytes` (binary, or a finished master element's body).
    public static func appendBinary(_ id: UInt32, _ bytes: [UInt8], to out: inout [UInt8]) {
        appendID(id, to: &out)
        appendSize(UInt64(bytes.count), to: &out)
        out += bytes
    }

    /// Appends a master element whose children `body` writes (RFC 8794 §7.7).
    public static func appendMaster(_ id: UInt32, to out: inout [UInt8], body: (inout [UInt8]) -> Void) {
        var children: [UInt8] = []
        body(&children)
        appendBinary(id, children, to: &out)
    }

    /// Appends a Void element (RFC 8794 §11.3.2) taking exactly `total` bytes (at least 2):
    /// room kept for an element written later in its place.
    public static func appendVoid(total: Int, to out: inout [UInt8]) {
        precondition(total >= 2 && total <= 1 << 20, "a Void element takes 2 bytes to 1 MiB")
        appendID(MatroskaID.void, to: &out)
        // A one-byte size holds up to 126; beyond that the size field takes eight bytes.
        let sizeWidth = total - 2 <= 126 ? 1 : 8
        appendSize(UInt64(total - 1 - sizeWidth), width: sizeWidth, to: &out)
        out += [UInt8](repeating: 0, count: total - 1 - sizeWidth)
    }
}
