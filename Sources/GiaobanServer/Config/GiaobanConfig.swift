public import GiaobanHub
import Foundation
/// The server's configuration: what `conf/giaoban.toml` holds after environment overrides,
/// typed and validated. Every key is documented in docs/configuration.md.
public struct GiaobanConfig: Sendable, Equatable {
    /// `[server]`: identity and logging.
    public struct Server: Sendable, Equatable {
        /// `server.name`: the node's name in logs and /version.
        public var name = "giaoban"
        /// `server.log_level`: trace, debug, info, notice, warning, error or critical.
        public var logLevel = "info"
    }

    /// `[http]`: the control-plane listener (REST, WHIP/WHEP, WebSocket, console).
    public struct HTTP: Sendable, Equatable {
        /// `http.address`: the address to bind.
        public var address = "127.0.0.1"
        /// `http.port`: the TCP port; 0 picks a free port (tests).
        public var port = 8080
        /// `http.max_body_bytes`: the largest request body accepted.
        public var maxBodyBytes = 1_048_576
        /// `http.tls_certificate`: PEM certificate chain; with `tls_private_key` the listener
        /// speaks HTTPS (and WSS) only. Empty: plain HTTP. Re-read on SIGHUP.
        public var tlsCertificate = ""
        /// `http.tls_private_key`: the PEM private key of `tls_certificate`.
        public var tlsPrivateKey = ""
        /// `http.hsts_max_age_s`: `Strict-Transport-Security` max-age sent over HTTPS (0: none).
        public var hstsMaxAgeS = 31_536_000

        /// True when the listener speaks HTTPS.
        public var usesTLS: Bool { !tlsCertificate.isEmpty }
    }

    /// `[media]`: the UDP media listener.
    public struct Media: Sendable, Equatable {
        /// `media.address`: the address the UDP socket binds.
        public var address = "127.0.0.1"
        /// `media.udp_port`: the one UDP port all peers share (ICE-lite, BUNDLE, rtcp-mux).
        public var udpPort = 40_000
        /// `media.udp_port_range`: "first-last"; when set, the relay binds the first free port
        /// of the range instead of `udp_port` (several relays on one host). Empty: not used.
        public var udpPortRange = ""
        /// `media.tcp_port`: the ICE-TCP listener (RFC 6544 passive candidate, RFC 4571 framing)
        /// for peers whose UDP is blocked, on `media.address`; 0: off.
        public var tcpPort = 0
        /// `media.workers`: egress lanes, each with a thread that protects and sends the
        /// packets of its share of the peers (the media thread is the first); 0: one per core.
        public var workers = 0
        /// `media.udp_segmentation`: the datagrams one flush sends to one peer leave in one
        /// segmented send (UDP_SEGMENT, Linux 4.18+) where their sizes allow; off by itself
        /// when the kernel refuses one.
        public var udpSegmentation = true

        /// The egress lanes to run: `workers`, or the number of cores when it is 0.
        public var workerCount: Int { workers > 0 ? workers : min(64, max(1, ProcessInfo.processInfo.activeProcessorCount)) }

        /// The ports to try, in order: the range if set, else `udpPort`.
        public var candidatePorts: ClosedRange<Int> {
            let parts = udpPortRange.split(separator: "-").compactMap { Int($0.trimmingWhitespace()) }
            return parts.count == 2 ? parts[0]...parts[1] : udpPort...udpPort
        }
        /// `media.announced_address`: the address put in ICE candidates when the relay is
        /// behind NAT; empty means `media.address`.
        public var announcedAddress = ""
        /// `media.keyframe_request_interval_ms`: at most one keyframe request per publisher per interval.
        public var keyframeRequestIntervalMs = 500
        /// `media.packet_cache`: video packets kept at most per encoding to answer NACKs.
        public var packetCache = 1024
        /// `media.packet_cache_kib`: bytes of video packets kept per encoding (KiB).
        public var packetCacheKiB = 256
        /// `media.certificate` / `media.private_key`: PEM files of the DTLS identity; empty
        /// means a new ECDSA P-256 certificate at every start.
        public var certificate = ""
        /// The private key PEM file matching `certificate`.
        public var privateKey = ""
        /// `media.ice_servers`: STUN/TURN URLs handed to clients by `GET /api/ice-servers`.
        public var iceServers: [ICEServerURL] = []
        /// `media.turn_secret_file`: the TURN REST shared secret (coturn's `static-auth-secret`).
        public var turnSecretFile = ""
        /// `media.turn_credential_ttl_s`: how long a minted TURN credential stays valid.
        public var turnCredentialTTLSeconds = 3_600
    }

    /// `[auth]`: tokens.
    public struct Auth: Sendable, Equatable {
        /// `auth.secret_file`: the HS256 secret for tokens; created (random, mode 0600) if missing.
        public var secretFile = "var/token.secret"
    }

    /// `[storage]`: where durable records (incidents, …) are kept.
    public struct Storage: Sendable, Equatable {
        /// `storage.backend`: "sqlite" (one node, the default) or "postgresql" (several nodes).
        public var backend = "sqlite"
        /// `storage.sqlite_path`: the SQLite database file (WAL); its directory is created if missing.
        public var sqlitePath = "var/giaoban.sqlite"
        /// `storage.postgresql_url`: a libpq conninfo string or `postgresql://` URL; required
        /// when `backend` is "postgresql".
        public var postgresqlURL = ""
        /// `storage.recordings_dir`: meeting recordings, one directory per meeting id (docs/recording.md).
        public var recordingsDir = "var/recordings"
        /// `storage.recordings_max_age_days`: meeting recordings unchanged for longer are deleted (0: kept).
        public var recordingsMaxAgeDays = 0
        /// `storage.recordings_max_total_mib`: the oldest meeting recordings are deleted beyond this total (0: no limit).
        public var recordingsMaxTotalMiB = 0
    }

    /// `[hub]`: the operations hub (incidents, briefings, directory, meetings).
    public struct HubSection: Sendable, Equatable {
        /// `hub.directory_file`: JSON with the communes (GeoJSON areas) and cameras; seeds an
        /// empty database. Empty: no seeding.
        public var directoryFile = "conf/province.json"
        /// `hub.routing_radius_m`: communes within this distance of an incident are notified too.
        public var routingRadiusM = 1_000
        /// `hub.ack_timeout_s`: an incident a commune has not acknowledged after this long is escalated.
        public var ackTimeoutS = 300
        /// `hub.escalation_check_s`: how often overdue acknowledgements are looked for.
        public var escalationCheckS = 5
        /// `hub.max_snapshot_bytes`: the largest incident snapshot (JPEG).
        public var maxSnapshotBytes = 524_288
        /// `hub.max_attachment_bytes`: the largest total of a briefing's attachments.
        public var maxAttachmentBytes = 524_288

        /// The hub's runtime settings.
        public func settings(maxBodyBytes: Int, security: Security) -> Hub.Settings {
            var s = Hub.Settings()
            s.maxSocketsPerSubject = security.maxSocketsPerSubject
            s.accessTokenLifetimeSeconds = Int64(security.accessTokenLifetimeS)
            s.rateLimits.incidentsPerMinute = security.incidentsPerMinute
            s.rateLimits.briefingsPerMinute = security.briefingsPerMinute
            s.rateLimits.signInsPerMinute = security.signInsPerMinute
            s.rateLimits.roomJoinsPerMinute = security.roomJoinsPerMinute
            s.routingRadiusMetres = Double(routingRadiusM)
            s.acknowledgementTimeoutMilliseconds = Int64(ackTimeoutS) * 1000
            s.escalationCheckInterval = .seconds(escalationCheckS)
            s.maxSnapshotBytes = maxSnapshotBytes
            s.maxAttachmentBytes = maxAttachmentBytes
            s.maxBodyBytes = maxBodyBytes
            return s
        }
    }

    /// `[meetings]`: meeting rooms.
    public struct Meetings: Sendable, Equatable {
        /// `meetings.loudest_audio`: only this many of the loudest participants' audio is
        /// forwarded in a room (0: everyone's).
        public var loudestAudio = 3
        /// `meetings.mix_width` × `meetings.mix_height` at `meetings.mix_fps`: the composed video
        /// of mixed mode (chair or spotlight large, the active speaker small).
        public var mixWidth = 640
        public var mixHeight = 360
        public var mixFramesPerSecond = 15
        /// `meetings.mix_video_kbps`: its VP8 bitrate.
        public var mixVideoKbps = 500
        /// `meetings.last_n`: only the video of the last this-many speakers (plus the chair and
        /// the spotlight) is forwarded in a room (0: everyone's).
        public var lastN = 0
        /// `meetings.seat_grace_s`: how long a seat whose socket dropped waits for a reconnect.
        public var seatGraceSeconds = 15
        /// `meetings.record`: "off", "on_request" (the chair starts and stops it) or "always"
        /// (from the first participant); docs/recording.md.
        public var record = "off"
        /// `meetings.record_minutes`: a recorded meeting also gets its minutes file (the composed
        /// picture and the full mix, made by the meeting's mixer); false records the
        /// participants' files only, without the mixer's CPU.
        public var recordMinutes = true
    }

    /// `[security]`: limits per subject and on tokens (docs/security.md).
    public struct Security: Sendable, Equatable {
        /// `security.max_media_sessions_per_subject`: WHIP/WHEP and room media sessions one
        /// token subject may hold at once; beyond it 429.
        public var maxMediaSessionsPerSubject = 32
        /// `security.max_sockets_per_subject`: event and room WebSockets one subject may hold open
        /// at once; beyond it the new socket is closed with the reason.
        public var maxSocketsPerSubject = 16
        /// `security.max_token_lifetime_s`: tokens whose `exp - iat` is longer are refused.
        public var maxTokenLifetimeS = 31_622_400
        /// `security.metrics_token_file`: a file whose content, sent as `Authorization: Bearer`,
        /// may read /metrics (a Prometheus scraper); empty: only admin and observer tokens may.
        public var metricsTokenFile = ""
        /// `security.nack_max_per_packet`: how often one cached packet is sent again to one watcher.
        public var nackMaxPerPacket = 3
        /// `security.nack_max_per_second`: retransmissions per watcher per second at most.
        public var nackMaxPerSecond = 500
        /// `security.http_idle_timeout_s`: an HTTP connection with no complete request for this
        /// long (idle, or a header still arriving) is closed.
        public var httpIdleTimeoutS = 30
        /// `security.shutdown_timeout_s`: SIGTERM finishes within this long, whatever clients do.
        public var shutdownTimeoutS = 10
        /// `security.postgresql_statement_timeout_ms`: a PostgreSQL statement running longer fails.
        public var postgresqlStatementTimeoutMs = 10_000
        /// `security.access_token_lifetime_s`: lifetime of the access token a password sign-in gives.
        public var accessTokenLifetimeS = 600
        /// `security.incidents_per_minute`, `briefings_per_minute`, `signins_per_minute`,
        /// `room_joins_per_minute`: requests one subject may make per minute; beyond, 429 with
        /// `Retry-After` (a room join: closed with 1008 and the wait).
        public var incidentsPerMinute = 120
        public var briefingsPerMinute = 20
        public var signInsPerMinute = 10
        public var roomJoinsPerMinute = 30
    }

    /// `[cameras]`: pulling the directory cameras' RTSP streams (docs/cameras.md).
    public struct Cameras: Sendable, Equatable {
        /// `cameras.secrets_file`: JSON `{"<camera id>": {"username": …, "password": …}}`, mode
        /// 0600; empty: cameras without credentials only.
        public var secretsFile = ""
        /// `cameras.transport`: "tcp" (RTP interleaved on the RTSP connection) or "udp".
        public var transport = "tcp"
        /// `cameras.check_s`: how often the directory is read for cameras added, changed or removed.
        public var checkS = 10
    }

    /// `[cascade]`: this relay as a child of a parent relay (docs/cascade.md): a WHEP watcher
    /// of a stream nobody publishes here is served from the parent over one trunk.
    public struct Cascade: Sendable, Equatable {
        /// `cascade.parent`: the parent's base URL (`https://province.example:8443`); empty: no parent.
        public var parent = ""
        /// `cascade.key_file`: a file holding the bearer this relay shows the parent (an API key
        /// of an account on the parent, `gbk_…`), mode 0600; never logged.
        public var keyFile = ""
        /// `cascade.ca_file`: PEM CA certificates for an https parent (empty: the system's).
        public var caFile = ""
        /// `cascade.local_address`: the address the trunk's media socket binds and offers
        /// (empty: `media.address`, or `media.announced_address` when that is 0.0.0.0).
        public var localAddress = ""
        /// `cascade.idle_s`: a trunk nobody here has watched for this long is closed.
        public var idleS = 30

        /// Whether a parent is configured.
        public var isEnabled: Bool { !parent.isEmpty }
    }

    /// `[cluster]`: this node among the nodes sharing a PostgreSQL database (docs/postgresql.md,
    /// "Meetings across nodes").
    public struct Cluster: Sendable, Equatable {
        /// `cluster.public_url`: this node's base URL as clients reach it, where participants
        /// are sent to open a meeting room this node holds (empty: `http(s)://<http.address>:<port>`).
        public var publicURL = ""
        /// `cluster.room_lease_s`: a node's claim on a meeting room lapses this long after its
        /// last renewal (renewed every second): how soon another node takes the rooms of a
        /// node that died.
        public var roomLeaseS = 5
        /// `cluster.proxy_rooms`: a participant who opens a meeting room another node holds stays
        /// on this node (its room socket passed to the holder, its downlink served here from
        /// trunks); false sends it there with `moved` (docs/postgresql.md).
        public var proxyRooms = true

        /// The base URL participants are sent to: `public_url`, else the control plane's own.
        public func url(http: HTTP) -> String {
            guard publicURL.isEmpty else { return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL }
            let host = http.address.contains(":") ? "[\(http.address)]" : http.address
            return "\(http.usesTLS ? "https" : "http")://\(host):\(http.port)"
        }
    }

    /// `[cluster]` settings.
    public var cluster = Cluster()
    /// `[cascade]` settings.
    public var cascade = Cascade()
    /// `[cameras]` settings.
    public var cameras = Cameras()
    /// `[security]` settings.
    public var security = Security()
    /// `[server]` settings.
    public var server = Server()
    /// `[meetings]` settings.
    public var meetings = Meetings()
    /// `[hub]` settings.
    public var hub = HubSection()
    /// `[auth]` settings.
    public var auth = Auth()
    /// `[http]` settings.
    public var http = HTTP()
    /// `[media]` settings.
    public var media = Media()
    /// `[storage]` settings.
    public var storage = Storage()

    /// The built-in defaults (the same values conf/giaoban.toml ships with).
    public init() {}

    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Builds a configuration from parsed file values; unknown keys and wrong types are errors.
    public init(_ file: ConfigFile, source: String = "configuration") throws(ConfigError) {
        var reader = Reader(file: file, source: source)
        server.name = try reader.string("server.name", default: server.name)
        server.logLevel = try reader.string("server.log_level", default: server.logLevel)
        http.address = try reader.string("http.address", default: http.address)
        http.port = try reader.integer("http.port", default: http.port, in: 0...65_535)
        http.maxBodyBytes = try reader.integer("http.max_body_bytes", default: http.maxBodyBytes, in: 1_024...(1 << 30))
        http.tlsCertificate = try reader.string("http.tls_certificate", default: http.tlsCertificate)
        http.tlsPrivateKey = try reader.string("http.tls_private_key", default: http.tlsPrivateKey)
        http.hstsMaxAgeS = try reader.integer("http.hsts_max_age_s", default: http.hstsMaxAgeS, in: 0...(2 * 366 * 86_400))
        if http.tlsCertificate.isEmpty != http.tlsPrivateKey.isEmpty {
            throw ConfigError("http.tls_certificate and http.tls_private_key go together: set both (HTTPS) or neither (HTTP)")
        }
        media.address = try reader.string("media.address", default: media.address)
        media.udpPort = try reader.integer("media.udp_port", default: media.udpPort, in: 0...65_535)
        media.announcedAddress = try reader.string("media.announced_address", default: media.announcedAddress)
        media.udpPortRange = try reader.string("media.udp_port_range", default: media.udpPortRange)
        media.tcpPort = try reader.integer("media.tcp_port", default: media.tcpPort, in: 0...65_535)
        media.workers = try reader.integer("media.workers", default: media.workers, in: 0...64)
        media.udpSegmentation = try reader.boolean("media.udp_segmentation", default: media.udpSegmentation)
        if !media.udpPortRange.isEmpty {
            let parts = media.udpPortRange.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingWhitespace()) }
            guard parts.count == 2, let first = parts[0], let last = parts[1], 1 <= first, first <= last, last <= 65_535 else {
                throw ConfigError("\(source): media.udp_port_range must be \"first-last\" with 1 ≤ first ≤ last ≤ 65535, got \"\(media.udpPortRange)\"")
            }
        }
        media.keyframeRequestIntervalMs = try reader.integer("media.keyframe_request_interval_ms",
                                                            default: media.keyframeRequestIntervalMs, in: 0...60_000)
        media.packetCache = try reader.integer("media.packet_cache", default: media.packetCache, in: 16...65_536)
        media.packetCacheKiB = try reader.integer("media.packet_cache_kib", default: media.packetCacheKiB, in: 16...65_536)
        media.certificate = try reader.string("media.certificate", default: media.certificate)
        media.privateKey = try reader.string("media.private_key", default: media.privateKey)
        try readICEServers(&reader, source: source)
        auth.secretFile = try reader.string("auth.secret_file", default: auth.secretFile)
        security.maxMediaSessionsPerSubject = try reader.integer("security.max_media_sessions_per_subject",
                                                                 default: security.maxMediaSessionsPerSubject, in: 1...100_000)
        security.maxSocketsPerSubject = try reader.integer("security.max_sockets_per_subject",
                                                           default: security.maxSocketsPerSubject, in: 1...100_000)
        security.maxTokenLifetimeS = try reader.integer("security.max_token_lifetime_s",
                                                        default: security.maxTokenLifetimeS, in: 60...(100 * 366 * 86_400))
        security.metricsTokenFile = try reader.string("security.metrics_token_file", default: security.metricsTokenFile)
        security.nackMaxPerPacket = try reader.integer("security.nack_max_per_packet", default: security.nackMaxPerPacket, in: 1...100)
        security.nackMaxPerSecond = try reader.integer("security.nack_max_per_second", default: security.nackMaxPerSecond, in: 1...1_000_000)
        security.httpIdleTimeoutS = try reader.integer("security.http_idle_timeout_s", default: security.httpIdleTimeoutS, in: 1...3_600)
        security.shutdownTimeoutS = try reader.integer("security.shutdown_timeout_s", default: security.shutdownTimeoutS, in: 1...600)
        security.postgresqlStatementTimeoutMs = try reader.integer("security.postgresql_statement_timeout_ms",
                                                                   default: security.postgresqlStatementTimeoutMs, in: 0...3_600_000)
        security.accessTokenLifetimeS = try reader.integer("security.access_token_lifetime_s",
                                                           default: security.accessTokenLifetimeS, in: 5...86_400)
        security.incidentsPerMinute = try reader.integer("security.incidents_per_minute", default: security.incidentsPerMinute, in: 1...1_000_000)
        security.briefingsPerMinute = try reader.integer("security.briefings_per_minute", default: security.briefingsPerMinute, in: 1...1_000_000)
        security.signInsPerMinute = try reader.integer("security.signins_per_minute", default: security.signInsPerMinute, in: 1...1_000_000)
        security.roomJoinsPerMinute = try reader.integer("security.room_joins_per_minute", default: security.roomJoinsPerMinute, in: 1...1_000_000)
        cameras.secretsFile = try reader.string("cameras.secrets_file", default: cameras.secretsFile)
        cameras.transport = try reader.string("cameras.transport", default: cameras.transport)
        guard ["tcp", "udp"].contains(cameras.transport) else {
            throw ConfigError("cameras.transport must be \"tcp\" or \"udp\", not \"\(cameras.transport)\"")
        }
        cameras.checkS = try reader.integer("cameras.check_s", default: cameras.checkS, in: 1...3_600)
        cascade.parent = try reader.string("cascade.parent", default: cascade.parent)
        cascade.keyFile = try reader.string("cascade.key_file", default: cascade.keyFile)
        cascade.caFile = try reader.string("cascade.ca_file", default: cascade.caFile)
        cascade.localAddress = try reader.string("cascade.local_address", default: cascade.localAddress)
        cascade.idleS = try reader.integer("cascade.idle_s", default: cascade.idleS, in: 1...86_400)
        guard cascade.parent.isEmpty || cascade.parent.hasPrefix("http://") || cascade.parent.hasPrefix("https://") else {
            throw ConfigError("\(source): cascade.parent must be an http:// or https:// URL, not '\(cascade.parent)'")
        }
        guard cascade.parent.isEmpty || !cascade.keyFile.isEmpty else {
            throw ConfigError("\(source): cascade.key_file must name the file with this relay's key on the parent when cascade.parent is set")
        }
        cluster.publicURL = try reader.string("cluster.public_url", default: cluster.publicURL)
        cluster.roomLeaseS = try reader.integer("cluster.room_lease_s", default: cluster.roomLeaseS, in: 2...120)
        cluster.proxyRooms = try reader.boolean("cluster.proxy_rooms", default: cluster.proxyRooms)
        guard cluster.publicURL.isEmpty || cluster.publicURL.hasPrefix("http://") || cluster.publicURL.hasPrefix("https://") else {
            throw ConfigError("\(source): cluster.public_url must be an http:// or https:// URL, not '\(cluster.publicURL)'")
        }
        meetings.loudestAudio = try reader.integer("meetings.loudest_audio", default: meetings.loudestAudio, in: 0...64)
        meetings.lastN = try reader.integer("meetings.last_n", default: meetings.lastN, in: 0...200)
        meetings.mixWidth = try reader.integer("meetings.mix_width", default: meetings.mixWidth, in: 64...1920) & ~1
        meetings.mixHeight = try reader.integer("meetings.mix_height", default: meetings.mixHeight, in: 64...1080) & ~1
        meetings.mixFramesPerSecond = try reader.integer("meetings.mix_fps", default: meetings.mixFramesPerSecond, in: 1...30)
        meetings.mixVideoKbps = try reader.integer("meetings.mix_video_kbps", default: meetings.mixVideoKbps, in: 50...5_000)
        meetings.seatGraceSeconds = try reader.integer("meetings.seat_grace_s", default: meetings.seatGraceSeconds, in: 0...600)
        hub.directoryFile = try reader.string("hub.directory_file", default: hub.directoryFile)
        hub.routingRadiusM = try reader.integer("hub.routing_radius_m", default: hub.routingRadiusM, in: 0...100_000)
        hub.ackTimeoutS = try reader.integer("hub.ack_timeout_s", default: hub.ackTimeoutS, in: 1...86_400)
        hub.escalationCheckS = try reader.integer("hub.escalation_check_s", default: hub.escalationCheckS, in: 1...3_600)
        hub.maxSnapshotBytes = try reader.integer("hub.max_snapshot_bytes", default: hub.maxSnapshotBytes, in: 0...(64 << 20))
        hub.maxAttachmentBytes = try reader.integer("hub.max_attachment_bytes", default: hub.maxAttachmentBytes, in: 0...(64 << 20))
        storage.backend = try reader.string("storage.backend", default: storage.backend)
        storage.sqlitePath = try reader.string("storage.sqlite_path", default: storage.sqlitePath)
        storage.postgresqlURL = try reader.string("storage.postgresql_url", default: storage.postgresqlURL)
        storage.recordingsDir = try reader.string("storage.recordings_dir", default: storage.recordingsDir)
        storage.recordingsMaxAgeDays = try reader.integer("storage.recordings_max_age_days", default: storage.recordingsMaxAgeDays,
                                                          in: 0...36_500)
        storage.recordingsMaxTotalMiB = try reader.integer("storage.recordings_max_total_mib", default: storage.recordingsMaxTotalMiB,
                                                           in: 0...(1 << 30))
        meetings.record = try reader.string("meetings.record", default: meetings.record)
        meetings.recordMinutes = try reader.boolean("meetings.record_minutes", default: meetings.recordMinutes)
        guard ["off", "on_request", "always"].contains(meetings.record) else {
            throw ConfigError("\(source): meetings.record '\(meetings.record)' is not one of off, on_request, always")
        }
        guard !storage.recordingsDir.isEmpty || meetings.record == "off" else {
            throw ConfigError("\(source): storage.recordings_dir must name a directory when meetings.record is not \"off\"")
        }
        switch storage.backend {
        case "sqlite":
            guard !storage.sqlitePath.isEmpty else {
                throw ConfigError("\(source): storage.sqlite_path must name a file")
            }
        case "postgresql":
            guard !storage.postgresqlURL.isEmpty else {
                throw ConfigError("\(source): storage.backend \"postgresql\" needs storage.postgresql_url (e.g. \"postgresql://giaoban@db1/giaoban\")")
            }
        default:
            throw ConfigError("\(source): storage.backend '\(storage.backend)' is not one of sqlite, postgresql")
        }
        guard media.certificate.isEmpty == media.privateKey.isEmpty else {
            throw ConfigError("\(source): media.certificate and media.private_key must be set together")
        }
        guard Self.logLevels.contains(server.logLevel) else {
            throw ConfigError("\(source): server.log_level '\(server.logLevel)' is not one of \(Self.logLevels.joined(separator: ", "))")
        }
        try reader.rejectUnknownKeys()
    }

    /// Reads the file at `path` (if given) and applies `GIAOBAN_<SECTION>_<KEY>` environment
    /// overrides, e.g. `GIAOBAN_HTTP_PORT=9000` sets `http.port`.
    public static func load(path: String?, environment: [String: String]) throws(ConfigError) -> GiaobanConfig {
        var file = ConfigFile()
        let source = path ?? "defaults"
        if let path {
            let text: String
            do { text = try readTextFile(path) } catch { throw ConfigError("cannot read \(path): \(error)") }
            file = try ConfigFile(parsing: text, source: path)
        }
        try applyEnvironment(environment, to: &file)
        return try GiaobanConfig(file, source: source)
    }

    /// `GIAOBAN_*` variables that are not server settings: the configuration file's path and
    /// the endpoint client's CA file (a station may run both with one environment).
    static let notServerSettings: Set<String> = ["GIAOBAN_CONFIG", "GIAOBAN_CA_FILE"]

    /// Applies `GIAOBAN_SECTION_KEY=value` overrides; values parse like file values, and a
    /// bare word that is not a number or boolean is taken as a string.
    static func applyEnvironment(_ environment: [String: String], to file: inout ConfigFile) throws(ConfigError) {
        for (name, raw) in environment where name.hasPrefix("GIAOBAN_") && !Self.notServerSettings.contains(name) {
            let parts = name.dropFirst("GIAOBAN_".count).lowercased().split(separator: "_", maxSplits: 1)
            guard parts.count == 2 else { throw ConfigError("environment \(name): expected GIAOBAN_<SECTION>_<KEY>") }
            let key = "\(parts[0]).\(parts[1])"
            var text = Substring(raw)
            let value = (try? ConfigFile.parseValue(&text, where: name)).flatMap { text.isEmpty ? $0 : nil }
            file.set(key, value ?? .string(raw))
        }
    }

    /// Reads typed values and remembers which keys were used.
    struct Reader {
        let file: ConfigFile
        let source: String
        var used: Set<String> = []

        mutating func string(_ key: String, default value: String) throws(ConfigError) -> String {
            used.insert(key)
            guard let v = file.values[key] else { return value }
            guard case .string(let s) = v else { throw mismatch(key, "a string in quotes", v) }
            return s
        }

        mutating func integer(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
            used.insert(key)
            guard let v = file.values[key] else { return value }
            guard case .integer(let i) = v else { throw mismatch(key, "an integer", v) }
            guard range.contains(i) else {
                throw ConfigError("\(location(key)): \(key) = \(i) is outside \(range.lowerBound)…\(range.upperBound)")
            }
            return i
        }

        mutating func boolean(_ key: String, default value: Bool) throws(ConfigError) -> Bool {
            used.insert(key)
            guard let v = file.values[key] else { return value }
            guard case .boolean(let b) = v else { throw mismatch(key, "true or false", v) }
            return b
        }

        func rejectUnknownKeys() throws(ConfigError) {
            if let unknown = file.values.keys.sorted().first(where: { !used.contains($0) }) {
                throw ConfigError("\(location(unknown)): unknown key '\(unknown)' (see docs/configuration.md)")
            }
        }

        func location(_ key: String) -> String {
            let line = file.lines[key] ?? 0
            return line > 0 ? "\(source):\(line)" : "\(source) (environment)"
        }

        func mismatch(_ key: String, _ expected: String, _ got: ConfigFile.Value) -> ConfigError {
            ConfigError("\(location(key)): \(key) must be \(expected), got \(got)")
        }
    }
}
