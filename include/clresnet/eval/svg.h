/* A growable text buffer with XML and CSV escaping, and the SVG charts of
 * the report and the run comparison (line charts, bar charts, heat maps).
 * Every chart is one well-formed <svg> element with a white background and
 * dark text, so it reads on screen, in print and as its own .svg file. */
#ifndef CLRESNET_SVG_H
#define CLRESNET_SVG_H

#include <stdbool.h>
#include <stddef.h>

#include "clresnet/core/error.h"

typedef struct crn_sb {
    char *s;
    size_t len, cap;
    bool oom; /* an allocation failed; the text is incomplete */
} crn_sb;

void crn_sb_printf(crn_sb *b, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void crn_sb_puts(crn_sb *b, const char *s);
void crn_sb_xml(crn_sb *b, const char *s);  /* escapes & < > " ' ; drops control characters XML forbids */
void crn_sb_csv(crn_sb *b, const char *s);  /* one CSV field, quoted (RFC 4180) when it holds , " CR or LF */
void crn_sb_free(crn_sb *b);
/* Writes the text atomically to path; CRN_ENOMEM when the buffer ran out of memory. */
int crn_sb_save(const crn_sb *b, const char *path, crn_error *err);

/* A colour of a fixed, print-friendly palette (index wraps). */
const char *crn_svg_color(int i);

typedef struct crn_svg_series {
    const char *label;
    const double *x, *y; /* n points; x NULL: 1..n */
    int n;
    const char *color;   /* NULL: palette colour of the series index */
    bool dashed;
} crn_svg_series;

/* Lines with markers, axes with ticks, a legend. ymin >= ymax: fitted to the
 * data (from 0 when all values are >= 0). */
void crn_svg_line_chart(crn_sb *b, int width, int height, const char *title, const char *xlabel, const char *ylabel,
                        const crn_svg_series *s, int ns, double ymin, double ymax);

/* One bar per class (labelled 1..k on the x axis), a dashed horizontal line
 * at hline (when hline_label is not NULL) and bars under it drawn in a
 * warning colour when highlight_below. ymin >= ymax: 0..fitted maximum. */
void crn_svg_bar_chart(crn_sb *b, int width, int height, const char *title, const char *xlabel, const char *ylabel,
                       const double *v, int k, double ymin, double ymax, double hline, const char *hline_label,
                       bool highlight_below);

/* A rows x cols heat map of v, cells cell px wide and cell_h px high
 * (cell_h <= 0: square), (row-major) scaled to 0..vmax (white to dark
 * blue; on a square-root scale when sqrt_scale, for sparse matrices), with
 * a colour scale. row_labels (rows strings) name the rows; when
 * NULL rows are numbered 1..rows. Columns are numbered 1..cols. Cells of
 * value 0 are left white (not drawn); each drawn cell has a tooltip. */
void crn_svg_heatmap(crn_sb *b, int cell, int cell_h, const char *title, const char *xlabel, const char *ylabel, const double *v,
                     int rows, int cols, double vmax, bool sqrt_scale, const char *const *row_labels,
                     const char *scale_label);

#endif
