package sim

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strings"
)

// Chart geometry, shared by the SVG and the PNG.
const (
	chartW, chartH             = 800, 450
	plotL, plotR, plotT, plotB = 70, 780, 40, 400
)

func (r *Result) x(hours float64) float64 {
	return plotL + (plotR-plotL)*hours/r.HorizonHours
}

func y(frac float64) float64 { return plotB - (plotB-plotT)*frac }

// hourTicks returns the x-axis ticks: every 6 hours up to two days, then
// every day.
func (r *Result) hourTicks() []float64 {
	step := 6.0
	if r.HorizonHours > 48 {
		step = 24
	}
	if r.HorizonHours > 240 {
		step = 24 * 7
	}
	var t []float64
	for h := 0.0; h <= r.HorizonHours+1e-9; h += step {
		t = append(t, h)
	}
	return t
}

// WriteSVG draws the coverage curve, the share of cold starts on the new
// version, the 24-hour mark and the 99% line, as an SVG document.
func (r *Result) WriteSVG(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15">Coverage of %d active devices after a release (%d devices simulated)</text>`+"\n", plotL, r.ActiveDevices, r.Devices)
	for _, f := range []float64{0, 0.25, 0.5, 0.75, 0.9, 1} {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", plotL, y(f), plotR, y(f))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f%%</text>`+"\n", plotL-6, y(f)+4, 100*f)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c00" stroke-dasharray="4 3"/>`+"\n", plotL, y(0.99), plotR, y(0.99))
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#c00" text-anchor="end">99%%</text>`+"\n", plotR, y(0.99)-4)
	for _, h := range r.hourTicks() {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", r.x(h), plotT, r.x(h), plotB)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", r.x(h), plotB+18, fmtHours(h))
	}
	if r.HorizonHours >= 24 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c00" stroke-dasharray="4 3"/>`+"\n", r.x(24), plotT, r.x(24), plotB)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#c00">24 h: %.2f%%</text>`+"\n", r.x(24)+4, plotB-8, 100*r.Coverage24h)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">hours after the release</text>`+"\n", (plotL+plotR)/2, plotB+38)
	var cov, share []string
	for _, p := range r.Curve {
		cov = append(cov, fmt.Sprintf("%.1f,%.1f", r.x(p.Hours), y(p.Coverage)))
		if p.LaunchShare >= 0 {
			share = append(share, fmt.Sprintf("%.1f,%.1f", r.x(p.Hours), y(p.LaunchShare)))
		}
	}
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#06c" stroke-width="2" points="%s"/>`+"\n", strings.Join(cov, " "))
	if len(share) > 1 {
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#e80" stroke-width="1.5" stroke-dasharray="5 3" points="%s"/>`+"\n", strings.Join(share, " "))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#06c" stroke-width="2"/><text x="%d" y="%d">active devices holding the new version</text>`+"\n",
		plotL+10, plotB-60, plotL+40, plotB-60, plotL+46, plotB-56)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#e80" stroke-width="1.5" stroke-dasharray="5 3"/><text x="%d" y="%d">cold starts that ran it (per hour)</text>`+"\n",
		plotL+10, plotB-40, plotL+40, plotB-40, plotL+46, plotB-36)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", plotL, plotT, plotR-plotL, plotB-plotT)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WritePNG draws the same chart as WriteSVG as a PNG image, labelled with
// a small built-in digit font.
func (r *Result) WritePNG(w io.Writer) error {
	img := image.NewRGBA(image.Rect(0, 0, chartW, chartH))
	fill(img, img.Bounds(), color.White)
	grid := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	ink := color.RGBA{0x33, 0x33, 0x33, 0xff}
	red := color.RGBA{0xcc, 0, 0, 0xff}
	blue := color.RGBA{0, 0x66, 0xcc, 0xff}
	orange := color.RGBA{0xee, 0x88, 0, 0xff}
	for _, f := range []float64{0, 0.25, 0.5, 0.75, 0.9, 1} {
		line(img, plotL, y(f), plotR, y(f), grid, 1, 0)
		label(img, plotL-8, int(y(f))-3, fmt.Sprintf("%.0f%%", 100*f), ink, true)
	}
	for _, h := range r.hourTicks() {
		line(img, r.x(h), plotT, r.x(h), plotB, grid, 1, 0)
		label(img, int(r.x(h))-len(fmtHours(h))*4, plotB+8, fmtHours(h), ink, false)
	}
	line(img, plotL, y(0.99), plotR, y(0.99), red, 1, 6)
	if r.HorizonHours >= 24 {
		line(img, r.x(24), plotT, r.x(24), plotB, red, 1, 6)
		label(img, int(r.x(24))+4, plotB-14, fmt.Sprintf("%.2f%%", 100*r.Coverage24h), red, false)
	}
	var prev *Point
	for i := range r.Curve {
		p := &r.Curve[i]
		if prev != nil {
			line(img, r.x(prev.Hours), y(prev.Coverage), r.x(p.Hours), y(p.Coverage), blue, 2, 0)
		}
		prev = p
	}
	prev = nil
	for i := range r.Curve {
		p := &r.Curve[i]
		if p.LaunchShare < 0 {
			continue
		}
		if prev != nil {
			line(img, r.x(prev.Hours), y(prev.LaunchShare), r.x(p.Hours), y(p.LaunchShare), orange, 1, 5)
		}
		prev = p
	}
	line(img, plotL, plotT, plotR, plotT, ink, 1, 0)
	line(img, plotL, plotB, plotR, plotB, ink, 1, 0)
	line(img, plotL, plotT, plotL, plotB, ink, 1, 0)
	line(img, plotR, plotT, plotR, plotB, ink, 1, 0)
	return png.Encode(w, img)
}

func fill(img *image.RGBA, r image.Rectangle, c color.Color) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.Set(x, y, c)
		}
	}
}

// line draws from (x0, y0) to (x1, y1) with the given width; dash > 0
// leaves gaps of dash pixels every dash pixels.
func line(img *image.RGBA, x0, y0, x1, y1 float64, c color.Color, width, dash int) {
	n := int(math.Max(math.Abs(x1-x0), math.Abs(y1-y0))) + 1
	for i := 0; i <= n; i++ {
		if dash > 0 && (i/dash)%2 == 1 {
			continue
		}
		t := float64(i) / float64(n)
		x, y := int(math.Round(x0+(x1-x0)*t)), int(math.Round(y0+(y1-y0)*t))
		for dx := 0; dx < width; dx++ {
			for dy := 0; dy < width; dy++ {
				img.Set(x+dx, y+dy, c)
			}
		}
	}
}

// glyphs is a 3×5 pixel font for the labels: digits and a few signs.
var glyphs = map[rune][5]string{
	'0': {"###", "#.#", "#.#", "#.#", "###"}, '1': {".#.", "##.", ".#.", ".#.", "###"},
	'2': {"###", "..#", "###", "#..", "###"}, '3': {"###", "..#", ".##", "..#", "###"},
	'4': {"#.#", "#.#", "###", "..#", "..#"}, '5': {"###", "#..", "###", "..#", "###"},
	'6': {"###", "#..", "###", "#.#", "###"}, '7': {"###", "..#", ".#.", ".#.", ".#."},
	'8': {"###", "#.#", "###", "#.#", "###"}, '9': {"###", "#.#", "###", "..#", "###"},
	'%': {"#.#", "..#", ".#.", "#..", "#.#"}, '.': {"...", "...", "...", "...", ".#."},
	'h': {"#..", "#..", "###", "#.#", "#.#"}, 'd': {"..#", "..#", "###", "#.#", "###"},
	'm': {"...", "...", "###", "###", "#.#"},
}

// label draws s at (x, y), scaled twice; right-aligned at x when right.
func label(img *image.RGBA, x, y int, s string, c color.Color, right bool) {
	const scale, adv = 2, 8
	if right {
		x -= len(s) * adv
	}
	for i, ch := range s {
		g, ok := glyphs[ch]
		if !ok {
			continue
		}
		for row, bits := range g {
			for col, b := range bits {
				if b == '#' {
					fill(img, image.Rect(x+i*adv+col*scale, y+row*scale, x+i*adv+(col+1)*scale, y+(row+1)*scale), c)
				}
			}
		}
	}
}
