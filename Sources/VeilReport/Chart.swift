import Foundation

/// A line, step, point or bar chart as standalone SVG: axes with ticks and labels, a title (and an
/// optional subtitle, e.g. what the data may be used for), series drawn as polylines with optional
/// markers, as points (filled or hollow), or as bars, each point with an optional interval (a
/// whisker), and reference lines (a diagonal, a cap). The legend wraps onto a second row when needed. Every text — title, axis
/// labels, series names, marker titles — is escaped (`Markup.escape`); the drawing uses presentation
/// attributes only (no `style`, no script), so it renders the same inline in a report, as an `<img>`,
/// and under a Content-Security-Policy without `unsafe-inline`.
///
/// Coordinates: the plot area is `width × height` minus the margins; values outside an axis's domain
/// are clamped to its edge.
public struct Chart {
    /// One axis: its label, its value range, how a tick value reads, and (when given) where the ticks
    /// are — else about five round values (`ticks(_:)`).
    public struct Axis {
        public var label: String
        public var domain: ClosedRange<Double>
        public var tickLabel: (Double) -> String
        public var ticks: [Double]?

        public init(
            label: String, domain: ClosedRange<Double>, ticks: [Double]? = nil,
            tickLabel: @escaping (Double) -> String = { Markup.number($0, digits: 3) }
        ) {
            self.label = label
            self.domain = domain.lowerBound < domain.upperBound ? domain : domain.lowerBound...(domain.lowerBound + 1)
            self.ticks = ticks
            self.tickLabel = tickLabel
        }
    }

    /// How a series draws its points: joined by straight lines, by a step that holds y until the next
    /// x, as dots alone, or as bars `width` (in x units) wide rising from the y axis's lower end.
    public enum Shape: Equatable {
        case line
        case step
        case points
        case bars(width: Double)
    }

    /// One series: points in data coordinates, drawn in `color`; with `markers`, each point is a dot whose
    /// `<title>` (the tooltip) is the matching text (a `.points` series always draws its dots, `hollow`
    /// ones as rings); with `intervals`, a whisker from low to high at each point that has one.
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var shape: Shape
        public var color: String
        public var markers: [String]?
        public var dashed: Bool
        public var hollow: Bool
        public var intervals: [ClosedRange<Double>?]?

        public init(
            name: String, points: [(x: Double, y: Double)], shape: Shape = .line, color: String, markers: [String]? = nil,
            dashed: Bool = false, hollow: Bool = false, intervals: [ClosedRange<Double>?]? = nil
        ) {
            precondition(markers == nil || markers?.count == points.count, "one marker title per point")
            precondition(intervals == nil || intervals?.count == points.count, "one interval (or nil) per point")
            self.name = name
            self.points = points
            self.shape = shape
            self.color = color
            self.markers = markers
            self.dashed = dashed
            self.hollow = hollow
            self.intervals = intervals
        }
    }

    public var title: String
    /// A second line under the title, e.g. "differentially private (from noisy counts)"; the SVG's
    /// `<title>` (its accessible name) is the title and the subtitle joined by " — ".
    public var subtitle: String?
    public var x: Axis
    public var y: Axis
    public var series: [Series]
    public var width = 480.0
    public var height = 340.0

    public init(title: String, subtitle: String? = nil, x: Axis, y: Axis, series: [Series]) {
        self.title = title
        self.subtitle = subtitle
        self.x = x
        self.y = y
        self.series = series
    }

    private var margin: (left: Double, right: Double, top: Double, bottom: Double) {
        (62, 16, subtitle == nil ? 34 : 48, 78)
    }

    /// The chart's accessible name: the title, and the subtitle after " — ".
    public var name: String { subtitle.map { "\(title) — \($0)" } ?? title }

    /// The chart as one `<svg>` element (no XML declaration), with `role="img"` and a `<title>`.
    public func svg() -> String {
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="\(Markup.coordinate(width))" \
            height="\(Markup.coordinate(height))" viewBox="0 0 \(Markup.coordinate(width)) \(Markup.coordinate(height))" \
            font-family="sans-serif" font-size="11">
            <title>\(Markup.escape(name))</title>
            <rect x="0" y="0" width="\(Markup.coordinate(width))" height="\(Markup.coordinate(height))" fill="#ffffff"/>
            <text x="\(Markup.coordinate(width / 2))" y="20" text-anchor="middle" font-size="14" font-weight="bold">\(Markup.escape(title))</text>

            """
        if let subtitle {
            out += """
                <text class="subtitle" x="\(Markup.coordinate(width / 2))" y="36" text-anchor="middle" font-style="italic">\(Markup.escape(subtitle))</text>

                """
        }
        out += axes()
        for series in series { out += draw(series) }
        out += legend()
        out += "</svg>"
        return out
    }

    private var plotLeft: Double { margin.left }
    private var plotRight: Double { width - margin.right }
    private var plotTop: Double { margin.top }
    private var plotBottom: Double { height - margin.bottom }

    private func px(_ value: Double) -> Double {
        let t = (min(max(value, x.domain.lowerBound), x.domain.upperBound) - x.domain.lowerBound) / (x.domain.upperBound - x.domain.lowerBound)
        return plotLeft + t * (plotRight - plotLeft)
    }

    private func py(_ value: Double) -> Double {
        let t = (min(max(value, y.domain.lowerBound), y.domain.upperBound) - y.domain.lowerBound) / (y.domain.upperBound - y.domain.lowerBound)
        return plotBottom - t * (plotBottom - plotTop)
    }

    private func axes() -> String {
        let c = Markup.coordinate
        var out = """
            <g class="axes" stroke="#444444" stroke-width="1">
            <line x1="\(c(plotLeft))" y1="\(c(plotBottom))" x2="\(c(plotRight))" y2="\(c(plotBottom))"/>
            <line x1="\(c(plotLeft))" y1="\(c(plotTop))" x2="\(c(plotLeft))" y2="\(c(plotBottom))"/>
            </g>

            """
        for value in x.ticks ?? Self.ticks(x.domain) {
            out += """
                <line x1="\(c(px(value)))" y1="\(c(plotBottom))" x2="\(c(px(value)))" y2="\(c(plotBottom + 4))" stroke="#444444"/>\
                <text x="\(c(px(value)))" y="\(c(plotBottom + 16))" text-anchor="middle">\(Markup.escape(x.tickLabel(value)))</text>

                """
        }
        for value in y.ticks ?? Self.ticks(y.domain) {
            out += """
                <line x1="\(c(plotLeft))" y1="\(c(py(value)))" x2="\(c(plotRight))" y2="\(c(py(value)))" stroke="#e4e4e4"/>\
                <text x="\(c(plotLeft - 6))" y="\(c(py(value) + 4))" text-anchor="end">\(Markup.escape(y.tickLabel(value)))</text>

                """
        }
        out += """
            <text class="x-label" x="\(c((plotLeft + plotRight) / 2))" y="\(c(plotBottom + 34))" text-anchor="middle">\(Markup.escape(x.label))</text>
            <text class="y-label" x="14" y="\(c((plotTop + plotBottom) / 2))" text-anchor="middle" \
            transform="rotate(-90 14 \(c((plotTop + plotBottom) / 2)))">\(Markup.escape(y.label))</text>

            """
        return out
    }

    private func draw(_ series: Series) -> String {
        guard !series.points.isEmpty else { return "" }
        let c = Markup.coordinate
        let color = Markup.escape(series.color)
        var out = "<g class=\"series\" data-series=\"\(Markup.escape(series.name))\">\n"
        switch series.shape {
        case .line, .step:
            var path: [String] = []
            for (index, point) in series.points.enumerated() {
                if series.shape == .step, index > 0 {
                    path.append("\(c(px(point.x))),\(c(py(series.points[index - 1].y)))")
                }
                path.append("\(c(px(point.x))),\(c(py(point.y)))")
            }
            let dash = series.dashed ? " stroke-dasharray=\"5 4\"" : ""
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash) points=\"\(path.joined(separator: " "))\"/>\n"
        case .points:
            break
        case .bars(let width):
            let base = py(max(y.domain.lowerBound, min(0, y.domain.upperBound)))
            for point in series.points {
                let (left, right, top) = (px(point.x - width / 2), px(point.x + width / 2), py(point.y))
                out += """
                    <rect x="\(c(left))" y="\(c(min(top, base)))" width="\(c(right - left))" height="\(c(abs(base - top)))" \
                    fill="\(color)" fill-opacity="0.75"/>

                    """
            }
        }
        for (index, point) in series.points.enumerated() {
            guard let interval = series.intervals?[index] else { continue }
            let (x, low, high) = (px(point.x), py(interval.lowerBound), py(interval.upperBound))
            out += """
                <g class="interval" stroke="#222222" stroke-width="1.5"><line x1="\(c(x))" y1="\(c(low))" x2="\(c(x))" y2="\(c(high))"/>\
                <line x1="\(c(x - 5))" y1="\(c(low))" x2="\(c(x + 5))" y2="\(c(low))"/><line x1="\(c(x - 5))" y1="\(c(high))" x2="\(c(x + 5))" y2="\(c(high))"/></g>

                """
        }
        if series.markers != nil || series.shape == .points {
            let fill = series.hollow ? "fill=\"#ffffff\" stroke=\"\(color)\" stroke-width=\"1.5\"" : "fill=\"\(color)\""
            for (index, point) in series.points.enumerated() {
                let title = series.markers.map { "<title>\(Markup.escape($0[index]))</title>" } ?? ""
                out += "<circle cx=\"\(c(px(point.x)))\" cy=\"\(c(py(point.y)))\" r=\"4\" \(fill)>\(title)</circle>\n"
            }
        }
        return out + "</g>\n"
    }

    /// One entry per series (a line, a dot or a ring, or a swatch, as the series is drawn), left to
    /// right, on a second row when the first is full.
    private func legend() -> String {
        let c = Markup.coordinate
        var out = ""
        var left = plotLeft
        var top = height - 26
        for series in series {
            let entryWidth = 30 + Double(series.name.count) * 6.2
            if left > plotLeft, left + entryWidth > width - 4 {
                left = plotLeft
                top += 15
            }
            let color = Markup.escape(series.color)
            switch series.shape {
            case .points:
                let fill = series.hollow ? "fill=\"#ffffff\" stroke=\"\(color)\" stroke-width=\"1.5\"" : "fill=\"\(color)\""
                out += "<circle cx=\"\(c(left + 9))\" cy=\"\(c(top))\" r=\"4\" \(fill)/>"
            case .bars:
                out += "<rect x=\"\(c(left + 3))\" y=\"\(c(top - 5))\" width=\"12\" height=\"10\" fill=\"\(color)\" fill-opacity=\"0.75\"/>"
            case .line, .step:
                let dash = series.dashed ? " stroke-dasharray=\"5 4\"" : ""
                out += "<line x1=\"\(c(left))\" y1=\"\(c(top))\" x2=\"\(c(left + 18))\" y2=\"\(c(top))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>"
            }
            out += "<text x=\"\(c(left + 22))\" y=\"\(c(top + 4))\">\(Markup.escape(series.name))</text>\n"
            left += entryWidth
        }
        return out
    }

    /// About five round tick values inside `domain`: multiples of a step of 1, 2 or 5 × 10ᵏ, computed as
    /// integer / 10⁻ᵏ so 0.6 reads 0.6 and not 0.6000000000000001.
    static func ticks(_ domain: ClosedRange<Double>) -> [Double] {
        let span = domain.upperBound - domain.lowerBound
        guard span > 0, span.isFinite else { return [domain.lowerBound] }
        let raw = span / 5
        let exponent = Int(log10(raw).rounded(.down))
        let scale = pow(10, Double(abs(exponent)))
        let value: (Double) -> Double = { exponent < 0 ? $0 / scale : $0 * scale }
        let multiple = [1.0, 2, 5, 10].first { value($0) >= raw } ?? 10
        var ticks: [Double] = []
        var k = (domain.lowerBound / value(multiple)).rounded(.up)
        while value(k * multiple) <= domain.upperBound + value(multiple) * 1e-9 {
            ticks.append(value(k * multiple))
            k += 1
        }
        return ticks
    }
}
