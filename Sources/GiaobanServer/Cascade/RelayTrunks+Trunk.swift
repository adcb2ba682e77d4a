import Foundation
import GiaobanClient
import GiaobanEngine
import GiaobanRTP
import GiaobanTransport
import GiaobanWire
import Synchronization

extension RelayTrunks {
    /// One stream pulled from the parent. Each simulcast layer comes over a connection of its
    /// own (a `Link`, on its own thread): a WHEP session on the parent pinned to that layer
    /// (`?layer=<rank>`). Layer 0's link carries the audio too, declares the local publisher and
    /// decides which other layers are pulled (their offers are video only): a layer is pulled while some watcher here can take
    /// it (the highest REMB among them reaches the layer's bit rate, or one sends none), and let
    /// go 5 s after none can. Every layer's packets are renumbered to an SSRC fixed for the
    /// trunk's life, so the local publisher's layers stay the same across reconnections.
    final class Trunk: Sendable {
        enum Readiness: Equatable { case waiting, ready, refused }

        let stream: String
        /// Where the stream comes from now (looked up again before each reconnection: the
        /// publisher may have moved to another node, and a signed bearer is renewed).
        private let current: Mutex<Source>
        var source: Source { current.withLock { $0 } }
        /// Strong: a link's thread may still be winding down after the server let go of the
        /// trunks at shutdown (the cycle ends when the trunk leaves `trunks`).
        let owner: RelayTrunks
        /// The SSRC of each layer here (the local publisher's layers).
        let layerSSRCs: [UInt32]
        /// The id of the local publisher this trunk feeds.
        let peer: String
        private let control = Mutex(Control())

        private struct Control {
            var stopped = false
            var readiness = Readiness.waiting
            var lastWatched = ContinuousClock.now
            var state = State(state: "connecting", packets: 0, nacked: 0, keyframeRequests: 0, reconnects: 0, layers: 0)
            /// The links running, by layer rank (0: the base, always there while the trunk runs).
            var links: [Int: Link] = [:]
            /// Since when no watcher here can take a pulled layer, by rank.
            var unwantedSince: [Int: ContinuousClock.Instant] = [:]
            /// When the parent last refused a layer or sent nothing of it (it sends fewer layers,
            /// or the session limit is reached there): not asked again for a while.
            var refusedAt: [Int: ContinuousClock.Instant] = [:]
            /// The bit rate last measured here of each layer pulled before, by rank (taken only
            /// while the layer's packets arrive: the figure of a layer let go decays to nothing).
            var measured: [Int: Int] = [:]
        }

        /// How long a layer nobody here can take is still pulled.
        static let letGo = Duration.seconds(5)

        init(stream: String, source: Source, owner: RelayTrunks) {
            self.stream = stream
            current = Mutex(source)
            self.owner = owner
            var ssrcs: [UInt32] = []
            while ssrcs.count < RelaySessions.maxLayers {
                let ssrc = UInt32.random(in: 1...UInt32.max)
                if !ssrcs.contains(ssrc) { ssrcs.append(ssrc) }
            }
            layerSSRCs = ssrcs
            peer = RelayTrunks.peerID(stream)
        }

        var isStopped: Bool { control.withLock { $0.stopped } }
        var readiness: Readiness { control.withLock { $0.readiness } }
        var lastWatched: ContinuousClock.Instant { control.withLock { $0.lastWatched } }
        var state: State { control.withLock { $0.state } }
        func watched() { control.withLock { $0.lastWatched = .now } }
        func stop() {
            let links = control.withLock { c -> [Link] in
                c.stopped = true
                return Array(c.links.values)
            }
            for link in links { link.stop() }
        }

        /// A local watcher needs a keyframe of layer `index`: that layer's link sends a PLI up
        /// (the base link when no layer is chosen yet).
        func wantKeyframe(layer index: Int) {
            let link = control.withLock { c in c.links[index] ?? c.links[0] }
            link?.wantKeyframe()
        }

        func start() { startLink(rank: 0) }

        private func startLink(rank: Int) {
            let link = Link(rank: rank)
            let started = control.withLock { c -> Bool in
                guard !c.stopped, c.links[rank] == nil else { return false }
                c.links[rank] = link
                return true
            }
            guard started else { return }
            let thread = Thread { [self] in
                ThreadName.set("trunk")
                run(link)
                control.withLock { c in
                    if c.links[rank] === link { c.links[rank] = nil }
                    if rank == 0 { c.stopped = true }
                }
            }
            thread.name = "trunk"
            thread.start()
        }

        private func update(_ change: (inout State) -> Void) { control.withLock { change(&$0.state) } }

        /// Starts the layers some watcher here can take, lets go of those none could for `letGo`.
        /// `parentBitrates`: each layer's bit rate on the parent (from its answer), lowest first.
        func adjustLayers(_ demand: MediaRouter.TrunkDemand, parentBitrates: [Int], now: ContinuousClock.Instant) {
            var starting: [Int] = []
            var stopping: [Link] = []
            control.withLock { c in
                for (rank, bitrate) in demand.layerBitrates.enumerated() where bitrate > 0 {
                    if c.links[rank]?.receivedRecently(now: now) == true { c.measured[rank] = bitrate }
                }
                for rank in 1..<RelaySessions.maxLayers {
                    let wanted = Self.wants(rank: rank, demand: demand, parentBitrates: parentBitrates, measured: c.measured[rank])
                    if wanted {
                        c.unwantedSince[rank] = nil
                        let refused = c.refusedAt[rank].map { now - $0 < .seconds(10) } ?? false
                        if c.links[rank] == nil && !refused { starting.append(rank) }
                    } else if let link = c.links[rank] {
                        let since = c.unwantedSince[rank] ?? now
                        c.unwantedSince[rank] = since
                        if now - since >= Self.letGo || rank >= parentBitrates.count {
                            stopping.append(link)
                            c.links[rank] = nil
                            c.unwantedSince[rank] = nil
                        }
                    }
                }
            }
            for link in stopping {
                link.stop()
                owner.logger.info("trunk layer let go: no watcher here takes it", metadata: ["stream": "\(stream)", "layer": "\(link.rank)"])
            }
            for rank in starting {
                owner.logger.info("trunk layer pulled: a watcher here takes it", metadata: ["stream": "\(stream)", "layer": "\(rank)"])
                startLink(rank: rank)
            }
        }

        /// Whether layer `rank` (above the lowest) should be pulled: the stream has it, someone
        /// here watches, and the highest REMB among the watchers reaches what the layer carries
        /// (or one of them sends none). What it carries: as last measured here (`measured`, kept
        /// after the layer was let go, so a parent's figure taken before its publisher was
        /// measured cannot make the layer come and go), else the parent's figure.
        static func wants(rank: Int, demand: MediaRouter.TrunkDemand, parentBitrates: [Int], measured: Int?) -> Bool {
            guard rank > 0, rank < parentBitrates.count, demand.watched else { return rank == 0 }
            guard let cap = demand.cap else { return true }
            return cap >= (measured ?? parentBitrates[rank])
        }

        /// Connects one link, relays, and reconnects until it or the trunk is stopped.
        private func run(_ link: Link) {
            let base = link.rank == 0
            var backoff = Duration.seconds(1)
            var everConnected = false
            var attempts = 0
            while !isStopped && !link.isStopped {
                attempts += 1
                if attempts > 1, let found = owner.locateNow(stream) { current.withLock { $0 = found } }
                let source = self.source
                do throws(ClientError) {
                    let whip = try WHIPClient(baseURL: source.url, token: source.bearer, caFile: source.caFile)
                    let (connection, session) = try ClientConnection.join(whip, stream: stream, mode: .watch, context: owner.context,
                                                                          host: owner.bindAddress, layer: link.rank, audio: base)
                    defer {
                        connection.close()
                        try? whip.end(session)
                    }
                    let layers = max(1, min(session.layerBitrates?.count ?? 1, RelaySessions.maxLayers))
                    if base {
                        owner.media.enqueue(.addPeer(Self.setup(peer: peer, stream: stream, answer: session.answer,
                                                                layerSSRCs: Array(layerSSRCs.prefix(layers)))))
                        owner.media.enqueue(.setUpstream(stream: stream, keyframeRequested: { [weak self] layer in
                            self?.wantKeyframe(layer: layer)
                        }))
                        control.withLock { c in
                            c.readiness = .ready
                            c.state.state = "connected"
                            if everConnected { c.state.reconnects += 1 }
                        }
                        owner.logger.notice(everConnected ? "trunk re-established" : "trunk connected", metadata: [
                            "stream": "\(stream)", "from": "\(source.url)", "path": "\(connection.pathDescription)", "layers": "\(layers)"])
                    }
                    link.wantKeyframe()  // a fresh link (or one back after a break) starts at a keyframe
                    update { $0.layers += 1 }
                    everConnected = true
                    backoff = .seconds(1)
                    let received = relay(connection, session: session, link: link, peer: peer)
                    update { $0.layers -= 1 }
                    if !base && !received && !link.isStopped {
                        // Pinned to a layer the publisher declared but does not send: asked again later.
                        control.withLock { $0.refusedAt[link.rank] = .now }
                        owner.logger.info("trunk layer not sent by the parent's publisher", metadata: [
                            "stream": "\(stream)", "layer": "\(link.rank)"])
                        break
                    }
                    if base { update { $0.state = "retrying" } }
                    backoff = .milliseconds(500)  // first retry soon after a break
                    if !isStopped && !link.isStopped {
                        owner.logger.warning("trunk broken: reconnecting", metadata: [
                            "stream": "\(stream)", "layer": "\(link.rank)",
                            "reason": "\(connection.peer.failure.map { "\($0)" } ?? "the parent stopped sending")"])
                    }
                } catch {
                    // The parent's 404: nobody publishes the stream there, or not that many layers.
                    let refused = error.reason == .rejected && error.message.contains(": 404 ")
                    if !base && (refused || error.message.contains(": 429 ")) {
                        // A higher layer the parent does not have, or one session too many there:
                        // the lower layers go on, this one is asked again later.
                        control.withLock { $0.refusedAt[link.rank] = .now }
                        owner.logger.info("trunk layer refused by the parent", metadata: [
                            "stream": "\(stream)", "layer": "\(link.rank)", "error": "\(error)"])
                        break
                    }
                    control.withLock { c in
                        if !everConnected && refused { c.readiness = .refused }
                        if base { c.state.state = "retrying" }
                    }
                    if base && !everConnected && refused {
                        owner.logger.info("the parent has no such stream", metadata: ["stream": "\(stream)", "from": "\(source.url)"])
                        break
                    }
                    owner.logger.warning("trunk cannot connect", metadata: [
                        "stream": "\(stream)", "layer": "\(link.rank)", "from": "\(source.url)", "error": "\(error)", "retry_in": "\(backoff)"])
                }
                let until = ContinuousClock.now + backoff
                while !isStopped && !link.isStopped && ContinuousClock.now < until { Thread.sleep(forTimeInterval: 0.05) }
                backoff = min(max(backoff * 2, .seconds(1)), .seconds(10))
            }
            if base {
                stop()
                owner.media.enqueue(.removePeer(id: peer, reason: "the trunk from the parent closed"))
            }
        }

        /// Hands the parent's packets to the local publisher until the connection fails, the
        /// parent goes quiet for 2 s (a live stream never does; a layer the publisher stopped
        /// sending is let go), or the link is stopped. Video is renumbered to the layer's SSRC
        /// here; audio comes on the base link only. Returns whether any packet came.
        @discardableResult
        private func relay(_ connection: ClientConnection, session: WHIPSession, link: Link, peer: String) -> Bool {
            let answer = session.answer
            var nacks = NACKScheduler()
            var lastPLI: ContinuousClock.Instant?
            var lastPacket = ContinuousClock.now
            var received = false
            var batch: [[UInt8]] = []
            var reports: [[UInt8]] = []
            var scratch = [UInt8](repeating: 0, count: 1500)
            let senderSSRC = UInt32.random(in: 1...UInt32.max)
            let videoSSRC = answer.video?.ssrc ?? 0
            let audioSSRC = answer.audio?.ssrc ?? 0
            let localSSRC = layerSSRCs[link.rank]
            let base = link.rank == 0
            let media = owner.media
            var nextDemand = ContinuousClock.now + .milliseconds(500)
            let demand = Mutex<MediaRouter.TrunkDemand?>(nil)
            /// Builds an RTCP message and sends it up to the parent; whether it went.
            func sendUp(_ build: (UnsafeMutableRawBufferPointer) throws(WireError) -> Int) -> Bool {
                scratch.withUnsafeMutableBytes { connection.sendRTCP(scratch: $0, build) } > 0
            }
            while !isStopped && !link.isStopped && connection.peer.state == .connected {
                let now = ContinuousClock.now
                connection.poll(timeoutMilliseconds: 20) { incoming, datagram in
                    let bytes: UnsafeRawBufferPointer
                    switch incoming {
                    case .rtcp(let length):
                        // The parent's sender reports: the child's watchers get the same NTP↔RTP pairs.
                        bytes = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(datagram)[0..<length])
                        guard bytes.count >= 8, bytes[1] == 200 else { return }
                        let ssrc = bytes.u32(at: 4)
                        if ssrc == videoSSRC && videoSSRC != 0 {
                            var report = Array(bytes)
                            report.withUnsafeMutableBytes { $0.setU32(localSSRC, at: 4) }
                            reports.append(report)
                        } else if base {
                            reports.append(Array(bytes))
                        }
                        return
                    case .rtp(let length):
                        bytes = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(datagram)[0..<length])
                    default:
                        return
                    }
                    guard let packet = try? RTPPacketView(bytes) else { return }
                    if videoSSRC != 0 && packet.ssrc == videoSSRC {
                        _ = nacks.received(packet.sequenceNumber, now: now)
                        var renumbered = Array(bytes)
                        renumbered.withUnsafeMutableBytes { $0.setU32(localSSRC, at: 8) }
                        batch.append(renumbered)
                    } else if base && packet.ssrc == audioSSRC {
                        batch.append(Array(bytes))
                    }
                }
                connection.handleTimers()
                if !batch.isEmpty {
                    lastPacket = now
                    received = true
                    link.received(now: now)
                    let (packets, compounds) = (batch, reports)
                    batch.removeAll(keepingCapacity: true)
                    reports.removeAll(keepingCapacity: true)
                    update { $0.packets += packets.count }
                    media.post { router, now, out in
                        for packet in packets { packet.withUnsafeBytes { router.injectRTP($0, peer: peer, now: now, out: out) } }
                        for compound in compounds { compound.withUnsafeBytes { router.injectRTCP($0, peer: peer, now: now, out: out) } }
                    }
                } else if now - lastPacket > .seconds(2) {
                    return received
                }
                var lost: [UInt16] = []
                let givenUp = nacks.due(now: now, roundTrip: connection.peer.roundTripTime) { lost.append($0) }
                if !lost.isEmpty {
                    let nack = GenericNACKBuilder(senderSSRC: senderSSRC, mediaSSRC: videoSSRC, lost: lost)
                    if sendUp({ out throws(WireError) in try nack.marshal(into: out) }) { update { $0.nacked += lost.count } }
                }
                // The base link decides which other layers are pulled, from what the watchers here take.
                if base, videoSSRC != 0, now >= nextDemand {
                    nextDemand = now + .milliseconds(500)
                    let stream = stream
                    media.post { router, _, _ in demand.withLock { $0 = router.trunkDemand(stream: stream) } }
                    if let wanted = demand.withLock({ $0 }) {
                        adjustLayers(wanted, parentBitrates: session.layerBitrates ?? [], now: now)
                    }
                }
                if link.takeKeyframeWanted(givenUp: givenUp > 0), videoSSRC != 0 {
                    if lastPLI.map({ now - $0 >= .milliseconds(300) }) ?? true {
                        lastPLI = now
                        let pli = PictureLossIndication(senderSSRC: senderSSRC, mediaSSRC: videoSSRC)
                        if sendUp({ out throws(WireError) in try pli.marshal(into: out) }) { update { $0.keyframeRequests += 1 } }
                    } else {
                        link.wantKeyframe()  // asked again once the interval has passed
                    }
                }
            }
            return received
        }

        /// The local publisher a trunk feeds: the tracks the parent's answer announced, its video
        /// layers on `layerSSRCs` (one per layer pulled or pullable).
        static func setup(peer: String, stream: String, answer: RelayAnswer, layerSSRCs: [UInt32]) -> PeerSetup {
            var setup = PeerSetup.localPublisher(
                id: peer, stream: stream,
                audio: answer.audio.map { PeerSetup.Track(kind: .audio, payloadType: $0.payloadType, codec: $0.codec, clockRate: 48_000, ssrc: 0) },
                video: answer.video.map {
                    PeerSetup.Track(kind: .video, payloadType: $0.payloadType, codec: $0.codec.uppercased(), clockRate: 90_000,
                                    ssrc: layerSSRCs.first ?? 0)
                })
            setup.audioLevelExtensionID = answer.audioLevelExtensionID
            setup.layerSSRCs = layerSSRCs
            return setup
        }
    }

    /// One connection of a trunk: the WHEP session that carries one layer.
    final class Link: Sendable {
        /// The layer's rank on the parent (0 the lowest).
        let rank: Int
        private let control = Mutex((stopped: false, keyframeWanted: false, lastPacket: ContinuousClock.Instant?.none))

        init(rank: Int) { self.rank = rank }

        var isStopped: Bool { control.withLock { $0.stopped } }
        func stop() { control.withLock { $0.stopped = true } }
        func wantKeyframe() { control.withLock { $0.keyframeWanted = true } }
        /// Packets of the layer arrived at `now`.
        func received(now: ContinuousClock.Instant) { control.withLock { $0.lastPacket = now } }
        /// Whether packets of the layer arrived in the last second.
        func receivedRecently(now: ContinuousClock.Instant) -> Bool {
            control.withLock { $0.lastPacket.map { now - $0 < .seconds(1) } ?? false }
        }
        /// Whether a PLI is due now (asked for, or a NACK given up), clearing the request.
        func takeKeyframeWanted(givenUp: Bool) -> Bool {
            control.withLock { c in
                defer { c.keyframeWanted = false }
                return c.keyframeWanted || givenUp
            }
        }
    }
}
