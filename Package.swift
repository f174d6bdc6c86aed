// swift-tools-version:6.2
import PackageDescription

/// Every Veil target is built in Swift 6 language mode with warnings treated as errors.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "Veil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "veil", targets: ["veil"]),
        .executable(name: "VeilBench", targets: ["VeilBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The system library: libsodium through pkg-config. Only VeilCrypto imports it.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(name: "VeilCrypto", dependencies: ["CSodium", "VeilCore"], swiftSettings: strict),
        .target(name: "VeilCore", swiftSettings: strict),
        .executableTarget(
            name: "veil",
            dependencies: [
                "VeilCrypto", "VeilCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .target(name: "VeilLearning", dependencies: ["VeilCore", "VeilCrypto"], swiftSettings: strict),
        .executableTarget(
            name: "VeilBench", dependencies: ["VeilCrypto", "VeilCore", "VeilLearning"], swiftSettings: strict),
        .testTarget(
            name: "VeilLearningTests", dependencies: ["VeilLearning", "VeilCrypto", "VeilCore"], swiftSettings: strict),
    ]
)
