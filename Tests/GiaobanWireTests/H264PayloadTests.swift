import GiaobanWire
import Testing

@Suite("H.264 payloads (RFC 6184): keyframe starts and profiles")
struct H264PayloadTests {
    func starts(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { H264Payload.startsKeyframe($0) } }

    @Test("single NAL units: IDR and SPS start a keyframe, a non-IDR slice and PPS do not")
    func singleUnits() {
        #expect(starts([0x65, 0x88, 0x84]))  // nal_ref_idc 3, type 5 (IDR)
        #expect(starts([0x67, 0x42, 0xE0, 0x1F]))  // type 7 (SPS)
        #expect(!starts([0x41, 0x9A]))  // type 1 (non-IDR slice)
        #expect(!starts([0x68, 0xCE]))  // type 8 (PPS)
        #expect(!starts([]))
    }

    @Test("STAP-A: a keyframe when one of its units is SPS or IDR; broken sizes are not")
    func aggregation() {
        let sps: [UInt8] = [0x67, 0x42, 0xE0, 0x1F], pps: [UInt8] = [0x68, 0xCE, 0x3C, 0x80]
        #expect(starts([0x78, 0x00, 0x04] + sps + [0x00, 0x04] + pps))
        #expect(!starts([0x78, 0x00, 0x04] + pps))
        #expect(!starts([0x78, 0x00, 0x40] + sps), "a size past the end")
        #expect(!starts([0x78, 0x00, 0x00] + sps), "a zero size")
    }

    @Test("FU-A: the first fragment of an IDR starts a keyframe; later fragments and other types do not")
    func fragments() {
        #expect(starts([0x7C, 0x85, 0x88]))  // FU indicator type 28, FU header S=1 type 5
        #expect(!starts([0x7C, 0x05, 0x88]), "not the start")
        #expect(!starts([0x7C, 0x45, 0x88]), "the end")
        #expect(!starts([0x7C, 0x81, 0x9A]), "a non-IDR slice")
        #expect(!starts([0x7C]), "truncated")
    }

    @Test("profile-level-id names a profile whatever the level; malformed is nil")
    func profiles() {
        #expect(H264Payload.profile(of: "42e01f") == "constrained baseline")
        #expect(H264Payload.profile(of: "42e034") == "constrained baseline", "another level, the same profile")
        #expect(H264Payload.profile(of: "42001f") == "baseline")
        #expect(H264Payload.profile(of: nil) == "baseline", "absent: 42000A")
        #expect(H264Payload.profile(of: "4d001f") == "main")
        #expect(H264Payload.profile(of: "640032") == "high")
        #expect(H264Payload.profile(of: "42e0") == nil)
        #expect(H264Payload.profile(of: "zz001f") == nil)
    }
}
