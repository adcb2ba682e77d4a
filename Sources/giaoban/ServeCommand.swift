import ArgumentParser
import Foundation
import GiaobanCrypto
import GiaobanEngine
import GiaobanServer
import Logging
import Synchronization
import GiaobanAuth
import GiaobanHub
import GiaobanStore

#if canImport(Glibc)
import Glibc
#endif

/// `giaoban serve`: loads the configuration and runs the server until SIGINT/SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the relay and control plane.",
        discussion: """
            Reads the configuration file (default conf/giaoban.toml, or $GIAOBAN_CONFIG), then applies \
            GIAOBAN_<SECTION>_<KEY> environment overrides, e.g. GIAOBAN_HTTP_PORT=9000. \
            See docs/configuration.md.
            """
    )

    @Option(name: .shortAndLong, help: "Configuration file (TOML subset).")
    var config: String?

    @Flag(help: "Load and validate the configuration, print it, and exit.")
    var checkConfig = false

    func run() async throws {
        let env = ProcessInfoLite.environment
        let path = config ?? env["GIAOBAN_CONFIG"] ?? (fileExists("conf/giaoban.toml") ? "conf/giaoban.toml" : nil)
        let settings: GiaobanConfig
        do {
            settings = try GiaobanConfig.load(path: path, environment: env)
        } catch {
            throw ValidationError("configuration: \(error)")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: settings.server.logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "giaoban")
        if checkConfig {
            print(settings)
            return
        }
        logger.info("starting", metadata: [
            "version": "\(GiaobanVersion.string)",
            "config": "\(path ?? "built-in defaults")",
            "http": "\(settings.http.usesTLS ? "https" : "http")://\(settings.http.address):\(settings.http.port)",
        ])
        let tls: TLSIdentity?
        if settings.http.usesTLS {
            do { tls = try TLSIdentity(certificatePath: settings.http.tlsCertificate, privateKeyPath: settings.http.tlsPrivateKey) } catch {
                throw ValidationError("configuration: \(error)")
            }
        } else {
            tls = nil
        }
        let (secret, created) = try TokenAuthority.loadOrCreateSecret(at: settings.auth.secretFile)
        if created { logger.notice("created a new token secret", metadata: ["file": "\(settings.auth.secretFile)"]) }
        do { try ControlPlane.checkSecurityFiles(config: settings) } catch { throw ValidationError("configuration: \(error)") }
        // The TURN secret is read here only to fail early; /api/ice-servers reads it again and never logs it.
        do { _ = try TURNCredentials.configured(settings.media) } catch { throw ValidationError("configuration: \(error)") }
        let certificate = try loadCertificate(settings.media)
        var mediaSettings = MediaRouter.Settings()
        mediaSettings.keyframeRequestInterval = .milliseconds(settings.media.keyframeRequestIntervalMs)
        mediaSettings.packetCacheSize = settings.media.packetCache
        mediaSettings.packetCacheBytes = settings.media.packetCacheKiB * 1024
        mediaSettings.nackMaxPerPacket = settings.security.nackMaxPerPacket
        mediaSettings.nackMaxPerSecond = settings.security.nackMaxPerSecond
        let media = try MediaServer(address: settings.media.address, ports: settings.media.candidatePorts,
                                    tcpPort: settings.media.tcpPort == 0 ? nil : settings.media.tcpPort,
                                    announcedAddress: settings.media.announcedAddress, certificate: certificate,
                                    settings: mediaSettings, workers: settings.media.workerCount,
                                    segmentation: settings.media.udpSegmentation, logger: logger)
        // One authority for every route, so that the revocations of disabled accounts apply everywhere.
        var tokens = TokenAuthority(secret: secret, maxLifetime: Int64(settings.security.maxTokenLifetimeS))
        tokens.revocations = SubjectRevocations()
        tokens.apiKeys = APIKeyGrants()
        let sessions = RelaySessions(media: media, tokens: tokens,
                                     maxBodyBytes: settings.http.maxBodyBytes,
                                     maxSessionsPerSubject: settings.security.maxMediaSessionsPerSubject, logger: logger)
        let hub: Hub
        do { hub = try await Hub.open(config: settings, tokens: tokens, logger: logger) } catch {
            throw ValidationError("\(error)")
        }
        sessions.onPresence { stream, subject, role, joined in
            Task { await hub.recordPresence(stream: stream, subject: subject, role: role, joined: joined) }
        }
        let webRoot = fileExists("web") ? "web" : nil
        let rooms = MeetingRooms(hub: hub, sessions: sessions, logger: logger,
                                 loudestAudio: settings.meetings.loudestAudio,
                                 mixVideo: settings.meetings.mixVideo,
                                 lastN: settings.meetings.lastN,
                                 seatGrace: .seconds(settings.meetings.seatGraceSeconds),
                                 recording: MeetingRecordingSettings(mode: settings.meetings.record,
                                                                     directory: settings.storage.recordingsDir, secret: secret,
                                                                     minutes: settings.meetings.recordMinutes))
        let clusterOrigin = settings.storage.backend == "postgresql" ? hub.cluster.withLock({ $0?.origin }) : nil
        if let origin = clusterOrigin {
            if settings.cluster.publicURL.isEmpty, ["0.0.0.0", "::", ""].contains(settings.http.address) {
                logger.warning("set cluster.public_url: participants sent to this node need an address they can reach",
                               metadata: ["http.address": "\(settings.http.address)"])
            }
            rooms.joinCluster(database: hub.database, node: origin, url: settings.cluster.url(http: settings.http),
                              lease: .seconds(settings.cluster.roomLeaseS))
        }
        let application = ControlPlane.application(config: settings,
                                           services: .init(sessions: sessions, webRoot: webRoot, hub: hub, rooms: rooms),
                                           tls: tls, logger: logger)
        let cameras = CameraRelay(media: media, hub: hub, settings: settings.cameras, logger: logger)
        rooms.attach(cameras: cameras)
        // Streams nobody publishes here are pulled over a trunk: from the node of the cluster
        // that publishes them (PostgreSQL), else from the parent relay (`[cascade]`).
        var trunks: RelayTrunks?
        let mediaAddress = settings.media.address == "0.0.0.0" && !settings.media.announcedAddress.isEmpty
            ? settings.media.announcedAddress : settings.media.address
        var parent: RelayTrunks.Source?
        let caFile = settings.cascade.caFile.isEmpty ? nil : settings.cascade.caFile
        if settings.cascade.isEnabled {
            do {
                parent = RelayTrunks.Source(url: settings.cascade.parent, bearer: try RelayTrunks.readKey(settings.cascade.keyFile),
                                            caFile: caFile)
            } catch { throw ValidationError("configuration: \(error)") }
            logger.notice("streams nobody publishes here come from the parent relay", metadata: ["parent": "\(settings.cascade.parent)"])
        }
        if clusterOrigin != nil, settings.cluster.proxyRooms {
            rooms.proxyRooms(caFile: caFile)
            logger.notice("participants of meeting rooms other nodes hold are served here: their sockets passed on, their downlinks from trunks")
        }
        if parent != nil || clusterOrigin != nil {
            let directory = StreamDirectory(database: hub.database)
            let (lease, clock, authority) = (Int64(settings.cluster.roomLeaseS) * 1000, hub.clock, tokens)
            let subject = "relay-" + settings.server.name
            let locate: RelayTrunks.Locator = { [parent] stream in
                if let origin = clusterOrigin,
                   let url = try? await directory.locate(stream, except: origin, since: clock() - 3 * lease) ?? rooms.proxiedHolder(ofStream: stream) {
                    // Nodes of a cluster share the token secret: this node signs its own short-lived bearer.
                    // It carries the nodes' own claim: a meeting participant's stream is given to nobody else.
                    let now = clock() / 1000
                    var claims = TokenClaims(sub: subject, role: .observer, exp: now + 3_600, iat: now)
                    claims.relay = true
                    return RelayTrunks.Source(url: url, bearer: authority.issue(claims), caFile: caFile)
                }
                // A meeting's streams are the cluster's: never asked of a parent relay.
                return RelaySessions.roomMeeting(stream) == nil ? parent : nil
            }
            do {
                trunks = try RelayTrunks(locate: locate, idle: .seconds(settings.cascade.idleS),
                                         bindAddress: settings.cascade.localAddress.isEmpty ? mediaAddress : settings.cascade.localAddress,
                                         media: media, logger: logger)
            } catch { throw ValidationError("configuration: \(error)") }
            trunks.map(sessions.setUpstream)
            if clusterOrigin != nil {
                logger.notice("streams published on another node of the cluster are pulled from it when watched here")
            }
        }
        let retention = RecordingRetentionService(retention: rooms.recordingRetention(
            maxAgeDays: settings.storage.recordingsMaxAgeDays, maxTotalMiB: settings.storage.recordingsMaxTotalMiB))
        // SIGHUP (`systemctl reload`): read the certificate and key again (a renewed certificate),
        // meetings untouched. Without TLS there is nothing to reload, but the signal must not end
        // the process as its default action would.
        let reload = SignalWatch(signal: SIGHUP) {
            if let tls { tls.reload(logger: logger) } else { logger.notice("SIGHUP: no TLS certificate to reload") }
        }
        defer { reload.cancel() }
        // Started in this order, stopped in reverse on SIGTERM/SIGINT: HTTP answers what is in
        // flight and closes, the escalation timer stops, then the media thread and its socket.
        try await ShutdownWatchdog.run([MediaService(media: media), EscalationService(hub: hub), AccountRevocationService(hub: hub, sessions: sessions), retention, RecordingShutdownService(rooms: rooms),
                                        CameraRelayService(relay: cameras, interval: .seconds(settings.cameras.checkS)),
                                        RelayTrunksService(trunks: trunks, sessions: sessions, served: rooms.servesProxied),
                                        application],
                                       timeout: .seconds(settings.security.shutdownTimeoutS), media: media, logger: logger)
    }
}

/// The DTLS identity: from the configured PEM files, or generated for this run.
func loadCertificate(_ media: GiaobanConfig.Media) throws -> DTLSCertificate {
    guard !media.certificate.isEmpty else { return try DTLSCertificate() }
    do {
        return try DTLSCertificate(certificatePEM: String(contentsOfFile: media.certificate, encoding: .utf8),
                                   privateKeyPEM: String(contentsOfFile: media.privateKey, encoding: .utf8))
    } catch {
        throw ValidationError("media.certificate / media.private_key: \(error)")
    }
}

/// The process environment without Foundation.
enum ProcessInfoLite {
    static var environment: [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { result[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return result
    }
}

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }
