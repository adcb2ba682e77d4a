import GiaobanClient
import GiaobanCodecs
import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
import GiaobanWire
import Testing

@Suite("Room endpoint parts: RFC 6464 levels, the audio level in offer and answer, watch policy")
struct RoomClientPartsTests {
    @Test("a frame's level is its RMS in −dBov (0 dBov: a full-scale square wave), 127 and no voice for silence")
    func levels() {
        let silence = AudioLevelExtension(measuring: [Int16](repeating: 0, count: 960))
        #expect(silence == AudioLevelExtension(level: 127, voiceActivity: false))
        for dBov in [-3.0, -10, -20, -40, -55] {
            var tone = ToneGenerator(frequency: 440, dBov: dBov)
            let level = AudioLevelExtension(measuring: tone.nextFrame())
            #expect(abs(Int(level.level) + Int(dBov)) <= 1, "\(dBov) dBov measured as −\(level.level)")
            #expect(level.voiceActivity)
        }
        var faint = ToneGenerator(frequency: 440, dBov: -80)
        #expect(AudioLevelExtension(measuring: faint.nextFrame()).voiceActivity == false, "below −60 dBov is not voice")
        var none = ToneGenerator(frequency: 440, dBov: -127)
        #expect(none.nextFrame().allSatisfy { $0 == 0 }, "−127 dBov is digital silence")
    }

    @Test("publisher and watcher offer the audio level extension; the relay accepts it and the client reads its ID")
    func negotiated() async throws {
        let context = try DTLSContext(certificate: DTLSCertificate())
        let publish = ClientOffer(mode: .publish(audioSSRC: 1, videoSSRC: 2), ice: .random(), fingerprint: context.fingerprint,
                                  host: "127.0.0.1", port: 5000)
        #expect(publish.sdp.contains("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"))
        let watch = ClientOffer(mode: .watch, ice: .random(), fingerprint: context.fingerprint, host: "127.0.0.1", port: 5001)
        #expect(watch.sdp.contains("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"), "a watcher reads a mix's level")
        let relay = try RelayFixture()
        let answer = try await relay.answer(publish, role: .publisher, stream: "lvl", id: "pub")
        #expect(answer.audioLevelExtensionID == ClientOffer.audioLevelExtensionID)
        var settings = EndpointPublisher.Settings(audioSSRC: 1, videoSSRC: 2)
        settings.accept(answer)
        #expect(settings.audioLevelExtensionID == 1)
        await relay.media.shutdown()
    }

    @Test("the watch policy picks publishing participants: chair, speaker, everyone or named, never ourselves")
    func watchPolicy() throws {
        func entry(_ subject: String, _ role: String, publishing: Bool = true) -> RoomParticipant {
            RoomParticipant(subject: subject, role: role, audioMuted: false, mutedByChair: false, hand: false,
                            publishing: publishing, stream: "m1-\(subject)", joinedAt: 0)
        }
        var view = RoomView()
        view.you = "xa-a"
        view.participants = [entry("officer", "chair"), entry("xa-a", "commune"), entry("xa-b", "commune"),
                             entry("xa-c", "commune"), entry("xa-d", "commune", publishing: false)]
        view.speaker = "xa-b"
        #expect(WatchPolicy().participants(in: view) == ["officer", "xa-b"])
        #expect(try #require(WatchPolicy(parsing: "chair")).participants(in: view) == ["officer"])
        #expect(try #require(WatchPolicy(parsing: "speaker")).participants(in: view) == ["xa-b"])
        #expect(try #require(WatchPolicy(parsing: "all")).participants(in: view) == ["officer", "xa-b", "xa-c"])
        #expect(try #require(WatchPolicy(parsing: "none")).participants(in: view).isEmpty)
        #expect(try #require(WatchPolicy(parsing: "xa-c, xa-d")).participants(in: view) == ["xa-c"], "xa-d does not publish")
        view.speaker = "xa-a"
        #expect(WatchPolicy().participants(in: view) == ["officer"], "not ourselves when we speak")
        #expect(WatchPolicy(parsing: " , ") == nil)
    }
}
