import Dispatch
import GiaobanEngine
import GiaobanHub
import GiaobanStore
import Logging
import Synchronization
import GiaobanRecording
public import ServiceLifecycle

/// Server-side recording of a meeting (docs/recording.md): the recorder starts with the room
/// (`meetings.record = "always"`) or at the chair's `record`, records every published stream,
/// finishes a participant's file when it leaves and everything when the room empties or the
/// chair stops it.
extension MeetingRooms {
    /// Starts (true) or stops meeting `id`'s recorder.
    func setRecording(_ id: Int64, on: Bool) async {
        guard recording.roomMode != .off else { return }
        guard on else {
            guard let recorder = rooms.withLock({ all -> MeetingRecorder? in
                defer { all[id]?.recorder = nil }
                return all[id]?.recorder
            }) else { return }
            rooms.withLock { $0[id]?.mix }?.recordMinutes(nil)
            await sessions.media.send(.removeSinks(audio: recorder, video: recorder))
            await recorder.stop()
            logger.notice("meeting recording stopped", metadata: ["meeting": "\(id)", "dropped": "\(recorder.dropped)"])
            return
        }
        guard rooms.withLock({ $0[id] != nil && $0[id]?.recorder == nil }) else { return }
        let recorder: MeetingRecorder
        do {
            let media = sessions.media
            var settings = recording
            settings.fileFinished = { [hub, logger] meeting, file in Self.store(file, meeting: meeting, hub: hub, logger: logger) }
            recorder = try MeetingRecorder(meeting: id, settings: settings, clock: hub.clock, requestKeyframe: { stream in
                media.post { router, now, out in router.requestKeyframe(stream: stream, now: now, out: out) }
            }, writeFailed: { [weak self] file, message in self?.recordingFailed(meeting: id, file: file, message: message) },
                                           logger: logger)
        } catch {
            logger.error("cannot start the meeting's recording", metadata: ["meeting": "\(id)", "error": "\(error)"])
            return
        }
        let publishing = rooms.withLock { all -> [String]? in
            guard all[id] != nil, all[id]?.recorder == nil else { return nil }
            all[id]?.recorder = recorder
            return all[id]?.participants.filter { $0.value.publishing != nil }.map(\.key).sorted()
        }
        guard let publishing else { return }
        recorder.start()
        logger.notice("meeting recording started", metadata: ["meeting": "\(id)", "directory": "\(recorder.directory)"])
        for subject in publishing { await record(subject, meeting: id, with: recorder) }
        if recording.minutes { await recordMinutes(meeting: id, with: recorder) }
    }

    /// Records the meeting's minutes too: the mix (started now if the room has none) gives the
    /// composed picture and the full mix of the loudest speakers, as one more file.
    private func recordMinutes(meeting id: Int64, with recorder: MeetingRecorder) async {
        let mix: MeetingMix?
        do { mix = try await ensureMix(meeting: id) } catch {
            logger.error("cannot record the meeting's minutes: the mixer did not start", metadata: ["meeting": "\(id)", "error": "\(error)"])
            return
        }
        guard let mix, rooms.withLock({ $0[id]?.recorder === recorder }) else { return }
        recorder.open(stream: mix.stream, subject: MeetingMix.minutesListener, codec: .vp8)
        mix.recordMinutes(recorder)
    }

    /// Stores a finished file's manifest entry in the database (recording_files), waiting at
    /// most 5 s on the recorder thread; a failure is logged (the signed manifest has it anyway).
    static func store(_ file: RecordingManifest.File, meeting: Int64, hub: Hub, logger: Logger) {
        let record = RecordingFileRecord(meeting: meeting, name: file.name, participant: file.participant, size: Int64(file.size),
                                         sha256: file.sha256, startedMs: file.started_ms, endedMs: file.ended_ms)
        let store = RecordingFiles(database: hub.database), done = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        Task {
            do throws(StoreError) {
                try await hub.database.onQueue { () throws(StoreError) in try store.addNow(record) }
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
            done.signal()
        }
        if done.wait(timeout: .now() + 5) == .timedOut { failure.withLock { $0 = "the database did not answer within 5 s" } }
        if let reason = failure.withLock({ $0 }) {
            logger.error("recording file not stored in the database", metadata: ["meeting": "\(meeting)", "file": "\(file.name)", "error": "\(reason)"])
        }
    }

    /// Finishes every meeting's recording (the server is stopping): each file gets its last
    /// Cluster, Cues and SeekHead, is synced to disk and signed into its manifest; the meetings
    /// themselves end with the process.
    public func finishAllRecordings() async {
        let recorders = rooms.withLock { all -> [MeetingRecorder] in
            var taken: [MeetingRecorder] = []
            for id in all.keys.sorted() {
                if let recorder = all[id]?.recorder { taken.append(recorder) }
                all[id]?.recorder = nil
                all[id]?.mix?.recordMinutes(nil)
            }
            return taken
        }
        for recorder in recorders {
            await sessions.media.send(.removeSinks(audio: recorder, video: recorder))
            await recorder.stop()
            logger.notice("meeting recording finished: the server is stopping", metadata: ["meeting": "\(recorder.meeting)"])
        }
    }

    /// A camera was put into meeting `id`: the mix and the recorder take its stream like a
    /// participant's (the recorder records no H.264 video: its file has no video track).
    func cameraPublished(meeting id: Int64, subject: String) async {
        let stream = Self.stream(meeting: id, subject: subject)
        if let mix = rooms.withLock({ $0[id]?.mix }) {
            await sessions.media.send(.addSinks(streams: [stream], audio: mix.mixer, video: mix.compositor))
        }
        await recordPublished(meeting: id, subject: subject)
    }

    /// A participant published: its stream is recorded too, if the meeting is.
    func recordPublished(meeting id: Int64, subject: String) async {
        guard let recorder = rooms.withLock({ $0[id]?.recorder }) else { return }
        await record(subject, meeting: id, with: recorder)
    }

    /// Participants left (`streams`), or the room emptied: their files, or all, are finished.
    func releaseRecording(_ recorder: MeetingRecorder, streams: [String], dissolved: Bool) async {
        guard dissolved else {
            for stream in streams { recorder.close(stream: stream) }
            return
        }
        await sessions.media.send(.removeSinks(audio: recorder, video: recorder))
        await recorder.stop()
        logger.notice("meeting recording finished", metadata: ["meeting": "\(recorder.meeting)", "dropped": "\(recorder.dropped)"])
    }

    /// A file of meeting `id` could not be written (disk full, …) and its recording stopped:
    /// counted for /metrics and told to every chair and admin seated, the meeting goes on.
    func recordingFailed(meeting id: Int64, file: String, message: String) {
        recordingWriteFailures.add(1, ordering: .relaxed)
        let chairs = rooms.withLock { all in
            all[id]?.participants.filter { $0.value.role == .chair || $0.value.role == .admin }.map(\.key) ?? []
        }
        let text = HubMessage.encode(RecordingFailure(file: file, error: "the recording of \(file) stopped: \(message)"))
        for subject in chairs { hub.events.publish(text, to: Self.channel(id, subject)) }
    }

    /// Opens `subject`'s file with its published video codec, then has the relay copy its packets.
    private func record(_ subject: String, meeting id: Int64, with recorder: MeetingRecorder) async {
        let stream = Self.stream(meeting: id, subject: subject)
        let codec: WebMVideoTrack.Codec? = switch await sessions.media.ask(.publishedTracks(stream: stream))?.video?.codec.uppercased() {
        case "VP8": .vp8
        case "VP9": .vp9
        default: nil
        }
        recorder.open(stream: stream, subject: subject, codec: codec)
        await sessions.media.send(.addSinks(streams: [stream], audio: recorder, video: recorder))
    }
}

/// `{"type": "recording", "file": …, "error": …}`: to the chair, a file whose recording stopped.
struct RecordingFailure: Encodable {
    var type = "recording"
    let file: String
    let error: String
}

/// Finishes the meetings' recordings when the server stops gracefully (SIGTERM, SIGINT), so
/// that their files are complete and in the signed manifest (docs/recording.md).
public struct RecordingShutdownService: Service, CustomStringConvertible {
    let rooms: MeetingRooms

    /// Finishes `rooms`' recordings at graceful shutdown.
    public init(rooms: MeetingRooms) { self.rooms = rooms }

    /// The service's name in logs.
    public var description: String { "RecordingShutdownService" }

    /// Waits for graceful shutdown, then finishes every recording and gives the rooms up.
    public func run() async throws {
        try? await gracefulShutdown()
        await rooms.finishAllRecordings()
        // Other nodes of a cluster take this node's rooms at once rather than after the lease.
        await rooms.leaveCluster()
    }
}
