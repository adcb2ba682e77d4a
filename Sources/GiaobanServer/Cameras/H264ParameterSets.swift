import Foundation
import GiaobanWire

/// Puts a camera's SPS and PPS in front of each IDR picture that arrives without them in band.
///
/// Many cameras announce their parameter sets only in the DESCRIBE's `sprop-parameter-sets`
/// (RFC 6184 §8.1) and send IDR slices alone; a WebRTC watcher has no SDP from the camera and
/// cannot decode those. Before such an IDR this writes one STAP-A packet (RFC 6184 §5.7.1)
/// holding the SPS and PPS, with the IDR's timestamp, and renumbers the packets after it so
/// that the stream has no gap. A camera that sends its parameter sets in band (an SPS since the
/// last IDR) is passed through unchanged, renumbered only by what was inserted before.
struct H264ParameterSets {
    /// The STAP-A payload of the SPS and PPS (nil: none announced, nothing is inserted).
    let stapA: [UInt8]?
    private var sequenceOffset: UInt16 = 0
    private var sawParameterSets = false
    /// STAP-A packets inserted so far.
    private(set) var inserted = 0
    /// Packets dropped as malformed H.264 (RFC 6184), and the last reason.
    private(set) var malformed = 0
    private(set) var lastProblem: String?
    /// A fragmented unit (FU-A) is in progress: its start was seen and its end not yet.
    private var inFragment = false

    /// The injector for `sprop-parameter-sets` (base64 NAL units; malformed ones are skipped).
    init(spropParameterSets: [String]) {
        let units = spropParameterSets.compactMap { Data(base64Encoded: $0).map(Array.init) }.filter { !$0.isEmpty }
        guard units.contains(where: { $0[0] & 0x1F == 7 }), units.contains(where: { $0[0] & 0x1F == 8 }) else {
            stapA = nil
            return
        }
        // STAP-A: F/NRI of the highest unit, type 24, then each unit with a 16-bit size.
        var payload: [UInt8] = [(units.map { $0[0] & 0x60 }.max() ?? 0x60) | 24]
        for unit in units where unit.count <= 0xFFFF {
            payload += [UInt8(unit.count >> 8), UInt8(unit.count & 0xFF)] + unit
        }
        stapA = payload
    }

    /// The NAL unit types `payload` carries at its start: a single unit's, a STAP-A's units',
    /// or an FU-A's (with whether it is the first fragment).
    static func unitTypes(_ payload: UnsafeRawBufferPointer) -> (types: [UInt8], fragmentStart: Bool) {
        guard let first = payload.first else { return ([], false) }
        switch first & 0x1F {
        case 24:
            var types: [UInt8] = [], offset = 1
            while offset + 2 < payload.count {
                let size = Int(payload[offset]) << 8 | Int(payload[offset + 1])
                guard size > 0, offset + 2 + size <= payload.count else { break }
                types.append(payload[offset + 2] & 0x1F)
                offset += 2 + size
            }
            return (types, false)
        case 28:
            guard payload.count >= 2 else { return ([], false) }
            return ([payload[1] & 0x1F], payload[1] & 0x80 != 0)
        case let type:
            return ([type], true)
        }
    }

    /// Why `payload` is not a well-formed RFC 6184 payload (packetization mode 1), or nil: the
    /// forbidden bit, type 0 or a reserved type, a STAP-A whose sizes do not add up, an FU-A
    /// without its header, with both start and end, a continuation without a start, or a start
    /// while another unit is still open. `inFragment` follows the FU-A units.
    mutating func problem(_ payload: UnsafeRawBufferPointer) -> String? {
        guard let first = payload.first else { return "an empty payload" }
        if first & 0x80 != 0 { return "the forbidden bit is set" }
        switch first & 0x1F {
        case 0, 25, 26, 27, 29, 30, 31: return "NAL unit type \(first & 0x1F) is not allowed in packetization mode 1"
        case 24:
            var offset = 1
            while offset < payload.count {
                guard offset + 2 <= payload.count else { return "a STAP-A unit size is cut off" }
                let size = Int(payload[offset]) << 8 | Int(payload[offset + 1])
                guard size > 0, offset + 2 + size <= payload.count else { return "a STAP-A unit runs past the packet" }
                offset += 2 + size
            }
            return offset == 1 ? "a STAP-A without units" : nil
        case 28:
            guard payload.count >= 3 else { return "an FU-A without its header and data" }
            let start = payload[1] & 0x80 != 0, end = payload[1] & 0x40 != 0
            if start && end { return "an FU-A that both starts and ends a unit" }
            if start {
                let open = inFragment
                inFragment = true
                return open ? "an FU-A start while the previous unit was not ended" : nil
            }
            guard inFragment else { return "an FU-A continuation without its start" }
            if end { inFragment = false }
            return nil
        default:
            return nil
        }
    }

    /// The packets to forward for one received RTP `packet`: the STAP-A first when it starts an
    /// IDR that came without parameter sets, then the packet; each renumbered. A malformed packet
    /// is dropped (counted in `malformed`, reason in `lastProblem`) and leaves no gap.
    mutating func process(_ packet: [UInt8]) -> [[UInt8]] {
        let parsed = packet.withUnsafeBytes { bytes -> (sequence: UInt16, types: [UInt8], start: Bool, problem: String?)? in
            guard let view = try? RTPPacketView(bytes) else { return nil }
            let (types, start) = Self.unitTypes(view.payload)
            return (view.sequenceNumber, types, start, problem(view.payload))
        }
        guard let (sequence, types, start, problem) = parsed else {
            malformed += 1
            lastProblem = "not an RTP packet"
            return []
        }
        if let problem {
            malformed += 1
            lastProblem = problem
            sequenceOffset &-= 1  // the packets after it close the gap
            return []
        }
        var out: [[UInt8]] = []
        if types.contains(7) { sawParameterSets = true }
        if start, types.contains(5) {
            if !sawParameterSets, let stapA {
                var header = Array(packet[0..<12])
                header[0] &= 0xE0  // no padding, extension or CSRCs
                header[1] &= 0x7F  // no marker
                Self.setSequence(&header, sequence &+ sequenceOffset)
                out.append(header + stapA)
                sequenceOffset &+= 1
                inserted += 1
            }
            sawParameterSets = false
        }
        var renumbered = packet
        Self.setSequence(&renumbered, sequence &+ sequenceOffset)
        out.append(renumbered)
        return out
    }

    static func setSequence(_ packet: inout [UInt8], _ sequence: UInt16) {
        packet[2] = UInt8(sequence >> 8)
        packet[3] = UInt8(sequence & 0xFF)
    }
}
