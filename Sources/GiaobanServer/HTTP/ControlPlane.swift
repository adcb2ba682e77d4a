public import Hummingbird
public import Logging

/// The HTTP control plane: builds the Hummingbird application that serves Giaoban's routes.
///
/// For now it answers health and version; the WHIP/WHEP, meeting, incident and briefing
/// routes are added here as those parts land.
public enum ControlPlane {
    /// What `GET /version` answers.
    struct VersionInfo: ResponseEncodable {
        let name: String
        let version: String
    }

    /// The router with every route of the control plane.
    static func router(config: GiaobanConfig) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/version") { _, _ in VersionInfo(name: config.server.name, version: GiaobanVersion.string) }
        return router
    }

    /// The application listening on `config.http`.
    public static func application(config: GiaobanConfig, logger: Logger) -> some ApplicationProtocol {
        Application(
            router: router(config: config),
            configuration: .init(address: .hostname(config.http.address, port: config.http.port),
                                 serverName: "giaoban/\(GiaobanVersion.string)"),
            logger: logger
        )
    }
}
