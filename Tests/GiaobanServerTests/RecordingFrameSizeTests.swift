@testable import GiaobanServer
import Testing

/// The picture size a recording's video track declares, read from a keyframe's header.
@Suite struct RecordingFrameSizeTests {
    @Test func vp8KeyframeHeader() {
        // Frame tag (P = 0: keyframe), start code 9d 01 2a, width 320 and height 240 (14 bits LE, scale 0).
        let key: [UInt8] = [0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xF0, 0x00]
        #expect(VideoFrameSize.vp8(key)! == (320, 240))
        var inter = key
        inter[0] |= 1  // P = 1: an interframe carries no size
        #expect(VideoFrameSize.vp8(inter) == nil)
    }

    @Test func vp9KeyframeHeader() {
        // 10 (frame marker) 0 0 (profile 0) 0 (not shown-existing) 0 (keyframe) 1 0 → 0x82; sync 49 83 42;
        // color space 001, color range 0, then width − 1 = 319 and height − 1 = 239 in 16 bits each.
        let key: [UInt8] = [0x82, 0x49, 0x83, 0x42, 0x20, 0x13, 0xF0, 0x0E, 0xF0]
        #expect(VideoFrameSize.vp9(key)! == (320, 240))
        #expect(VideoFrameSize.vp9([0x86, 0x49, 0x83, 0x42]) == nil, "frame_type 1: not a keyframe")
        #expect(VideoFrameSize.vp9(Array(key.prefix(6))) == nil, "cut short")
    }
}
