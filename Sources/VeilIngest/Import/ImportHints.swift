/// For each rule an import's records break, the mapping setting that usually fixes it — in the words
/// of both a mapping file and the command line. Hints name settings and examples, never a value.
enum ImportHints {
    static func hint(for group: ProblemGroup, format: ImportOptions.Format) -> String? {
        let rule = group.message
        switch group.field {
        case "type":
            if rule == EventValidator.unknownTypeRule {
                return "map the values in the mapping's types: section (e.g. types: {home: skip, product: view}) or with --event-type-map home=skip,product=view"
            }
            if rule == "is required" {
                return "read the type from a column (fields: {type: COLUMN}, --map type=COLUMN) or give records without one a type (constants: {type: view}, --default-type view)"
            }
        case "user_id" where rule == "is required":
            return format == .csv
                ? "read the user ID from a column: fields: {user_id: COLUMN} (--map user_id=COLUMN)"
                : "every event needs a user_id"
        case "timestamp":
            if rule == "is required" {
                return "read the time from a column: fields: {timestamp: COLUMN} (--map timestamp=COLUMN)"
            }
            if rule.hasPrefix("must not be before") {
                return "dates this early usually mean a wrong timestamp.format (milliseconds read as seconds, or a two-digit year)"
            }
            if rule.hasPrefix("must not be more than") {
                return "times in the future usually mean a wrong timestamp.format (microseconds read as milliseconds) or timestamp.time_zone"
            }
            return "set timestamp.format in the mapping (rfc3339, epoch_seconds, epoch_millis, epoch_micros or a pattern such as %Y%m%d; --timestamp-format) and timestamp.time_zone for times without an offset (--time-zone)"
        case "price":
            if rule.contains("ingest.max_price") {
                return "an out-of-range price is often a line total or cents (compute the unit price, e.g. fields: {price: amount / quantity} or {price: cents / 100}) or a refund's negative amount (map refunds to type return with a positive price)"
            }
            return "price must be a plain number (12.5; no currency sign or thousands separator): check which column fields.price reads"
        case "quantity":
            return "quantity must be a whole number of items from 1: check which column fields.quantity reads"
        case "event" where format == .ndjson && (rule.hasPrefix("is not valid JSON") || rule == "must be a JSON object"):
            return "the file is read as NDJSON, one JSON event per line: a CSV or tab-separated export whose name does not end in .csv, .tsv or .txt needs --format csv (format: csv in the mapping)"
        case "line":
            return "check delimiter: (\(CSVDelimiter.allCases.map(\.rawValue).joined(separator: ", "))) and quote: (double, single, none) in the mapping (--delimiter, --quote)"
        case "rating":
            return "ratings are kept only on review events: map the rating column only for a review export"
        default:
            break
        }
        return nil
    }
}
