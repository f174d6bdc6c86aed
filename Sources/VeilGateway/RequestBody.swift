import Hummingbird

/// Reading a request body, for every endpoint that takes one: the rules that hold before any
/// endpoint looks at the bytes.
///
/// - A `Content-Encoding` other than `identity` is refused with 415: the server decodes no compressed
///   body, and reading one as plain text would misread it.
/// - A declared `Content-Length` past `limit` is refused with 413 before anything is read; a body that
///   passes the limit while it is read is refused with 413 as soon as it does (at most `limit` bytes
///   are ever buffered).
/// - A body that cannot be read to its end (malformed chunked framing, a connection closed before the
///   declared `Content-Length`) is refused with 400. Nothing of it is used.
enum RequestBody {
    static func collect(_ request: Request, limit: Int, tooLarge: APIError) async throws -> ByteBuffer {
        if let encoding = request.headers[.contentEncoding] {
            let codings = encoding.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard codings.allSatisfy({ $0 == "identity" || $0.isEmpty }) else { throw unsupportedEncoding }
        }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit { throw tooLarge }
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw tooLarge
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as any HTTPResponseError where error.status.code < 500 {
            throw APIError.from(error)
        } catch {
            throw unreadable
        }
    }

    /// 415 for a compressed (or otherwise encoded) body.
    static let unsupportedEncoding = APIError(
        .unsupportedMediaType, code: "unsupported_media_type",
        "Content-Encoding: the server does not decode encoded bodies; send the body uncompressed (no Content-Encoding, or identity)")

    /// 400 for a body whose framing breaks HTTP/1.1.
    static let unreadable = APIError(
        .badRequest, code: "invalid_input",
        "body: could not be read to its end: the chunked framing is malformed or the connection ended before Content-Length bytes arrived")
}
