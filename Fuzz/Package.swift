// swift-tools-version:6.1
import PackageDescription

/// The same upcoming language features as the relay's own targets.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// libFuzzer targets for the relay's pure core. Built only by `Fuzz/run.sh`, with
/// `-sanitize=fuzzer,address`; see that script.
let package = Package(
    name: "sse-relay-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "sse-relay", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // libFuzzer's `LLVMFuzzerRunDriver`, declared for Swift.
        .target(name: "CLibFuzzer"),
        // What every target shares: the driver, the oracle's failure report, a seeded PRNG.
        .target(
            name: "FuzzSupport",
            dependencies: ["CLibFuzzer"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FuzzEventStreamParser",
            dependencies: [
                "FuzzSupport",
                .product(name: "SSERelayCore", package: "sse-relay"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FuzzConfiguration",
            dependencies: [
                "FuzzSupport",
                .product(name: "SSERelayCore", package: "sse-relay"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FuzzRequestHead",
            dependencies: [
                "FuzzSupport",
                .product(name: "SSERelayCore", package: "sse-relay"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
