/// Writes a transport-wide feedback packet (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1).
///
/// Built from arrivals in increasing serial order; sequence numbers skipped between two
/// arrivals are reported as not received. The reference time is the first arrival rounded
/// down to 64 ms; each delta is rounded down to 250 µs against the time already reported,
/// so rounding does not accumulate. Chunks: a run-length chunk wherever a run of equal
/// statuses covers at least as many packets as a status vector could, otherwise a
/// one-bit vector (14 packets, no large deltas) or a two-bit vector (7 packets).
/// The packet is zero-padded to 32 bits without the P bit.
public struct TransportWideFeedbackBuilder: RTCPPacketBuilder, Equatable {
    /// One packet to report: its transport-wide sequence number and arrival time, or nil if lost.
    public struct Arrival: Sendable, Equatable {
        /// Transport-wide sequence number.
        public var sequenceNumber: UInt16
        /// Arrival time in microseconds on the receiver's clock, or nil when not received.
        public var arrivalMicroseconds: Int64?

        /// Creates an arrival record.
        @inlinable public init(_ sequenceNumber: UInt16, _ arrivalMicroseconds: Int64?) {
            self.sequenceNumber = sequenceNumber
            self.arrivalMicroseconds = arrivalMicroseconds
        }
    }

    /// SSRC of the packet sender.
    public var senderSSRC: UInt32
    /// SSRC of the media source.
    public var mediaSSRC: UInt32
    /// Feedback packet count, to be incremented by the caller per packet sent.
    public var feedbackPacketCount: UInt8
    /// Sequence number of the first arrival.
    public let baseSequenceNumber: UInt16
    /// Number of sequence numbers reported.
    public let packetStatusCount: Int
    /// Reference time in 64 ms units, wrapped to signed 24 bits.
    public let referenceTime: Int32
    /// Encoded packet chunks.
    public let chunks: [UInt16]
    /// Receive deltas in 250 µs units, one per received packet.
    public let deltaTicks: [Int16]

    /// Builds the chunks and deltas. Throws `.badValue` when `arrivals` is empty, not in
    /// increasing serial order, spans more than 65535 sequence numbers, or has two
    /// consecutive received packets more than ±8.19 s apart.
    public init(
        senderSSRC: UInt32, mediaSSRC: UInt32, feedbackPacketCount: UInt8,
        arrivals: some Sequence<Arrival>
    ) throws(WireError) {
        var symbols: [UInt8] = []
        var ticks: [Int16] = []
        var base: UInt16 = 0
        var previous: UInt16 = 0
        var reference: Int64?
        var reported: Int64 = 0
        for arrival in arrivals {
            if symbols.isEmpty {
                base = arrival.sequenceNumber
            } else {
                let gap = RTPSeq.distance(from: previous, to: arrival.sequenceNumber)
                guard gap > 0, symbols.count + Int(gap) <= 0xFFFF else { throw WireError(.badValue, "RTCP TWCC") }
                symbols.append(contentsOf: repeatElement(0, count: Int(gap) - 1))
            }
            previous = arrival.sequenceNumber
            guard let time = arrival.arrivalMicroseconds else {
                symbols.append(0)
                continue
            }
            if reference == nil {
                let units = TransportWideFeedbackBuilder.floorDiv(
                    time, TransportWideFeedback.referenceTimeUnitMicroseconds)
                reference = units
                reported = units * TransportWideFeedback.referenceTimeUnitMicroseconds
            }
            let (diff, overflow) = time.subtractingReportingOverflow(reported)
            let delta = TransportWideFeedbackBuilder.floorDiv(diff, TransportWideFeedback.deltaUnitMicroseconds)
            guard !overflow, delta >= Int64(Int16.min), delta <= Int64(Int16.max) else {
                throw WireError(.badValue, "RTCP TWCC")
            }
            reported += delta * TransportWideFeedback.deltaUnitMicroseconds
            ticks.append(Int16(delta))
            symbols.append(delta >= 0 && delta <= 255 ? 1 : 2)
        }
        guard !symbols.isEmpty else { throw WireError(.badValue, "RTCP TWCC") }
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.feedbackPacketCount = feedbackPacketCount
        self.baseSequenceNumber = base
        self.packetStatusCount = symbols.count
        self.referenceTime = Int32(truncatingIfNeeded: ((reference ?? 0) << 40) >> 40)
        self.chunks = TransportWideFeedbackBuilder.encodeChunks(symbols)
        self.deltaTicks = ticks
    }

    /// Copies a parsed feedback packet, re-encoding it from its arrival times.
    public init(_ view: TransportWideFeedback) throws(WireError) {
        var arrivals: [Arrival] = []
        arrivals.reserveCapacity(view.packetStatusCount)
        for result in view { arrivals.append(Arrival(result.sequenceNumber, result.arrivalMicroseconds)) }
        try self.init(
            senderSSRC: view.senderSSRC, mediaSSRC: view.mediaSSRC,
            feedbackPacketCount: view.feedbackPacketCount, arrivals: arrivals)
    }

    /// `a / b` rounded toward negative infinity (b > 0).
    @usableFromInline
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && a < 0) ? q - 1 : q
    }

    /// Encodes status symbols (0, 1, 2) into packet chunks, greedily.
    @usableFromInline
    static func encodeChunks(_ symbols: [UInt8]) -> [UInt16] {
        var chunks: [UInt16] = []
        var i = 0
        let n = symbols.count
        while i < n {
            let symbol = symbols[i]
            var run = 1
            while i + run < n, run < 0x1FFF, symbols[i + run] == symbol { run += 1 }
            let oneBitSpan = Swift.min(14, n - i)
            let oneBit = !symbols[i..<(i + oneBitSpan)].contains(2)
            let vectorSpan = oneBit ? oneBitSpan : Swift.min(7, n - i)
            if run >= vectorSpan {
                chunks.append(UInt16(symbol) << 13 | UInt16(run))
                i += run
            } else if oneBit {
                var chunk: UInt16 = 0x8000
                for k in 0..<vectorSpan where symbols[i + k] != 0 { chunk |= 1 << (13 - k) }
                chunks.append(chunk)
                i += vectorSpan
            } else {
                var chunk: UInt16 = 0xC000
                for k in 0..<vectorSpan { chunk |= UInt16(symbols[i + k]) << (12 - 2 * k) }
                chunks.append(chunk)
                i += vectorSpan
            }
        }
        return chunks
    }

    /// Bytes of receive deltas: one per small delta, two per large one.
    @inlinable var deltaBytes: Int {
        var total = 0
        for tick in deltaTicks { total += tick >= 0 && tick <= 255 ? 1 : 2 }
        return total
    }

    /// Header, chunks and deltas, rounded up to 32 bits.
    public var marshalSize: Int {
        (TransportWideFeedback.fixedSize + chunks.count * 2 + deltaBytes + 3) & ~3
    }

    /// Writes the packet.
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let size = marshalSize
        try RTCPFeedback.writeHeader(
            into: out, type: .transportFeedback, format: TransportWideFeedback.format,
            packetSize: size, senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, "RTCP TWCC")
        out.setU16(baseSequenceNumber, at: 12)
        out.setU16(UInt16(truncatingIfNeeded: packetStatusCount), at: 14)
        out.setU24(UInt32(bitPattern: referenceTime), at: 16)
        out[19] = feedbackPacketCount
        var offset = TransportWideFeedback.fixedSize
        for chunk in chunks {
            out.setU16(chunk, at: offset)
            offset += 2
        }
        for tick in deltaTicks {
            if tick >= 0 && tick <= 255 {
                out[offset] = UInt8(tick)
                offset += 1
            } else {
                out.setU16(UInt16(bitPattern: tick), at: offset)
                offset += 2
            }
        }
        while offset < size {
            out[offset] = 0
            offset += 1
        }
        return size
    }
}
