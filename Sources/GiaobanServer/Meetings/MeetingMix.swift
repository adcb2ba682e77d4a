import GiaobanEngine
import GiaobanMixer
import Synchronization


/// One meeting's audio mix for its participants in mixed mode (docs/mixing.md): the relay
/// copies every participant's Opus to the `AudioMixer` on the media thread; a `MixerClock`
/// ticks every 20 ms on its own thread and posts the encoded mixes back to the media thread,
/// which sends each listener its mix-minus on the receiving session it opened on `stream`.
final class MeetingMix: Sendable {
    let mixer: AudioMixer
    let clock: MixerClock
    /// The local stream listeners subscribe to.
    let stream: String
    /// Listener (the participant's own stream name) → the media peer of its mix session.
    let peers: ListenerPeers

    /// The local stream of meeting `id`'s mix; `~` cannot appear in a participant's stream.
    static func stream(meeting id: Int64) -> String { "m\(id)~mix" }

    init(meeting id: Int64, speakers: Int, media: MediaServer) throws {
        var settings = AudioMixer.Settings()
        settings.speakers = max(1, speakers)
        let mixer = try AudioMixer(settings: settings)
        let peers = ListenerPeers()
        self.mixer = mixer
        self.peers = peers
        stream = Self.stream(meeting: id)
        clock = MixerClock(mixer: mixer) { output in
            let targets = peers.map.withLock { $0 }
            guard !targets.isEmpty, !output.listeners.isEmpty else { return }
            media.post { router, now, out in
                for packet in output.listeners {
                    guard let peer = targets[packet.listener] else { continue }
                    output.mixes[packet.mix].payload.withUnsafeBytes {
                        _ = router.sendLocal(to: peer, kind: .audio, payload: $0, sequence: packet.sequenceNumber,
                                             timestamp: packet.timestamp, marker: packet.marker, now: now, out: out)
                    }
                }
            }
        }
    }

    /// The tracks a listener's receiving session negotiates: Opus only.
    static let tracks = Negotiation.PublishedTracks(
        audio: PeerSetup.Track(kind: .audio, payloadType: 111, codec: "opus", clockRate: 48_000, ssrc: 0), video: nil)
}

/// Which media peer receives each listener's mix; shared with the mixer's clock thread.
final class ListenerPeers: Sendable {
    let map = Mutex<[String: String]>([:])
}
