/// SR: sender report (RFC 3550 §6.4.1), PT 200, report count RC in the header:
///
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |V=2|P|    RC   |   PT=SR=200   |             length            |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                         SSRC of sender                        |
///     +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
///     |              NTP timestamp, most significant word             |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |             NTP timestamp, least significant word             |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                         RTP timestamp                         |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                     sender's packet count                     |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                      sender's octet count                     |
///     +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
///     |                 report blocks (RC × 24 bytes)                 |
///     +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
///     |                  profile-specific extensions                  |
///
/// A view over the caller's bytes, valid while that buffer lives.
public struct SenderReport {
    /// Bytes before the report blocks: header, SSRC and sender info.
    public static let fixedSize = 28
    /// The packet, header and padding included.
    public let bytes: UnsafeRawBufferPointer
    /// Offset just past the content (before padding).
    public let contentEnd: Int

    /// Parses one SR packet spanning exactly `bytes`; checks that RC blocks fit.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let packet = try RTCPPacket.expect(bytes, .senderReport, "RTCP SR")
        let blocksEnd = SenderReport.fixedSize + Int(packet.header.count) * ReceptionReportBlock.size
        guard blocksEnd <= packet.contentEnd else { throw WireError(.badLength, "RTCP SR") }
        self.bytes = bytes
        self.contentEnd = packet.contentEnd
    }

    /// SSRC of the sender.
    @inlinable public var ssrc: UInt32 { bytes.u32(at: 4) }
    /// The 64-bit NTP timestamp (seconds since 1900 in the high word, fraction in the low).
    @inlinable public var ntpTimestamp: UInt64 { bytes.u64(at: 8) }
    /// The middle 32 bits of the NTP timestamp, as echoed in a report block's LSR.
    @inlinable public var compactNTP: UInt32 { UInt32(truncatingIfNeeded: ntpTimestamp >> 16) }
    /// The RTP timestamp corresponding to the NTP timestamp.
    @inlinable public var rtpTimestamp: UInt32 { bytes.u32(at: 16) }
    /// Packets sent since the start of transmission.
    @inlinable public var packetCount: UInt32 { bytes.u32(at: 20) }
    /// Payload octets sent since the start of transmission.
    @inlinable public var octetCount: UInt32 { bytes.u32(at: 24) }
    /// RC: number of report blocks.
    @inlinable public var reportCount: Int { Int(bytes[0] & 0x1F) }

    /// The report blocks.
    @inlinable public var reports: ReceptionReportBlocks {
        ReceptionReportBlocks(bytes.slice(SenderReport.fixedSize, reportCount * ReceptionReportBlock.size))
    }

    /// Profile-specific extension bytes after the report blocks (not interpreted).
    @inlinable public var profileExtensions: UnsafeRawBufferPointer {
        let start = SenderReport.fixedSize + reportCount * ReceptionReportBlock.size
        return bytes.slice(start, contentEnd - start)
    }
}

/// Writes an SR; profile extensions are not written.
public struct SenderReportBuilder: RTCPPacketBuilder, Equatable {
    /// SSRC of the sender.
    public var ssrc: UInt32
    /// The 64-bit NTP timestamp.
    public var ntpTimestamp: UInt64
    /// The RTP timestamp corresponding to the NTP timestamp.
    public var rtpTimestamp: UInt32
    /// Packets sent.
    public var packetCount: UInt32
    /// Payload octets sent.
    public var octetCount: UInt32
    /// Report blocks, at most 31.
    public var reports: [ReceptionReportBlock]

    /// Creates an SR from its fields.
    public init(
        ssrc: UInt32, ntpTimestamp: UInt64, rtpTimestamp: UInt32,
        packetCount: UInt32, octetCount: UInt32, reports: [ReceptionReportBlock] = []
    ) {
        self.ssrc = ssrc
        self.ntpTimestamp = ntpTimestamp
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
        self.reports = reports
    }

    /// Copies the fields and report blocks of a parsed SR.
    public init(_ view: SenderReport) {
        self.init(
            ssrc: view.ssrc, ntpTimestamp: view.ntpTimestamp, rtpTimestamp: view.rtpTimestamp,
            packetCount: view.packetCount, octetCount: view.octetCount, reports: Array(view.reports))
    }

    /// 28 bytes plus 24 per report block.
    public var marshalSize: Int { SenderReport.fixedSize + reports.count * ReceptionReportBlock.size }

    /// Writes the SR; throws `.badValue` for more than 31 report blocks.
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let size = marshalSize
        try RTCPHeader.write(into: out, count: reports.count, type: .senderReport, packetSize: size, "RTCP SR")
        out.setU32(ssrc, at: 4)
        out.setU64(ntpTimestamp, at: 8)
        out.setU32(rtpTimestamp, at: 16)
        out.setU32(packetCount, at: 20)
        out.setU32(octetCount, at: 24)
        var offset = SenderReport.fixedSize
        for block in reports {
            offset += try block.marshal(into: UnsafeMutableRawBufferPointer(rebasing: out[offset...]))
        }
        return size
    }
}
