import Testing
import GiaobanRTP

/// A one-byte VP8 descriptor (S as given, partition 0) and one byte of "frame": bit 0 clear
/// for a keyframe (RFC 6386 §9.1).
private func insert(_ assembler: inout VP8FrameAssembler, seq: UInt16, ts: UInt32, start: Bool, key: Bool = true,
                    marker: Bool) -> [VP8FrameAssembler.Event] {
    ([start ? 0x10 : 0x00, key ? 0x00 : 0x01] as [UInt8]).withUnsafeBytes {
        assembler.insert(sequenceNumber: seq, timestamp: ts, marker: marker, payload: $0)
    }
}

@Suite("VP8 frame assembler fed by a jitter buffer: a packet given up is lost at once")
struct VP8AssemblerLossTests {
    @Test("a packet given up inside a frame: the frame is incomplete without waiting for the reorder window")
    func lostInsideFrame() {
        var waiting = VP8FrameAssembler(reorderWindow: 8)
        _ = insert(&waiting, seq: 10, ts: 0, start: true, marker: false)
        #expect(insert(&waiting, seq: 12, ts: 0, start: false, marker: true).isEmpty, "without news, 11 is waited for")

        var told = VP8FrameAssembler(reorderWindow: 8)
        _ = insert(&told, seq: 10, ts: 0, start: true, marker: false)
        #expect(told.lose(sequenceNumber: 11).isEmpty)
        #expect(insert(&told, seq: 12, ts: 0, start: false, marker: true) == [.incomplete(timestamp: 0)])
        #expect(told.counters.lost == 1 && told.counters.incomplete == 1)
        #expect(told.lose(sequenceNumber: 11).isEmpty, "already settled")
    }

    @Test("a packet given up between frames: the next delta frame is incomplete, the next keyframe whole")
    func lostBetweenFrames() {
        var assembler = VP8FrameAssembler()
        #expect(insert(&assembler, seq: 1, ts: 0, start: true, marker: true) == [.frame(data: [0x00], timestamp: 0, isKeyframe: true)])
        #expect(assembler.lose(sequenceNumber: 2).isEmpty)
        #expect(insert(&assembler, seq: 3, ts: 6000, start: true, key: false, marker: true) == [.incomplete(timestamp: 6000)])
        #expect(insert(&assembler, seq: 4, ts: 9000, start: true, marker: true) == [.frame(data: [0x00], timestamp: 9000, isKeyframe: true)])
    }

    @Test("a packet given up while later ones wait: those are used at once, in order")
    func lostReleasesPending() {
        var assembler = VP8FrameAssembler(reorderWindow: 8)
        _ = insert(&assembler, seq: 1, ts: 0, start: true, marker: true)
        #expect(insert(&assembler, seq: 3, ts: 6000, start: true, key: true, marker: true).isEmpty, "2 is missing")
        #expect(assembler.lose(sequenceNumber: 2) == [.frame(data: [0x00], timestamp: 6000, isKeyframe: true)])
    }
}
