/// The element IDs a WebM file of this writer uses (RFC 9559, Matroska; WebM is its subset
/// with DocType "webm"). Written as the specification spells them, marker bits included.
public enum MatroskaID {
    /// EBML header (RFC 8794 §11.2.1).
    public static let ebml: UInt32 = 0x1A45_DFA3
    /// EBMLVersion.
    public static let ebmlVersion: UInt32 = 0x4286
    /// EBMLReadVersion.
    public static let ebmlReadVersion: UInt32 = 0x42F7
    /// EBMLMaxIDLength.
    public static let ebmlMaxIDLength: UInt32 = 0x42F2
    /// EBMLMaxSizeLength.
    public static let ebmlMaxSizeLength: UInt32 = 0x42F3
    /// DocType.
    public static let docType: UInt32 = 0x4282
    /// DocTypeVersion.
    public static let docTypeVersion: UInt32 = 0x4287
    /// DocTypeReadVersion.
    public static let docTypeReadVersion: UInt32 = 0x4285
    /// Void: padding, room kept for later (RFC 8794 §11.3.2).
    public static let void: UInt32 = 0xEC

    /// Segment: the top-level element holding everything else (RFC 9559 §5.1).
    public static let segment: UInt32 = 0x1853_8067
    /// SeekHead (§5.1.1).
    public static let seekHead: UInt32 = 0x114D_9B74
    /// Seek.
    public static let seek: UInt32 = 0x4DBB
    /// SeekID.
    public static let seekID: UInt32 = 0x53AB
    /// SeekPosition.
    public static let seekPosition: UInt32 = 0x53AC

    /// Info (§5.1.2).
    public static let info: UInt32 = 0x1549_A966
    /// TimestampScale: nanoseconds per timestamp unit.
    public static let timestampScale: UInt32 = 0x2AD7B1
    /// Duration, in timestamp units (float).
    public static let duration: UInt32 = 0x4489
    /// MuxingApp.
    public static let muxingApp: UInt32 = 0x4D80
    /// WritingApp.
    public static let writingApp: UInt32 = 0x5741

    /// Cluster (§5.1.3).
    public static let cluster: UInt32 = 0x1F43_B675
    /// Cluster Timestamp.
    public static let clusterTimestamp: UInt32 = 0xE7
    /// SimpleBlock (§5.1.3.4; layout in §10.2).
    public static let simpleBlock: UInt32 = 0xA3

    /// Tracks (§5.1.4).
    public static let tracks: UInt32 = 0x1654_AE6B
    /// TrackEntry.
    public static let trackEntry: UInt32 = 0xAE
    /// TrackNumber.
    public static let trackNumber: UInt32 = 0xD7
    /// TrackUID.
    public static let trackUID: UInt32 = 0x73C5
    /// TrackType: 1 video, 2 audio.
    public static let trackType: UInt32 = 0x83
    /// FlagLacing.
    public static let flagLacing: UInt32 = 0x9C
    /// CodecID.
    public static let codecID: UInt32 = 0x86
    /// CodecPrivate.
    public static let codecPrivate: UInt32 = 0x63A2
    /// CodecDelay, in nanoseconds.
    public static let codecDelay: UInt32 = 0x56AA
    /// SeekPreRoll, in nanoseconds.
    public static let seekPreRoll: UInt32 = 0x56BB
    /// Video settings.
    public static let video: UInt32 = 0xE0
    /// PixelWidth.
    public static let pixelWidth: UInt32 = 0xB0
    /// PixelHeight.
    public static let pixelHeight: UInt32 = 0xBA
    /// Audio settings.
    public static let audio: UInt32 = 0xE1
    /// SamplingFrequency (float).
    public static let samplingFrequency: UInt32 = 0xB5
    /// Channels.
    public static let channels: UInt32 = 0x9F

    /// Cues (§5.1.5).
    public static let cues: UInt32 = 0x1C53_BB6B
    /// CuePoint.
    public static let cuePoint: UInt32 = 0xBB
    /// CueTime.
    public static let cueTime: UInt32 = 0xB3
    /// CueTrackPositions.
    public static let cueTrackPositions: UInt32 = 0xB7
    /// CueTrack.
    public static let cueTrack: UInt32 = 0xF7
    /// CueClusterPosition: the Cluster's offset from the Segment's data start.
    public static let cueClusterPosition: UInt32 = 0xF1
}
