public import GiaobanEngine
public import Hummingbird
public import Logging
import HummingbirdCore
import HummingbirdWebSocket
import NIOCore
public import GiaobanAuth
public import GiaobanHub

/// The HTTP control plane: builds the Hummingbird application that serves Giaoban's routes.
public enum ControlPlane {
    /// What `GET /version` answers.
    struct VersionInfo: ResponseEncodable {
        let name: String
        let version: String
    }

    /// The parts of the server the routes use.
    public struct Services: Sendable {
        /// WHIP/WHEP sessions on the media plane (nil: no media plane, e.g. in some tests).
        public var sessions: RelaySessions?
        /// Where static pages are served from (nil: none).
        public var webRoot: String?
        /// The operations hub (nil: no storage, its routes are absent).
        public var hub: Hub?
        /// Meeting rooms (needs the hub and the media plane).
        public var rooms: MeetingRooms?
        /// Verifies the tokens of `/metrics` and `/version` (nil: the hub's, else the sessions').
        public var tokens: TokenAuthority?

        /// Creates the service bundle.
        public init(sessions: RelaySessions?, webRoot: String?, hub: Hub? = nil, rooms: MeetingRooms? = nil,
                    tokens: TokenAuthority? = nil) {
            self.sessions = sessions
            self.webRoot = webRoot
            self.hub = hub
            self.rooms = rooms
            self.tokens = tokens
        }
    }

    /// The router with every route of the control plane.
    /// `hsts`: the `Strict-Transport-Security` max-age to send (HTTPS only; 0: none).
    static func router(config: GiaobanConfig, services: Services, hsts: Int = 0, tls: TLSIdentity? = nil)
        -> Router<GiaobanRequestContext> {
        let router = Router(context: GiaobanRequestContext.self)
        router.add(middleware: SecurityHeadersMiddleware(hstsMaxAge: hsts))
        router.add(middleware: RequestOriginMiddleware())
        router.add(middleware: CORSMiddleware(
            allowOrigin: .all,
            allowHeaders: [.accept, .authorization, .contentType, .origin],
            allowMethods: [.get, .post, .delete, .patch, .options],
            exposedHeaders: ["Location"]
        ))
        if let webRoot = services.webRoot {
            router.add(middleware: FileMiddleware(webRoot, searchForIndexHtml: true))
        }
        router.get("/healthz") { _, _ in "ok\n" }
        let metricsToken = Result { () throws(PlainError) in try OperatorAccess.loadMetricsToken(config.security.metricsTokenFile) }
        let access = OperatorAccess(tokens: services.tokens ?? services.hub?.tokens ?? services.sessions?.tokens,
                                    metricsToken: try? metricsToken.get())
        router.get("/version") { request, _ in
            try access.authorizeAny(request)
            return VersionInfo(name: config.server.name, version: GiaobanVersion.string)
        }
        ICEServersRoute.add(to: router, media: config.media, tokens: access.tokens)
        services.hub?.addRoutes(to: router)
        services.rooms?.addRoutes(to: router)
        services.sessions?.addRoutes(to: router)
        router.get("/metrics") { request, _ in
            _ = try metricsToken.get()
            try access.authorizeMetrics(request)
            var text = services.sessions.map { MetricsText.render($0.media.snapshot) } ?? ""
            if let hub = services.hub { text += MetricsText.render(hub) }
            if let rooms = services.rooms { text += MetricsText.render(rooms) }
            if let trunks = services.sessions?.upstreamTrunks { text += MetricsText.render(trunks.states) }
            if let tls { text += MetricsText.render(tls) }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        return router
    }

    /// Fails when a `[security]` file the control plane needs cannot be used (checked at startup).
    public static func checkSecurityFiles(config: GiaobanConfig) throws(ConfigError) {
        do { _ = try OperatorAccess.loadMetricsToken(config.security.metricsTokenFile) } catch { throw ConfigError(error.message) }
    }

    /// The application listening on `config.http`; a connection without a complete request
    /// for `security.http_idle_timeout_s` is closed.
    /// With `tls`, the listener speaks HTTPS and WSS only (HTTP/1.1; see docs/deployment.md).
    public static func application(config: GiaobanConfig, services: Services = .init(sessions: nil, webRoot: nil),
                                   tls: TLSIdentity? = nil, logger: Logger) -> some ApplicationProtocol {
        let router = router(config: config, services: services, hsts: tls == nil ? 0 : config.http.hstsMaxAgeS, tls: tls)
        let idle = TimeAmount.seconds(Int64(config.security.httpIdleTimeoutS))
        let webSocketResponder = router.buildResponder()
        let server = HTTPServerBuilder { responder -> any ServerChildChannel in
            let plain = DeadlineHTTP1Channel(inner: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder,
                                                                                 configuration: .init(http1: .init(idleTimeout: idle))),
                                             headTimeout: idle)
            guard let tls else { return plain }
            return ReloadableTLSChannel(base: plain, identity: tls)
        }
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(config.http.address, port: config.http.port),
                                 serverName: "giaoban/\(GiaobanVersion.string)"),
            logger: logger
        )
    }
}
