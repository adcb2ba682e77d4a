/// Writes a WebM file (Matroska, RFC 9559, DocType "webm") as media arrives: one VP8/VP9
/// video track and/or one Opus audio track, their frames kept as they are (no transcoding).
///
/// Layout: EBML header; Segment with the unknown size (so the file is readable while it
/// grows); room for a SeekHead; Info (1 ms timestamps, Duration); Tracks; Clusters of
/// SimpleBlocks; Cues at `finish`. A Cluster is built in memory and handed to the output in
/// one write when it closes, on each video keyframe, after `clusterDuration` ms, or when a
/// block's 16-bit relative timestamp would overflow; Info's Duration is then updated in
/// place. So a process killed at any moment leaves a file that plays up to its last whole
/// Cluster, with a Duration saying so. The writer never calls fsync: what survives a power
/// loss is the output's business.
///
/// Timestamps are milliseconds from the recording's origin, non-decreasing per track: a
/// block earlier than its track's previous one is written at the previous one's time
/// (counted in `clampedBlocks`), which keeps a player's clock monotonic. Audio may run a
/// little ahead of or behind video; a block before its Cluster's timestamp gets a negative
/// relative timestamp (the field is signed, §10.2).
public final class WebMWriter {
    /// The longest a Cluster lasts, in ms, when no keyframe closes it.
    public static let clusterDuration: Int64 = 5000
    /// Bytes kept before Info for the SeekHead written at `finish`.
    static let seekHeadRoom = 96

    /// Where the file goes.
    public let output: any WebMOutput
    /// The video track (number 1), if any.
    public let video: WebMVideoTrack?
    /// The audio track (number 2, or 1 without video), if any.
    public let audio: WebMAudioTrack?
    /// Bytes handed to the output so far.
    public private(set) var bytesWritten = 0
    /// Clusters handed to the output so far.
    public private(set) var clustersWritten = 0
    /// Blocks written at a later time than asked because they came out of order.
    public private(set) var clampedBlocks = 0
    /// True once `finish` ran.
    public private(set) var finished = false

    private let segmentSizeOffset: Int
    private let segmentDataStart: Int
    private let seekHeadOffset: Int
    private let durationOffset: Int
    private let infoPosition: UInt64
    private let tracksPosition: UInt64
    private var cluster: [UInt8] = []
    private var clusterTimestamp: Int64?
    private var previousClusterTimestamp: Int64 = 0
    private var cues: [(time: Int64, track: UInt64, position: UInt64)] = []
    private var lastVideo: (time: Int64, step: Int64)?
    private var lastAudio: (time: Int64, step: Int64)?
    private var durationWritten = 0.0
    private var writtenEnd: Int64 = 0

    /// Starts a file with the given tracks (at least one) and writes everything before the
    /// first Cluster.
    public init(output: any WebMOutput, video: WebMVideoTrack?, audio: WebMAudioTrack?) throws(RecordingError) {
        guard video != nil || audio != nil else { throw RecordingError(.misuse, "a WebM file needs a video or an audio track") }
        self.output = output
        self.video = video
        self.audio = audio
        var out: [UInt8] = []
        EBML.appendMaster(MatroskaID.ebml, to: &out) { h in
            EBML.appendUnsigned(MatroskaID.ebmlVersion, 1, to: &h)
            EBML.appendUnsigned(MatroskaID.ebmlReadVersion, 1, to: &h)
            EBML.appendUnsigned(MatroskaID.ebmlMaxIDLength, 4, to: &h)
            EBML.appendUnsigned(MatroskaID.ebmlMaxSizeLength, 8, to: &h)
            EBML.appendString(MatroskaID.docType, "webm", to: &h)
            EBML.appendUnsigned(MatroskaID.docTypeVersion, 4, to: &h)  // CodecDelay, SeekPreRoll: version 4
            EBML.appendUnsigned(MatroskaID.docTypeReadVersion, 2, to: &h)  // SimpleBlock: version 2
        }
        EBML.appendID(MatroskaID.segment, to: &out)
        segmentSizeOffset = out.count
        out += EBML.unknownSize
        segmentDataStart = out.count
        seekHeadOffset = out.count
        EBML.appendVoid(total: Self.seekHeadRoom, to: &out)
        infoPosition = UInt64(out.count - segmentDataStart)
        var info: [UInt8] = []
        EBML.appendUnsigned(MatroskaID.timestampScale, 1_000_000, to: &info)  // 1 ms
        EBML.appendString(MatroskaID.muxingApp, "giaoban", to: &info)
        EBML.appendString(MatroskaID.writingApp, "giaoban", to: &info)
        let durationInInfo = info.count + 2 + 1  // after the Duration ID (2 bytes) and its size (1 byte)
        EBML.appendFloat(MatroskaID.duration, 0, to: &info)
        EBML.appendID(MatroskaID.info, to: &out)
        EBML.appendSize(UInt64(info.count), to: &out)
        durationOffset = out.count + durationInInfo
        out += info
        tracksPosition = UInt64(out.count - segmentDataStart)
        EBML.appendMaster(MatroskaID.tracks, to: &out) { t in
            video?.appendEntry(number: 1, to: &t)
            audio?.appendEntry(number: video == nil ? 1 : 2, to: &t)
        }
        try write(out)
    }

    /// Appends one video frame (a whole VP8/VP9 frame) at `timestamp` ms; a keyframe starts
    /// a new Cluster and gets a cue point.
    public func appendVideo(_ frame: some Collection<UInt8>, timestamp: Int64, keyframe: Bool) throws(RecordingError) {
        guard video != nil, !finished else { throw RecordingError(.misuse, "no video track, or the file is finished") }
        let time = monotonic(timestamp, last: &lastVideo)
        if keyframe || needsCluster(at: time) { try startCluster(at: time) }
        if keyframe, let position = clusterPosition { cues.append((time, 1, position)) }
        appendBlock(track: 1, time: time, keyframe: keyframe, frame)
        writtenEnd = max(writtenEnd, time + (lastVideo?.step ?? 0))
    }

    /// Appends one Opus packet at `timestamp` ms. Without a video track, each Cluster gets a
    /// cue point on audio.
    public func appendAudio(_ packet: some Collection<UInt8>, timestamp: Int64) throws(RecordingError) {
        guard audio != nil, !finished else { throw RecordingError(.misuse, "no audio track, or the file is finished") }
        let time = monotonic(timestamp, last: &lastAudio)
        let track: UInt64 = video == nil ? 1 : 2
        if needsCluster(at: time) {
            try startCluster(at: time)
            if video == nil, let position = clusterPosition { cues.append((time, track, position)) }
        }
        appendBlock(track: track, time: time, keyframe: true, packet)
        writtenEnd = max(writtenEnd, time + (lastAudio?.step ?? 0))
    }

    /// Writes the last Cluster and the Cues, then fills in the SeekHead, the Duration and the
    /// Segment's size. The file is complete; later appends fail.
    public func finish() throws(RecordingError) {
        guard !finished else { return }
        try closeCluster()
        finished = true
        var out: [UInt8] = []
        let cuesPosition = UInt64(bytesWritten - segmentDataStart)
        if !cues.isEmpty {
            EBML.appendMaster(MatroskaID.cues, to: &out) { c in
                for cue in cues {
                    EBML.appendMaster(MatroskaID.cuePoint, to: &c) { p in
                        EBML.appendUnsigned(MatroskaID.cueTime, UInt64(max(0, cue.time)), to: &p)
                        EBML.appendMaster(MatroskaID.cueTrackPositions, to: &p) { t in
                            EBML.appendUnsigned(MatroskaID.cueTrack, cue.track, to: &t)
                            EBML.appendUnsigned(MatroskaID.cueClusterPosition, cue.position, to: &t)
                        }
                    }
                }
            }
            try write(out)
        }
        var seekHead: [UInt8] = []
        EBML.appendMaster(MatroskaID.seekHead, to: &seekHead) { s in
            var entries = [(MatroskaID.info, infoPosition), (MatroskaID.tracks, tracksPosition)]
            if !cues.isEmpty { entries.append((MatroskaID.cues, cuesPosition)) }
            for (id, position) in entries {
                EBML.appendMaster(MatroskaID.seek, to: &s) { e in
                    var idBytes: [UInt8] = []
                    EBML.appendID(id, to: &idBytes)
                    EBML.appendBinary(MatroskaID.seekID, idBytes, to: &e)
                    EBML.appendUnsigned(MatroskaID.seekPosition, position, to: &e)
                }
            }
        }
        EBML.appendVoid(total: Self.seekHeadRoom - seekHead.count, to: &seekHead)
        try patch(seekHead, at: seekHeadOffset)
        var size: [UInt8] = []
        EBML.appendSize(UInt64(bytesWritten - segmentDataStart), width: 8, to: &size)
        try patch(size, at: segmentSizeOffset)
    }

    /// The end of the media appended so far, in ms: each block's time plus its track's last
    /// step (a frame's or a packet's duration); the Duration written with each Cluster.
    public var duration: Int64 { writtenEnd }

    private var clusterPosition: UInt64? { clusterTimestamp == nil ? nil : UInt64(bytesWritten - segmentDataStart) }

    private func monotonic(_ timestamp: Int64, last: inout (time: Int64, step: Int64)?) -> Int64 {
        guard let previous = last else {
            last = (max(0, timestamp), 0)
            return max(0, timestamp)
        }
        if timestamp < previous.time { clampedBlocks += 1 }
        let time = max(timestamp, previous.time)
        last = (time, time > previous.time ? time - previous.time : previous.step)
        return time
    }

    private func needsCluster(at time: Int64) -> Bool {
        guard let start = clusterTimestamp else { return true }
        return time - start >= Self.clusterDuration || time - start > Int64(Int16.max)
    }

    private func startCluster(at time: Int64) throws(RecordingError) {
        try closeCluster()
        // Cluster timestamps never go back, even when audio ran ahead of a keyframe.
        let start = max(time, previousClusterTimestamp)
        clusterTimestamp = start
        previousClusterTimestamp = start
        EBML.appendUnsigned(MatroskaID.clusterTimestamp, UInt64(start), to: &cluster)
    }

    /// SimpleBlock (RFC 9559 §10.2): track number as a VINT, signed 16-bit time relative to
    /// the Cluster, flags (0x80 keyframe, no lacing), then the frame.
    private func appendBlock(track: UInt64, time: Int64, keyframe: Bool, _ frame: some Collection<UInt8>) {
        let relative = Int16(clamping: time - (clusterTimestamp ?? 0))
        EBML.appendID(MatroskaID.simpleBlock, to: &cluster)
        EBML.appendSize(UInt64(frame.count + 4), to: &cluster)
        EBML.appendSize(track, to: &cluster)
        let bits = UInt16(bitPattern: relative)
        cluster += [UInt8(bits >> 8), UInt8(bits & 0xFF), keyframe ? 0x80 : 0x00]
        cluster += frame
    }

    private func closeCluster() throws(RecordingError) {
        guard clusterTimestamp != nil else { return }
        var out: [UInt8] = []
        EBML.appendBinary(MatroskaID.cluster, cluster, to: &out)
        cluster.removeAll(keepingCapacity: true)
        clusterTimestamp = nil
        try write(out)
        clustersWritten += 1
        // The blocks written so far end here (the block that closed this Cluster is not yet counted).
        let end = Double(writtenEnd)
        if end != durationWritten {
            let bits = end.bitPattern
            try patch((0..<8).reversed().map { UInt8(truncatingIfNeeded: bits >> (8 * UInt64($0))) }, at: durationOffset)
            durationWritten = end
        }
    }

    private func write(_ bytes: [UInt8]) throws(RecordingError) {
        do {
            try bytes.withUnsafeBytes { try output.write($0) }
        } catch {
            throw RecordingError(.output, "cannot write the recording: \(error)")
        }
        bytesWritten += bytes.count
    }

    private func patch(_ bytes: [UInt8], at offset: Int) throws(RecordingError) {
        do { try output.patch(bytes, at: offset) } catch { throw RecordingError(.output, "cannot update the recording: \(error)") }
    }
}
