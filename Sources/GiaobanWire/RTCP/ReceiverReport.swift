/// RR: receiver report (RFC 3550 §6.4.2), PT 201, report count RC in the header:
///
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |V=2|P|    RC   |   PT=RR=201   |             length            |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                     SSRC of packet sender                     |
///     +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
///     |                 report blocks (RC × 24 bytes)                 |
///     +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
///     |                  profile-specific extensions                  |
///
/// A view over the caller's bytes, valid while that buffer lives.
public struct ReceiverReport {
    /// Bytes before the report blocks: header and SSRC.
    public static let fixedSize = 8
    /// The packet, header and padding included.
    public let bytes: UnsafeRawBufferPointer
    /// Offset just past the content (before padding).
    public let contentEnd: Int

    /// Parses one RR packet spanning exactly `bytes`; checks that RC blocks fit.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let packet = try RTCPPacket.expect(bytes, .receiverReport, "RTCP RR")
        let blocksEnd = ReceiverReport.fixedSize + Int(packet.header.count) * ReceptionReportBlock.size
        guard blocksEnd <= packet.contentEnd else { throw WireError(.badLength, "RTCP RR") }
        self.bytes = bytes
        self.contentEnd = packet.contentEnd
    }

    /// SSRC of the packet sender.
    @inlinable public var ssrc: UInt32 { bytes.u32(at: 4) }
    /// RC: number of report blocks.
    @inlinable public var reportCount: Int { Int(bytes[0] & 0x1F) }

    /// The report blocks.
    @inlinable public var reports: ReceptionReportBlocks {
        ReceptionReportBlocks(bytes.slice(ReceiverReport.fixedSize, reportCount * ReceptionReportBlock.size))
    }

    /// Profile-specific extension bytes after the report blocks (not interpreted).
    @inlinable public var profileExtensions: UnsafeRawBufferPointer {
        let start = ReceiverReport.fixedSize + reportCount * ReceptionReportBlock.size
        return bytes.slice(start, contentEnd - start)
    }
}

/// Writes an RR; profile extensions are not written.
public struct ReceiverReportBuilder: RTCPPacketBuilder, Equatable {
    /// SSRC of the packet sender.
    public var ssrc: UInt32
    /// Report blocks, at most 31 (an RR with none is valid).
    public var reports: [ReceptionReportBlock]

    /// Creates an RR from its fields.
    public init(ssrc: UInt32, reports: [ReceptionReportBlock] = []) {
        self.ssrc = ssrc
        self.reports = reports
    }

    /// Copies the SSRC and report blocks of a parsed RR.
    public init(_ view: ReceiverReport) {
        self.init(ssrc: view.ssrc, reports: Array(view.reports))
    }

    /// 8 bytes plus 24 per report block.
    public var marshalSize: Int { ReceiverReport.fixedSize + reports.count * ReceptionReportBlock.size }

    /// Writes the RR; throws `.badValue` for more than 31 report blocks.
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let size = marshalSize
        try RTCPHeader.write(into: out, count: reports.count, type: .receiverReport, packetSize: size, "RTCP RR")
        out.setU32(ssrc, at: 4)
        var offset = ReceiverReport.fixedSize
        for block in reports {
            offset += try block.marshal(into: UnsafeMutableRawBufferPointer(rebasing: out[offset...]))
        }
        return size
    }
}
