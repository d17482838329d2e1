#!/usr/bin/env python3
"""Writes the small seed corpora of the safetensors, checkpoint, class-name,
command-line and PNG harnesses and the hand-made .mat seeds (plain Python 3,
no torch). Run from the repository root: python3 tests/fuzz/make_seeds.py"""
import json
import os
import struct
import zlib

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
M64 = (1 << 64) - 1


def fnv(h, b):
    for c in b:
        h ^= c
        h = (h * 0x100000001b3) & M64
    return h


INIT = 0xcbf29ce484222325


def st(tensors, meta=None, pad=True):
    """tensors: list of (name, dtype, shape, bytes) -> safetensors bytes"""
    hdr, off, data = {}, 0, b''
    if meta is not None:
        hdr['__metadata__'] = meta
    for name, dt, shape, raw in tensors:
        hdr[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [off, off + len(raw)]}
        off += len(raw)
        data += raw
    h = json.dumps(hdr, separators=(',', ':')).encode()
    if pad:
        h += b' ' * (-len(h) % 8)
    return struct.pack('<Q', len(h)) + h + data


def write(sub, name, b):
    with open(os.path.join(D, sub, name), 'wb') as f:
        f.write(b)


f32 = lambda *v: struct.pack('<%df' % len(v), *v)
T = [('w', 'F32', [2, 3], f32(1, 2, 3, 4, 5, 6)), ('b', 'F64', [2], struct.pack('<2d', 0.5, -1)),
     ('n', 'I64', [], struct.pack('<q', 7)), ('i', 'I32', [1, 2], struct.pack('<2i', 3, -4)),
     ('u', 'U8', [3], b'\x01\x02\x03'), ('e', 'F32', [0, 4], b'')]
write('safetensors', 'mixed.safetensors', st(T, {'made_by': 'make_seeds.py'}))
write('safetensors', 'one.safetensors', st([('x', 'F32', [1], f32(1))], pad=False))
write('safetensors', 'empty_header.safetensors', st([]))

# checkpoint metadata, as crn_checkpoint_save writes it (with both checksums)
meta = {'clresnet': 'checkpoint-1', 'model': 'baseline', 'act': 'relu', 'final_act': '1', 'classes': '3',
        'width': '0.25', 'image_size': '32', 'run.epoch': '1', 'run.step': '3',
        'config': json.dumps({'model': 'baseline', 'act': 'relu', 'batch_size': 8})}
tens = [('fc.weight', 'F32', [3, 2], f32(*range(6))), ('fc.bias', 'F32', [3], f32(0, 0, 1))]


def with_sums(meta, tens):
    m = dict(meta)
    s = 0
    for k, v in m.items():
        s = (s + fnv(fnv(INIT, k.encode() + b'\0'), v.encode())) & M64
    m['meta_checksum'] = '%016x' % s
    h = INIT
    for name, _, _, raw in tens:
        h = fnv(fnv(h, name.encode()), raw)
    m['checksum'] = '%016x' % h
    return m


write('checkpoint', 'checked.safetensors', st(tens, with_sums(meta, tens)))
write('checkpoint', 'unchecked.safetensors', st(tens, meta))
m2 = dict(meta, model='resnet50', act='silu', final_act='0', width='1', classes='102')
del m2['config']
write('checkpoint', 'resnet50_silu.safetensors', st(tens[:1], with_sums(m2, tens[:1])))

# cat_to_name.json: first byte = class count - 1 (mod 102)
names = {'1': 'pink primrose', '2': 'hard-leaved pocket orchid', '3': 'canterbury bells'}
write('classnames', 'three.json', bytes([2]) + json.dumps(names).encode())
write('classnames', 'missing.json', bytes([3]) + json.dumps(names).encode())
write('classnames', 'not_string.json', bytes([1]) + b'{"1": "a", "2": 5}')
write('classnames', 'unicode.json', bytes([0]) + '{"1": "\u00e9t\u00e9 \\u0000 x"}'.encode())

# `clresnet train` arguments, NUL-separated
cl = [['--model', 'baseline', '--width', '0.25', '--image-size', '32', '--batch-size', '8', '--no-augment'],
      ['--optimizer', 'sgd', '--momentum', '0.9', '--lr', '1e-2', '--epochs', '3', '--max-steps', '10'],
      ['--hflip', '0.5', '--rotation', '15', '--grayscale', '0.1', '--brightness', '0.2', '--contrast', '0.2',
       '--saturation', '0.2', '--plateau-factor', '0.1', '--plateau-patience', '10', '--early-stop', '15'],
      ['--resume', '/nonexistent-run', '--epochs', '5', '--workers', '2'],
      ['--split', 'official', '--act', 'silu', '--no-final-act', '--seed', '42', '--beta1', '0.9', '--eps', '1e-8'],
      ['--lr'], ['extra']]
for i, a in enumerate(cl):
    write('cli', 'args%d' % i, '\0'.join(a).encode())

# level-5 .mat files beside the matio-written ones: both byte orders,
# uncompressed, small-format elements, a complex variable, integer classes
MI = {'i8': (1, 'b'), 'u8': (2, 'B'), 'i16': (3, 'h'), 'u16': (4, 'H'), 'i32': (5, 'i'), 'u32': (6, 'I'),
      'f32': (7, 'f'), 'f64': (9, 'd')}
MX = {'double': 6, 'single': 7, 'int16': 10, 'uint8': 9, 'int32': 12}


def sub(e, dtype, raw):
    """one subelement: the small format when it holds at most 4 bytes"""
    if 0 < len(raw) <= 4:
        return struct.pack(e + 'I', len(raw) << 16 | dtype) + raw.ljust(4, b'\0')
    return struct.pack(e + 'II', dtype, len(raw)) + raw + b'\0' * (-len(raw) % 8)


def mat_var(e, name, cls, dt, vals, imag=None, compressed=True):
    code, f = MI[dt]
    data = lambda v: struct.pack(e + '%d%s' % (len(v), f), *v)
    body = (sub(e, 6, struct.pack(e + 'II', MX[cls] | (0x800 if imag else 0), 0)) +
            sub(e, 5, struct.pack(e + 'ii', 1, len(vals))) + sub(e, 1, name.encode()) + sub(e, code, data(vals)))
    if imag:
        body += sub(e, code, data(imag))
    el = struct.pack(e + 'II', 14, len(body)) + body
    if not compressed:
        return el
    z = zlib.compress(el)
    return struct.pack(e + 'II', 15, len(z)) + z


def mat_file(e, *vars):
    ver = b'\x00\x01IM' if e == '<' else b'\x01\x00MI'
    return b'MATLAB 5.0 MAT-file, make_seeds.py'.ljust(116) + b'\0' * 8 + ver + b''.join(vars)


ids = list(range(1, 21))
write('mat', 'be_setid.mat', mat_file('>', mat_var('>', 'trnid', 'double', 'u16', ids[:5]),
                                      mat_var('>', 'valid', 'double', 'u16', ids[5:10]),
                                      mat_var('>', 'tstid', 'double', 'u16', ids[10:])))
write('mat', 'raw_labels.mat', mat_file('<', mat_var('<', 'x', 'double', 'u8', [7], compressed=False),
                                        mat_var('<', 'labels', 'double', 'f64', [1, 5, 102, 3], compressed=False)))
write('mat', 'complex_int.mat', mat_file('<', mat_var('<', 'z', 'double', 'f64', [1, 2], imag=[3, 4]),
                                         mat_var('<', 'labels', 'int16', 'i16', [3, 1, 2, 2, 101])))
write('mat', 'single_setid.mat', mat_file('<', mat_var('<', 'tstid', 'single', 'f32', ids[10:]),
                                          mat_var('<', 'trnid', 'int32', 'i32', ids[:5], compressed=False),
                                          mat_var('<', 'valid', 'uint8', 'u8', ids[5:10])))


# PNG files (fuzz_png; first byte: the transform choice), written by hand so
# that every colour type, bit depth, filter type, Adam7, split IDATs and
# skipped ancillary chunks are in the corpus
PNG_SIG = b'\x89PNG\r\n\x1a\n'
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def png_chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def png_pack(px, depth):
    """a row of samples -> bytes (big-endian 16-bit, MSB-first below 8 bits)"""
    if depth == 16:
        return b''.join(struct.pack('>H', v) for v in px)
    if depth == 8:
        return bytes(px)
    bits = ''.join(format(v, '0%db' % depth) for v in px)
    bits += '0' * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


def png_filter(rows, bpp, first_filter):
    """filters each row with type (first_filter + y) % 5 (None, Sub, Up, Average, Paeth)"""
    out, prev = b'', bytes(len(rows[0])) if rows else b''
    for y, r in enumerate(rows):
        f = (first_filter + y) % 5
        enc = bytearray()
        for i, x in enumerate(r):
            a = r[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = b
            elif f == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            enc.append((x - pred) & 255)
        out += bytes([f]) + bytes(enc)
        prev = r
    return out


def png_seed(w, h, ctype, depth, interlace=False, plte=None, trns=None, extra=b'', idats=1, first_filter=0):
    ch = CHANNELS[ctype]
    bpp = max(1, ch * depth // 8)
    top = (1 << depth) - 1 if ctype != 3 else min((1 << depth) - 1, len(plte) // 3 + 1)
    img = [[[(x * 37 + y * 91 + c * 53) % (top + 1) for c in range(ch)] for x in range(w)] for y in range(h)]
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = b''
    for x0, y0, dx, dy in passes:
        rows = [png_pack([v for px in img[y][x0::dx] for v in px], depth) for y in range(y0, h, dy)]
        if rows and rows[0]:
            raw += png_filter(rows, bpp, first_filter)
    z = zlib.compress(raw, 9)
    out = PNG_SIG + png_chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, depth, ctype, 0, 0, int(interlace))) + extra
    if plte is not None:
        out += png_chunk(b'PLTE', plte)
    if trns is not None:
        out += png_chunk(b'tRNS', trns)
    step = -(-len(z) // idats)
    for i in range(0, len(z), step):
        out += png_chunk(b'IDAT', z[i:i + step])
    return out + png_chunk(b'IEND', b'')


os.makedirs(os.path.join(D, 'png'), exist_ok=True)
pal6 = bytes(range(7, 7 + 18))
text = (png_chunk(b'gAMA', struct.pack('>I', 45455)) + png_chunk(b'tEXt', b'Comment\0seed') +
        png_chunk(b'zTXt', b'Title\0\0' + zlib.compress(b'a seed')) + png_chunk(b'prVt', b'private') +
        png_chunk(b'iCCP', b'icc\0\0' + zlib.compress(b'not a profile')))
PNG_SEEDS = {
    'rgb8': (7, 5, 2, 8, {'first_filter': 0}),
    'rgb8_paeth': (7, 5, 2, 8, {'first_filter': 3}),
    'rgba8': (6, 4, 6, 8, {'first_filter': 1}),
    'gray8': (9, 4, 0, 8, {'first_filter': 2}),
    'gray_alpha8': (5, 5, 4, 8, {}),
    'gray1': (13, 3, 0, 1, {'trns': b'\0\1'}),
    'gray2': (11, 3, 0, 2, {'first_filter': 4}),
    'gray4': (7, 3, 0, 4, {}),
    'gray16': (5, 4, 0, 16, {'first_filter': 2}),
    'gray_alpha16': (4, 3, 4, 16, {}),
    'rgb16': (4, 3, 2, 16, {'trns': b'\0\1\0\2\0\3'}),
    'rgba16': (3, 3, 6, 16, {'first_filter': 4}),
    'palette1': (17, 2, 3, 1, {'plte': pal6[:6]}),
    'palette2': (9, 3, 3, 2, {'plte': pal6[:12], 'trns': b'\0\x80'}),
    'palette4_short': (7, 4, 3, 4, {'plte': pal6}),
    'palette8': (6, 4, 3, 8, {'plte': pal6, 'first_filter': 1}),
    'interlaced_rgb8': (9, 9, 2, 8, {'interlace': True, 'first_filter': 4}),
    'interlaced_gray16': (6, 7, 0, 16, {'interlace': True}),
    'interlaced_palette4': (8, 6, 3, 4, {'interlace': True, 'plte': pal6}),
    'interlaced_rgba8': (5, 5, 6, 8, {'interlace': True, 'first_filter': 3}),
    'split_idat': (8, 6, 2, 8, {'idats': 3}),
    'ancillary': (4, 4, 2, 8, {'extra': text}),
}
for i, (name, (w, h, ctype, depth, kw)) in enumerate(sorted(PNG_SEEDS.items())):
    write('png', name + '.bin', bytes([i & 1]) + png_seed(w, h, ctype, depth, **kw))
