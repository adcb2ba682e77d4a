/// The product version, reported by `giaoban version` and `GET /version`.
public enum GiaobanVersion {
    /// Semantic version of this build.
    public static let string = "0.1.0"
}
