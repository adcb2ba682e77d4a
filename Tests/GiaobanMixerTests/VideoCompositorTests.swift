import GiaobanCodecs
import GiaobanMixer
import Testing

@Suite("Video compositor")
struct VideoCompositorTests {
    static func settings() -> VideoCompositor.Settings {
        var s = VideoCompositor.Settings()
        s.width = 320
        s.height = 180
        s.framesPerSecond = 15
        s.bitrateKbps = 800
        return s
    }

    @Test("the chair fills the picture, the active speaker is the picture-in-picture, at the configured size")
    func composition() throws {
        let compositor = try VideoCompositor(settings: Self.settings())
        let chairPattern = TestPattern(width: 640, height: 360)
        let speakerPattern = TestPattern(width: 160, height: 120)
        var chair = try VideoFeed(name: "chair", width: 640, height: 360, firstSequence: 65_000)
        var speaker = try VideoFeed(name: "commune-7", width: 160, height: 120, firstSequence: 12)
        compositor.setLayout(main: "chair", inset: "commune-7")
        let decoder = try VPXDecoder(codec: .vp8)
        var last: I420Frame?
        var chairPicture = chairPattern.frame(0), speakerPicture = speakerPattern.frame(0).invertedLuma()
        let t0 = ContinuousClock.now
        // The layout takes effect at the next frame: both sources are asked for a keyframe.
        let first = compositor.compose(now: t0 - .milliseconds(66))
        #expect(Set(first.keyframeRequests) == ["chair", "commune-7"])
        _ = try first.frame.map { try decoder.decode($0.data) }
        for i in 0..<8 {
            chairPicture = chairPattern.frame(i)
            speakerPicture = speakerPattern.frame(40 + i).invertedLuma()
            try chair.send(chairPicture, to: compositor)
            try speaker.send(speakerPicture, to: compositor)
            let out = compositor.compose(now: t0 + .milliseconds(66 * i))
            #expect(out.keyframeRequests.isEmpty, "the sources' keyframes arrived")
            let frame = try #require(out.frame)
            #expect(!out.payloads.isEmpty)
            if let picture = try decoder.decode(frame.data) { last = picture }
        }
        let output = try #require(last)
        #expect(output.width == 320 && output.height == 180)
        #expect(compositor.counters.decodes == 16 && compositor.counters.incompleteFrames == 0)

        let regions = compositor.regions(insetWidth: 160, insetHeight: 120)
        var chairReference = I420Frame(width: 320, height: 180)
        I420Scaler.scale(chairPicture, into: &chairReference, rect: regions.main)
        var speakerReference = I420Frame(width: 320, height: 180)
        I420Scaler.scale(speakerPicture, into: &speakerReference, rect: regions.inset)

        let chairMatch = output.meanLumaDifference(to: chairReference, in: regions.main, excluding: regions.inset)
        let insetMatch = output.meanLumaDifference(to: speakerReference, in: regions.inset)
        let insetAsChair = output.meanLumaDifference(to: chairReference, in: regions.inset)
        let chairAsSpeaker = output.meanLumaDifference(to: speakerReference, in: regions.main, excluding: regions.inset)
        print("compositor MAD: chair \(chairMatch), inset \(insetMatch); wrong references: \(insetAsChair), \(chairAsSpeaker)")
        #expect(chairMatch < 6, "the large region shows the chair")
        #expect(insetMatch < 10, "the inset shows the speaker")
        #expect(insetAsChair > 30, "the inset is not the chair")
        #expect(chairAsSpeaker > 30, "the large region is not the speaker")
    }

    @Test("a shown source that loses a packet is dropped until its next keyframe, which is asked for")
    func sourceLoss() throws {
        let compositor = try VideoCompositor(settings: Self.settings())
        let pattern = TestPattern(width: 320, height: 180)
        var chair = try VideoFeed(name: "chair", width: 320, height: 180, firstSequence: 65_530)
        compositor.setLayout(main: "chair", inset: nil)
        let t0 = ContinuousClock.now
        #expect(compositor.compose(now: t0).keyframeRequests == ["chair"])
        var requestedAt: [Int] = []
        var keyframeDue = false
        for i in 1...30 {
            // Frame 3 loses its first packet; the feed answers a request with a keyframe.
            try chair.send(pattern.frame(i), to: compositor, keyframe: keyframeDue, losingFirstPacket: i == 3)
            keyframeDue = false
            if compositor.compose(now: t0 + .milliseconds(66 * i)).keyframeRequests == ["chair"] {
                requestedAt.append(i)
                keyframeDue = true
            }
        }
        let c = compositor.counters
        #expect(requestedAt.count == 1, "one request after the loss: \(requestedAt)")
        #expect(c.incompleteFrames >= 1)
        #expect(c.framesWithoutReference >= 1, "inter frames after the loss are not decoded")
        // A frame whose only packet was lost is never seen at all: 29 or 30 frames accounted for.
        #expect(c.decodes + c.incompleteFrames + c.framesWithoutReference >= 29)
        #expect(c.decodes >= 30 - 12, "decoding resumes at the requested keyframe")
    }

    @Test("keyframe requests are served at once, then no more than one per minimum interval")
    func keyframeThrottling() throws {
        let compositor = try VideoCompositor(settings: Self.settings())
        let t0 = ContinuousClock.now
        var keyframes: [Int] = []
        for i in 0..<45 {
            if [3, 5, 8, 30].contains(i) { compositor.requestKeyframe() }
            let out = compositor.compose(now: t0 + .milliseconds(66 * i))
            if out.frame?.isKeyframe == true { keyframes.append(i) }
        }
        // 0: the first frame. Requests at 3, 5, 8 (200–530 ms) wait for 1 s after it: frame 16
        // (1056 ms). The request at 30 (1980 ms) waits for 1 s after that: frame 32 (2112 ms).
        #expect(keyframes == [0, 16, 32])
        #expect(compositor.counters.keyframeRequests == 4)
        #expect(compositor.counters.keyframeRequestsThrottled == 4)
    }

    @Test("the throttle merges requests and waits out the interval")
    func throttle() {
        var t = KeyframeThrottle(minimumInterval: .seconds(1))
        let t0 = ContinuousClock.now
        #expect(!t.isDue(now: t0))
        t.request(now: t0)
        #expect(t.isDue(now: t0))
        t.keyframeSent(now: t0)
        t.request(now: t0 + .milliseconds(300))
        t.request(now: t0 + .milliseconds(400))
        #expect(!t.isDue(now: t0 + .milliseconds(999)))
        #expect(t.isDue(now: t0 + .seconds(1)))
        #expect(t.throttled == 2)
    }

    @Test("a rectangle fits a source's aspect ratio, centred, with even edges")
    func fitting() {
        let canvas = PictureRect(x: 0, y: 0, width: 640, height: 360)
        #expect(canvas.fitting(sourceWidth: 1280, sourceHeight: 720) == canvas)
        #expect(canvas.fitting(sourceWidth: 640, sourceHeight: 480) == PictureRect(x: 80, y: 0, width: 480, height: 360))
        #expect(canvas.fitting(sourceWidth: 720, sourceHeight: 180) == PictureRect(x: 0, y: 100, width: 640, height: 160))
    }
}
