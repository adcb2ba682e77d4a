@testable import GiaobanServer
import Testing

/// The recording timeline (docs/recording.md, "Timeline"): tracks mapped through the sender's
/// reports to its wall clock, or counted from arrival.
@Suite("Recording: the timeline of a participant's file")
struct RecordingTimelineTests {
    /// NTP time of `milliseconds` since an arbitrary epoch second (RFC 5905 32.32).
    static func ntp(_ milliseconds: Int64) -> UInt64 {
        let seconds = UInt64(3_000_000_000 + milliseconds / 1000)
        return seconds << 32 | UInt64((milliseconds % 1000) << 32 / 1000)
    }

    @Test("sender reports put audio and video on the sender's clock whatever their RTP bases and arrival")
    func byReports() {
        // The sender's audio RTP 1000 and video RTP 4_294_000_000 (about to wrap) both at wall time 10 000 ms.
        let audioBase: UInt32 = 1000, videoBase: UInt32 = 4_294_000_000
        let firstAudio = audioBase &+ 48 * 20     // captured at 10 020 ms
        let firstVideo = videoBase &+ 90 * 60     // captured at 10 060 ms
        var line = Timeline(audioReport: (Self.ntp(10_000), audioBase), videoReport: (Self.ntp(10_000), videoBase),
                            firstAudio: firstAudio, firstVideo: firstVideo)
        let late = ContinuousClock.now + .milliseconds(300)  // arrival plays no part
        #expect(line.audio(firstAudio, arrival: .now) == 0)
        #expect(line.video(firstVideo, arrival: late) == 40)
        // One second later on both clocks, the video across the 32-bit wrap.
        #expect(line.video(firstVideo &+ 90_000, arrival: late) == 1040)
        #expect(line.audio(firstAudio &+ 48_000, arrival: .now) == 1000)
        // A beep and a flash captured together land on the same millisecond.
        let together: Int64 = 5_000
        #expect(line.audio(audioBase &+ UInt32(48 * together), arrival: .now) == line.video(videoBase &+ UInt32(90 * together), arrival: late))
    }

    @Test("the video's report a little later than the audio's: the difference is the sender's, not the network's")
    func reportsAtDifferentTimes() {
        var line = Timeline(audioReport: (Self.ntp(20_000), 0), videoReport: (Self.ntp(20_500), 90_000),
                            firstAudio: 48 * 100, firstVideo: 90_000)
        // Audio at 20 100 ms, video at 20 500 ms.
        #expect(line.audio(48 * 100, arrival: .now) == 0)
        #expect(line.video(90_000, arrival: .now) == 400)
    }

    @Test("without reports each track starts where its first packet arrived after the origin")
    func byArrival() {
        let origin = ContinuousClock.now
        var line = Timeline(origin: origin)
        #expect(line.audio(7_000, arrival: origin) == 0)
        #expect(line.video(123, arrival: origin + .milliseconds(300)) == 300)
        #expect(line.video(123 &+ 9_000, arrival: origin + .milliseconds(900)) == 400)
        #expect(line.audio(7_000 &+ 4_800, arrival: origin + .seconds(5)) == 100)
    }
}
