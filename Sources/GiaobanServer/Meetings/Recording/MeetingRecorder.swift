import Foundation
import GiaobanTransport
import GiaobanEngine
import GiaobanMixer
import GiaobanRecording
import GiaobanWire
import GiaobanRooms
import Logging
import Synchronization

/// `meetings.record` and where recordings go (docs/recording.md).
public struct MeetingRecordingSettings: Sendable {
    /// "off", "on_request" or "always".
    public var mode: String
    /// `storage.recordings_dir`: one directory per meeting id under it.
    public var directory: String
    /// The key that signs each meeting's manifest (the server's token secret).
    public var secret: [UInt8]
    /// `meetings.record_minutes`: also record the minutes (composed picture and full mix).
    public var minutes = true
    /// Called on the recorder thread with each file once it is finished and in the signed
    /// manifest (the server stores it in the database); nothing by default.
    var fileFinished: @Sendable (_ meeting: Int64, _ file: RecordingManifest.File) -> Void = { _, _ in }
    /// Creates a recording's file at a path (tests give one whose writes fail).
    var createFile: @Sendable (String) throws(RecordingError) -> RecordingFile = { path throws(RecordingError) in
        try RecordingFile(path: path)
    }

    /// Settings for `mode` into `directory`, manifests signed under `secret`, with or without
    /// the minutes file.
    public init(mode: String, directory: String, secret: [UInt8], minutes: Bool = true) {
        self.mode = mode
        self.directory = directory
        self.secret = secret
        self.minutes = minutes
    }

    /// No recording.
    public static let off = MeetingRecordingSettings(mode: "off", directory: "", secret: [])

    var roomMode: RoomRecordMode { RoomRecordMode(rawValue: mode) ?? .off }
}

/// Records one meeting: one WebM file per published participant stream, in
/// `recordings_dir/<meeting id>/`, with a signed `manifest.json`.
///
/// The media thread only copies: as a sink of each recorded stream it pushes the packets
/// (audio, and the highest video layer) into two bounded `PacketInbox`es and returns. One
/// recorder thread per meeting swaps the inboxes every 20 ms, reassembles frames and writes
/// the files (`ParticipantRecording`). A recorder that falls behind drops packets (counted in
/// `dropped`), never blocking the media thread; lost video then waits for a keyframe.
final class MeetingRecorder: AudioSink, VideoSink, SenderReportSink, Sendable {
    /// The meeting.
    let meeting: Int64
    /// Its directory.
    let directory: String
    private let secret: [UInt8]
    private let clock: @Sendable () -> Int64
    private let requestKeyframe: @Sendable (String) -> Void
    private let createFile: @Sendable (String) throws(RecordingError) -> RecordingFile
    private let writeFailed: @Sendable (_ file: String, _ message: String) -> Void
    private let fileFinished: @Sendable (_ meeting: Int64, _ file: RecordingManifest.File) -> Void
    private let logger: Logger
    private let filesOpen = Mutex<[String: String]>([:])
    private let audioInbox = PacketInbox(maxBytes: 256 * 1024, packetCapacity: 2048)
    private let videoInbox = PacketInbox(maxBytes: 2 * 1024 * 1024, packetCapacity: 4096)
    private let control = Mutex(Control())
    private let droppedPackets = Atomic<Int>(0)
    /// The first sender report of each stream's audio and video (the files' timelines use them).
    private let reports = Mutex<[String: (audio: (ntp: UInt64, rtp: UInt32)?, video: (ntp: UInt64, rtp: UInt32)?)]>([:])

    /// What the control plane asks of the recorder thread, taken every tick.
    private struct Control {
        var opening: [(stream: String, subject: String, codec: WebMVideoTrack.Codec?)] = []
        var closing: [String] = []
        var stopping = false
        var stopped = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    /// A recorder of meeting `meeting` under `settings`; creates its directory (mode 0700).
    /// `requestKeyframe` asks the relay for a keyframe of a stream; `clock` gives Unix ms;
    /// `writeFailed` is told (on the recorder thread) of a file whose recording stopped because
    /// it could not be created or written (disk full, …).
    init(meeting: Int64, settings: MeetingRecordingSettings, clock: @escaping @Sendable () -> Int64,
         requestKeyframe: @escaping @Sendable (String) -> Void,
         writeFailed: @escaping @Sendable (_ file: String, _ message: String) -> Void = { _, _ in }, logger: Logger) throws {
        self.meeting = meeting
        directory = settings.directory + "/\(meeting)"
        secret = settings.secret
        createFile = settings.createFile
        fileFinished = settings.fileFinished
        self.writeFailed = writeFailed
        self.clock = clock
        self.requestKeyframe = requestKeyframe
        self.logger = logger
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
    }

    /// Packets refused because the recorder thread fell behind.
    var dropped: Int { droppedPackets.load(ordering: .relaxed) }

    /// The files being written now, name → participant (not yet in the manifest).
    var openFiles: [String: String] { filesOpen.withLock { $0 } }

    /// Media thread: copies one Opus packet in.
    func push(source: String, sequence: UInt16, timestamp: UInt32, payload: UnsafeRawBufferPointer, level: AudioLevelExtension?) {
        audioInbox.push(source: source, sequence: sequence, timestamp: timestamp, marker: false, level: nil, payload: payload)
    }

    /// Media thread: copies one video RTP payload in.
    func push(source: String, sequence: UInt16, timestamp: UInt32, marker: Bool, payload: UnsafeRawBufferPointer) {
        videoInbox.push(source: source, sequence: sequence, timestamp: timestamp, marker: marker, level: nil, payload: payload)
    }

    /// Media thread: a publisher's sender report; the first of each track is kept.
    func senderReport(source: String, video: Bool, ntp: UInt64, rtp: UInt32) {
        reports.withLock { all in
            var entry = all[source] ?? (nil, nil)
            if video { entry.video = entry.video ?? (ntp, rtp) } else { entry.audio = entry.audio ?? (ntp, rtp) }
            all[source] = entry
        }
    }

    /// Starts recording `stream` of `subject` (video `codec`, nil for audio only) into a new file.
    func open(stream: String, subject: String, codec: WebMVideoTrack.Codec?) {
        control.withLock { $0.opening.append((stream, subject, codec)) }
    }

    /// Finishes `stream`'s file (the participant left).
    func close(stream: String) {
        control.withLock { $0.closing.append(stream) }
    }

    /// Starts the recorder thread.
    func start() {
        let thread = Thread { [self] in
            ThreadName.set("recorder-\(meeting)")
            run()
        }
        thread.name = "recorder-\(meeting)"
        thread.start()
    }

    /// Finishes every file, writes the manifest and ends the thread; returns when done.
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = control.withLock { c in
                if c.stopped { return true }
                c.stopping = true
                c.waiting.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// The recorder thread: every 20 ms, the control plane's requests, then the packets.
    private func run() {
        var files: [String: ParticipantRecording] = [:]
        var manifest = (try? RecordingManifest.read(from: directory)) ?? nil
            ?? RecordingManifest(meeting: meeting, started_ms: clock(), ended_ms: clock())
        var audio = InboxBatch(packetCapacity: 2048, byteCapacity: audioInbox.maxBytes)
        var video = InboxBatch(packetCapacity: 4096, byteCapacity: videoInbox.maxBytes)
        while true {
            Thread.sleep(forTimeInterval: 0.02)
            let (opening, closing, stopping) = control.withLock { c in
                defer { (c.opening, c.closing) = ([], []) }
                return (c.opening, c.closing, c.stopping)
            }
            for o in opening where files[o.stream] == nil {
                if let file = create(stream: o.stream, subject: o.subject, codec: o.codec) { files[o.stream] = file }
            }
            videoInbox.swap(&video)
            audioInbox.swap(&audio)
            droppedPackets.add(video.dropped + audio.dropped, ordering: .relaxed)
            let (arrival, now) = (ContinuousClock.now, clock())
            let known = reports.withLock { $0 }
            for file in files.values {
                if let audio = known[file.stream]?.audio { file.senderReport(video: false, ntp: audio.ntp, rtp: audio.rtp) }
                if let video = known[file.stream]?.video { file.senderReport(video: true, ntp: video.ntp, rtp: video.rtp) }
            }
            write(video, isVideo: true, to: &files, arrival: arrival, now: now)
            write(audio, isVideo: false, to: &files, arrival: arrival, now: now)
            tick(&files, now: arrival)
            video.clear()
            audio.clear()
            for file in files.values where file.wantsKeyframe {
                file.wantsKeyframe = false
                requestKeyframe(file.stream)
            }
            for stream in closing {
                if let file = files.removeValue(forKey: stream) { finish(file, into: &manifest) }
            }
            if stopping {
                for stream in files.keys.sorted() { finish(files[stream]!, into: &manifest) }
                break
            }
        }
        let waiting = control.withLock { c in
            c.stopped = true
            defer { c.waiting = [] }
            return c.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Hands each packet of `batch` to its stream's file; a file whose write fails stops there
    /// (disk full, …), where its last Cluster ended.
    private func write(_ batch: InboxBatch, isVideo: Bool, to files: inout [String: ParticipantRecording],
                       arrival: ContinuousClock.Instant, now: Int64) {
        for packet in batch.packets {
            guard let file = files[packet.source] else { continue }
            let failure = batch.withPayload(packet) { payload -> RecordingError? in
                do throws(RecordingError) {
                    if isVideo {
                        try file.video(packet, payload: payload, arrival: arrival, now: now)
                    } else {
                        try file.audio(packet, payload: payload, arrival: arrival, now: now)
                    }
                } catch { return error }
                return nil
            }
            guard let failure else { continue }
            fail(file, failure: failure, files: &files)
        }
    }

    /// Starts the files whose hold ran out; a file that cannot be written stops as in `write`.
    private func tick(_ files: inout [String: ParticipantRecording], now: ContinuousClock.Instant) {
        for file in Array(files.values) {
            do throws(RecordingError) { try file.tick(now: now) } catch { fail(file, failure: error, files: &files) }
        }
    }

    /// A file that could not be written: logged, told, and recorded no further.
    private func fail(_ file: ParticipantRecording, failure: RecordingError, files: inout [String: ParticipantRecording]) {
        logger.error("recording file failed; its recording stops", metadata: ["meeting": "\(meeting)", "file": "\(file.name)",
                                                                              "error": "\(failure.message)"])
        files[file.stream] = nil
        filesOpen.withLock { _ = $0.removeValue(forKey: file.name) }
        writeFailed(file.name, failure.message)
    }

    /// A new file for `stream`, named after the subject and the time; nil (logged) if it cannot be created.
    private func create(stream: String, subject: String, codec: WebMVideoTrack.Codec?) -> ParticipantRecording? {
        let safe = String(subject.unicodeScalars.prefix(48).map { CharacterSet.alphanumerics.contains($0) || $0 == "-" ? Character($0) : "_" })
        let base = "\(safe)-\(clock())"
        for attempt in 0..<10 {
            let name = base + (attempt == 0 ? "" : "-\(attempt)") + ".webm"
            guard !FileManager.default.fileExists(atPath: directory + "/" + name) else { continue }
            do throws(RecordingError) {
                let file = try ParticipantRecording(stream: stream, subject: subject, name: name, codec: codec,
                                                    expectsReports: !stream.contains("~"),
                                                    output: createFile(directory + "/" + name))
                filesOpen.withLock { $0[name] = subject }
                return file
            } catch {
                logger.error("cannot create a recording file", metadata: ["meeting": "\(meeting)", "error": "\(error.message)"])
                writeFailed(name, error.message)
                return nil
            }
        }
        return nil
    }

    /// Finishes `file` and records it, signed, in the manifest; a file with nothing in it is removed.
    private func finish(_ file: ParticipantRecording, into manifest: inout RecordingManifest) {
        defer { filesOpen.withLock { _ = $0.removeValue(forKey: file.name) } }
        do throws(RecordingError) {
            guard try file.finish(), let first = file.firstAt, let last = file.lastAt else {
                unlink(file.path)
                return
            }
            let digest = try? RecordingManifest.digest(path: file.path)
            let entry = RecordingManifest.File(name: file.name, participant: file.subject, size: digest?.size ?? 0,
                                               sha256: digest?.sha256 ?? "", started_ms: first, ended_ms: last)
            manifest.files.append(entry)
            manifest.participants = Array(Set(manifest.participants + [file.subject])).sorted()
            manifest.ended_ms = clock()
            try? manifest.write(to: directory, secret: secret)
            fileFinished(meeting, entry)
        } catch {
            logger.error("cannot finish a recording file", metadata: ["meeting": "\(meeting)", "file": "\(file.name)", "error": "\(error.message)"])
        }
    }
}
