/// Writes Opus packets into an Ogg stream (RFC 3533 pages, RFC 7845 mapping): an `OpusHead`
/// page, an `OpusTags` page, then audio pages whose granule position is the number of
/// 48 kHz samples decodable from the packets completed on the page, pre-skip included.
///
/// I/O-free: finished pages go to the `emit` closure of each call, so a caller can stream
/// them to disk as they fill (a page is emitted about every `packetsPerPage` packets).
public struct OggOpusWriter: Sendable {
    /// The stream's serial number.
    public let serial: UInt32
    /// Packets per audio page (50 × 20 ms = one page a second).
    public let packetsPerPage: Int
    /// Samples the decoder discards at the start (OpusHead pre-skip, RFC 7845 §5.1).
    public let preSkip: UInt16
    /// Samples written so far, pre-skip included: the granule position of the next page.
    public private(set) var granule: Int64
    /// Audio packets written.
    public private(set) var packetCount = 0
    private var sequence: UInt32 = 0
    private var segments: [UInt8] = []
    private var body: [UInt8] = []
    private var page: [UInt8] = []
    private var pendingPackets = 0

    /// Starts a stream of `channels` channels and emits its two header pages.
    public init(channels: Int, preSkip: UInt16 = 312, serial: UInt32 = .random(in: 0...UInt32.max),
                packetsPerPage: Int = 50, vendor: String = "giaoban", emit: (UnsafeRawBufferPointer) -> Void) {
        self.serial = serial
        self.preSkip = preSkip
        self.packetsPerPage = max(1, min(packetsPerPage, 255))
        granule = 0
        var head = Array("OpusHead".utf8)
        head += [1, UInt8(channels)]  // version 1, channel count
        head += Self.le(UInt64(preSkip), 2)
        head += Self.le(48_000, 4)  // input sample rate (informational)
        head += [0, 0, 0]  // output gain 0, mapping family 0
        var tags = Array("OpusTags".utf8)
        tags += Self.le(UInt64(vendor.utf8.count), 4) + Array(vendor.utf8)
        tags += Self.le(0, 4)  // no user comments
        head.withUnsafeBytes { addPacket($0) }
        flush(flags: 0x02, emit: emit)  // beginning of stream
        tags.withUnsafeBytes { addPacket($0) }
        flush(flags: 0, emit: emit)
    }

    /// Adds one Opus packet lasting `samples` samples at 48 kHz (960 for 20 ms); an empty
    /// packet is written as a lost frame (RFC 6716 §3.2.1: a zero-length frame, concealed).
    public mutating func append(_ packet: UnsafeRawBufferPointer, samples: Int, emit: (UnsafeRawBufferPointer) -> Void) {
        if segments.count + packet.count / 255 + 1 > 255 { flush(flags: 0, emit: emit) }
        addPacket(packet)
        granule += Int64(samples)
        packetCount += 1
        pendingPackets += 1
        if pendingPackets >= packetsPerPage { flush(flags: 0, emit: emit) }
    }

    /// Emits the last page, marked end of stream (RFC 3533 §6).
    public mutating func finish(emit: (UnsafeRawBufferPointer) -> Void) {
        flush(flags: 0x04, emit: emit, evenIfEmpty: true)
    }

    private mutating func addPacket(_ packet: UnsafeRawBufferPointer) {
        var left = packet.count
        while left >= 255 {
            segments.append(255)
            left -= 255
        }
        segments.append(UInt8(left))  // a packet ends with a segment shorter than 255
        body.append(contentsOf: packet)
    }

    private mutating func flush(flags: UInt8, emit: (UnsafeRawBufferPointer) -> Void, evenIfEmpty: Bool = false) {
        guard !segments.isEmpty || evenIfEmpty else { return }
        page.removeAll(keepingCapacity: true)
        page += Array("OggS".utf8)
        page += [0, flags]
        page += Self.le(UInt64(bitPattern: sequence == 0 || sequence == 1 ? 0 : granule), 8)
        page += Self.le(UInt64(serial), 4)
        page += Self.le(UInt64(sequence), 4)
        page += [0, 0, 0, 0]  // CRC, filled below
        page.append(UInt8(segments.count))
        page += segments
        page += body
        let crc = OggCRC.checksum(page)
        for i in 0..<4 { page[22 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        page.withUnsafeBytes { emit($0) }
        sequence += 1
        segments.removeAll(keepingCapacity: true)
        body.removeAll(keepingCapacity: true)
        pendingPackets = 0
    }

    static func le(_ value: UInt64, _ bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
}

/// Reads the packets of the first logical stream of an Ogg file (RFC 3533), checking each
/// page's CRC; packets spanning pages are joined. For Ogg Opus (RFC 7845) the first two
/// packets are `OpusHead` and `OpusTags`.
public struct OggPacketReader: Sendable {
    /// One packet and the granule position of the page it ended on.
    public struct Packet: Sendable, Equatable {
        /// The packet's bytes.
        public var data: [UInt8]
        /// The granule position of the page where the packet ends.
        public var granule: Int64
    }

    /// Every packet of the stream, in order.
    public let packets: [Packet]

    /// Parses `bytes`; throws `.badInput` with the page offset when a page is malformed
    /// or its CRC does not match.
    public init(_ bytes: [UInt8]) throws(CodecError) {
        var packets: [Packet] = []
        var partial: [UInt8] = []
        var offset = 0
        var serial: UInt32?
        while offset < bytes.count {
            guard bytes.count - offset >= 27, Array(bytes[offset..<offset + 4]) == Array("OggS".utf8) else {
                throw CodecError(.badInput, "no Ogg page at byte \(offset)")
            }
            let count = Int(bytes[offset + 26])
            guard bytes.count - offset >= 27 + count else { throw CodecError(.badInput, "truncated Ogg page at byte \(offset)") }
            let table = bytes[(offset + 27)..<(offset + 27 + count)]
            let bodyLength = table.reduce(0) { $0 + Int($1) }
            let end = offset + 27 + count + bodyLength
            guard end <= bytes.count else { throw CodecError(.badInput, "truncated Ogg page at byte \(offset)") }
            var page = Array(bytes[offset..<end])
            let stored = Self.u32(page, 22)
            page[22...25] = [0, 0, 0, 0]
            guard OggCRC.checksum(page) == stored else { throw CodecError(.badInput, "Ogg page CRC mismatch at byte \(offset)") }
            let pageSerial = Self.u32(page, 14)
            if serial == nil { serial = pageSerial }
            if pageSerial == serial {
                let granule = Int64(bitPattern: UInt64(Self.u32(page, 6)) | UInt64(Self.u32(page, 10)) << 32)
                var position = 27 + count
                for lace in table {
                    partial += page[position..<(position + Int(lace))]
                    position += Int(lace)
                    if lace < 255 {
                        packets.append(Packet(data: partial, granule: granule))
                        partial.removeAll(keepingCapacity: true)
                    }
                }
            }
            offset = end
        }
        self.packets = packets
    }

    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[at + $1]) << (8 * UInt32($1)) }
    }
}

/// The CRC-32 of Ogg pages (RFC 3533 §6): polynomial 0x04C11DB7, not reflected, initial
/// value 0, no final XOR, over the whole page with its CRC field zeroed.
public enum OggCRC {
    static let table: [UInt32] = (0..<256).map { i in
        var r = UInt32(i) << 24
        for _ in 0..<8 { r = r & 0x8000_0000 != 0 ? (r << 1) ^ 0x04C1_1DB7 : r << 1 }
        return r
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0
        for b in bytes { crc = (crc << 8) ^ table[Int((crc >> 24) ^ UInt32(b))] }
        return crc
    }
}
