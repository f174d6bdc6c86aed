import Foundation
import Hummingbird
import VeilCore

/// JSON request bodies of the `/v1` endpoints other than `/v1/events`, and the rule that a body
/// breaking a rule is answered with `422` naming the field.
///
/// Contract: the body is read up to `maxBytes` (else 413), must be JSON (else 400), and decodes into
/// the endpoint's type. A missing or mistyped field, or a `VeilError` `.invalidInput` thrown while
/// decoding or by the use case inside `validating`, becomes `422 {"error":"invalid_input","message":
/// "<field>: <rule>"}`. Messages never echo a value from the body. The `Content-Type` is not checked.
enum JSONRequest {
    /// The largest JSON body accepted (1 MiB: a thousand prediction subjects fit many times over).
    static let maxBytes = 1 << 20

    /// The request body decoded as `Value`.
    static func decode<Value: Decodable>(_ type: Value.Type, from request: Request) async throws -> Value {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, code: "too_large", "the request body is larger than \(maxBytes) bytes")
        }
        return try await validating {
            do {
                return try JSONDecoder().decode(Value.self, from: Data(body.readableBytesView))
            } catch let error as DecodingError {
                throw problem(error)
            }
        }
    }

    /// Runs `work`, answering a broken rule (`VeilError` `.invalidInput`) with 422 instead of 400.
    static func validating<Result>(_ work: () async throws -> Result) async throws -> Result {
        do {
            return try await work()
        } catch let error as VeilError where error.code == .invalidInput {
            throw APIError.unprocessable(error.description)
        }
    }

    /// The API error for a body that does not decode: 400 when it is not JSON at all, else 422
    /// naming the field (`subjects[2].user_id`), without the value.
    static func problem(_ error: DecodingError) -> APIError {
        switch error {
        case .keyNotFound(let key, let context):
            return APIError.unprocessable("\(path(context.codingPath + [key])): is required")
        case .typeMismatch(_, let context) where !context.codingPath.isEmpty,
            .valueNotFound(_, let context) where !context.codingPath.isEmpty:
            return APIError.unprocessable("\(path(context.codingPath)): has the wrong type")
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            return APIError.unprocessable("\(path(context.codingPath)): has an invalid value")
        default:
            return APIError(.badRequest, code: "invalid_input", "the request body must be a JSON object")
        }
    }

    /// `subjects[2].user_id` for a coding path.
    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? "body" : text
    }
}
