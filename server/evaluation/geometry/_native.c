/* Compiled kernels for the mask steps numpy cannot make fast enough, and for
 * reading a results file's slices.
 *
 * A profile of `sliceboard evaluate-coco --iou-type segm` on the 5,000-image
 * bench case put 0.35 s in polygon rasterisation, 0.34 s in run-length IoU and
 * 0.14 s in RLE string decoding (numpy, ~150 calls each over millions of
 * elements); all three are sequential walks over run lengths that numpy can
 * only express as several full passes with temporaries. Each function here is
 * the numpy version's algorithm in one pass and must give the same numbers to
 * the bit (server/evaluation/geometry/native.py dispatches and falls back to
 * numpy when this module was not built; tests compare the two). The next
 * profile put ~0.5 s of CPU in the Python reading of the results file's parsed
 * slices (list comprehensions over 376k dicts): segm_columns reads the plain
 * case in one pass and declines anything else to the Python reader.
 *
 * Built with -ffp-contract=off: a fused multiply-add in `ys + s * t` would round
 * differently from numpy (and from pycocotools) on targets where FMA is baseline.
 * Only the CPython C API and the buffer protocol are used: no numpy headers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ buffers */

static int get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, int writable,
                      const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (view->itemsize != itemsize || view->len % itemsize != 0) {
        PyErr_Format(PyExc_TypeError, "%s: expected items of %zd bytes", name, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

#define N_ITEMS(view) ((view).len / (view).itemsize)

/* Buffers of n objects (writable from index `first_writable` on); on failure none is
 * held and -1 is returned with the Python error set. */
static int get_buffers(PyObject *const *objs, Py_buffer *views, int n, const Py_ssize_t *itemsizes,
                       int first_writable, const char *const *names) {
    for (int got = 0; got < n; got++) {
        if (get_buffer(objs[got], &views[got], itemsizes[got], got >= first_writable,
                       names[got]) < 0) {
            for (int j = 0; j < got; j++) PyBuffer_Release(&views[j]);
            return -1;
        }
    }
    return 0;
}

static void release_buffers(Py_buffer *views, int n) {
    for (int j = 0; j < n; j++) PyBuffer_Release(&views[j]);
}

/* Extents of one mask's foreground from its run ends: first foreground pixel,
 * end of the last one (both 0 without foreground) and the area. */
typedef struct {
    int64_t first, last, area;
} Span;

/* ------------------------------------------------------------------ decode */

enum {
    DECODE_OK = 0,
    DECODE_BAD_CHAR = 1,
    DECODE_CUT = 2,
    DECODE_LONG = 3,
    DECODE_RANGE = 4,
    DECODE_NOT_ASCII = 5,
    DECODE_FULL = 6,
    DECODE_OTHER_TYPE = 7,
    DECODE_SIZE = 8,
};

#define MAX_TOKEN_CHARS 7

/* Checks one string in the numpy decoder's order of precedence (alphabet, then a
 * cut number, then an over-long number); the range is checked while decoding. */
static int check_string(const unsigned char *s, Py_ssize_t len) {
    Py_ssize_t p;
    for (p = 0; p < len; p++)
        if (s[p] < 48 || s[p] > 111) return DECODE_BAD_CHAR;
    if (len > 0 && s[len - 1] >= 80) return DECODE_CUT;
    int run = 0;
    for (p = 0; p < len; p++) {
        if (s[p] >= 80) {
            if (++run >= MAX_TOKEN_CHARS) return DECODE_LONG;
        } else {
            run = 0;
        }
    }
    return DECODE_OK;
}

/* Decodes one string (pycocotools' rleFrString). Runs go to `out` and their
 * running ends to `ends` when these are not NULL (the caller guarantees room for
 * `len` of each); `total` gets the pixel count and `span` the foreground's span.
 * Returns the number of runs, or minus a DECODE_* status naming the problem in
 * the numpy decoder's order of precedence. */
/* The inclusive pixel extents of a mask's non-empty foreground runs, as pycocotools'
 * toBbox finds them: x0/y0 start at the mask's width/height and x1/y1 at 0; a run
 * that continues into the next column widens y to the whole height. */
typedef struct {
    int64_t x0, y0, x1, y1;
} Extent;

/* decode_one, also finding the extents of the foreground in a mask of height h when
 * `ext` is not NULL (the caller sets its starting values). */
static inline int64_t decode_extent(const unsigned char *s, Py_ssize_t len, uint32_t *out,
                                    int64_t *ends, int64_t *total, Span *span, int64_t h,
                                    Extent *ext) {
    int64_t before1 = 0, before2 = 0, pos = 0; /* the runs one and two places back */
    Span sp = {-1, 0, 0};
    Py_ssize_t m = 0, p = 0;
    while (p < len) {
        unsigned c = (unsigned)s[p++] - 48u;
        int64_t x;
        if (c > 63u) goto bad;
        if (!(c & 0x20u)) { /* a one-character number, most of them */
            x = (c & 0x10u) ? (int64_t)c - 32 : (int64_t)c;
        } else {
            x = c & 0x1f;
            int k = 1;
            for (;;) {
                if (p >= len || k >= MAX_TOKEN_CHARS) goto bad;
                c = (unsigned)s[p++] - 48u;
                if (c > 63u) goto bad;
                x |= (int64_t)(c & 0x1fu) << (5 * k);
                k++;
                if (!(c & 0x20u)) break;
            }
            if (c & 0x10u) x -= (int64_t)1 << (5 * k);
        }
        if (m > 2) x += before2;
        if ((uint64_t)x >> 32) goto bad;
        pos += x;
        if (out) out[m] = (uint32_t)x;
        if (ends) ends[m] = pos;
        if ((m & 1) && x > 0) {
            if (ext && h > 0) { /* h == 0 has no pixels: the size check rejects the string */
                int64_t start = pos - x, ys = start % h, ye = ys + x - 1;
                if (sp.first < 0) ext->x0 = start / h;
                ext->x1 = (pos - 1) / h;
                if (ye >= h) {
                    ys = 0;
                    ye = h - 1;
                }
                if (ys < ext->y0) ext->y0 = ys;
                if (ye > ext->y1) ext->y1 = ye;
            }
            if (sp.first < 0) sp.first = pos - x;
            sp.last = pos;
            sp.area += x;
        }
        before2 = before1;
        before1 = x;
        m++;
    }
    if (sp.first < 0) sp.first = 0;
    if (total) *total = pos;
    if (span) *span = sp;
    return m;
bad:; /* one pass without the checks' order; check_string names the problem */
    int status = check_string(s, len);
    return -(int64_t)(status == DECODE_OK ? DECODE_RANGE : status);
}

static inline int64_t decode_one(const unsigned char *s, Py_ssize_t len, uint32_t *out,
                                 int64_t *ends, int64_t *total, Span *span) {
    return decode_extent(s, len, out, ends, total, span, 0, NULL);
}

/* Decodes one string of an h x w mask, checks that its runs fill the mask, and writes
 * its area (mask.area) and box (mask.toBbox: zeros with fewer than two runs, and
 * pycocotools' unsigned arithmetic for a mask without foreground). 0 or a DECODE_*
 * status. */
static int summarize_one(const unsigned char *s, Py_ssize_t len, int64_t h, int64_t w,
                         double *area, double *box) {
    int64_t total = 0;
    Span sp;
    Extent ext = {w, h, 0, 0};
    int64_t m = decode_extent(s, len, NULL, NULL, &total, &sp, h, &ext);
    if (m < 0) return (int)-m;
    if (total != h * w) return DECODE_SIZE;
    *area = (double)sp.area;
    if (m < 2) {
        box[0] = box[1] = box[2] = box[3] = 0.0;
    } else {
        box[0] = (double)ext.x0;
        box[1] = (double)ext.y0;
        box[2] = (double)(uint32_t)(ext.x1 - ext.x0 + 1);
        box[3] = (double)(uint32_t)(ext.y1 - ext.y0 + 1);
    }
    return DECODE_OK;
}

/* decode(strings: list[str | bytes], runs: uint32 buffer, offsets: int64 buffer (n+1))
 *   -> (status, index, filled)
 * Writes the run lengths of every string (pycocotools' rleFrString) into `runs`
 * and where each string's runs end into offsets[1:]. status 0 is success; other
 * statuses name the first bad string's problem (see the enum); DECODE_OTHER_TYPE
 * asks the caller to use numpy's decoder (an item neither str nor bytes). */
static PyObject *decode(PyObject *self, PyObject *args) {
    PyObject *list, *runs_obj, *off_obj;
    if (!PyArg_ParseTuple(args, "O!OO", &PyList_Type, &list, &runs_obj, &off_obj)) return NULL;
    Py_buffer runs_view, off_view;
    if (get_buffer(runs_obj, &runs_view, 4, 1, "runs") < 0) return NULL;
    if (get_buffer(off_obj, &off_view, 8, 1, "offsets") < 0) {
        PyBuffer_Release(&runs_view);
        return NULL;
    }
    uint32_t *runs = (uint32_t *)runs_view.buf;
    int64_t *offsets = (int64_t *)off_view.buf;
    Py_ssize_t capacity = N_ITEMS(runs_view);
    Py_ssize_t n = PyList_GET_SIZE(list);
    int status = DECODE_OK;
    Py_ssize_t i = 0, filled = 0;
    if (N_ITEMS(off_view) < n + 1) {
        PyErr_SetString(PyExc_ValueError, "offsets: too short");
        goto fail;
    }
    offsets[0] = 0;
    for (i = 0; i < n && status == DECODE_OK; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        const unsigned char *s;
        Py_ssize_t len;
        if (PyUnicode_Check(item)) {
            if (!PyUnicode_IS_ASCII(item)) {
                status = DECODE_NOT_ASCII;
                break;
            }
            s = PyUnicode_1BYTE_DATA(item);
            len = PyUnicode_GET_LENGTH(item);
        } else if (PyBytes_Check(item)) {
            s = (const unsigned char *)PyBytes_AS_STRING(item);
            len = PyBytes_GET_SIZE(item);
        } else {
            status = DECODE_OTHER_TYPE; /* bytes-like objects: numpy's decoder takes them */
            break;
        }
        if (filled + len > capacity) {
            status = DECODE_FULL;
            break;
        }
        int64_t m = decode_one(s, len, runs + filled, NULL, NULL, NULL);
        if (m < 0) {
            status = (int)-m;
            break;
        }
        filled += m;
        offsets[i + 1] = filled;
    }
    PyBuffer_Release(&runs_view);
    PyBuffer_Release(&off_view);
    return Py_BuildValue("inn", status, status == DECODE_OK ? (Py_ssize_t)-1 : i, filled);
fail:
    PyBuffer_Release(&runs_view);
    PyBuffer_Release(&off_view);
    return NULL;
}

/* ------------------------------------------------------------------ IoU */

static Span span_of(const uint32_t *counts, int64_t n_runs, int64_t *ends) {
    Span sp = {-1, 0, 0};
    int64_t pos = 0, j = 0;
    for (; j + 1 < n_runs; j += 2) { /* a background run, then a foreground run */
        pos += counts[j];
        ends[j] = pos;
        int64_t c = counts[j + 1];
        pos += c;
        ends[j + 1] = pos;
        if (c > 0) {
            if (sp.first < 0) sp.first = pos - c;
            sp.last = pos;
            sp.area += c;
        }
    }
    if (j < n_runs) ends[j] = pos + counts[j];
    if (sp.first < 0) sp.first = 0;
    return sp;
}

/* First run whose end lies beyond position q (runs [0, n) with ends `ends`). */
static int64_t run_at(const int64_t *ends, int64_t n, int64_t q) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = (lo + hi) >> 1;
        if (ends[mid] <= q)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Pixels both masks cover, counted within [lo, hi), where lo is the later of the
 * two masks' first foreground pixels and hi the earlier of their last ones (so
 * nothing outside it is shared). Walks the two lists of foreground runs (odd run
 * indices) together, always stepping past the run that ends first. */
static int64_t shared_pixels(const int64_t *a_ends, int64_t na, const int64_t *b_ends, int64_t nb,
                             int64_t lo, int64_t hi) {
    int64_t ia = run_at(a_ends, na, lo) | 1, ib = run_at(b_ends, nb, lo) | 1, inter = 0;
    while (ia < na && ib < nb) {
        int64_t sa = a_ends[ia - 1], ea = a_ends[ia], sb = b_ends[ib - 1], eb = b_ends[ib];
        if (sa >= hi || sb >= hi) break;
        int64_t overlap = (ea < eb ? ea : eb) - (sa > sb ? sa : sb);
        inter += overlap > 0 ? overlap : 0;
        int64_t a_first = ea <= eb;
        ia += 2 * a_first;
        ib += 2 * (1 - a_first);
    }
    return inter;
}

/* iou(d_counts u32, d_offsets i64, g_counts u32, g_offsets i64, pair_d i64, pair_g i64,
 *     crowd u8, out f64, compressed=False) -> None
 * With `compressed`, d_counts/d_offsets are instead the predictions' compressed
 * strings (ASCII bytes, end to end) and where each starts: a prediction is decoded
 * when its first pair comes, and one without pairs never is.
 * pycocotools' rleIou for each pair: i / u as one float64 division of exact
 * integers, u the prediction's area for a crowd ground truth, 0 where i == 0.
 * Pairs are best grouped by prediction: each prediction's run ends are built
 * once per group; ground-truth run ends are built once per call. */
static PyObject *iou(PyObject *self, PyObject *args) {
    PyObject *objs[8];
    int compressed = 0;
    if (!PyArg_ParseTuple(args, "OOOOOOOO|p", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4],
                          &objs[5], &objs[6], &objs[7], &compressed))
        return NULL;
    Py_ssize_t sizes[8] = {4, 8, 4, 8, 8, 8, 1, 8};
    if (compressed) sizes[0] = 1;
    static const char *names[8] = {"d_counts", "d_offsets", "g_counts", "g_offsets",
                                   "pair_d",   "pair_g",    "crowd",    "out"};
    Py_buffer v[8];
    if (get_buffers(objs, v, 8, sizes, 7, names) < 0) return NULL;
    const uint32_t *d_counts = v[0].buf, *g_counts = v[2].buf;
    const unsigned char *d_chars = v[0].buf;
    const int64_t *d_off = v[1].buf, *g_off = v[3].buf, *pd = v[4].buf, *pg = v[5].buf;
    const uint8_t *crowd = v[6].buf;
    double *out = v[7].buf;
    Py_ssize_t n_pairs = N_ITEMS(v[4]), n_d = N_ITEMS(v[1]) - 1, n_g = N_ITEMS(v[3]) - 1;
    PyObject *result = NULL;
    int64_t *g_ends = NULL, *d_ends = NULL;
    Span *g_span = NULL;
    if (N_ITEMS(v[5]) != n_pairs || N_ITEMS(v[6]) != n_pairs || N_ITEMS(v[7]) != n_pairs ||
        n_d < 0 || n_g < 0 || d_off[n_d] > N_ITEMS(v[0]) || g_off[n_g] > N_ITEMS(v[2])) {
        PyErr_SetString(PyExc_ValueError, "iou: inconsistent lengths");
        goto done;
    }
    for (Py_ssize_t p = 0; p < n_pairs; p++) {
        if (pd[p] < 0 || pd[p] >= n_d || pg[p] < 0 || pg[p] >= n_g) {
            PyErr_SetString(PyExc_IndexError, "iou: pair index out of range");
            goto done;
        }
    }
    int64_t g_total = g_off[n_g] - g_off[0], d_max = 0;
    for (Py_ssize_t k = 0; k < n_d; k++)
        if (d_off[k + 1] - d_off[k] > d_max) d_max = d_off[k + 1] - d_off[k];
    /* Ground-truth run ends are filled on first use: pages of masks a call never
     * names are never touched (calls on halves of the pairs share the work). */
    g_ends = malloc(sizeof(int64_t) * (size_t)(g_total + 1));
    d_ends = malloc(sizeof(int64_t) * (size_t)(d_max + 1));
    g_span = malloc(sizeof(Span) * (size_t)(n_g + 1));
    if (!g_ends || !d_ends || !g_span) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t bad_string = -1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < n_g; k++) g_span[k].area = -1;
    int64_t current = -1, current_runs = 0;
    Span ds = {0, 0, 0};
    for (Py_ssize_t p = 0; p < n_pairs; p++) {
        int64_t d = pd[p], g = pg[p];
        int64_t nd = d_off[d + 1] - d_off[d], ng = g_off[g + 1] - g_off[g];
        if (d != current) {
            if (compressed) {
                nd = decode_one(d_chars + d_off[d], (Py_ssize_t)nd, NULL, d_ends, NULL, &ds);
                if (nd < 0) {
                    bad_string = d;
                    break;
                }
            } else {
                ds = span_of(d_counts + d_off[d], nd, d_ends);
            }
            current = d;
            current_runs = nd;
        }
        nd = current_runs;
        if (g_span[g].area < 0) g_span[g] = span_of(g_counts + g_off[g], ng, g_ends + g_off[g] - g_off[0]);
        Span gs = g_span[g];
        int64_t lo = ds.first > gs.first ? ds.first : gs.first;
        int64_t hi = ds.last < gs.last ? ds.last : gs.last;
        int64_t inter = 0;
        if (lo < hi) inter = shared_pixels(d_ends, nd, g_ends + g_off[g] - g_off[0], ng, lo, hi);
        if (inter == 0) {
            out[p] = 0.0;
        } else {
            int64_t uni = crowd[p] ? ds.area : ds.area + gs.area - inter;
            out[p] = (double)inter / (double)uni;
        }
    }
    Py_END_ALLOW_THREADS
    if (bad_string >= 0) {
        PyErr_Format(PyExc_ValueError, "RLE string %lld: malformed", (long long)bad_string);
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    free(g_ends);
    free(d_ends);
    free(g_span);
    release_buffers(v, 8);
    return result;
}

/* ------------------------------------------------------------------ polygons */

typedef struct {
    int64_t *data;
    int64_t size, capacity;
} Vec;

static int vec_reserve(Vec *v, int64_t n) {
    if (n <= v->capacity) return 0;
    int64_t cap = v->capacity ? v->capacity : 256;
    while (cap < n) cap *= 2;
    int64_t *d = realloc(v->data, sizeof(int64_t) * (size_t)cap);
    if (!d) return -1;
    v->data = d;
    v->capacity = cap;
    return 0;
}

static inline int vec_push(Vec *v, int64_t x) {
    if (v->size == v->capacity && vec_reserve(v, v->size + 1) < 0) return -1;
    v->data[v->size++] = x;
    return 0;
}

static int cmp_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* C's (int)(v + .5): add one half, truncate toward zero. */
static inline int64_t round_half_up(double v) { return (int64_t)(v + 0.5); }

static void insertion_sort(int64_t *a, int64_t n) {
    for (int64_t j = 1; j < n; j++) {
        int64_t x = a[j], k = j;
        while (k > 0 && a[k - 1] > x) {
            a[k] = a[k - 1];
            k--;
        }
        a[k] = x;
    }
}

/* Sorts n positions: a counting sort by column (position / h), then each
 * column's few rows in place. A ring's crossings span few columns with about
 * two crossings each, where a comparison sort through qsort's callback cost
 * more than the rasterisation itself. `scratch` holds n + columns + 1 items. */
static int sort_positions(int64_t *a, const int64_t *col, int64_t n, int64_t h, Vec *scratch) {
    if (n < 32 || h <= 0) {
        if (n < 32)
            insertion_sort(a, n);
        else
            qsort(a, (size_t)n, sizeof(int64_t), cmp_int64);
        return 0;
    }
#define COLUMN(j) (col ? col[j] : a[j] / h)
    int64_t lo = COLUMN(0), hi = lo;
    for (int64_t j = 1; j < n; j++) {
        int64_t c = COLUMN(j);
        if (c < lo) lo = c;
        if (c > hi) hi = c;
    }
    int64_t cols = hi - lo + 1;
    if (cols > 4 * n) {
        qsort(a, (size_t)n, sizeof(int64_t), cmp_int64);
        return 0;
    }
    if (vec_reserve(scratch, n + cols + 1) < 0) return -1;
    memset(scratch->data, 0, sizeof(int64_t) * (size_t)(cols + 1));
    int64_t *start = scratch->data, *tmp = scratch->data + cols + 1;
    for (int64_t j = 0; j < n; j++) start[COLUMN(j) - lo + 1]++;
    for (int64_t c = 0; c < cols; c++) start[c + 1] += start[c];
    for (int64_t j = 0; j < n; j++) tmp[start[COLUMN(j) - lo]++] = a[j];
#undef COLUMN
    /* start[c] is now the end of column c */
    int64_t from = 0;
    for (int64_t c = 0; c < cols; c++) {
        int64_t to = start[c];
        if (to - from == 2) {
            if (tmp[from] > tmp[from + 1]) {
                int64_t t = tmp[from];
                tmp[from] = tmp[from + 1];
                tmp[from + 1] = t;
            }
        } else if (to - from > 32) {
            qsort(tmp + from, (size_t)(to - from), sizeof(int64_t), cmp_int64);
        } else if (to - from > 2) {
            insertion_sort(tmp + from, to - from);
        }
        from = to;
    }
    memcpy(a, tmp, sizeof(int64_t) * (size_t)n);
    return 0;
}

/* Sorts positions [from, size) of v in place and keeps those occurring an odd
 * number of times and below `pixels` (rle_polygon._rle_from_boundaries). */
static int keep_odd(Vec *v, const Vec *cols, int64_t from, int64_t h, int64_t pixels,
                    Vec *scratch) {
    int64_t *a = v->data + from, n = v->size - from, kept = 0;
    if (sort_positions(a, cols ? cols->data + from : NULL, n, h, scratch) < 0) return -1;
    for (int64_t j = 0; j < n;) {
        int64_t k = j;
        while (k < n && a[k] == a[j]) k++;
        if (((k - j) & 1) && a[j] != pixels) a[kept++] = a[j];
        j = k;
    }
    v->size = from + kept;
    return 0;
}

#define COORD_LIMIT 1e15 /* larger coordinates go to the numpy path (exact int64 there too) */

/* Appends the boundary positions of one ring: rle_polygon.rasterize_polygons,
 * one edge at a time. Returns 0, -1 out of memory, -2 a coordinate too large,
 * -3 the along-y search did not settle. */
static int ring_crossings(const double *xy, int64_t k, int64_t h, int64_t w, Vec *out,
                          Vec *cols) {
    for (int64_t j = 0; j < k; j++) {
        int64_t nx = j + 1 < k ? j + 1 : 0;
        double fx0 = 5.0 * xy[2 * j], fy0 = 5.0 * xy[2 * j + 1];
        double fx1 = 5.0 * xy[2 * nx], fy1 = 5.0 * xy[2 * nx + 1];
        if (!(fabs(fx0) < COORD_LIMIT && fabs(fy0) < COORD_LIMIT && fabs(fx1) < COORD_LIMIT &&
              fabs(fy1) < COORD_LIMIT))
            return -2;
        int64_t xs = round_half_up(fx0), ys = round_half_up(fy0);
        int64_t xe = round_half_up(fx1), ye = round_half_up(fy1);
        int64_t dx = xe > xs ? xe - xs : xs - xe, dy = ys > ye ? ys - ye : ye - ys;
        if (dx == 0) continue; /* no column crossing */
        int along_x = dx >= dy;
        if ((along_x && xs > xe) || (!along_x && ys > ye)) {
            int64_t t = xs;
            xs = xe;
            xe = t;
            t = ys;
            ys = ye;
            ye = t;
        }
        double slope = along_x ? (double)(ye - ys) / (double)dx : (double)(xe - xs) / (double)dy;
        int64_t lo = (xs < xe ? xs : xe), hi = (xs > xe ? xs : xe) - 1;
        if (lo < 2) lo = 2;
        if (hi > 5 * (w - 1) + 2) hi = 5 * (w - 1) + 2;
        /* first_col = ceil((lo - 2) / 5), last_col = floor((hi - 2) / 5), lo >= 2 */
        int64_t first_col = (lo - 2 + 4) / 5;
        int64_t last_col = hi >= 2 ? (hi - 2) / 5 : -1;
        if (hi < 2) continue;
        for (int64_t col = first_col; col <= last_col; col++) {
            int64_t u = 5 * col + 2, row;
            if (along_x) {
                double t = (double)(u - xs);
                int64_t r0 = round_half_up((double)ys + slope * t);
                int64_t r1 = round_half_up((double)ys + slope * (t + 1.0));
                row = r0 < r1 ? r0 : r1;
            } else {
                double xsf = (double)xs;
                /* clip(floor(v), 0, dy - 1); for v >= 0 truncation is floor */
                double est = ((double)u + 0.5 - xsf) / slope;
                int64_t ty = !(est >= 0.0) ? 0 : est >= (double)(dy - 1) ? dy - 1 : (int64_t)est;
                int rising = slope > 0, settled = 0;
                for (int step = 0; step < 64; step++) {
                    int64_t u0 = round_half_up(xsf + slope * (double)ty);
                    int64_t u1 = round_half_up(xsf + slope * (double)(ty + 1));
                    int near_ok = rising ? u0 <= u : u0 > u;
                    int far_ok = rising ? u1 > u : u1 <= u;
                    if (near_ok && far_ok) {
                        settled = 1;
                        break;
                    }
                    ty = near_ok ? ty + 1 : ty - 1;
                }
                if (!settled) return -3;
                row = ys + ty;
            }
            /* ceil(clip((row + 0.5) / 5 - 0.5, 0, h)) in integers: the float value is
             * (row - 2) / 5 to within an ulp and never within 0.2 of an integer
             * unless it is one exactly, so its ceiling is ceil((row - 2) / 5) */
            int64_t yd = row - 2 >= 0 ? (row - 2 + 4) / 5 : -((2 - row) / 5);
            if (yd < 0) yd = 0;
            if (yd > h) yd = h;
            if (vec_push(out, col * h + yd) < 0 || vec_push(cols, col) < 0) return -1;
        }
    }
    return 0;
}

/* rasterize(xy f64 (V*2), vertex_offsets i64 (R+1), ring_offsets i64 (n+1),
 *           heights i64 (n), widths i64 (n)) -> (status, counts: bytes u32, offsets: bytes i64)
 * merge(frPyObjects(parts, h, w)) per object: each ring rasterised as rleFrPoly,
 * the rings of one object united. status 0 ok; -2 a coordinate beyond 1e15 and
 * -3 an unsettled search (the caller uses numpy for those batches). */
static PyObject *rasterize(PyObject *self, PyObject *args) {
    PyObject *objs[5];
    if (!PyArg_ParseTuple(args, "OOOOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4]))
        return NULL;
    static const Py_ssize_t sizes[5] = {8, 8, 8, 8, 8};
    static const char *names[5] = {"xy", "vertex_offsets", "ring_offsets", "heights", "widths"};
    Py_buffer v[5];
    if (get_buffers(objs, v, 5, sizes, 5, names) < 0) return NULL;
    const double *xy = v[0].buf;
    const int64_t *voff = v[1].buf, *roff = v[2].buf, *hs = v[3].buf, *ws = v[4].buf;
    Py_ssize_t n = N_ITEMS(v[2]) - 1, n_rings = N_ITEMS(v[1]) - 1, n_xy = N_ITEMS(v[0]);
    PyObject *result = NULL, *counts_bytes = NULL, *off_bytes = NULL;
    Vec cross = {0}, cols = {0}, events = {0}, counts = {0}, scratch = {0};
    int status = 0;
    if (n < 0 || n_rings < 0 || N_ITEMS(v[3]) != n || N_ITEMS(v[4]) != n ||
        (n > 0 && (roff[0] != 0 || roff[n] != n_rings)) ||
        (n_rings > 0 && (voff[0] != 0 || 2 * voff[n_rings] > n_xy))) {
        PyErr_SetString(PyExc_ValueError, "rasterize: inconsistent offsets");
        goto done;
    }
    off_bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)sizeof(int64_t) * (n + 1));
    if (!off_bytes) goto done;
    int64_t *offsets = (int64_t *)PyBytes_AS_STRING(off_bytes);
    offsets[0] = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && status == 0; i++) {
        int64_t h = hs[i], w = ws[i], pixels = h * w;
        int64_t r0 = roff[i], r1 = roff[i + 1];
        events.size = 0;
        cross.size = 0;
        cols.size = 0;
        for (int64_t r = r0; r < r1 && status == 0; r++) {
            int64_t from = cross.size;
            status = ring_crossings(xy + 2 * voff[r], voff[r + 1] - voff[r], h, w, &cross, &cols);
            if (status != 0) break;
            if (keep_odd(&cross, &cols, from, h, pixels, &scratch) < 0) {
                status = -1;
                break;
            }
            if (r1 - r0 > 1) {
                /* the ring's foreground intervals as sweep events: 2*pos for a start,
                 * 2*pos+1 for an end (starts first at equal positions, so touching
                 * intervals merge as rleMerge merges them) */
                int64_t kept = cross.size - from;
                for (int64_t j = 0; j < kept && status == 0; j++) {
                    int64_t pos = cross.data[from + j];
                    if (vec_push(&events, 2 * pos + (j & 1)) < 0) status = -1;
                }
                if (status == 0 && (kept & 1) && vec_push(&events, 2 * pixels + 1) < 0) status = -1;
                cross.size = from;
                cols.size = from;
            }
        }
        if (status != 0) break;
        if (r1 - r0 > 1) {
            if (sort_positions(events.data, NULL, events.size, 2 * h, &scratch) < 0) {
                status = -1;
                break;
            }
            int64_t cover = 0;
            cross.size = 0;
            for (int64_t j = 0; j < events.size && status == 0; j++) {
                int64_t before = cover;
                cover += (events.data[j] & 1) ? -1 : 1;
                if ((before == 0) != (cover == 0))
                    if (vec_push(&cross, events.data[j] >> 1) < 0) status = -1;
            }
            if (status != 0) break;
            if (keep_odd(&cross, NULL, 0, h, pixels, &scratch) < 0) status = -1;
        }
        /* toggles -> run lengths, closed by h*w */
        int64_t prev = 0;
        for (int64_t j = 0; j < cross.size && status == 0; j++) {
            if (vec_push(&counts, cross.data[j] - prev) < 0) status = -1;
            prev = cross.data[j];
        }
        if (status == 0 && vec_push(&counts, pixels - prev) < 0) status = -1;
        offsets[i + 1] = counts.size;
    }
    Py_END_ALLOW_THREADS
    if (status == -1) {
        PyErr_NoMemory();
        goto done;
    }
    counts_bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)sizeof(uint32_t) * counts.size);
    if (!counts_bytes) goto done;
    uint32_t *c32 = (uint32_t *)PyBytes_AS_STRING(counts_bytes);
    for (int64_t j = 0; j < counts.size; j++) {
        if (counts.data[j] < 0 || counts.data[j] > 0xFFFFFFFFLL) {
            status = -2; /* a run beyond uint32 (a mask of 2**32 pixels or more): numpy's path */
            break;
        }
        c32[j] = (uint32_t)counts.data[j];
    }
    result = Py_BuildValue("iOO", status, counts_bytes, off_bytes);
done:
    Py_XDECREF(counts_bytes);
    Py_XDECREF(off_bytes);
    free(cross.data);
    free(events.data);
    free(counts.data);
    free(scratch.data);
    free(cols.data);
    release_buffers(v, 5);
    return result;
}

/* check(chars u8, char_offsets i64 (n+1), heights i64 (n), widths i64 (n)) -> (status, index)
 * Whether every compressed string decodes and its runs fill h * w pixels, without
 * keeping the runs. status 0 (index -1), a DECODE_* problem, or DECODE_SIZE. */
static PyObject *check(PyObject *self, PyObject *args) {
    PyObject *objs[4];
    if (!PyArg_ParseTuple(args, "OOOO", &objs[0], &objs[1], &objs[2], &objs[3])) return NULL;
    static const Py_ssize_t sizes[4] = {1, 8, 8, 8};
    static const char *names[4] = {"chars", "char_offsets", "heights", "widths"};
    Py_buffer v[4];
    if (get_buffers(objs, v, 4, sizes, 4, names) < 0) return NULL;
    const unsigned char *chars = v[0].buf;
    const int64_t *off = v[1].buf, *hs = v[2].buf, *ws = v[3].buf;
    Py_ssize_t n = N_ITEMS(v[1]) - 1, i = 0;
    int status = DECODE_OK;
    if (n < 0 || N_ITEMS(v[2]) != n || N_ITEMS(v[3]) != n || (n > 0 && off[n] > N_ITEMS(v[0]))) {
        release_buffers(v, 4);
        PyErr_SetString(PyExc_ValueError, "check: inconsistent lengths");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    for (i = 0; i < n; i++) {
        int64_t total = 0;
        int64_t m = decode_one(chars + off[i], (Py_ssize_t)(off[i + 1] - off[i]), NULL, NULL, &total, NULL);
        if (m < 0) {
            status = (int)-m;
            break;
        }
        if (total != hs[i] * ws[i]) {
            status = DECODE_SIZE;
            break;
        }
    }
    Py_END_ALLOW_THREADS
    release_buffers(v, 4);
    return Py_BuildValue("in", status, status == DECODE_OK ? (Py_ssize_t)-1 : i);
}

/* summaries(chars u8, char_offsets i64 (n+1), heights i64 (n), widths i64 (n),
 *           area f64 (n), bbox f64 (n*4)) -> (status, index)
 * check(), also writing each mask's area and box (see summarize_one). */
static PyObject *summaries(PyObject *self, PyObject *args) {
    PyObject *objs[6];
    if (!PyArg_ParseTuple(args, "OOOOOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4],
                          &objs[5]))
        return NULL;
    static const Py_ssize_t sizes[6] = {1, 8, 8, 8, 8, 8};
    static const char *names[6] = {"chars", "char_offsets", "heights", "widths", "area", "bbox"};
    Py_buffer v[6];
    if (get_buffers(objs, v, 6, sizes, 4, names) < 0) return NULL;
    const unsigned char *chars = v[0].buf;
    const int64_t *off = v[1].buf, *hs = v[2].buf, *ws = v[3].buf;
    double *area = v[4].buf, *bbox = v[5].buf;
    Py_ssize_t n = N_ITEMS(v[1]) - 1, i = 0;
    int status = DECODE_OK;
    if (n < 0 || N_ITEMS(v[2]) != n || N_ITEMS(v[3]) != n || N_ITEMS(v[4]) < n ||
        N_ITEMS(v[5]) < 4 * n || (n > 0 && off[n] > N_ITEMS(v[0]))) {
        release_buffers(v, 6);
        PyErr_SetString(PyExc_ValueError, "summaries: inconsistent lengths");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    for (i = 0; i < n; i++) {
        status = summarize_one(chars + off[i], (Py_ssize_t)(off[i + 1] - off[i]), hs[i], ws[i],
                               &area[i], &bbox[4 * i]);
        if (status != DECODE_OK) break;
    }
    Py_END_ALLOW_THREADS
    release_buffers(v, 6);
    return Py_BuildValue("in", status, status == DECODE_OK ? (Py_ssize_t)-1 : i);
}

/* ------------------------------------------------------------------ keypoints */

/* np.maximum(0.0, v): NaN stays NaN */
static inline double above_zero(double v) { return v > 0.0 || v != v ? v : 0.0; }

/* oks(dt_x f64, dt_y f64, dt_offsets i64 (D+1), gt_x f64, gt_y f64, gt_vis f64,
 *     gt_offsets i64 (G+1), variances f64 (per gt keypoint), labelled i64 (G),
 *     box f64 (G*4: x0, x1, y0, y1 of the grown box), scale f64 (G), d i64 (P), g i64 (P),
 *     out f64 (P)[, dt_step, gt_step]) -> None
 * Keypoint i of the predictions is dt_x[i * dt_step] (and dt_y[...]; likewise for the
 * ground truth with gt_step), so COCO's interleaved [x, y, v, ...] rows can be read in
 * place with step 3.
 * COCOeval.computeOks of pairs (d[p], g[p]) whose keypoint counts agree (the caller
 * checks), each e_i by the numpy kernel's operations in its order (keypoints.py); the
 * mean sums the counted exp(-e_i) in keypoint order. Releases the GIL. */
static PyObject *oks(PyObject *self, PyObject *args) {
    PyObject *objs[14];
    Py_ssize_t ds = 1, gs = 1;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOO|nn", &objs[0], &objs[1], &objs[2], &objs[3],
                          &objs[4], &objs[5], &objs[6], &objs[7], &objs[8], &objs[9], &objs[10],
                          &objs[11], &objs[12], &objs[13], &ds, &gs))
        return NULL;
    if (ds < 1 || gs < 1) {
        PyErr_SetString(PyExc_ValueError, "oks: steps must be positive");
        return NULL;
    }
    static const Py_ssize_t sizes[14] = {8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8};
    static const char *names[14] = {"dt_x", "dt_y", "dt_offsets", "gt_x", "gt_y", "gt_vis",
                                    "gt_offsets", "variances", "labelled", "box", "scale", "d",
                                    "g", "out"};
    Py_buffer v[14];
    if (get_buffers(objs, v, 14, sizes, 13, names) < 0) return NULL;
    const double *dx_ = v[0].buf, *dy_ = v[1].buf, *gx = v[3].buf, *gy = v[4].buf,
                 *gv = v[5].buf, *var = v[7].buf, *box = v[9].buf, *scale = v[10].buf;
    const int64_t *doff = v[2].buf, *goff = v[6].buf, *labelled = v[8].buf, *d = v[11].buf,
                  *g = v[12].buf;
    double *out = v[13].buf;
    Py_ssize_t n_d = N_ITEMS(v[2]) - 1, n_g = N_ITEMS(v[6]) - 1, n = N_ITEMS(v[11]);
    /* the items a buffer read with a step needs for k keypoints: (k - 1) * step + 1 */
    int64_t k_d = n_d > 0 ? doff[n_d] : 0, k_g = n_g > 0 ? goff[n_g] : 0;
    int64_t need_d = k_d ? (k_d - 1) * ds + 1 : 0, need_g = k_g ? (k_g - 1) * gs + 1 : 0;
    int bad = n_d < 0 || n_g < 0 || N_ITEMS(v[12]) != n || N_ITEMS(v[13]) != n ||
              N_ITEMS(v[8]) != n_g || N_ITEMS(v[9]) != 4 * n_g || N_ITEMS(v[10]) != n_g ||
              N_ITEMS(v[3]) < need_g || N_ITEMS(v[4]) < need_g || N_ITEMS(v[5]) < need_g ||
              N_ITEMS(v[7]) < k_g || N_ITEMS(v[0]) < need_d || N_ITEMS(v[1]) < need_d;
    for (Py_ssize_t p = 0; p < n && !bad; p++)
        if (d[p] < 0 || d[p] >= n_d || g[p] < 0 || g[p] >= n_g ||
            doff[d[p] + 1] - doff[d[p]] != goff[g[p] + 1] - goff[g[p]])
            bad = 1;
    if (bad) {
        release_buffers(v, 14);
        PyErr_SetString(PyExc_ValueError, "oks: inconsistent inputs");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t p = 0; p < n; p++) {
        int64_t a = doff[d[p]], b = goff[g[p]], k = goff[g[p] + 1] - b, gi = g[p];
        int any_visible = labelled[gi] > 0;
        double x0 = box[4 * gi], x1 = box[4 * gi + 1], y0 = box[4 * gi + 2], y1 = box[4 * gi + 3];
        double total = 0.0;
        int64_t counted = 0;
        for (int64_t j = 0; j < k; j++) {
            if (any_visible && !(gv[(b + j) * gs] > 0)) continue;
            double xd = dx_[(a + j) * ds], yd = dy_[(a + j) * ds], dx, dy;
            if (any_visible) {
                dx = xd - gx[(b + j) * gs];
                dy = yd - gy[(b + j) * gs];
            } else {
                dx = above_zero(x0 - xd) + above_zero(xd - x1);
                dy = above_zero(y0 - yd) + above_zero(yd - y1);
            }
            double e = (dx * dx + dy * dy) / var[b + j] / scale[gi] / 2;
            /* exp(-e) is exactly 0.0 beyond e = 745.14 (below the least subnormal): skip it */
            if (!(e > 746.0)) total += exp(-e);
            counted++;
        }
        out[p] = total / (double)counted;
    }
    Py_END_ALLOW_THREADS
    release_buffers(v, 14);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ results slices */

static PyObject *KEY_IMAGE_ID, *KEY_CATEGORY_ID, *KEY_SCORE, *KEY_BBOX, *KEY_SEGMENTATION,
    *KEY_COUNTS, *KEY_SIZE;

static int as_int64(PyObject *v, int64_t *out) {
    if (!PyLong_CheckExact(v)) return -1;
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || (x == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

/* A float, or an int within int64 (numpy's reading of a list mixing the two; an int
 * beyond int64 makes numpy build an object array, which the caller's path judges). */
static int as_double(PyObject *v, double *out) {
    if (PyFloat_CheckExact(v)) {
        *out = PyFloat_AS_DOUBLE(v);
        return 0;
    }
    int64_t x;
    if (as_int64(v, &x) < 0) return -1;
    *out = (double)x;
    return 0;
}

/* segm_columns(items: list, ids i64 (n*2), score f64 (n), bbox f64 (n*4), sizes i64 (n*2),
 *              ends i64 (n), chars u8 buffer, chars_from: int) -> (status, chars_used)
 * The columns of one slice of a segm results file in one pass: image and category
 * ids as the file has them, score, bbox, mask size, and each compressed string
 * copied after chars[chars_from] (ends: where each ends) and checked (it decodes
 * and fills its size). status 0 done; 1 anything but the plain case (an id that is
 * not an int, a missing key, a non-ASCII string, no room, ...): the caller reads
 * the slice its own way; 2 a string that does not decode or fill its size.
 * With with_masks=False (a bbox results file) only the box columns are read. With an
 * `area` buffer f64 (n) (a segm file whose first detection has no bbox), no bbox is
 * read: area and bbox get each mask's (mask.area, mask.toBbox). */
static PyObject *segm_columns(PyObject *self, PyObject *args) {
    PyObject *list, *objs[7];
    Py_ssize_t chars_from;
    int with_masks = 1;
    objs[6] = Py_None;
    if (!PyArg_ParseTuple(args, "O!OOOOOOn|pO", &PyList_Type, &list, &objs[0], &objs[1], &objs[2],
                          &objs[3], &objs[4], &objs[5], &chars_from, &with_masks, &objs[6]))
        return NULL;
    /* with an area buffer, boxes and areas come from the masks (loadRes' segm branch) */
    int from_masks = with_masks && objs[6] != Py_None, n_views = from_masks ? 7 : 6;
    static const Py_ssize_t sizes[7] = {8, 8, 8, 8, 8, 1, 8};
    static const char *names[7] = {"ids", "score", "bbox", "sizes", "ends", "chars", "area"};
    Py_buffer v[7];
    if (get_buffers(objs, v, n_views, sizes, 0, names) < 0) return NULL;
    int64_t *ids = v[0].buf, *hw = v[3].buf, *ends = v[4].buf;
    double *score = v[1].buf, *bbox = v[2].buf, *area = from_masks ? v[6].buf : NULL;
    unsigned char *chars = v[5].buf;
    Py_ssize_t n = PyList_GET_SIZE(list), capacity = N_ITEMS(v[5]), used = chars_from;
    int status = 0;
    if (N_ITEMS(v[0]) < 2 * n || N_ITEMS(v[1]) < n || N_ITEMS(v[2]) < 4 * n ||
        (with_masks && (N_ITEMS(v[3]) < 2 * n || N_ITEMS(v[4]) < n)) ||
        (from_masks && N_ITEMS(v[6]) < n) || chars_from < 0 || chars_from > capacity) {
        release_buffers(v, n_views);
        PyErr_SetString(PyExc_ValueError, "segm_columns: buffers too small");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n && status == 0; i++) {
        PyObject *item = PyList_GET_ITEM(list, i), *x, *seg, *size, *counts;
        if (!PyDict_CheckExact(item)) goto decline;
        if (!(x = PyDict_GetItem(item, KEY_IMAGE_ID)) || as_int64(x, &ids[2 * i]) < 0) goto decline;
        if (!(x = PyDict_GetItem(item, KEY_CATEGORY_ID)) || as_int64(x, &ids[2 * i + 1]) < 0)
            goto decline;
        if (!(x = PyDict_GetItem(item, KEY_SCORE)) || as_double(x, &score[i]) < 0) goto decline;
        if (!from_masks) {
            if (!(x = PyDict_GetItem(item, KEY_BBOX)) || !PyList_CheckExact(x) ||
                PyList_GET_SIZE(x) != 4)
                goto decline;
            for (int k = 0; k < 4; k++)
                if (as_double(PyList_GET_ITEM(x, k), &bbox[4 * i + k]) < 0) goto decline;
        }
        if (!with_masks) continue;
        if (!(seg = PyDict_GetItem(item, KEY_SEGMENTATION)) || !PyDict_CheckExact(seg)) goto decline;
        if (!(size = PyDict_GetItem(seg, KEY_SIZE)) || !PyList_CheckExact(size) ||
            PyList_GET_SIZE(size) != 2 || as_int64(PyList_GET_ITEM(size, 0), &hw[2 * i]) < 0 ||
            as_int64(PyList_GET_ITEM(size, 1), &hw[2 * i + 1]) < 0)
            goto decline;
        if (!(counts = PyDict_GetItem(seg, KEY_COUNTS)) || !PyUnicode_CheckExact(counts) ||
            !PyUnicode_IS_ASCII(counts))
            goto decline;
        Py_ssize_t len = PyUnicode_GET_LENGTH(counts);
        if (len > capacity - used) goto decline;
        const unsigned char *text = PyUnicode_1BYTE_DATA(counts);
        int64_t total = 0;
        if (from_masks ? summarize_one(text, len, hw[2 * i], hw[2 * i + 1], &area[i],
                                       &bbox[4 * i]) != DECODE_OK
                       : (decode_one(text, len, NULL, NULL, &total, NULL) < 0 ||
                          total != hw[2 * i] * hw[2 * i + 1])) {
            status = 2;
            break;
        }
        memcpy(chars + used, text, (size_t)len);
        used += len;
        ends[i] = used;
        continue;
    decline:
        status = 1;
    }
    release_buffers(v, n_views);
    return Py_BuildValue("in", status, used);
}

/* ------------------------------------------------------------------ module */

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS, "Decode compressed COCO RLE strings into run lengths."},
    {"iou", iou, METH_VARARGS, "Mask IoU of (prediction, ground truth) pairs on run lengths."},
    {"check", check, METH_VARARGS, "Whether compressed strings decode and fill their sizes."},
    {"summaries", summaries, METH_VARARGS, "check, also writing each mask's area and box."},
    {"oks", oks, METH_VARARGS, "Object keypoint similarity of (prediction, ground truth) pairs."},
    {"segm_columns", segm_columns, METH_VARARGS, "The columns of a slice of a segm results file."},
    {"rasterize", rasterize, METH_VARARGS, "Polygon objects to run lengths, as frPyObjects+merge."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "Compiled mask kernels (see native.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    if (!(KEY_IMAGE_ID = PyUnicode_InternFromString("image_id")) ||
        !(KEY_CATEGORY_ID = PyUnicode_InternFromString("category_id")) ||
        !(KEY_SCORE = PyUnicode_InternFromString("score")) ||
        !(KEY_BBOX = PyUnicode_InternFromString("bbox")) ||
        !(KEY_SEGMENTATION = PyUnicode_InternFromString("segmentation")) ||
        !(KEY_COUNTS = PyUnicode_InternFromString("counts")) ||
        !(KEY_SIZE = PyUnicode_InternFromString("size")))
        return NULL;
    return PyModule_Create(&module);
}
