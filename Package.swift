// swift-tools-version:6.1
import PackageDescription

/// Upcoming language features every target opts into: explicit `any`, imports that are
/// visible only where they are written, and imports that are internal unless marked `public`.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "sse-relay",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sse-relay", targets: ["sse-relay"]),
        .library(name: "SSERelay", targets: ["SSERelay"]),
        .library(name: "SSERelayCore", targets: ["SSERelayCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The pure core: configuration, header policy, routing. No sockets.
        .target(
            name: "SSERelayCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The server: listeners, the upstream client, pass-through, logging, lifecycle.
        .target(
            name: "SSERelay",
            dependencies: [
                "SSERelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // `sse-relay demo`: a built-in fake chat backend, the scripted scenario and its narrator,
        // run against the server library's public API. The server library knows nothing of it.
        .target(
            name: "SSERelayDemo",
            dependencies: [
                "SSERelay",
                "SSERelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command line: argument parsing and nothing else.
        .executableTarget(
            name: "sse-relay",
            dependencies: [
                "SSERelay",
                "SSERelayCore",
                "SSERelayDemo",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // Micro-benchmarks of the core (docs/benchmarks.md): `swift run -c release sse-relay-microbench`.
        .executableTarget(
            name: "sse-relay-microbench",
            dependencies: [
                "SSERelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "bench/Micro",
            swiftSettings: swiftSettings
        ),
        // The pass-through floor of bench/compare.sh: a minimal reverse proxy on NIO's own HTTP/1
        // pipelines, the framework's cost with nothing of the relay's.
        .executableTarget(
            name: "sse-relay-nio-floor",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "bench/NIOFloor",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SSERelayCoreTests",
            dependencies: [
                "SSERelayCore",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SSERelayTests",
            dependencies: [
                "SSERelay",
                "SSERelayCore",
                // The command-line tests run `sse-relay demo` and check the demo backend's answer.
                "SSERelayDemo",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SSERelayDemoTests",
            dependencies: [
                "SSERelayDemo",
                "SSERelay",
                "SSERelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
