import Foundation
import GiaobanCrypto
import GiaobanEngine
import GiaobanICE
import GiaobanWire
import GiaobanAuth
import GiaobanHub
import GiaobanRooms

/// One connection down (docs/protocol.md, "One connection down"): the relay offers each
/// participant one receiving peer connection with an m-line per watched track, and offers
/// again as tracks come and go; and ICE restarts of both connections.
extension MeetingRooms {
    /// A participant's downlink: the m-lines offered so far, the revision, and what the
    /// media plane was told.
    struct Downlink: Sendable {
        let session: String
        let peerID: String
        /// The o= session id of every offer of this downlink.
        let origin: UInt64
        /// Whom to watch: nil for every publisher.
        var watch: [String]?
        var lines = DownlinkNegotiation.initialLines()
        /// The latest offer's revision.
        var revision = 0
        /// An offer of the relay's own initiative is unanswered: changes wait for the answer.
        var awaiting = false
        /// Something changed while `awaiting`.
        var dirty = false
        var localICE = ICECredentials.random()
        /// The ICE ufrags (local, remote) the media plane uses, once the first answer arrived.
        var applied: (local: String, remote: String)?
        /// The client's DTLS fingerprint, from its first answer.
        var fingerprint: CertificateFingerprint?
        /// The mids the client's latest answer accepted.
        var accepted: Set<String> = []
        /// Simulcast caps per stream (layer rank).
        var caps: [String: Int] = [:]

        init(session: String) {
            self.session = session
            peerID = "downlink-\(session)"
            origin = UInt64.random(in: 1...(1 << 62))
        }
    }

    /// The room protocol's `offer` message.
    struct DownlinkOffer: Encodable {
        struct Track: Encodable {
            let mid: String
            let participant: String
            let stream: String
            let kind: String
        }
        let type = "offer"
        let session: String
        let revision: Int
        let sdp: String
        let tracks: [Track]
    }

    /// The `participant` of a meeting mix's tracks in an offer.
    static let mixParticipant = "mix"

    /// `downlink`: creates the participant's downlink (or changes whom it watches) and sends
    /// an offer with a fresh revision.
    func requestDownlink(watch: [String]?, meeting id: Int64, claims: TokenClaims) async -> String? {
        // A downlink whose connection the media plane removed (closed, consent expired) is replaced.
        let existing = withDownlinkRoom(id) { $0.downlinks[claims.sub] } ?? nil
        var fresh = existing == nil
        if let existing, existing.applied != nil {
            let alive = await sessions.media.ask(.hasPeer(existing.peerID))
            if !alive { fresh = true }
        }
        let present = withDownlinkRoom(id) { room -> Bool in
            guard room.downlinkSeats[claims.sub] != nil else { return false }
            if fresh { room.downlinks[claims.sub] = Downlink(session: SecureRandomID.make()) }
            room.downlinks[claims.sub]?.watch = watch
            return true
        }
        guard present == true else { return HubMessage.error("you are not in the room") }
        if fresh {
            logger.info("downlink created", metadata: ["meeting": "\(id)", "subject": "\(claims.sub)",
                                                       "watch": "\(watch.map { $0.joined(separator: ",") } ?? "all")"])
        }
        await offerDownlinks(meeting: id, subjects: [claims.sub], force: true)
        return nil
    }

    /// Offers again to every downlink of the room whose tracks changed (someone started or
    /// stopped publishing, joined or left). A downlink with an unanswered offer is marked and
    /// offered to right after its answer.
    func renegotiateDownlinks(_ id: Int64) async {
        let subjects = withDownlinkRoom(id) { Array($0.downlinks.keys) } ?? []
        guard !subjects.isEmpty else { return }
        await offerDownlinks(meeting: id, subjects: subjects, force: false)
    }

    /// Brings the downlinks of `subjects` to the room's current tracks and sends an offer to
    /// each that changed (every one with `force`; new ICE credentials with `restart`).
    func offerDownlinks(meeting id: Int64, subjects: [String], force: Bool, restart: Bool = false) async {
        // The tracks of everyone publishing, read from the media plane in one go.
        typealias Publisher = (subject: String, stream: String, joinedAt: Int64)
        let (publishers, mixStream) = withDownlinkRoom(id) { room -> ([Publisher], String?) in
            let publishers: [Publisher] = room.downlinkSeats.filter { $0.value.publishing != nil }
                .map { (subject: $0.key, stream: Self.stream(meeting: id, subject: $0.key), joinedAt: $0.value.joinedAt) }
                .sorted { ($0.joinedAt, $0.subject) < ($1.joinedAt, $1.subject) }
            return (publishers, room.mix?.stream)
        } ?? ([], nil)
        var read = await sessions.media.ask(.publishedTracks(streams: publishers.map(\.stream) + (mixStream.map { [$0] } ?? [])))
        let mixTracks = mixStream == nil ? nil : read.removeLast()
        let published = read
        var tracks: [(subject: String, stream: String, tracks: Negotiation.PublishedTracks)] = []
        for (publisher, found) in zip(publishers, published) {
            if let found { tracks.append((publisher.subject, publisher.stream, found)) }
        }
        // Mixed mode: the meeting's mix instead of everyone's streams (docs/mixing.md).
        let mix = mixStream.flatMap { stream in mixTracks.map { (subject: Self.mixParticipant, stream: stream, tracks: $0) } }
        let local = sessions.media.localTransport
        // Whose each stream is, for the offers' `tracks` (built once for every downlink).
        let bySubject = Dictionary((tracks + (mix.map { [$0] } ?? [])).map { ($0.stream, $0.subject) },
                                   uniquingKeysWith: { a, _ in a })
        var connected: [String] = []
        _ = withDownlinkRoom(id) { room in
            let seats = room.downlinkSeats
            let seated = Set(seats.keys.map { Self.stream(meeting: id, subject: $0) })
            for subject in subjects {
                guard var downlink = room.downlinks[subject] else { continue }
                // The caps of participants who left go with them.
                if downlink.caps.keys.contains(where: { !seated.contains($0) }) {
                    downlink.caps = downlink.caps.filter { seated.contains($0.key) }
                    room.downlinks[subject] = downlink
                }
                if downlink.awaiting && !force && !restart {
                    downlink.dirty = true
                    room.downlinks[subject] = downlink
                    continue
                }
                var wanted: [DownlinkNegotiation.Wanted] = []
                let mixed = seats[subject]?.mixed == true
                for (other, stream, published) in (mixed ? mix.map { [$0] } ?? [] : tracks) where other != subject {
                    if !mixed, let watch = downlink.watch, !watch.contains(other) { continue }
                    if published.audio != nil { wanted.append(.init(stream: stream, kind: .audio, codec: "opus")) }
                    if let video = published.video { wanted.append(.init(stream: stream, kind: .video, codec: video.codec)) }
                }
                // Mixed mode (read now) with no running mix in this reading (taken before `mode`
                // created or started it): the lines stay; `setMode` offers the mix once it runs.
                // Reconciling with nothing would offer no tracks, and that unanswered offer would
                // hold back the mix's until the client answered it.
                let mixPending = mixed && mix == nil
                let changed = !mixPending && DownlinkNegotiation.reconcile(&downlink.lines, wanted: wanted)
                guard changed || force || restart else { continue }
                if restart { downlink.localICE = ICECredentials.random() }
                downlink.revision += 1
                downlink.awaiting = true
                downlink.dirty = false
                let sdp = DownlinkNegotiation.offer(lines: downlink.lines, ice: downlink.localICE, local: local,
                                                    sessionID: downlink.origin, version: downlink.revision)
                let offered = downlink.lines.compactMap { line -> DownlinkOffer.Track? in
                    guard line.active, let stream = line.stream else { return nil }
                    return DownlinkOffer.Track(mid: line.mid, participant: bySubject[stream] ?? "", stream: stream, kind: line.kind.rawValue)
                }
                room.downlinks[subject] = downlink
                // Published inside the lock: offers reach the client in revision order.
                hub.events.publish(HubMessage.encode(DownlinkOffer(session: downlink.session, revision: downlink.revision,
                                                                   sdp: sdp.serialize(), tracks: offered)),
                                   to: Self.channel(id, subject))
                // Tracks no longer offered stop at once; new ones wait for the answer.
                if downlink.applied != nil { connected.append(subject) }
            }
        }
        guard !connected.isEmpty else { return }
        let subjects = connected
        await sessions.media.send(.setSubscriptions(.init { [self] in
            subjects.compactMap { subject in
                self.subscriptions(meeting: id, subject: subject, accepted: nil).map { .init(peer: $0.0, subscriptions: $0.1) }
            }
        }))
    }

    /// What a downlink's connection should receive now: the streams of its current lines that
    /// the client accepted (`accepted`, else its latest answer's). Read on the media thread,
    /// right where it is applied (`MediaCommand.LatestSubscriptions`), so an older offer or
    /// answer never undoes a newer one.
    func subscriptions(meeting id: Int64, subject: String, accepted: Set<String>?) -> (String, [MediaRouter.SubscriptionSetup])? {
        withDownlinkRoom(id) { room -> (String, [MediaRouter.SubscriptionSetup])? in
            guard let downlink = room.downlinks[subject] else { return nil }
            return (downlink.peerID, DownlinkNegotiation.subscriptions(lines: downlink.lines, accepted: accepted ?? downlink.accepted,
                                                                      caps: downlink.caps))
        } ?? nil
    }

    /// `answer`: the client's answer to a downlink offer. The first one creates the peer
    /// (ICE and DTLS start); later ones change the subscriptions, and restart ICE when the
    /// credentials changed.
    func answerDownlink(session: String, revision: Int, sdp: String, meeting id: Int64, claims: TokenClaims) async -> String? {
        guard let downlink = withDownlinkRoom(id, { $0.downlinks[claims.sub] }) ?? nil, downlink.session == session else {
            return HubMessage.error("no downlink session '\(session.prefix(64))' of yours")
        }
        if revision < downlink.revision { return nil }  // a newer offer is on its way
        guard revision == downlink.revision else { return HubMessage.error("no offer of revision \(revision) was sent") }
        let description: SessionDescription
        do { description = try SessionDescription(parsing: sdp) } catch {
            return HubMessage.error("malformed SDP answer: \(error)")
        }
        let answer: DownlinkNegotiation.Answer
        do { answer = try DownlinkNegotiation.read(answer: description, lines: downlink.lines) } catch {
            return HubMessage.error("cannot use the answer: \(error.message)")
        }
        if let known = downlink.fingerprint, known != answer.remoteFingerprint {
            return HubMessage.error("the answer changes the DTLS fingerprint: close this connection and send downlink for a new one")
        }
        let setup = DownlinkNegotiation.peerSetup(id: downlink.peerID, localICE: downlink.localICE, answer: answer)
        let ufrags = (local: downlink.localICE.ufrag, remote: answer.remoteICE.ufrag)
        let first = downlink.applied == nil
        let restarted = downlink.applied.map { $0 != ufrags } ?? false
        let latest = MediaCommand.LatestSubscriptions { [self] in
            guard let (_, subscriptions) = self.subscriptions(meeting: id, subject: claims.sub, accepted: answer.accepted) else { return [] }
            return [.init(peer: setup.id, subscriptions: subscriptions)]
        }
        switch await sessions.media.send(.answerDownlink(setup: setup, create: first, restart: restarted, subscriptions: latest)) {
        case nil: break
        case .dtls(let error)?: return HubMessage.error("cannot create the DTLS session: \(error)")
        case _?: return HubMessage.error("the downlink connection is gone: send downlink for a new one")
        }
        let again = withDownlinkRoom(id) { room -> Bool in
            guard var current = room.downlinks[claims.sub], current.session == session else { return false }
            current.applied = ufrags
            current.fingerprint = answer.remoteFingerprint
            current.accepted = answer.accepted
            if current.revision == revision { current.awaiting = false }
            let again = current.dirty && !current.awaiting
            room.downlinks[claims.sub] = current
            return again
        } == true
        // Mixed mode on the downlink: the mixer sends this listener's mix-minus on it.
        if let mix = withDownlinkRoom(id, { $0.mix }) ?? nil {
            let listener = Self.stream(meeting: id, subject: claims.sub)
            let carriesMix = downlink.lines.contains { $0.active && $0.stream == mix.stream && answer.accepted.contains($0.mid) }
            mix.peers.map.withLock { peers in
                if carriesMix { peers[listener] = downlink.peerID } else if peers[listener] == downlink.peerID { peers[listener] = nil }
            }
        }
        if first || restarted {
            logger.info(first ? "downlink connecting" : "downlink ICE restarted", metadata: [
                "meeting": "\(id)", "subject": "\(claims.sub)", "session": "\(session)", "tracks": "\(answer.accepted.count)",
            ])
        }
        if again { await offerDownlinks(meeting: id, subjects: [claims.sub], force: false) }
        return nil
    }

    /// `restart` of the downlink: an offer with new ICE credentials.
    func restartDownlink(session: String, meeting id: Int64, claims: TokenClaims) async -> String? {
        let seat = withDownlinkRoom(id) { room in (room.downlinks[claims.sub]?.session, room.downlinkSeats[claims.sub]?.publishing) }
            ?? (nil, nil)
        if seat.1 == session {
            return HubMessage.error(#"to restart ICE of the publish connection send {"type": "publish", "session": …, "sdp": <an offer with new ICE credentials>}"#)
        }
        guard seat.0 == session else { return HubMessage.error("no downlink session '\(session.prefix(64))' of yours") }
        logger.info("downlink ICE restart asked", metadata: ["meeting": "\(id)", "subject": "\(claims.sub)"])
        await offerDownlinks(meeting: id, subjects: [claims.sub], force: false, restart: true)
        return nil
    }

    /// `layer` with `participant`: caps the simulcast layer of that participant's video on the
    /// sender's downlink.
    func capDownlinkLayer(participant: String, layer rank: Int, meeting id: Int64, claims: TokenClaims) async -> String? {
        let stream = Self.stream(meeting: id, subject: participant)
        // Caps name seated participants only, so the map stays as small as the room.
        let peerResult = withDownlinkRoom(id) { room -> Result<String?, RoomError> in
            guard var downlink = room.downlinks[claims.sub] else {
                return .failure(RoomError(#"layer with "participant" needs a downlink first: {"type": "downlink", …}"#))
            }
            guard room.downlinkSeats[participant] != nil else {
                return .failure(RoomError("'\(participant.prefix(64))' is not in the room"))
            }
            downlink.caps[stream] = rank
            room.downlinks[claims.sub] = downlink
            return .success(downlink.applied == nil ? nil : downlink.peerID)
        } ?? .failure(RoomError("you are not in the room"))
        let peer: String?
        switch peerResult {
        case .success(let value): peer = value
        case .failure(let error): return HubMessage.error(error.message)
        }
        if let peer {
            await sessions.media.send(.setMaxLayer(peer: peer, stream: stream, rank: rank))
        }
        return nil
    }

    /// `publish` with the `session` of the sender's publish connection: an ICE restart. The
    /// offer carries new ICE credentials; the answer carries the relay's new ones; the peer
    /// keeps its DTLS session, SSRCs and subscribers.
    func restartPublish(session: String, sdp: String, meeting id: Int64, claims: TokenClaims) async -> String? {
        let stream = Self.stream(meeting: id, subject: claims.sub)
        guard rooms.withLock({ $0[id]?.participants[claims.sub]?.publishing }) == session,
              let peer = sessions.peerID(session: session, kind: "whip", subject: claims.sub) else {
            return HubMessage.error("no publish session '\(session.prefix(64))' of yours to restart")
        }
        let offer: SessionDescription
        do { offer = try SessionDescription(parsing: sdp) } catch {
            return HubMessage.error("malformed SDP offer: \(error)")
        }
        let local = sessions.media.localTransport
        let answer: SessionDescription, setup: PeerSetup
        do {
            (answer, setup) = try Negotiation.answer(offer: offer, role: .publisher, stream: stream, peerID: peer, local: local, published: nil)
        } catch {
            return HubMessage.error("publish: cannot answer the offer: \(error.message)")
        }
        switch await sessions.media.send(.restartICE(peer: peer, local: setup.localICE, remote: setup.remoteICE,
                                                     fingerprint: setup.remoteFingerprint)) {
        case nil: break
        case .fingerprintChanged?:
            return HubMessage.error("the offer changes the DTLS fingerprint: publish again without session for a new connection")
        case _?: return HubMessage.error("the publish connection is gone: publish again without session")
        }
        logger.info("publish ICE restarted", metadata: ["meeting": "\(id)", "subject": "\(claims.sub)", "session": "\(session)"])
        return HubMessage.encode(RoomMessage.Answer(type: "answer", request: "publish", participant: claims.sub, stream: stream,
                                                    session: session, sdp: answer.serialize()))
    }
}
