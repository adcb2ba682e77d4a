import Foundation
@testable import GiaobanServer
import GiaobanHub
import GiaobanStore
import Testing

/// A camera's stream as the relay serves it (docs/cameras.md): the directory's `rtsp_url`, and
/// the SPS/PPS put in front of IDR pictures that come without them.
@Suite("Cameras: directory URLs and H.264 parameter sets")
struct CameraStreamTests {
    static let sps: [UInt8] = [0x67, 0x42, 0xC0, 0x1F, 0xDA, 0x01, 0x40, 0x16, 0xE8]
    static let pps: [UInt8] = [0x68, 0xCE, 0x3C, 0x80]

    /// An RTP packet (PT 96) with `payload`.
    static func packet(sequence: UInt16, timestamp: UInt32 = 9000, marker: Bool = false, _ payload: [UInt8]) -> [UInt8] {
        [0x80, (marker ? 0x80 : 0) | 96, UInt8(sequence >> 8), UInt8(sequence & 0xFF),
         UInt8(timestamp >> 24), UInt8(timestamp >> 16 & 0xFF), UInt8(timestamp >> 8 & 0xFF), UInt8(timestamp & 0xFF),
         0, 0, 0x12, 0x34] + payload
    }

    static func sequence(_ packet: [UInt8]) -> UInt16 { UInt16(packet[2]) << 8 | UInt16(packet[3]) }

    @Test("an IDR without in-band SPS/PPS gets a STAP-A of the announced ones first; later packets are renumbered")
    func insertsBeforeBareIDR() {
        var injector = H264ParameterSets(spropParameterSets: [Data(Self.sps).base64EncodedString(), Data(Self.pps).base64EncodedString()])
        let idrStart = Self.packet(sequence: 100, [0x7C, 0x85, 1, 2, 3])        // FU-A, start, type 5
        let idrEnd = Self.packet(sequence: 101, marker: true, [0x7C, 0x45, 4])  // FU-A, end
        let out = injector.process(idrStart)
        #expect(out.count == 2)
        let stap = out[0]
        #expect(Self.sequence(stap) == 100 && stap[1] & 0x80 == 0 && Array(stap[4..<8]) == Array(idrStart[4..<8]))
        #expect(Array(stap[12...]) == [0x78, 0, UInt8(Self.sps.count)] + Self.sps + [0, UInt8(Self.pps.count)] + Self.pps)
        #expect(Self.sequence(out[1]) == 101 && Array(out[1][12...]) == Array(idrStart[12...]))
        #expect(injector.process(idrEnd).map(Self.sequence) == [102])
        #expect(H264ParameterSets.unitTypes(stap.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[12...]) }).types == [7, 8])
    }

    @Test("a camera that sends its SPS in band is only renumbered; without announced sets nothing is inserted")
    func passesInBand() {
        var injector = H264ParameterSets(spropParameterSets: [Data(Self.sps).base64EncodedString(), Data(Self.pps).base64EncodedString()])
        let spsPacket = Self.packet(sequence: 7, Self.sps), ppsPacket = Self.packet(sequence: 8, Self.pps)
        let idr = Self.packet(sequence: 9, marker: true, [0x65, 0x88, 0x84])
        #expect(injector.process(spsPacket) == [spsPacket] && injector.process(ppsPacket) == [ppsPacket] && injector.process(idr) == [idr])
        #expect(injector.inserted == 0)
        var bare = H264ParameterSets(spropParameterSets: ["not base64!"])
        #expect(bare.stapA == nil && bare.process(idr) == [idr])
        #expect(bare.process([0x80, 0x60]) == [], "a truncated packet is dropped")
    }

    @Test("broken FU-A fragments and malformed units are dropped with a reason; the numbering closes the gap")
    func brokenFragments() {
        var injector = H264ParameterSets(spropParameterSets: [])
        let cases: [([UInt8], String?)] = [
            ([0x7C, 0x45, 9], "an FU-A continuation without its start"),       // end without start
            ([0x7C, 0x85, 1], nil),                                           // start
            ([0x7C, 0x85, 2], "an FU-A start while the previous unit was not ended"),
            ([0x7C, 0x05, 3], nil),                                           // middle (the second start opened one)
            ([0x7C, 0x45, 4], nil),                                           // end
            ([0x7C, 0xC5, 5], "an FU-A that both starts and ends a unit"),
            ([0x7C], "an FU-A without its header and data"),
            ([0x78, 0, 9, 0x67], "a STAP-A unit runs past the packet"),
            ([0xE5, 1, 2], "the forbidden bit is set"),
            ([0x1E, 1], "NAL unit type 30 is not allowed in packetization mode 1"),
            ([0x65, 0x88], nil),                                              // a whole IDR slice
        ]
        var sequence: UInt16 = 500
        var forwarded: [UInt16] = []
        for (payload, problem) in cases {
            let out = injector.process(Self.packet(sequence: sequence, payload))
            sequence &+= 1
            #expect(out.isEmpty == (problem != nil), "\(payload)")
            if let problem { #expect(injector.lastProblem == problem) }
            forwarded += out.map(Self.sequence)
        }
        #expect(injector.malformed == 7)
        #expect(forwarded == [500, 501, 502, 503], "what is forwarded is numbered without gaps: \(forwarded)")
        #expect(injector.process([0x80]).isEmpty && injector.lastProblem == "not an RTP packet")
    }

    @Test("rtsp_url: rtsp:// without credentials, else a reason naming the key")
    func directoryURL() throws {
        #expect(try DirectoryFile.rtspURL("rtsp://10.1.2.3:554/Streaming/Channels/101", where: "camera") == "rtsp://10.1.2.3:554/Streaming/Channels/101")
        #expect(try DirectoryFile.rtspURL(nil, where: "camera") == nil)
        #expect(try DirectoryFile.rtspURL(NSNull(), where: "camera") == nil)
        for bad: Any in ["http://10.1.2.3/x", "rtsp://", "rtsp://admin:secret@10.1.2.3/x", "rtsp://10.1.2.3/a b", 42,
                         "rtsp://" + String(repeating: "a", count: 1020)] {
            #expect(throws: DirectoryError.self) { try DirectoryFile.rtspURL(bad, where: "camera") }
        }
        do { _ = try DirectoryFile.rtspURL("rtsp://u:p@h/x", where: "camera") } catch {
            #expect(error.message.contains("cameras.secrets_file") && !error.message.contains("u:p"))
        }
    }
}
