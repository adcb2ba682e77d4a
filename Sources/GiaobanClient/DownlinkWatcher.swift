public import GiaobanCodecs
import GiaobanWire
import GiaobanRTP

/// Receives a meeting's downlink: one connection carrying every watched participant's audio
/// and video, each with its own SSRC (docs/protocol.md, "One connection down"). Packets are
/// told apart by SSRC (every audio track has the same payload type) and handed to one
/// `EndpointWatcher` per stream, which decodes, reports, NACKs and asks for keyframes about
/// its own SSRCs; the transport-wide feedback and REMB are about the whole connection and are
/// sent here, once.
public final class DownlinkWatcher {
    /// The connection to the relay.
    public let connection: ClientConnection
    /// One watcher per stream received.
    public private(set) var watchers: [String: EndpointWatcher] = [:]
    /// Whose each stream is (from the offer's `tracks`).
    public private(set) var participants: [String: String] = [:]
    /// RTP packets with an SSRC no offered track has (a track just removed, or stray).
    public private(set) var packetsUnknown = 0
    /// Tracks applied from offers so far.
    public private(set) var offersApplied = 0
    /// A receive bandwidth in bit/s announced as REMB every 250 ms (nil: none).
    public var bandwidthCap: Int?
    private var bySSRC: [UInt32: EndpointWatcher] = [:]
    private var tracks: [String: [DownlinkOffer.Track]] = [:]
    private var transportFeedback = TransportFeedbackRecorder()
    private var nextTransportFeedback = ContinuousClock.now
    private var nextEstimate = ContinuousClock.now
    private let start = ContinuousClock.now
    private let senderSSRC = UInt32.random(in: 1...UInt32.max)
    private var rtcpOut = [UInt8](repeating: 0, count: 1500)

    /// A downlink on `connection`, receiving nothing until `apply`.
    public init(connection: ClientConnection) {
        self.connection = connection
    }

    /// Takes the tracks of an offer (with `participants`: whose each stream is): a watcher for
    /// each new stream, none any more for a stream gone; a stream whose SSRCs changed starts
    /// over. Returns the watchers removed, by participant, so their counts can be kept.
    @discardableResult
    public func apply(_ offered: [DownlinkOffer.Track], participants: [String: String]) throws(CodecError) -> [(String, EndpointWatcher)] {
        var byStream: [String: [DownlinkOffer.Track]] = [:]
        for track in offered { byStream[track.stream, default: []].append(track) }
        var removed: [(String, EndpointWatcher)] = []
        for (stream, watcher) in watchers where byStream[stream] != tracks[stream] {
            watchers.removeValue(forKey: stream)
            removed.append((self.participants[stream] ?? stream, watcher))
        }
        for (stream, streamTracks) in byStream where watchers[stream] == nil {
            let audio = streamTracks.first { $0.kind == "audio" }, video = streamTracks.first { $0.kind == "video" }
            let watcher = try EndpointWatcher(connection: connection, audioPayloadType: audio?.payloadType,
                                              videoPayloadType: video?.payloadType,
                                              videoCodec: video?.codec.uppercased() == "VP9" ? .vp9 : .vp8)
            watcher.transportWide = false
            watcher.videoSSRC = video?.ssrc ?? 0
            watcher.audioSSRC = audio?.ssrc ?? 0
            watchers[stream] = watcher
        }
        tracks = byStream
        self.participants = participants
        bySSRC = [:]
        for (stream, streamTracks) in byStream {
            for track in streamTracks { bySSRC[track.ssrc] = watchers[stream] }
        }
        offersApplied += 1
        return removed
    }

    /// Waits up to `maxWaitMilliseconds` for media, hands each packet to its stream's watcher,
    /// releases what is due and sends the feedback that is due.
    public func step(maxWaitMilliseconds: Int32) {
        connection.poll(timeoutMilliseconds: maxWaitMilliseconds) { incoming, datagram in
            switch incoming {
            case .rtp(let length):
                guard let packet = try? RTPPacketView(UnsafeRawBufferPointer(rebasing: datagram[0..<length])) else { return }
                if let element = packet.extensions.element(id: ClientOffer.transportCCExtensionID), element.data.count >= 2 {
                    let arrival = ContinuousClock.now - start
                    transportFeedback.record(sequence: element.data.u16(at: 0),
                                             arrival: arrival.components.seconds * 1_000_000 + arrival.components.attoseconds / 1_000_000_000_000)
                }
                guard let watcher = bySSRC[packet.ssrc] else {
                    packetsUnknown += 1
                    return
                }
                watcher.receive(packet, length: length)
            case .rtcp(let length):
                let bytes = UnsafeRawBufferPointer(rebasing: datagram[0..<length])
                for watcher in watchers.values { watcher.handleRTCP(bytes) }
            default:
                break
            }
        }
        let now = ContinuousClock.now
        for watcher in watchers.values { watcher.pump(now: now) }
        sendFeedback(now: now)
        connection.handleTimers()
    }

    /// Transport-wide feedback every 100 ms, REMB every 250 ms when capped.
    private func sendFeedback(now: ContinuousClock.Instant) {
        let media = bySSRC.keys.min() ?? 0
        if now >= nextTransportFeedback, transportFeedback.hasPending,
           let feedback = transportFeedback.makeFeedback(senderSSRC: senderSSRC, mediaSSRC: media) {
            nextTransportFeedback = now + .milliseconds(100)
            _ = rtcpOut.withUnsafeMutableBytes { buffer in
                connection.sendRTCP(scratch: buffer) { out throws(WireError) in try feedback.marshal(into: out) }
            }
        }
        if let cap = bandwidthCap, !bySSRC.isEmpty, now >= nextEstimate {
            nextEstimate = now + .milliseconds(250)
            let remb = ReceiverEstimatedMaxBitrateBuilder(senderSSRC: senderSSRC, bitrate: UInt64(max(0, cap)), ssrcs: Array(bySSRC.keys.sorted()))
            _ = rtcpOut.withUnsafeMutableBytes { buffer in
                connection.sendRTCP(scratch: buffer) { out throws(WireError) in try remb.marshal(into: out) }
            }
        }
    }
}
