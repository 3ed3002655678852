/// The relay's version, shown by `--version` and in `Via`-adjacent places such as logs.
public enum RelayVersion {
    public static let current = "0.1.0"
}
