@testable import GiaobanEngine
import Testing

@Suite("A simulcast layer's measured bit rate")
struct VideoLayerTests {
    @Test("bytes received before the first window opened do not count: a late first subscriber sees the real rate")
    func firstWindowStartsEmpty() {
        let layer = VideoLayer(rid: "l", ssrc: 1, cacheSize: 8, cacheBytes: 8 * 1500)
        let start = ContinuousClock.now
        layer.meterBytes = 600_000  // a minute of a 80 kbit/s layer before anyone subscribed
        layer.updateBitrate(now: start)
        #expect(layer.bitrate == 0)
        layer.meterBytes += 9_375  // 150 kbit/s for half a second
        layer.updateBitrate(now: start + .milliseconds(500))
        #expect(abs(layer.bitrate - 150_000) <= 1_500, "\(layer.bitrate)")
        layer.meterBytes += 9_375
        layer.updateBitrate(now: start + .milliseconds(1000))
        #expect(abs(layer.bitrate - 150_000) <= 1_500, "\(layer.bitrate)")
    }
}
