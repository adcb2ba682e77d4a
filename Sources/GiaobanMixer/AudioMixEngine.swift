import GiaobanCodecs
import GiaobanWire

/// One mixed audio source: its playout buffer, decoder and the frame decoded this tick.
final class MixSource {
    var buffer: PlayoutBuffer
    let decoder: OpusAudioDecoder
    let pcm: UnsafeMutableBufferPointer<Int16>
    /// The frame in `pcm` is this tick's audio.
    var active = false
    /// The RFC 6464 level of the latest packet, when the sender adds the extension.
    var clientLevel: AudioLevelExtension?

    init(delay: Int, idleAfter: Int) throws(CodecError) {
        buffer = PlayoutBuffer(delay: delay, idleAfter: idleAfter)
        decoder = try OpusAudioDecoder(channels: 1)
        pcm = .allocate(capacity: OpusFormat.samplesPerFrame)
        pcm.initialize(repeating: 0)
    }

    deinit { pcm.deallocate() }
}

/// The tick-thread half of `AudioMixer`: decodes, selects, mixes and encodes. Owned by the
/// mixer behind a lock, so only one tick runs at a time.
final class AudioMixEngine {
    let settings: AudioMixer.Settings
    private let inbox: PacketInbox
    private var batch: InboxBatch
    private var sources: [String: MixSource] = [:]
    private var selection: SpeakerSelection
    /// Listeners in name order, and the RTP numbering of each (same index).
    private var listenerNames: [String] = []
    private var streams: [MixedStreamRTPState] = []
    private var encoders: [MixKey: OpusAudioEncoder] = [:]
    private var spareEncoders: [OpusAudioEncoder]
    private var tickIndex: UInt64 = 0
    private(set) var counters = AudioMixerCounters()
    /// Buffer counts of sources that were removed, so totals do not go down.
    private var removedBufferCounts = PlayoutBuffer.Counters()
    private var encodeHistory = [Int](repeating: 0, count: 50)

    private let sum: UnsafeMutableBufferPointer<Int32>
    private let mixPCM: UnsafeMutableBufferPointer<Int16>
    private let packet: UnsafeMutableRawBufferPointer

    init(settings: AudioMixer.Settings, inbox: PacketInbox) throws(CodecError) {
        self.settings = settings
        self.inbox = inbox
        batch = InboxBatch(packetCapacity: 256, byteCapacity: inbox.maxBytes)
        selection = SpeakerSelection(seats: settings.speakers, interval: settings.selectionInterval, settings: settings.selection)
        // One encoder made now checks the settings; more are made as mixes appear.
        spareEncoders = [try Self.makeEncoder(settings)]
        sum = .allocate(capacity: OpusFormat.samplesPerFrame)
        mixPCM = .allocate(capacity: OpusFormat.samplesPerFrame)
        mixPCM.initialize(repeating: 0)
        packet = .allocate(byteCount: OpusFormat.maxPacketSize, alignment: 16)
    }

    deinit {
        sum.deallocate()
        mixPCM.deallocate()
        packet.deallocate()
    }

    static func makeEncoder(_ settings: AudioMixer.Settings) throws(CodecError) -> OpusAudioEncoder {
        try OpusAudioEncoder(channels: 1, application: settings.application, bitrate: settings.bitrate,
                             fec: settings.fec, expectedLossPercent: settings.fec ? 10 : 0, complexity: settings.complexity)
    }

    /// Replaces the listener set; new listeners get a new RTP numbering.
    func setListeners(_ names: Set<String>) {
        var kept: [String: MixedStreamRTPState] = [:]
        for (i, name) in listenerNames.enumerated() where names.contains(name) { kept[name] = streams[i] }
        listenerNames = names.sorted()
        streams = listenerNames.map { kept[$0] ?? MixedStreamRTPState() }
    }

    /// Forgets a source that left the meeting.
    func removeSource(_ name: String) {
        if let gone = sources.removeValue(forKey: name) {
            removedBufferCounts.add(gone.buffer.counters)
        }
        selection.remove(name)
    }

    /// Runs one 20 ms tick, `skipped` ticks after the last one.
    func tick(skipped: Int = 0) -> MixerOutput {
        if skipped > 0 {
            for i in 0..<streams.count { streams[i].skip(samples: 960 &* UInt32(clamping: skipped)) }
        }
        takeInbox()
        decodeSources()
        _ = selection.endTick()
        let speakers = selection.speakers
        var output = MixerOutput(tick: tickIndex, speakers: speakers, dominantSpeaker: selection.detector.speaker,
                                 mixes: [], listeners: [], playoutDepth: playoutDepth)
        tickIndex += 1
        var encodes = 0
        if !listenerNames.isEmpty {
            output.mixes.reserveCapacity(speakers.count + 1)
            output.listeners.reserveCapacity(listenerNames.count)
            encodes = mix(speakers, into: &output)
        }
        recycleEncoders(keeping: output.mixes)
        finishCounters(encodes: encodes, mixes: output.mixes.count)
        return output
    }

    // MARK: Steps of a tick

    private func takeInbox() {
        batch.clear()
        inbox.swap(&batch)
        counters.inboxDropped += batch.dropped
        for p in batch.packets {
            let source: MixSource
            if let known = sources[p.source] {
                source = known
            } else {
                do throws(CodecError) {
                    source = try MixSource(delay: settings.playoutDelay, idleAfter: settings.idleAfter)
                } catch {
                    counters.codecErrors += 1
                    continue
                }
                sources[p.source] = source
            }
            let accepted = batch.withPayload(p) { payload -> Bool in
                // Only single 20 ms frames fit the tick (RFC 7587 allows more; WebRTC sends 20 ms).
                guard let toc = try? OpusTOC(payload), toc.durationSamples == OpusFormat.samplesPerFrame else { return false }
                source.buffer.insert(sequenceNumber: p.sequence, payload: payload)
                return true
            }
            if !accepted { counters.unsupported += 1 }
            if p.level != nil { source.clientLevel = p.level }
        }
    }

    private func decodeSources() {
        var depths = 0, active = 0
        for (name, source) in sources {
            source.active = decode(source)
            guard source.active else { continue }
            depths += source.buffer.depth
            active += 1
            let level: UInt8, voice: Bool
            if let client = source.clientLevel {
                (level, voice) = (client.level, client.voiceActivity)
            } else {
                level = PCMMix.level(of: UnsafeBufferPointer(source.pcm))
                voice = level <= settings.voiceLevel
            }
            selection.record(name, level: level, voice: voice)
        }
        playoutDepth = active > 0 ? Double(depths) / Double(active) : 0
    }

    /// The mean playout depth (frames held behind the one played) of this tick's sources.
    private var playoutDepth = 0.0

    /// Puts this tick's audio of `source` in its `pcm`; false when it has none.
    private func decode(_ source: MixSource) -> Bool {
        let pcm = source.pcm
        do throws(CodecError) {
            let n: Int
            switch source.buffer.pull() {
            case .idle:
                return false
            case .packet(_, let payload):
                n = try source.decoder.decode(payload, into: pcm)
                counters.decodes += 1
            case .lost(_, let next):
                if let next, let toc = try? OpusTOC(next), toc.mode != .celt {
                    n = try source.decoder.decodeFEC(from: next, into: pcm)
                    counters.fecRecoveries += 1
                } else {
                    n = try source.decoder.conceal(into: pcm)
                    counters.plcFrames += 1
                }
            }
            for i in n..<pcm.count { pcm[i] = 0 }
            return true
        } catch {
            counters.codecErrors += 1
            return false
        }
    }

    /// Encodes each distinct mix once and numbers each listener's packet; returns encodes.
    private func mix(_ speakers: [String], into output: inout MixerOutput) -> Int {
        for i in 0..<sum.count { sum[i] = 0 }
        for name in speakers {
            guard let source = sources[name], source.active else { continue }
            PCMMix.accumulate(UnsafeBufferPointer(source.pcm), into: sum)
        }
        var encodes = 0
        for i in 0..<listenerNames.count {
            let listener = listenerNames[i]
            let key: MixKey = speakers.contains(listener) ? .minus(listener) : .shared
            var index = output.mixes.firstIndex { $0.key == key }
            if index == nil, let encoded = encode(key) {
                encodes += 1
                output.mixes.append(encoded)
                index = output.mixes.count - 1
            }
            guard let index else {
                streams[i].skip()
                continue
            }
            let numbering = streams[i].next()
            output.listeners.append(ListenerPacket(listener: listener, mix: index, sequenceNumber: numbering.sequenceNumber,
                                                   timestamp: numbering.timestamp, marker: numbering.marker))
        }
        return encodes
    }

    private func encode(_ key: MixKey) -> EncodedMix? {
        var minus: UnsafeBufferPointer<Int16>?
        if case .minus(let name) = key, let source = sources[name], source.active {
            minus = UnsafeBufferPointer(source.pcm)
        }
        PCMMix.write(UnsafeBufferPointer(sum), minus: minus, into: mixPCM)
        let level = PCMMix.level(of: UnsafeBufferPointer(mixPCM))
        do throws(CodecError) {
            let encoder: OpusAudioEncoder
            if let existing = encoders[key] {
                encoder = existing
            } else if let spare = spareEncoders.popLast() {
                encoder = spare
                encoders[key] = encoder
            } else {
                encoder = try Self.makeEncoder(settings)
                encoders[key] = encoder
            }
            let n = try encoder.encode(UnsafeBufferPointer(mixPCM), into: packet)
            return EncodedMix(key: key, payload: Array(UnsafeRawBufferPointer(rebasing: packet[0..<n])),
                              level: AudioLevelExtension(level: level, voiceActivity: level <= settings.voiceLevel))
        } catch {
            counters.codecErrors += 1
            return nil
        }
    }

    /// A mix that was not made this tick has disappeared: its encoder is reset and kept
    /// for the next mix that appears.
    private func recycleEncoders(keeping mixes: [EncodedMix]) {
        for (key, encoder) in encoders where !mixes.contains(where: { $0.key == key }) {
            encoders.removeValue(forKey: key)
            encoder.reset()
            spareEncoders.append(encoder)
        }
    }

    private func finishCounters(encodes: Int, mixes: Int) {
        counters.ticks += 1
        counters.encodes += encodes
        counters.mixes = mixes
        let slot = Int((tickIndex - 1) % UInt64(encodeHistory.count))
        counters.encodesPerSecond += encodes - encodeHistory[slot]
        encodeHistory[slot] = encodes
        var buffers = removedBufferCounts
        for source in sources.values { buffers.add(source.buffer.counters) }
        counters.late = buffers.late
        counters.skipped = buffers.skipped
        counters.underruns = buffers.underruns
        counters.sources = sources.count
        counters.listeners = listenerNames.count
    }
}

extension PlayoutBuffer.Counters {
    mutating func add(_ other: Self) {
        inserted += other.inserted
        late += other.late
        skipped += other.skipped
        underruns += other.underruns
    }
}
