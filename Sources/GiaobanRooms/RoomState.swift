package import GiaobanAuth
package import GiaobanHub

/// A meeting room's seats, roster and chair controls as a state machine (docs/protocol.md):
/// `handle(_:now:)` takes an event and returns the actions its owner carries out. It does no
/// I/O, starts no task and reads no clock: time comes in as `now` (Unix ms), and timers go out
/// as `scheduleRoster` and `startGrace` actions whose expiry comes back as an event.
///
/// Media negotiation (SDP, downlinks, the mix, speaker levels) stays with `MeetingRooms`: the
/// state machine hands those requests on as `media` and hears back `published`, `modeChanged`,
/// `speakerChanged` and `linksMeasured`.
package struct RoomState: Sendable {
    /// A participant's place in the room.
    package struct Seat: Sendable, Equatable {
        package var role: Role
        /// The socket that holds the seat.
        package var connection: Int
        package var audioMuted = false
        package var mutedByChair = false
        package var hand = false
        /// The publish session, while the participant publishes.
        package var publishing: String?
        package var joinedAt: Int64
        /// `forwarded` (each stream as sent) or `mixed` (one mix-minus audio stream).
        package var mixed = false
        /// The publishing link as the relay sees it.
        package var link: RoomMessage.Link?
        /// The socket closed without `leave`: the seat waits `seatGrace` for a reconnect.
        package var disconnected = false
        /// The socket sent `leave` (or got `ended`): its close gives the seat up at once.
        package var leaving = false
    }

    /// The meeting's id (stream names carry it).
    package let meeting: Int64
    /// How long a dropped socket's seat waits for a reconnect.
    package let seatGrace: Duration
    /// The shortest time between two roster broadcasts.
    package let rosterInterval: Duration
    /// The seats, by subject.
    package var seats: [String: Seat] = [:]
    /// Nobody new may join (the chair still can; a reconnect keeps its seat).
    package var locked = false
    /// Everyone's main view.
    package var spotlight: String?
    /// The active speaker.
    package var speaker: String?
    /// Whether meetings are recorded (`meetings.record`).
    package let recordMode: RoomRecordMode
    /// The meeting is being recorded.
    package var recording = false
    /// A roster broadcast is scheduled: changes until then go with it.
    package var rosterPending = false

    /// An empty room of `meeting`.
    package init(meeting: Int64, seatGrace: Duration = .seconds(15), rosterInterval: Duration = .milliseconds(50),
                 recordMode: RoomRecordMode = .off) {
        self.recordMode = recordMode
        self.meeting = meeting
        self.seatGrace = seatGrace
        self.rosterInterval = rosterInterval
    }

    /// The connection number of a camera's seat (no socket holds it).
    static package let cameraConnection = -1
    /// The publish session of a camera's seat (the relay's camera feeds it).
    static package let cameraSession = "camera"

    /// The stream `subject` publishes on.
    package func stream(_ subject: String) -> String { RoomStreams.name(meeting: meeting, subject: subject) }

    /// Whether `subject` with `role` may enter now: not while locked, unless the chair or seated.
    package func admits(_ subject: String, role: Role) -> Bool {
        !locked || role == .chair || role == .admin || seats[subject] != nil
    }

    /// Applies `event` at `now` (Unix ms) and returns what to do about it, in order.
    mutating package func handle(_ event: RoomEvent, now: Int64) -> [RoomAction] {
        switch event {
        case .join(let caller): return join(caller, now: now)
        case .socketClosed(let subject, let connection): return socketClosed(subject, connection: connection, now: now)
        case .graceExpired(let subject, let connection):
            guard let seat = seats[subject], seat.connection == connection, seat.disconnected else { return [] }
            return release(subject, now: now)
        case .request(let caller, let request): return handle(request, from: caller, now: now)
        case .invalid(let caller, let invalid): return [.reply(connection: caller.connection, .error(invalid.reply(role: caller.role)))]
        case .rosterDue:
            rosterPending = false
            return seats.isEmpty ? [] : [.broadcast(.roster(roster()))]
        case .speakerChanged(let subject):
            guard seats[subject] != nil else { return [] }
            speaker = subject
            return [layout(), .broadcast(.speaker(subject))]
        case .published(let subject, let session):
            guard seats[subject] != nil else { return [] }
            seats[subject]?.publishing = session
            var actions = rosterChanged()
            actions.append(.renegotiateDownlinks)
            if seats[subject]?.mutedByChair == true { actions.append(.setAudioMuted(stream: stream(subject), muted: true)) }
            return actions
        case .unpublished(let subject):
            guard seats[subject]?.publishing != nil else { return [] }
            seats[subject]?.publishing = nil
            return rosterChanged() + [.renegotiateDownlinks]
        case .modeChanged(let subject, let mixed):
            guard seats[subject] != nil else { return [] }
            seats[subject]?.mixed = mixed
            return rosterChanged()
        case .linksMeasured(let links):
            var changed = false
            for subject in seats.keys {
                let link = links[subject] ?? nil
                if RoomMessage.Link.differs(seats[subject]?.link, link) { changed = true }
                seats[subject]?.link = link
            }
            return changed ? rosterChanged() : []
        case .restore(let snapshot, let connections): return restore(snapshot, connections: connections, now: now)
        }
    }

    /// A socket opens: a new seat, or the same subject taking its seat over from an older socket.
    private mutating func join(_ caller: RoomEvent.Caller, now: Int64) -> [RoomAction] {
        guard admits(caller.subject, role: caller.role) else {
            return [.refuse(connection: caller.connection, reason: "the room is locked by the chair")]
        }
        let joined = RoomOutbound.joined(RoomMessage.Joined(meeting: meeting, you: caller.subject, role: caller.role.rawValue,
                                                            stream: stream(caller.subject)))
        let log = RoomLogEntry(notice: false, message: "joined meeting room",
                               metadata: ["meeting": "\(meeting)", "subject": caller.subject, "rejoin": "\(seats[caller.subject] != nil)"])
        if let old = seats[caller.subject] {
            seats[caller.subject]?.connection = caller.connection
            seats[caller.subject]?.disconnected = false
            seats[caller.subject]?.leaving = false
            // An offer sent while the old socket was going away may be lost: offer again.
            return [.close(subject: caller.subject, connection: old.connection, .replaced), .log(log),
                    .reply(connection: caller.connection, joined)] + rosterChanged() + [.reofferDownlink(subject: caller.subject)]
        }
        let first = seats.isEmpty
        seats[caller.subject] = Seat(role: caller.role, connection: caller.connection, joinedAt: now)
        var opening: [RoomAction] = first ? [.opened] : []
        if first && recordMode == .always {
            recording = true
            opening.append(.setRecording(true))
        }
        return [.recordJoin(subject: caller.subject, role: caller.role, at: now)] + opening +
            [.log(log), .reply(connection: caller.connection, joined)] + rosterChanged()
    }

    /// A socket closed: after `leave` (or `end`) the seat goes now; otherwise it waits the grace.
    private mutating func socketClosed(_ subject: String, connection: Int, now: Int64) -> [RoomAction] {
        guard let seat = seats[subject], seat.connection == connection else { return [] }
        if seat.leaving { return release(subject, now: now) }
        seats[subject]?.disconnected = true
        return [.log(RoomLogEntry(notice: false, message: "room connection dropped; seat kept",
                                  metadata: ["meeting": "\(meeting)", "subject": subject, "for": "\(seatGrace)"])),
                .startGrace(subject: subject, connection: connection, after: seatGrace)]
    }

    /// Gives a seat up: its publish session ends, its media is forgotten, attendance records it.
    mutating func release(_ subject: String, now: Int64) -> [RoomAction] {
        guard let seat = seats.removeValue(forKey: subject) else { return [] }
        if spotlight == subject { spotlight = nil }
        var actions: [RoomAction] = []
        if seat.role == .camera {
            actions.append(.feedCamera(camera: subject, stream: stream(subject), on: false))
        } else if let session = seat.publishing {
            actions.append(.closePublisher(stream: stream(subject), session: session))
        }
        actions.append(.forgetMedia(subject: subject))
        // Cameras do not keep a room open: the last person out takes them out too.
        if !seats.isEmpty, seats.values.allSatisfy({ $0.role == .camera }) {
            for camera in seats.keys.sorted() { actions += release(camera, now: now) }
            return actions + [.recordLeave(subject: subject, at: now),
                              .log(RoomLogEntry(notice: false, message: "left meeting room", metadata: ["meeting": "\(meeting)", "subject": subject]))]
        }
        if seats.isEmpty { actions.append(.dissolved) }
        actions.append(.recordLeave(subject: subject, at: now))
        actions.append(.log(RoomLogEntry(notice: false, message: "left meeting room", metadata: ["meeting": "\(meeting)", "subject": subject])))
        if !seats.isEmpty { actions += rosterChanged() + [.renegotiateDownlinks] }
        return actions
    }

    /// The roster changed: the layout and the stream group follow at once, the roster within
    /// `rosterInterval`.
    mutating package func rosterChanged() -> [RoomAction] {
        guard !seats.isEmpty else { return [] }
        let now: [RoomAction] = [group(), layout()]
        guard !rosterPending else { return now }
        rosterPending = true
        return now + [.scheduleRoster(after: rosterInterval)]
    }

    /// The room's stream group on the media plane: the publishers' streams in joining order,
    /// and those last-N never holds back (every chair and admin, the spotlight).
    package func group() -> RoomAction {
        let members = seats.filter { $0.value.publishing != nil }
            .sorted { ($0.value.joinedAt, $0.key) < ($1.value.joinedAt, $1.key) }
            .map { stream($0.key) }
        var always = Set(seats.filter { $0.value.role == .chair || $0.value.role == .admin }.keys)
        if let spotlight { always.insert(spotlight) }
        return .syncGroup(members: members, alwaysForwarded: Set(always.map(stream)))
    }

    /// The mix's composed picture: the spotlight (else the first chair) large, the speaker small.
    package func layout() -> RoomAction {
        let chair = seats.filter { $0.value.role == .chair || $0.value.role == .admin }
            .min { ($0.value.joinedAt, $0.key) < ($1.value.joinedAt, $1.key) }?.key
        return .setLayout(main: (spotlight ?? chair).map(stream), inset: speaker.map(stream))
    }

    /// The roster everyone receives, in joining order.
    package func roster() -> RoomMessage.Roster {
        let people = seats.map { subject, p in
            RoomMessage.Roster.Entry(subject: subject, role: p.role.rawValue, audio_muted: p.audioMuted, muted_by_chair: p.mutedByChair,
                                     hand: p.hand, publishing: p.publishing != nil, stream: stream(subject), joined_at: p.joinedAt,
                                     mode: p.mixed ? "mixed" : "forwarded", link: Nullable(p.link))
        }.sorted { $0.joined_at != $1.joined_at ? $0.joined_at < $1.joined_at : $0.subject < $1.subject }
        return RoomMessage.Roster(participants: people, locked: locked, spotlight: Nullable(spotlight), speaker: Nullable(speaker),
                                 recording: recording)
    }
}
