import Foundation
import Hummingbird
import VeilCore

/// JSON request bodies of the `/v1` endpoints other than `/v1/events`, and the rule that a body
/// breaking a rule is answered with `422` naming the field.
///
/// Contract: the body is read by `RequestBody` (encoding 415, size 413, framing 400) up to `maxBytes`,
/// parsed by `StrictJSONDecoder` under `limits` — not JSON, nested past the limit or a key twice in one
/// object is 400, nothing but an object is 400 — and decodes into the endpoint's type. A missing or
/// mistyped field, a field the type does not know (named by its position, never its text), or a
/// `VeilError` `.invalidInput` thrown while decoding or by the use case inside `validating`, becomes
/// `422 {"error":"invalid_input","message": "<field>: <rule>"}`. Messages never echo a value or an
/// unknown key from the body. All of this happens before the use case reads or spends anything. The
/// `Content-Type` is not checked.
public enum JSONRequest {
    /// The largest JSON body accepted (1 MiB: a thousand prediction subjects fit many times over).
    static let maxBytes = 1 << 20

    /// The bounds a body is parsed under.
    static let limits = JSONLimits(maxBytes: maxBytes)

    /// The request body decoded as `Value`.
    static func decode<Value: Decodable>(_ type: Value.Type, from request: Request) async throws -> Value {
        let tooLarge = APIError(.contentTooLarge, code: "too_large", "the request body is larger than \(maxBytes) bytes")
        let body = try await RequestBody.collect(request, limit: maxBytes, tooLarge: tooLarge)
        return try await validating { try decode(type, from: body.readableBytesView) }
    }

    /// `bytes` decoded as `Value`, throwing the `APIError` of the contract above (public for the fuzz
    /// harness, which checks what a client would be told).
    public static func decode<Value: Decodable>(_ type: Value.Type, from bytes: some Collection<UInt8>) throws -> Value {
        do {
            return try StrictJSONDecoder(limits: limits).decode(Value.self, from: bytes)
        } catch let error as JSONSyntaxError {
            throw APIError(.badRequest, code: "invalid_input", "body: is not valid JSON: \(error)")
        } catch let error as UnknownJSONField {
            throw APIError.unprocessable(error.description)
        } catch let error as DecodingError {
            throw problem(error)
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

    /// The API error for a body that does not decode: 400 when it is not a JSON object at all, else
    /// 422 naming the field (`subjects[2].user_id`), without the value.
    static func problem(_ error: DecodingError) -> APIError {
        switch error {
        case .keyNotFound(let key, let context):
            return APIError.unprocessable("\(CodingPathText.describe(context.codingPath + [key])): is required")
        case .typeMismatch(_, let context) where !context.codingPath.isEmpty,
            .valueNotFound(_, let context) where !context.codingPath.isEmpty:
            return APIError.unprocessable("\(CodingPathText.describe(context.codingPath)): has the wrong type")
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            return APIError.unprocessable("\(CodingPathText.describe(context.codingPath)): has an invalid value")
        default:
            return APIError(.badRequest, code: "invalid_input", "the request body must be a JSON object")
        }
    }
}
