import Foundation
import GiaobanClient
import GiaobanCrypto
import GiaobanICE
import GiaobanTransport

extension MixingRelay {
    /// The same load on Janus AudioBridge (Debian's janus 1.1.2): one room; each participant
    /// attaches a handle, `join`s, then `configure`s with a send-receive audio offer, which
    /// AudioBridge answers; it mixes everyone and encodes a mix-minus for each participant.
    /// The speakers send the same tones as to the relay, on the same session that receives
    /// the mix; the others send nothing, or encoded silence with `--silent`.
    func runJanus(_ report: inout Report) async throws {
        guard let binary = janus ?? findOnPath("janus") else {
            throw JanusMissing(description: "not installed (apt-get install janus, or --janus PATH)")
        }
        progress("janus: starting \(binary) (AudioBridge, HTTP API on 127.0.0.1, ICE-lite)")
        let process = try JanusProcess(binary: binary, plugin: .audioBridge)
        defer { process.stop() }
        do {
            try await runJanus(process, &report)
        } catch {
            throw JanusMissing(description: "\(error); the end of Janus's log:\n\(process.logTail())")
        }
    }

    private func runJanus(_ process: JanusProcess, _ report: inout Report) async throws {
        let api = try JanusAPI(baseURL: process.baseURL)
        defer { api.destroy() }
        let context = try DTLSContext(certificate: DTLSCertificate())
        let load = MixLoad()
        load.start()
        defer { load.stop() }
        var joined = 0
        for count in counts {
            let joinStart = nowNanoseconds()
            while joined < count {
                try joinAudioBridge(index: joined, api: api, room: process.room, context: context, load: load)
                joined += 1
            }
            let joinSeconds = Double(nowNanoseconds() - joinStart) / 1e9
            progress("janus: \(count) participants joined (\(format(joinSeconds)) s); warm-up \(format(warmup)) s")
            try await Task.sleep(for: .seconds(warmup))
            let step = try await measure(server: "janus", participants: count, load: load, joinSeconds: joinSeconds,
                                         cpu: { process.cpuSeconds }, rss: { process.residentKiB }, metrics: { [:] })
            report.steps.append(step)
            progress(Self.line(step))
        }
    }

    /// One AudioBridge participant: attach, join, configure with the offer, ICE and DTLS.
    private func joinAudioBridge(index: Int, api: JanusAPI, room: Int, context: DTLSContext, load: MixLoad) throws {
        let handle = try api.attach(plugin: "janus.plugin.audiobridge")
        try api.message(handle, ["request": "join", "room": room, "display": "p\(index)", "muted": false])
        let host = "127.0.0.1"
        let socket = try UDPSocket(host: host)
        let ice = ICECredentials.random()
        let ssrc = 0x5E00_0000 &+ UInt32(index)
        let offer = ClientOffer(mode: .publish(audioSSRC: ssrc, videoSSRC: ssrc &+ 0x100), ice: ice, fingerprint: context.fingerprint,
                                host: host, port: socket.port)
        // Send and receive: AudioBridge sends each participant the mix on the same session.
        let sdp = offer.sdp.replacingOccurrences(of: "a=sendonly", with: "a=sendrecv")
        let configured = try api.message(handle, ["request": "configure", "muted": false], jsep: ["type": "offer", "sdp": sdp])
        guard let answerSDP = configured.jsep?["sdp"] as? String else { throw JanusAPI.Failure(description: "configure: no JSEP answer") }
        let answer = try RelayAnswer(sdp: answerSDP)
        let connection = ClientConnection(socket: socket, peer: try ClientPeer(localICE: ice, context: context, answer: answer, now: .now))
        try connection.connect()
        if index < speakers || silent {
            let tone = try MixLoad.encodedSecond(frequency: 300 + 230 * Double(index), amplitude: index < speakers ? 0.3 : 0)
            load.add(speaker: MixLoad.Speaker(connection: connection, ssrc: ssrc, levelExtensionID: answer.audioLevelExtensionID,
                                              packets: tone.packets, levels: tone.levels, listens: true))
        } else {
            load.add(listener: connection)
        }
    }
}
