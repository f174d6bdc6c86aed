import Foundation
import Hummingbird

/// JSON response bodies with a stable shape: sorted keys, unescaped slashes, no trailing newline.
enum JSONBody {
    static func response<Value: Encodable>(
        _ value: Value, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]
    ) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(value)
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// SVG response bodies (charts from `VeilReport`): standalone documents that run no script.
enum SVGBody {
    static func response(_ svg: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "image/svg+xml", .contentSecurityPolicy: "default-src 'none'"],
            body: .init(byteBuffer: ByteBuffer(string: svg)))
    }
}
