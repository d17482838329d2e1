/* Text buffer, escaping and the SVG charts (see svg.h). */
#include "clresnet/eval/svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/core/file_util.h"

static bool sb_reserve(crn_sb *b, size_t extra)
{
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

void crn_sb_printf(crn_sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (!sb_reserve(b, (size_t)n)) return;
    if ((size_t)n < sizeof small) {
        memcpy(b->s + b->len, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void crn_sb_puts(crn_sb *b, const char *s)
{
    size_t n = strlen(s);
    if (!sb_reserve(b, n)) return;
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

void crn_sb_xml(crn_sb *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        switch (*p) {
        case '&': crn_sb_puts(b, "&amp;"); break;
        case '<': crn_sb_puts(b, "&lt;"); break;
        case '>': crn_sb_puts(b, "&gt;"); break;
        case '"': crn_sb_puts(b, "&quot;"); break;
        case '\'': crn_sb_puts(b, "&#39;"); break;
        default:
            if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') break; /* not allowed in XML 1.0 */
            if (sb_reserve(b, 1)) {
                b->s[b->len++] = (char)*p;
                b->s[b->len] = 0;
            }
        }
    }
}

void crn_sb_csv(crn_sb *b, const char *s)
{
    if (!s) return;
    if (!strpbrk(s, ",\"\r\n")) {
        crn_sb_puts(b, s);
        return;
    }
    crn_sb_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"') crn_sb_puts(b, "\"\"");
        else {
            char c[2] = {*p, 0};
            crn_sb_puts(b, c);
        }
    }
    crn_sb_puts(b, "\"");
}

void crn_sb_free(crn_sb *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

int crn_sb_save(const crn_sb *b, const char *path, crn_error *err)
{
    if (b->oom) return crn_fail(err, CRN_ENOMEM, "%s: out of memory while composing the file", path);
    return crn_write_file_atomic(path, b->s ? b->s : "", b->len, err);
}

const char *crn_svg_color(int i)
{
    static const char *pal[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
    if (i < 0) i = -i;
    return pal[i % 10];
}

/* ---- axes ---- */

static double nice_step(double range, int target)
{
    if (!(range > 0)) return 1;
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    return nf * mag;
}

static void fmt_num(char *buf, size_t size, double v, double step)
{
    if (fabs(v) < step * 1e-6) v = 0;
    int dec = 0;
    if (step < 1) dec = (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    snprintf(buf, size, "%.*f", dec, v);
}

typedef struct frame {
    double x0, y0, w, h;   /* plot area in pixels */
    double ymin, ymax;
} frame;

static double fy(const frame *f, double v)
{
    double t = (v - f->ymin) / (f->ymax - f->ymin);
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    return f->y0 + f->h * (1 - t);
}

static void svg_open(crn_sb *b, int width, int height, const char *title)
{
    crn_sb_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                  "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
                  width, height, width, height);
    crn_sb_puts(b, "<title>");
    crn_sb_xml(b, title);
    crn_sb_puts(b, "</title>\n");
    crn_sb_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", width, height);
    crn_sb_printf(b, "<text x=\"%d\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\" fill=\"#111111\">",
                  width / 2);
    crn_sb_xml(b, title);
    crn_sb_puts(b, "</text>\n");
}

static void y_axis(crn_sb *b, const frame *f, const char *ylabel)
{
    double step = nice_step(f->ymax - f->ymin, 5);
    char buf[64];
    for (double v = ceil(f->ymin / step - 1e-9) * step; v <= f->ymax + step * 1e-6; v += step) {
        double y = fy(f, v);
        crn_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n", f->x0, y,
                      f->x0 + f->w, y);
        fmt_num(buf, sizeof buf, v, step);
        crn_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#222222\">%s</text>\n", f->x0 - 5,
                      y + 4, buf);
    }
    crn_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n", f->x0, f->y0,
                  f->x0, f->y0 + f->h);
    crn_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n", f->x0,
                  f->y0 + f->h, f->x0 + f->w, f->y0 + f->h);
    if (ylabel) {
        crn_sb_printf(b,
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222222\" "
                      "transform=\"rotate(-90 %.1f %.1f)\">",
                      16.0, f->y0 + f->h / 2, 16.0, f->y0 + f->h / 2);
        crn_sb_xml(b, ylabel);
        crn_sb_puts(b, "</text>\n");
    }
}

static void x_label(crn_sb *b, const frame *f, const char *xlabel, double y)
{
    if (!xlabel) return;
    crn_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222222\">", f->x0 + f->w / 2, y);
    crn_sb_xml(b, xlabel);
    crn_sb_puts(b, "</text>\n");
}

/* ---- line chart ---- */

void crn_svg_line_chart(crn_sb *b, int width, int height, const char *title, const char *xlabel, const char *ylabel,
                        const crn_svg_series *s, int ns, double ymin, double ymax)
{
    double xmin = INFINITY, xmax = -INFINITY, lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < s[i].n; j++) {
            double x = s[i].x ? s[i].x[j] : j + 1, y = s[i].y[j];
            if (!isfinite(y)) continue;
            if (x < xmin) xmin = x;
            if (x > xmax) xmax = x;
            if (y < lo) lo = y;
            if (y > hi) hi = y;
        }
    if (!(xmin <= xmax)) xmin = 1, xmax = 2;
    if (xmax - xmin < 1) xmax = xmin + 1;
    if (ymin >= ymax) {
        if (!(lo <= hi)) lo = 0, hi = 1;
        if (lo >= 0) lo = 0;
        double st = nice_step(hi - lo, 5);
        ymin = floor(lo / st) * st;
        ymax = ceil(hi / st) * st;
        if (ymax <= ymin) ymax = ymin + 1;
    }
    /* legend rows under the plot */
    int per_row = (width - 80) / 190;
    if (per_row < 1) per_row = 1;
    int legend_rows = (ns + per_row - 1) / per_row;
    frame f = {60, 32, width - 80, height - 32 - 62 - 18.0 * legend_rows, ymin, ymax};
    svg_open(b, width, height, title);
    y_axis(b, &f, ylabel);
    double xstep = nice_step(xmax - xmin, 10);
    if (xstep < 1) xstep = 1;
    char buf[64];
    for (double x = ceil(xmin / xstep) * xstep; x <= xmax + 1e-9; x += xstep) {
        double px = f.x0 + f.w * (x - xmin) / (xmax - xmin);
        crn_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n", px,
                      f.y0 + f.h, px, f.y0 + f.h + 4);
        fmt_num(buf, sizeof buf, x, xstep);
        crn_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222222\">%s</text>\n", px,
                      f.y0 + f.h + 17, buf);
    }
    x_label(b, &f, xlabel, f.y0 + f.h + 33);
    for (int i = 0; i < ns; i++) {
        const char *col = s[i].color ? s[i].color : crn_svg_color(i);
        crn_sb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
                      s[i].dashed ? " stroke-dasharray=\"6 4\"" : "");
        for (int j = 0; j < s[i].n; j++) {
            double x = s[i].x ? s[i].x[j] : j + 1, y = s[i].y[j];
            if (!isfinite(y)) continue;
            crn_sb_printf(b, "%.1f,%.1f ", f.x0 + f.w * (x - xmin) / (xmax - xmin), fy(&f, y));
        }
        crn_sb_puts(b, "\"/>\n");
        if (s[i].n <= 60)
            for (int j = 0; j < s[i].n; j++) {
                double x = s[i].x ? s[i].x[j] : j + 1, y = s[i].y[j];
                if (!isfinite(y)) continue;
                crn_sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"><title>", 
                              f.x0 + f.w * (x - xmin) / (xmax - xmin), fy(&f, y), col);
                crn_sb_xml(b, s[i].label ? s[i].label : "");
                crn_sb_printf(b, " epoch %g: %.4f</title></circle>\n", x, y);
            }
        int row = i / per_row, colno = i % per_row;
        double lx = f.x0 + colno * 190, ly = height - 18.0 * legend_rows + 18.0 * row - 4;
        crn_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"%s/>\n",
                      lx, ly - 4, lx + 24, ly - 4, col, s[i].dashed ? " stroke-dasharray=\"6 4\"" : "");
        crn_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#111111\">", lx + 30, ly);
        crn_sb_xml(b, s[i].label ? s[i].label : "");
        crn_sb_puts(b, "</text>\n");
    }
    crn_sb_puts(b, "</svg>\n");
}

/* ---- bar chart ---- */

static int class_tick_step(int k)
{
    if (k <= 20) return 1;
    if (k <= 60) return 5;
    if (k <= 250) return 10;
    return (int)nice_step(k, 20);
}

void crn_svg_bar_chart(crn_sb *b, int width, int height, const char *title, const char *xlabel, const char *ylabel,
                       const double *v, int k, double ymin, double ymax, double hline, const char *hline_label,
                       bool highlight_below)
{
    if (ymin >= ymax) {
        double hi = 0;
        for (int i = 0; i < k; i++)
            if (isfinite(v[i]) && v[i] > hi) hi = v[i];
        if (hline_label && hline > hi) hi = hline;
        double st = nice_step(hi, 5);
        ymin = 0;
        ymax = ceil(hi / st) * st;
        if (ymax <= 0) ymax = 1;
    }
    frame f = {60, 32, width - 80, height - 32 - 50, ymin, ymax};
    svg_open(b, width, height, title);
    y_axis(b, &f, ylabel);
    double bw = f.w / (k > 0 ? k : 1);
    int tstep = class_tick_step(k);
    for (int i = 0; i < k; i++) {
        double val = isfinite(v[i]) ? v[i] : 0;
        double y = fy(&f, val), x = f.x0 + bw * i;
        bool low = highlight_below && hline_label && val < hline - 1e-9;
        crn_sb_printf(b,
                      "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"><title>class %d: %g</title></rect>\n",
                      x + bw * 0.1, y, bw * 0.8, f.y0 + f.h - y, low ? "#e4572e" : "#4878a8", i + 1, val);
        if ((i + 1) % tstep == 0 || i == 0) {
            crn_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n",
                          x + bw / 2, f.y0 + f.h, x + bw / 2, f.y0 + f.h + 4);
            crn_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222222\">%d</text>\n",
                          x + bw / 2, f.y0 + f.h + 17, i + 1);
        }
    }
    if (hline_label) {
        double y = fy(&f, hline);
        crn_sb_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#111111\" stroke-width=\"1.5\" "
                      "stroke-dasharray=\"6 4\"/>\n",
                      f.x0, y, f.x0 + f.w, y);
        crn_sb_printf(b,
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#111111\" font-weight=\"bold\" "
                      "stroke=\"#ffffff\" stroke-width=\"4\" paint-order=\"stroke\">",
                      f.x0 + f.w - 2, y - 5);
        crn_sb_xml(b, hline_label);
        crn_sb_puts(b, "</text>\n");
    }
    x_label(b, &f, xlabel, f.y0 + f.h + 35);
    crn_sb_puts(b, "</svg>\n");
}

/* ---- heat map ---- */

static void heat_color(double t, char *buf, size_t size)
{
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    /* white -> #08306b (dark blue) */
    int r = (int)lround(255 + (8 - 255) * t), g = (int)lround(255 + (48 - 255) * t), bl = (int)lround(255 + (107 - 255) * t);
    snprintf(buf, size, "#%02x%02x%02x", r, g, bl);
}

void crn_svg_heatmap(crn_sb *b, int cell, int cell_h, const char *title, const char *xlabel, const char *ylabel, const double *v,
                     int rows, int cols, double vmax, bool sqrt_scale, const char *const *row_labels,
                     const char *scale_label)
{
    int left = row_labels ? 190 : 60;
    double x0 = left, y0 = 40;
    if (cell_h <= 0) cell_h = cell;
    double w = (double)cell * cols, h = (double)cell_h * rows;
    int width = (int)(x0 + w + 110), height = (int)(y0 + h + 55);
    if (width < 400) width = 400;
    svg_open(b, width, height, title);
    if (!(vmax > 0)) vmax = 1;
    char col[16];
    crn_sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#ffffff\" stroke=\"#333333\"/>\n",
                  x0, y0, w, h);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double val = v[(size_t)r * cols + c];
            if (!(val > 0)) continue;
            heat_color(sqrt_scale ? sqrt(val / vmax) : val / vmax, col, sizeof col);
            crn_sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>", x0 + c * cell,
                          y0 + r * cell_h, cell, cell_h, col);
            if (row_labels) crn_sb_xml(b, row_labels[r]);
            else crn_sb_printf(b, "%d", r + 1);
            crn_sb_printf(b, ", %d: %.3g</title></rect>\n", c + 1, val);
        }
    int tstep = class_tick_step(cols);
    for (int c = 0; c < cols; c++)
        if ((c + 1) % tstep == 0 || c == 0)
            crn_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222222\" font-size=\"10\">%d</text>\n",
                          x0 + c * cell + cell / 2.0, y0 + h + 13, c + 1);
    if (row_labels) {
        for (int r = 0; r < rows; r++) {
            crn_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#222222\">", x0 - 6,
                          y0 + r * cell_h + cell_h / 2.0 + 4);
            crn_sb_xml(b, row_labels[r]);
            crn_sb_puts(b, "</text>\n");
        }
    } else {
        int rstep = class_tick_step(rows);
        for (int r = 0; r < rows; r++)
            if ((r + 1) % rstep == 0 || r == 0)
                crn_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#222222\" font-size=\"10\">%d</text>\n",
                              x0 - 4, y0 + r * cell_h + cell_h / 2.0 + 3, r + 1);
        if (ylabel) {
            crn_sb_printf(b, "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222222\" transform=\"rotate(-90 16 %.1f)\">",
                          y0 + h / 2, y0 + h / 2);
            crn_sb_xml(b, ylabel);
            crn_sb_puts(b, "</text>\n");
        }
    }
    if (xlabel) {
        crn_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222222\">", x0 + w / 2, y0 + h + 32);
        crn_sb_xml(b, xlabel);
        crn_sb_puts(b, "</text>\n");
    }
    /* colour scale */
    double sx = x0 + w + 30, sh = h < 200 ? h : 200;
    for (int i = 0; i < 20; i++) {
        double t = 1 - (i + 0.5) / 20;
        heat_color(sqrt_scale ? sqrt(t) : t, col, sizeof col);
        crn_sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"%.2f\" fill=\"%s\"/>\n", sx,
                      y0 + sh * i / 20, sh / 20 + 0.3, col);
    }
    crn_sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"%.1f\" fill=\"none\" stroke=\"#333333\"/>\n", sx, y0,
                  sh);
    crn_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#222222\">%.3g</text>\n", sx + 20, y0 + 10, vmax);
    crn_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#222222\">0</text>\n", sx + 20, y0 + sh);
    if (scale_label) {
        crn_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#222222\" font-size=\"10\">", sx - 4, y0 + sh + 16);
        crn_sb_xml(b, scale_label);
        crn_sb_puts(b, "</text>\n");
    }
    crn_sb_puts(b, "</svg>\n");
}
