import Testing
import GiaobanRTP

@Suite("Dominant speaker")
struct DominantSpeakerTests {
    typealias Levels = [String: (level: UInt8, voice: Bool)]

    /// Runs `ticks` ticks of the same levels; returns every floor change.
    static func run(_ detector: inout DominantSpeaker, _ levels: Levels, ticks: Int) -> [String] {
        (0..<ticks).compactMap { _ in detector.update(levels: levels) }
    }

    @Test("the first voice above silence takes the floor; silence alone never does")
    func firstSpeaker() {
        var d = DominantSpeaker()
        #expect(Self.run(&d, ["a": (127, false), "b": (120, true)], ticks: 20).isEmpty)
        #expect(Self.run(&d, ["a": (30, true), "b": (120, true)], ticks: 5) == ["a"])
        #expect(d.speaker == "a")
    }

    @Test("a sender that never sets the voice flag is judged by its level; one that does, not when it clears it")
    func voiceFlag() {
        var d = DominantSpeaker()
        // aiortc: real levels, V = 0 always.
        #expect(Self.run(&d, ["aiortc": (30, false), "quiet": (127, false)], ticks: 5) == ["aiortc"])
        #expect(d.loudest(3) == ["aiortc"])
        // A browser that flagged voice once: a loud level without the flag is not speech.
        var e = DominantSpeaker()
        #expect(Self.run(&e, ["browser": (120, true)], ticks: 3).isEmpty, "too quiet to take the floor")
        #expect(Self.run(&e, ["browser": (20, false)], ticks: 20).isEmpty)
        #expect(e.loudest(3).isEmpty)
        #expect(Self.run(&e, ["browser": (20, true)], ticks: 5) == ["browser"])
    }

    @Test("a short burst from another participant does not move the floor; a sustained lead does")
    func hysteresis() {
        var d = DominantSpeaker()
        _ = Self.run(&d, ["chair": (40, true)], ticks: 10)
        #expect(d.speaker == "chair")
        // Two ticks of a loud cough: not enough.
        #expect(Self.run(&d, ["chair": (40, true), "xa-a": (10, true)], ticks: 2).isEmpty)
        #expect(Self.run(&d, ["chair": (40, true)], ticks: 10).isEmpty)
        #expect(d.speaker == "chair")
        // A commune speaking clearly louder for a second takes it, once.
        #expect(Self.run(&d, ["chair": (60, true), "xa-a": (20, true)], ticks: 10) == ["xa-a"])
    }

    @Test("when the speaker falls silent the floor goes to whoever speaks, even if not much louder")
    func release() {
        var d = DominantSpeaker()
        _ = Self.run(&d, ["a": (30, true)], ticks: 10)
        let changes = Self.run(&d, ["a": (127, false), "b": (100, true)], ticks: 30)
        #expect(changes == ["b"])
    }

    @Test("the K loudest above silence, loudest first; a participant who left is forgotten")
    func loudest() {
        var d = DominantSpeaker()
        _ = Self.run(&d, ["a": (20, true), "b": (50, true), "c": (80, true), "d": (127, false)], ticks: 20)
        #expect(d.loudest(2) == ["a", "b"])
        #expect(d.loudest(10) == ["a", "b", "c"])
        d.remove("a")
        #expect(d.speaker == nil)
        #expect(d.loudest(2) == ["b", "c"])
    }
}
